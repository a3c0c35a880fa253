export { ConnectionState, type ConnectionStateEvents, type ConnectionStatus } from './connection-state.ts';
export {
  createRedisClient,
  reconnectDelay,
  type ConnectionRole,
  type CreateRedisClientOptions,
  type RedisClientHandle,
} from './redis-client.ts';
export { toRedisError, withoutSecrets, type RedisErrorContext } from './redis-errors.ts';
export { parseRedisUrl, redactRedisUrl, type RedisConnectionConfig, type RedisTransportOptions } from './redis-url.ts';

import { Redis, type RedisOptions } from 'ioredis';
import { ConnectionState } from './connection-state.ts';
import type { RedisConnectionConfig } from './redis-url.ts';
import { ConnectionClosedError, silentLogger, type Logger } from '@celeriac/protocol';

/** What a connection is for; each role gets the ioredis settings that are safe for it. */
export type ConnectionRole =
  /** Short commands: publish, ack, result GET/SET. Auto-pipelined. */
  | 'command'
  /** A consumer's fetch loop: no offline queue, no re-sent writes. */
  | 'consumer'
  /** Pub/sub: the owner resubscribes itself after a reconnect. */
  | 'subscriber';

/** Options for {@link createRedisClient}. */
export interface CreateRedisClientOptions {
  /** What the connection is for. */
  readonly role: ConnectionRole;
  /** A name for logs and `CLIENT SETNAME` (`celeriac:<name>`). */
  readonly name: string;
  readonly logger?: Logger;
  /** Extra ioredis options, applied last. */
  readonly overrides?: RedisOptions;
}

/** A client and the state machine following it. */
export interface RedisClientHandle {
  readonly redis: Redis;
  readonly state: ConnectionState;
}

/**
 * Reconnect forever with capped exponential backoff (50 ms doubling to 2 s): a worker waits
 * for Redis to come back; callers that must fail fast use timeouts of their own.
 */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2000);
}

/**
 * Creates an ioredis client (not yet connected: `lazyConnect`) with the settings its role
 * needs, and a {@link ConnectionState} following it.
 *
 * - every role: `maxRetriesPerRequest: null` (ioredis' default of 20 flushes pending commands
 *   with an error that silently kills loops, bull#1972), `autoResendUnfulfilledCommands: false`
 *   (a write whose reply was lost must not be sent twice); a command in flight when the
 *   connection closes rejects with {@link ConnectionClosedError} instead of hanging;
 * - `command`: `enableAutoPipelining`, so thousands of concurrent sends share few round trips;
 * - `consumer`: `enableOfflineQueue: false`, so nothing queues up behind a dead socket;
 * - `subscriber`: `autoResubscribe: false`: the owner resubscribes exactly once, in batches.
 *
 * @param config - from {@link parseRedisUrl}
 * @param options - role, name, logger
 * @returns the client and its state
 */
export function createRedisClient(config: RedisConnectionConfig, options: CreateRedisClientOptions): RedisClientHandle {
  const logger = options.logger ?? silentLogger;
  const roleOptions: RedisOptions =
    options.role === 'command'
      ? { enableAutoPipelining: true }
      : options.role === 'consumer'
        ? { enableOfflineQueue: false }
        : { autoResubscribe: false };
  const redis = new Redis({
    ...config.options,
    lazyConnect: true,
    connectionName: `celeriac:${options.name}`,
    maxRetriesPerRequest: null,
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelay,
    ...roleOptions,
    ...options.overrides,
  });
  const state = new ConnectionState(`${options.name} ${config.redactedUrl}`, logger);
  state.follow(redis);
  redis.on('close', () => rejectInFlight(redis, options.name));
  return { redis, state };
}

/** The part of ioredis' internals {@link rejectInFlight} touches (ioredis 5: `Redis#commandQueue`). */
interface CommandQueue {
  readonly length: number;
  shift(): { command: { name: string; reject(error: Error): void } } | undefined;
}

/**
 * Rejects the commands that were written to a connection that has just closed.
 *
 * With `autoResendUnfulfilledCommands: false` and `maxRetriesPerRequest: null`, ioredis keeps
 * such commands aside on close and drops them, unsettled, when it reconnects: their promises
 * never settle, and with auto-pipelining the stuck pipeline blocks every later command of the
 * client. Their replies are lost, so the caller must learn it: each is rejected with a
 * {@link ConnectionClosedError} saying the command may or may not have run. Commands still in
 * the offline queue (never written) are left to be sent after the reconnect.
 *
 * It runs from the `close` event, which ioredis emits before it sets the queue aside.
 */
function rejectInFlight(redis: Redis, name: string): void {
  const queue = (redis as unknown as { commandQueue?: CommandQueue }).commandQueue;
  if (queue === undefined) return;
  while (queue.length > 0) {
    const item = queue.shift();
    if (item === undefined) break;
    item.command.reject(
      new ConnectionClosedError(
        `The ${name} connection to Redis closed while ${item.command.name.toUpperCase()} was in flight; it may or may not have run`,
      ),
    );
  }
}

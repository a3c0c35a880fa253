export { newestSourceMtime } from './build-check.ts';
export { celeryQueueKeys, celeryResultKey, KOMBU_SEP } from './celery-keys.ts';
export { signalGroup, trackChild } from './child-processes.ts';
export {
  assertCeleryAvailable,
  celeryEnv,
  celeryPython,
  getResultsWithPython,
  publishWithPython,
  runPythonScript,
  PYTHON_DIR,
  type CeleryPeerOptions,
  type CelerySerializer,
  type PythonTaskCall,
  type PythonTaskResult,
} from './celery-peer.ts';
export {
  startCeleryWorker,
  type CeleryWorker,
  type CeleryWorkerExit,
  type CeleryWorkerOptions,
} from './celery-worker.ts';
export { freePort } from './free-port.ts';
export { fromPythonJson, toPythonJson, type PythonValue } from './python-json.ts';
export { randomName } from './random-name.ts';
export {
  clientList,
  countClients,
  pubsubChannelCount,
  pubsubNumsub,
} from './redis-introspection.ts';
export {
  monitorRedis,
  type MonitoredCommand,
  type RedisMonitor,
  type RedisMonitorOptions,
} from './redis-monitor.ts';
export {
  startRedisServer,
  type RedisPersistence,
  type RedisServer,
  type RedisServerOptions,
} from './redis-server.ts';
export { redisUrl, redisUrlWithDb } from './redis-url.ts';
export { createTcpProxy, type TcpProxy, type TcpProxyMode } from './tcp-proxy.ts';
export { createTestRedis, type TestRedis, type TestRedisOptions } from './test-redis.ts';
export { waitUntil, type WaitUntilOptions } from './wait-until.ts';

export { celeryQueueKeys, celeryResultKey, KOMBU_SEP } from './celery-keys.ts';
export {
  assertCeleryAvailable,
  celeryEnv,
  celeryPython,
  getResultsWithPython,
  publishWithPython,
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
export { fromPythonJson, toPythonJson, type PythonValue } from './python-json.ts';
export { randomName } from './random-name.ts';
export { redisUrl, redisUrlWithDb } from './redis-url.ts';
export { createTestRedis, type TestRedis, type TestRedisOptions } from './test-redis.ts';

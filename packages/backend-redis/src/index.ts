/**
 * `@celeriac/backend-redis`: Celery's Redis result backend (GET-before-write, SETEX +
 * PUBLISH, groups and chord counters) and its result consumer (one subscriber connection,
 * exactly-once SUBSCRIBE per awaited id, batched resubscribe + MGET after reconnects,
 * unsubscribe on ready / timeout / forget / garbage collection, polling fallback), with the
 * `AsyncResult` and `GroupResult` handles.
 *
 * @packageDocumentation
 */
export {
  AsyncResult,
  createAsyncResult,
  type GetResultNoPropagateOptions,
  type GetResultOptions,
  type OnReadyPromise,
} from './async-result.ts';
export { GroupResult, type JoinNoPropagateOptions, type JoinOptions } from './group-result.ts';
export {
  createRedisBackend,
  DEFAULT_RESULT_EXPIRES,
  MAX_VALUE_BYTES,
  EPOCH_KEY,
  RedisResultBackend,
  type ChordPart,
  type ChordPartProgress,
  type RedisBackendOptions,
} from './redis-result-backend.ts';
export {
  BATCH_SIZE,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_HEALTH_CHECK_INTERVAL_MS,
  ResultConsumer,
  ResultLostError,
  type ConsumerWaitOptions,
  type DataLossPolicy,
  type ResultConsumerMode,
  type ResultConsumerOptions,
  type ResultConsumerStats,
  type ResultMetaDecoder,
  type ServerIdentity,
} from './result-consumer.ts';
export type { ResultHandleBackend } from './result-handle-backend.ts';
export { GROUP_KEY_PREFIX, groupKey, TASK_KEY_PREFIX, taskIdOfChannel, taskKey } from './result-keys.ts';
export { groupDocument, idOfResultTuple, membersOfGroupDocument } from './result-tuple.ts';

/**
 * `@celeriac/worker`: the Celeriac worker (consume, execute under a concurrency limit in
 * async / thread / process pools, early or late ack, retries, time limits, revoke, ETA,
 * graceful shutdown), Celery's remote control and events for it, and the `celeriac` CLI.
 *
 * @packageDocumentation
 */
export { bindArguments } from './bind-arguments.ts';
export {
  brokerDeadLetterSink,
  DEAD_LETTER_QUEUE,
  encodeRaw,
  type DeadLetterEntry,
  type DeadLetterSink,
} from './dead-letter.ts';
export {
  buildTaskEvent,
  CELERIAC_VERSION,
  EVENT_EXCHANGE,
  EventDispatcher,
  LamportClock,
  TASK_EVENT_TYPES,
  type EventDispatcherOptions,
  type HeartbeatState,
  type SoftwareInfo,
  type TaskEventEmitter,
  type TaskEventPayload,
  type TaskEventType,
} from './events.ts';
export {
  broadcast,
  control,
  inspect,
  mingle,
  type BroadcastOptions,
  type ControlBroker,
  type ControlOptions,
  type InspectOptions,
  type MingleOptions,
  type MingleResult,
} from './inspect.ts';
export { createJsonLogger, LOG_LEVELS, parseLogLevel, type JsonLoggerOptions, type LogLevel } from './json-logger.ts';
export { loadApp, type LoadedApp } from './load-app.ts';
export {
  deserializeError,
  serializeError,
  type AbortMessage,
  type ChildMessage,
  type DoneMessage,
  type ParentMessage,
  type RunMessage,
  type SerializedError,
} from './pool-protocol.ts';
export {
  createKombuTable,
  DEFAULT_CONTROL_NAMESPACE,
  kombuTable,
  RemoteControl,
  type ClosableKombuTable,
  type ControlRevokeOptions,
  type CreateKombuTableOptions,
  type KombuTable,
  type KombuTableKeys,
  type RemoteControlHandlers,
  type RemoteControlOptions,
  type RequestInfo,
  type ScheduledInfo,
} from './remote-control.ts';
export { ExitCode, runCli, type CliIo } from './run-cli.ts';
export {
  backoffDelay,
  buildRetryError,
  createTaskContext,
  DEFAULT_BACKOFF_MAX,
  DEFAULT_MAX_RETRIES,
  DEFAULT_RETRY_DELAY,
  matchesAutoretry,
  TaskRetry,
} from './task-context.ts';
export { parseRateLimit, RateLimiter, TokenBucket, type RateLimitDecision, type RateLimiterOptions, type TokenBucketOptions } from './rate-limit.ts';
export { formatTraceback } from './traceback.ts';
export type { RestoringBroker, WorkerApp, WorkerConfig } from './worker-app.ts';
export {
  CeleryNamedError,
  ChordError,
  MaxRetriesExceededError,
  NotRegisteredError,
  SoftTimeLimitExceededError,
  TaskArgumentsError,
  TaskRevokedError,
  TimeLimitExceededError,
  WorkerLostError,
} from './worker-errors.ts';
export type {
  TaskEvent,
  TaskEventBase,
  TaskFailedEvent,
  TaskReceivedEvent,
  TaskRejectedEvent,
  TaskRetriedEvent,
  TaskRevokedEvent,
  TaskStartedEvent,
  TaskSucceededEvent,
  WorkerEvents,
} from './worker-events.ts';
export { startWorkerServices, type WorkerServices, type WorkerServicesOptions } from './worker-services.ts';
export {
  createWorker,
  expandHostname,
  Worker,
  type ActiveRequest,
  type RevokeOptions,
  type ScheduledRequest,
  type WorkerOptions,
  type WorkerStats,
  type WorkerStopOptions,
} from './worker.ts';

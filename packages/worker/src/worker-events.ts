/**
 * The events a {@link Worker} emits, one per task state change, with the fields Celery's
 * task events carry (celery-wire §5.9). The events/remote-control side of the worker turns
 * them into Celery events on the `celeryev` fanout; anything else may listen too.
 *
 * @module
 */

/** Fields every task event has. */
export interface TaskEventBase {
  /** The task id. */
  readonly uuid: string;
  /** The worker's hostname (`celeriac@host`). */
  readonly hostname: string;
  /** Unix time in seconds (float), when it happened. */
  readonly timestamp: number;
  /** The worker's process id. */
  readonly pid: number;
}

/** `task-received`: a message was accepted by the worker. */
export interface TaskReceivedEvent extends TaskEventBase {
  readonly type: 'task-received';
  readonly name: string;
  /** `argsrepr`. */
  readonly args: string;
  /** `kwargsrepr`. */
  readonly kwargs: string;
  readonly root_id: string | null;
  readonly parent_id: string | null;
  readonly retries: number;
  /** ISO-8601 or null. */
  readonly eta: string | null;
  /** ISO-8601 or null. */
  readonly expires: string | null;
}

/** `task-started`. */
export interface TaskStartedEvent extends TaskEventBase {
  readonly type: 'task-started';
}

/** `task-succeeded`. */
export interface TaskSucceededEvent extends TaskEventBase {
  readonly type: 'task-succeeded';
  /** `repr` of the return value. */
  readonly result: string;
  /** Seconds it ran. */
  readonly runtime: number;
}

/** `task-failed`. */
export interface TaskFailedEvent extends TaskEventBase {
  readonly type: 'task-failed';
  /** `repr` of the exception, e.g. `InteropError('boom')`. */
  readonly exception: string;
  readonly traceback: string | null;
}

/** `task-retried`. */
export interface TaskRetriedEvent extends TaskEventBase {
  readonly type: 'task-retried';
  /** `repr` of the exception that caused it (or of the Retry). */
  readonly exception: string;
  readonly traceback: string | null;
}

/** `task-revoked`. */
export interface TaskRevokedEvent extends TaskEventBase {
  readonly type: 'task-revoked';
  /** It was running and was ended. */
  readonly terminated: boolean;
  /** The signal name when terminated (`SIGTERM`, `SIGKILL`), else null. */
  readonly signum: string | null;
  /** It expired rather than being revoked. */
  readonly expired: boolean;
}

/** `task-rejected`: the message was rejected (requeued when `requeue`). */
export interface TaskRejectedEvent extends TaskEventBase {
  readonly type: 'task-rejected';
  readonly requeue: boolean;
}

/** Any task event. */
export type TaskEvent =
  | TaskReceivedEvent
  | TaskStartedEvent
  | TaskSucceededEvent
  | TaskFailedEvent
  | TaskRetriedEvent
  | TaskRevokedEvent
  | TaskRejectedEvent;

/** The worker's typed event map (`worker.on('task-succeeded', (event) => …)`). */
export interface WorkerEvents {
  'task-received': [TaskReceivedEvent];
  'task-started': [TaskStartedEvent];
  'task-succeeded': [TaskSucceededEvent];
  'task-failed': [TaskFailedEvent];
  'task-retried': [TaskRetriedEvent];
  'task-revoked': [TaskRevokedEvent];
  'task-rejected': [TaskRejectedEvent];
  /** Consuming started. */
  'worker-online': [{ readonly hostname: string; readonly timestamp: number }];
  /** Shutdown began (`cold` for an immediate one). */
  'worker-shutdown': [{ readonly hostname: string; readonly cold: boolean }];
  /** The worker stopped: nothing runs, everything unacked was handed back. */
  'worker-offline': [{ readonly hostname: string; readonly timestamp: number }];
}

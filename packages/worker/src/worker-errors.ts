/**
 * The errors a worker stores for outcomes Celery names with its own exception classes. Each
 * carries the Python identity a client sees (`name` = `exc_type`, `excModule` = `exc_module`,
 * `args` = `exc_message`), so `encodeException` from `@celeriac/protocol` writes exactly what a
 * Celery 5.2 worker writes, and a Python client rebuilds the same class.
 *
 * @see celery-wire.md §4.5, §5.4–§5.7
 * @module
 */
import { CeleriacError, ErrorCode, type WireValue } from '@celeriac/protocol';

/** Base of the worker's Celery-named errors: a Python module and args beside the message. */
export class CeleryNamedError extends CeleriacError {
  /** The Python module of the class (`celery.exceptions`, `billiard.exceptions`, `builtins`). */
  readonly excModule: string;
  /** The exception's args, stored as `exc_message`. */
  readonly args: WireValue[];

  /**
   * @param code - the Celeriac error code
   * @param name - the Python class name
   * @param excModule - the Python module
   * @param args - the exception args
   * @param message - the human message (defaults to the first arg)
   */
  constructor(code: ErrorCode, name: string, excModule: string, args: WireValue[], message?: string) {
    super(code, message ?? (typeof args[0] === 'string' ? args[0] : JSON.stringify(args.map(String))));
    this.name = name;
    this.excModule = excModule;
    this.args = args;
  }
}

/** No task of that name is registered on this worker (Celery's `NotRegistered`). */
export class NotRegisteredError extends CeleryNamedError {
  /**
   * @param taskName - the name from the message
   */
  constructor(taskName: string) {
    super(ErrorCode.NOT_REGISTERED, 'NotRegistered', 'celery.exceptions', [taskName], `Task of type ${JSON.stringify(taskName)} is not registered on this worker`);
  }
}

/** The task was revoked or expired (Celery's `TaskRevokedError`); args `["revoked"]`, `["expired"]` or `["terminated"]`. */
export class TaskRevokedError extends CeleryNamedError {
  /** Why: `revoked`, `expired` or `terminated`. */
  readonly reason: string;

  /**
   * @param reason - `revoked`, `expired` or `terminated`
   */
  constructor(reason: 'revoked' | 'expired' | 'terminated') {
    super(ErrorCode.TASK_REVOKED, 'TaskRevokedError', 'celery.exceptions', [reason]);
    this.reason = reason;
  }
}

/** The soft time limit passed: the task's `signal` aborts with this reason (billiard's `SoftTimeLimitExceeded`). */
export class SoftTimeLimitExceededError extends CeleryNamedError {
  /**
   * @param limit - the soft limit in seconds
   */
  constructor(limit: number) {
    super(ErrorCode.TIMEOUT, 'SoftTimeLimitExceeded', 'billiard.exceptions', [], `Soft time limit (${limit}s) exceeded`);
  }
}

/** The hard time limit passed: the task was ended (billiard's `TimeLimitExceeded`, args `[limit]`). */
export class TimeLimitExceededError extends CeleryNamedError {
  /**
   * @param limit - the hard limit in seconds
   */
  constructor(limit: number) {
    super(ErrorCode.TIMEOUT, 'TimeLimitExceeded', 'billiard.exceptions', [limit], `Hard time limit (${limit}s) exceeded`);
  }
}

/** The pool child running the task died (billiard's `WorkerLostError`). */
export class WorkerLostError extends CeleryNamedError {
  /**
   * @param detail - how it died (exit code or signal)
   */
  constructor(detail: string) {
    super(ErrorCode.TASK_FAILED, 'WorkerLostError', 'billiard.exceptions', [`Worker exited prematurely: ${detail}.`]);
  }
}

/** The task asked to retry once too often (Celery's `MaxRetriesExceededError`). */
export class MaxRetriesExceededError extends CeleryNamedError {
  /**
   * @param message - Celery's text: `Can't retry <name>[<id>] args:… kwargs:…`
   */
  constructor(message: string) {
    super(ErrorCode.MAX_RETRIES_EXCEEDED, 'MaxRetriesExceededError', 'celery.exceptions', [message]);
  }
}

/** The arguments do not fit the task (Python's `TypeError`: unexpected or repeated keyword). */
export class TaskArgumentsError extends CeleryNamedError {
  /**
   * @param message - what did not fit, as Python says it
   */
  constructor(message: string) {
    super(ErrorCode.TASK_FAILED, 'TypeError', 'builtins', [message]);
  }
}

/**
 * A chord's body could not run: a header task failed (`Dependency <id> raised ...`), the
 * header results could not be read, or the body could not be sent (Celery's `ChordError`,
 * stored as the body's FAILURE).
 */
export class ChordError extends CeleryNamedError {
  /**
   * @param message - what went wrong, worded as Celery words it
   */
  constructor(message: string) {
    super(ErrorCode.TASK_FAILED, 'ChordError', 'celery.exceptions', [message]);
  }
}

/**
 * Every error Celeriac raises on purpose is a {@link CeleriacError} with a stable string
 * `code` from {@link ErrorCode}. Callers branch on `code` (or on the few subclasses below),
 * never on message text.
 *
 * @module
 */

/** The error codes, each with what it means. */
export const ErrorCode = {
  /** A content type (serializer) that is not on the accept-content whitelist. */
  CONTENT_DISALLOWED: 'CONTENT_DISALLOWED',
  /** Bytes that do not decode with the serializer their content type names. */
  DECODE_FAILED: 'DECODE_FAILED',
  /** A value the chosen serializer cannot represent (bytes in json, a bigint beyond int64 in msgpack). */
  ENCODE_FAILED: 'ENCODE_FAILED',
  /** A message whose shape a Celery worker would crash on or refuse (missing delivery_tag, 2-element body). */
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  /** A payload over the configured size or nesting limit, refused before decoding. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** A serializer name or content type that no registered serializer owns. */
  UNKNOWN_SERIALIZER: 'UNKNOWN_SERIALIZER',
  /** A result meta that is not a Celery result document. */
  INVALID_RESULT: 'INVALID_RESULT',
  /** The task failed remotely; the error carries the Python `exc_type`, `exc_module` and traceback. */
  TASK_FAILED: 'TASK_FAILED',
  /** The task was revoked or expired. */
  TASK_REVOKED: 'TASK_REVOKED',
  /** No task of that name is registered on the worker. */
  NOT_REGISTERED: 'NOT_REGISTERED',
  /** Waiting for something (a result, a reply) took longer than allowed. */
  TIMEOUT: 'TIMEOUT',
  /** The connection was closed (by `close()` or for good) while an operation was pending. */
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
  /** Configuration that cannot work (unknown key, bad URL, conflicting options). */
  INVALID_CONFIG: 'INVALID_CONFIG',
  /** Thrown by a task to be retried (Celery's `Retry`): the worker republishes it. */
  TASK_RETRY: 'TASK_RETRY',
  /** Thrown by a task to reject its message (Celery's `Reject`), with or without requeue. */
  TASK_REJECTED: 'TASK_REJECTED',
  /** A task's retries ran out (Celery's `MaxRetriesExceededError`). */
  MAX_RETRIES_EXCEEDED: 'MAX_RETRIES_EXCEEDED',
} as const;

/** One of the {@link ErrorCode} values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Options shared by every Celeriac error. */
export interface CeleriacErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * The base class of every error Celeriac raises on purpose.
 *
 * @example
 * ```ts
 * if (err instanceof CeleriacError && err.code === ErrorCode.CONTENT_DISALLOWED) { ... }
 * ```
 */
export class CeleriacError extends Error {
  /** A stable code from {@link ErrorCode}; branch on this, not on the message. */
  readonly code: ErrorCode;

  /**
   * @param code - the stable error code
   * @param message - what was expected, what came, and for which task id or queue
   * @param options - `cause`, the underlying error
   */
  constructor(code: ErrorCode, message: string, options: CeleriacErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = 'CeleriacError';
  }
}

/** Where in a message or result a protocol error was found. */
export interface ProtocolErrorContext extends CeleriacErrorOptions {
  /** The task id, when it could be read. */
  taskId?: string | undefined;
  /** The content type involved, when known. */
  contentType?: string | undefined;
  /** A path into the value (`args[0].data`), for encode errors. */
  path?: string | undefined;
}

/**
 * A content type outside the accept-content whitelist. Raised before any byte is decoded.
 *
 * @see celery-wire.md §3.3
 */
export class ContentDisallowedError extends CeleriacError {
  readonly taskId: string | undefined;
  readonly contentType: string;

  constructor(contentType: string, accepted: readonly string[], context: ProtocolErrorContext = {}) {
    const what = context.taskId === undefined ? 'content' : `content of task ${context.taskId}`;
    super(
      ErrorCode.CONTENT_DISALLOWED,
      `Refusing to decode ${what}: content type ${JSON.stringify(contentType)} is not accepted ` +
        `(accepted: ${accepted.length === 0 ? 'none' : accepted.join(', ')})`,
      context,
    );
    this.name = 'ContentDisallowedError';
    this.taskId = context.taskId;
    this.contentType = contentType;
  }
}

/** Bytes that do not decode: bad base64, truncated msgpack, malformed JSON, unknown tags. */
export class DecodeError extends CeleriacError {
  readonly taskId: string | undefined;
  readonly contentType: string | undefined;

  constructor(message: string, context: ProtocolErrorContext = {}) {
    super(ErrorCode.DECODE_FAILED, withContext(message, context), context);
    this.name = 'DecodeError';
    this.taskId = context.taskId;
    this.contentType = context.contentType;
  }
}

/** A value the chosen serializer cannot represent; `path` says where it is. */
export class EncodeError extends CeleriacError {
  readonly path: string | undefined;
  readonly contentType: string | undefined;

  constructor(message: string, context: ProtocolErrorContext = {}) {
    super(ErrorCode.ENCODE_FAILED, withContext(message, context), context);
    this.name = 'EncodeError';
    this.path = context.path;
    this.contentType = context.contentType;
  }
}

/** A payload over a size or nesting limit, refused before it is decoded. */
export class LimitExceededError extends CeleriacError {
  readonly taskId: string | undefined;
  readonly limit: number;
  readonly actual: number;

  constructor(what: string, limit: number, actual: number, context: ProtocolErrorContext = {}) {
    super(ErrorCode.LIMIT_EXCEEDED, withContext(`${what}: limit is ${limit}, got ${actual}`, context), context);
    this.name = 'LimitExceededError';
    this.taskId = context.taskId;
    this.limit = limit;
    this.actual = actual;
  }
}

/**
 * A message a Celery worker would crash on or refuse: not a kombu envelope, a body that is
 * not `[args, kwargs, embed]`, a missing `delivery_tag` or `delivery_info`.
 *
 * @see celery-wire.md §1.2
 */
export class InvalidMessageError extends CeleriacError {
  readonly taskId: string | undefined;

  constructor(message: string, context: ProtocolErrorContext = {}) {
    super(ErrorCode.INVALID_MESSAGE, withContext(message, context), context);
    this.name = 'InvalidMessageError';
    this.taskId = context.taskId;
  }
}

function withContext(message: string, context: ProtocolErrorContext): string {
  const parts: string[] = [];
  if (context.taskId !== undefined) parts.push(`task ${context.taskId}`);
  if (context.contentType !== undefined) parts.push(`content type ${context.contentType}`);
  if (context.path !== undefined) parts.push(`at ${context.path}`);
  return parts.length === 0 ? message : `${message} (${parts.join(', ')})`;
}

/** Waiting for a result (or a reply) took longer than the caller allowed. */
export class TimeoutError extends CeleriacError {
  readonly taskId: string | undefined;
  /** The limit that passed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number, context: ProtocolErrorContext = {}) {
    super(ErrorCode.TIMEOUT, withContext(message, context), context);
    this.name = 'TimeoutError';
    this.taskId = context.taskId;
    this.timeoutMs = timeoutMs;
  }
}

/** The connection was closed (by `close()`, or for good) while an operation was pending. */
export class ConnectionClosedError extends CeleriacError {
  constructor(message: string, options: CeleriacErrorOptions = {}) {
    super(ErrorCode.CONNECTION_CLOSED, message, options);
    this.name = 'ConnectionClosedError';
  }
}

/** Options of {@link TaskRetryError}. */
export interface TaskRetryOptions extends CeleriacErrorOptions {
  /** Seconds until the retry runs. */
  countdown?: number;
  /** When the retry runs (exclusive with `countdown`). */
  eta?: Date;
  /** The error that caused the retry, stored in the RETRY meta. */
  exc?: unknown;
}

/**
 * Thrown (usually through the task context's `retry()`) to have the worker republish the
 * task with the same id, `retries + 1` and an ETA, and store a RETRY state, as Celery does.
 *
 * @see celery-wire.md §5.5
 */
export class TaskRetryError extends CeleriacError {
  readonly countdown: number | undefined;
  readonly eta: Date | undefined;
  readonly exc: unknown;

  constructor(message: string, options: TaskRetryOptions = {}) {
    super(ErrorCode.TASK_RETRY, message, options);
    this.name = 'Retry';
    this.countdown = options.countdown;
    this.eta = options.eta;
    this.exc = options.exc;
  }
}

/** Thrown by a task to reject its message: dropped, or requeued with `requeue: true`. */
export class TaskRejectError extends CeleriacError {
  readonly requeue: boolean;

  constructor(message: string, options: CeleriacErrorOptions & { requeue?: boolean } = {}) {
    super(ErrorCode.TASK_REJECTED, message, options);
    this.name = 'Reject';
    this.requeue = options.requeue ?? false;
  }
}

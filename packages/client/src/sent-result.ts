/**
 * The handle `delay`, `applyAsync` and `sendTask` return: backend-redis's `AsyncResult`,
 * returned at once while the message is published in the background. `sent` settles with
 * the publish; waiting (`get()`, `await`) first waits for the publish and rejects with its
 * error if it failed.
 *
 * @module
 */
import {
  AsyncResult,
  type GetResultNoPropagateOptions,
  type GetResultOptions,
  type ResultHandleBackend,
} from '@celeriac/backend-redis';
import { CeleriacError, ErrorCode, type RemoteTaskError } from '@celeriac/protocol';

/** What a {@link SentResult} knows about its send. */
export interface SentResultInit {
  /** Settles when the message is in the broker (or the publish failed for good). */
  readonly sent: Promise<void>;
  /** The task name. */
  readonly task: string;
  /** The message asked the worker not to store its result (`ignore_result`). */
  readonly ignored: boolean;
}

function reasonOf(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(String(reason));
}

function abortable(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(reasonOf(signal));
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(reasonOf(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  });
}

/**
 * A result handle for a message this app sent. It is an `AsyncResult` (same waits, same
 * states, same lazy subscription: nothing is subscribed until somebody awaits it or
 * registers `onReady`), plus the publish outcome.
 *
 * @typeParam TResult - the task's return type
 */
export class SentResult<TResult = unknown> extends AsyncResult<TResult> {
  /**
   * Settles when the message is in the broker: resolves once published, rejects with the
   * publish error (after the retries of the publish retry policy). Await it to know the task
   * was sent without waiting for its result.
   */
  readonly sent: Promise<void>;
  /** The task name it was sent as. */
  readonly task: string;
  /**
   * The message carried `ignore_result`: the worker stores no SUCCESS, so `get()` rejects at
   * once (a failure is still stored; `refresh()` reads it). Celery's `AsyncResult.ignored`.
   */
  readonly ignored: boolean;

  /**
   * @param id - the task id
   * @param backend - where its result is stored
   * @param init - the publish promise, the task name, whether the result is ignored
   */
  constructor(id: string, backend: ResultHandleBackend, init: SentResultInit) {
    super(id, backend);
    this.sent = init.sent;
    this.task = init.task;
    this.ignored = init.ignored;
  }

  /**
   * Waits for the publish, then for the result.
   *
   * @param options - `timeout` (ms, counted from the call, publish included), `propagate`, `signal`
   * @returns the return value (with `propagate: false`, the error object for FAILURE / REVOKED)
   * @throws the publish error when the message could not be sent; `CeleriacError`
   *   `INVALID_CONFIG` when the result is ignored or no result backend is configured; and
   *   everything `AsyncResult.get()` throws (`RemoteTaskError`, `TimeoutError`, …)
   */
  override get(options?: GetResultOptions & { readonly propagate?: true }): Promise<TResult>;
  override get(options: GetResultNoPropagateOptions): Promise<TResult | RemoteTaskError>;
  override async get(options: GetResultOptions = {}): Promise<unknown> {
    const started = Date.now();
    await abortable(this.sent, options.signal);
    if (this.ignored) {
      throw new CeleriacError(
        ErrorCode.INVALID_CONFIG,
        `Task ${this.task}[${this.id}] was sent with ignoreResult, so a worker never stores its success and this ` +
          'wait could never end; send it without ignoreResult to await it (refresh() still reads a stored failure)',
      );
    }
    const timeout = options.timeout === undefined ? undefined : Math.max(1, options.timeout - (Date.now() - started));
    return super.get({ ...options, timeout } as GetResultOptions & { readonly propagate?: true });
  }
}

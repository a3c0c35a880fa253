/**
 * The result handle: Celery's `AsyncResult` for TypeScript, built on `@celeriac/promise`.
 *
 * Two ways to wait, with different lifetimes:
 *
 * - `await result`, `result.get()`, `result.then(…)`: a wait of its own, held strongly by the
 *   result consumer until it settles, times out or is aborted. It keeps the handle alive
 *   meanwhile, so `await backend.asyncResult(id)` on a temporary handle is never cut short
 *   by the garbage collector.
 * - `result.onReady(callback)`: Celery's `on_ready` promise. The consumer holds the promise,
 *   and the promise reaches the handle only through a `weakMethod`, so a handle nobody
 *   references any more is collected, its registration dropped and its channel unsubscribed;
 *   its callbacks are then cancelled (vine's weak-callback rule). A callback that mentions
 *   the handle keeps it alive until the result comes.
 *
 * @see celery/result.py `AsyncResult`; @celeriac/promise README "Weak callbacks"
 * @module
 */
import {
  errorFromMeta,
  EXCEPTION_STATES,
  PROPAGATE_STATES,
  READY_STATES,
  TaskState,
  type RemoteTaskError,
  type ResultMeta,
  type WireObject,
  type WireValue,
} from '@celeriac/protocol';
import { createPromise, weakMethod, type ErrorHandler, type VinePromise } from '@celeriac/promise';
import type { ResultHandleBackend } from './result-handle-backend.ts';

/** Options of {@link AsyncResult.get}. */
export interface GetResultOptions {
  /** Milliseconds; then `get()` rejects with a `TimeoutError` (code `TIMEOUT`) and the wait is dropped. */
  readonly timeout?: number;
  /**
   * Reject with the task's error for FAILURE / REVOKED (default). With `false`, resolve
   * with the error object instead, as Celery's `get(propagate=False)` returns the exception.
   */
  readonly propagate?: boolean;
  /** Aborting rejects with the signal's reason and drops the wait. */
  readonly signal?: AbortSignal;
}

/** {@link GetResultOptions} with `propagate: false`. */
export interface GetResultNoPropagateOptions extends GetResultOptions {
  readonly propagate: false;
}

/** The on-ready promise of a handle: fulfilled with the ready meta. */
export type OnReadyPromise = VinePromise<[ResultMeta], [ResultMeta]>;

let rememberMeta: (result: AsyncResult<unknown>, meta: ResultMeta) => void;

/**
 * Records a meta read elsewhere (a group's MGET) on a handle.
 *
 * @param result - the handle
 * @param meta - its meta
 * @internal
 */
export function setKnownMeta(result: AsyncResult<unknown>, meta: ResultMeta): void {
  rememberMeta(result, meta);
}

/**
 * The outcome of a ready meta: the value for SUCCESS, the rebuilt error for FAILURE /
 * REVOKED (thrown when `propagate`).
 *
 * @param meta - a ready meta
 * @param propagate - throw the error instead of returning it
 * @returns the value, or the error when not propagating
 * @throws the task's {@link RemoteTaskError} when propagating a FAILURE / REVOKED
 * @internal
 */
export function outcomeOf(meta: ResultMeta, propagate: boolean): unknown {
  if (PROPAGATE_STATES.has(meta.status)) {
    const error = errorFromMeta(meta);
    if (propagate) throw error;
    return error;
  }
  return meta.result;
}

/**
 * A handle on one task's result. Creating it does nothing on Redis; awaiting it (or
 * registering a callback) subscribes the task's channel until the result is ready.
 *
 * `then` makes it awaitable (`await result` is `result.get()`). Mind that an async function
 * returning a handle therefore returns its *result*; return `{ result }` to hand the handle on.
 *
 * @typeParam TResult - the task's return type
 *
 * @example
 * ```ts
 * const result = backend.asyncResult<number>(taskId);
 * const sum = await result.get({ timeout: 5_000 }); // or: await result
 * result.onReady((meta) => console.log(meta.status));
 * ```
 * @see celery-wire.md §4.7
 */
export class AsyncResult<TResult = unknown> implements PromiseLike<TResult> {
  /** The task id. */
  readonly id: string;
  /** The backend the handle reads from. */
  readonly backend: ResultHandleBackend;
  /** The last meta this handle read or was told (ready ones are final). */
  #meta: ResultMeta | undefined;
  #onReady: OnReadyPromise | undefined;

  static {
    rememberMeta = (result, meta) => {
      result.#meta = meta;
    };
  }

  // Called through a weakMethod (receiver held by a WeakRef, this function unbound), so the
  // consumer's hold on the on-ready promise never keeps the handle alive.
  static readonly #fulfilled = function (this: AsyncResult<unknown>, meta: ResultMeta): ResultMeta {
    this.#meta = meta;
    return meta;
  };

  /**
   * @param id - the task id
   * @param backend - where the result is stored and waited for
   */
  constructor(id: string, backend: ResultHandleBackend) {
    this.id = id;
    this.backend = backend;
  }

  /**
   * The last known meta: the ready one once seen, else the latest non-ready state the
   * consumer saw while somebody waits, else what {@link refresh} read. `undefined` before.
   */
  get meta(): ResultMeta | undefined {
    const known = this.#meta;
    if (known !== undefined && READY_STATES.has(known.status)) return known;
    return this.backend.consumer.peek(this.id) ?? known;
  }

  /** The last known state: `PENDING` until something else is seen (no Redis round trip). */
  get state(): string {
    return this.meta?.status ?? TaskState.PENDING;
  }

  /**
   * The last known result: the return value for SUCCESS, the rebuilt error for an exception
   * state, the state's info otherwise (`{pid, hostname}` for STARTED), `null` when unknown.
   */
  get result(): unknown {
    const meta = this.meta;
    if (meta === undefined) return null;
    return EXCEPTION_STATES.has(meta.status) ? errorFromMeta(meta) : meta.result;
  }

  /** The remote traceback of a failure, if stored. */
  get traceback(): string | null {
    return this.meta?.traceback ?? null;
  }

  /** When the task finished (`date_done`, naive UTC ISO string), if known. */
  get dateDone(): string | null {
    return this.meta?.date_done ?? null;
  }

  /** The result tuples of tasks sent from inside the task, if known. */
  get children(): WireValue[] | null {
    return this.meta?.children ?? null;
  }

  /** `result_extended`: the task name, if stored. */
  get name(): string | null {
    return this.meta?.name ?? null;
  }

  /** `result_extended`: the positional arguments, if stored. */
  get args(): WireValue[] | null {
    return this.meta?.args ?? null;
  }

  /** `result_extended`: the keyword arguments, if stored. */
  get kwargs(): WireObject | null {
    return this.meta?.kwargs ?? null;
  }

  /** `result_extended`: the worker's node name, if stored. */
  get worker(): string | null {
    return this.meta?.worker ?? null;
  }

  /** `result_extended`: the retry count, if stored. */
  get retries(): number | null {
    return this.meta?.retries ?? null;
  }

  /** `result_extended`: the queue the task came from, if stored. */
  get queue(): string | null {
    return this.meta?.queue ?? null;
  }

  /** @returns whether the last known state is ready (SUCCESS, FAILURE, REVOKED) */
  ready(): boolean {
    return READY_STATES.has(this.state);
  }

  /** @returns whether the last known state is SUCCESS */
  successful(): boolean {
    return this.state === TaskState.SUCCESS;
  }

  /** @returns whether the last known state is FAILURE */
  failed(): boolean {
    return this.state === TaskState.FAILURE;
  }

  /**
   * Waits for the result.
   *
   * @param options - `timeout` (ms), `propagate` (default true), `signal`
   * @returns the return value (with `propagate: false`, the error object for FAILURE / REVOKED)
   * @throws the task's `RemoteTaskError` (its `name` is the Python `exc_type`) for FAILURE /
   *   REVOKED; `TimeoutError` (code `TIMEOUT`); the abort reason; `ConnectionClosedError`;
   *   `DecodeError` / `ContentDisallowedError` / `CeleriacError` `INVALID_RESULT` for a stored
   *   value that does not decode
   */
  get(options?: GetResultOptions & { readonly propagate?: true }): Promise<TResult>;
  get(options: GetResultNoPropagateOptions): Promise<TResult | RemoteTaskError>;
  async get(options: GetResultOptions = {}): Promise<unknown> {
    let meta = this.#meta;
    if (meta === undefined || !READY_STATES.has(meta.status)) {
      meta = await this.backend.waitFor(this.id, { timeout: options.timeout, signal: options.signal });
      this.#meta = meta;
    }
    return outcomeOf(meta, options.propagate ?? true);
  }

  /**
   * Makes the handle awaitable: `await result` is `await result.get()`.
   *
   * @param onfulfilled - called with the return value
   * @param onrejected - called with the error
   * @returns a native promise
   */
  then<TResult1 = TResult, TResult2 = never>(
    onfulfilled?: ((value: TResult) => TResult1 | PromiseLike<TResult1>) | null,
    onrejected?: ((reason: unknown) => TResult2 | PromiseLike<TResult2>) | null,
  ): Promise<TResult1 | TResult2> {
    return this.get().then(onfulfilled, onrejected);
  }

  /**
   * Calls `callback` with the ready meta once the task is ready (any ready state: check
   * `meta.status`, or `successful()` on the handle). The registration lives as long as the
   * handle: drop the handle and the callback is cancelled (its `onError` told with a
   * `PromiseCancelledError`) and the channel released.
   *
   * @param callback - called with the ready meta
   * @param onError - told when the meta does not decode, the backend closes, or the wait is
   *   cancelled (forgotten, handle collected)
   * @returns the promise of the callback's return value
   */
  onReady<TNext>(callback: (meta: ResultMeta) => TNext, onError?: ErrorHandler | null): VinePromise<[Awaited<TNext>], [ResultMeta]> {
    return this.#watch().then(callback, onError);
  }

  /**
   * Reads the stored meta now (one GET) and remembers it.
   *
   * @returns the meta (PENDING when nothing is stored)
   */
  async refresh(): Promise<ResultMeta> {
    const meta = await this.backend.get(this.id);
    this.#meta = meta;
    if (READY_STATES.has(meta.status)) this.#onReady?.fulfil(meta);
    return meta;
  }

  /**
   * The same as {@link refresh}.
   *
   * @returns the meta
   */
  fetch(): Promise<ResultMeta> {
    return this.refresh();
  }

  /**
   * Deletes the stored result and drops the subscription; pending waits reject with a
   * `PromiseCancelledError`.
   */
  async forget(): Promise<void> {
    this.#meta = undefined;
    this.#onReady = undefined;
    await this.backend.forget(this.id);
  }

  /** Celery's result tuple `[[id, null], null]`, as `GroupResult.save()` stores members. */
  asTuple(): [[string, null], null] {
    return [[this.id, null], null];
  }

  /** @returns `<AsyncResult: id>` */
  toString(): string {
    return `<AsyncResult: ${this.id}>`;
  }

  #watch(): OnReadyPromise {
    if (this.#onReady !== undefined) return this.#onReady;
    const promise: OnReadyPromise = createPromise(weakMethod(this, AsyncResult.#fulfilled));
    this.#onReady = promise;
    const known = this.#meta;
    if (known !== undefined && READY_STATES.has(known.status)) promise.fulfil(known);
    else this.backend.consumer.watch(this.id, promise, this);
    return promise;
  }
}

/**
 * Creates a handle on a task's result.
 *
 * @param id - the task id
 * @param backend - the backend (a {@link RedisResultBackend})
 * @returns the handle; nothing is subscribed until it is awaited or given a callback
 */
export function createAsyncResult<TResult = unknown>(id: string, backend: ResultHandleBackend): AsyncResult<TResult> {
  return new AsyncResult<TResult>(id, backend);
}

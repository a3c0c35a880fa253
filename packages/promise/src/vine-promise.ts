/**
 * A port of Celery's `vine.promises.promise`: a synchronous, cancellable promise whose
 * callbacks may be promises themselves, and which can also be awaited.
 *
 * Differences from vine, each documented where it applies: a promise settles once (later
 * `fulfil`/`throw` calls are ignored), `throw()` never re-raises, an error propagates down
 * the whole chain, cancelling tells error handlers, a callback that returns a thenable is
 * waited for, and a weak callback whose receiver is gone cancels its promise.
 *
 * @module
 */
import { PromiseCancelledError } from './promise-cancelled-error.ts';
import { isThenable } from './thenable.ts';
import { isWeakMethod, type WeakMethod } from './weak-method.ts';

/**
 * Where a promise is in its life: it starts `pending` and leaves it at most once.
 * `fulfilled` is vine's `ready`.
 */
export type PromiseState = 'pending' | 'fulfilled' | 'failed' | 'cancelled';

/**
 * What `await p` resolves with for a promise whose callbacks receive `TArgs`: the FIRST
 * argument (`undefined` when there are none). A promise with an `fn` has exactly one, its
 * return value. A promise without `fn` fulfilled with several arguments gives the first
 * only, as a JavaScript resolve function takes one value; chain `.then((...args) => args)`
 * to await them all as a tuple.
 *
 * @typeParam TArgs - the arguments callbacks receive
 */
export type AwaitedValue<TArgs extends unknown[]> = TArgs extends [] ? undefined : TArgs[0];

/**
 * A promise of any type. Used where promises of different types are stored together.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- `unknown` would not accept every instantiation
export type AnyVinePromise = VinePromise<any, any>;

/**
 * Told when a promise fails, and when it is cancelled.
 *
 * - A function (or a {@link WeakMethod}) is called with the error; on cancel, with the
 *   {@link PromiseCancelledError}. A dead weak method is skipped.
 * - A {@link VinePromise} is fulfilled with the error; on cancel it is cancelled, as in vine.
 */
export type ErrorHandler = ((reason: unknown) => unknown) | AnyVinePromise;

/** Options of {@link createPromise} and the {@link VinePromise} constructor. */
export interface PromiseOptions {
  /** Told when this promise fails or is cancelled (vine's `on_error`). */
  onError?: ErrorHandler | null | undefined;
}

/**
 * A promise in the manner of Celery's vine: fulfilled synchronously with `fulfil(...args)`,
 * failed with `throw(error)`, stopped with `cancel()`, and chained with `then`. It is also a
 * `PromiseLike`, so `await p` works.
 *
 * - **Value.** With an `fn`, `fulfil(...args)` calls `fn(...args)` and the return value
 *   becomes the value (a returned thenable is waited for first); without one, the arguments
 *   themselves are the value. `then` callbacks receive the value spread as arguments.
 * - **Settles once.** The first `fulfil`, `throw` or `cancel` wins; later `fulfil` and
 *   `throw` calls are ignored (vine would re-run `fn`), and `cancel()` on a settled promise
 *   does nothing.
 * - **Errors.** An exception thrown by `fn` fails the promise. A failure calls the
 *   promise's own `onError`, then fails every promise chained from it, recursively, each
 *   calling its own `onError`. An `onError` is told, as vine's `on_error` is; it does not
 *   recover the promise, which stays failed. If it throws, that error replaces the reason
 *   of its promise and is what propagates further. `throw()` never re-raises (vine
 *   re-raises when there is no `on_error`): an unobserved failure is only recorded in
 *   `failed`/`reason`. Nor can it become an unhandled rejection, since only awaiters see
 *   it, as the rejection of their own `await`.
 * - **Cancel.** Cancels the promise and everything chained from it: no `then` callback runs
 *   afterwards. Error handlers are told with a {@link PromiseCancelledError}, which is how
 *   an `await` on a cancelled promise rejects.
 * - **Awaiting** gives {@link AwaitedValue}: the first argument of the value.
 *
 * Prefer {@link createPromise}, which infers both type parameters from `fn`.
 *
 * @typeParam TArgs - the arguments `then` callbacks receive: `[returnValue]` with an `fn`,
 *   the `fulfil` arguments without one
 * @typeParam TIn - the arguments `fulfil` takes
 *
 * @example
 * ```ts
 * const p = createPromise((x: number) => x * 2);
 * p.then((doubled) => console.log(doubled));
 * p.fulfil(21); // logs 42
 * console.log(await p); // 42
 * ```
 */
export class VinePromise<TArgs extends unknown[] = unknown[], TIn extends unknown[] = TArgs>
  implements PromiseLike<AwaitedValue<TArgs>>
{
  #fn: ((...args: TIn) => unknown) | undefined;
  #onError: ErrorHandler | undefined;
  #state: PromiseState = 'pending';
  // Set by the first fulfil/throw: the promise may still be pending while it waits for a
  // thenable returned by fn, but it no longer accepts another fulfil/throw.
  #accepted = false;
  #value: TArgs | undefined;
  #reason: unknown;
  #listeners: AnyVinePromise[] | undefined;

  /**
   * Prefer {@link createPromise}: here `TArgs` is not inferred from `fn` and must match its
   * return type (`[ReturnType]`), or equal `TIn` when there is no `fn`.
   *
   * @param fn - called by `fulfil` with its arguments; its return value becomes the value.
   *   A function, a {@link WeakMethod}, or nothing.
   * @param options - {@link PromiseOptions}
   * @throws TypeError when `fn` is not a function or `onError` is not a function or promise
   */
  constructor(fn?: ((...args: TIn) => unknown) | null, options: PromiseOptions = {}) {
    if (fn != null && typeof fn !== 'function') {
      throw new TypeError(`A promise fn must be a function, got ${typeof fn}`);
    }
    const onError = options.onError;
    if (onError != null && typeof onError !== 'function' && !(onError instanceof VinePromise)) {
      throw new TypeError(`onError must be a function or a VinePromise, got ${typeof onError}`);
    }
    this.#fn = fn ?? undefined;
    this.#onError = onError ?? undefined;
  }

  /** Where the promise is in its life. */
  get state(): PromiseState {
    return this.#state;
  }

  /** `true` once fulfilled (vine's `ready`). */
  get ready(): boolean {
    return this.#state === 'fulfilled';
  }

  /** `true` once failed by `throw()` or by an exception from `fn`. */
  get failed(): boolean {
    return this.#state === 'failed';
  }

  /** `true` once cancelled. */
  get cancelled(): boolean {
    return this.#state === 'cancelled';
  }

  /**
   * The arguments `then` callbacks receive (`[returnValue]` with an `fn`), once fulfilled;
   * `undefined` before.
   */
  get value(): TArgs | undefined {
    return this.#value;
  }

  /**
   * Why the promise did not fulfil: the error it failed with (or the error its `onError`
   * threw), the {@link PromiseCancelledError} once cancelled; `undefined` otherwise.
   */
  get reason(): unknown {
    return this.#reason;
  }

  /**
   * Fulfils the promise (vine's `__call__`). With an `fn`, calls it with `args` and fulfils
   * with its return value, after waiting for it if it is a thenable; an exception from `fn`
   * fails the promise instead. Without `fn`, fulfils with `args`. Then calls every `then`
   * callback, in the order they were added. Ignored once the promise has been fulfilled,
   * failed or cancelled. If `fn` is a {@link WeakMethod} whose receiver has been collected,
   * the promise is cancelled instead.
   *
   * @param args - for `fn`, or the value itself
   */
  fulfil(...args: TIn): void {
    if (this.#accepted || this.#state !== 'pending') return;
    this.#accepted = true;
    const fn = this.#fn;
    // The callback is not needed any more, and it may hold a large closure.
    this.#fn = undefined;
    if (fn === undefined) {
      this.#resolve(args as unknown[] as TArgs);
      return;
    }
    const receiver = isWeakMethod(fn) ? fn.deref() : undefined;
    if (isWeakMethod(fn) && receiver === undefined) {
      this.#cancel(
        new PromiseCancelledError(
          `The receiver of weak method ${JSON.stringify(fn.name)} was garbage-collected before the promise was fulfilled`,
        ),
      );
      return;
    }
    let result: unknown;
    let thenable: boolean;
    try {
      result = isWeakMethod(fn) ? fn.method.apply(receiver, args) : fn(...args);
      thenable = isThenable(result);
    } catch (err) {
      this.#reject(err);
      return;
    }
    if (thenable) this.#adopt(result as PromiseLike<unknown>);
    else this.#resolve([result] as TArgs);
  }

  /**
   * Fails the promise with `reason`: calls its `onError`, then fails every promise chained
   * from it. Ignored once the promise has been fulfilled, failed or cancelled. Never
   * throws, even when nothing handles the error (vine re-raises in that case): the failure
   * is kept in `failed`/`reason` and rejects any `await`.
   *
   * @param reason - the error
   */
  throw(reason: unknown): void {
    if (this.#accepted || this.#state !== 'pending') return;
    this.#accepted = true;
    this.#reject(reason);
  }

  /**
   * Cancels the promise and every promise chained from it: no `then` callback runs after
   * this, `fn` is never called, and error handlers get a {@link PromiseCancelledError} (an
   * `onError` that is a promise is cancelled instead). Does nothing once the promise has been
   * fulfilled, failed or cancelled.
   */
  cancel(): void {
    if (this.#state !== 'pending') return;
    this.#cancel(new PromiseCancelledError());
  }

  /**
   * Chains `callback` (vine style) and returns the promise it is wrapped in. Runs it at
   * once if this promise is already fulfilled.
   *
   * @param callback - a promise, used as is: fulfilled with this promise's value, failed
   *   or cancelled with it
   * @returns `callback`
   */
  // The `this: TSelf` parameter keeps this overload out of the signatures TypeScript reads
  // to type `await p`: every first parameter it reads must be callable, and a promise is not.
  then<TNext extends unknown[], TSelf extends this = this>(
    this: TSelf,
    callback: VinePromise<TNext, TArgs>,
    onError?: null,
  ): VinePromise<TNext, TArgs>;
  /**
   * Chains a weak callback: `callback.method` is called on its receiver with this
   * promise's value. If the receiver has been collected by then, the returned promise is
   * cancelled.
   *
   * @param callback - made by `weakMethod(receiver, Class.prototype.method)`
   * @param onError - told when the returned promise fails or is cancelled
   * @returns a new promise of the callback's return value
   */
  then<TResult>(
    callback: WeakMethod<TArgs, TResult>,
    onError?: ErrorHandler | null,
  ): VinePromise<[Awaited<TResult>], TArgs>;
  /**
   * Chains `callback`, called with this promise's value spread as arguments, and returns
   * a new promise of what it returns (after waiting for it, if it is a thenable). Runs it
   * at once if this promise is already fulfilled. If this promise fails, the new one fails
   * with the same error and `onError` is called; if it is cancelled, so is the new one.
   *
   * @param callback - called with the value
   * @param onError - told when the returned promise fails or is cancelled
   * @returns a new promise of the callback's return value
   * @throws TypeError when `callback` or `onError` is neither a function nor a promise
   *
   * @example
   * ```ts
   * const p = createPromise<[a: number, b: number]>();
   * const sum = p.then((a, b) => a + b);
   * p.fulfil(1, 2);
   * sum.value; // [3]
   * ```
   */
  then<TResult>(
    callback: (...args: TArgs) => TResult,
    onError?: ErrorHandler | null,
  ): VinePromise<[Awaited<TResult>], TArgs>;
  /**
   * Chains only an error handler: the returned promise passes this promise's value through
   * unchanged, and `onError` is told if it fails or is cancelled.
   *
   * @param callback - nothing
   * @param onError - told when the returned promise fails or is cancelled
   * @returns a new promise of the same value
   */
  then(callback: null | undefined, onError: ErrorHandler): VinePromise<TArgs, TArgs>;
  /**
   * The `PromiseLike` form, which `await` uses: `onfulfilled` gets the first argument of
   * the value ({@link AwaitedValue}), `onrejected` the error, or a
   * {@link PromiseCancelledError} on cancel. Unlike a native promise, an `onrejected` that
   * returns does not recover: it is told, as vine's `on_error` is, and the returned promise
   * still fails (so its type carries only what `onfulfilled` returns). To recover, go
   * through a native promise: `Promise.resolve(p).then(ok, recover)`.
   *
   * @param onfulfilled - called with the awaited value
   * @param onrejected - told of the error
   * @returns a new promise of what `onfulfilled` returns
   */
  then<TResult1 = AwaitedValue<TArgs>, TResult2 = never>(
    onfulfilled?: ((value: AwaitedValue<TArgs>) => TResult1 | PromiseLike<TResult1>) | null,
    onrejected?: ((reason: unknown) => TResult2 | PromiseLike<TResult2>) | null,
  ): VinePromise<[TResult1], TArgs>;
  then(callback?: unknown, onError?: unknown): AnyVinePromise {
    let next: AnyVinePromise;
    if (callback instanceof VinePromise) {
      if (onError != null) {
        throw new TypeError(
          'then(promise, onError): onError is only used when the callback is a function; ' +
            'give the promise its own onError when you create it',
        );
      }
      next = callback;
    } else {
      next = new VinePromise(callback as (...args: unknown[]) => unknown, {
        onError: onError as ErrorHandler,
      });
    }
    switch (this.#state) {
      case 'pending':
        (this.#listeners ??= []).push(next);
        break;
      case 'fulfilled':
        next.fulfil(...(this.#value as unknown[]));
        break;
      case 'failed':
        next.throw(this.#reason);
        break;
      case 'cancelled':
        next.#cancel(
          this.#reason instanceof PromiseCancelledError ? this.#reason : new PromiseCancelledError(),
        );
        break;
    }
    return next;
  }

  #adopt(thenable: PromiseLike<unknown>): void {
    if (thenable === this) {
      this.#reject(new TypeError('A promise callback returned its own promise, which can never settle'));
      return;
    }
    try {
      thenable.then(
        (value) => {
          this.#resolve([value] as TArgs);
        },
        (reason: unknown) => {
          this.#reject(reason);
        },
      );
    } catch (err) {
      this.#reject(err);
    }
  }

  #resolve(value: TArgs): void {
    if (this.#state !== 'pending') return;
    this.#value = value;
    this.#state = 'fulfilled';
    this.#onError = undefined;
    for (const listener of this.#takeListeners()) listener.fulfil(...value);
  }

  #reject(reason: unknown): void {
    if (this.#state !== 'pending') return;
    this.#reason = reason;
    this.#state = 'failed';
    this.#fn = undefined;
    const onError = this.#onError;
    this.#onError = undefined;
    if (onError !== undefined) {
      const failure = callErrorHandler(onError, reason);
      if (failure !== undefined) this.#reason = failure.error;
    }
    for (const listener of this.#takeListeners()) listener.throw(this.#reason);
  }

  #cancel(error: PromiseCancelledError): void {
    if (this.#state !== 'pending') return;
    this.#reason = error;
    this.#state = 'cancelled';
    this.#fn = undefined;
    const onError = this.#onError;
    this.#onError = undefined;
    if (onError instanceof VinePromise) {
      onError.#cancel(error);
    } else if (onError !== undefined) {
      const failure = callErrorHandler(onError, error);
      if (failure !== undefined) this.#reason = failure.error;
    }
    for (const listener of this.#takeListeners()) listener.#cancel(error);
  }

  #takeListeners(): AnyVinePromise[] {
    const listeners = this.#listeners ?? [];
    this.#listeners = undefined;
    return listeners;
  }
}

/**
 * Calls an error handler, keeping anything it throws instead of letting it escape into the
 * code that failed or cancelled the promise.
 */
function callErrorHandler(handler: ErrorHandler, reason: unknown): { error: unknown } | undefined {
  if (handler instanceof VinePromise) {
    handler.fulfil(reason);
    return undefined;
  }
  try {
    if (isWeakMethod(handler)) {
      const receiver = handler.deref();
      if (receiver !== undefined) handler.method.call(receiver, reason);
    } else {
      handler(reason);
    }
    return undefined;
  } catch (error) {
    return { error };
  }
}

/**
 * Creates a promise without `fn`: `fulfil(...args)` fulfils it with `args`, and callbacks
 * receive them.
 *
 * @typeParam TArgs - the arguments of `fulfil` and of the callbacks
 * @param fn - nothing
 * @param options - {@link PromiseOptions}
 * @returns a pending promise
 *
 * @example
 * ```ts
 * const p = createPromise<[status: string, code: number]>();
 * p.then((status, code) => console.log(status, code));
 * p.fulfil('ok', 200);
 * ```
 */
export function createPromise<TArgs extends unknown[] = unknown[]>(
  fn?: null,
  options?: PromiseOptions,
): VinePromise<TArgs, TArgs>;
/**
 * Creates a promise whose `fn` is a weak method: `fulfil(...args)` calls the method on its
 * receiver if it is still alive, and cancels the promise if it has been collected.
 *
 * @param fn - made by `weakMethod(receiver, Class.prototype.method)`
 * @param options - {@link PromiseOptions}
 * @returns a pending promise of the method's return value
 */
export function createPromise<TIn extends unknown[], TResult>(
  fn: WeakMethod<TIn, TResult>,
  options?: PromiseOptions,
): VinePromise<[Awaited<TResult>], TIn>;
/**
 * Creates a promise of `fn`'s result: `fulfil(...args)` calls `fn(...args)`, and callbacks
 * receive its return value (a returned thenable is waited for first).
 *
 * @param fn - called by `fulfil`
 * @param options - {@link PromiseOptions}
 * @returns a pending promise of `fn`'s return value
 * @throws TypeError when `fn` is not a function or `onError` is not a function or promise
 *
 * @example
 * ```ts
 * const p = createPromise((x: number) => x * 2);
 * p.fulfil(21);
 * await p; // 42
 * ```
 */
export function createPromise<TIn extends unknown[], TResult>(
  fn: (...args: TIn) => TResult,
  options?: PromiseOptions,
): VinePromise<[Awaited<TResult>], TIn>;
export function createPromise(
  fn?: ((...args: never[]) => unknown) | null,
  options?: PromiseOptions,
): AnyVinePromise {
  return new VinePromise(fn as (...args: unknown[]) => unknown, options);
}

/**
 * A port of Celery's `vine.synchronization.barrier`: a promise that fires once all of a
 * set of promises have been fulfilled.
 *
 * @module
 */
import { BarrierFullError } from './barrier-full-error.ts';
import {
  VinePromise,
  type AwaitedValue,
  type AnyVinePromise,
  type ErrorHandler,
} from './vine-promise.ts';
import type { WeakMethod } from './weak-method.ts';

/**
 * What a barrier waits for: any thenable. A `VinePromise` (or another barrier) is also
 * cancelled when the barrier is.
 */
export type BarrierPart = PromiseLike<unknown>;

/** What a barrier accepts as its callback: anything `then` accepts. */
export type BarrierCallback = (() => unknown) | WeakMethod<[], unknown> | VinePromise<unknown[], []>;

interface Cancellable {
  cancel(): void;
  readonly cancelled: boolean;
}

function isCancellable(part: BarrierPart): part is BarrierPart & Cancellable {
  const candidate = part as Partial<Cancellable>;
  return typeof candidate.cancel === 'function' && typeof candidate.cancelled === 'boolean';
}

/**
 * Fires its own promise, {@link Barrier.promise}, with no arguments once all its parts
 * have been fulfilled, as vine's `barrier`.
 *
 * - **Size.** With parts (or a `size`) at creation the barrier is finalized: it fires when
 *   `size` parts have been fulfilled, where `size` is the larger of the given size and the
 *   number of parts added so far (vine's `add()` after creation grows it the same way).
 *   Built with neither, it does not know how many parts will come: `add()` them, then call
 *   `finalize()`.
 * - **Failure.** When a part fails, the barrier fails with the same error. When a part is
 *   cancelled, the barrier is cancelled (it can never fire), and its other parts are left
 *   alone.
 * - **Cancel.** `cancel()` cancels the barrier's promise and every part that can be
 *   cancelled.
 * - **Awaiting** a barrier resolves with `undefined` once it fires, and rejects as its
 *   promise does.
 *
 * @example
 * ```ts
 * const a = createPromise<[number]>();
 * const b = createPromise<[number]>();
 * const all = createBarrier([a, b], () => console.log('both done'));
 * a.fulfil(1);
 * b.fulfil(2); // logs "both done"
 * await all;
 * ```
 */
export class Barrier implements PromiseLike<undefined> {
  /** The barrier's own promise, fulfilled with no arguments when the barrier fires (vine's `p`). */
  readonly promise: VinePromise<[], []> = new VinePromise<[], []>();
  #size: number;
  #added = 0;
  #fulfilled = 0;
  #finalized = false;
  // Kept only so that cancel() can reach them; dropped once the barrier settles.
  #parts: BarrierPart[] | undefined = [];

  /**
   * @param promises - the parts; the barrier is finalized when there is at least one
   * @param callback - chained on the barrier's promise with `then`
   * @param size - how many parts to wait for, when they are added later with `add()`
   * @throws RangeError when `size` is not a non-negative integer
   */
  constructor(promises: Iterable<BarrierPart> = [], callback?: BarrierCallback, size?: number) {
    if (size !== undefined && (!Number.isInteger(size) || size < 0)) {
      throw new RangeError(`A barrier size must be a non-negative integer, got ${String(size)}`);
    }
    const parts = [...promises];
    this.#added = parts.length;
    this.#size = Math.max(size ?? 0, parts.length);
    // Parts that are already fulfilled report in while they are attached; finalizing only
    // afterwards keeps the barrier from firing before every listed part is counted.
    for (const part of parts) this.#attach(part);
    this.#finalized = this.#size > 0;
    if (callback !== undefined) this.promise.then(callback as () => unknown);
    this.#check();
  }

  /** `true` once every part has been fulfilled and the barrier has fired. */
  get ready(): boolean {
    return this.promise.ready;
  }

  /** `true` once a part failed (or `throw()` was called). */
  get failed(): boolean {
    return this.promise.failed;
  }

  /** `true` once cancelled, directly or because a part was cancelled. */
  get cancelled(): boolean {
    return this.promise.cancelled;
  }

  /** The error the barrier failed with, or the cancellation error; see `VinePromise.reason`. */
  get reason(): unknown {
    return this.promise.reason;
  }

  /** How many fulfilled parts the barrier waits for (so far, if not finalized). */
  get size(): number {
    return this.#size;
  }

  /** How many parts have been fulfilled. */
  get fulfilledCount(): number {
    return this.#fulfilled;
  }

  /** `true` once the barrier knows its size: built with parts or a size, or `finalize()`d. */
  get finalized(): boolean {
    return this.#finalized;
  }

  /**
   * Adds a part to wait for. Grows `size` when there are more parts than it. Ignored on a
   * cancelled or failed barrier.
   *
   * @param part - a promise or any thenable
   * @throws {@link BarrierFullError} when the barrier has already fired
   */
  add(part: BarrierPart): void {
    if (this.promise.ready) {
      throw new BarrierFullError(
        `Cannot add a promise to a barrier that has already fired (all ${this.#size} parts were fulfilled)`,
      );
    }
    if (this.promise.state !== 'pending') return;
    this.#added += 1;
    const grew = this.#added > this.#size;
    if (grew) this.#size = this.#added;
    try {
      this.#attach(part);
    } catch (err) {
      this.#added -= 1;
      if (grew) this.#size -= 1;
      throw err;
    }
  }

  /**
   * Declares that no more parts will be added: fires now if every part added so far has
   * been fulfilled, or when the last one is. Does nothing on a finalized barrier.
   */
  finalize(): void {
    if (this.#finalized) return;
    this.#finalized = true;
    this.#check();
  }

  /**
   * Fails the barrier (and its promise) with `reason`; see `VinePromise.throw`.
   *
   * @param reason - the error
   */
  throw(reason: unknown): void {
    this.promise.throw(reason);
    this.#parts = undefined;
  }

  /**
   * Cancels the barrier's promise and every part that can be cancelled (`VinePromise`s and
   * barriers). Does nothing once the barrier has fired, failed or been cancelled.
   */
  cancel(): void {
    if (this.promise.state !== 'pending') return;
    const parts = this.#parts ?? [];
    this.#parts = undefined;
    this.promise.cancel();
    for (const part of parts) if (isCancellable(part)) part.cancel();
  }

  /**
   * Chains a promise on the barrier's promise; see `VinePromise.then`.
   *
   * @param callback - a promise, used as is
   * @returns `callback`
   */
  // The `this: TSelf` parameter keeps this overload out of what TypeScript reads to type
  // `await barrier` (see VinePromise.then).
  then<TNext extends unknown[], TSelf extends this = this>(
    this: TSelf,
    callback: VinePromise<TNext, []>,
    onError?: null,
  ): VinePromise<TNext, []>;
  /**
   * Chains a weak callback, called when the barrier fires; see `VinePromise.then`.
   *
   * @param callback - made by `weakMethod(receiver, Class.prototype.method)`
   * @param onError - told when the returned promise fails or is cancelled
   * @returns a new promise of the callback's return value
   */
  then<TResult>(
    callback: WeakMethod<[], TResult>,
    onError?: ErrorHandler | null,
  ): VinePromise<[Awaited<TResult>], []>;
  /**
   * Chains a callback, called with no arguments when the barrier fires; see
   * `VinePromise.then`.
   *
   * @param callback - called when the barrier fires
   * @param onError - told when the returned promise fails or is cancelled
   * @returns a new promise of the callback's return value
   */
  then<TResult>(
    callback: () => TResult,
    onError?: ErrorHandler | null,
  ): VinePromise<[Awaited<TResult>], []>;
  /**
   * Chains only an error handler; see `VinePromise.then`.
   *
   * @param callback - nothing
   * @param onError - told when the returned promise fails or is cancelled
   * @returns a new promise, fulfilled when the barrier fires
   */
  then(callback: null | undefined, onError: ErrorHandler): VinePromise<[], []>;
  /**
   * The `PromiseLike` form, which `await` uses: `onfulfilled` gets `undefined`.
   *
   * @param onfulfilled - called when the barrier fires
   * @param onrejected - told of the error, or a `PromiseCancelledError` on cancel; it does
   *   not recover (see `VinePromise.then`)
   * @returns a new promise of what `onfulfilled` returns
   */
  then<TResult1 = undefined, TResult2 = never>(
    onfulfilled?: ((value: AwaitedValue<[]>) => TResult1 | PromiseLike<TResult1>) | null,
    onrejected?: ((reason: unknown) => TResult2 | PromiseLike<TResult2>) | null,
  ): VinePromise<[TResult1], []>;
  then(callback?: unknown, onError?: unknown): AnyVinePromise {
    // The overloads of VinePromise.then do not accept `unknown`; call through one plain signature.
    const promise = this.promise as unknown as { then(a: unknown, b: unknown): AnyVinePromise };
    return promise.then(callback, onError);
  }

  #attach(part: BarrierPart): void {
    this.#parts?.push(part);
    part.then(
      () => {
        this.#partFulfilled();
      },
      (reason: unknown) => {
        this.#partFailed(part, reason);
      },
    );
  }

  #partFulfilled(): void {
    if (this.promise.state !== 'pending') return;
    this.#fulfilled += 1;
    this.#check();
  }

  #partFailed(part: BarrierPart, reason: unknown): void {
    if (this.promise.state !== 'pending') return;
    this.#parts = undefined;
    if (isCancellable(part) && part.cancelled) this.promise.cancel();
    else this.promise.throw(reason);
  }

  #check(): void {
    if (this.#finalized && this.#fulfilled >= this.#size && this.promise.state === 'pending') {
      this.#parts = undefined;
      this.promise.fulfil();
    }
  }
}

/**
 * Creates a {@link Barrier} (vine's `barrier(promises, callback=..., size=...)`).
 *
 * @param promises - the parts; the barrier is finalized when there is at least one
 * @param callback - called (chained with `then`) when the barrier fires
 * @param size - how many parts to wait for, when they are added later with `add()`
 * @returns a pending barrier (or a fired one, if every part was already fulfilled)
 * @throws RangeError when `size` is not a non-negative integer
 *
 * @example
 * ```ts
 * const barrier = createBarrier(); // size unknown
 * for (const p of requests) barrier.add(p);
 * barrier.finalize();
 * await barrier;
 * ```
 */
export function createBarrier(
  promises?: Iterable<BarrierPart>,
  callback?: BarrierCallback,
  size?: number,
): Barrier {
  return new Barrier(promises, callback, size);
}

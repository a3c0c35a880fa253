/**
 * The small helpers of vine's `funtools` that code taking "a callback or a promise" needs.
 *
 * @module
 */
import { createPromise, VinePromise } from './vine-promise.ts';
import type { WeakMethod } from './weak-method.ts';

/**
 * Turns a callback into a promise and passes a promise (or nothing) through, as vine's
 * `maybe_promise`: lets an API accept either.
 *
 * @param value - a promise, a function or weak method, or nothing
 * @returns `value` itself if it is a promise; a promise with `fn` = `value` if it is a
 *   function; `undefined` for `undefined` or `null`
 * @throws TypeError when `value` is neither a promise, a function nor nothing
 *
 * @example
 * ```ts
 * function read(callback?: VinePromise<[Buffer]> | ((data: Buffer) => void)) {
 *   const p = maybePromise(callback);
 *   ...
 * }
 * ```
 */
export function maybePromise<TArgs extends unknown[], TIn extends unknown[]>(
  value: VinePromise<TArgs, TIn>,
): VinePromise<TArgs, TIn>;
export function maybePromise<TIn extends unknown[], TResult>(
  value: WeakMethod<TIn, TResult>,
): VinePromise<[Awaited<TResult>], TIn>;
export function maybePromise<TIn extends unknown[], TResult>(
  value: (...args: TIn) => TResult,
): VinePromise<[Awaited<TResult>], TIn>;
export function maybePromise(value: null | undefined): undefined;
export function maybePromise(value: unknown): VinePromise<unknown[], never[]> | undefined {
  if (value == null) return undefined;
  if (value instanceof VinePromise) return value as VinePromise<unknown[], never[]>;
  if (typeof value === 'function') return createPromise(value as (...args: never[]) => unknown);
  throw new TypeError(`maybePromise() expected a VinePromise, a function or nothing, got ${typeof value}`);
}

/**
 * Like {@link maybePromise}, but makes a new promise without `fn` when given nothing, as
 * vine's `ensure_promise`: the usual default for an optional `callback` argument.
 *
 * @param value - a promise, a function or weak method, or nothing
 * @returns `value` itself if it is a promise; otherwise a new promise
 * @throws TypeError when `value` is neither a promise, a function nor nothing
 *
 * @example
 * ```ts
 * function connect(callback?: VinePromise<[]>): VinePromise<[]> {
 *   const done = ensurePromise(callback);
 *   socket.once('connect', () => done.fulfil());
 *   return done;
 * }
 * ```
 */
export function ensurePromise<TArgs extends unknown[], TIn extends unknown[]>(
  value: VinePromise<TArgs, TIn>,
): VinePromise<TArgs, TIn>;
export function ensurePromise<TIn extends unknown[], TResult>(
  value: WeakMethod<TIn, TResult>,
): VinePromise<[Awaited<TResult>], TIn>;
export function ensurePromise<TIn extends unknown[], TResult>(
  value: (...args: TIn) => TResult,
): VinePromise<[Awaited<TResult>], TIn>;
export function ensurePromise<TArgs extends unknown[] = unknown[]>(
  value?: null,
): VinePromise<TArgs, TArgs>;
export function ensurePromise(value?: unknown): VinePromise<unknown[], never[]> {
  return (maybePromise(value as null) as VinePromise<unknown[], never[]> | undefined) ?? createPromise();
}

/**
 * The stable `code` of every error this package raises on purpose. Callers branch on the
 * code (or the error class), never on message text.
 *
 * @module
 */

/** The error codes, each with what it means. */
export const PromiseErrorCode = {
  /** The promise was cancelled (by `cancel()`, or because its weak receiver was collected). */
  PROMISE_CANCELLED: 'PROMISE_CANCELLED',
  /** `weakMethod()` was given something that cannot be held weakly (a bound function, a primitive). */
  WEAK_METHOD_INVALID: 'WEAK_METHOD_INVALID',
  /** A promise was added to a barrier that has already fired. */
  BARRIER_FULL: 'BARRIER_FULL',
} as const;

/** One of the {@link PromiseErrorCode} values. */
export type PromiseErrorCode = (typeof PromiseErrorCode)[keyof typeof PromiseErrorCode];

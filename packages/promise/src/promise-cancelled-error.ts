import { PromiseErrorCode } from './error-codes.ts';

/**
 * The rejection an awaiter (and any error handler) receives when a promise is cancelled,
 * and the `reason` of a cancelled promise.
 *
 * @example
 * ```ts
 * try {
 *   await p;
 * } catch (err) {
 *   if (err instanceof PromiseCancelledError) return; // nobody wants the value any more
 *   throw err;
 * }
 * ```
 */
export class PromiseCancelledError extends Error {
  /** Always {@link PromiseErrorCode.PROMISE_CANCELLED}. */
  readonly code = PromiseErrorCode.PROMISE_CANCELLED;

  /**
   * @param message - why the promise was cancelled
   */
  constructor(message = 'The promise was cancelled before it was fulfilled') {
    super(message);
    this.name = 'PromiseCancelledError';
  }
}

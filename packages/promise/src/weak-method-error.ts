import { PromiseErrorCode } from './error-codes.ts';

/**
 * Thrown by `weakMethod()` when it is given something it cannot hold weakly: a bound
 * function, a receiver that is not an object, or a method that is not a function. It is a
 * `TypeError`, since the arguments have the wrong kind.
 */
export class WeakMethodError extends TypeError {
  /** Always {@link PromiseErrorCode.WEAK_METHOD_INVALID}. */
  readonly code = PromiseErrorCode.WEAK_METHOD_INVALID;

  /**
   * @param message - what was expected, what came instead, and how to fix it
   */
  constructor(message: string) {
    super(message);
    this.name = 'WeakMethodError';
  }
}

import { PromiseErrorCode } from './error-codes.ts';

/**
 * Thrown by `Barrier.add()` when the barrier has already fired: the new promise could never
 * be waited for (vine raises `ValueError('Cannot add promise to full barrier')`).
 */
export class BarrierFullError extends Error {
  /** Always {@link PromiseErrorCode.BARRIER_FULL}. */
  readonly code = PromiseErrorCode.BARRIER_FULL;

  /**
   * @param message - what was added and the barrier's size
   */
  constructor(message: string) {
    super(message);
    this.name = 'BarrierFullError';
  }
}

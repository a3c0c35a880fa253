import { describe, it, expect } from 'vitest';
import { BarrierFullError } from './barrier-full-error.ts';
import { PromiseErrorCode } from './error-codes.ts';
import { PromiseCancelledError } from './promise-cancelled-error.ts';
import { WeakMethodError } from './weak-method-error.ts';

describe('errors', () => {
  it('each has its name and a stable code from PromiseErrorCode', () => {
    const cases = [
      [new PromiseCancelledError(), 'PromiseCancelledError', PromiseErrorCode.PROMISE_CANCELLED],
      [new WeakMethodError('m'), 'WeakMethodError', PromiseErrorCode.WEAK_METHOD_INVALID],
      [new BarrierFullError('m'), 'BarrierFullError', PromiseErrorCode.BARRIER_FULL],
    ] as const;
    for (const [error, name, code] of cases) {
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(name);
      expect(error.code).toBe(code);
      expect(String(error)).toMatch(new RegExp(`^${name}: `));
    }
    expect(PromiseErrorCode.PROMISE_CANCELLED).toBe('PROMISE_CANCELLED');
  });

  it('WeakMethodError is a TypeError; a cancel error has a default message', () => {
    expect(new WeakMethodError('m')).toBeInstanceOf(TypeError);
    expect(new PromiseCancelledError().message).toMatch(/cancelled/);
    expect(new PromiseCancelledError('custom').message).toBe('custom');
  });
});

import { describe, it, expect } from 'vitest';
import * as api from './index.ts';

describe('public API', () => {
  it('exports exactly the documented runtime names', () => {
    expect(Object.keys(api).sort()).toEqual([
      'Barrier',
      'BarrierFullError',
      'PromiseCancelledError',
      'PromiseErrorCode',
      'VinePromise',
      'WeakMethodError',
      'createBarrier',
      'createPromise',
      'ensurePromise',
      'isBoundFunction',
      'isThenable',
      'isWeakMethod',
      'maybePromise',
      'weakMethod',
    ]);
  });
});

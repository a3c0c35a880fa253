import { describe, it, expect } from 'vitest';
import { Barrier, createBarrier } from './barrier.ts';
import { BarrierFullError } from './barrier-full-error.ts';
import { PromiseCancelledError } from './promise-cancelled-error.ts';
import { createPromise, type VinePromise } from './vine-promise.ts';

type Part = VinePromise<[number]>;

function pair(): [Part, Part] {
  return [createPromise<[number]>(), createPromise<[number]>()];
}

describe('barrier with a known size', () => {
  it('fires its promise and callback once every listed promise is fulfilled', () => {
    const [a, b] = pair();
    const c = createPromise<[number]>();
    let fired = 0;
    const barrier = createBarrier([a, b, c], () => ++fired);
    expect(barrier).toBeInstanceOf(Barrier);
    expect(barrier.finalized).toBe(true);
    expect(barrier.size).toBe(3);
    b.fulfil(2);
    a.fulfil(1);
    expect(barrier.ready).toBe(false);
    expect(barrier.fulfilledCount).toBe(2);
    expect(fired).toBe(0);
    c.fulfil(3);
    expect(barrier.ready).toBe(true);
    expect(barrier.promise.ready).toBe(true);
    expect(fired).toBe(1);
  });

  it('waits for `size` parts added later with add()', () => {
    const barrier = createBarrier([], undefined, 2);
    expect(barrier.finalized).toBe(true);
    const [a, b] = pair();
    barrier.add(a);
    a.fulfil(1);
    expect(barrier.ready).toBe(false);
    barrier.add(b);
    expect(barrier.size).toBe(2);
    b.fulfil(2);
    expect(barrier.ready).toBe(true);
  });

  it('grows its size when add() brings more parts than it (vine)', () => {
    const [a, b] = pair();
    const barrier = createBarrier([a]);
    barrier.add(b);
    expect(barrier.size).toBe(2);
    a.fulfil(1);
    expect(barrier.ready).toBe(false);
    b.fulfil(2);
    expect(barrier.ready).toBe(true);
  });

  it('fires at once when every listed part is already fulfilled', () => {
    const [a, b] = pair();
    a.fulfil(1);
    b.fulfil(2);
    const barrier = createBarrier([a, b]);
    expect(barrier.ready).toBe(true);
  });

  it('does not fire early when an already-fulfilled part is added', () => {
    const [pending, done] = pair();
    done.fulfil(1);
    const barrier = createBarrier([pending]);
    barrier.add(done);
    expect(barrier.ready).toBe(false);
    pending.fulfil(2);
    expect(barrier.ready).toBe(true);
  });

  it('accepts native promises and other thenables as parts', async () => {
    const vine = createPromise<[]>();
    const thenable: PromiseLike<string> = {
      then: (onfulfilled, onrejected) => Promise.resolve('custom').then(onfulfilled, onrejected),
    };
    const barrier = createBarrier([Promise.resolve(1), vine, thenable]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(barrier.fulfilledCount).toBe(2);
    expect(barrier.ready).toBe(false);
    vine.fulfil();
    expect(barrier.ready).toBe(true);
  });

  it('refuses a size that is not a non-negative integer', () => {
    expect(() => createBarrier([], undefined, -1)).toThrow(RangeError);
    expect(() => createBarrier([], undefined, 1.5)).toThrow(RangeError);
  });
});

describe('barrier with an unknown size', () => {
  it('fires only after finalize(), once every added part is fulfilled', () => {
    let fired = 0;
    const barrier = createBarrier(undefined, () => ++fired);
    expect(barrier.finalized).toBe(false);
    const [a, b] = pair();
    barrier.add(a);
    barrier.add(b);
    a.fulfil(1);
    b.fulfil(2);
    expect(barrier.ready).toBe(false);
    expect(fired).toBe(0);
    barrier.finalize();
    expect(barrier.finalized).toBe(true);
    expect(barrier.ready).toBe(true);
    expect(fired).toBe(1);
    barrier.finalize();
    expect(fired).toBe(1);
  });

  it('fires on the last fulfilment when finalized first', () => {
    const barrier = createBarrier();
    const [a, b] = pair();
    barrier.add(a);
    barrier.add(b);
    barrier.finalize();
    a.fulfil(1);
    expect(barrier.ready).toBe(false);
    b.fulfil(2);
    expect(barrier.ready).toBe(true);
  });

  it('fires at finalize() when no part was ever added', () => {
    const barrier = createBarrier();
    barrier.finalize();
    expect(barrier.ready).toBe(true);
  });

  it('refuses add() once it has fired', () => {
    const barrier = createBarrier();
    barrier.finalize();
    const late = createPromise<[]>();
    expect(() => barrier.add(late)).toThrow(BarrierFullError);
    try {
      barrier.add(late);
    } catch (err) {
      expect(err).toMatchObject({ code: 'BARRIER_FULL', name: 'BarrierFullError' });
    }
  });
});

describe('barrier failure and cancel', () => {
  it('fails when any part fails, and ignores the other parts afterwards', () => {
    const [a, b] = pair();
    const errors: unknown[] = [];
    const barrier = createBarrier([a, b]);
    const after = barrier.then(
      () => 'fired',
      (e) => errors.push(e),
    );
    const err = new Error('part failed');
    a.throw(err);
    b.fulfil(2);
    expect(barrier.failed).toBe(true);
    expect(barrier.ready).toBe(false);
    expect(barrier.reason).toBe(err);
    expect(after.failed).toBe(true);
    expect(errors).toEqual([err]);
  });

  it('fails with throw() and then ignores add()', () => {
    const barrier = createBarrier();
    barrier.throw('stop');
    expect(barrier.failed).toBe(true);
    const p = createPromise<[]>();
    expect(() => barrier.add(p)).not.toThrow();
    expect(barrier.size).toBe(0);
  });

  it('cancel() cancels its parts and its callbacks never run', () => {
    const [a, b] = pair();
    let fired = 0;
    const barrier = createBarrier([a, b], () => ++fired);
    barrier.cancel();
    expect(barrier.cancelled).toBe(true);
    expect(a.cancelled).toBe(true);
    expect(b.cancelled).toBe(true);
    a.fulfil(1);
    b.fulfil(2);
    barrier.finalize();
    expect(fired).toBe(0);
    expect(barrier.ready).toBe(false);
  });

  it('is cancelled when one of its parts is cancelled, leaving the others alone', () => {
    const [a, b] = pair();
    const barrier = createBarrier([a, b]);
    a.cancel();
    expect(barrier.cancelled).toBe(true);
    expect(barrier.failed).toBe(false);
    expect(b.cancelled).toBe(false);
  });

  it('cancels a nested barrier', () => {
    const leaf = createPromise<[]>();
    const inner = createBarrier([leaf]);
    const outer = createBarrier([inner]);
    outer.cancel();
    expect(inner.cancelled).toBe(true);
    expect(leaf.cancelled).toBe(true);
  });

  it('does nothing on cancel() once it has fired', () => {
    const a = createPromise<[]>();
    const barrier = createBarrier([a]);
    a.fulfil();
    barrier.cancel();
    expect(barrier.ready).toBe(true);
    expect(barrier.cancelled).toBe(false);
  });
});

describe('awaiting a barrier', () => {
  it('resolves with undefined once it fires', async () => {
    const [a, b] = pair();
    const barrier = createBarrier([a, b]);
    setImmediate(() => {
      a.fulfil(1);
      b.fulfil(2);
    });
    expect(await barrier).toBeUndefined();
    expect(barrier.ready).toBe(true);
  });

  it('rejects with the error of a failed part', async () => {
    const a = createPromise<[]>();
    const barrier = createBarrier([a]);
    setImmediate(() => a.throw(new Error('part')));
    await expect(barrier).rejects.toThrow('part');
  });

  it('rejects with a PromiseCancelledError when cancelled', async () => {
    const barrier = createBarrier([createPromise<[]>()]);
    setImmediate(() => barrier.cancel());
    await expect(barrier).rejects.toBeInstanceOf(PromiseCancelledError);
  });

  it('chains callbacks on its promise with then()', () => {
    const a = createPromise<[]>();
    const barrier = createBarrier([a]);
    const next = createPromise(() => 'chained');
    expect(barrier.then(next)).toBe(next);
    const viaFn = barrier.then(() => 42);
    a.fulfil();
    expect(next.value).toEqual(['chained']);
    expect(viaFn.value).toEqual([42]);
  });
});

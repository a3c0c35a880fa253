import { describe, it, expect } from 'vitest';
import { PromiseCancelledError } from './promise-cancelled-error.ts';
import { createPromise, VinePromise } from './vine-promise.ts';

describe('fulfil', () => {
  it('without fn, the arguments are the value and callbacks receive them spread', () => {
    const p = createPromise<[string, number]>();
    const seen: unknown[][] = [];
    p.then((a, b) => seen.push([a, b]));
    expect(p.ready).toBe(false);
    expect(p.value).toBeUndefined();
    p.fulfil('ok', 200);
    expect(p.ready).toBe(true);
    expect(p.state).toBe('fulfilled');
    expect(p.value).toEqual(['ok', 200]);
    expect(seen).toEqual([['ok', 200]]);
  });

  it('with fn, calls it with the arguments and its return value is the value', () => {
    const calls: number[][] = [];
    const p = createPromise((a: number, b: number) => {
      calls.push([a, b]);
      return a + b;
    });
    const seen: number[] = [];
    p.then((sum) => seen.push(sum));
    p.fulfil(2, 3);
    expect(calls).toEqual([[2, 3]]);
    expect(p.value).toEqual([5]);
    expect(seen).toEqual([5]);
  });

  it('calls fn even when nothing is chained (lazy evaluation)', () => {
    let called = 0;
    const p = createPromise(() => ++called);
    p.fulfil();
    expect(called).toBe(1);
    expect(p.value).toEqual([1]);
  });

  it('calls callbacks in the order they were added', () => {
    const p = createPromise<[number]>();
    const order: string[] = [];
    p.then(() => order.push('first'));
    p.then(() => order.push('second'));
    p.then(() => order.push('third'));
    p.fulfil(1);
    expect(order).toEqual(['first', 'second', 'third']);
  });

  it('runs the whole chain synchronously, depth first, like vine', () => {
    const p = createPromise<[number]>();
    const order: string[] = [];
    const a = p.then((n) => {
      order.push(`a${n}`);
      return n + 1;
    });
    a.then((n) => order.push(`a.child${n}`));
    p.then((n) => order.push(`b${n}`));
    p.fulfil(1);
    order.push('after fulfil');
    expect(order).toEqual(['a1', 'a.child2', 'b1', 'after fulfil']);
  });

  it('settles once: a second fulfil is ignored and fn is not called again', () => {
    let calls = 0;
    const p = createPromise((x: number) => {
      calls++;
      return x;
    });
    const seen: number[] = [];
    p.then((x) => seen.push(x));
    p.fulfil(1);
    p.fulfil(2);
    p.throw(new Error('late'));
    expect(calls).toBe(1);
    expect(p.value).toEqual([1]);
    expect(p.failed).toBe(false);
    expect(seen).toEqual([1]);
  });

  it('fails the promise when fn throws, instead of throwing from fulfil', () => {
    const boom = new Error('boom');
    const p = createPromise((): number => {
      throw boom;
    });
    const errors: unknown[] = [];
    const child = p.then(
      () => 'never',
      (err) => errors.push(err),
    );
    expect(() => p.fulfil()).not.toThrow();
    expect(p.failed).toBe(true);
    expect(p.reason).toBe(boom);
    expect(child.failed).toBe(true);
    expect(errors).toEqual([boom]);
  });

  it('drops fn once it has run, so a fulfilled promise does not keep it alive', () => {
    const p = createPromise((x: number) => x);
    p.fulfil(1);
    // Observable only indirectly: a second fulfil does not reach fn, and then() still works.
    const seen: number[] = [];
    p.then((x) => seen.push(x));
    expect(seen).toEqual([1]);
  });
});

describe('then', () => {
  it('returns a new promise of the callback result', () => {
    const p = createPromise<[number]>();
    const doubled = p.then((x) => x * 2);
    expect(doubled).toBeInstanceOf(VinePromise);
    expect(doubled).not.toBe(p);
    p.fulfil(21);
    expect(doubled.ready).toBe(true);
    expect(doubled.value).toEqual([42]);
  });

  it('runs the callback at once when the promise is already fulfilled', () => {
    const p = createPromise<[string]>();
    p.fulfil('done');
    const seen: string[] = [];
    const child = p.then((v) => {
      seen.push(v);
      return v.length;
    });
    expect(seen).toEqual(['done']);
    expect(child.value).toEqual([4]);
  });

  it('uses a VinePromise callback as is, fulfilling it with the value', () => {
    const p = createPromise<[number]>();
    const next = createPromise((n: number) => `#${n}`);
    expect(p.then(next)).toBe(next);
    p.fulfil(7);
    expect(next.value).toEqual(['#7']);
  });

  it('refuses onError together with a VinePromise callback, which would ignore it', () => {
    const p = createPromise<[number]>();
    const next = createPromise<[number]>();
    const thenUnchecked = p.then as (a: unknown, b: unknown) => unknown;
    expect(() => thenUnchecked.call(p, next, () => undefined)).toThrow(TypeError);
  });

  it('passes the value through with no callback, and tells onError of failures', () => {
    const p = createPromise<[number, string]>();
    const errors: unknown[] = [];
    const through = p.then(null, (err) => errors.push(err));
    p.fulfil(1, 'a');
    expect(through.value).toEqual([1, 'a']);
    expect(errors).toEqual([]);

    const q = createPromise<[number]>();
    const failing = q.then(undefined, (err) => errors.push(err));
    q.throw('bad');
    expect(failing.reason).toBe('bad');
    expect(errors).toEqual(['bad']);
  });

  it('waits for a thenable returned by the callback (a native promise)', async () => {
    const p = createPromise<[number]>();
    const later = p.then(async (x) => {
      await Promise.resolve();
      return x + 1;
    });
    p.fulfil(1);
    expect(later.ready).toBe(false);
    expect(later.state).toBe('pending');
    expect(await later).toBe(2);
    expect(later.value).toEqual([2]);
  });

  it('waits for a VinePromise returned by the callback', () => {
    const p = createPromise<[number]>();
    const inner = createPromise<[string]>();
    const outer = p.then(() => inner);
    const seen: string[] = [];
    outer.then((s) => seen.push(s));
    p.fulfil(1);
    expect(outer.state).toBe('pending');
    inner.fulfil('inner');
    expect(outer.value).toEqual(['inner']);
    expect(seen).toEqual(['inner']);
  });

  it('fails when the thenable returned by the callback rejects', async () => {
    const p = createPromise<[]>();
    const err = new Error('inner failed');
    const outer = p.then(() => Promise.reject(err));
    p.fulfil();
    await expect(outer).rejects.toBe(err);
    expect(outer.failed).toBe(true);
    expect(outer.reason).toBe(err);
  });

  it('fails instead of hanging when fn returns its own promise', () => {
    const holder: { p?: VinePromise<[unknown], []> } = {};
    const p = createPromise((): unknown => holder.p);
    holder.p = p;
    p.fulfil();
    expect(p.failed).toBe(true);
    expect(p.reason).toBeInstanceOf(TypeError);
  });

  it('refuses a callback or onError that is not a function or promise', () => {
    const p = createPromise<[]>();
    const thenUnchecked = p.then as (a: unknown, b?: unknown) => unknown;
    expect(() => thenUnchecked.call(p, 42)).toThrow(TypeError);
    expect(() => thenUnchecked.call(p, () => 1, 'nope')).toThrow(TypeError);
    expect(() => new VinePromise('x' as never)).toThrow(/must be a function/);
  });
});

describe('throw', () => {
  it('fails the promise and calls its onError', () => {
    const errors: unknown[] = [];
    const p = createPromise<[number]>(null, { onError: (err) => errors.push(err) });
    const err = new Error('nope');
    p.throw(err);
    expect(p.failed).toBe(true);
    expect(p.ready).toBe(false);
    expect(p.state).toBe('failed');
    expect(p.reason).toBe(err);
    expect(errors).toEqual([err]);
  });

  it('does not re-raise when nothing handles the error (unlike vine)', () => {
    const p = createPromise<[number]>();
    expect(() => p.throw(new Error('unhandled'))).not.toThrow();
    expect(p.failed).toBe(true);
  });

  it('propagates down the whole chain, calling each onError, and skips the callbacks', () => {
    const p = createPromise<[number]>();
    const log: string[] = [];
    const a = p.then(
      () => log.push('a callback'),
      () => log.push('a onError'),
    );
    const b = a.then(
      () => log.push('b callback'),
      () => log.push('b onError'),
    );
    const c = b.then(() => log.push('c callback'));
    const err = new Error('deep');
    p.throw(err);
    expect(log).toEqual(['a onError', 'b onError']);
    for (const q of [a, b, c]) {
      expect(q.failed).toBe(true);
      expect(q.reason).toBe(err);
    }
  });

  it('keeps the derived promise failed even when onError returns (vine, not native, semantics)', () => {
    const p = createPromise<[number]>();
    const child = p.then(
      (x) => x,
      () => 'recovered',
    );
    p.throw('e');
    expect(child.failed).toBe(true);
    expect(child.value).toBeUndefined();
  });

  it('fails a callback chained after the failure at once', () => {
    const p = createPromise<[number]>();
    p.throw('early');
    const errors: unknown[] = [];
    const child = p.then(
      () => 'never',
      (e) => errors.push(e),
    );
    expect(child.failed).toBe(true);
    expect(errors).toEqual(['early']);
  });

  it('replaces the reason with the error an onError throws, and passes that one on', () => {
    const original = new Error('original');
    const fromHandler = new Error('handler broke');
    const p = createPromise<[number]>();
    const child = p.then(
      (x) => x,
      () => {
        throw fromHandler;
      },
    );
    const grandErrors: unknown[] = [];
    const grand = child.then(
      (x) => x,
      (e) => grandErrors.push(e),
    );
    expect(() => p.throw(original)).not.toThrow();
    expect(p.reason).toBe(original);
    expect(child.reason).toBe(fromHandler);
    expect(grand.reason).toBe(fromHandler);
    expect(grandErrors).toEqual([fromHandler]);
  });

  it('fulfils an onError that is a VinePromise with the error', () => {
    const handler = createPromise((err: unknown) => `handled ${String(err)}`);
    const p = createPromise<[]>(null, { onError: handler });
    p.throw('E');
    expect(handler.value).toEqual(['handled E']);
  });
});

describe('cancel', () => {
  it('stops callbacks: nothing chained runs after cancel', () => {
    const p = createPromise<[number]>();
    const log: string[] = [];
    const child = p.then(() => log.push('child'));
    const grand = child.then(() => log.push('grand'));
    p.cancel();
    p.fulfil(1);
    expect(log).toEqual([]);
    expect(p.cancelled).toBe(true);
    expect(p.state).toBe('cancelled');
    expect(child.cancelled).toBe(true);
    expect(grand.cancelled).toBe(true);
    expect(p.ready).toBe(false);
    expect(p.value).toBeUndefined();
  });

  it('never calls fn of a cancelled promise', () => {
    let calls = 0;
    const p = createPromise(() => ++calls);
    p.cancel();
    p.fulfil();
    expect(calls).toBe(0);
  });

  it('cancels only downwards: the parent of a cancelled promise is untouched', () => {
    const p = createPromise<[number]>();
    const seen: number[] = [];
    const cancelled = p.then(() => seen.push(-1));
    p.then((x) => seen.push(x));
    cancelled.cancel();
    p.fulfil(5);
    expect(p.ready).toBe(true);
    expect(seen).toEqual([5]);
  });

  it('tells error handlers with a PromiseCancelledError and cancels promise handlers', () => {
    const errors: unknown[] = [];
    const handlerPromise = createPromise((e: unknown) => e);
    const p = createPromise<[]>(null, { onError: (e) => errors.push(e) });
    const q = createPromise<[]>(null, { onError: handlerPromise });
    p.cancel();
    q.cancel();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(PromiseCancelledError);
    expect(p.reason).toBe(errors[0]);
    expect(handlerPromise.cancelled).toBe(true);
  });

  it('keeps the reason an error handler throws during cancel instead of throwing', () => {
    const broken = new Error('handler broke');
    const p = createPromise<[]>(null, {
      onError: () => {
        throw broken;
      },
    });
    const child = p.then(() => 1);
    expect(() => p.cancel()).not.toThrow();
    expect(p.cancelled).toBe(true);
    expect(p.reason).toBe(broken);
    expect(child.cancelled).toBe(true);
    expect(child.reason).toBeInstanceOf(PromiseCancelledError);
  });

  it('does nothing on a settled promise', () => {
    const p = createPromise<[number]>();
    p.fulfil(1);
    p.cancel();
    expect(p.ready).toBe(true);
    expect(p.cancelled).toBe(false);
    const f = createPromise<[]>();
    f.throw('x');
    f.cancel();
    expect(f.failed).toBe(true);
  });

  it('cancels a callback chained after the cancel at once', () => {
    const p = createPromise<[number]>();
    p.cancel();
    const errors: unknown[] = [];
    const child = p.then(
      () => 1,
      (e) => errors.push(e),
    );
    expect(child.cancelled).toBe(true);
    expect(errors[0]).toBeInstanceOf(PromiseCancelledError);
  });

  it('wins over a thenable the promise is waiting for', async () => {
    let release!: (v: number) => void;
    const gate = new Promise<number>((resolve) => {
      release = resolve;
    });
    const p = createPromise(() => gate);
    const seen: number[] = [];
    p.then((v) => seen.push(v));
    p.fulfil();
    p.cancel();
    release(1);
    await gate;
    await Promise.resolve();
    expect(p.cancelled).toBe(true);
    expect(seen).toEqual([]);
  });
});

describe('await', () => {
  it('resolves with the return value of fn', async () => {
    const p = createPromise((x: number) => x * 2);
    setImmediate(() => p.fulfil(21));
    expect(await p).toBe(42);
  });

  it('resolves with the single argument of a promise without fn', async () => {
    const p = createPromise<[string]>();
    p.fulfil('one');
    expect(await p).toBe('one');
  });

  it('resolves with the FIRST argument when fulfilled with several', async () => {
    const p = createPromise<[string, number]>();
    p.fulfil('first', 2);
    expect(await p).toBe('first');
    expect(await p.then((...args) => args)).toEqual(['first', 2]);
  });

  it('resolves with undefined when fulfilled with no arguments', async () => {
    const p = createPromise<[]>();
    p.fulfil();
    expect(await p).toBeUndefined();
  });

  it('rejects with the error of a failed promise', async () => {
    const p = createPromise<[number]>();
    const err = new Error('failed');
    setImmediate(() => p.throw(err));
    await expect(p).rejects.toBe(err);
  });

  it('rejects with a PromiseCancelledError when cancelled while awaited', async () => {
    const p = createPromise<[number]>();
    setImmediate(() => p.cancel());
    await expect(p).rejects.toBeInstanceOf(PromiseCancelledError);
    await expect(p).rejects.toMatchObject({ code: 'PROMISE_CANCELLED', name: 'PromiseCancelledError' });
  });

  it('rejects when awaiting a promise derived with an onrejected: it does not recover (vine)', async () => {
    const p = createPromise<[number]>();
    const told: unknown[] = [];
    const derived = p.then(
      (x) => x,
      (e: unknown) => told.push(e),
    );
    p.cancel();
    await expect(derived).rejects.toBeInstanceOf(PromiseCancelledError);
    expect(told).toHaveLength(1);
    expect(told[0]).toBeInstanceOf(PromiseCancelledError);
    // Recovering is what a native promise is for.
    await expect(Promise.resolve(p).then(undefined, () => 'recovered')).resolves.toBe('recovered');
  });

  it('works with Promise.resolve and Promise.all', async () => {
    const a = createPromise<[number]>();
    const b = createPromise((s: string) => s.toUpperCase());
    const all = Promise.all([a, b, Promise.resolve(true)]);
    a.fulfil(1);
    b.fulfil('x');
    expect(await all).toEqual([1, 'X', true]);
    expect(await Promise.resolve(a)).toBe(1);
  });

  it('can be returned from an async function', async () => {
    const p = createPromise<[number]>();
    const run = async () => p;
    const pending = run();
    p.fulfil(9);
    expect(await pending).toBe(9);
  });
});

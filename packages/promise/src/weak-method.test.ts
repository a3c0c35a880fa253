import { describe, it, expect } from 'vitest';
import { createBarrier } from './barrier.ts';
import { PromiseCancelledError } from './promise-cancelled-error.ts';
import { collectUntil, requireGc } from './testing-gc.ts';
import { createPromise, type VinePromise } from './vine-promise.ts';
import { isBoundFunction, isWeakMethod, weakMethod, type WeakMethod } from './weak-method.ts';
import { WeakMethodError } from './weak-method-error.ts';

/** Every call of `Handle.prototype.onReady`, across all handles (dead or alive). */
const onReadyCalls: { handle: Handle; value: number }[] = [];

class Handle {
  readonly label: string;

  constructor(label: string) {
    this.label = label;
  }

  onReady(value: number): string {
    onReadyCalls.push({ handle: this, value });
    return `${this.label}:${value}`;
  }

  onError(reason: unknown): void {
    onReadyCalls.push({ handle: this, value: -1 });
    void reason;
  }
}

// Built in separate functions so that no local variable of the (async) test keeps the
// handle reachable; the test only keeps a WeakRef to it.
function detachedFnPromise(): { promise: VinePromise<[string], [value: number]>; ref: WeakRef<Handle> } {
  const handle = new Handle('fn');
  return { promise: createPromise(weakMethod(handle, Handle.prototype.onReady)), ref: new WeakRef(handle) };
}

function detachedThenPromise(source: VinePromise<[number]>): {
  derived: VinePromise<[string], [number]>;
  ref: WeakRef<Handle>;
} {
  const handle = new Handle('then');
  return { derived: source.then(weakMethod(handle, Handle.prototype.onReady)), ref: new WeakRef(handle) };
}

describe('weakMethod while the receiver is alive', () => {
  it('calls the unbound method with the receiver as `this`', () => {
    const handle = new Handle('alive');
    const callback = weakMethod(handle, Handle.prototype.onReady);
    expect(isWeakMethod(callback)).toBe(true);
    expect(callback.deref()).toBe(handle);
    expect(callback.method).toBe(Handle.prototype.onReady);
    expect(callback(3)).toBe('alive:3');
  });

  it('works as the fn of a promise, a then callback, an onError and a barrier callback', () => {
    onReadyCalls.length = 0;
    const handle = new Handle('h');
    const viaFn = createPromise(weakMethod(handle, Handle.prototype.onReady));
    viaFn.fulfil(1);
    expect(viaFn.value).toEqual(['h:1']);

    const source = createPromise<[number]>();
    const viaThen = source.then(weakMethod(handle, Handle.prototype.onReady));
    source.fulfil(2);
    expect(viaThen.value).toEqual(['h:2']);

    const failing = createPromise<[]>(null, { onError: weakMethod(handle, Handle.prototype.onError) });
    failing.throw('x');

    const part = createPromise<[]>();
    const barrier = createBarrier([part]);
    const fired = barrier.then(weakMethod(handle, function (this: Handle) {
      return this.label;
    }));
    part.fulfil();
    expect(fired.value).toEqual(['h']);
    expect(onReadyCalls.map((c) => [c.handle, c.value])).toEqual([
      [handle, 1],
      [handle, 2],
      [handle, -1],
    ]);
  });

  it('accepts a function as the receiver and an arrow function as the method', () => {
    function receiver(): void {}
    const callback = weakMethod(receiver, () => 'arrow');
    expect(callback()).toBe('arrow');
  });
});

describe('weakMethod refuses what it cannot hold weakly', () => {
  it('refuses a bound function, saying why and what to pass instead', () => {
    const handle = new Handle('b');
    const bound = handle.onReady.bind(handle);
    expect(isBoundFunction(bound)).toBe(true);
    expect(() => weakMethod(handle, bound)).toThrow(WeakMethodError);
    expect(() => weakMethod(handle, bound)).toThrow(TypeError);
    expect(() => weakMethod(handle, bound)).toThrow(/bound function.*collected at once.*Class\.prototype\.method/s);
    try {
      weakMethod(handle, bound);
    } catch (err) {
      expect(err).toMatchObject({ code: 'WEAK_METHOD_INVALID', name: 'WeakMethodError' });
    }
  });

  it('tells bound functions from ordinary ones by name and missing prototype', () => {
    // An ordinary function that happens to be named "bound …" still has a prototype.
    const notBound = { 'bound trick': function () {} }['bound trick'];
    expect(isBoundFunction(notBound)).toBe(false);
    expect(isBoundFunction(() => undefined)).toBe(false);
    expect(isBoundFunction(Handle.prototype.onReady)).toBe(false);
    expect(isBoundFunction(Handle.prototype.onReady.bind(null))).toBe(true);
  });

  it.each([
    ['a number', 1],
    ['a string', 'receiver'],
    ['null', null],
    ['undefined', undefined],
    ['a symbol', Symbol('s')],
  ])('refuses %s as the receiver', (_, receiver) => {
    expect(() => weakMethod(receiver as unknown as object, () => 1)).toThrow(WeakMethodError);
  });

  it('refuses a method that is not a function', () => {
    expect(() => weakMethod({}, 'onReady' as never)).toThrow(/expected an unbound method/);
  });
});

describe('weakMethod after the receiver is collected', () => {
  it('needs gc(): the suite runs with --expose-gc', () => {
    expect(typeof requireGc()).toBe('function');
  });

  it('cancels the promise whose fn it is, without calling the method or throwing', async () => {
    onReadyCalls.length = 0;
    const { promise, ref } = detachedFnPromise();
    const told: unknown[] = [];
    const chained = promise.then((label) => told.push(label));

    expect(await collectUntil(() => ref.deref() === undefined)).toBe(true);

    expect(() => promise.fulfil(1)).not.toThrow();
    expect(onReadyCalls).toEqual([]);
    expect(promise.cancelled).toBe(true);
    expect(promise.reason).toBeInstanceOf(PromiseCancelledError);
    expect(String((promise.reason as Error).message)).toMatch(/garbage-collected/);
    expect(chained.cancelled).toBe(true);
    expect(told).toEqual([]);
    await expect(promise).rejects.toBeInstanceOf(PromiseCancelledError);
  });

  it('cancels the promise then() derived from it, and leaves the source fulfilled', async () => {
    onReadyCalls.length = 0;
    const source = createPromise<[number]>();
    const { derived, ref } = detachedThenPromise(source);

    expect(await collectUntil(() => ref.deref() === undefined)).toBe(true);

    expect(() => source.fulfil(7)).not.toThrow();
    expect(source.ready).toBe(true);
    expect(onReadyCalls).toEqual([]);
    expect(derived.cancelled).toBe(true);
  });

  it('is skipped as an onError and as a direct call', async () => {
    onReadyCalls.length = 0;
    const made = ((): { onError: WeakMethod<[reason: unknown], void>; ref: WeakRef<Handle> } => {
      const handle = new Handle('err');
      return { onError: weakMethod(handle, Handle.prototype.onError), ref: new WeakRef(handle) };
    })();
    const failing = createPromise<[]>(null, { onError: made.onError });

    expect(await collectUntil(() => made.ref.deref() === undefined)).toBe(true);

    expect(made.onError.deref()).toBeUndefined();
    expect(made.onError('direct')).toBeUndefined();
    expect(() => failing.throw(new Error('x'))).not.toThrow();
    expect(failing.failed).toBe(true);
    expect(onReadyCalls).toEqual([]);
  });
});

/**
 * Type-level tests: `expectTypeOf` is checked by `tsc --noEmit` (the package typecheck),
 * and each test also asserts the runtime value the types describe.
 */
import { describe, it, expect, expectTypeOf } from 'vitest';
import { createBarrier, type Barrier } from './barrier.ts';
import { ensurePromise, maybePromise } from './funtools.ts';
import { createPromise, type AwaitedValue, type VinePromise } from './vine-promise.ts';
import { weakMethod, type WeakMethod } from './weak-method.ts';

class Receiver {
  readonly factor = 3;

  times(value: number): number {
    return value * this.factor;
  }
}

describe('types', () => {
  it('infers fulfil arguments and the callback value from fn', async () => {
    const p = createPromise((x: number) => x * 2);
    expectTypeOf(p).toEqualTypeOf<VinePromise<[number], [x: number]>>();
    expectTypeOf(p.fulfil).parameters.toEqualTypeOf<[x: number]>();
    expectTypeOf(p.value).toEqualTypeOf<[number] | undefined>();
    // @ts-expect-error fulfil takes a number
    expect(() => p.fulfil('21')).not.toThrow();

    const q = createPromise((x: number) => x * 2);
    const next = q.then((value) => {
      expectTypeOf(value).toEqualTypeOf<number>();
      return String(value);
    });
    expectTypeOf(next).toEqualTypeOf<VinePromise<[string], [number]>>();
    q.fulfil(21);
    expectTypeOf(await q).toEqualTypeOf<number>();
    expect(await next).toBe('42');
  });

  it('unwraps a thenable returned by fn or by a callback', async () => {
    const p = createPromise((s: string) => Promise.resolve(s.length));
    expectTypeOf(p).toEqualTypeOf<VinePromise<[number], [s: string]>>();
    const q = p.then(() => createPromise<[boolean]>());
    expectTypeOf(q).toEqualTypeOf<VinePromise<[boolean], [number]>>();
    p.fulfil('abc');
    expect(await p).toBe(3);
  });

  it('spreads the arguments of a promise without fn to callbacks, and awaits the first', async () => {
    const p = createPromise<[status: string, code: number]>();
    p.then((status, code) => {
      expectTypeOf(status).toEqualTypeOf<string>();
      expectTypeOf(code).toEqualTypeOf<number>();
    });
    expectTypeOf<AwaitedValue<[string, number]>>().toEqualTypeOf<string>();
    expectTypeOf<AwaitedValue<[]>>().toEqualTypeOf<undefined>();
    expectTypeOf<AwaitedValue<unknown[]>>().toEqualTypeOf<unknown>();
    p.fulfil('ok', 200);
    const awaited = await p;
    expectTypeOf(awaited).toEqualTypeOf<string>();
    expect(awaited).toBe('ok');
  });

  it('defaults a promise without fn or type arguments to unknown arguments', async () => {
    const p = createPromise();
    expectTypeOf(p).toEqualTypeOf<VinePromise<unknown[], unknown[]>>();
    p.fulfil(1, 'two');
    const awaited = await p;
    expectTypeOf(awaited).toEqualTypeOf<unknown>();
    expect(awaited).toBe(1);
  });

  it('types weak methods by the unbound method', async () => {
    const receiver = new Receiver();
    const callback = weakMethod(receiver, Receiver.prototype.times);
    expectTypeOf(callback).toEqualTypeOf<WeakMethod<[value: number], number>>();
    expectTypeOf(callback).returns.toEqualTypeOf<number | undefined>();
    const p = createPromise(callback);
    expectTypeOf(p).toEqualTypeOf<VinePromise<[number], [value: number]>>();
    const source = createPromise<[number]>();
    const derived = source.then(callback);
    expectTypeOf(derived).toEqualTypeOf<VinePromise<[number], [number]>>();
    p.fulfil(2);
    expect(await p).toBe(6);
    function explicitThis(this: Receiver): number {
      return this.factor;
    }
    // @ts-expect-error a method that declares `this` must get a receiver of that type
    expect(() => weakMethod({ other: true }, explicitThis)).not.toThrow();
  });

  it('keeps then(promise) and then(null, onError) precise', () => {
    const p = createPromise<[number]>();
    const next = createPromise((n: number) => [n]);
    expectTypeOf(p.then(next)).toEqualTypeOf<VinePromise<[number[]], [n: number]>>();
    const passthrough = p.then(null, () => undefined);
    expectTypeOf(passthrough).toEqualTypeOf<VinePromise<[number], [number]>>();
    p.fulfil(1);
    expect(passthrough.value).toEqual([1]);
  });

  it('is a PromiseLike, and a barrier awaits to undefined', async () => {
    const p = createPromise<[number]>();
    expectTypeOf(p).toExtend<PromiseLike<number>>();
    const barrier = createBarrier([p]);
    expectTypeOf(barrier).toEqualTypeOf<Barrier>();
    expectTypeOf(barrier).toExtend<PromiseLike<undefined>>();
    expectTypeOf(barrier.then(() => 'x')).toEqualTypeOf<VinePromise<[string], []>>();
    p.fulfil(1);
    const awaited = await barrier;
    expectTypeOf(awaited).toEqualTypeOf<undefined>();
    expect(awaited).toBeUndefined();
  });

  it('types the funtools helpers like createPromise', () => {
    const fromFn = maybePromise((a: string) => a.length);
    expectTypeOf(fromFn).toEqualTypeOf<VinePromise<[number], [a: string]>>();
    expectTypeOf(maybePromise(undefined)).toEqualTypeOf<undefined>();
    const fresh = ensurePromise<[boolean]>();
    expectTypeOf(fresh).toEqualTypeOf<VinePromise<[boolean], [boolean]>>();
    fresh.fulfil(true);
    expect(fresh.value).toEqual([true]);
  });
});

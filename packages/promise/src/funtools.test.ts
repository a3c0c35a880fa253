import { describe, it, expect } from 'vitest';
import { ensurePromise, maybePromise } from './funtools.ts';
import { createBarrier } from './barrier.ts';
import { isThenable } from './thenable.ts';
import { createPromise, VinePromise } from './vine-promise.ts';
import { weakMethod } from './weak-method.ts';

describe('maybePromise', () => {
  it('passes a promise through unchanged', () => {
    const p = createPromise<[number]>();
    expect(maybePromise(p)).toBe(p);
  });

  it('wraps a function, or a weak method, in a promise with that fn', () => {
    const p = maybePromise((a: number) => a + 1);
    expect(p).toBeInstanceOf(VinePromise);
    p.fulfil(1);
    expect(p.value).toEqual([2]);

    const receiver = { base: 10 };
    const w = maybePromise(
      weakMethod(receiver, function (this: { base: number }, n: number) {
        return this.base + n;
      }),
    );
    w.fulfil(5);
    expect(w.value).toEqual([15]);
  });

  it('keeps nothing as nothing', () => {
    expect(maybePromise(undefined)).toBeUndefined();
    expect(maybePromise(null)).toBeUndefined();
  });

  it('refuses anything else', () => {
    expect(() => maybePromise(42 as never)).toThrow(TypeError);
  });
});

describe('ensurePromise', () => {
  it('makes a new promise without fn from nothing', () => {
    const p = ensurePromise<[string]>();
    expect(p).toBeInstanceOf(VinePromise);
    p.fulfil('x');
    expect(p.value).toEqual(['x']);
    expect(ensurePromise(null)).toBeInstanceOf(VinePromise);
  });

  it('passes a promise through and wraps a function', () => {
    const p = createPromise<[]>();
    expect(ensurePromise(p)).toBe(p);
    const wrapped = ensurePromise(() => 'called');
    wrapped.fulfil();
    expect(wrapped.value).toEqual(['called']);
  });
});

describe('isThenable', () => {
  it('recognizes native promises, VinePromises, barriers and plain thenables', () => {
    expect(isThenable(Promise.resolve(1))).toBe(true);
    expect(isThenable(createPromise())).toBe(true);
    expect(isThenable(createBarrier())).toBe(true);
    expect(isThenable({ then: () => undefined })).toBe(true);
    const fnWithThen = Object.assign(() => 1, { then: () => undefined });
    expect(isThenable(fnWithThen)).toBe(true);
  });

  it('rejects everything else', () => {
    for (const value of [null, undefined, 0, 'then', {}, { then: 1 }, () => 1]) {
      expect(isThenable(value)).toBe(false);
    }
  });
});

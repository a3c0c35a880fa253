import { describe, expect, it } from 'vitest';
import { argsRepr, kwargsRepr, pyRepr } from './py-repr.ts';

describe('pyRepr', () => {
  it('writes args as a Python tuple and kwargs as a dict', () => {
    expect(argsRepr([2, 3])).toBe('(2, 3)');
    expect(argsRepr(['x'])).toBe("('x',)");
    expect(argsRepr([])).toBe('()');
    expect(kwargsRepr({})).toBe('{}');
    expect(kwargsRepr({ a: 1, b: 'c' })).toBe("{'a': 1, 'b': 'c'}");
  });

  it('writes Python literals', () => {
    expect(pyRepr([null, true, false, 1.5, 10n ** 20n, Number.NaN, -Infinity])).toBe('[None, True, False, 1.5, 100000000000000000000, nan, -inf]');
    expect(pyRepr(new Uint8Array([0, 65, 39, 255]))).toBe("b'\\x00A\\'\\xff'");
    expect(pyRepr("it's")).toBe('"it\'s"');
    expect(pyRepr('a\nb')).toBe("'a\\nb'");
  });

  it('truncates to the limit like saferepr', () => {
    const text = pyRepr(['x'.repeat(5000)], 1024);
    expect(text).toHaveLength(1024);
    expect(text.endsWith('...')).toBe(true);
  });

  it('survives cycles', () => {
    const a: unknown[] = [1];
    a.push(a);
    expect(pyRepr(a)).toBe('[1, ...]');
  });
});

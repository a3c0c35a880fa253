import { describe, expect, it } from 'vitest';
import { fromPythonJson, toPythonJson } from './python-json.ts';

describe('toPythonJson', () => {
  it('tags bytes, big ints and non-finite floats, Buffers included', () => {
    const text = toPythonJson({
      b: new Uint8Array([0, 255]),
      buf: Buffer.from([1]),
      big: 2n ** 70n,
      f: [NaN, Infinity, -Infinity, 1.5],
      d: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
    });
    expect(JSON.parse(text)).toEqual({
      b: { __bytes_hex__: '00ff' },
      buf: { __bytes_hex__: '01' },
      big: { __bigint__: '1180591620717411303424' },
      f: [{ __float__: 'nan' }, { __float__: 'inf' }, { __float__: '-inf' }, 1.5],
      d: '2024-01-02T03:04:05.678Z',
    });
  });
});

describe('fromPythonJson', () => {
  it('revives tags and leaves other objects alone', () => {
    const value = fromPythonJson(
      '[{"__bytes_hex__": "00ff"}, {"__bigint__": "-9223372036854775808"}, {"__float__": "-inf"},' +
        ' {"__float__": "toString"}, {"__bytes_hex__": "00", "other": 1}, {"__repr__": "object()"}]',
    );
    expect(value).toEqual([
      new Uint8Array([0, 255]),
      -(2n ** 63n),
      -Infinity,
      { __float__: 'toString' },
      { __bytes_hex__: '00', other: 1 },
      { __repr__: 'object()' },
    ]);
  });

  it('round-trips what toPythonJson writes', () => {
    const value = [new Uint8Array([1, 2]), 2n ** 64n, NaN, { nested: ['é', null, true] }];
    expect(fromPythonJson(toPythonJson(value))).toEqual(value);
  });
});

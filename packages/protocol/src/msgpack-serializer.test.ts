import { decode as libDecode, encode as libEncode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { CeleriacError, DecodeError, EncodeError, ErrorCode, LimitExceededError } from './errors.ts';
import { createMsgpackSerializer, msgpackSerializer } from './msgpack-serializer.ts';
import type { WireValue } from './serializer.ts';

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const encodeHex = (value: unknown): string => toHex(msgpackSerializer.encode(value));

function encodeError(value: unknown): EncodeError {
  let caught: unknown;
  try {
    msgpackSerializer.encode(value);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(EncodeError);
  expect(caught).toBeInstanceOf(CeleriacError);
  const error = caught as EncodeError;
  expect(error.code).toBe(ErrorCode.ENCODE_FAILED);
  expect(error.contentType).toBe('application/x-msgpack');
  return error;
}

/**
 * Golden vectors captured from real Celery 5.2.6 / kombu 5.2.4 / Python msgpack
 * (`/work/shared/celery-captures/`).
 */
const golden = {
  /**
   * `result_msgpack.json`: the `celery-task-meta-*` value a worker with
   * `result_serializer='msgpack'` stored for a task returning
   * `[['hé', b'\x00\xff', 9223372036854775807, None], {}]`.
   */
  resultMeta:
    '86a6737461747573a753554343455353a6726573756c749294a368c3a9c40200ffcf7fffffffffffffffc080a974726163656261636b' +
    'c0a86368696c6472656e90a9646174655f646f6e65ba323032362d31312d32375431393a30333a31302e353337363330a77461736b5f' +
    '6964d92462376464353734352d376465612d343034612d386337632d613065353666343337326564',
  /**
   * `publish_raw.json`, label `msgpack_echo_types`: the base64 body of
   * `echo.apply_async(('héllo ☃ 𝄞', bytes.fromhex('0001feff'), [1, [2, [3, None]]],
   * 2**63 - 1, -2**63, 1.5, None), {'bin': b'raw', 'kéy': 'v'}, serializer='msgpack')`.
   */
  echoTypesBody:
    'k5evaMOpbGxvIOKYgyDwnYSexAQAAf7/kgGSApIDwM9//////////9OAAAAAAAAAAMs/+AAAAAAAAMCCo2JpbsQDcmF3pGvDqXmhdoSpY2FsbGJh' +
    'Y2tzwKhlcnJiYWNrc8ClY2hhaW7ApWNob3JkwA==',
  /** `publish_raw.json`, label `msgpack_bigint_error`: what kombu raised for an int beyond uint64. */
  bigintError: "EncodeError(OverflowError('Integer value out of range'))",
};

describe('msgpackSerializer: identity', () => {
  it('has the kombu name, content type and encoding', () => {
    expect(msgpackSerializer.name).toBe('msgpack');
    expect(msgpackSerializer.contentType).toBe('application/x-msgpack');
    expect(msgpackSerializer.contentEncoding).toBe('binary');
  });
});

describe('msgpackSerializer: golden vectors from Python', () => {
  it('decodes the result meta Celery stored, field by field', () => {
    const meta = msgpackSerializer.decode(fromHex(golden.resultMeta)) as Record<string, WireValue>;
    expect(Object.keys(meta)).toEqual(['status', 'result', 'traceback', 'children', 'date_done', 'task_id']);
    expect(meta['status']).toBe('SUCCESS');
    const result = meta['result'] as WireValue[];
    expect(result).toHaveLength(2);
    const [first, second] = result as [WireValue[], WireValue];
    expect(first[0]).toBe('hé');
    expect(first[1]).toBeInstanceOf(Uint8Array);
    expect([...(first[1] as Uint8Array)]).toEqual([0, 255]);
    expect(first[2]).toBe(9223372036854775807n);
    expect(first[3]).toBeNull();
    expect(second).toEqual({});
    expect(meta['traceback']).toBeNull();
    expect(meta['children']).toEqual([]);
    expect(meta['date_done']).toBe('2026-11-27T19:03:10.537630');
    expect(meta['task_id']).toBe('b7dd5745-7dea-404a-8c7c-a0e56f4372ed');
  });

  it('re-encodes the decoded result meta to the very bytes Python wrote, and decodes it again', () => {
    const meta = msgpackSerializer.decode(fromHex(golden.resultMeta));
    const again = msgpackSerializer.encode(meta);
    expect(toHex(again)).toBe(golden.resultMeta);
    expect(msgpackSerializer.decode(again)).toEqual(meta);
  });

  it('decodes the msgpack task body Python published, value by value', () => {
    const bytes = Uint8Array.from(Buffer.from(golden.echoTypesBody, 'base64'));
    const body = msgpackSerializer.decode(bytes) as [WireValue[], Record<string, WireValue>, Record<string, WireValue>];
    expect(body).toHaveLength(3);
    const [args, kwargs, embed] = body;
    expect(args).toHaveLength(7);
    expect(args[0]).toBe('héllo ☃ \u{1d11e}');
    expect(args[1]).toEqual(new Uint8Array([0x00, 0x01, 0xfe, 0xff]));
    expect(args[2]).toEqual([1, [2, [3, null]]]);
    expect(args[3]).toBe(2n ** 63n - 1n);
    expect(args[4]).toBe(-(2n ** 63n));
    expect(args[5]).toBe(1.5);
    expect(args[6]).toBeNull();
    expect(kwargs).toEqual({ bin: new Uint8Array([0x72, 0x61, 0x77]), kéy: 'v' });
    expect(embed).toEqual({ callbacks: null, errbacks: null, chain: null, chord: null });
    // And we write the same bytes back: the same formats Python's packer picks.
    expect(Buffer.from(msgpackSerializer.encode(body)).toString('base64')).toBe(golden.echoTypesBody);
  });

  it('refuses ints beyond uint64 / int64 like Python does', () => {
    expect(golden.bigintError).toMatch(/OverflowError/);
    const body = [[2n ** 64n], {}, { callbacks: null, errbacks: null, chain: null, chord: null }];
    const error = encodeError(body);
    expect(error.path).toBe('[0][0]');
    expect(error.message).toMatch(/18446744073709551616/);
    expect(encodeError({ n: -(2n ** 63n) - 1n }).path).toBe('n');
  });

  it('writes bytes as bin 8, as in celery-wire §3.2 (c4 04 00 01 fe ff)', () => {
    expect(encodeHex(new Uint8Array([0x00, 0x01, 0xfe, 0xff]))).toBe('c4040001feff');
    expect(encodeHex(Buffer.from([0x00, 0x01, 0xfe, 0xff]))).toBe('c4040001feff');
    const decoded = msgpackSerializer.decode(fromHex('c4040001feff'));
    expect(decoded).toEqual(new Uint8Array([0x00, 0x01, 0xfe, 0xff]));
  });
});

describe('msgpackSerializer.encode: formats', () => {
  it('writes safe integers in the smallest int format, as Python msgpack does', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [127, '7f'],
      [128, 'cc80'],
      [255, 'ccff'],
      [256, 'cd0100'],
      [65535, 'cdffff'],
      [65536, 'ce00010000'],
      [4294967295, 'ceffffffff'],
      [4294967296, 'cf0000000100000000'],
      [Number.MAX_SAFE_INTEGER, 'cf001fffffffffffff'],
      [-1, 'ff'],
      [-32, 'e0'],
      [-33, 'd0df'],
      [-128, 'd080'],
      [-129, 'd1ff7f'],
      [-32768, 'd18000'],
      [-32769, 'd2ffff7fff'],
      [-2147483648, 'd280000000'],
      [-2147483649, 'd3ffffffff7fffffff'],
      [Number.MIN_SAFE_INTEGER, 'd3ffe0000000000001'],
    ];
    for (const [value, bytes] of cases) expect([value, encodeHex(value)]).toEqual([value, bytes]);
  });

  it('writes bigints in int64/uint64 range in the smallest int format too', () => {
    expect(encodeHex(5n)).toBe('05');
    expect(encodeHex(-1n)).toBe('ff');
    expect(encodeHex(4294967295n)).toBe('ceffffffff');
    expect(encodeHex(4294967296n)).toBe('cf0000000100000000');
    expect(encodeHex(-2147483649n)).toBe('d3ffffffff7fffffff');
    expect(encodeHex(2n ** 63n - 1n)).toBe('cf7fffffffffffffff');
    expect(encodeHex(2n ** 64n - 1n)).toBe('cfffffffffffffffff');
    expect(encodeHex(-(2n ** 63n))).toBe('d38000000000000000');
    encodeError(2n ** 64n);
    encodeError(-(2n ** 63n) - 1n);
  });

  it('writes other numbers as float 64; -0 is written as the int 0', () => {
    expect(encodeHex(1.5)).toBe('cb3ff8000000000000');
    expect(encodeHex(0.1)).toBe('cb3fb999999999999a');
    expect(encodeHex(NaN)).toBe('cb7ff8000000000000');
    expect(encodeHex(Infinity)).toBe('cb7ff0000000000000');
    expect(encodeHex(-Infinity)).toBe('cbfff0000000000000');
    // 2^53 is not a safe integer: it may already be rounded, so it stays a float.
    expect(encodeHex(2 ** 53)).toBe('cb4340000000000000');
    expect(encodeHex(-0)).toBe('00');
    expect(Object.is(msgpackSerializer.decode(msgpackSerializer.encode(-0)), 0)).toBe(true);
  });

  it('writes strings as UTF-8 str in the smallest width', () => {
    expect(encodeHex('')).toBe('a0');
    expect(encodeHex('hé')).toBe('a368c3a9');
    expect(encodeHex('\u{1d11e}')).toBe('a4f09d849e');
    expect(encodeHex('x'.repeat(32)).slice(0, 4)).toBe('d920');
    expect(encodeHex('x'.repeat(256)).slice(0, 6)).toBe('da0100');
    expect(encodeHex('x'.repeat(65536)).slice(0, 10)).toBe('db00010000');
  });

  it('writes other ArrayBuffer views as bin of their own bytes only', () => {
    const backing = Buffer.from('0011223344', 'hex');
    expect(encodeHex(backing.subarray(1, 3))).toBe('c4021122');
    expect(encodeHex(new DataView(backing.buffer, backing.byteOffset + 2, 2))).toBe('c4022233');
    expect(encodeHex(new Uint8Array(300)).slice(0, 6)).toBe('c5012c');
  });

  it('writes nil, booleans, arrays and maps; Python reads them as None, bool, list, dict', () => {
    expect(encodeHex(null)).toBe('c0');
    expect(encodeHex(true)).toBe('c3');
    expect(encodeHex(false)).toBe('c2');
    expect(encodeHex([])).toBe('90');
    expect(encodeHex({})).toBe('80');
    expect(encodeHex([[2, 3], {}, { callbacks: null }])).toBe('9392020380' + '81a963616c6c6261636b73c0');
    expect(encodeHex(new Array(16).fill(0)).slice(0, 6)).toBe('dc0010');
    const nullProto = Object.assign(Object.create(null) as object, { a: 1 });
    expect(encodeHex(nullProto)).toBe('81a16101');
  });

  it('writes a Date as the timestamp ext -1 (Python sees a msgpack.Timestamp)', () => {
    expect(encodeHex(new Date(0))).toBe('d6ff00000000');
    expect(encodeHex(new Date(1_600_000_000_000))).toBe('d6ff5f5e1000');
    expect(encodeHex(new Date(1500))).toBe('d7ff7735940000000001');
    expect(encodeHex(new Date(-500))).toBe('c70cff1dcd6500ffffffffffffffff');
    expect(msgpackSerializer.decode(msgpackSerializer.encode(new Date(-500)))).toEqual(new Date(-500));
  });

  it('leaves out undefined object properties and writes undefined array items as nil', () => {
    expect(msgpackSerializer.decode(msgpackSerializer.encode({ a: undefined, b: 1 }))).toEqual({ b: 1 });
    expect(encodeHex({ a: undefined, b: 1 })).toBe('81a16201');
    expect(encodeHex([undefined, 1])).toBe('92c001');
    // eslint-disable-next-line no-sparse-arrays
    expect(encodeHex([1, , 2])).toBe('9301c002');
    const error = encodeError(undefined);
    expect(error.path).toBe('(root)');
  });

  it('writes shared (non-circular) references twice', () => {
    const shared = [1, 2];
    expect(msgpackSerializer.decode(msgpackSerializer.encode({ a: shared, b: [shared] }))).toEqual({
      a: [1, 2],
      b: [[1, 2]],
    });
  });

  it('returns a fresh buffer on every call (the shared Encoder buffer is not exposed)', () => {
    const first = msgpackSerializer.encode(['first']);
    const second = msgpackSerializer.encode(['other']);
    expect(first.buffer).not.toBe(second.buffer);
    expect(msgpackSerializer.decode(first)).toEqual(['first']);
  });

  it('keeps working after an output large enough to replace the Encoder', () => {
    const serializer = createMsgpackSerializer();
    const big = new Uint8Array(2 * 1024 * 1024).fill(7);
    const out = serializer.encode([big]);
    expect(out.byteLength).toBe(2 * 1024 * 1024 + 6);
    expect(toHex(serializer.encode([1]))).toBe('9101');
  });

  it('is re-entrant: a getter that encodes while being encoded gets its own Encoder', () => {
    const value = {
      get inner(): string {
        return toHex(msgpackSerializer.encode({ nested: [1, 2, 3] }));
      },
      after: 'x',
    };
    const decoded = msgpackSerializer.decode(msgpackSerializer.encode(value));
    expect(decoded).toEqual({ inner: toHex(libEncode({ nested: [1, 2, 3] })), after: 'x' });
  });
});

describe('msgpackSerializer.encode: refused values', () => {
  class Point {
    x = 1;
  }

  it('refuses Map, Set, class instances, ArrayBuffer and boxed primitives, naming the path', () => {
    expect(encodeError([[new Map([['a', 1]])], {}]).path).toBe('[0][0]');
    expect(encodeError([[new Map()], {}]).message).toMatch(/Map.*Object\.fromEntries/);
    expect(encodeError({ a: { b: new Set([1]) } }).path).toBe('a.b');
    expect(encodeError({ p: new Point() }).message).toMatch(/got a Point/);
    expect(encodeError({ 'odd key': new ArrayBuffer(2) }).path).toBe('["odd key"]');
    encodeError(Object.assign(Object.create(null) as object, { s: new String('x') }));
    encodeError([new Error('x')]);
    encodeError([/re/]);
    encodeError([Promise.resolve(1)]);
  });

  it('refuses functions and symbols, also as object properties', () => {
    expect(encodeError({ fn: () => 1 }).path).toBe('fn');
    expect(encodeError([1, Symbol('s')]).path).toBe('[1]');
    expect(encodeError(() => 1).path).toBe('(root)');
  });

  it('refuses an Invalid Date', () => {
    expect(encodeError({ when: new Date(Number.NaN) }).path).toBe('when');
  });

  it('refuses lone surrogates in strings and keys (Python raises UnicodeEncodeError)', () => {
    expect(encodeError(['ok', 'bad \ud800']).path).toBe('[1]');
    expect(encodeError({ ['k\udc00']: 1 }).message).toMatch(/lone surrogate/);
    expect(encodeHex('\ud834\udd1e')).toBe('a4f09d849e');
  });

  it('refuses circular structures, saying where the cycle closes', () => {
    const array: unknown[] = [1];
    array.push(array);
    const arrayError = encodeError(array);
    expect(arrayError.message).toMatch(/circular/);
    expect(arrayError.path).toBe('[1]');

    const a: Record<string, unknown> = { name: 'a' };
    const b: Record<string, unknown> = { a };
    a['b'] = b;
    const objectError = encodeError({ kwargs: { a } });
    expect(objectError.message).toMatch(/circular/);
    expect(objectError.path).toBe('kwargs.a.b.a');
  });

  it('refuses nesting deeper than maxEncodeDepth (default 128), accepting exactly the limit', () => {
    const nest = (levels: number): unknown => {
      let value: unknown = 'leaf';
      for (let i = 0; i < levels; i++) value = [value];
      return value;
    };
    expect(msgpackSerializer.decode(msgpackSerializer.encode(nest(128)))).toEqual(nest(128));
    expect(encodeError(nest(129)).message).toMatch(/at most 128/);
    expect(() => createMsgpackSerializer({ maxEncodeDepth: 2 }).encode([[1]])).not.toThrow();
    expect(() => createMsgpackSerializer({ maxEncodeDepth: 2 }).encode([[[1]]])).toThrow(EncodeError);
    // A million levels is an EncodeError too, not a stack overflow.
    expect(encodeError(nest(1_000_000)).code).toBe(ErrorCode.ENCODE_FAILED);
  });
});

describe('msgpackSerializer: __proto__ and constructor keys', () => {
  it('decodes them as own data keys without touching any prototype', () => {
    const bytes = libEncodeUnchecked('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}}');
    const value = msgpackSerializer.decode(bytes) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ polluted: 'yes' });
    expect(Object.getOwnPropertyDescriptor(value, 'constructor')?.value).toEqual({ prototype: { polluted: 'yes' } });
    expect((value as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('round-trips them through encode and decode', () => {
    const kwargs = JSON.parse('{"__proto__": {"x": 1}, "constructor": "c", "n": 4294967296}') as Record<string, unknown>;
    expect(Object.keys(kwargs)).toEqual(['__proto__', 'constructor', 'n']);
    const bytes = msgpackSerializer.encode([[], kwargs, {}]);
    // the big int forced the normalizing copy, which must keep __proto__ an own key too
    const [, decoded] = msgpackSerializer.decode(bytes) as [unknown, Record<string, unknown>];
    expect(Object.keys(decoded)).toEqual(['__proto__', 'constructor', 'n']);
    expect(Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value).toEqual({ x: 1 });
    expect(decoded['constructor']).toBe('c');
    expect(decoded['n']).toBe(4294967296);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(toHex(msgpackSerializer.encode([[], decoded, {}]))).toBe(toHex(bytes));
  });
});

describe('msgpackSerializer.decode: limits and interop', () => {
  it('uses the limits given per call, else the serializer default', () => {
    const serializer = createMsgpackSerializer({ decodeLimits: { maxBytes: 100, maxDepth: 1 } });
    expect(() => serializer.decode(fromHex('9191c0'))).toThrow(LimitExceededError);
    expect(serializer.decode(fromHex('9191c0'), { maxBytes: 100, maxDepth: 2 })).toEqual([[null]]);
    expect(() => serializer.decode(new Uint8Array(101))).toThrow(LimitExceededError);
    expect(() => msgpackSerializer.decode(fromHex('c1'))).toThrow(DecodeError);
  });

  it('agrees with @msgpack/msgpack on what each side writes', () => {
    const value = {
      s: 'héllo ☃ \u{1d11e}',
      b: new Uint8Array([1, 2, 3]),
      n: [0, -1, 255, -129, 65536, 4294967296, -2147483649, 1.25, null, true],
      big: 2n ** 63n,
      d: new Date(1_700_000_000_123),
    };
    const ours = msgpackSerializer.encode(value);
    // With useBigInt64 the library reads every 64-bit int (cf/d3) as a bigint.
    expect(libDecode(ours, { useBigInt64: true })).toEqual({
      ...value,
      n: [0, -1, 255, -129, 65536, 4294967296n, -2147483649n, 1.25, null, true],
    });
    expect(msgpackSerializer.decode(libEncode(value, { useBigInt64: true }))).toEqual(value);
  });
});

/** Bytes with a `__proto__` key, written by another encoder (JSON.parse keeps it an own key). */
function libEncodeUnchecked(json: string): Uint8Array {
  const value = JSON.parse(json) as Record<string, unknown>;
  expect(Object.keys(value)).toContain('__proto__');
  return libEncode(value);
}

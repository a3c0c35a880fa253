import { encode as libEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, EncodeError, LimitExceededError } from './errors.ts';
import { msgpackSerializer } from './msgpack-serializer.ts';
import type { DecodeLimits } from './serializer.ts';

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const roundTrip = (value: unknown): unknown => msgpackSerializer.decode(msgpackSerializer.encode(value));

/**
 * What a value decodes to after a round trip:
 * - a bigint within ±(2^53 − 1) comes back as a number (the decoder's rule: number when safe);
 * - `-0` comes back as `0` (every integral number is written as a msgpack int, like Python's
 *   `int`, and an int has no sign of zero);
 * - an `undefined` object property is left out, an `undefined` array item becomes `null`;
 * - any view or Buffer comes back as a plain `Uint8Array`, any object as a plain object.
 */
function expected(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  if (Object.is(value, -0)) return 0;
  if (value === undefined) return null;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return Array.from(value as unknown[], expected);
  if (value instanceof Date) return new Date(value.getTime());
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    Object.defineProperty(out, key, { value: expected(item), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const int64 = fc.bigInt({ min: INT64_MIN, max: UINT64_MAX });
const outOfRange = fc.oneof(fc.bigInt({ min: UINT64_MAX + 1n, max: 2n ** 200n }), fc.bigInt({ min: -(2n ** 200n), max: INT64_MIN - 1n }));
const text = fc.string({ unit: 'binary', maxLength: 40 });
const key = fc.oneof(text, fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '0', '42', '-1', ''));
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.maxSafeInteger(),
  fc.integer(),
  fc.double(), // includes NaN, ±Infinity, -0, subnormals
  int64,
  text,
  fc.uint8Array({ maxLength: 40 }),
  fc.date({ noInvalidDate: true }), // the whole Date range, ms precision
);
const { value: wireValue } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('array'), tie('map')),
  array: fc.array(tie('value'), { maxLength: 6 }),
  map: fc.dictionary(key, tie('value'), { maxKeys: 6 }),
}));

describe('msgpack serializer properties', () => {
  it('round-trips arbitrary values (see expected() for -0 and safe bigints)', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        expect(roundTrip(value)).toEqual(expected(value));
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips -0 as 0, NaN as NaN and the infinities exactly', () => {
    expect(Object.is(roundTrip(-0), 0)).toBe(true);
    expect(roundTrip(NaN)).toBeNaN();
    expect(roundTrip([Infinity, -Infinity])).toEqual([Infinity, -Infinity]);
  });

  it('round-trips every bigint in int64/uint64 range exactly', () => {
    fc.assert(
      fc.property(int64, (n) => {
        const back = roundTrip(n);
        expect(BigInt(back as number | bigint)).toBe(n);
        expect(typeof back).toBe(Number.isSafeInteger(Number(n)) && BigInt(Number(n)) === n ? 'number' : 'bigint');
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses every bigint beyond int64/uint64 with an EncodeError naming the path', () => {
    fc.assert(
      fc.property(outOfRange, fc.nat({ max: 5 }), (n, index) => {
        const args: unknown[] = new Array(index + 1).fill(0);
        args[index] = n;
        expect(() => msgpackSerializer.encode([args, {}, null])).toThrow(EncodeError);
        try {
          msgpackSerializer.encode([args, {}, null]);
        } catch (error) {
          expect((error as EncodeError).path).toBe(`[0][${index}]`);
        }
      }),
    );
  });

  it('writes every safe integer in the smallest int format Python would pick', () => {
    const size = (n: number): number => {
      if (n >= 0) return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x1_0000_0000 ? 5 : 9;
      return n >= -32 ? 1 : n >= -0x80 ? 2 : n >= -0x8000 ? 3 : n >= -0x8000_0000 ? 5 : 9;
    };
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeInteger(), fc.integer({ min: -70000, max: 70000 })), (n) => {
        const bytes = msgpackSerializer.encode(n);
        expect(bytes.byteLength).toBe(size(n));
        expect(roundTrip(n)).toBe(n === 0 ? 0 : n);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips text beyond the BMP and Dates to the millisecond', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.date({ noInvalidDate: true }), (s, d) => {
        expect(roundTrip({ [s]: [s, d] })).toEqual({ [s]: [s, d] });
      }),
      { numRuns: 500 },
    );
  });

  it('is deterministic and a fixed point after one round trip', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        const once = msgpackSerializer.encode(value);
        expect(msgpackSerializer.encode(value)).toEqual(once);
        expect(msgpackSerializer.encode(msgpackSerializer.decode(once))).toEqual(once);
      }),
      { numRuns: 300 },
    );
  });
});

/** Whatever the bytes, decode returns a value or throws one of the two typed errors. */
function decodesOrThrowsTyped(bytes: Uint8Array, limits?: DecodeLimits): void {
  try {
    msgpackSerializer.decode(bytes, limits);
  } catch (error) {
    if (!(error instanceof DecodeError || error instanceof LimitExceededError)) throw error;
  }
}

describe('msgpack decoder fuzz', () => {
  it('throws nothing but DecodeError / LimitExceededError on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => decodesOrThrowsTyped(bytes)), {
      numRuns: 5000,
    });
  });

  it('throws nothing but typed errors on mutated, truncated and extended valid encodings', () => {
    fc.assert(
      fc.property(
        wireValue,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        fc.uint8Array({ maxLength: 4 }),
        fc.record({ maxBytes: fc.integer({ min: 0, max: 400 }), maxDepth: fc.integer({ min: 0, max: 6 }) }),
        (value, flips, cut, tail, limits) => {
          const bytes = msgpackSerializer.encode(value);
          const mutated = Uint8Array.from(bytes);
          for (const [at, byte] of flips) if (mutated.length > 0) mutated[at % mutated.length] = byte;
          decodesOrThrowsTyped(mutated);
          decodesOrThrowsTyped(mutated.subarray(0, cut % (mutated.length + 1)));
          decodesOrThrowsTyped(Uint8Array.from([...bytes, ...tail]));
          decodesOrThrowsTyped(bytes, limits);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reads what @msgpack/msgpack writes for the same values', () => {
    // No bigint (the library writes bigints only as 64-bit ints) and no __proto__ key
    // (the library's decoder refuses it); everything else must agree.
    const plainKey = text.filter((k) => k !== '__proto__');
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.oneof(fc.constant(null), fc.boolean(), fc.maxSafeInteger(), fc.double(), text, fc.uint8Array({ maxLength: 20 }), fc.date({ noInvalidDate: true })),
        tie('array'),
        tie('map'),
      ),
      array: fc.array(tie('value'), { maxLength: 5 }),
      map: fc.dictionary(plainKey, tie('value'), { maxKeys: 5 }),
    }));
    fc.assert(
      fc.property(value, (v) => {
        expect(msgpackSerializer.decode(libEncode(v))).toEqual(expected(v));
      }),
      { numRuns: 500 },
    );
  });
});

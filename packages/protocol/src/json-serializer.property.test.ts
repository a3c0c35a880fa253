import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CeleriacError } from './errors.ts';
import { createJsonSerializer, decodeJsonText, encodeJsonText, isFastPathText, jsonSerializer } from './json-serializer.ts';
import type { DecodeLimits, WireValue } from './serializer.ts';

const tagged = createJsonSerializer({ tagged: true });
const LIMITS: DecodeLimits = { maxBytes: 64 * 1024 * 1024, maxDepth: 128 };

// Object keys: any text, plus the ones that bite (prototype names, the tag key). `__value__`
// is left out: a dict of exactly `__type__` and `__value__` is a kombu tag by definition.
const keyArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__type__', '0', '42'),
);

const textArb = fc.oneof(
  fc.string({ unit: 'grapheme' }), // well-formed text, beyond the BMP too
  fc.string({ unit: 'binary' }), // any code point
  fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), maxLength: 3 }), // lone surrogates
  fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '[', '{', '/', 'N', 'I', '1') }),
);

const numberArb = fc.oneof(
  fc.double(), // finite, ±0, NaN, ±Infinity, integral doubles beyond 2^53
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(-0, 2 ** 53, -(2 ** 53), 2 ** 60, 1e21, 5e-324, Number.MAX_VALUE),
);

const bigintArb = fc.oneof(
  fc.bigInt(), // mostly beyond 2^53
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
  fc.constantFrom(2n ** 53n, -(2n ** 53n), 2n ** 53n - 1n, 2n ** 70n, 2n ** 63n - 1n),
);

function valueArb(extra: fc.Arbitrary<unknown>[] = []): fc.Arbitrary<unknown> {
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('array'), tie('object')),
    leaf: fc.oneof(fc.constant(null), fc.boolean(), numberArb, bigintArb, textArb, ...extra),
    array: fc.array(tie('value'), { maxLength: 5 }),
    object: fc.dictionary(keyArb, tie('value'), { maxKeys: 5, noNullPrototype: true }),
  }));
  return value;
}

const dateArb = fc.date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });

/** What a value reads back as; see the module comment of json-serializer.ts. */
function afterRoundTrip(value: unknown, isTagged: boolean): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) && BigInt(Number(value)) === value ? Number(value) : value;
  if (value instanceof Date) return isTagged ? value : `${value.toISOString().slice(0, 23)}000Z`;
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map((v) => afterRoundTrip(v, isTagged));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, { value: afterRoundTrip(v, isTagged), writable: true, enumerable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** Python's json.dumps style: `", "`/`": "` separators and ensure_ascii `\uXXXX` escapes. */
function pythonStyle(value: unknown, sep = ', ', colon = ': '): string {
  return encodeJsonText(value, true)
    .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/("(?:[^"\\]|\\.)*")|,|:/g, (m, str: string | undefined) => (str !== undefined ? str : m === ',' ? sep : colon));
}

/**
 * A comparable picture of a value. vitest's toStrictEqual compares `a.constructor` to
 * `b.constructor`, which an own `constructor` key (we decode those as data) breaks; this
 * form also pins down -0, bigint vs number, prototypes and the byte class.
 */
function canon(value: unknown): unknown {
  if (typeof value === 'number') return { number: Object.is(value, -0) ? '-0' : String(value) };
  if (typeof value === 'bigint') return { bigint: value.toString() };
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date) return { date: value.getTime() };
  if (value instanceof Uint8Array) {
    return { bytes: Array.from(value), plain: Object.getPrototypeOf(value) === Uint8Array.prototype };
  }
  if (Array.isArray(value)) return { array: value.map(canon) };
  return {
    object: Object.keys(value).map((k) => [k, canon((value as Record<string, unknown>)[k])]),
    plain: Object.getPrototypeOf(value) === Object.prototype,
  };
}

type Outcome = { ok: unknown } | { error: string; code: string; message: string };

function outcome(fn: () => WireValue): Outcome {
  try {
    return { ok: canon(fn()) };
  } catch (err) {
    // Anything but our typed errors fails the property outright.
    if (!(err instanceof CeleriacError)) throw err;
    return { error: err.name, code: err.code, message: err.message };
  }
}

function bothPaths(text: string): [Outcome, Outcome] {
  return [outcome(() => decodeJsonText(text, LIMITS)), outcome(() => decodeJsonText(text, LIMITS, true))];
}

describe('json round trip (property)', () => {
  it('kombu 5.2 form: arbitrary JSON-like values, big integers, non-finite and integral doubles', () => {
    fc.assert(
      fc.property(valueArb([dateArb]), (value) => {
        const decoded = jsonSerializer.decode(jsonSerializer.encode(value));
        expect(canon(decoded)).toStrictEqual(canon(afterRoundTrip(value, false)));
      }),
      { numRuns: 500 },
    );
  });

  it('kombu 5.3 tagged form: bytes and dates come back as themselves', () => {
    fc.assert(
      fc.property(valueArb([dateArb, fc.uint8Array({ maxLength: 20 }), fc.string({ unit: 'binary' }).map((s) => new TextEncoder().encode(s))]), (value) => {
        const decoded = tagged.decode(tagged.encode(value));
        expect(canon(decoded)).toStrictEqual(canon(afterRoundTrip(value, true)));
      }),
      { numRuns: 500 },
    );
  });

  it('numbers keep their type and value exactly (-0, NaN, integral doubles beyond 2^53)', () => {
    fc.assert(
      fc.property(numberArb, (n) => {
        const decoded = jsonSerializer.decode(jsonSerializer.encode(n));
        expect(typeof decoded).toBe('number');
        expect(Object.is(decoded, n)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('integers of any size: within ±(2^53-1) a number, beyond it a bigint, digits unchanged', () => {
    fc.assert(
      fc.property(bigintArb, (b) => {
        const written = new TextDecoder().decode(jsonSerializer.encode(b));
        expect(written).toBe(b.toString());
        const decoded = jsonSerializer.decode(jsonSerializer.encode(b));
        const safe = b >= -(2n ** 53n - 1n) && b <= 2n ** 53n - 1n;
        expect(decoded).toStrictEqual(safe ? Number(b) : b);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('fast path and slow parser agree (property)', () => {
  it('on what we write and what Python writes', () => {
    fc.assert(
      fc.property(
        valueArb([dateArb, fc.uint8Array({ maxLength: 8 })]),
        fc.constantFrom<[string, string]>([',', ':'], [', ', ': '], [' ,\n', '\t:\r ']),
        (value, [sep, colon]) => {
          for (const text of [encodeJsonText(value, true), pythonStyle(value, sep, colon)]) {
            const [fast, slow] = bothPaths(text);
            expect(fast).toStrictEqual(slow);
            expect('ok' in fast).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('on safe-only values that take the fast path', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const text of [JSON.stringify(value), pythonStyle(value)]) {
          const [fast, slow] = bothPaths(text);
          expect(fast).toStrictEqual(slow);
          // Where the fast path is taken, it is JSON.parse; elsewhere (an integer of 16+ digits,
          // such as 2^53 written by JSON.stringify) a big integer becomes a bigint.
          if (isFastPathText(text)) expect(fast).toStrictEqual({ ok: canon(JSON.parse(text)) });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('on garbage and near-JSON, errors included', () => {
    const jsonish = fc.string({
      unit: fc.constantFrom(...'[]{}",: 0123456789-+.eEtruefalsnNaIiy\\u_/\n\t'.split(''), '__type__', '__value__', 'NaN', 'Infinity', '"bytes"', '1234567890123456'),
      maxLength: 40,
    });
    fc.assert(
      fc.property(fc.oneof(jsonish, fc.string({ unit: 'binary' }), fc.string()), (text) => {
        const [fast, slow] = bothPaths(text);
        expect(fast).toStrictEqual(slow);
      }),
      { numRuns: 2000 },
    );
  });

  it('on valid JSON with one edit (truncation, deletion, insertion)', () => {
    fc.assert(
      fc.property(
        valueArb([fc.uint8Array({ maxLength: 4 })]),
        fc.nat(),
        fc.constantFrom('truncate', 'delete', 'insert'),
        fc.constantFrom('"', '\\', ',', ':', '[', ']', '{', '}', '0', '9', '-', 'e', '.', 'N', ' ', 'x'),
        (value, at, edit, ch) => {
          const text = pythonStyle(value);
          const i = text.length === 0 ? 0 : at % text.length;
          const mutated =
            edit === 'truncate' ? text.slice(0, i) : edit === 'delete' ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i) + ch + text.slice(i);
          const [fast, slow] = bothPaths(mutated);
          expect(fast).toStrictEqual(slow);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('decode never throws an untyped error (property)', () => {
  it('on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 8 }), (data, maxDepth) => {
        try {
          jsonSerializer.decode(data, { maxBytes: 1024, maxDepth });
        } catch (err) {
          expect(err).toBeInstanceOf(CeleriacError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

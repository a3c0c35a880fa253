import { describe, expect, it } from 'vitest';
import { CeleriacError, DecodeError, ErrorCode, LimitExceededError } from './errors.ts';
import { decodeMsgpack } from './msgpack-decoder.ts';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits, type WireValue } from './serializer.ts';

const limits = DEFAULT_DECODE_LIMITS;

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

function decodeHex(text: string, l: DecodeLimits = limits): WireValue {
  return decodeMsgpack(hex(text), l);
}

function ascii(text: string): string {
  return Buffer.from(text, 'latin1').toString('hex');
}

/** Asserts that decoding throws the typed error, and returns it for more checks. */
function decodeError(bytes: Uint8Array, l: DecodeLimits = limits): DecodeError {
  let caught: unknown;
  try {
    decodeMsgpack(bytes, l);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DecodeError);
  expect(caught).toBeInstanceOf(CeleriacError);
  const error = caught as DecodeError;
  expect(error.code).toBe(ErrorCode.DECODE_FAILED);
  expect(error.contentType).toBe('application/x-msgpack');
  return error;
}

function limitError(bytes: Uint8Array, l: DecodeLimits = limits): LimitExceededError {
  let caught: unknown;
  try {
    decodeMsgpack(bytes, l);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(LimitExceededError);
  const error = caught as LimitExceededError;
  expect(error.code).toBe(ErrorCode.LIMIT_EXCEEDED);
  return error;
}

describe('decodeMsgpack: scalars', () => {
  it('reads nil, booleans and fixints', () => {
    expect(decodeHex('c0')).toBe(null);
    expect(decodeHex('c2')).toBe(false);
    expect(decodeHex('c3')).toBe(true);
    expect(decodeHex('00')).toBe(0);
    expect(decodeHex('7f')).toBe(127);
    expect(decodeHex('ff')).toBe(-1);
    expect(decodeHex('e0')).toBe(-32);
  });

  it('reads every int width, as number while safe and as bigint beyond ±2^53', () => {
    expect(decodeHex('cc ff')).toBe(255);
    expect(decodeHex('cd ffff')).toBe(65535);
    expect(decodeHex('ce ffffffff')).toBe(4294967295);
    expect(decodeHex('cf 001fffffffffffff')).toBe(Number.MAX_SAFE_INTEGER);
    expect(decodeHex('cf 0020000000000000')).toBe(9007199254740992n);
    expect(decodeHex('cf 7fffffffffffffff')).toBe(9223372036854775807n);
    expect(decodeHex('cf ffffffffffffffff')).toBe(18446744073709551615n);
    expect(decodeHex('d0 80')).toBe(-128);
    expect(decodeHex('d1 8000')).toBe(-32768);
    expect(decodeHex('d2 80000000')).toBe(-2147483648);
    expect(decodeHex('d3 ffe0000000000001')).toBe(Number.MIN_SAFE_INTEGER);
    expect(decodeHex('d3 ffe0000000000000')).toBe(-9007199254740992n);
    expect(decodeHex('d3 8000000000000000')).toBe(-9223372036854775808n);
    expect(decodeHex('d3 0000000000000005')).toBe(5);
    expect(decodeHex('cf 0000000000000005')).toBe(5);
  });

  it('reads float 32 and float 64, including NaN, infinities and -0', () => {
    expect(decodeHex('ca 3fc00000')).toBe(1.5);
    expect(decodeHex('cb 3ff8000000000000')).toBe(1.5);
    expect(decodeHex('cb 7ff8000000000000')).toBeNaN();
    expect(decodeHex('cb 7ff0000000000000')).toBe(Infinity);
    expect(decodeHex('cb fff0000000000000')).toBe(-Infinity);
    expect(Object.is(decodeHex('cb 8000000000000000'), -0)).toBe(true);
  });

  it('reads str in all widths as UTF-8, keeping a leading BOM', () => {
    expect(decodeHex('a0')).toBe('');
    expect(decodeHex(`a3 ${ascii('abc')}`)).toBe('abc');
    expect(decodeHex('a3 68c3a9')).toBe('hé');
    expect(decodeHex('a4 f09d849e')).toBe('\u{1d11e}');
    expect(decodeHex('a3 efbbbf')).toBe('\ufeff');
    const long = 'x'.repeat(300);
    expect(decodeHex(`d9 05 ${ascii('hello')}`)).toBe('hello');
    expect(decodeHex(`da 012c ${ascii(long)}`)).toBe(long);
    expect(decodeHex(`db 0000012c ${ascii(long)}`)).toBe(long);
    const longUnicode = 'é'.repeat(100);
    expect(decodeHex(`d9 c8 ${Buffer.from(longUnicode).toString('hex')}`)).toBe(longUnicode);
  });

  it('reads bin as a fresh Uint8Array copy that does not alias the input', () => {
    const input = hex('c4 04 0001feff');
    const value = decodeMsgpack(input, limits);
    expect(value).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(value)).toBe(false);
    expect([...(value as Uint8Array)]).toEqual([0, 1, 254, 255]);
    expect((value as Uint8Array).buffer).not.toBe(input.buffer);
    input[2] = 7;
    expect([...(value as Uint8Array)]).toEqual([0, 1, 254, 255]);
    expect(decodeHex('c5 0002 abcd')).toEqual(new Uint8Array([0xab, 0xcd]));
    expect(decodeHex('c6 00000001 ee')).toEqual(new Uint8Array([0xee]));
    expect(decodeHex('c4 00')).toEqual(new Uint8Array(0));
  });

  it('reads input that is a Buffer at a non-zero byteOffset', () => {
    const backing = Buffer.from('ffff92a161cd0100ffff', 'hex');
    const view = backing.subarray(2, 8);
    expect(view.byteOffset).toBeGreaterThan(0);
    expect(decodeMsgpack(view, limits)).toEqual(['a', 256]);
  });
});

describe('decodeMsgpack: timestamps (ext -1)', () => {
  it('reads the 32-bit form', () => {
    expect(decodeHex('d6 ff 00000000')).toEqual(new Date(0));
    expect(decodeHex('d6 ff 5f5e1000')).toEqual(new Date(1_600_000_000_000));
  });

  it('reads the 64-bit form, flooring nanoseconds to milliseconds', () => {
    // nsec 500_000_000 << 2 = 0x77359400, sec 1
    expect(decodeHex('d7 ff 77359400 00000001')).toEqual(new Date(1500));
    // nsec 999_999 (just under 1 ms) is dropped
    expect(decodeHex(`d7 ff ${(999_999 << 2).toString(16).padStart(8, '0')} 00000001`)).toEqual(new Date(1000));
  });

  it('reads the 96-bit form, also before 1970', () => {
    // sec -1, nsec 500_000_000 → -0.5 s
    expect(decodeHex('c7 0c ff 1dcd6500 ffffffffffffffff')).toEqual(new Date(-500));
    expect(decodeHex('c7 0c ff 00000000 0000000000000000')).toEqual(new Date(0));
  });

  it('refuses a timestamp of another length, too many nanoseconds, or beyond the Date range', () => {
    expect(decodeError(hex('d5 ff 0000')).message).toMatch(/4, 8 or 12 bytes/);
    expect(decodeError(hex('c7 0c ff 3b9aca00 0000000000000000')).message).toMatch(/nanoseconds/);
    expect(decodeError(hex('c7 0c ff 00000000 7fffffffffffffff')).message).toMatch(/Date range/);
    expect(decodeError(hex('c7 0c ff 00000000 8000000000000000')).message).toMatch(/Date range/);
  });
});

describe('decodeMsgpack: arrays and maps', () => {
  it('reads nested arrays and maps in every width', () => {
    expect(decodeHex('90')).toEqual([]);
    expect(decodeHex('80')).toEqual({});
    expect(decodeHex('93 01 92 02 90 80')).toEqual([1, [2, []], {}]);
    expect(decodeHex('dc 0002 c0 c3')).toEqual([null, true]);
    expect(decodeHex('dd 00000001 05')).toEqual([5]);
    expect(decodeHex(`de 0001 a1${ascii('a')} 01`)).toEqual({ a: 1 });
    expect(decodeHex(`df 00000001 a1${ascii('b')} 91 02`)).toEqual({ b: [2] });
  });

  it('turns int keys into decimal string keys', () => {
    const value = decodeHex(`83 01 a1${ascii('a')} ff a1${ascii('b')} cf ffffffffffffffff c0`);
    expect(value).toEqual({ '1': 'a', '-1': 'b', '18446744073709551615': null });
  });

  it('does not let the key cache alias the input: a reused buffer with new key bytes decodes to the new key', () => {
    const buffer = Buffer.from(`81 a3${ascii('abc')} 01`.replace(/\s+/g, ''), 'hex');
    expect(decodeMsgpack(buffer, limits)).toEqual({ abc: 1 });
    // "acD" has the same cache hash as "abc" (b+1, then c−31), so a cache entry that were a
    // view of the input would now match and wrongly return "abc".
    buffer[3] = 0x63;
    buffer[4] = 0x44;
    expect(decodeMsgpack(buffer, limits)).toEqual({ acD: 1 });
    expect(decodeMsgpack(hex(`81 a3${ascii('abc')} 01`), limits)).toEqual({ abc: 1 });
  });

  it('decodes many distinct short keys correctly (key cache collisions)', () => {
    const entries = Array.from({ length: 5000 }, (_, i) => [`k${i}`, i] as const);
    const map = Object.fromEntries(entries);
    const bytes = new Uint8Array([0xde, 5000 >> 8, 5000 & 0xff, ...entries.flatMap(([k, i]) => [...hex(`a${k.length.toString(16)}${ascii(k)}`), ...hex(`cd${i.toString(16).padStart(4, '0')}`)])]);
    expect(decodeMsgpack(bytes, limits)).toEqual(map);
    expect(decodeMsgpack(bytes, limits)).toEqual(map);
  });

  it('keeps the last value of a duplicate key, as Python does', () => {
    expect(decodeHex(`82 a1${ascii('k')} 01 a1${ascii('k')} 02`)).toEqual({ k: 2 });
  });

  it('keeps __proto__, constructor and other Object.prototype names as own data keys', () => {
    // {"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}}, "toString": 3}
    const bytes = hex(
      `83 a9${ascii('__proto__')} 81 a8${ascii('polluted')} 01 ` +
        `ab${ascii('constructor')} 81 a9${ascii('prototype')} 81 a8${ascii('polluted')} 02 ` +
        `a8${ascii('toString')} 03`,
    );
    const value = decodeMsgpack(bytes, limits) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ polluted: 1 });
    expect(Object.hasOwn(value, 'constructor')).toBe(true);
    expect(value['toString']).toBe(3);
    expect((value as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect((Object.prototype as { polluted?: unknown }).polluted).toBeUndefined();
  });
});

describe('decodeMsgpack: bad input gives typed errors', () => {
  it('refuses empty and truncated input', () => {
    decodeError(new Uint8Array(0));
    expect(decodeError(hex('cd 01')).message).toMatch(/Truncated/);
    decodeError(hex('cb 3ff8'));
    decodeError(hex(`a5 ${ascii('ab')}`));
    decodeError(hex('92 01'));
    decodeError(hex('92 01 cd 00'));
    decodeError(hex(`81 a1${ascii('a')}`));
    decodeError(hex('d6 ff 0000'));
    decodeError(hex('d6'));
    decodeError(hex('d9'));
    decodeError(hex('dc 00'));
  });

  it('refuses the reserved byte 0xc1, at the top and nested', () => {
    expect(decodeError(hex('c1')).message).toMatch(/0xc1/);
    decodeError(hex('91 c1'));
    decodeError(hex(`81 a1${ascii('a')} c1`));
  });

  it('refuses a length header larger than the remaining bytes before allocating', () => {
    for (const bytes of [
      'db ffffffff 6162 6364', // str 32
      'c6 ffffffff 0000 0000', // bin 32
      'dd ffffffff 0000 0000', // array 32
      'df ffffffff 0000 0000', // map 32
      'c9 ffffffff ff 000000', // ext 32 (timestamp type)
      'da ffff 00', // str 16
      'dc ffff 00', // array 16
      'de 0003 a161 01 a162', // map of 3 in 5 bytes
    ]) {
      const started = performance.now();
      expect(decodeError(hex(bytes)).message).toMatch(/claims|Truncated/);
      expect(performance.now() - started).toBeLessThan(100);
    }
  });

  it('refuses every ext type but -1, naming the type', () => {
    expect(decodeError(hex('d4 01 00')).message).toMatch(/ext type 1\b/);
    // msgpackr's record extension (0x72 = 114)
    expect(decodeError(hex('d4 72 40')).message).toMatch(/ext type 114\b/);
    expect(decodeError(hex('c7 03 72 010203')).message).toMatch(/ext type 114\b/);
    expect(decodeError(hex('d5 fe 0000')).message).toMatch(/ext type -2\b/);
    decodeError(hex('91 d8 05 00000000000000000000000000000000'));
  });

  it('refuses nesting deeper than maxDepth with LimitExceededError, even a million levels', () => {
    const deep = new Uint8Array(1_000_001).fill(0x91);
    deep[1_000_000] = 0xc0;
    const error = limitError(deep);
    expect(error.limit).toBe(128);
    expect(error.actual).toBe(129);

    const deepMaps = Buffer.alloc(3 * 200_000 + 1);
    for (let i = 0; i < 200_000; i++) deepMaps.set([0x81, 0xa1, 0x6b], i * 3);
    deepMaps[600_000] = 0xc0;
    limitError(deepMaps);
  });

  it('accepts exactly maxDepth levels, counting the top-level container as 1', () => {
    const l = { maxBytes: 1000, maxDepth: 3 };
    expect(decodeHex('91 91 91 c0', l)).toEqual([[[null]]]);
    expect(decodeHex('91 91 90', l)).toEqual([[[]]]);
    limitError(hex('91 91 91 90'), l);
    expect(decodeHex('c0', { maxBytes: 1, maxDepth: 0 })).toBe(null);
    limitError(hex('90'), { maxBytes: 1, maxDepth: 0 });
  });

  it('refuses input over maxBytes before reading it', () => {
    const error = limitError(hex('a4 61626364'), { maxBytes: 4, maxDepth: 10 });
    expect(error.limit).toBe(4);
    expect(error.actual).toBe(5);
    expect(decodeHex('a3 616263', { maxBytes: 4, maxDepth: 10 })).toBe('abc');
  });

  it('refuses invalid UTF-8 in str values and keys', () => {
    for (const bytes of [
      'a2 c328', // bad continuation
      'a2 c080', // overlong NUL
      'a3 eda080', // UTF-16 surrogate encoded in UTF-8 (WTF-8)
      'a4 f4908080', // beyond U+10FFFF
      'a1 ff',
      'a1 80',
      `d9 48 ${'61'.repeat(71)}ff`, // past the ASCII fast path
      '81 a2c328 00', // as a key
    ]) {
      expect(decodeError(hex(bytes)).message).toMatch(/UTF-8/);
    }
  });

  it('refuses map keys that are not str or int', () => {
    expect(decodeError(hex('81 91 00 00')).message).toMatch(/key.*got array/);
    expect(decodeError(hex('81 80 00')).message).toMatch(/got map/);
    expect(decodeError(hex('81 c0 00')).message).toMatch(/got nil/);
    expect(decodeError(hex('81 c3 00')).message).toMatch(/got bool/);
    expect(decodeError(hex('81 c4 01 61 00')).message).toMatch(/got bin/);
    expect(decodeError(hex('81 cb 3ff0000000000000 00')).message).toMatch(/got float/);
    expect(decodeError(hex('81 d6 ff 00000000 00')).message).toMatch(/got ext/);
    expect(decodeError(hex('81 c1 00')).message).toMatch(/0xc1/);
  });

  it('refuses trailing bytes after the value', () => {
    expect(decodeError(hex('00 00')).message).toMatch(/trailing/);
    decodeError(hex('c0 c0'));
    decodeError(hex('90 ff'));
    decodeError(hex('91 01 02'));
  });

  it('refuses input that is not a Uint8Array', () => {
    decodeError('hello' as unknown as Uint8Array);
    decodeError(new ArrayBuffer(1) as unknown as Uint8Array);
  });
});

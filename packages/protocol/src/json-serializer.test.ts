import { describe, expect, it } from 'vitest';
import { DecodeError, EncodeError, ErrorCode, LimitExceededError } from './errors.ts';
import { createJsonSerializer, decodeJsonText, isFastPathText, jsonSerializer } from './json-serializer.ts';
import type { WireValue } from './serializer.ts';

const tagged = createJsonSerializer({ tagged: true });
const utf8 = new TextEncoder();
const text = new TextDecoder();

function bytesOf(s: string): Uint8Array {
  return utf8.encode(s);
}

function decode(s: string, limits?: { maxBytes: number; maxDepth: number }): WireValue {
  return jsonSerializer.decode(bytesOf(s), limits);
}

/** Decodes through both paths and insists they agree. */
function decodeBoth(s: string): WireValue {
  const auto = decode(s);
  expect(decodeJsonText(s, undefined, true)).toStrictEqual(auto);
  return auto;
}

function encodeText(value: unknown, serializer = jsonSerializer): string {
  return text.decode(serializer.encode(value));
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

/** Python's output re-spaced the way we write it (compact separators, raw UTF-8): same JSON. */
function compact(pythonText: string): string {
  return JSON.stringify(JSON.parse(pythonText));
}

describe('jsonSerializer', () => {
  it('is kombu’s json: name, content type, encoding', () => {
    expect(jsonSerializer.name).toBe('json');
    expect(jsonSerializer.contentType).toBe('application/json');
    expect(jsonSerializer.contentEncoding).toBe('utf-8');
    expect(tagged.name).toBe('json');
    expect(tagged.contentType).toBe('application/json');
  });
});

describe('golden cases from Python (kombu 5.2.4, captured)', () => {
  // celery-captures/publish_raw.json, task json_echo_types: the body exactly as Celery 5.2.6 wrote it.
  const capturedBody =
    '[["h\\u00e9llo \\u2603 \\ud834\\udd1e", [1, [2, [3, null]]], 1180591620717411303424, -1.5, 1e+300, null, true], ' +
    '{"dt": "2024-01-02T03:04:05.678901Z", "naive_dt": "2024-01-02T03:04:05", "date": "2024-01-02T00:00:00", ' +
    '"dec": "1.10", "uuid": "12345678-1234-5678-1234-567812345678", "tuple": [1, 2], "k\\u00e9y": "h\\u00e9llo \\u2603 \\ud834\\udd1e"}, ' +
    '{"callbacks": null, "errbacks": null, "chain": null, "chord": null}]';

  it('decodes a captured Celery 5.2 task body', () => {
    expect(decodeBoth(capturedBody)).toStrictEqual([
      ['héllo ☃ 𝄞', [1, [2, [3, null]]], 1180591620717411303424n, -1.5, 1e300, null, true],
      {
        dt: '2024-01-02T03:04:05.678901Z',
        naive_dt: '2024-01-02T03:04:05',
        date: '2024-01-02T00:00:00',
        dec: '1.10',
        uuid: '12345678-1234-5678-1234-567812345678',
        tuple: [1, 2],
        kéy: 'héllo ☃ 𝄞',
      },
      { callbacks: null, errbacks: null, chain: null, chord: null },
    ]);
  });

  it('reads 2**70 as a bigint and writes the same digits back', () => {
    const value = decodeBoth('1180591620717411303424');
    expect(value).toBe(1180591620717411303424n);
    expect(encodeText(value)).toBe('1180591620717411303424');
    expect(encodeText([2n ** 70n, -(2n ** 70n)])).toBe('[1180591620717411303424,-1180591620717411303424]');
  });

  it('reads int64 extremes as bigints and safe integers as numbers', () => {
    expect(decodeBoth('[9223372036854775807, -9223372036854775808, 18446744073709551615]')).toStrictEqual([
      9223372036854775807n,
      -9223372036854775808n,
      18446744073709551615n,
    ]);
    expect(decodeBoth('[9007199254740991, -9007199254740991, 9007199254740992, -9007199254740992]')).toStrictEqual([
      9007199254740991,
      -9007199254740991,
      9007199254740992n,
      -9007199254740992n,
    ]);
    // A fraction or an exponent makes a float, however many digits.
    expect(decodeBoth('[12345678901234567890.5, 1e20, 1E+2]')).toStrictEqual([Number('12345678901234567890.5'), 1e20, 100]);
  });

  it('reads and writes Python’s NaN, Infinity and -Infinity tokens', () => {
    expect(decodeBoth('[NaN, Infinity, -Infinity]')).toStrictEqual([NaN, Infinity, -Infinity]);
    expect(encodeText([NaN, Infinity, -Infinity])).toBe('[NaN,Infinity,-Infinity]');
  });

  it('reads Python’s ensure_ascii escapes, surrogate pairs included', () => {
    expect(decodeBoth('"h\\u00e9llo \\u2603 \\ud834\\udd1e"')).toBe('héllo ☃ 𝄞');
  });

  it('reads Python’s float spellings', () => {
    // json.dumps([1e300, -1.5, 1e-07, -0.0, 1.0, float(2**60)])
    const value = decodeBoth('[1e+300, -1.5, 1e-07, -0.0, 1.0, 1.152921504606847e+18]') as number[];
    expect(value).toStrictEqual([1e300, -1.5, 1e-7, -0, 1, 2 ** 60]);
    expect(Object.is(value[3], -0)).toBe(true);
  });

  it('keeps a kombu 5.2 datetime string a string (kombu 5.2 does not mark datetimes)', () => {
    expect(decodeBoth('{"dt": "2024-01-02T03:04:05.678901Z"}')).toStrictEqual({ dt: '2024-01-02T03:04:05.678901Z' });
  });

  it('writes a Date as kombu 5.2 writes an aware UTC datetime, with six fractional digits', () => {
    expect(encodeText(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)))).toBe('"2024-01-02T03:04:05.678000Z"');
    // Python would omit a zero fraction; six zeros read the same and keep the form fixed.
    expect(encodeText(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)))).toBe('"2024-01-02T03:04:05.000000Z"');
    expect(encodeText({ eta: new Date(Date.UTC(999, 11, 31, 23, 59, 59, 1)) })).toBe('{"eta":"0999-12-31T23:59:59.001000Z"}');
  });

  it('writes the floats Python reads back as the same floats', () => {
    expect(encodeText([-1.5, 1e300, 1e-7, 5e-324, 0.1])).toBe('[-1.5,1e+300,1e-7,5e-324,0.1]');
    // -0 as Python's -0.0; an integral double beyond 2^53 with an exponent (Python's repr too).
    expect(encodeText([-0, 2 ** 60, 1e21])).toBe('[-0.0,1.152921504606847e+18,1e+21]');
    // An integral double within 2^53 loses its ".0": Python reads int 1; we read number 1.
    expect(encodeText(1.0)).toBe('1');
  });

  it('writes non-ASCII text as raw UTF-8 (Python accepts it)', () => {
    expect(encodeText('héllo ☃ 𝄞')).toBe('"héllo ☃ 𝄞"');
    expect(Array.from(jsonSerializer.encode('é'))).toStrictEqual([0x22, 0xc3, 0xa9, 0x22]);
    // A lone surrogate is escaped (it has no UTF-8 form); Python reads the escape.
    expect(encodeText('\ud800')).toBe('"\\ud800"');
    expect(decodeBoth('"\\ud800 \\udfff"')).toBe('\ud800 \udfff');
  });

  it('writes a Celery task body that reads back unchanged', () => {
    const body = [
      [1, 'two', 2n ** 64n],
      { key: 'value', nested: { list: [1.5, null, true] } },
      { callbacks: null, errbacks: null, chain: null, chord: null },
    ];
    const written = encodeText(body);
    expect(written).toBe(
      '[[1,"two",18446744073709551616],{"key":"value","nested":{"list":[1.5,null,true]}},' +
        '{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]',
    );
    expect(decodeBoth(written)).toStrictEqual(body);
  });
});

describe('kombu >= 5.3 tags', () => {
  // Each string is what kombu 5.3's JSONEncoder writes (kombu/utils/json.py: _as(), the
  // registered encoders and the bytes/base64 rule), produced with Python 3.11's json.dumps.
  const kombu53 = {
    bytesUtf8: '{"__type__": "bytes", "__value__": "h\\u00e9llo"}', // b"h\xc3\xa9llo"
    bytesBinary: '{"__type__": "base64", "__value__": "AAH+/w=="}', // b"\x00\x01\xfe\xff"
    bytesEmpty: '{"__type__": "bytes", "__value__": ""}', // b""
    bytesSurrogate: '{"__type__": "base64", "__value__": "7aCA"}', // b"\xed\xa0\x80", not UTF-8
    bytesBom: '{"__type__": "bytes", "__value__": "\\ufeffx"}', // b"\xef\xbb\xbfx"
    datetimeUtc: '{"__type__": "datetime", "__value__": "2024-01-02T03:04:05.678000+00:00"}',
    datetimeUtcWhole: '{"__type__": "datetime", "__value__": "2024-01-02T03:04:05+00:00"}',
    datetimeNaive: '{"__type__": "datetime", "__value__": "2024-01-02T03:04:05.678901"}',
    datetimeOffset: '{"__type__": "datetime", "__value__": "2024-01-02T03:04:05.678901+05:30"}',
    date: '{"__type__": "date", "__value__": "2024-01-02"}',
    time: '{"__type__": "time", "__value__": "03:04:05.678000"}',
    decimal: '{"__type__": "decimal", "__value__": "1.10"}',
    uuid: '{"__type__": "uuid", "__value__": {"hex": "12345678123456781234567812345678"}}',
    // kombu 5.3.0 also wrote the version (celery/kombu#1750 dropped it).
    uuid530: '{"__type__": "uuid", "__value__": {"hex": "12345678123456781234567812345678", "version": 1}}',
  };

  it('decodes bytes and base64 to Uint8Array', () => {
    expect(decodeBoth(kombu53.bytesUtf8)).toStrictEqual(new Uint8Array([0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f]));
    expect(decodeBoth(kombu53.bytesBinary)).toStrictEqual(new Uint8Array([0x00, 0x01, 0xfe, 0xff]));
    expect(decodeBoth(kombu53.bytesEmpty)).toStrictEqual(new Uint8Array([]));
    expect(decodeBoth(kombu53.bytesSurrogate)).toStrictEqual(new Uint8Array([0xed, 0xa0, 0x80]));
    expect(decodeBoth(kombu53.bytesBom)).toStrictEqual(new Uint8Array([0xef, 0xbb, 0xbf, 0x78]));
  });

  it('decodes datetime to Date, truncated to milliseconds, naive as UTC', () => {
    expect(decodeBoth(kombu53.datetimeUtc)).toStrictEqual(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)));
    expect(decodeBoth(kombu53.datetimeUtcWhole)).toStrictEqual(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)));
    expect(decodeBoth(kombu53.datetimeNaive)).toStrictEqual(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)));
    expect(decodeBoth(kombu53.datetimeOffset)).toStrictEqual(new Date(Date.UTC(2024, 0, 1, 21, 34, 5, 678)));
    expect(decodeBoth('{"__type__": "datetime", "__value__": "2024-01-02T03:04:05.678Z"}')).toStrictEqual(
      new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
    );
    expect(decodeBoth('{"__type__": "datetime", "__value__": "0001-01-01T00:00:00+00:00"}')).toStrictEqual(
      new Date('0001-01-01T00:00:00Z'),
    );
  });

  it('decodes date, time and decimal to their strings, uuid to its canonical string', () => {
    expect(decodeBoth(kombu53.date)).toBe('2024-01-02');
    expect(decodeBoth(kombu53.time)).toBe('03:04:05.678000');
    expect(decodeBoth(kombu53.decimal)).toBe('1.10');
    expect(decodeBoth(kombu53.uuid)).toBe('12345678-1234-5678-1234-567812345678');
    expect(decodeBoth(kombu53.uuid530)).toBe('12345678-1234-5678-1234-567812345678');
    expect(decodeBoth('{"__type__": "uuid", "__value__": "{12345678-1234-5678-1234-56781234567A}"}')).toBe(
      '12345678-1234-5678-1234-56781234567a',
    );
    expect(decodeBoth('{"__type__": "decimal", "__value__": "-Infinity"}')).toBe('-Infinity');
    expect(decodeBoth('{"__type__": "decimal", "__value__": "1E+3"}')).toBe('1E+3');
  });

  it('decodes tags bottom-up anywhere in the value', () => {
    expect(decodeBoth(`{"args": [${kombu53.bytesBinary}], "kwargs": {"when": ${kombu53.datetimeUtc}}}`)).toStrictEqual({
      args: [new Uint8Array([0, 1, 254, 255])],
      kwargs: { when: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) },
    });
  });

  it('reads a tag whose key is written with escapes', () => {
    expect(decodeBoth('{"\\u005f_type__": "bytes", "__valu\\u0065__": "x"}')).toStrictEqual(new Uint8Array([0x78]));
  });

  it('leaves a dict with __type__ and other keys, or a non-string __type__, as data', () => {
    expect(decodeBoth('{"__type__": "bytes", "__value__": "x", "other": 1}')).toStrictEqual({
      __type__: 'bytes',
      __value__: 'x',
      other: 1,
    });
    expect(decodeBoth('{"__type__": "bytes"}')).toStrictEqual({ __type__: 'bytes' });
    expect(decodeBoth('{"__type__": 1, "__value__": "x"}')).toStrictEqual({ __type__: 1, __value__: 'x' });
  });

  it('refuses an unknown tag with a DecodeError naming it', () => {
    const err = thrown(() => decode('[{"__type__": "frozenset", "__value__": [1]}]'));
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).code).toBe(ErrorCode.DECODE_FAILED);
    expect((err as Error).message).toContain('"frozenset"');
    expect(thrown(() => decodeJsonText('{"__type__": "frozenset", "__value__": [1]}', undefined, true))).toStrictEqual(err);
  });

  it('refuses malformed tag values with a DecodeError', () => {
    const bad = [
      '{"__type__": "bytes", "__value__": 1}',
      '{"__type__": "bytes", "__value__": "\\ud800"}', // Python: str.encode("utf-8") fails
      '{"__type__": "base64", "__value__": "AAH"}', // Python: Incorrect padding
      '{"__type__": "base64", "__value__": "AA-_"}', // url-safe alphabet: Python drops those characters
      '{"__type__": "datetime", "__value__": "2024-02-30T00:00:00"}',
      '{"__type__": "datetime", "__value__": "yesterday"}',
      '{"__type__": "datetime", "__value__": "0000-01-01T00:00:00"}',
      '{"__type__": "date", "__value__": "2024-13-01"}',
      '{"__type__": "time", "__value__": "25:00:00"}',
      '{"__type__": "decimal", "__value__": "one"}',
      '{"__type__": "uuid", "__value__": {"hex": "123"}}',
      '{"__type__": "uuid", "__value__": {"int": 5}}',
    ];
    for (const s of bad) {
      const err = thrown(() => decode(s));
      expect(err, s).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).code, s).toBe(ErrorCode.DECODE_FAILED);
    }
  });

  it('writes bytes and dates as kombu 5.3 writes them when tagged', () => {
    const cases: [unknown, string][] = [
      [new Uint8Array([0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f]), kombu53.bytesUtf8],
      [new Uint8Array([0x00, 0x01, 0xfe, 0xff]), kombu53.bytesBinary],
      [new Uint8Array([]), kombu53.bytesEmpty],
      [new Uint8Array([0xed, 0xa0, 0x80]), kombu53.bytesSurrogate],
      [new Uint8Array([0xef, 0xbb, 0xbf, 0x78]), kombu53.bytesBom],
      [new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), kombu53.datetimeUtc],
      [new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), kombu53.datetimeUtcWhole],
    ];
    for (const [value, python] of cases) {
      expect(encodeText(value, tagged)).toBe(compact(python));
      expect(tagged.decode(tagged.encode(value))).toStrictEqual(value);
    }
  });

  it('writes any binary view as its bytes when tagged', () => {
    const buffer = Buffer.from([1, 2, 3]);
    expect(encodeText([buffer, buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + 3)], tagged)).toBe(
      '[{"__type__":"bytes","__value__":"\\u0001\\u0002\\u0003"},{"__type__":"bytes","__value__":"\\u0001\\u0002\\u0003"}]',
    );
    const view = new Uint16Array([0xffff, 0xfeff]).subarray(1);
    expect(tagged.decode(tagged.encode(view))).toStrictEqual(new Uint8Array([0xff, 0xfe]));
  });
});

describe('bad input gives a typed error', () => {
  function expectDecodeError(data: Uint8Array | string): DecodeError {
    const err = thrown(() => jsonSerializer.decode(typeof data === 'string' ? bytesOf(data) : data));
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).code).toBe(ErrorCode.DECODE_FAILED);
    return err as DecodeError;
  }

  it('invalid UTF-8', () => {
    expectDecodeError(new Uint8Array([0x22, 0xff, 0x22]));
    expectDecodeError(new Uint8Array([0x22, 0xc3, 0x22])); // truncated sequence
    expectDecodeError(new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22])); // encoded surrogate, as Python refuses
    expectDecodeError(new Uint8Array([0x22, 0xc0, 0xaf, 0x22])); // overlong
  });

  it('a UTF-8 BOM, as Python’s json.loads refuses it', () => {
    expectDecodeError(new Uint8Array([0xef, 0xbb, 0xbf, 0x31]));
  });

  it('truncated JSON, with the position and an excerpt', () => {
    const err = expectDecodeError('[1, {"a": [2, 3');
    expect(err.message).toContain('unexpected end of input');
    expect(err.message).toContain('character 15');
    expect(err.message).toContain('[2, 3');
    for (const s of ['', '   ', '[', '{', '{"a"', '{"a":', '"abc', 'tru', 'nul', '-', '1.', '"\\u12', '[1,']) {
      expectDecodeError(s);
    }
  });

  it('trailing garbage', () => {
    const err = expectDecodeError('{"a": 1} x');
    expect(err.message).toContain('unexpected data after the JSON value');
    for (const s of ['1 2', '[] []', '"a" "b"', '01', '1e', 'nulls', '[1]]', 'NaNa']) expectDecodeError(s);
  });

  it('malformed tokens and structure', () => {
    for (const s of [
      '[1,]',
      '{"a":1,}',
      '{a: 1}',
      "{'a': 1}",
      '[1 2]',
      '{"a" 1}',
      '"\\x41"',
      '"\\u12G4"',
      '"a\nb"', // raw control character inside a string
      '+1',
      '.5',
      '-NaN',
      'infinity',
      'undefined',
      '[1,,2]',
      '\u00a01', // non-JSON whitespace
    ]) {
      expectDecodeError(s);
    }
  });

  it('the same error from both paths', () => {
    for (const s of ['[1, 2', '{"a": 1} x', '[1,]', '"\\x"', '{"a" 1}']) {
      expect(thrown(() => decodeJsonText(s))).toStrictEqual(thrown(() => decodeJsonText(s, undefined, true)));
    }
  });

  it('10^6-deep nesting: LimitExceededError, no stack overflow', () => {
    for (const s of ['['.repeat(1e6), '[{"a":'.repeat(5e5), `${'['.repeat(1e6)}${']'.repeat(1e6)}`]) {
      const err = thrown(() => decode(s)); // default limits: 64 MiB, depth 128
      expect(err).toBeInstanceOf(LimitExceededError);
      expect((err as LimitExceededError).code).toBe(ErrorCode.LIMIT_EXCEEDED);
      expect((err as LimitExceededError).limit).toBe(128);
    }
  });

  it('the slow parser itself never recurses, whatever maxDepth allows', () => {
    const deep = `${'['.repeat(2e5)}1${']'.repeat(2e5)}`;
    let value = decodeJsonText(deep, { maxBytes: 1e7, maxDepth: 1e6 }, true);
    let depth = 0;
    while (Array.isArray(value)) {
      value = (value as WireValue[])[0] as WireValue;
      depth++;
    }
    expect(depth).toBe(2e5);
  });

  it('nesting at the limit is fine, one more level is not (both paths)', () => {
    const limits = { maxBytes: 1e6, maxDepth: 3 };
    expect(decode('[{"a": []}]', limits)).toStrictEqual([{ a: [] }]);
    expect(decodeJsonText('[{"a": []}]', limits, true)).toStrictEqual([{ a: [] }]);
    expect(thrown(() => decode('[{"a": [[]]}]', limits))).toBeInstanceOf(LimitExceededError);
    expect(thrown(() => decodeJsonText('[{"a": [[]]}]', limits, true))).toBeInstanceOf(LimitExceededError);
    // Brackets inside strings do not count.
    expect(decode('[["[[[[{{{{"]]', limits)).toStrictEqual([['[[[[{{{{']]);
    expect(decode('[["\\"[[[[\\\\"]]', limits)).toStrictEqual([['"[[[[\\']]);
  });

  it('bytes over maxBytes, checked before decoding', () => {
    const data = bytesOf('[1, 2, 3]');
    const err = thrown(() => jsonSerializer.decode(data, { maxBytes: data.byteLength - 1, maxDepth: 128 }));
    expect(err).toBeInstanceOf(LimitExceededError);
    expect((err as LimitExceededError).code).toBe(ErrorCode.LIMIT_EXCEEDED);
    expect((err as LimitExceededError).actual).toBe(data.byteLength);
    expect(jsonSerializer.decode(data, { maxBytes: data.byteLength, maxDepth: 128 })).toStrictEqual([1, 2, 3]);
    // Size comes first: not even UTF-8 is looked at.
    expect(thrown(() => jsonSerializer.decode(new Uint8Array(10).fill(0xff), { maxBytes: 5, maxDepth: 128 }))).toBeInstanceOf(
      LimitExceededError,
    );
  });

  it('an integer beyond Python’s 4300-digit limit', () => {
    expectDecodeError('1'.repeat(4301));
    expect(decode('9'.repeat(4300))).toBe(BigInt('9'.repeat(4300)));
  });

  it('an unknown __type__ tag', () => {
    const err = expectDecodeError('{"__type__": "pickle", "__value__": "gASVAAAA"}');
    expect(err.message).toContain('"pickle"');
  });
});

describe('__proto__ and constructor keys', () => {
  it('stay own data keys of a plain object, both paths', () => {
    for (const forceSlow of [false, true]) {
      const value = decodeJsonText('{"__proto__": {"x": 1}, "constructor": {"prototype": {"y": 2}}}', undefined, forceSlow) as Record<
        string,
        WireValue
      >;
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(Object.keys(value)).toStrictEqual(['__proto__', 'constructor']);
      expect(Object.getOwnPropertyDescriptor(value, '__proto__')).toStrictEqual({
        value: { x: 1 },
        writable: true,
        enumerable: true,
        configurable: true,
      });
      expect(Object.getOwnPropertyDescriptor(value, 'constructor')?.value).toStrictEqual({ prototype: { y: 2 } });
      expect((value as { x?: unknown }).x).toBeUndefined();
    }
    expect(({} as { x?: unknown; y?: unknown }).x).toBeUndefined();
    expect(({} as { x?: unknown; y?: unknown }).y).toBeUndefined();
  });

  it('survive the slow path (big integers, NaN, tags) too', () => {
    const value = decode('{"__proto__": {"x": 1180591620717411303424, "n": NaN}, "t": {"__type__": "bytes", "__value__": ""}}') as Record<
      string,
      WireValue
    >;
    expect(Object.hasOwn(value, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toStrictEqual({ x: 1180591620717411303424n, n: NaN });
    expect(({} as { x?: unknown }).x).toBeUndefined();
  });

  it('round-trip', () => {
    const written = '{"__proto__":{"x":1},"constructor":2}';
    expect(encodeText(decode(written))).toBe(written);
    expect(encodeText(JSON.parse(written))).toBe(written);
  });

  it('nested __proto__ inside arrays and duplicates', () => {
    const value = decodeBoth('[{"__proto__": 1, "__proto__": 2}]') as [Record<string, WireValue>];
    expect(Object.getOwnPropertyDescriptor(value[0], '__proto__')?.value).toBe(2);
    expect(Object.getPrototypeOf(value[0])).toBe(Object.prototype);
  });
});

describe('decode details', () => {
  it('duplicate keys: the last wins, as in Python', () => {
    expect(decodeBoth('{"a": 1, "b": 2, "a": 3}')).toStrictEqual({ a: 3, b: 2 });
    expect(decodeBoth('{"a": 1, "a": 1180591620717411303424}')).toStrictEqual({ a: 1180591620717411303424n });
  });

  it('accepts JSON whitespace and scalars at the top level', () => {
    expect(decodeBoth(' \t\r\n[ 1 , { "a" : null } ] \n')).toStrictEqual([1, { a: null }]);
    expect(decodeBoth('"x"')).toBe('x');
    expect(decodeBoth('null')).toBeNull();
    expect(decodeBoth('true')).toBe(true);
    expect(decodeBoth('-0')).toBe(-0);
    expect(decodeBoth('[]')).toStrictEqual([]);
    expect(decodeBoth('{}')).toStrictEqual({});
  });

  it('decodes every escape', () => {
    expect(decodeBoth('"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\u00e9"')).toBe('" \\ / \b \f \n \r \t A é');
  });

  it('takes the fast path only when it is exact', () => {
    expect(isFastPathText('[1, "a", {"b": 123456789012345}]')).toBe(true);
    expect(isFastPathText('[1234567890123456]')).toBe(false); // 16 digits: maybe beyond 2^53
    expect(isFastPathText('["1234567890123456789"]')).toBe(true); // digits inside a string are text
    expect(isFastPathText('[NaN]')).toBe(false);
    expect(isFastPathText('["NaN", "Infinity"]')).toBe(true);
    expect(isFastPathText('{"__type__": "x"}')).toBe(false);
    expect(isFastPathText('["\\u00e9"]')).toBe(true);
    expect(isFastPathText('["\\u005f"]')).toBe(false); // could spell __type__
  });
});

describe('encode', () => {
  it('follows JSON.stringify for undefined, toJSON and boxed primitives', () => {
    expect(encodeText({ a: undefined, b: [undefined, 1], c: 2 })).toBe('{"b":[null,1],"c":2}');
    expect(encodeText({ when: { toJSON: (key: string) => `key ${key}` } })).toBe('{"when":"key when"}');
    expect(encodeText([{ toJSON: () => undefined }])).toBe('[null]');
    expect(encodeText({ x: { toJSON: () => undefined } })).toBe('{}');
    expect(encodeText([Object(1), Object('s'), Object(false)])).toBe('[1,"s",false]');
    expect(encodeText(Object.create(null))).toBe('{}');
    const shared = { s: 1 };
    expect(encodeText([shared, shared])).toBe('[{"s":1},{"s":1}]');
  });

  it('escapes what JSON needs escaped', () => {
    expect(encodeText({ 'k"\\\n': '\u0000\u001f"\\' })).toBe('{"k\\"\\\\\\n":"\\u0000\\u001f\\"\\\\"}');
  });

  it('writes Date with toJSON-free handling and refuses dates Python cannot hold', () => {
    expect(encodeText({ d: new Date(Date.UTC(2024, 0, 2)) })).toBe('{"d":"2024-01-02T00:00:00.000000Z"}');
    for (const d of [new Date(Number.NaN), new Date(Date.UTC(10000, 0, 1)), new Date('0000-06-01T00:00:00Z')]) {
      const err = thrown(() => jsonSerializer.encode({ d }));
      expect(err).toBeInstanceOf(EncodeError);
      expect((err as EncodeError).path).toBe('d');
    }
  });

  it('refuses bytes without tags, naming the path and msgpack', () => {
    for (const bytes of [new Uint8Array([1]), Buffer.from('x'), new ArrayBuffer(2), new DataView(new ArrayBuffer(1))]) {
      const err = thrown(() => jsonSerializer.encode({ args: [1, bytes] }));
      expect(err).toBeInstanceOf(EncodeError);
      expect((err as EncodeError).code).toBe(ErrorCode.ENCODE_FAILED);
      expect((err as EncodeError).path).toBe('args[1]');
      expect((err as Error).message).toContain('args[1]');
      expect((err as Error).message).toContain('msgpack');
      expect((err as Error).message).toContain('bytes');
    }
  });

  it('refuses a circular value', () => {
    const a: Record<string, unknown> = { n: 1 };
    a['self'] = [a];
    const err = thrown(() => jsonSerializer.encode({ root: a }));
    expect(err).toBeInstanceOf(EncodeError);
    expect((err as EncodeError).code).toBe(ErrorCode.ENCODE_FAILED);
    expect((err as EncodeError).path).toBe('root.self[0]');
    expect((err as Error).message).toContain('circular');
  });

  it('refuses what JSON cannot carry, with a path', () => {
    class Point {
      x = 1;
    }
    const cases: [unknown, string][] = [
      [{ m: new Map([[1, 2]]) }, 'm'],
      [{ s: new Set([1]) }, 's'],
      [[1, Symbol('x')], '[1]'],
      [{ f: () => 1 }, 'f'],
      [[() => 1], '[0]'],
      [{ p: new Point() }, 'p'],
      [{ 'a b': [new Error('x')] }, '["a b"][0]'],
      [undefined, '(root)'],
      [Symbol('root'), '(root)'],
      [{ big: 10n ** 4300n }, 'big'], // 4301 digits: Python would refuse to read it
    ];
    for (const [value, path] of cases) {
      const err = thrown(() => jsonSerializer.encode(value));
      expect(err, path).toBeInstanceOf(EncodeError);
      expect((err as EncodeError).path, path).toBe(path);
    }
  });

  it('refuses nesting beyond 1000 levels with an EncodeError', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 1000; i++) deep = [deep];
    expect(jsonSerializer.encode(deep).byteLength).toBe(2001);
    deep = [deep];
    const err = thrown(() => jsonSerializer.encode(deep));
    expect(err).toBeInstanceOf(EncodeError);
    expect((err as EncodeError).path?.length).toBeLessThan(200);
  });

  it('wraps what a getter or toJSON throws in an EncodeError', () => {
    const getter = {
      get boom(): never {
        throw new TypeError('no');
      },
    };
    const err = thrown(() => jsonSerializer.encode({ a: getter }));
    expect(err).toBeInstanceOf(EncodeError);
    expect((err as EncodeError).cause).toBeInstanceOf(TypeError);
    const err2 = thrown(() =>
      jsonSerializer.encode([
        {
          toJSON(): never {
            throw new RangeError('nope');
          },
        },
      ]),
    );
    expect(err2).toBeInstanceOf(EncodeError);
    expect((err2 as EncodeError).path).toBe('[0]');
  });

  it('returns plain Uint8Array bytes', () => {
    const out = jsonSerializer.encode([1]);
    expect(out).toBeInstanceOf(Uint8Array);
    expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
  });
});

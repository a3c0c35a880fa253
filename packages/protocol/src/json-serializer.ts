/**
 * The `json` serializer: kombu's JSON, read and written so that Python Celery 5.2 (kombu 5.2)
 * and, with `tagged: true`, kombu >= 5.3 peers understand it.
 *
 * Decoding is two-speed. The common task body has no integer of 16+ digits and no bare
 * `NaN`/`Infinity` token, so after one cheap scan (which also enforces the nesting limit) it
 * goes to the native `JSON.parse`. Everything else (big integers, Python's non-finite floats,
 * anything that may hold a kombu >= 5.3 tag) goes through a small hand-written parser that
 * follows Python's `json` grammar. Both give identical results, including identical errors.
 *
 * Python ↔ TypeScript decisions, in one place:
 *
 * - Integers beyond ±(2^53 − 1) decode to `bigint`, losslessly; an encoded `bigint` is its
 *   decimal digits, so a `bigint` inside the safe range comes back as a `number`.
 *   Integers of more than 4300 digits are refused both ways, as Python >= 3.11 refuses them
 *   (`sys.int_info.default_max_str_digits`; parsing them is quadratic, a DoS vector).
 * - A double is written in the shortest form that reads back to the same double. An
 *   integral double inside the safe range is written without `.0` (`1.0` → `1`, which Python
 *   reads as `int` 1); one beyond it is written with an exponent (`1.152921504606847e+18`) so
 *   that it stays a float in Python and a `number` here instead of turning into a `bigint`.
 * - `-0` is written `-0.0` (Python's `float` −0.0) and `-0.0` reads back as `-0`. The integer
 *   literal `-0` also reads as `-0` (Python would read `int` 0; no observable difference there).
 * - `NaN`, `Infinity`, `-Infinity` are written and read as bare tokens, as Python's
 *   `allow_nan=True` does (`JSON.parse` alone would reject them).
 * - `Date` is written as kombu 5.2 writes an aware UTC datetime: ISO 8601 with six fractional
 *   digits and `Z` (`"2024-01-02T03:04:05.678000Z"`; six digits because Celery reads the
 *   digits as microseconds, see celery-wire.md §1.4). It reads back as that string: kombu 5.2
 *   JSON does not mark datetimes.
 * - Keys `__proto__` and `constructor` are own data properties of plain objects, never a
 *   prototype change. Duplicate keys: the last one wins, as in Python.
 * - JavaScript orders integer-like keys (`"1"`, `"42"`) before other keys; Python keeps
 *   insertion order. Only key order differs, never content.
 *
 * kombu >= 5.3 tags — `{"__type__": tag, "__value__": v}`, exactly those two keys — are always
 * decoded (a kombu 5.2 peer never writes them), bottom-up as kombu's `object_hook` does:
 *
 * | tag | kombu 5.3 writes | decoded as |
 * |---|---|---|
 * | `bytes` | the bytes as a UTF-8 string (bytes that are valid UTF-8) | `Uint8Array` |
 * | `base64` | standard base64 with padding (other bytes) | `Uint8Array` |
 * | `datetime` | `datetime.isoformat()` | `Date`, truncated to milliseconds; naive → UTC |
 * | `date` | `date.isoformat()` (`2024-01-02`) | that string |
 * | `time` | `time.isoformat()` (`03:04:05.678000`) | that string |
 * | `decimal` | `str(Decimal)` (`1.10`) | that string (no precision lost) |
 * | `uuid` | `{"hex": "<32 hex digits>"}` (5.3.0 also `"version"`) | canonical `8-4-4-4-12` lower-case string |
 *
 * An unknown tag is a {@link DecodeError} naming it. That is our choice and also what kombu
 * >= 5.3 does: its `object_hook` raises `ValueError("Unsupported type", ...)` rather than
 * leaving the dict alone. A dict with `__type__` and any other key, or with a non-string
 * `__type__` (kombu would fail on that one), is plain data. A `uuid` whose `__value__` is a
 * plain string (a common `register_type` override) is accepted too. As in kombu, user data
 * that happens to be exactly `{"__type__": ..., "__value__": ...}` cannot be told from a tag.
 *
 * With `tagged: true` the encoder writes bytes (any `ArrayBuffer` or view) and `Date` as
 * kombu >= 5.3 tags, byte for byte as kombu 5.3 writes them (up to whitespace and
 * `ensure_ascii`): valid UTF-8 as `bytes`, anything else as `base64`; a `Date` as
 * `datetime.isoformat()` of an aware UTC datetime (`+00:00`, which `fromisoformat` reads on
 * every Python; no fraction when the milliseconds are 0). Without it, bytes are an
 * {@link EncodeError} (as kombu 5.2: "Object of type bytes is not JSON serializable").
 *
 * @see celery-wire.md §3, §3.1
 * @module
 */

import { CeleriacError, DecodeError, EncodeError, LimitExceededError } from './errors.ts';
import {
  DEFAULT_DECODE_LIMITS,
  formatPath,
  type DecodeLimits,
  type Serializer,
  type WireValue,
} from './serializer.ts';

const CONTENT_TYPE = 'application/json';

/** Deepest nesting the encoder writes; Python's own recursion limit is near 1000. */
const MAX_ENCODE_DEPTH = 1000;

/** Python >= 3.11 refuses to convert integers of more digits than this (`int_max_str_digits`). */
const MAX_INT_DIGITS = 4300;

/** The tags kombu >= 5.3 registers by default. */
const KNOWN_TAGS = ['bytes', 'base64', 'datetime', 'date', 'time', 'decimal', 'uuid'] as const;

/** Options of {@link createJsonSerializer}. */
export interface JsonSerializerOptions {
  /**
   * Write bytes and dates as kombu >= 5.3 tagged objects (`{"__type__": "bytes", ...}`).
   * Only for peers that all run kombu >= 5.3 (Celery >= 5.3): Celery 5.2 would see the
   * wrapper dicts as plain data. Tags are always *read*, whatever this says.
   * Defaults to `false`.
   */
  readonly tagged?: boolean;
}

// Shared, stateless when not streaming. `ignoreBOM: true` keeps a BOM in the text so that it is
// refused, as Python's `json.loads` refuses it ("Unexpected UTF-8 BOM").
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * Creates a `json` serializer (content type `application/json`, encoding `utf-8`).
 *
 * @param options - `tagged`: write kombu >= 5.3 tags for bytes and dates
 * @returns the serializer
 * @see celery-wire.md §3.1
 *
 * @example
 * ```ts
 * const json = createJsonSerializer();
 * json.decode(new TextEncoder().encode('[1180591620717411303424, NaN]')); // [1180591620717411303424n, NaN]
 * ```
 */
export function createJsonSerializer(options: JsonSerializerOptions = {}): Serializer {
  const tagged = options.tagged === true;
  return Object.freeze({
    name: 'json',
    contentType: CONTENT_TYPE,
    contentEncoding: 'utf-8' as const,
    encode(value: unknown): Uint8Array {
      return utf8Encoder.encode(encodeJsonText(value, tagged));
    },
    decode(data: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): WireValue {
      if (data.byteLength > limits.maxBytes) {
        throw new LimitExceededError('JSON payload size in bytes', limits.maxBytes, data.byteLength, {
          contentType: CONTENT_TYPE,
        });
      }
      let text: string;
      try {
        text = utf8Decoder.decode(data);
      } catch (cause) {
        throw new DecodeError(`Invalid UTF-8 in JSON payload of ${data.byteLength} bytes`, {
          contentType: CONTENT_TYPE,
          cause,
        });
      }
      return decodeJsonText(text, limits);
    },
  });
}

/** The default `json` serializer: kombu 5.2 compatible, no tags written (tags are read). */
export const jsonSerializer: Serializer = createJsonSerializer();

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes JSON text (already UTF-8 decoded). Exposed for tests and benchmarks; use
 * {@link Serializer.decode} otherwise.
 *
 * @internal
 * @param text - the JSON text
 * @param limits - `maxDepth` is enforced here (`maxBytes` is the caller's)
 * @param forceSlowPath - skip the `JSON.parse` fast path
 * @returns the decoded value
 * @throws {@link DecodeError} or {@link LimitExceededError}
 */
export function decodeJsonText(
  text: string,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
  forceSlowPath = false,
): WireValue {
  const fast = prescan(text, limits.maxDepth) && !forceSlowPath && !mayHoldTag(text);
  if (!fast) return new SlowParser(text, limits.maxDepth).parse();
  try {
    return JSON.parse(text) as WireValue;
  } catch {
    // JSON.parse's messages differ between engines and versions: let the reference parser find
    // and describe the error, so that both paths fail the same way.
    return new SlowParser(text, limits.maxDepth).parse();
  }
}

/**
 * Whether {@link decodeJsonText} would take the `JSON.parse` fast path for this text.
 *
 * @internal
 * @param text - the JSON text
 * @param maxDepth - the nesting limit
 * @returns `true` for the fast path
 * @throws {@link LimitExceededError} when the text nests deeper than `maxDepth`
 */
export function isFastPathText(text: string, maxDepth: number = DEFAULT_DECODE_LIMITS.maxDepth): boolean {
  return prescan(text, maxDepth) && !mayHoldTag(text);
}

/**
 * One pass over the text, strings skipped with `indexOf`: enforces the nesting limit before
 * anything is built (so `[[[[…` a million deep costs a scan, not a stack overflow), and tells
 * whether `JSON.parse` gives the right answer: not when a number token has 16+ digits (it
 * could be an integer beyond 2^53) or a bare `NaN`/`Infinity` appears outside strings.
 * Malformed text may be counted loosely; the parser reports it afterwards.
 */
function prescan(text: string, maxDepth: number): boolean {
  let fast = true;
  let depth = 0;
  let digits = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (++digits === 16) fast = false;
      continue;
    }
    digits = 0;
    switch (c) {
      case 0x22: {
        // '"': jump to the closing quote, one not preceded by an odd run of backslashes.
        let j = text.indexOf('"', i + 1);
        while (j !== -1) {
          let k = j - 1;
          while (text.charCodeAt(k) === 0x5c) k--;
          if ((j - k) % 2 === 1) break;
          j = text.indexOf('"', j + 1);
        }
        if (j === -1) return fast; // unterminated string: the parser reports it
        i = j;
        break;
      }
      case 0x5b: // [
      case 0x7b: // {
        if (++depth > maxDepth) {
          throw new LimitExceededError(
            `JSON nesting depth (counted up to the first level over the limit, at character ${i})`,
            maxDepth,
            depth,
            { contentType: CONTENT_TYPE },
          );
        }
        break;
      case 0x5d: // ]
      case 0x7d: // }
        depth--;
        break;
      case 0x4e: // N (NaN)
      case 0x49: // I (Infinity)
        fast = false;
        break;
    }
  }
  return fast;
}

// A key `__type__` can only come from text holding `__type__` literally or with one of its
// letters (`_` 0x5F, `e` 0x65, `p` 0x70, `t` 0x74, `y` 0x79) written as a `\u00XX` escape.
const ESCAPED_TAG_LETTER = /\\u00[5-7][0-9a-fA-F]/;

function mayHoldTag(text: string): boolean {
  return text.includes('__type__') || (text.includes('\\u00') && ESCAPED_TAG_LETTER.test(text));
}

type JsonObject = { [key: string]: WireValue };

interface Frame {
  readonly container: WireValue[] | JsonObject;
  readonly isArray: boolean;
  key: string;
}

/**
 * The reference parser: Python's `json` grammar (RFC 8259 plus `NaN`, `Infinity`,
 * `-Infinity`), lossless big integers, kombu >= 5.3 tags decoded when an object closes.
 * Iterative, so no input can overflow the stack whatever `maxDepth` is.
 */
class SlowParser {
  readonly #text: string;
  readonly #maxDepth: number;
  #i = 0;

  constructor(text: string, maxDepth: number) {
    this.#text = text;
    this.#maxDepth = maxDepth;
  }

  parse(): WireValue {
    const text = this.#text;
    const stack: Frame[] = [];
    this.#skipWhitespace();
    for (;;) {
      // Parse one value; containers push a frame and loop back here for their first member.
      let value: WireValue;
      const c = text.charCodeAt(this.#i);
      if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        if (stack.length >= this.#maxDepth) {
          throw new LimitExceededError('JSON nesting depth', this.#maxDepth, stack.length + 1, {
            contentType: CONTENT_TYPE,
          });
        }
        this.#i++;
        this.#skipWhitespace();
        if (c === 0x5b) {
          if (text.charCodeAt(this.#i) === 0x5d) {
            this.#i++;
            value = [];
          } else {
            stack.push({ container: [], isArray: true, key: '' });
            continue;
          }
        } else if (text.charCodeAt(this.#i) === 0x7d) {
          this.#i++;
          value = {};
        } else {
          stack.push({ container: {}, isArray: false, key: this.#parseKey() });
          continue;
        }
      } else {
        value = this.#parseScalar(c);
      }

      // Hand the value to its container; close containers as long as they end here.
      for (;;) {
        const frame = stack[stack.length - 1];
        if (frame === undefined) {
          this.#skipWhitespace();
          if (this.#i < text.length) this.#fail('unexpected data after the JSON value');
          return value;
        }
        if (frame.isArray) (frame.container as WireValue[]).push(value);
        else setOwn(frame.container as JsonObject, frame.key, value);
        this.#skipWhitespace();
        const d = text.charCodeAt(this.#i);
        if (d === 0x2c /* , */) {
          this.#i++;
          this.#skipWhitespace();
          if (!frame.isArray) frame.key = this.#parseKey();
          break;
        }
        if (d === (frame.isArray ? 0x5d : 0x7d)) {
          this.#i++;
          stack.pop();
          value = frame.isArray ? frame.container : decodeIfTagged(frame.container as JsonObject);
          continue;
        }
        this.#fail(frame.isArray ? "expected ',' or ']'" : "expected ',' or '}'");
      }
    }
  }

  /** Parses `"key"` `:` and the whitespace after it. */
  #parseKey(): string {
    if (this.#text.charCodeAt(this.#i) !== 0x22) this.#fail('expected a double-quoted property name');
    const key = this.#parseString();
    this.#skipWhitespace();
    if (this.#text.charCodeAt(this.#i) !== 0x3a /* : */) this.#fail("expected ':'");
    this.#i++;
    this.#skipWhitespace();
    return key;
  }

  #parseScalar(c: number): WireValue {
    const text = this.#text;
    switch (c) {
      case 0x22:
        return this.#parseString();
      case 0x74: // t
        return this.#literal('true', true);
      case 0x66: // f
        return this.#literal('false', false);
      case 0x6e: // n
        return this.#literal('null', null);
      case 0x4e: // N
        return this.#literal('NaN', Number.NaN);
      case 0x49: // I
        return this.#literal('Infinity', Number.POSITIVE_INFINITY);
      case 0x2d: // -
        if (text.startsWith('-Infinity', this.#i)) return this.#literal('-Infinity', Number.NEGATIVE_INFINITY);
        return this.#parseNumber();
      default:
        if (c >= 0x30 && c <= 0x39) return this.#parseNumber();
        return this.#fail(Number.isNaN(c) ? 'unexpected end of input' : 'expected a JSON value');
    }
  }

  #literal<T extends WireValue>(word: string, value: T): T {
    const text = this.#text;
    if (!text.startsWith(word, this.#i)) {
      const rest = text.slice(this.#i);
      if (rest.length < word.length && word.startsWith(rest)) {
        this.#i = text.length;
        this.#fail('unexpected end of input');
      }
      this.#fail('expected a JSON value');
    }
    this.#i += word.length;
    return value;
  }

  /** `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`, as Python's scanner. */
  #parseNumber(): number | bigint {
    const text = this.#text;
    const start = this.#i;
    let i = start;
    if (text.charCodeAt(i) === 0x2d) i++;
    const intStart = i;
    const first = text.charCodeAt(i);
    if (first === 0x30) i++;
    else if (first >= 0x31 && first <= 0x39) i = skipDigits(text, i + 1);
    else {
      this.#i = i;
      this.#fail(Number.isNaN(first) ? 'unexpected end of input' : 'expected a digit');
    }
    const intDigits = i - intStart;
    let integral = true;
    if (text.charCodeAt(i) === 0x2e /* . */ && isDigit(text.charCodeAt(i + 1))) {
      i = skipDigits(text, i + 2);
      integral = false;
    }
    const e = text.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      let j = i + 1;
      const sign = text.charCodeAt(j);
      if (sign === 0x2b || sign === 0x2d) j++;
      if (isDigit(text.charCodeAt(j))) {
        i = skipDigits(text, j + 1);
        integral = false;
      }
    }
    this.#i = i;
    const token = text.slice(start, i);
    if (!integral) return Number(token);
    if (intDigits > MAX_INT_DIGITS) {
      this.#i = start;
      this.#fail(`integer of ${intDigits} digits exceeds Python's limit of ${MAX_INT_DIGITS} digits`);
    }
    const n = Number(token);
    // An integer literal whose exact value is beyond 2^53 - 1 rounds to a non-safe double.
    return Number.isSafeInteger(n) ? n : BigInt(token);
  }

  /** Parses a string starting at its opening quote. */
  #parseString(): string {
    const text = this.#text;
    let i = this.#i + 1;
    let start = i;
    let out = '';
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        this.#i = i + 1;
        return out + text.slice(start, i);
      }
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text.charCodeAt(i + 1);
        switch (e) {
          case 0x22: out += '"'; break;
          case 0x5c: out += '\\'; break;
          case 0x2f: out += '/'; break;
          case 0x62: out += '\b'; break;
          case 0x66: out += '\f'; break;
          case 0x6e: out += '\n'; break;
          case 0x72: out += '\r'; break;
          case 0x74: out += '\t'; break;
          case 0x75: {
            // \uXXXX: exactly four hex digits. Lone surrogates are kept, as Python keeps them.
            let code = 0;
            for (let k = i + 2; k < i + 6; k++) {
              const h = hexValue(text.charCodeAt(k));
              if (h < 0) {
                this.#i = i;
                this.#fail('invalid \\u escape');
              }
              code = code * 16 + h;
            }
            out += String.fromCharCode(code);
            i += 4;
            break;
          }
          default:
            this.#i = i;
            this.#fail(Number.isNaN(e) ? 'unterminated string' : 'invalid escape');
        }
        i += 2;
        start = i;
        continue;
      }
      if (c < 0x20 || Number.isNaN(c)) {
        this.#i = i;
        this.#fail(Number.isNaN(c) ? 'unterminated string' : 'control character in string');
      }
      i++;
    }
  }

  #skipWhitespace(): void {
    const text = this.#text;
    let i = this.#i;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.#i = i;
  }

  #fail(what: string): never {
    const text = this.#text;
    const at = Math.min(this.#i, text.length);
    const reason =
      at < text.length || what.startsWith('unexpected end') || what.startsWith('unterminated')
        ? what
        : what === 'expected a JSON value'
          ? 'unexpected end of input'
          : `unexpected end of input (${what})`;
    const excerpt = text.slice(Math.max(0, at - 20), at + 20);
    throw new DecodeError(`Invalid JSON: ${reason} at character ${at} of ${text.length} (near ${JSON.stringify(excerpt)})`, {
      contentType: CONTENT_TYPE,
    });
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function skipDigits(text: string, i: number): number {
  while (isDigit(text.charCodeAt(i))) i++;
  return i;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** `obj[key] = value`, except that `__proto__` becomes an own data key, as `JSON.parse` does. */
function setOwn(obj: JsonObject, key: string, value: WireValue): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

// ---------------------------------------------------------------------------------------------
// kombu >= 5.3 tags

function decodeIfTagged(obj: JsonObject): WireValue {
  if (!Object.hasOwn(obj, '__type__') || !Object.hasOwn(obj, '__value__')) return obj;
  const type = obj['__type__'];
  if (typeof type !== 'string' || Object.keys(obj).length !== 2) return obj;
  return decodeTag(type, obj['__value__'] as WireValue);
}

function decodeTag(type: string, value: WireValue): WireValue {
  switch (type) {
    case 'bytes': {
      const text = tagString(type, value);
      // kombu: value.encode("utf-8"), which fails on a lone surrogate.
      if (LONE_SURROGATE.test(text)) throw tagError(type, value, 'a lone surrogate has no UTF-8 form');
      return utf8Encoder.encode(text);
    }
    case 'base64': {
      const text = tagString(type, value);
      if (!BASE64.test(text)) throw tagError(type, value, 'expected standard base64 with padding');
      const buf = Buffer.from(text, 'base64');
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice();
    }
    case 'datetime': {
      const date = parseIsoDatetime(tagString(type, value));
      if (date === undefined) throw tagError(type, value, 'expected an ISO 8601 datetime');
      return date;
    }
    case 'date': {
      const text = tagString(type, value);
      if (!ISO_DATE.test(text) || parseIsoDatetime(text) === undefined) {
        throw tagError(type, value, 'expected an ISO 8601 date (YYYY-MM-DD)');
      }
      return text;
    }
    case 'time': {
      const text = tagString(type, value);
      if (!ISO_TIME.test(text)) throw tagError(type, value, 'expected an ISO 8601 time');
      return text;
    }
    case 'decimal': {
      const text = tagString(type, value);
      if (!DECIMAL.test(text)) throw tagError(type, value, 'expected a decimal number');
      return text;
    }
    case 'uuid': {
      const uuid = parseUuid(value);
      if (uuid === undefined) throw tagError(type, value, 'expected {"hex": "<32 hex digits>"}');
      return uuid;
    }
    default:
      // kombu >= 5.3 refuses unknown tags too (ValueError("Unsupported type")); a peer that
      // registered its own type with kombu's register_type needs a decoder here.
      throw new DecodeError(
        `Unknown kombu JSON tag: __type__ ${JSON.stringify(type)} (known: ${KNOWN_TAGS.join(', ')})`,
        { contentType: CONTENT_TYPE },
      );
  }
}

const LONE_SURROGATE = /[\ud800-\udfff]/u;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_TIME = /^(?:[01]\d|2[0-3])(?::[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?)?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d(?::?[0-5]\d(?:\.\d{1,6})?)?)?$/;
const DECIMAL = /^[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?|inf(?:inity)?|s?nan\d*)$/i;
// What Python's datetime.fromisoformat reads (3.7+, plus 3.11's `Z` and basic offsets).
const ISO_DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(?:(Z)|([+-])(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?)?)?$/;

function tagString(type: string, value: WireValue): string {
  if (typeof value !== 'string') throw tagError(type, value, 'expected a string __value__');
  return value;
}

function tagError(type: string, value: WireValue, expected: string): DecodeError {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 60)) : describeWire(value);
  return new DecodeError(`Invalid kombu JSON tag ${JSON.stringify(type)}: ${expected}, got ${shown}`, {
    contentType: CONTENT_TYPE,
  });
}

function describeWire(value: WireValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof Date) return 'a datetime';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/**
 * Parses what Python's `datetime.fromisoformat` reads into a `Date`: sub-millisecond digits
 * are dropped (a `Date` has millisecond precision), a naive datetime is taken as UTC
 * (Celery's default timezone). Years 1–9999 only, as Python's `datetime`.
 */
function parseIsoDatetime(text: string): Date | undefined {
  const m = ISO_DATETIME.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4] ?? 0);
  const minute = Number(m[5] ?? 0);
  const second = Number(m[6] ?? 0);
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC: it maps years 0–99 to 1900–1999
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  date.setUTCHours(hour, minute, second, ms);
  let offsetMs = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11] ?? 0);
    const os = Number(m[12] ?? 0);
    const ofrac = Number((m[13] ?? '').padEnd(3, '0').slice(0, 3));
    if (oh > 23 || om > 59 || os > 59) return undefined;
    offsetMs = (m[9] === '-' ? -1 : 1) * (((oh * 60 + om) * 60 + os) * 1000 + ofrac);
  }
  return new Date(date.getTime() - offsetMs);
}

/** kombu 5.3 writes `{"hex": ...}` (5.3.0 also `"version"`); a plain string is accepted too. */
function parseUuid(value: WireValue): string | undefined {
  let hex: WireValue | undefined;
  if (typeof value === 'string') {
    hex = value;
  } else if (isJsonObject(value)) {
    for (const key of Object.keys(value)) if (key !== 'hex' && key !== 'version') return undefined;
    hex = value['hex'];
  }
  if (typeof hex !== 'string') return undefined;
  // As Python's uuid.UUID(hex=...): drop urn:/uuid: prefixes, braces and hyphens.
  const digits = hex.replace('urn:', '').replace('uuid:', '').replace(/^\{+|\}+$/g, '').replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(digits)) return undefined;
  const h = digits.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function isJsonObject(value: WireValue): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && !(value instanceof Date);
}

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * Encodes a value as JSON text. Exposed for tests; use {@link Serializer.encode} otherwise.
 *
 * @internal
 * @param value - the value
 * @param tagged - write bytes and dates as kombu >= 5.3 tags
 * @returns the JSON text
 * @throws {@link EncodeError} naming the path of what cannot be written
 */
export function encodeJsonText(value: unknown, tagged = false): string {
  return new Encoder(tagged).run(value);
}

class Encoder {
  readonly #tagged: boolean;
  #out = '';
  /** The key or index of the value at each depth, for error paths (index 0 is unused). */
  readonly #keys: (string | number)[] = [''];
  /** The open containers, innermost last, for cycle detection. */
  readonly #open: object[] = [];

  constructor(tagged: boolean) {
    this.#tagged = tagged;
  }

  run(value: unknown): string {
    try {
      const root = this.#resolve(value, '', 0);
      if (root === undefined) throw this.#error('undefined is not JSON serializable', 0);
      this.#write(root, 0);
      return this.#out;
    } catch (err) {
      if (err instanceof CeleriacError) throw err;
      // A throwing getter or Proxy trap: still a typed error, with where it happened.
      throw new EncodeError(`Cannot encode value as JSON: ${String(err)}`, {
        contentType: CONTENT_TYPE,
        path: this.#path(this.#open.length),
        cause: err,
      });
    }
  }

  /** Applies `toJSON(key)` as `JSON.stringify` does (bytes and `Date` are handled natively). */
  #resolve(value: unknown, key: string, depth: number): unknown {
    if (typeof value !== 'object' || value === null || value instanceof Date || ArrayBuffer.isView(value)) return value;
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON !== 'function') return value;
    try {
      return (toJSON as (key: string) => unknown).call(value, key);
    } catch (cause) {
      throw this.#error(`toJSON() of ${describe(value)} threw: ${String(cause)}`, depth, cause);
    }
  }

  #write(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'string':
        this.#out += quote(value);
        return;
      case 'number':
        this.#out += formatNumber(value);
        return;
      case 'boolean':
        this.#out += value ? 'true' : 'false';
        return;
      case 'bigint': {
        const digits = value.toString();
        if (digits.length - (value < 0n ? 1 : 0) > MAX_INT_DIGITS) {
          throw this.#error(`an integer of more than ${MAX_INT_DIGITS} digits is refused by Python's json`, depth);
        }
        this.#out += digits;
        return;
      }
      case 'object':
        if (value === null) this.#out += 'null';
        else this.#writeObject(value, depth);
        return;
      default:
        throw this.#error(`${describe(value)} is not JSON serializable`, depth);
    }
  }

  #writeObject(value: object, depth: number): void {
    if (Array.isArray(value)) {
      this.#enter(value, depth);
      const inner = depth + 1;
      const keys = this.#keys;
      this.#out += '[';
      for (let i = 0; i < value.length; i++) {
        if (i > 0) this.#out += ',';
        keys[inner] = i;
        const item = this.#resolve(value[i], String(i), inner);
        // JSON.stringify's rule: undefined in an array is written as null.
        if (item === undefined) this.#out += 'null';
        else this.#write(item, inner);
      }
      this.#out += ']';
      this.#open.pop();
      return;
    }
    if (value instanceof Date) {
      this.#writeDate(value, depth);
      return;
    }
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
      this.#writeBytes(value, depth);
      return;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      // Boxed primitives unwrap, as in JSON.stringify.
      if (value instanceof Number || value instanceof String || value instanceof Boolean) {
        this.#write(value.valueOf(), depth);
        return;
      }
      throw this.#error(`${describe(value)} is not JSON serializable (only plain objects, arrays and Dates are)`, depth);
    }
    this.#enter(value, depth);
    const inner = depth + 1;
    const record = value as Record<string, unknown>;
    let first = true;
    this.#out += '{';
    for (const key of Object.keys(record)) {
      this.#keys[inner] = key;
      const item = this.#resolve(record[key], key, inner);
      // JSON.stringify's rule: an undefined property is left out.
      if (item === undefined) continue;
      this.#out += first ? quote(key) + ':' : ',' + quote(key) + ':';
      first = false;
      this.#write(item, inner);
    }
    this.#out += '}';
    this.#open.pop();
  }

  #enter(container: object, depth: number): void {
    const open = this.#open;
    if (open.length >= MAX_ENCODE_DEPTH) {
      throw this.#error(`nesting deeper than ${MAX_ENCODE_DEPTH} levels is not encoded`, depth);
    }
    if (open.includes(container)) throw this.#error('circular reference', depth);
    open.push(container);
  }

  #writeDate(date: Date, depth: number): void {
    const time = date.getTime();
    const year = date.getUTCFullYear();
    if (Number.isNaN(time) || year < 1 || year > 9999) {
      throw this.#error(
        Number.isNaN(time) ? 'an invalid Date is not JSON serializable' : `a Date in year ${year} has no Python datetime (years 1-9999)`,
        depth,
      );
    }
    // toISOString: YYYY-MM-DDTHH:MM:SS.mmmZ for years 0-9999.
    const iso = date.toISOString();
    const seconds = iso.slice(0, 19);
    const millis = iso.slice(20, 23);
    if (this.#tagged) {
      // kombu 5.3 writes datetime.isoformat(): "+00:00" (fromisoformat before Python 3.11
      // refuses "Z"), and no fraction at all when the microseconds are 0.
      const value = millis === '000' ? `${seconds}+00:00` : `${seconds}.${millis}000+00:00`;
      this.#out += `{"__type__":"datetime","__value__":"${value}"}`;
    } else {
      this.#out += `"${seconds}.${millis}000Z"`;
    }
  }

  #writeBytes(value: ArrayBufferView | ArrayBuffer | SharedArrayBuffer, depth: number): void {
    if (!this.#tagged) {
      throw this.#error(
        `bytes (${describe(value)}) are not JSON serializable in kombu 5.2 JSON; ` +
          `use the msgpack serializer for binary data (or json with { tagged: true } if every peer runs kombu >= 5.3)`,
        depth,
      );
    }
    const bytes =
      value instanceof ArrayBuffer || value instanceof SharedArrayBuffer
        ? new Uint8Array(value)
        : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    // As kombu 5.3: bytes that are valid UTF-8 travel as text, others as base64.
    let text: string | undefined;
    try {
      text = utf8Decoder.decode(bytes);
    } catch {
      text = undefined;
    }
    // ignoreBOM keeps a leading U+FEFF, so the text re-encodes to the same bytes.
    this.#out +=
      text === undefined
        ? `{"__type__":"base64","__value__":"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"}`
        : `{"__type__":"bytes","__value__":${JSON.stringify(text)}}`;
  }

  #error(what: string, depth: number, cause?: unknown): EncodeError {
    return new EncodeError(`Cannot encode value as JSON: ${what}`, {
      contentType: CONTENT_TYPE,
      path: this.#path(depth),
      cause,
    });
  }

  /** The path to the value at `depth`, shortened when very deep. */
  #path(depth: number): string {
    if (depth <= 32) return formatPath(this.#keys.slice(1, depth + 1));
    return `${formatPath(this.#keys.slice(1, 17))}…(${depth} levels deep)`;
  }
}

// Characters JSON.stringify would escape (any surrogate, to let it handle lone ones).
// eslint-disable-next-line no-control-regex -- control characters are what JSON must escape
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** A JSON string literal; most strings need no escaping, and JSON.stringify copies. */
function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** Shortest round-trip form; see the module comment for `-0`, integral and non-finite doubles. */
function formatNumber(n: number): string {
  if (Number.isSafeInteger(n)) return Object.is(n, -0) ? '-0.0' : String(n);
  if (Number.isFinite(n)) return Number.isInteger(n) ? n.toExponential() : String(n);
  return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value !== 'object') return typeof value;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object';
}

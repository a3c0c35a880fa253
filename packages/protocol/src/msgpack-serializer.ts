/**
 * The `msgpack` serializer, byte-compatible with kombu 5.2 (`msgpack.packb(use_bin_type=True)`,
 * `msgpack.unpackb(raw=False)`).
 *
 * Encoding validates and normalizes the value (one walk), then writes it with
 * `@msgpack/msgpack`'s `Encoder`; decoding uses our own strict decoder
 * ({@link decodeMsgpack}).
 *
 * Value mapping, encode side:
 *
 * | TypeScript | msgpack | Python (kombu 5.2) reads |
 * |---|---|---|
 * | `null`; `undefined` inside an array | nil | `None` |
 * | `undefined` as an object property | (the key is left out, as `JSON.stringify` does) | — |
 * | `boolean` | true / false | `bool` |
 * | safe integer `number` (also `-0`, written as `0`) | smallest int format (positive fixint, uint 8..64, negative fixint, int 8..64), as Python's packer picks | `int` |
 * | other `number` (fractions, NaN, ±Infinity, integers beyond ±2^53) | float 64 | `float` |
 * | `bigint` in −2^63 .. 2^64−1 | smallest int format | `int` |
 * | `bigint` outside that range | {@link EncodeError} (Python raises `OverflowError` too) | — |
 * | `string` | str (UTF-8); a lone surrogate is an {@link EncodeError}, as Python's `UnicodeEncodeError` | `str` |
 * | `Uint8Array`, `Buffer`, any `ArrayBuffer` view | bin (the view's bytes) | `bytes` |
 * | `Date` | ext −1 timestamp (32/64/96-bit form, ms precision) | `msgpack.Timestamp` (kombu registers no datetime hook; Python's kombu cannot send a `datetime` in msgpack at all) |
 * | array | array | `list` |
 * | plain object (prototype `Object.prototype` or `null`) | map with str keys, in `Object.keys` order | `dict` |
 * | anything else (Map, Set, ArrayBuffer, functions, symbols, class instances, invalid Date, circular structures) | {@link EncodeError} with the path | — |
 *
 * Decode side: see {@link decodeMsgpack}.
 *
 * @see celery-wire.md §3 and §3.2
 * @module
 */
import { Encoder } from '@msgpack/msgpack';
import { CeleriacError, EncodeError } from './errors.ts';
import { decodeMsgpack } from './msgpack-decoder.ts';
import { DEFAULT_DECODE_LIMITS, formatPath, type DecodeLimits, type Serializer, type WireValue } from './serializer.ts';

const CONTENT_TYPE = 'application/x-msgpack';

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const INT32_MIN = -0x8000_0000;
const UINT32_LIMIT = 0x1_0000_0000;
const INT32_MIN_BIG = -0x8000_0000n;
const UINT32_LIMIT_BIG = 0x1_0000_0000n;

/**
 * After an encode larger than this, the shared `Encoder` is replaced: its internal buffer
 * only ever grows, and one 50 MB result should not stay pinned for the life of the process.
 */
const ENCODER_BUFFER_RETAIN_MAX = 1024 * 1024;

/** Options of {@link createMsgpackSerializer}. */
export interface MsgpackSerializerOptions {
  /**
   * Limits `decode()` applies when called without its own.
   * Defaults to {@link DEFAULT_DECODE_LIMITS}.
   */
  readonly decodeLimits?: DecodeLimits | undefined;
  /**
   * Deepest nesting `encode()` writes (the top-level container is depth 1). Deeper values,
   * and circular ones, are an {@link EncodeError}. Defaults to the default decode
   * `maxDepth` (128), so that what we write, we (and Python) can read back.
   */
  readonly maxEncodeDepth?: number | undefined;
}

/**
 * Creates a msgpack serializer (name `msgpack`, content type `application/x-msgpack`,
 * content encoding `binary`).
 *
 * Each serializer reuses one `@msgpack/msgpack` `Encoder` (its growable buffer makes
 * encoding faster); a re-entrant call (a getter that encodes while being encoded) is safe,
 * the `Encoder` then works on a clone.
 *
 * @param options - decode limits and the encode depth limit
 * @returns the serializer
 * @example
 * ```ts
 * const bytes = msgpackSerializer.encode([[2, 3], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]);
 * const body = msgpackSerializer.decode(bytes, { maxBytes: 1 << 20, maxDepth: 32 });
 * ```
 * @see celery-wire.md §3.2
 */
export function createMsgpackSerializer(options: MsgpackSerializerOptions = {}): Serializer {
  const defaultLimits = options.decodeLimits ?? DEFAULT_DECODE_LIMITS;
  const maxEncodeDepth = options.maxEncodeDepth ?? DEFAULT_DECODE_LIMITS.maxDepth;
  const makeEncoder = (): Encoder =>
    new Encoder({
      // bigint → uint 64 / int 64. With this option the Encoder writes safe integers beyond
      // 32 bits as float 64, so normalize() turns those into bigint first.
      useBigInt64: true,
      // `{ eta: undefined }` leaves the key out, as JSON.stringify and our json serializer do.
      ignoreUndefined: true,
      // normalize() enforces the real limit (with a path); +1 for the scalars inside the
      // deepest container, which the Encoder counts as a level of their own.
      maxDepth: maxEncodeDepth + 1,
    });
  let encoder = makeEncoder();

  return {
    name: 'msgpack',
    contentType: CONTENT_TYPE,
    contentEncoding: 'binary',

    encode(value: unknown): Uint8Array {
      if (value === undefined) {
        throw new EncodeError('Expected a value to encode as msgpack, got undefined', {
          contentType: CONTENT_TYPE,
          path: formatPath([]),
        });
      }
      const prepared = new Normalizer(maxEncodeDepth).normalize(value, 0);
      let out: Uint8Array;
      try {
        out = encoder.encode(prepared);
      } catch (error) {
        // normalize() should have refused everything the Encoder can throw on; a getter
        // that returns something else the second time it is read could still get here.
        if (error instanceof CeleriacError) throw error;
        throw new EncodeError(`Could not encode the value as msgpack: ${String(error)}`, {
          contentType: CONTENT_TYPE,
          cause: error,
        });
      }
      if (out.byteLength > ENCODER_BUFFER_RETAIN_MAX) encoder = makeEncoder();
      return out;
    },

    decode(data: Uint8Array, limits: DecodeLimits = defaultLimits): WireValue {
      return decodeMsgpack(data, limits);
    },
  };
}

/**
 * The default msgpack serializer, with {@link DEFAULT_DECODE_LIMITS} and an encode depth of
 * 128.
 *
 * @see {@link createMsgpackSerializer}
 */
export const msgpackSerializer: Serializer = createMsgpackSerializer();

/**
 * One validating walk over a value about to be encoded. It returns the value itself, or a
 * copy where something had to change (copy-on-write, so the common case allocates nothing):
 *
 * - safe integers beyond 32 bits become `bigint` (with `useBigInt64` the Encoder would
 *   otherwise write them as float 64, which Python reads back as a `float`);
 * - `bigint`s within −2^31 .. 2^32 become `number` so they get the smallest int format.
 *
 * Everything the Encoder would write wrongly or throw a bare `Error` on is refused here
 * with an {@link EncodeError} naming the path.
 */
class Normalizer {
  readonly #maxDepth: number;
  /** The path to the value being visited (keys and indexes), for error messages. */
  readonly #path: (string | number)[] = [];
  /** The arrays and objects that contain the value being visited, outermost first. */
  readonly #containers: object[] = [];

  constructor(maxDepth: number) {
    this.#maxDepth = maxDepth;
  }

  /**
   * @param value - the value to check
   * @param depth - how many containers hold it (0 at the root)
   * @returns the value to hand to the Encoder
   */
  normalize(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case 'boolean':
        return value;
      case 'string':
        if (!isWellFormed(value)) throw this.#error('Expected a string of well-formed UTF-16, got a lone surrogate');
        return value;
      case 'number':
        // Checked in this order so the common small numbers pay one comparison.
        if ((value >= UINT32_LIMIT || value < INT32_MIN) && Number.isSafeInteger(value)) return BigInt(value);
        return value;
      case 'bigint':
        if (value >= INT32_MIN_BIG && value < UINT32_LIMIT_BIG) return Number(value);
        if (value > UINT64_MAX || value < INT64_MIN) {
          throw this.#error(
            `Expected an integer in the int64/uint64 range (-2^63 .. 2^64-1), got ${value} ` +
              `(Python's msgpack raises OverflowError for it too)`,
          );
        }
        return value;
      case 'undefined':
        // Only reached for array items (the root and object properties are handled by the
        // callers): written as nil, as JSON.stringify writes null.
        return value;
      case 'object':
        if (value === null) return value;
        return this.#normalizeObject(value, depth);
      default:
        throw this.#error(`Expected a msgpack-encodable value, got a ${typeof value}`);
    }
  }

  #normalizeObject(value: object, depth: number): unknown {
    if (Array.isArray(value)) {
      this.#enter(value, depth + 1);
      const items = value as unknown[];
      let copy: unknown[] | undefined;
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        this.#path.push(i);
        const prepared = this.normalize(item, depth + 1);
        this.#path.pop();
        if (copy === undefined && !Object.is(prepared, item)) copy = items.slice(0, i);
        if (copy !== undefined) copy.push(prepared);
      }
      this.#containers.pop();
      return copy ?? value;
    }
    if (ArrayBuffer.isView(value)) return value;
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) throw this.#error('Expected a valid Date, got an Invalid Date');
      return value;
    }
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) throw this.#error(unsupportedObject(value, proto));

    this.#enter(value, depth + 1);
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    let copy: Record<string, unknown> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const item = record[key];
      this.#path.push(key);
      if (!isWellFormed(key)) throw this.#error('Expected a key of well-formed UTF-16, got a lone surrogate');
      // An undefined property is left out by the Encoder (ignoreUndefined); the copy skips it too.
      const prepared = item === undefined ? item : this.normalize(item, depth + 1);
      this.#path.pop();
      if (copy === undefined && !Object.is(prepared, item)) {
        copy = {};
        for (let j = 0; j < i; j++) {
          const earlier = keys[j] as string;
          setOwn(copy, earlier, record[earlier]);
        }
      }
      if (copy !== undefined) setOwn(copy, key, prepared);
    }
    this.#containers.pop();
    return copy ?? value;
  }

  /** Records entering a container at `depth`, refusing cycles and too-deep nesting. */
  #enter(container: object, depth: number): void {
    if (depth > this.#maxDepth) {
      // Cycles are only looked for once the depth limit is hit: a cycle always gets there,
      // and acyclic values pay nothing for the check.
      const containers = this.#containers;
      for (let j = 0; j < containers.length; j++) {
        const first = containers.indexOf(containers[j] as object);
        if (first < j) {
          throw new EncodeError(
            `Expected an acyclic value, got a circular reference: ${formatPath(this.#path.slice(0, j))} ` +
              `is ${formatPath(this.#path.slice(0, first))} again`,
            { contentType: CONTENT_TYPE, path: formatPath(this.#path.slice(0, j)) },
          );
        }
      }
      if (containers.includes(container)) {
        const first = containers.indexOf(container);
        throw new EncodeError(
          `Expected an acyclic value, got a circular reference: ${formatPath(this.#path)} ` +
            `is ${formatPath(this.#path.slice(0, first))} again`,
          { contentType: CONTENT_TYPE, path: formatPath(this.#path) },
        );
      }
      throw this.#error(`Expected nesting of at most ${this.#maxDepth} arrays/objects, got more`);
    }
    this.#containers.push(container);
  }

  #error(message: string): EncodeError {
    return new EncodeError(message, { contentType: CONTENT_TYPE, path: formatPath(this.#path) });
  }
}

function unsupportedObject(value: object, proto: unknown): string {
  let name = Object.prototype.toString.call(value).slice(8, -1);
  if (typeof proto === 'object' && proto !== null) {
    // Read the constructor through its descriptor so no user getter runs.
    const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
    if (typeof ctor === 'function' && ctor.name !== '') name = ctor.name;
  }
  const hint =
    value instanceof Map
      ? ' (convert it with Object.fromEntries)'
      : value instanceof Set
        ? ' (convert it with Array.from)'
        : value instanceof ArrayBuffer
          ? ' (wrap it: new Uint8Array(buffer))'
          : '';
  return `Expected a plain object, array, Uint8Array or Date, got a ${name}${hint}`;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty so `__proto__` stays an own data key instead of calling the setter.
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** `String.prototype.isWellFormed` (Node ≥ 20; not yet in the ES2023 lib typings). */
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

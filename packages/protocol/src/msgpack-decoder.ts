/**
 * A small, strict MessagePack decoder for untrusted task bodies and result metas.
 *
 * Why not `@msgpack/msgpack`'s `Decoder`: it throws on a `__proto__` map key (a Python kwargs
 * dict may carry one legitimately), has no nesting limit, and hands unknown ext types back as
 * `ExtData`. This decoder is iterative (an explicit frame stack, so no input can overflow the
 * call stack), checks every length header against the bytes that remain before allocating,
 * and accepts exactly what Python's `msgpack.unpackb(raw=False)` produces for kombu, plus the
 * timestamp extension.
 *
 * @see celery-wire.md §3.2
 * @module
 */
import { DecodeError, LimitExceededError } from './errors.ts';
import type { DecodeLimits, WireValue } from './serializer.ts';

/** The content type named in every decode error. */
const CONTENT_TYPE = 'application/x-msgpack';
const CONTEXT = { contentType: CONTENT_TYPE } as const;

/** The msgpack ext type of the standard timestamp. */
const EXT_TIMESTAMP = -1;

/** `Date` can hold ±8.64e15 ms around the epoch (ECMA-262 §21.4.1.1). */
const MAX_DATE_MS = 8.64e15;

/** Strings up to this many bytes are tried as pure ASCII in JS before calling TextDecoder. */
const ASCII_FAST_PATH_MAX = 64;

// `fatal` so invalid UTF-8 is an error as in Python (raw=False raises UnicodeDecodeError);
// `ignoreBOM` so a leading U+FEFF is kept as a character instead of being stripped.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Keys that must be set with `Object.defineProperty`: `__proto__` (plain assignment would
 * call the prototype setter) and every other `Object.prototype` name (plain assignment
 * would throw if someone froze `Object.prototype`).
 */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/** Map keys up to this many bytes go through the key cache. */
const KEY_CACHE_MAX_LENGTH = 16;
/** Slots in the key cache (a power of two). */
const KEY_CACHE_SLOTS = 1024;

/**
 * Short map keys repeat in every message (`callbacks`, `task`, kwarg names). Caching the
 * decoded string saves the decode, and handing V8 the same string instance again saves it
 * hashing and internalizing a fresh string on every property store. A direct-mapped table:
 * a collision simply replaces the slot. Module-level, as it holds only key text.
 */
const keyCacheBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(KEY_CACHE_SLOTS).fill(undefined);
const keyCacheText: string[] = new Array<string>(KEY_CACHE_SLOTS).fill('');

const FRAME_ARRAY = 0;
const FRAME_MAP = 1;

/** One open array or map. Frames are reused by depth within one call. */
interface Frame {
  kind: typeof FRAME_ARRAY | typeof FRAME_MAP;
  /** Items (array) or entries (map) announced by the header. */
  size: number;
  /** Items or entries read so far. */
  count: number;
  array: WireValue[];
  map: Record<string, WireValue>;
  /** The key of the entry whose value is being read (map only). */
  key: string;
  /** Whether the next value read is a key (map only). */
  expectKey: boolean;
}

/**
 * Decodes one MessagePack value that must fill `data` exactly.
 *
 * | msgpack | result |
 * |---|---|
 * | nil, true, false | `null`, `true`, `false` |
 * | int / uint 8..64 | `number` when a safe integer, else `bigint` (exact up to uint64 max and down to int64 min) |
 * | float 32 / 64 | `number` |
 * | str | `string` (UTF-8; invalid UTF-8 is an error) |
 * | bin | a fresh `Uint8Array` (a copy: it never aliases `data`, so callers may keep it after reusing the input buffer) |
 * | array | `Array` |
 * | map | plain object; keys must be str or int (ints become decimal strings, as for JS objects); `__proto__` and `constructor` stay own data keys; on a duplicate key the last wins (as in Python) |
 * | ext -1 (timestamp 32/64/96) | `Date` (nanoseconds floored to milliseconds) |
 * | any other ext, 0xc1 | error |
 *
 * @param data - untrusted bytes
 * @param limits - `maxBytes` is checked first, `maxDepth` as containers open (the top-level container is depth 1)
 * @returns the decoded value
 * @throws {@link LimitExceededError} when `data` is longer than `limits.maxBytes` or nests deeper than `limits.maxDepth`
 * @throws {@link DecodeError} for anything that is not exactly one well-formed value: truncated input,
 *   a length header larger than the remaining bytes, 0xc1, an ext type other than -1, a map key that is
 *   not a str or int, invalid UTF-8, trailing bytes
 * @see celery-wire.md §3.2
 */
export function decodeMsgpack(data: Uint8Array, limits: DecodeLimits): WireValue {
  if (!(data instanceof Uint8Array)) {
    throw new DecodeError(`Expected msgpack bytes as a Uint8Array, got ${typeof data}`, CONTEXT);
  }
  if (data.byteLength > limits.maxBytes) {
    throw new LimitExceededError('msgpack payload size in bytes', limits.maxBytes, data.byteLength, CONTEXT);
  }
  if (data.byteLength === 0) throw new DecodeError('Expected a msgpack value, got no bytes', CONTEXT);
  const reader = new Reader(data, limits.maxDepth);
  try {
    return reader.decode();
  } catch (error) {
    if (error instanceof DecodeError || error instanceof LimitExceededError) throw error;
    // Nothing else should be thrown; if an engine limit is hit (e.g. an array too large to
    // allocate), keep the "only typed errors" promise.
    throw new DecodeError(`Could not decode msgpack at byte ${reader.pos}: ${String(error)}`, {
      ...CONTEXT,
      cause: error,
    });
  }
}

class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly end: number;
  readonly maxDepth: number;
  pos = 0;
  /** Open containers by depth; reused, since a call is never re-entered. */
  private readonly frames: Frame[] = [];

  constructor(bytes: Uint8Array, maxDepth: number) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.end = bytes.byteLength;
    this.maxDepth = maxDepth;
  }

  decode(): WireValue {
    const bytes = this.bytes;
    const view = this.view;
    let depth = 0;
    let top: Frame | undefined;

    for (;;) {
      if (top !== undefined && top.expectKey) {
        top.key = this.readKey();
        top.expectKey = false;
        continue;
      }

      const start = this.pos;
      if (start >= this.end) throw this.truncated(start, 1);
      const b = bytes[start] as number;
      this.pos = start + 1;

      let value: WireValue;
      let containerKind: typeof FRAME_ARRAY | typeof FRAME_MAP | -1 = -1;
      let size = 0;

      if (b <= 0x7f) {
        value = b;
      } else if (b >= 0xe0) {
        value = b - 0x100;
      } else if (b <= 0x8f) {
        containerKind = FRAME_MAP;
        size = b & 0x0f;
        value = null;
      } else if (b <= 0x9f) {
        containerKind = FRAME_ARRAY;
        size = b & 0x0f;
        value = null;
      } else if (b <= 0xbf) {
        value = this.readString(b & 0x1f, start);
      } else {
        switch (b) {
          case 0xc0:
            value = null;
            break;
          case 0xc2:
            value = false;
            break;
          case 0xc3:
            value = true;
            break;
          case 0xc4:
            value = this.readBin(this.readLength(1, start), start);
            break;
          case 0xc5:
            value = this.readBin(this.readLength(2, start), start);
            break;
          case 0xc6:
            value = this.readBin(this.readLength(4, start), start);
            break;
          case 0xc7:
            value = this.readExt(this.readLength(1, start), start);
            break;
          case 0xc8:
            value = this.readExt(this.readLength(2, start), start);
            break;
          case 0xc9:
            value = this.readExt(this.readLength(4, start), start);
            break;
          case 0xca:
            this.need(4, start);
            value = view.getFloat32(this.pos);
            this.pos += 4;
            break;
          case 0xcb:
            this.need(8, start);
            value = view.getFloat64(this.pos);
            this.pos += 8;
            break;
          case 0xcc:
          case 0xcd:
          case 0xce:
          case 0xcf:
          case 0xd0:
          case 0xd1:
          case 0xd2:
          case 0xd3:
            value = this.readInt(b, start);
            break;
          case 0xd4:
            value = this.readExt(1, start);
            break;
          case 0xd5:
            value = this.readExt(2, start);
            break;
          case 0xd6:
            value = this.readExt(4, start);
            break;
          case 0xd7:
            value = this.readExt(8, start);
            break;
          case 0xd8:
            value = this.readExt(16, start);
            break;
          case 0xd9:
            value = this.readString(this.readLength(1, start), start);
            break;
          case 0xda:
            value = this.readString(this.readLength(2, start), start);
            break;
          case 0xdb:
            value = this.readString(this.readLength(4, start), start);
            break;
          case 0xdc:
            containerKind = FRAME_ARRAY;
            size = this.readLength(2, start);
            value = null;
            break;
          case 0xdd:
            containerKind = FRAME_ARRAY;
            size = this.readLength(4, start);
            value = null;
            break;
          case 0xde:
            containerKind = FRAME_MAP;
            size = this.readLength(2, start);
            value = null;
            break;
          case 0xdf:
            containerKind = FRAME_MAP;
            size = this.readLength(4, start);
            value = null;
            break;
          default:
            // Only 0xc1 is left: "never used" in the msgpack spec.
            throw new DecodeError(`Reserved msgpack byte 0x${hex(b)} at byte ${start}`, CONTEXT);
        }
      }

      if (containerKind !== -1) {
        const newDepth = depth + 1;
        if (newDepth > this.maxDepth) {
          throw new LimitExceededError(`msgpack nesting depth (at byte ${start})`, this.maxDepth, newDepth, CONTEXT);
        }
        const remaining = this.end - this.pos;
        // Every array item takes at least one byte and every map entry two, so a header
        // claiming more than that is refused before anything is allocated.
        const minBytes = containerKind === FRAME_MAP ? size * 2 : size;
        if (minBytes > remaining) {
          throw new DecodeError(
            `msgpack ${containerKind === FRAME_MAP ? 'map' : 'array'} at byte ${start} claims ${size} ` +
              `${containerKind === FRAME_MAP ? 'entries' : 'items'}, but only ${remaining} bytes remain`,
            CONTEXT,
          );
        }
        if (size === 0) {
          value = containerKind === FRAME_MAP ? {} : [];
        } else {
          const frame = this.frameAt(depth);
          frame.kind = containerKind;
          frame.size = size;
          frame.count = 0;
          if (containerKind === FRAME_MAP) {
            frame.map = {};
            frame.expectKey = true;
          } else {
            frame.array = new Array<WireValue>(size);
            frame.expectKey = false;
          }
          depth = newDepth;
          top = frame;
          continue;
        }
      }

      // Attach the finished value to its parent; close every container it completes.
      for (;;) {
        if (top === undefined) {
          if (this.pos !== this.end) {
            throw new DecodeError(
              `Expected one msgpack value, but ${this.end - this.pos} trailing bytes follow it at byte ${this.pos}`,
              CONTEXT,
            );
          }
          return value;
        }
        if (top.kind === FRAME_ARRAY) {
          top.array[top.count++] = value;
          if (top.count < top.size) break;
          value = top.array;
        } else {
          setOwn(top.map, top.key, value);
          if (++top.count < top.size) {
            top.expectKey = true;
            break;
          }
          value = top.map;
        }
        depth--;
        top = depth === 0 ? undefined : this.frames[depth - 1];
      }
    }
  }

  private frameAt(index: number): Frame {
    let frame = this.frames[index];
    if (frame === undefined) {
      frame = { kind: FRAME_ARRAY, size: 0, count: 0, array: [], map: {}, key: '', expectKey: false };
      this.frames[index] = frame;
    }
    return frame;
  }

  /** Reads a map key: a str, or an int rendered as a decimal string. */
  private readKey(): string {
    const start = this.pos;
    if (start >= this.end) throw this.truncated(start, 1);
    const b = this.bytes[start] as number;
    this.pos = start + 1;
    if (b >= 0xa0 && b <= 0xbf) return this.readKeyString(b & 0x1f, start);
    if (b <= 0x7f) return String(b);
    if (b >= 0xe0) return String(b - 0x100);
    switch (b) {
      case 0xd9:
        return this.readKeyString(this.readLength(1, start), start);
      case 0xda:
        return this.readKeyString(this.readLength(2, start), start);
      case 0xdb:
        return this.readKeyString(this.readLength(4, start), start);
      case 0xcc:
      case 0xcd:
      case 0xce:
      case 0xcf:
      case 0xd0:
      case 0xd1:
      case 0xd2:
      case 0xd3:
        return String(this.readInt(b, start));
      default:
        throw new DecodeError(
          `Expected a msgpack map key of type str or int at byte ${start}, got ${formatName(b)}`,
          CONTEXT,
        );
    }
  }

  private readInt(b: number, start: number): number | bigint {
    const view = this.view;
    const pos = this.pos;
    switch (b) {
      case 0xcc:
        this.need(1, start);
        this.pos = pos + 1;
        return view.getUint8(pos);
      case 0xcd:
        this.need(2, start);
        this.pos = pos + 2;
        return view.getUint16(pos);
      case 0xce:
        this.need(4, start);
        this.pos = pos + 4;
        return view.getUint32(pos);
      case 0xcf: {
        this.need(8, start);
        this.pos = pos + 8;
        const n = view.getUint32(pos) * 0x1_0000_0000 + view.getUint32(pos + 4);
        // Rounding is monotonic and 2^53 is representable, so an unsafe value never rounds
        // into the safe range: this test is exact.
        return Number.isSafeInteger(n) ? n : view.getBigUint64(pos);
      }
      case 0xd0:
        this.need(1, start);
        this.pos = pos + 1;
        return view.getInt8(pos);
      case 0xd1:
        this.need(2, start);
        this.pos = pos + 2;
        return view.getInt16(pos);
      case 0xd2:
        this.need(4, start);
        this.pos = pos + 4;
        return view.getInt32(pos);
      default: {
        // 0xd3, int 64
        this.need(8, start);
        this.pos = pos + 8;
        const n = view.getInt32(pos) * 0x1_0000_0000 + view.getUint32(pos + 4);
        return Number.isSafeInteger(n) ? n : view.getBigInt64(pos);
      }
    }
  }

  /** Reads a big-endian unsigned length of `width` bytes that follows a header byte. */
  private readLength(width: 1 | 2 | 4, start: number): number {
    this.need(width, start);
    const pos = this.pos;
    this.pos = pos + width;
    if (width === 1) return this.bytes[pos] as number;
    if (width === 2) return this.view.getUint16(pos);
    return this.view.getUint32(pos);
  }

  /** Reads a str map key, from the key cache when it is short. */
  private readKeyString(length: number, start: number): string {
    const pos = this.pos;
    if (length > KEY_CACHE_MAX_LENGTH || length > this.end - pos || length === 0) {
      return this.readString(length, start);
    }
    const bytes = this.bytes;
    let hash = length;
    for (let i = pos; i < pos + length; i++) hash = (Math.imul(hash, 31) + (bytes[i] as number)) | 0;
    const slot = hash & (KEY_CACHE_SLOTS - 1);
    const cached = keyCacheBytes[slot];
    if (cached !== undefined && cached.length === length) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (cached[i] !== bytes[pos + i]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.pos = pos + length;
        return keyCacheText[slot] as string;
      }
    }
    const text = this.readString(length, start);
    // A copy (`Buffer#slice` would be a view): the caller may reuse its buffer.
    keyCacheBytes[slot] = new Uint8Array(bytes.subarray(pos, pos + length));
    keyCacheText[slot] = text;
    return text;
  }

  private readString(length: number, start: number): string {
    const pos = this.pos;
    if (length > this.end - pos) throw this.overlong('str', start, length);
    this.pos = pos + length;
    if (length === 0) return '';
    const bytes = this.bytes;
    if (length <= ASCII_FAST_PATH_MAX) {
      let out = '';
      let i = pos;
      const stop = pos + length;
      for (; i < stop; i++) {
        const c = bytes[i] as number;
        if (c >= 0x80) break;
        out += String.fromCharCode(c);
      }
      if (i === stop) return out;
    }
    try {
      return utf8.decode(bytes.subarray(pos, pos + length));
    } catch (error) {
      throw new DecodeError(`Invalid UTF-8 in msgpack str at byte ${start}`, { ...CONTEXT, cause: error });
    }
  }

  private readBin(length: number, start: number): Uint8Array {
    const pos = this.pos;
    if (length > this.end - pos) throw this.overlong('bin', start, length);
    this.pos = pos + length;
    // A copy, never a view: the result must not alias (or keep alive) the caller's buffer,
    // which is often a pooled Buffer from the Redis client.
    const out = new Uint8Array(length);
    out.set(this.bytes.subarray(pos, pos + length));
    return out;
  }

  private readExt(length: number, start: number): Date {
    this.need(1, start);
    const type = this.view.getInt8(this.pos);
    this.pos += 1;
    if (type !== EXT_TIMESTAMP) {
      // kombu registers no ext types; anything else comes from a non-Celery producer
      // (e.g. msgpackr records, 0x72) and is refused rather than passed through.
      throw new DecodeError(
        `Unsupported msgpack ext type ${type} at byte ${start} (only -1, timestamp, is accepted)`,
        CONTEXT,
      );
    }
    const pos = this.pos;
    if (length > this.end - pos) throw this.overlong('ext', start, length);
    this.pos = pos + length;
    const view = this.view;
    let sec: number;
    let nsec: number;
    switch (length) {
      case 4:
        sec = view.getUint32(pos);
        nsec = 0;
        break;
      case 8: {
        const high = view.getUint32(pos);
        nsec = high >>> 2;
        sec = (high & 0x3) * 0x1_0000_0000 + view.getUint32(pos + 4);
        break;
      }
      case 12:
        nsec = view.getUint32(pos);
        // Beyond ±2^53 s the Date range check below refuses it anyway.
        sec = Number(view.getBigInt64(pos + 4));
        break;
      default:
        throw new DecodeError(
          `Expected a msgpack timestamp of 4, 8 or 12 bytes at byte ${start}, got ${length}`,
          CONTEXT,
        );
    }
    if (nsec > 999_999_999) {
      throw new DecodeError(`Invalid msgpack timestamp at byte ${start}: ${nsec} nanoseconds`, CONTEXT);
    }
    const ms = sec * 1000 + Math.floor(nsec / 1_000_000);
    if (!(Math.abs(ms) <= MAX_DATE_MS)) {
      throw new DecodeError(`msgpack timestamp at byte ${start} is outside the Date range: ${sec} s`, CONTEXT);
    }
    return new Date(ms);
  }

  private need(n: number, start: number): void {
    if (this.end - this.pos < n) throw this.truncated(start, n);
  }

  private truncated(start: number, n: number): DecodeError {
    return new DecodeError(
      `Truncated msgpack: the value at byte ${start} needs ${n} more bytes at byte ${this.pos}, ` +
        `but the input ends at byte ${this.end}`,
      CONTEXT,
    );
  }

  private overlong(what: string, start: number, length: number): DecodeError {
    return new DecodeError(
      `msgpack ${what} at byte ${start} claims ${length} bytes, but only ${this.end - this.pos} remain`,
      CONTEXT,
    );
  }
}

function setOwn(map: Record<string, WireValue>, key: string, value: WireValue): void {
  if (PROTOTYPE_KEYS.has(key)) {
    Object.defineProperty(map, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    map[key] = value;
  }
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}

/** Names the msgpack format of a header byte, for error messages. */
function formatName(b: number): string {
  if (b <= 0x7f || b >= 0xe0) return 'int';
  if (b <= 0x8f || b === 0xde || b === 0xdf) return 'map';
  if (b <= 0x9f || b === 0xdc || b === 0xdd) return 'array';
  if (b <= 0xbf || b === 0xd9 || b === 0xda || b === 0xdb) return 'str';
  if (b === 0xc0) return 'nil';
  if (b === 0xc2 || b === 0xc3) return 'bool';
  if (b === 0xc4 || b === 0xc5 || b === 0xc6) return 'bin';
  if (b === 0xca || b === 0xcb) return 'float';
  if ((b >= 0xcc && b <= 0xcf) || (b >= 0xd0 && b <= 0xd3)) return 'int';
  if (b === 0xc7 || b === 0xc8 || b === 0xc9 || (b >= 0xd4 && b <= 0xd8)) return 'ext';
  return `reserved byte 0x${hex(b)}`;
}

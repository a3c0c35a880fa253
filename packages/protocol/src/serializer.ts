import { CeleriacError, ErrorCode } from './errors.ts';

/**
 * The values that cross the wire. Python's types map as follows:
 *
 * | Python | TypeScript |
 * |---|---|
 * | `None` | `null` |
 * | `bool` | `boolean` |
 * | `int` within ±2^53 | `number` |
 * | `int` beyond ±2^53 | `bigint` (lossless both ways) |
 * | `float` (also `NaN`, `inf`) | `number` |
 * | `str` | `string` |
 * | `bytes` | `Uint8Array` (msgpack `bin`; json only as kombu ≥ 5.3 tagged bytes) |
 * | `datetime` | `Date` (json writes an ISO string; msgpack the timestamp ext) |
 * | `list`, `tuple` | `Array` |
 * | `dict` | plain object (keys `__proto__` and `constructor` are own data keys) |
 */
export type WireValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Date
  | readonly WireValue[]
  | { readonly [key: string]: WireValue };

/** Limits checked before and while decoding untrusted bytes. */
export interface DecodeLimits {
  /** Largest encoded payload accepted, in bytes. */
  readonly maxBytes: number;
  /** Deepest nesting of arrays and maps accepted (the top-level container is depth 1). */
  readonly maxDepth: number;
}

/**
 * Defaults: 64 MiB and 128 levels. Redis caps a value at 512 MB; Python's own json
 * recursion limit is near 1000, and Celery canvases stay far below 128.
 */
export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxDepth: 128,
});

/** The content encoding kombu writes beside a content type. */
export type ContentEncoding = 'utf-8' | 'binary';

/**
 * A serializer: one name, one content type, bytes in and out. Register more with
 * {@link SerializerRegistry.register}.
 */
export interface Serializer {
  /** The Celery name (`json`, `msgpack`). */
  readonly name: string;
  /** The MIME type written in `content-type` (`application/json`). */
  readonly contentType: string;
  /** The `content-encoding` kombu writes with it. */
  readonly contentEncoding: ContentEncoding;
  /**
   * @param value - the value to encode
   * @returns the encoded bytes
   * @throws {@link EncodeError} naming the path of a value this serializer cannot represent
   */
  encode(value: unknown): Uint8Array;
  /**
   * @param data - untrusted bytes
   * @param limits - size and nesting limits
   * @returns the decoded value
   * @throws {@link DecodeError} or {@link LimitExceededError}; never an untyped error
   */
  decode(data: Uint8Array, limits?: DecodeLimits): WireValue;
}

/** Renders a path like `args[0].data` for error messages. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * Serializers by name and by content type. Lookups take either (`"json"` or
 * `"application/json"`), as Celery's `accept_content` does.
 */
export class SerializerRegistry {
  readonly #byName = new Map<string, Serializer>();
  readonly #byContentType = new Map<string, Serializer>();

  /**
   * @param serializers - the serializers to start with
   */
  constructor(serializers: Iterable<Serializer> = []) {
    for (const s of serializers) this.register(s);
  }

  /**
   * Adds a serializer, replacing one of the same name or content type.
   *
   * @param serializer - the serializer to add
   * @returns this registry
   */
  register(serializer: Serializer): this {
    const previous = this.#byName.get(serializer.name);
    if (previous !== undefined) this.#byContentType.delete(previous.contentType);
    this.#byName.set(serializer.name, serializer);
    this.#byContentType.set(serializer.contentType.toLowerCase(), serializer);
    return this;
  }

  /**
   * @param nameOrContentType - `json` or `application/json`
   * @returns the serializer, or `undefined`
   */
  find(nameOrContentType: string): Serializer | undefined {
    return this.#byName.get(nameOrContentType) ?? this.#byContentType.get(normalizeContentType(nameOrContentType));
  }

  /**
   * @param nameOrContentType - `json` or `application/json`
   * @returns the serializer
   * @throws {@link CeleriacError} with code `UNKNOWN_SERIALIZER`
   */
  get(nameOrContentType: string): Serializer {
    const found = this.find(nameOrContentType);
    if (found === undefined) {
      throw new CeleriacError(
        ErrorCode.UNKNOWN_SERIALIZER,
        `No serializer named or typed ${JSON.stringify(nameOrContentType)} (registered: ${this.names().join(', ')})`,
      );
    }
    return found;
  }

  /** @returns the registered names */
  names(): string[] {
    return [...this.#byName.keys()];
  }
}

/** Lower-cases a content type and drops parameters (`application/json; charset=utf-8`). */
export function normalizeContentType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

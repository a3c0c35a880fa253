/*
 * The JSON that crosses between these helpers and python/*.py. Plain JSON cannot carry
 * bytes, integers beyond 2^53 or non-finite floats, so both sides use tagged single-key
 * objects (python/interop_json.py is the other half):
 *
 *   {"__bytes_hex__": "00ff"}            bytes        <-> Uint8Array
 *   {"__bigint__": "1180591620717411303424"}  int beyond ±(2^53-1) <-> bigint
 *   {"__float__": "nan" | "inf" | "-inf"}     non-finite float  <-> number
 */

/**
 * A value as Python sees it, on the TypeScript side. Matches `@celeriac/protocol`'s
 * `WireValue` for the types Python results carry (bytes → `Uint8Array`, big ints → `bigint`).
 * Anything Python could not express otherwise arrives as `{ __repr__: string }`.
 */
export type PythonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | readonly PythonValue[]
  | { readonly [key: string]: PythonValue };

const FLOATS: Readonly<Record<string, number>> = { nan: NaN, inf: Infinity, '-inf': -Infinity };

function soleKey(value: object): string | undefined {
  const keys = Object.keys(value);
  return keys.length === 1 ? keys[0] : undefined;
}

/**
 * Encodes a value for python/publish.py: `Uint8Array`/`Buffer` → `__bytes_hex__`, `bigint` →
 * `__bigint__`, `NaN`/`±Infinity` → `__float__`; `Date` becomes its ISO string.
 *
 * @param value - the value to send
 * @returns JSON text
 */
export function toPythonJson(value: unknown): string {
  return JSON.stringify(tag(value));
}

function tag(value: unknown): unknown {
  if (typeof value === 'bigint') return { __bigint__: value.toString() };
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    return { __float__: Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf' };
  }
  // Before JSON.stringify sees it: Buffer#toJSON would turn bytes into {type, data}.
  if (value instanceof Uint8Array) return { __bytes_hex__: Buffer.from(value).toString('hex') };
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(tag);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tag(v)]));
  }
  return value;
}

/**
 * Parses JSON written by python/interop_json.py, turning tagged objects back into
 * `Uint8Array`, `bigint` and non-finite numbers.
 *
 * @param text - JSON text
 * @returns the decoded value
 * @throws SyntaxError when `text` is not JSON
 */
export function fromPythonJson(text: string): PythonValue {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    const key = soleKey(value);
    const inner = key === undefined ? undefined : (value as Record<string, unknown>)[key];
    if (typeof inner !== 'string') return value;
    if (key === '__bytes_hex__') return new Uint8Array(Buffer.from(inner, 'hex'));
    if (key === '__bigint__') return BigInt(inner);
    if (key === '__float__' && Object.hasOwn(FLOATS, inner)) return FLOATS[inner];
    return value;
  }) as PythonValue;
}

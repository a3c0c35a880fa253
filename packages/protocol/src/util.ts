/**
 * Small helpers shared by the protocol modules; not exported from the package.
 *
 * @module
 */
import type { WireValue } from './serializer.ts';

/** Whether a value is a plain object (a JSON/msgpack map), not an array, Date or class instance. */
export function isPlainObject(value: unknown): value is { [key: string]: WireValue } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** `Array.isArray` that keeps the element type of a readonly wire array. */
export const isWireArray = Array.isArray as (value: unknown) => value is readonly WireValue[];

/** A short description of an unexpected value for error messages. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value;
}


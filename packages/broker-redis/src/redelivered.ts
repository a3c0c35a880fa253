/**
 * The one envelope rewrite the broker does: mark a message redelivered before it goes back
 * to its queue, as kombu's `_do_restore_message` does (`headers.redelivered = true`,
 * `properties.delivery_info.redelivered = true`, the same `delivery_tag`).
 *
 * The rewrite uses the lossless json serializer of `@celeriac/protocol` (integers beyond
 * 2^53 survive); kombu >= 5.3 tags in the envelope are written back as tags.
 *
 * @module
 */
import { Buffer } from 'node:buffer';
import { createJsonSerializer, jsonSerializer, type WireValue } from '@celeriac/protocol';

const taggedJson = createJsonSerializer({ tagged: true });

type WireObject = { readonly [key: string]: WireValue };

function isObject(value: WireValue | undefined): value is WireObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && !(value instanceof Date);
}

/**
 * Sets the redelivered flags on a parsed envelope where its shape allows (kombu ignores a
 * missing `headers` or `delivery_info` the same way).
 *
 * @param envelope - a decoded list element
 * @returns whether it is an object (so it can be written back)
 */
function mark(envelope: WireValue): boolean {
  if (!isObject(envelope)) return false;
  const headers = envelope['headers'];
  // The decoded value is a fresh copy: writing into it is safe.
  if (isObject(headers)) (headers as Record<string, WireValue>)['redelivered'] = true;
  const properties = envelope['properties'];
  const info = isObject(properties) ? properties['delivery_info'] : undefined;
  if (isObject(info)) (info as Record<string, WireValue>)['redelivered'] = true;
  return true;
}

/**
 * The list element to push back for a message being requeued or restored.
 *
 * @param raw - the element as it was delivered
 * @returns the envelope with the redelivered flags, or `raw` unchanged when it is not a JSON
 *   object (a malformed message goes back exactly as it came)
 */
export function markRedelivered(raw: Uint8Array): Buffer {
  let envelope: WireValue;
  try {
    envelope = jsonSerializer.decode(raw);
  } catch {
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  }
  if (!mark(envelope)) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  try {
    return Buffer.from(taggedJson.encode(envelope));
  } catch {
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  }
}

/** An unacked record, decoded. */
export interface UnackedRecord {
  /** The element to push back (redelivered flags set when it is an envelope). */
  readonly payload: Buffer;
  /** `delivery_info.exchange` as recorded. */
  readonly exchange: string;
  /** `delivery_info.routing_key` as recorded (the logical queue for Celery). */
  readonly routingKey: string;
}

/**
 * Decodes an unacked record `[envelope, exchange, routing_key]` (kombu's `dumps([message._raw,
 * EX, RK])`, or the one the fetch script builds) and prepares its payload.
 *
 * A first element that is a string is an element that was not JSON when fetched (the fetch
 * script stores its bytes as Latin-1 code points): it goes back byte for byte.
 *
 * @param record - the hash value
 * @returns the record, or `undefined` when it is not a 3-element array with string exchange
 *   and routing key
 */
export function decodeUnackedRecord(record: Uint8Array): UnackedRecord | undefined {
  let value: WireValue;
  try {
    value = jsonSerializer.decode(record);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 3) return undefined;
  const [envelope, exchange, routingKey] = value as readonly WireValue[];
  if (typeof exchange !== 'string' || typeof routingKey !== 'string' || envelope === undefined) return undefined;
  if (typeof envelope === 'string') return { payload: Buffer.from(envelope, 'latin1'), exchange, routingKey };
  // An array or a scalar cannot be marked (kombu fails to restore it); it goes back as it is.
  mark(envelope);
  try {
    return { payload: Buffer.from(taggedJson.encode(envelope)), exchange, routingKey };
  } catch {
    return undefined;
  }
}

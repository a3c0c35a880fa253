/**
 * The dead-letter list: where the worker keeps every message it could not run and could
 * not hand back (refused content type, undecodable body, not a task message), so nothing
 * is dropped silently.
 *
 * Redis layout: one list `<global_keyprefix>celeriac.dead-letter`, newest first (LPUSH),
 * each element a JSON object {@link DeadLetterEntry}. It is written through the broker's
 * `publish` to a queue of that name, so it also gets kombu's binding set
 * `_kombu.binding.celeriac.dead-letter`; no worker ever consumes it (the worker refuses to).
 *
 * @module
 */
import { Buffer } from 'node:buffer';
import type { Broker } from '@celeriac/protocol';

/** The dead-letter queue name (the list key is the broker's `global_keyprefix` + this). */
export const DEAD_LETTER_QUEUE = 'celeriac.dead-letter';

/** One dead-lettered message. */
export interface DeadLetterEntry {
  /** What went wrong, for a human. */
  readonly reason: string;
  /** The error code (`CONTENT_DISALLOWED`, `DECODE_FAILED`, `INVALID_MESSAGE`, `LIMIT_EXCEEDED`, …). */
  readonly code: string;
  /** The queue it came from. */
  readonly queue: string;
  /** The task id when it could be read, else null. */
  readonly taskId: string | null;
  /** When the worker received it (ISO-8601 UTC). */
  readonly receivedAt: string;
  /** The raw element: UTF-8 text when it is valid UTF-8, else base64. */
  readonly raw: string;
  /** `text` or `base64`. */
  readonly rawEncoding: 'text' | 'base64';
}

/** Where dead letters go. */
export interface DeadLetterSink {
  /**
   * @param entry - the entry
   * @throws when it could not be kept (the worker then leaves the message unacked)
   */
  push(entry: DeadLetterEntry): Promise<void>;
}

/**
 * @param raw - the raw Redis element
 * @returns it as text when it is valid UTF-8, else as base64
 */
export function encodeRaw(raw: Uint8Array): { raw: string; rawEncoding: 'text' | 'base64' } {
  const buffer = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  try {
    return { raw: new TextDecoder('utf-8', { fatal: true }).decode(buffer), rawEncoding: 'text' };
  } catch {
    return { raw: buffer.toString('base64'), rawEncoding: 'base64' };
  }
}

/**
 * The default sink: `LPUSH` to the `celeriac.dead-letter` list through the broker.
 *
 * @param broker - the app's broker
 * @returns the sink
 */
export function brokerDeadLetterSink(broker: Pick<Broker, 'publish'>): DeadLetterSink {
  return {
    push: (entry) => broker.publish({ queue: DEAD_LETTER_QUEUE, priority: 0, raw: JSON.stringify(entry) }),
  };
}

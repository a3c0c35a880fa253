/**
 * Reads what beats sent to a queue: every message with the tick it was sent for (its
 * `beat_scheduled_at` header) and its entry (`beat_entry`), in send order.
 */
import { decodeTaskMessage } from '@celeriac/protocol';
import type { TestRedis } from '@celeriac/test-utils';

/** One message a beat sent. */
export interface QueuedTick {
  readonly entry: string;
  /** ms since the epoch. */
  readonly tick: number;
  readonly task: string;
  readonly id: string;
  readonly args: unknown[];
}

/**
 * @param redis - the test's Redis
 * @param queue - the queue the entries were sent to
 * @returns the messages, oldest first
 * @throws when a message has no beat headers (it could not be mapped to a tick)
 */
export async function queuedTicks(redis: TestRedis, queue: string): Promise<QueuedTick[]> {
  // LPUSH puts the newest first.
  const raw = (await redis.client.lrangeBuffer(queue, 0, -1)).reverse();
  return raw.map((element) => {
    const message = decodeTaskMessage(element);
    const at = message.headers['beat_scheduled_at'];
    const entry = message.headers['beat_entry'];
    if (typeof at !== 'string' || typeof entry !== 'string') {
      throw new Error(`message ${message.headers.id} has no beat_scheduled_at / beat_entry header: ${JSON.stringify(message.headers)}`);
    }
    return { entry, tick: Date.parse(at), task: message.headers.task, id: message.headers.id, args: message.args };
  });
}

/** How the ticks of one entry line up against a fixed period. */
export interface TickReport {
  readonly count: number;
  readonly duplicates: number[];
  /** Ticks absent between the first and the last one. */
  readonly missing: number[];
  readonly first: number | undefined;
  readonly last: number | undefined;
  /** Gaps that are not a multiple of the period (a tick off the grid). */
  readonly offGrid: number[];
}

/**
 * @param ticks - one entry's ticks (any order)
 * @param periodMs - the entry's period
 * @returns counts, duplicates, and the ticks missing between the first and the last
 */
export function tickReport(ticks: readonly number[], periodMs: number): TickReport {
  const sorted = [...ticks].sort((a, b) => a - b);
  const duplicates = sorted.filter((t, i) => i > 0 && sorted[i - 1] === t);
  const unique = [...new Set(sorted)];
  const missing: number[] = [];
  const offGrid: number[] = [];
  for (let i = 1; i < unique.length; i += 1) {
    const previous = unique[i - 1] ?? 0;
    const current = unique[i] ?? 0;
    if ((current - previous) % periodMs !== 0) offGrid.push(current);
    for (let t = previous + periodMs; t < current; t += periodMs) missing.push(t);
  }
  return { count: sorted.length, duplicates, missing, first: unique[0], last: unique.at(-1), offGrid };
}

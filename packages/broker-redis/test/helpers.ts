import { encodeTaskMessage, type Delivery, type EncodedTaskMessage, type LogFields, type Logger } from '@celeriac/protocol';
import type { RedisMonitor, TestRedis } from '@celeriac/test-utils';
import { createRedisBroker, type RedisBroker, type RedisBrokerOptions, type RedisConsumer } from '../src/index.ts';

/** A broker on the test's own keyspace (`global_keyprefix` = the test prefix), closed on dispose. */
export function brokerFor(
  redis: TestRedis,
  options: RedisBrokerOptions = {},
  url: string = redis.url,
): RedisBroker {
  return createRedisBroker(url, {
    ...options,
    transportOptions: { global_keyprefix: redis.prefix, ...options.transportOptions },
  });
}

/** A task message for `queue`. */
export function message(queue: string, extra: { priority?: number; args?: unknown[]; id?: string } = {}): EncodedTaskMessage {
  return encodeTaskMessage({ task: 'tasks.add', args: extra.args ?? [1, 2], queue, priority: extra.priority, id: extra.id });
}

/** The next delivery, or a failure after `timeoutMs`. */
export async function next(consumer: RedisConsumer, timeoutMs = 5_000): Promise<Delivery> {
  const iterator = consumer[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no delivery within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const result = await Promise.race([iterator.next(), timeout]);
    if (result.done === true) throw new Error('the consumer ended');
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

/** Drains a consumer into an array in the background (ends when the consumer closes). */
export function collect(consumer: RedisConsumer): {
  items: Delivery[];
  /** `performance.now()` when each item arrived. */
  times: number[];
  waitFor(count: number, timeoutMs?: number): Promise<Delivery[]>;
} {
  const items: Delivery[] = [];
  const times: number[] = [];
  const waiters = new Set<() => void>();
  void (async () => {
    for await (const delivery of consumer) {
      times.push(performance.now());
      items.push(delivery);
      for (const wake of waiters) wake();
    }
  })();
  return {
    items,
    times,
    async waitFor(count, timeoutMs = 5_000) {
      const deadline = performance.now() + timeoutMs;
      while (items.length < count) {
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`expected ${count} deliveries within ${timeoutMs} ms, got ${items.length}`);
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            waiters.delete(done);
            resolve();
          };
          const timer = setTimeout(done, left);
          waiters.add(done);
        });
      }
      return items.slice(0, count);
    },
  };
}

/** The task id in a delivery's headers. */
export function taskIdOf(delivery: Delivery): string {
  const envelope = JSON.parse(Buffer.from(delivery.raw).toString('utf8')) as { headers: { id: string } };
  return envelope.headers.id;
}

/** The parsed envelope of a delivery. */
export function envelopeOf(delivery: Delivery): {
  body: string;
  headers: Record<string, unknown>;
  properties: { delivery_tag: string; priority: number; delivery_info: Record<string, unknown> };
} {
  return JSON.parse(Buffer.from(delivery.raw).toString('utf8')) as ReturnType<typeof envelopeOf>;
}

/** A logger that keeps every line (message and fields) for assertions. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (message: string, fields?: LogFields) => {
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  };
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** Sleeps. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until a monitor has recorded every command the server ran so far: runs a marker
 * command and waits for it (MONITOR reports commands in the order the server ran them).
 * The monitor's filter must keep commands naming `redis.prefix`.
 */
export async function monitorBarrier(redis: TestRedis, monitor: RedisMonitor): Promise<void> {
  const marker = `${redis.prefix}monitor-barrier-${Math.random().toString(16).slice(2)}`;
  await redis.client.exists(marker);
  await monitor.waitFor((c) => c.args[0]?.toLowerCase() === 'exists' && c.args[1] === marker);
}

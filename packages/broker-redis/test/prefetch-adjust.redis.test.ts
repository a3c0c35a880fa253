/**
 * `RedisConsumer.adjustPrefetch`: kombu's `qos.increment_eventually` / `decrement_eventually`
 * (a worker raises the limit for each held ETA message, celery-wire §5.1).
 */
import { createTestRedis } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { brokerFor, collect, message, pause } from './helpers.ts';

describe('consumer: adjustable prefetch', () => {
  it('raising the limit wakes a loop waiting for capacity; lowering only delays later fetches', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    for (let i = 0; i < 5; i += 1) await broker.publish(message('adj'));
    const consumer = broker.consume({ queues: ['adj'], prefetch: 1 });
    const collected = collect(consumer);
    await collected.waitFor(1);
    await pause(200);
    expect(collected.items).toHaveLength(1);
    const started = Date.now();
    expect(consumer.adjustPrefetch(2)).toBe(3);
    await collected.waitFor(3);
    // Woken at once, not on the next 1 s poll.
    expect(Date.now() - started).toBeLessThan(500);
    await pause(200);
    expect(collected.items).toHaveLength(3);
    expect(consumer.prefetch).toBe(3);
    // Lowered below what is in flight: nothing is taken back, nothing more is fetched.
    expect(consumer.adjustPrefetch(-2)).toBe(1);
    await collected.items[0]?.ack();
    await pause(300);
    expect(collected.items).toHaveLength(3);
    await Promise.all(collected.items.slice(1).map((d) => d.ack()));
    await collected.waitFor(4);
    // Never below 1.
    expect(consumer.adjustPrefetch(-10)).toBe(1);
    expect(() => consumer.adjustPrefetch(0.5)).toThrow(TypeError);
    await Promise.all(collected.items.map((d) => d.ack()));
    await consumer.close();
  });

  it('a consumer without a limit stays without one', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    const consumer = broker.consume({ queues: ['adj0'], prefetch: 0 });
    expect(consumer.adjustPrefetch(1)).toBe(0);
    expect(consumer.adjustPrefetch(-1)).toBe(0);
    await consumer.close();
  });
});

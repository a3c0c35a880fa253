import { createTestRedis, KOMBU_SEP, monitorRedis, waitUntil } from '@celeriac/test-utils';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { brokerFor, collect, envelopeOf, message, next, pause, recordingLogger, taskIdOf } from './helpers.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('publish: kombu key layout', () => {
  it('pushes to the queue or its priority key and declares the binding once', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    await using monitor = await monitorRedis(redis.url, { filter: (c) => c.args.some((a) => a.startsWith(redis.prefix)) });
    const q = 'layout';
    const P = redis.prefix;
    for (const priority of [0, 1, 2, 3, 5, 6, 8, 9, 200]) await broker.publish(message(q, { priority }));
    await broker.publish({ queue: q, priority: -4, raw: message(q).raw });

    expect(await redis.client.llen(P + q)).toBe(4); // 0, 1, 2, -4
    expect(await redis.client.llen(`${P}${q}${KOMBU_SEP}3`)).toBe(2); // 3, 5
    expect(await redis.client.llen(`${P}${q}${KOMBU_SEP}6`)).toBe(2); // 6, 8
    expect(await redis.client.llen(`${P}${q}${KOMBU_SEP}9`)).toBe(2); // 9, 200 (clamped)
    expect(await redis.client.smembers(`${P}_kombu.binding.${q}`)).toEqual([`${q}${KOMBU_SEP}${KOMBU_SEP}${q}`]);
    await monitor.waitFor((c) => c.args[0]?.toLowerCase() === 'lpush' && monitor.count('lpush') === 10);
    expect(monitor.count('sadd')).toBe(1);
    // Every key the broker wrote carries the prefix.
    const touched = monitor.commands().map((c) => c.args[1] ?? '');
    expect(touched.every((key) => key.startsWith(P))).toBe(true);
  });

  it('publishMany sends one pipeline and purge empties every bucket', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    const pipelines = vi.spyOn(Redis.prototype, 'pipeline');
    await broker.publishMany([0, 3, 6, 9, 0].map((priority) => message('many', { priority })));
    expect(pipelines).toHaveBeenCalledTimes(1);
    expect(await redis.client.llen(`${redis.prefix}many`)).toBe(2);
    expect(await broker.purge('many')).toBe(5);
    expect(await redis.client.exists(...broker.keys.queueKeys('many'))).toBe(0);
    expect(await broker.purge('many')).toBe(0);
  });

  it('10 000 concurrent publish() calls share a handful of round trips', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    await broker.publish(message('warm')); // connect first: the handshake is not a publish
    await using monitor = await monitorRedis(redis.url, {
      filter: (c) => c.args.some((a) => a.startsWith(redis.prefix)),
    });
    const pipelines = vi.spyOn(Redis.prototype, 'pipeline');
    const raws = Array.from({ length: 10_000 }, (_, i) => ({ queue: 'bulk', priority: i % 10, raw: `{"n": ${i}}` }));
    const started = performance.now();
    await Promise.all(raws.map((m) => broker.publish(m)));
    const elapsed = performance.now() - started;
    const flushes = pipelines.mock.calls.length;
    await waitUntil(() => monitor.count('lpush') === 10_000, { timeoutMs: 10_000 });
    const counts = await Promise.all(broker.keys.queueKeys('bulk').map((key) => redis.client.llen(key)));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(monitor.count('sadd')).toBe(1);
    console.log(`[broker-redis] 10000 concurrent publish(): ${flushes} pipeline flushes, ${elapsed.toFixed(0)} ms`);
    expect(flushes).toBeGreaterThan(0);
    expect(flushes).toBeLessThanOrEqual(20);
  });
});

describe('consume: order, rotation, prefetch', () => {
  it('consumes priorities as 0, none, 1, 3, 5, 6, 9 and FIFO within a bucket', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    const q = 'prio';
    const sent = [
      ['9', 9],
      ['6', 6],
      ['3', 3],
      ['0', 0],
      ['none', Number.NaN],
      ['5', 5],
      ['1', 1],
    ] as const;
    for (const [label, priority] of sent) {
      const m = message(q, { args: [label] });
      await broker.publish({ queue: q, priority, raw: m.raw });
    }
    const consumer = broker.consume({ queues: [q], prefetch: 10 });
    const got = await collect(consumer).waitFor(7);
    const labels = got.map((d) => {
      const body = JSON.parse(Buffer.from(envelopeOf(d).body, 'base64').toString()) as [string[]];
      return body[0][0];
    });
    expect(labels).toEqual(['0', 'none', '1', '3', '5', '6', '9']);
    await Promise.all(got.map((d) => d.ack()));
    await consumer.close();
  });

  it('rotates the queue that delivered to the end (round-robin across queues)', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    for (let i = 0; i < 3; i += 1) {
      await broker.publish(message('qa', { args: [`a${i}`] }));
      await broker.publish(message('qb', { args: [`b${i}`] }));
    }
    const consumer = broker.consume({ queues: ['qa', 'qb'], prefetch: 10 });
    const got = await collect(consumer).waitFor(6);
    expect(got.map((d) => d.queue)).toEqual(['qa', 'qb', 'qa', 'qb', 'qa', 'qb']);
    await Promise.all(got.map((d) => d.ack()));
    await consumer.close();
  });

  it('one fetch takes up to the free prefetch slots: 100 messages in 2 round trips, each with its own record', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    // Two non-JSON elements first, in the same batch: each gets its own generated tag.
    await redis.client.lpush(`${redis.prefix}batch`, 'not json 1', 'not json 2');
    await broker.publishMany(Array.from({ length: 100 }, (_, i) => message('batch', { args: [i] })));
    // A script call naming the list: EVAL the first time on a connection (ioredis), EVALSHA after.
    await using monitor = await monitorRedis(redis.url, { filter: (c) => /^eval(sha)?$/i.test(c.args[0] ?? '') && c.args.includes(`${redis.prefix}batch`) });
    const consumer = broker.consume({ queues: ['batch'], prefetch: 64 });
    const collected = collect(consumer);
    await collected.waitFor(64);
    expect(collected.items.slice(0, 2).map((d) => d.raw.toString())).toEqual(['not json 1', 'not json 2']);
    const tags = await redis.client.hkeys(broker.keys.unacked);
    const invalid = await redis.client.hkeys(`${redis.prefix}celeriac.unacked.invalid`);
    expect(tags).toHaveLength(62);
    expect(new Set([...tags, ...invalid]).size).toBe(64);
    expect(invalid).toHaveLength(2);
    for (const tag of invalid) expect(tag).toMatch(/^celeriac-invalid:[0-9a-f-]{36}$/);
    await pause(200);
    // Nothing more until a quarter of the window is free (a round trip per slot otherwise).
    expect(collected.items).toHaveLength(64);
    await Promise.all(collected.items.slice(0, 15).map((d) => d.ack()));
    await pause(200);
    expect(collected.items).toHaveLength(64);
    await collected.items[15]?.ack();
    await collected.waitFor(80);
    await waitUntil(() => monitor.commands().length >= 2, { timeoutMs: 2_000 });
    await pause(100);
    expect(monitor.commands().map((c) => c.args[0]?.toLowerCase())).toEqual(['eval', 'evalsha']);
    await Promise.all(collected.items.map((d) => d.ack()));
    await collected.waitFor(102);
    await Promise.all(collected.items.slice(80).map((d) => d.ack()));
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(0);
    await consumer.close();
  });

  it('never has more than prefetch deliveries unacked', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    for (let i = 0; i < 5; i += 1) await broker.publish(message('pf'));
    const consumer = broker.consume({ queues: ['pf'], prefetch: 2 });
    const collected = collect(consumer);
    await collected.waitFor(2);
    await pause(300);
    expect(collected.items).toHaveLength(2);
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(2);
    expect(await redis.client.llen(`${redis.prefix}pf`)).toBe(3);
    await collected.items[0]?.ack();
    await collected.waitFor(3);
    await pause(300);
    expect(collected.items).toHaveLength(3);
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(2);
    await Promise.all(collected.items.map((d) => d.ack()));
    await collected.waitFor(5);
    await Promise.all(collected.items.map((d) => d.ack()));
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(0);
    await consumer.close();
  });
});

describe('ack emulation', () => {
  it('records each delivery as kombu does and ack removes the record', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    const sent = message('acks');
    await broker.publish(sent);
    const before = Date.now() / 1000;
    const consumer = broker.consume({ queues: ['acks'], prefetch: 1 });
    const delivery = await next(consumer);
    expect(delivery.deliveryTag).toBe(sent.deliveryTag);
    expect(Buffer.from(delivery.raw).equals(sent.raw)).toBe(true);
    expect(delivery.redelivered).toBe(false);
    const record = await redis.client.hget(broker.keys.unacked, sent.deliveryTag);
    // [envelope, exchange, routing_key], the envelope byte for byte as it was in the list.
    expect(record).toBe(`[${sent.raw.toString('utf8')}, "", "acks"]`);
    expect(JSON.parse(record ?? '')).toEqual([JSON.parse(sent.raw.toString('utf8')), '', 'acks']);
    const score = Number(await redis.client.zscore(broker.keys.unackedIndex, sent.deliveryTag));
    expect(score).toBeGreaterThanOrEqual(before - 1);
    expect(score).toBeLessThanOrEqual(Date.now() / 1000 + 1);

    await delivery.ack();
    await delivery.ack(); // once only
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(0);
    expect(await redis.client.zcard(broker.keys.unackedIndex)).toBe(0);
    await consumer.close();
  });

  it('scores deliveries with the wall clock, which restores compare with, even when the monotonic clock lags', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis, { restoreIntervalMs: 3_600_000 });
    // After a suspend (or a clock step forward) the monotonic clock lags the wall clock.
    const realOrigin = performance.timeOrigin;
    Object.defineProperty(performance, 'timeOrigin', { configurable: true, get: () => realOrigin - 2 * 3_600_000 });
    try {
      const sent = message('clock');
      await broker.publish(sent);
      const consumer = broker.consume({ queues: ['clock'], prefetch: 1 });
      const delivery = await next(consumer);
      const score = Number(await redis.client.zscore(broker.keys.unackedIndex, sent.deliveryTag));
      expect(Math.abs(score - Date.now() / 1000)).toBeLessThan(1);
      // A fresh delivery is not stale: no restore (ours or Python's) takes it while it runs.
      expect(await broker.restoreVisible()).toBe(0);
      expect(await redis.client.llen(`${redis.prefix}clock`)).toBe(0);
      await delivery.ack();
      await consumer.close();
    } finally {
      delete (performance as { timeOrigin?: number }).timeOrigin;
    }
    expect(performance.timeOrigin).toBe(realOrigin);
  });

  it('a record that cannot be restored is logged and left in place; the others are restored', async () => {
    await using redis = await createTestRedis();
    const logger = recordingLogger();
    await using broker = brokerFor(redis, { transportOptions: { visibility_timeout: 1 }, logger, restoreIntervalMs: 3_600_000 });
    const good = message('fine');
    const bad = message('blocked');
    await redis.client.set(`${redis.prefix}blocked`, 'a string, not a list');
    const stale = Date.now() / 1000 - 10;
    // Records as kombu writes them (MULTI ZADD HSET), both stale.
    for (const m of [bad, good]) {
      await redis.client.zadd(broker.keys.unackedIndex, stale, m.deliveryTag);
      await redis.client.hset(broker.keys.unacked, m.deliveryTag, `[${m.raw.toString('utf8')}, "", "${m.queue}"]`);
    }
    expect(await broker.restoreVisible()).toBe(1);
    const restored = await redis.client.lrange(`${redis.prefix}fine`, 0, -1);
    expect(restored).toHaveLength(1);
    expect(JSON.parse(restored[0] ?? '')).toMatchObject({ properties: { delivery_tag: good.deliveryTag } });
    // The bad one stays recorded for the next round (or an operator).
    expect(await redis.client.hkeys(broker.keys.unacked)).toEqual([bad.deliveryTag]);
    expect(await redis.client.zscore(broker.keys.unackedIndex, bad.deliveryTag)).not.toBeNull();
    expect(logger.lines.some((l) => l.startsWith('error') && l.includes(bad.deliveryTag) && l.includes('WRONGTYPE'))).toBe(true);
    // Tags too.
    expect(await broker.restoreUnacked([bad.deliveryTag, good.deliveryTag])).toBe(0);
    expect(await redis.client.get(broker.keys.unackedMutex)).toBeNull(); // the lock was released
  });

  it('a late ack after a visibility-timeout restore leaves the new owner\'s record alone (row 4)', async () => {
    await using redis = await createTestRedis();
    await using slow = brokerFor(redis, { transportOptions: { visibility_timeout: 1 }, restoreIntervalMs: 60_000 });
    await using fast = brokerFor(redis, { transportOptions: { visibility_timeout: 1 }, restoreIntervalMs: 60_000 });
    const sent = message('fence');
    await slow.publish(sent);
    const first = slow.consume({ queues: ['fence'], prefetch: 1 });
    const stale = await next(first);
    await pause(1_200); // the task outlives the visibility timeout
    expect(await fast.restoreVisible()).toBe(1);
    const second = fast.consume({ queues: ['fence'], prefetch: 1 });
    const current = await next(second);
    expect(current.deliveryTag).toBe(sent.deliveryTag);
    expect(current.redelivered).toBe(true);

    await stale.ack(); // the first worker finishes late
    expect(await redis.client.hexists(fast.keys.unacked, sent.deliveryTag)).toBe(1);
    expect(await redis.client.zscore(fast.keys.unackedIndex, sent.deliveryTag)).not.toBeNull();

    await current.ack();
    expect(await redis.client.hlen(fast.keys.unacked)).toBe(0);
    expect(await redis.client.zcard(fast.keys.unackedIndex)).toBe(0);
    await Promise.all([first.close(), second.close()]);
  });

  it('reject drops; reject with requeue puts it back marked redelivered with the same tag', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    const dropped = message('rej');
    const requeued = message('rej', { priority: 6 });
    await broker.publish(dropped);
    await broker.publish(requeued);
    const consumer = broker.consume({ queues: ['rej'], prefetch: 1 });
    const first = await next(consumer);
    expect(first.deliveryTag).toBe(dropped.deliveryTag);
    await first.reject();
    const second = await next(consumer);
    expect(second.deliveryTag).toBe(requeued.deliveryTag);
    expect(second.redelivered).toBe(false);
    await second.reject({ requeue: true });
    const again = await next(consumer);
    expect(again.deliveryTag).toBe(requeued.deliveryTag);
    expect(again.redelivered).toBe(true);
    expect(taskIdOf(again)).toBe(requeued.taskId);
    const envelope = envelopeOf(again);
    expect(envelope.headers['redelivered']).toBe(true);
    expect(envelope.properties.delivery_info['redelivered']).toBe(true);
    expect(envelope.properties.delivery_tag).toBe(requeued.deliveryTag);
    // Requeued to the bucket-0 key (kombu's restore target), with everything else intact.
    expect(again.queue).toBe('rej');
    expect({ ...envelope, headers: { ...envelope.headers, redelivered: undefined } }).toMatchObject({
      body: requeued.envelope.body,
      properties: { priority: 6 },
    });
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(1);
    await again.ack();
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(0);
    expect(await redis.client.zcard(broker.keys.unackedIndex)).toBe(0);
    expect(await redis.client.exists(...broker.keys.queueKeys('rej'))).toBe(0);
    await consumer.close();
  });

  it('close() puts back fetched but never handed out deliveries, close({ restore }) the handed out ones too', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    const sent = [message('shut'), message('shut'), message('shut')];
    for (const m of sent) await broker.publish(m);
    const consumer = broker.consume({ queues: ['shut'], prefetch: 3 });
    const handedOut = await next(consumer);
    await waitUntil(async () => (await redis.client.hlen(broker.keys.unacked)) === 3);
    await consumer.close({ restore: true });
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(0);
    expect(await redis.client.llen(`${redis.prefix}shut`)).toBe(3);
    await handedOut.ack(); // a no-op now: it was restored
    // Next consumer gets them in the original order, marked redelivered.
    const again = broker.consume({ queues: ['shut'], prefetch: 3 });
    const got = await collect(again).waitFor(3);
    expect(got.map((d) => d.deliveryTag)).toEqual(sent.map((m) => m.deliveryTag));
    expect(got.every((d) => d.redelivered)).toBe(true);
    await Promise.all(got.map((d) => d.ack()));
    await again.close();
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(0);
  });

  it('no-ack consumers pop without records', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    await broker.publish(message('noack'));
    await broker.publish(message('noack'));
    const consumer = broker.consume({ queues: ['noack'], prefetch: 1, noAck: true });
    const delivery = await next(consumer);
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(0);
    await delivery.ack();
    // The second one was fetched into the buffer (prefetch 1) or is still queued; close puts it back.
    await consumer.close();
    expect(await redis.client.llen(`${redis.prefix}noack`)).toBe(1);
  });
});

import { encodeTaskMessage } from '@celeriac/protocol';
import {
  assertCeleryAvailable,
  celeryResultKey,
  createTestRedis,
  getResultsWithPython,
  monitorRedis,
  randomName,
  startCeleryWorker,
  waitUntil,
} from '@celeriac/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { brokerFor, collect, envelopeOf, next, pause } from './helpers.ts';

beforeAll(async () => {
  expect(await assertCeleryAvailable()).toMatch(/^5\.2\./);
});

/** A Python peer on the test's own keyspace (kombu's global_keyprefix). */
function pythonConfig(prefix: string, visibilityTimeout: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...extra, broker_transport_options: { global_keyprefix: prefix, visibility_timeout: visibilityTimeout } };
}

describe('interop with Celery 5.2.6 (kombu 5.2.4)', () => {
  it('a Python worker restores and runs what a crashed TypeScript consumer left unacked', async () => {
    await using redis = await createTestRedis();
    const queue = randomName('q');
    await using broker = brokerFor(redis, { transportOptions: { visibility_timeout: 2 }, restoreIntervalMs: 3_600_000 });
    const sent = encodeTaskMessage({ task: 'tasks.add', args: [20, 22], queue });
    redis.track(celeryResultKey(sent.taskId));
    await broker.publish(sent);
    const consumer = broker.consume({ queues: [queue], prefetch: 1 });
    const delivery = await next(consumer);
    expect(delivery.deliveryTag).toBe(sent.deliveryTag);
    await broker.close(); // "crash": the handed-out delivery is never acked
    expect(await redis.client.hexists(`${redis.prefix}unacked`, sent.deliveryTag)).toBe(1);

    await pause(2_200); // older than the visibility timeout
    await using worker = await startCeleryWorker({ queue, config: pythonConfig(redis.prefix, 2) });
    const [result] = await getResultsWithPython([sent.taskId], 15);
    expect(result).toMatchObject({ id: sent.taskId, status: 'SUCCESS', result: 42 });
    await worker.stop();
    expect(await redis.client.hlen(`${redis.prefix}unacked`)).toBe(0);
  }, 30_000);

  it('our restoreVisible() puts back what a SIGKILLed Python worker left (acks_late), and we receive it', async () => {
    await using redis = await createTestRedis();
    const queue = randomName('q');
    await using worker = await startCeleryWorker({
      queue,
      config: pythonConfig(redis.prefix, 3600, { task_acks_late: true }),
    });
    await using broker = brokerFor(redis, { transportOptions: { visibility_timeout: 1 }, restoreIntervalMs: 3_600_000 });
    const sent = encodeTaskMessage({ task: 'tasks.sleep', kwargs: { seconds: 5 }, queue });
    redis.track(celeryResultKey(sent.taskId));
    await broker.publish(sent);
    await worker.waitForLog(`Task tasks.sleep[${sent.taskId}] received`, 10_000);
    await worker.kill();
    // kombu wrote its record (MULTI ZADD HSET) and nobody acked it.
    const record = await redis.client.hget(broker.keys.unacked, sent.deliveryTag);
    expect(JSON.parse(record ?? 'null')).toMatchObject([{ properties: { delivery_tag: sent.deliveryTag } }, '', queue]);

    await pause(1_100);
    expect(await broker.restoreVisible()).toBe(1);
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(0);
    const consumer = broker.consume({ queues: [queue], prefetch: 1 });
    const delivery = await next(consumer);
    expect(delivery.deliveryTag).toBe(sent.deliveryTag);
    expect(delivery.redelivered).toBe(true);
    expect(envelopeOf(delivery).headers).toMatchObject({ id: sent.taskId, redelivered: true });
    expect(envelopeOf(delivery).body).toBe(sent.envelope.body);
    await delivery.ack();
    await consumer.close();
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(0);
  }, 30_000);

  it('a Python worker runs what our publisher sends, priorities included; our restore lock is kombu\'s', async () => {
    await using redis = await createTestRedis();
    const queue = randomName('q');
    await using broker = brokerFor(redis);
    const sent = [0, 3, 5, 9, 255].map((priority, i) =>
      encodeTaskMessage({ task: 'tasks.add', args: [i, 100], queue, priority }),
    );
    redis.track(...sent.map((m) => celeryResultKey(m.taskId)));
    await broker.publishMany(sent.slice(0, 2));
    for (const m of sent.slice(2)) await broker.publish(m);
    expect(await redis.client.llen(`${redis.prefix}${queue}\x06\x169`)).toBe(2);

    // The restore lock is redis-py's Lock as kombu takes it: SET <mutex> <token> PX 300000 NX,
    // so a Python worker's lock and ours exclude each other; a held lock makes us skip.
    await using monitor = await monitorRedis(redis.url, { filter: (c) => c.args[1] === broker.keys.unackedMutex });
    expect(await broker.restoreVisible()).toBe(0);
    const [set] = await Promise.all([monitor.waitFor((c) => c.args[0]?.toLowerCase() === 'set')]);
    expect(set.args.slice(3)).toEqual(['PX', '300000', 'NX']);
    expect(set.args[2]).toMatch(/^[0-9a-f]{32}$/);
    await redis.client.set(broker.keys.unackedMutex, 'held-by-a-python-worker', 'PX', 5_000);
    expect(await broker.restoreVisible()).toBe(0);
    expect(await redis.client.get(broker.keys.unackedMutex)).toBe('held-by-a-python-worker');
    await redis.client.del(broker.keys.unackedMutex);

    await using worker = await startCeleryWorker({ queue, config: pythonConfig(redis.prefix, 3600) });
    const results = await getResultsWithPython(
      sent.map((m) => m.taskId),
      15,
    );
    expect(results.map((r) => [r.status, r.result])).toEqual(sent.map((_, i) => ['SUCCESS', i + 100]));
    await worker.stop();
    await waitUntil(async () => (await redis.client.exists(...broker.keys.queueKeys(queue))) === 0);
    expect(await redis.client.hlen(broker.keys.unacked)).toBe(0);
  }, 30_000);

  it('envelopes we requeue and restore on close still run on a Python worker', async () => {
    await using redis = await createTestRedis();
    const queue = randomName('q');
    await using broker = brokerFor(redis, { restoreIntervalMs: 3_600_000 });
    const consumer = broker.consume({ queues: [queue], prefetch: 5 });
    const collected = collect(consumer);
    const sent = encodeTaskMessage({ task: 'tasks.add', args: [1, 1], queue });
    await broker.publish(sent);
    const [first] = await collected.waitFor(1);
    await first?.reject({ requeue: true });
    const [, again] = await collected.waitFor(2);
    // The requeued envelope still decodes on the Python side: a worker runs it.
    await again?.reject({ requeue: true });
    await collected.waitFor(3);
    await consumer.close({ restore: true }); // a warm shutdown puts the third copy back
    redis.track(celeryResultKey(sent.taskId));
    await using worker = await startCeleryWorker({ queue, config: pythonConfig(redis.prefix, 3600) });
    const [result] = await getResultsWithPython([sent.taskId], 15);
    expect(result).toMatchObject({ status: 'SUCCESS', result: 2 });
    await worker.stop();
  }, 30_000);

  it("a Python worker's restore leaves our malformed deliveries alone; our restoreVisible() puts them back intact", async () => {
    await using redis = await createTestRedis();
    const queue = randomName('q');
    const options = { transportOptions: { visibility_timeout: 1 }, restoreIntervalMs: 3_600_000 };
    const garbage = Buffer.from([0x6e, 0x6f, 0x74, 0x20, 0x6a, 0x73, 0x6f, 0x6e, 0x22, 0x00, 0xff, 0xc3, 0xa9]);
    const sent = encodeTaskMessage({ task: 'tasks.add', args: [2, 2], queue });
    redis.track(celeryResultKey(sent.taskId));
    await redis.client.lpush(`${redis.prefix}${queue}`, garbage); // consumed first (FIFO)
    {
      await using crashed = brokerFor(redis, options);
      await crashed.publish(sent);
      const consumer = crashed.consume({ queues: [queue], prefetch: 2 });
      const got = await collect(consumer).waitFor(2);
      expect(Buffer.from(got[0]?.raw ?? []).equals(garbage)).toBe(true);
      expect(got[1]?.deliveryTag).toBe(sent.deliveryTag);
      // "crash": neither is acked (closing does not put back handed-out deliveries)
    }
    await pause(1_100); // both older than the visibility timeout

    // The Python worker restores what is past the visibility timeout at start: it runs the
    // task, and never sees the malformed element (kombu would delete its record and push
    // nothing: a string payload raises TypeError in _do_restore_message).
    await using worker = await startCeleryWorker({ queue, config: pythonConfig(redis.prefix, 1) });
    const [result] = await getResultsWithPython([sent.taskId], 15);
    expect(result).toMatchObject({ id: sent.taskId, status: 'SUCCESS', result: 4 });
    await worker.stop();
    const invalid = `${redis.prefix}celeriac.unacked.invalid`;
    const invalidIndex = `${redis.prefix}celeriac.unacked.invalid_index`;
    expect(await redis.client.hlen(`${redis.prefix}unacked`)).toBe(0);
    expect(await redis.client.hlen(invalid)).toBe(1);
    expect(await redis.client.zcard(invalidIndex)).toBe(1);

    await using rescuer = brokerFor(redis, options);
    expect(await rescuer.restoreVisible()).toBe(1);
    expect(await redis.client.lrangeBuffer(`${redis.prefix}${queue}`, 0, -1)).toEqual([garbage]);
    expect(await redis.client.exists(invalid, invalidIndex)).toBe(0);
  }, 30_000);
});

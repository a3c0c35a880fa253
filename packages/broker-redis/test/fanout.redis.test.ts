import type { FanoutMessage } from '@celeriac/protocol';
import { clientList, createTestRedis, monitorRedis, waitUntil } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { brokerFor, monitorBarrier, pause } from './helpers.ts';

function inbox(): { messages: FanoutMessage[]; handler: (message: FanoutMessage) => void } {
  const messages: FanoutMessage[] = [];
  return { messages, handler: (message) => messages.push(message) };
}

describe('fanout over pub/sub', () => {
  it('a PUBLISH to /<db>.celery.pidbox reaches subscribeFanout("celery.pidbox", "")', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    const box = inbox();
    await broker.subscribeFanout('celery.pidbox', '', box.handler);
    const channel = `${redis.prefix}/${redis.db}.celery.pidbox`;
    expect(await redis.client.publish(channel, '{"method": "ping"}')).toBe(1);
    await broker.publishFanout('celery.pidbox', '', Buffer.from('{"method": "revoke"}'));
    await broker.publishFanout('celery.pidbox', 'not-matched', '{"method": "other"}'); // kombu: a routing key is a sub-channel
    await waitUntil(() => box.messages.length >= 2);
    await pause(100);
    expect(box.messages.map((m) => [m.exchange, m.routingKey, Buffer.from(m.raw).toString()])).toEqual([
      ['celery.pidbox', '', '{"method": "ping"}'],
      ['celery.pidbox', '', '{"method": "revoke"}'],
    ]);
  });

  it('binding keys with # become * patterns; each binding gets only its own messages', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    await using monitor = await monitorRedis(redis.url, { filter: (c) => c.args.some((a) => a.startsWith(redis.prefix)) });
    const workers = inbox();
    const tasks = inbox();
    const all = inbox();
    await broker.subscribeFanout('celeryev', 'worker.#', workers.handler);
    await broker.subscribeFanout('celeryev', 'task.#', tasks.handler);
    await broker.subscribeFanout('celeryev', '#', all.handler);
    await monitorBarrier(redis, monitor); // MONITOR output arrives after the replies
    expect(monitor.count('psubscribe', (args) => args[0] === `${redis.prefix}/${redis.db}.celeryev/worker.*`)).toBe(1);
    await broker.publishFanout('celeryev', 'worker.heartbeat', '{"hb": 1}');
    await broker.publishFanout('celeryev', 'task.multi', '{"t": 1}');
    await monitorBarrier(redis, monitor);
    expect(monitor.count('publish', (args) => args[0] === `${redis.prefix}/${redis.db}.celeryev/worker.heartbeat`)).toBe(1);
    await waitUntil(() => all.messages.length === 2 && workers.messages.length === 1 && tasks.messages.length === 1);
    await pause(100);
    expect(workers.messages.map((m) => m.routingKey)).toEqual(['worker.heartbeat']);
    expect(tasks.messages.map((m) => m.routingKey)).toEqual(['task.multi']);
    expect(all.messages.map((m) => m.exchange)).toEqual(['celeryev', 'celeryev']);
  });

  it('shares one PSUBSCRIBE per pattern, one listener for 1000 bindings, and PUNSUBSCRIBEs with the last handler', async () => {
    await using redis = await createTestRedis();
    const name = `fan-${redis.prefix.slice(14, 26)}`;
    await using broker = brokerFor(redis, { name });
    await using monitor = await monitorRedis(redis.url, { filter: (c) => c.args.some((a) => a.startsWith(redis.prefix)) });
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      const subscriptions = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => broker.subscribeFanout(`ex${i}`, '', () => undefined)),
      );
      const a = inbox();
      const b = inbox();
      const first = await broker.subscribeFanout('shared', '', a.handler);
      const second = await broker.subscribeFanout('shared', '', b.handler);
      const pattern = `${redis.prefix}/${redis.db}.shared`;
      // MONITOR output of the 1001 PSUBSCRIBEs may still be on its way: wait until it is in.
      await monitorBarrier(redis, monitor);
      expect(monitor.count('psubscribe', (args) => args.includes(pattern))).toBe(1);
      expect(broker.fanout?.listenerCount).toBe(1);
      expect(broker.fanout?.patternCount).toBe(1001);
      const [entry] = (await clientList(redis.client)).filter((c) => c['name'] === `celeriac:${name}-fanout`);
      expect(entry?.['psub']).toBe('1001');

      await broker.publishFanout('shared', '', 'x');
      await waitUntil(() => a.messages.length === 1 && b.messages.length === 1);
      await first.unsubscribe();
      await first.unsubscribe(); // idempotent
      await monitorBarrier(redis, monitor);
      expect(monitor.count('punsubscribe')).toBe(0);
      await broker.publishFanout('shared', '', 'y');
      await waitUntil(() => b.messages.length === 2);
      expect(a.messages).toHaveLength(1);
      await second.unsubscribe();
      await monitor.waitFor((c) => c.args[0]?.toLowerCase() === 'punsubscribe' && c.args[1] === pattern);
      await Promise.all(subscriptions.map((s) => s.unsubscribe()));
      expect(broker.fanout?.patternCount).toBe(0);
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('resubscribes every pattern exactly once after its connection is killed', async () => {
    await using redis = await createTestRedis();
    const name = `fan-${redis.prefix.slice(14, 26)}`;
    await using broker = brokerFor(redis, { name });
    const box = inbox();
    await broker.subscribeFanout('celery.pidbox', '', box.handler);
    await broker.subscribeFanout('celeryev', 'worker.#', box.handler);
    await using monitor = await monitorRedis(redis.url, { filter: (c) => c.args.some((a) => a.startsWith(redis.prefix)) });
    const ids = (await clientList(redis.client)).filter((c) => c['name'] === `celeriac:${name}-fanout`).map((c) => c['id'] ?? '');
    expect(ids).toHaveLength(1);
    await redis.client.call('CLIENT', 'KILL', 'ID', ids[0] ?? '');
    await monitor.waitFor((c) => c.args[0]?.toLowerCase() === 'psubscribe', 5_000);
    await pause(300);
    await monitorBarrier(redis, monitor);
    const pidbox = `${redis.prefix}/${redis.db}.celery.pidbox`;
    const events = `${redis.prefix}/${redis.db}.celeryev/worker.*`;
    expect(monitor.count('psubscribe', (args) => args.includes(pidbox))).toBe(1);
    expect(monitor.count('psubscribe', (args) => args.includes(events))).toBe(1);
    expect(monitor.count('psubscribe')).toBe(1); // one command for both
    await broker.publishFanout('celeryev', 'worker.online', 'back');
    await waitUntil(() => box.messages.length === 1);
    expect(box.messages[0]?.routingKey).toBe('worker.online');
  });
});

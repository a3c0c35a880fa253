/**
 * Sending through a real Redis: what lands in the queue lists (LRANGE, decoded with
 * @celeriac/protocol), priority buckets and routing, nothing subscribed at send time, and
 * many concurrent sends awaited through one subscriber connection with a TypeScript
 * stand-in worker storing results.
 */
import { createRedisBackend } from '@celeriac/backend-redis';
import {
  AcceptContent,
  createResultMeta,
  createSerializerRegistry,
  decodeTaskMessage,
  type TaskMessage,
} from '@celeriac/protocol';
import { celeryResultKey, createTestRedis, KOMBU_SEP, pubsubNumsub, waitUntil, type TestRedis } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { createApp, type App, type CeleryConfigInput } from '../src/index.ts';

const registry = createSerializerRegistry();
const accept = new AcceptContent(['json', 'msgpack'], registry);

function appFor(redis: TestRedis, config: CeleryConfigInput = {}): App {
  return createApp({ broker_url: redis.url, result_backend: redis.url, ...config }, { env: {} });
}

async function queued(redis: TestRedis, key: string): Promise<TaskMessage[]> {
  const raw = await redis.client.lrangeBuffer(key, 0, -1);
  // LPUSH puts the newest first; a worker pops from the right, so reverse for send order.
  return raw.reverse().map((element) => decodeTaskMessage(element, { accept, serializers: registry }));
}

describe('what a send puts into Redis', () => {
  it('per-call options, as decoded from the queue list', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using app = appFor(redis, { task_default_queue: queue });
    const echo = app.task('tasks.echo', (_ctx, ...args: unknown[]) => args);
    const eta = new Date(Date.now() + 3_600_000);
    const expires = new Date(Date.now() + 7_200_000);
    const result = echo.applyAsync(['x', 2n ** 70n], { k: null }, {
      eta,
      expires,
      headers: { 'x-custom': 'v1' },
      timeLimit: 30,
      softTimeLimit: 20,
      link: echo.s('cb'),
      linkError: echo.si('eb'),
      ignoreResult: true,
      taskId: `fixed-${queue}`,
      shadow: 'custom.shadow.name',
    });
    await result.sent;
    await echo.applyAsync([new Uint8Array([0, 1, 254, 255])], {}, { serializer: 'msgpack', taskId: `mp-${queue}` }).sent;

    const [first, second] = await queued(redis, queue);
    expect(first?.headers).toMatchObject({
      task: 'tasks.echo',
      id: `fixed-${queue}`,
      shadow: 'custom.shadow.name',
      timelimit: [30, 20],
      ignore_result: true,
      'x-custom': 'v1',
    });
    expect(first?.headers.eta).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    expect(first?.eta?.getTime()).toBe(eta.getTime());
    expect(first?.expires?.getTime()).toBe(expires.getTime());
    expect(Number(first?.properties.expiration)).toBeGreaterThan(7_100_000);
    expect(first?.args).toEqual(['x', 2n ** 70n]);
    expect(first?.kwargs).toEqual({ k: null });
    expect(first?.embed.callbacks?.[0]).toMatchObject({ task: 'tasks.echo', args: ['cb'], immutable: false });
    expect(first?.embed.errbacks?.[0]).toMatchObject({ task: 'tasks.echo', args: ['eb'], immutable: true });
    expect(first?.properties.delivery_info).toEqual({ exchange: '', routing_key: queue });
    expect(second?.contentType).toBe('application/x-msgpack');
    expect(second?.contentEncoding).toBe('binary');
    expect(second?.args).toEqual([new Uint8Array([0, 1, 254, 255])]);
    expect(await redis.client.smembers(`_kombu.binding.${queue}`)).toEqual([`${queue}${KOMBU_SEP}${KOMBU_SEP}${queue}`]);
  });

  it('priorities go to their kombu bucket; routes and queues to their lists', async () => {
    await using redis = await createTestRedis();
    const [main, routed, explicit] = [redis.queue('main'), redis.queue('routed'), redis.queue('explicit')];
    await using app = appFor(redis, { task_default_queue: main, task_routes: { 'reports.*': { queue: routed } } });
    await Promise.all([
      app.sendTask('tasks.p', [0], {}, { priority: 0 }).sent,
      app.sendTask('tasks.p', [2], {}, { priority: 2 }).sent,
      app.sendTask('tasks.p', [5], {}, { priority: 5 }).sent,
      app.sendTask('tasks.p', [6], {}, { priority: 6 }).sent,
      app.sendTask('tasks.p', [9], {}, { priority: 9 }).sent,
      app.sendTask('reports.daily').sent,
      app.sendTask('reports.daily', [], {}, { queue: explicit }).sent,
    ]);
    const argsIn = async (key: string) => (await queued(redis, key)).map((m) => m.args[0] ?? m.headers.task);
    expect(await argsIn(main)).toEqual([0, 2]);
    expect(await argsIn(`${main}${KOMBU_SEP}3`)).toEqual([5]);
    expect(await argsIn(`${main}${KOMBU_SEP}6`)).toEqual([6]);
    expect(await argsIn(`${main}${KOMBU_SEP}9`)).toEqual([9]);
    expect(await argsIn(routed)).toEqual(['reports.daily']);
    expect(await argsIn(explicit)).toEqual(['reports.daily']);
    const [priority9] = await queued(redis, `${main}${KOMBU_SEP}9`);
    expect(priority9?.properties.priority).toBe(9);
  });

  it('honours broker_transport_options (priority_steps, global_keyprefix)', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using app = appFor(redis, {
      task_default_queue: queue,
      broker_transport_options: { priority_steps: [0, 5], global_keyprefix: redis.prefix },
    });
    await app.sendTask('tasks.p', [7], {}, { priority: 7 }).sent;
    const messages = await queued(redis, `${redis.prefix}${queue}${KOMBU_SEP}5`);
    expect(messages.map((m) => m.args[0])).toEqual([7]);
  });
});

describe('results are awaited lazily', () => {
  it('a send subscribes nothing; awaiting subscribes until the result is stored', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using app = appFor(redis, { task_default_queue: queue });
    await using worker = Object.assign(createRedisBackend(redis.url), { [Symbol.asyncDispose]: () => worker.close() });
    const result = app.sendTask<number>('tasks.add', [2, 3]);
    redis.track(celeryResultKey(result.id));
    await result.sent;
    const channel = celeryResultKey(result.id);
    expect((await pubsubNumsub(redis.client, [channel])).get(channel)).toBe(0);

    const waiting = result.get({ timeout: 10_000 });
    await waitUntil(async () => (await pubsubNumsub(redis.client, [channel])).get(channel) === 1, { message: 'no SUBSCRIBE' });
    await worker.store(createResultMeta({ taskId: result.id, status: 'SUCCESS', result: 5 }));
    expect(await waiting).toBe(5);
    await waitUntil(async () => (await pubsubNumsub(redis.client, [channel])).get(channel) === 0, { message: 'no UNSUBSCRIBE' });
  });

  it('10,000 concurrent delay() calls, each result awaited (a TypeScript stand-in worker stores them)', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using app = appFor(redis, { task_default_queue: queue });
    await using store = Object.assign(createRedisBackend(redis.url), { [Symbol.asyncDispose]: () => store.close() });
    const add = app.task('tasks.add', (_ctx, x: number, y: number) => x + y);
    const count = 10_000;
    const started = Date.now();
    const results = Array.from({ length: count }, (_, i) => add.delay(i, 1));
    redis.track(...results.map((r) => celeryResultKey(r.id)));
    const values = Promise.all(results.map((r) => r.get({ timeout: 60_000 })));
    await Promise.all(results.map((r) => r.sent));
    expect(await redis.client.llen(queue)).toBe(count);

    // The stand-in worker: pop every message and store its SUCCESS (in batches).
    const consumer = app.broker.consume({ queues: [queue], prefetch: 1000 });
    let done = 0;
    const pending: Promise<unknown>[] = [];
    for await (const delivery of consumer) {
      const message = decodeTaskMessage(delivery.raw, { accept, serializers: registry });
      const [x, y] = message.args as [number, number];
      pending.push(store.store(createResultMeta({ taskId: message.headers.id, status: 'SUCCESS', result: x + y })).then(() => delivery.ack()));
      done += 1;
      if (pending.length >= 500 || done === count) await Promise.all(pending.splice(0));
      if (done === count) break;
    }
    expect(await values).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    const seconds = (Date.now() - started) / 1000;
    expect(seconds).toBeLessThan(60);
    // Each id subscribed exactly once, on one connection, and released once ready.
    const stats = app.backend?.consumer.stats();
    expect(stats).toMatchObject({ channelsSubscribed: count, waiting: 0, messageListeners: 1 });
    expect(stats?.subscribeCommands).toBeLessThanOrEqual(Math.ceil(count / 1000) + 1);
    await waitUntil(() => app.backend?.consumer.stats().subscribed === 0, { message: 'channels left subscribed' });
  });
});

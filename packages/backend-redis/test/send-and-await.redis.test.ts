/**
 * The producer's path end to end on the two Redis packages: 10,000 concurrent sends whose
 * results are awaited, on a cold client, executed by a minimal worker (our broker consumer
 * storing through a second backend). Counted with MONITOR on a redis-server of the test's
 * own: exactly one SUBSCRIBE per awaited id, one result-subscriber connection, and nothing
 * subscribed for sends whose results are ignored.
 */
import { createRedisBroker } from '@celeriac/broker-redis';
import { createResultMeta, decodeTaskMessage, encodeTaskMessage, TaskState } from '@celeriac/protocol';
import { countClients, pubsubNumsub, startRedisServer, waitUntil } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { taskKey } from '../src/index.ts';
import { adminFor, backendFor } from './helpers.ts';

describe('10,000 concurrent sends with awaited results', () => {
  it('subscribe each awaited id exactly once on one connection, and ignored results never', async () => {
    await using server = await startRedisServer();
    // Only what is counted: the broker's own traffic (fetches, acks, restores) would
    // overflow the recording.
    await using monitor = await server.monitor({
      filter: (c) => ['subscribe', 'lpush'].includes(c.args[0]?.toLowerCase() ?? ''),
    });
    await using admin = await adminFor(server.url);
    await using producerBackend = backendFor(server.url);
    await using workerBackend = backendFor(server.url);
    await using broker = createRedisBroker(server.url);
    const queue = 'send-and-await';

    // A minimal worker: decode, add, store SUCCESS, ack.
    const consumer = broker.consume({ queues: [queue], prefetch: 200 });
    const worker = (async () => {
      for await (const delivery of consumer) {
        const message = decodeTaskMessage(delivery.raw);
        const [x, y] = message.args as [number, number];
        await workerBackend.store(createResultMeta({ taskId: message.headers.id, status: TaskState.SUCCESS, result: x + y }));
        await delivery.ack();
      }
    })();

    const n = 10_000;
    const ignored = 500;
    const started = performance.now();
    const sends = Array.from({ length: n }, async (_, i) => {
      const message = encodeTaskMessage({ task: 'tasks.add', args: [i, 1], queue });
      await broker.publish(message);
      // Wrapped: an async function returning the thenable handle would resolve to its result.
      return { handle: producerBackend.asyncResult<number>(message.taskId) };
    });
    const fireAndForget = Array.from({ length: ignored }, async (_, i) => {
      const message = encodeTaskMessage({ task: 'tasks.add', args: [i, 2], queue, ignoreResult: true });
      await broker.publish(message);
      return message.taskId;
    });
    const handles = (await Promise.all(sends)).map(({ handle }) => handle);
    const ignoredIds = await Promise.all(fireAndForget);
    const values = await Promise.all(handles.map((h) => h.get({ timeout: 30_000 })));
    const elapsed = performance.now() - started;

    expect(values).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const subscribes = new Map<string, number>();
    for (const c of monitor.commands((c) => c.args[0]?.toLowerCase() === 'subscribe')) {
      for (const channel of c.args.slice(1)) subscribes.set(channel, (subscribes.get(channel) ?? 0) + 1);
    }
    expect(handles.every((h) => subscribes.get(taskKey(h.id)) === 1)).toBe(true);
    expect(ignoredIds.every((id) => !subscribes.has(taskKey(id)))).toBe(true);
    expect(await countClients(admin, (c) => c['name'] === 'celeriac:result-subscriber')).toBe(1);
    await waitUntil(async () => [...(await pubsubNumsub(admin, handles.map((h) => taskKey(h.id)))).values()].every((v) => v === 0), {
      timeoutMs: 10_000,
      message: 'every result channel unsubscribed',
    });
    console.log(
      `${n} sends awaited in ${elapsed.toFixed(0)} ms: ${monitor.count('subscribe', (a) => a.some((x) => x.startsWith('celery-task-meta-')))} SUBSCRIBE commands, ` +
        `${monitor.count('lpush')} LPUSH`,
    );
    await consumer.close();
    await worker;
  });
});

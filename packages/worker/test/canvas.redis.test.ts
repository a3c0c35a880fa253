/**
 * Chains on the real Redis broker, with a real Celery 5.2 client (`celery.chain(...)
 * .apply_async()` in send_chain.py) and a real Celery 5.2 worker: (a) a whole chain on the
 * Celeriac worker; (b) a chain crossing languages twice (TS → Python → TS). Also the ETA
 * prefetch: held ETA messages do not stop the worker fetching.
 */
import { join } from 'node:path';
import { createApp, type App } from '@celeriac/client';
import { encodeTaskMessage } from '@celeriac/protocol';
import {
  assertCeleryAvailable,
  celeryResultKey,
  createTestRedis,
  getResultsWithPython,
  runPythonScript,
  startCeleryWorker,
  waitUntil,
  type CeleryPeerOptions,
  type TestRedis,
} from '@celeriac/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWorker, type Worker } from '../src/worker.ts';

interface Step {
  readonly task: string;
  readonly args: unknown[];
  readonly queue?: string;
}

/** Runs send_chain.py: a real `celery.chain(...).apply_async()`; resolves with the ids, first step first. */
function sendChainWithPython(steps: Step[], peer: CeleryPeerOptions): Promise<string[]> {
  return runPythonScript<string[]>(join(import.meta.dirname, 'send_chain.py'), steps, peer);
}

interface Meta {
  status: string;
  result: unknown;
  parent_id?: string | null;
  children?: unknown[];
}

async function readMeta(redis: TestRedis, id: string): Promise<Meta> {
  const raw = await redis.client.get(celeryResultKey(id));
  return JSON.parse(raw ?? 'null') as Meta;
}

async function tsWorker(redis: TestRedis, queue: string, options: { concurrency?: number; prefetchMultiplier?: number } = {}): Promise<{ app: App; worker: Worker; ran: string[] }> {
  const ran: string[] = [];
  const app = createApp({ broker_url: redis.url, result_backend: redis.url, task_default_queue: queue });
  app.task('tasks.add', { params: ['x', 'y'] }, (ctx, x: number, y: number) => {
    ran.push(ctx.request.id);
    return x + y;
  });
  const worker = createWorker(app, { hostname: 'canvas-test@%h', concurrency: options.concurrency ?? 2, ...(options.prefetchMultiplier === undefined ? {} : { prefetchMultiplier: options.prefetchMultiplier }) });
  await worker.start();
  return { app, worker, ran };
}

describe('chains with Celery 5.2', () => {
  beforeAll(async () => {
    await assertCeleryAvailable();
  });

  it('(a) a chain sent by a Python client runs entirely on the Celeriac worker', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue('a');
    const { app, worker } = await tsWorker(redis, queue);
    try {
      const ids = await sendChainWithPython(
        [
          { task: 'tasks.add', args: [1, 1] },
          { task: 'tasks.add', args: [2] },
          { task: 'tasks.add', args: [3] },
          { task: 'tasks.add', args: [4] },
        ],
        { queue },
      );
      redis.track(...ids.map(celeryResultKey));
      expect(ids).toHaveLength(4);
      const [last] = await getResultsWithPython([ids[3] as string], 15, { queue });
      expect(last).toMatchObject({ status: 'SUCCESS', result: 11 });
      const metas = await Promise.all(ids.map((id) => readMeta(redis, id)));
      expect(metas.map((m) => m.result)).toEqual([2, 4, 7, 11]);
      expect(metas.slice(1).map((m) => m.parent_id)).toEqual(ids.slice(0, 3));
      expect(metas.slice(0, 3).map((m) => m.children)).toEqual(ids.slice(1).map((id) => [[[id, null], null]]));
      expect(metas[3]?.children).toEqual([]);
    } finally {
      await worker.stop();
      await app.close();
    }
  }, 30_000);

  it('(b) add(1,1) | add(2) | add(3) on queues TS, Python, TS → 7, each parent_id right', async () => {
    await using redis = await createTestRedis();
    const qa = redis.queue('ts');
    const qb = redis.queue('py');
    const { app, worker, ran } = await tsWorker(redis, qa);
    await using python = await startCeleryWorker({ queue: qb });
    try {
      const ids = await sendChainWithPython(
        [
          { task: 'tasks.add', args: [1, 1], queue: qa },
          { task: 'tasks.add', args: [2], queue: qb },
          { task: 'tasks.add', args: [3], queue: qa },
        ],
        { queue: qa },
      );
      redis.track(...ids.map(celeryResultKey));
      const [last] = await getResultsWithPython([ids[2] as string], 20, { queue: qa });
      expect(last).toMatchObject({ status: 'SUCCESS', result: 7 });
      const metas = await Promise.all(ids.map((id) => readMeta(redis, id)));
      expect(metas.map((m) => m.result)).toEqual([2, 4, 7]);
      expect(metas[1]?.parent_id).toBe(ids[0]);
      expect(metas[2]?.parent_id).toBe(ids[1]);
      // Steps 1 and 3 ran here, step 2 on the Python worker.
      expect(ran).toEqual([ids[0], ids[2]]);
      expect([python.logs()].flat().join('\n')).toContain(ids[1] as string);
    } finally {
      await worker.stop();
      await app.close();
    }
  }, 40_000);
});

describe('ETA messages and prefetch on Redis', () => {
  it('concurrency 1 × multiplier 1: five held 10 s countdowns do not stop a plain message; they are restored at shutdown', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue('eta');
    const { app, worker, ran } = await tsWorker(redis, queue, { concurrency: 1, prefetchMultiplier: 1 });
    try {
      const held = Array.from({ length: 5 }, (_, i) => encodeTaskMessage({ task: 'tasks.add', args: [i, 0], queue, countdown: 10 }));
      for (const m of held) await app.broker.publish(m);
      await waitUntil(() => worker.scheduled().length === 5, { timeoutMs: 3_000, message: 'the ETA messages were not all held' });
      const plain = encodeTaskMessage({ task: 'tasks.add', args: [20, 22], queue });
      redis.track(celeryResultKey(plain.taskId), ...held.map((m) => celeryResultKey(m.taskId)));
      const sentAt = Date.now();
      await app.broker.publish(plain);
      await waitUntil(() => ran.includes(plain.taskId), { timeoutMs: 1_500, message: 'the plain message did not run while ETAs were held' });
      expect(Date.now() - sentAt).toBeLessThan(1_200);
      expect(await app.asyncResult(plain.taskId).get({ timeout: 2_000 })).toBe(42);
      expect(worker.scheduled()).toHaveLength(5);
    } finally {
      await worker.stop();
      await app.close();
    }
    // The held ones went back to the queue at the warm shutdown, none ran.
    expect(ran).toHaveLength(1);
    expect(await redis.client.llen(queue)).toBe(5);
  }, 20_000);
});

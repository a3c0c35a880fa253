/**
 * Rate limits on the real Redis broker (Celery's `rate_limit`, per task, per worker): the
 * rate holds within 10 % over 10 seconds, and a rate-limited backlog does not block other
 * tasks (held requests wait off-slot and do not take prefetch slots).
 */
import { createApp } from '@celeriac/client';
import { encodeTaskMessage } from '@celeriac/protocol';
import { celeryResultKey, createTestRedis, waitUntil } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { createWorker } from '../src/worker.ts';

describe('rate limits on Redis', () => {
  it('"20/s" runs 200 ± 10 % tasks in 10 s while unlimited tasks sent behind the backlog finish at once', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue('rate');
    const app = createApp({ broker_url: redis.url, result_backend: redis.url, task_default_queue: queue, task_ignore_result: true });
    const limitedRuns: number[] = [];
    const freeRuns: number[] = [];
    app.task('tasks.limited', { rateLimit: '20/s' }, () => void limitedRuns.push(performance.now()));
    app.task('tasks.free', () => void freeRuns.push(performance.now()));
    const worker = createWorker(app, { hostname: 'rate@%h', concurrency: 4 });
    try {
      const backlog = Array.from({ length: 400 }, (_, i) => encodeTaskMessage({ task: 'tasks.limited', args: [i], queue }));
      await app.broker.publishMany(backlog);
      await worker.start();
      await waitUntil(() => limitedRuns.length > 0, { timeoutMs: 5_000 });
      const start = limitedRuns[0] as number;
      // Sent behind 400 limited messages: they must not wait for the backlog.
      await new Promise((r) => setTimeout(r, 1_000));
      const free = Array.from({ length: 50 }, () => encodeTaskMessage({ task: 'tasks.free', queue }));
      redis.track(...free.map((m) => celeryResultKey(m.taskId)));
      const sentFree = performance.now();
      await app.broker.publishMany(free);
      await waitUntil(() => freeRuns.length === 50, { timeoutMs: 3_000, message: 'unlimited tasks waited behind the rate-limited backlog' });
      expect((freeRuns.at(-1) as number) - sentFree).toBeLessThan(1_500);
      await waitUntil(() => performance.now() - start >= 10_000, { timeoutMs: 12_000, intervalMs: 50 });
      const inWindow = limitedRuns.filter((t) => t - start < 10_000).length;
      expect(inWindow).toBeGreaterThanOrEqual(180);
      expect(inWindow).toBeLessThanOrEqual(220);
      // The rest waits off-slot: counted as reserved, not running.
      expect(worker.stats().active).toBeLessThanOrEqual(1);
    } finally {
      await worker.stop();
      await app.close();
    }
    // A warm shutdown hands the held rest back to the queue; none was lost.
    expect(limitedRuns.length + (await redis.client.llen(queue))).toBe(400);
  }, 30_000);

  it('a bad rate refuses to start the worker; worker.setRateLimit changes it at run time', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue('bad');
    const app = createApp({ broker_url: redis.url, task_default_queue: queue });
    app.task('tasks.bad', { rateLimit: '10/x' }, () => 1);
    const worker = createWorker(app, { hostname: 'rate-bad@%h' });
    await expect(worker.start()).rejects.toThrow(/tasks\.bad.*10\/x/);
    const ok = createApp({ broker_url: redis.url, task_default_queue: queue });
    ok.task('tasks.fine', () => 1);
    const w2 = createWorker(ok, { hostname: 'rate-ok@%h' });
    expect(() => w2.setRateLimit('tasks.unknown', '1/s')).toThrow(/no such task/);
    expect(() => w2.setRateLimit('tasks.fine', 'often')).toThrow(/often/);
    w2.setRateLimit('tasks.fine', '5/m');
    await app.close();
    await ok.close();
  });
});

/**
 * Handles and waits leave nothing behind (matrix rows 10 and 13): dropped handles are
 * collected with their subscriptions, timed-out waits empty the map, and an awaited
 * temporary handle is never cut short by the collector. Needs `--expose-gc`.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@celeriac/protocol';
import { PromiseCancelledError } from '@celeriac/promise';
import { pubsubChannelCount, pubsubNumsub, startRedisServer, waitUntil } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import type { RedisResultBackend } from '../src/index.ts';
import { adminFor, backendFor, keysOf, requireGc, sleep, success, taskIds, type AdminClient } from './helpers.ts';

const MB = 1024 * 1024;

/** gc() until the heap stops shrinking; returns heapUsed. */
async function settledHeap(gc: () => void): Promise<number> {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i += 1) {
    gc();
    await sleep(20);
    const used = process.memoryUsage().heapUsed;
    if (Math.abs(last - used) < 64 * 1024) return used;
    last = used;
  }
  return last;
}

/** gc() until the consumer's map is empty (finalizers run after a collection, on a later task). */
async function collectUntilEmpty(gc: () => void, backend: RedisResultBackend, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (backend.consumer.stats().waiting > 0) {
    if (performance.now() > deadline) throw new Error(`still ${backend.consumer.stats().waiting} entries after gc()`);
    gc();
    await sleep(10);
  }
}

/** Creates `count` handles the way a producer does on send; every other one gets an onReady callback. All are dropped on return. */
function createAndDrop(backend: RedisResultBackend, prefix: string, count: number): void {
  const noop = (): void => {};
  for (let i = 0; i < count; i += 1) {
    const handle = backend.asyncResult(`${prefix}${i}`);
    if (i % 2 === 0) handle.onReady(noop);
  }
}

async function channelsOf(admin: AdminClient, prefix: string): Promise<number> {
  return pubsubChannelCount(admin, `celery-task-meta-${prefix}*`);
}

describe('no leaks', () => {
  it('100,000 dropped handles (half with an onReady callback): heap back within a few MB, zero subscriptions', async () => {
    const gc = requireGc();
    await using server = await startRedisServer();
    await using admin = await adminFor(server.url);
    await using backend = backendFor(server.url);

    const cycle = async (count: number): Promise<{ peakMb: number }> => {
      const prefix = `leak-${randomUUID()}-`;
      createAndDrop(backend, prefix, count);
      // Only the handles with a callback subscribe; the others never touch Redis.
      await waitUntil(async () => (await channelsOf(admin, prefix)) === count / 2, {
        timeoutMs: 20_000,
        message: `${count / 2} channels subscribed`,
      });
      const peakMb = process.memoryUsage().heapUsed / MB;
      expect(backend.consumer.stats().waiting).toBe(count / 2);
      await collectUntilEmpty(gc, backend);
      await waitUntil(async () => (await channelsOf(admin, prefix)) === 0, {
        timeoutMs: 20_000,
        message: 'every channel unsubscribed after gc()',
      });
      return { peakMb };
    };

    await cycle(1_000); // warm up the connection, the JIT and the finalizer path
    const before = await settledHeap(gc);
    const { peakMb } = await cycle(100_000);
    const after = await settledHeap(gc);
    await cycle(100_000); // a second round must not grow the heap again: nothing per handle stays
    const again = await settledHeap(gc);
    const deltaMb = (after - before) / MB;
    const growthMb = (again - after) / MB;
    console.log(
      `100,000 handles: heap before ${(before / MB).toFixed(1)} MB, peak ${peakMb.toFixed(1)} MB, ` +
        `after gc ${(after / MB).toFixed(1)} MB (delta ${deltaMb.toFixed(2)} MB); ` +
        `after a second round ${(again / MB).toFixed(1)} MB (growth ${growthMb.toFixed(2)} MB)`,
    );
    expect(deltaMb).toBeLessThan(4);
    expect(growthMb).toBeLessThan(1);
    const stats = backend.consumer.stats();
    expect(stats).toMatchObject({ waiting: 0, subscribed: 0, messageListeners: 1 });
    expect(stats.channelsUnsubscribed).toBe(stats.channelsSubscribed);
  });

  it('a dropped handle is collected (WeakRef) and its onReady callback cancelled, never called', async () => {
    const gc = requireGc();
    await using server = await startRedisServer();
    await using admin = await adminFor(server.url);
    await using backend = backendFor(server.url);
    await using worker = backendFor(server.url);
    const id = randomUUID();
    const called: unknown[] = [];
    const told: unknown[] = [];
    let ref: WeakRef<object> | undefined;
    (() => {
      const handle = backend.asyncResult(id);
      handle.onReady((meta) => called.push(meta), (err: unknown) => told.push(err));
      ref = new WeakRef(handle);
    })();
    await waitUntil(async () => (await pubsubNumsub(admin, keysOf([id]))).get(keysOf([id])[0] ?? '') === 1);
    await collectUntilEmpty(gc, backend);
    expect(ref?.deref()).toBeUndefined();
    await waitUntil(async () => (await pubsubNumsub(admin, keysOf([id]))).get(keysOf([id])[0] ?? '') === 0);
    await worker.store(success(id, 1));
    await sleep(50);
    expect(called).toEqual([]);
    expect(told).toHaveLength(1);
    expect(told[0]).toBeInstanceOf(PromiseCancelledError);
  });

  it('1,000 get({ timeout: 50 }) that time out leave zero subscriptions and an empty map (cold and warm)', async () => {
    await using server = await startRedisServer();
    await using admin = await adminFor(server.url);
    await using backend = backendFor(server.url);
    for (const round of ['cold', 'warm']) {
      const ids = taskIds(1_000, round);
      const outcomes = await Promise.allSettled(ids.map((id) => backend.asyncResult(id).get({ timeout: 50 })));
      expect(outcomes.every((o) => o.status === 'rejected' && (o.reason as { code?: string }).code === ErrorCode.TIMEOUT)).toBe(true);
      await waitUntil(() => backend.consumer.stats().subscribed === 0, { message: `${round}: nothing subscribed` });
      expect(backend.consumer.stats().waiting).toBe(0);
      const counts = await pubsubNumsub(admin, keysOf(ids));
      expect([...counts.values()].every((n) => n === 0)).toBe(true);
      expect(await channelsOf(admin, '')).toBe(0);
    }
    const stats = backend.consumer.stats();
    expect(stats.channelsUnsubscribed).toBe(stats.channelsSubscribed);
    expect(stats.channelsSubscribed).toBeGreaterThanOrEqual(1_000); // the warm round did subscribe
  });

  it('an awaited temporary handle survives gc() and gets its result', async () => {
    const gc = requireGc();
    await using server = await startRedisServer();
    await using backend = backendFor(server.url);
    await using worker = backendFor(server.url);
    const id = randomUUID();
    const pending = (async () => backend.asyncResult<number>(id).get())();
    const viaThen = new Promise<number>((resolve) => {
      void backend.asyncResult<number>(id).then(resolve);
    });
    for (let i = 0; i < 5; i += 1) {
      gc();
      await sleep(10);
    }
    expect(backend.consumer.stats().waiting).toBe(1);
    await worker.store(success(id, 42));
    expect(await pending).toBe(42);
    expect(await viaThen).toBe(42);
    await waitUntil(() => backend.consumer.stats().subscribed === 0);
  });
});

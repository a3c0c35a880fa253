/**
 * The handles: AsyncResult (get, await, onReady, state, refresh, forget, timeouts, aborts,
 * close) and GroupResult (join, save / restore), against the shared Redis and, where
 * commands are counted, a server of the test's own.
 */
import { randomUUID } from 'node:crypto';
import { getEventListeners } from 'node:events';
import {
  ConnectionClosedError,
  createResultMeta,
  ErrorCode,
  RemoteTaskError,
  TimeoutError,
} from '@celeriac/protocol';
import { PromiseCancelledError } from '@celeriac/promise';
import { celeryResultKey, createTestRedis, pubsubNumsub, startRedisServer, waitUntil, type TestRedis } from '@celeriac/test-utils';
import { describe, expect, it, vi } from 'vitest';
import { createAsyncResult, GroupResult, groupKey, taskKey, type AsyncResult } from '../src/index.ts';
import { backendFor, sleep, success, taskIds } from './helpers.ts';

function failure(taskId: string, excType = 'InteropError', message = 'boom \u2603'): ReturnType<typeof createResultMeta> {
  return createResultMeta({
    taskId,
    status: 'FAILURE',
    result: { exc_type: excType, exc_message: [message], exc_module: 'tasks' },
    traceback: 'Traceback (most recent call last):\n  ...\ntasks.InteropError: boom\n',
  });
}

function ids(redis: TestRedis, count: number): string[] {
  const out = taskIds(count, redis.prefix.replace(/[^a-z0-9]/gi, ''));
  redis.track(...out.map(celeryResultKey));
  return out;
}

async function subscribers(redis: TestRedis, id: string): Promise<number> {
  return (await pubsubNumsub(redis.client, [taskKey(id)])).get(taskKey(id)) ?? -1;
}

async function subscribed(handle: AsyncResult<unknown>, redis: TestRedis): Promise<void> {
  await waitUntil(async () => (await subscribers(redis, handle.id)) === 1, { message: `${handle.id} subscribed` });
}

describe('AsyncResult', () => {
  it('resolves a result stored before the wait (race guard) and one stored after (pub/sub)', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    await using worker = backendFor(redis.url);
    const [early, late] = ids(redis, 2) as [string, string];
    await worker.store(success(early, 'early'));
    const lateResult = backend.asyncResult<string>(late);
    expect(lateResult.state).toBe('PENDING');
    const pending = lateResult.get({ timeout: 5_000 });
    expect(await backend.asyncResult<string>(early).get({ timeout: 5_000 })).toBe('early');
    await subscribed(lateResult, redis);
    await worker.store(success(late, 'late'));
    expect(await pending).toBe('late');
    expect(lateResult.state).toBe('SUCCESS');
    expect(lateResult.ready()).toBe(true);
    expect(lateResult.successful()).toBe(true);
    expect(lateResult.result).toBe('late');
    expect(lateResult.dateDone).toMatch(/^\d{4}-\d\d-\d\dT/);
    // A second get() answers from the handle without Redis.
    expect(await lateResult.get()).toBe('late');
  });

  it('is awaitable, and createAsyncResult makes the same handle', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const [id] = ids(redis, 1) as [string];
    await backend.store(success(id, { sum: 5 }));
    expect(await backend.asyncResult(id)).toEqual({ sum: 5 });
    expect(await createAsyncResult(id, backend)).toEqual({ sum: 5 });
    expect(String(backend.asyncResult(id))).toBe(`<AsyncResult: ${id}>`);
  });

  it('rejects with the task failure rebuilt by name (never a constructor lookup); propagate: false returns it', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const [id] = ids(redis, 1) as [string];
    await backend.store(failure(id));
    const handle = backend.asyncResult(id);
    const error = await handle.get().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect(error).toMatchObject({ name: 'InteropError', code: ErrorCode.TASK_FAILED, excModule: 'tasks', excMessage: ['boom \u2603'], taskId: id });
    expect((error as RemoteTaskError).traceback).toContain('Traceback');
    expect(handle.failed()).toBe(true);
    expect(handle.ready()).toBe(true);
    expect(handle.traceback).toContain('InteropError');
    const returned = await handle.get({ propagate: false });
    expect(returned).toBeInstanceOf(RemoteTaskError);
    expect(handle.result).toBeInstanceOf(RemoteTaskError);
  });

  it('rejects a REVOKED result with code TASK_REVOKED', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const [id] = ids(redis, 1) as [string];
    await backend.store(createResultMeta({
      taskId: id,
      status: 'REVOKED',
      result: { exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' },
    }));
    await expect(backend.asyncResult(id).get()).rejects.toMatchObject({ name: 'TaskRevokedError', code: ErrorCode.TASK_REVOKED });
  });

  it('follows non-ready states (STARTED, RETRY) while waiting, and settles on the ready one', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    await using worker = backendFor(redis.url);
    const [id] = ids(redis, 1) as [string];
    const handle = backend.asyncResult<number>(id);
    const pending = handle.get({ timeout: 5_000 });
    await subscribed(handle, redis);
    await worker.store(createResultMeta({ taskId: id, status: 'STARTED', result: { pid: 7, hostname: 'w1@vm' } }));
    await waitUntil(() => handle.state === 'STARTED');
    expect(handle.ready()).toBe(false);
    expect(handle.result).toEqual({ pid: 7, hostname: 'w1@vm' });
    await worker.store(createResultMeta({ taskId: id, status: 'RETRY', result: new Error('again') }));
    await waitUntil(() => handle.state === 'RETRY');
    expect(await subscribers(redis, id)).toBe(1);
    await worker.store(success(id, 3));
    expect(await pending).toBe(3);
    await waitUntil(async () => (await subscribers(redis, id)) === 0, { message: 'unsubscribed on the ready state' });
  });

  it('times out with TimeoutError (code TIMEOUT) and drops the subscription unless another waiter remains', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    await using worker = backendFor(redis.url);
    const [id] = ids(redis, 1) as [string];
    const patient = backend.asyncResult<number>(id).get({ timeout: 10_000 });
    const hasty = backend.asyncResult<number>(id);
    await subscribed(hasty, redis);
    const error = await hasty.get({ timeout: 50 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: ErrorCode.TIMEOUT, taskId: id, timeoutMs: 50 });
    await sleep(30);
    expect(await subscribers(redis, id)).toBe(1); // the patient waiter keeps the channel
    await worker.store(success(id, 9));
    expect(await patient).toBe(9);

    const [lonely] = ids(redis, 1) as [string];
    const handle = backend.asyncResult(lonely);
    const waiting = handle.get({ timeout: 200 }).catch((err: unknown) => err);
    await subscribed(handle, redis);
    expect(await waiting).toBeInstanceOf(TimeoutError);
    await waitUntil(async () => (await subscribers(redis, lonely)) === 0, { message: 'unsubscribed after the timeout' });
    expect(backend.consumer.stats().waiting).toBe(0);
  });

  it('rejects with the abort reason and drops the wait when the signal aborts', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const [id] = ids(redis, 1) as [string];
    const controller = new AbortController();
    const handle = backend.asyncResult(id);
    const waiting = handle.get({ signal: controller.signal });
    await subscribed(handle, redis);
    controller.abort(new Error('user gave up'));
    await expect(waiting).rejects.toThrow('user gave up');
    await waitUntil(async () => (await subscribers(redis, id)) === 0);
    await expect(handle.get({ signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already');
    expect(backend.consumer.stats().waiting).toBe(0);
  });

  it('calls onReady callbacks with the ready meta, also when registered after the fact', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    await using worker = backendFor(redis.url);
    const [id] = ids(redis, 1) as [string];
    const handle = backend.asyncResult<number>(id);
    const seen: string[] = [];
    const chained = handle.onReady((meta) => {
      seen.push(meta.status);
      return meta.result;
    });
    await subscribed(handle, redis);
    await worker.store(success(id, 11));
    expect(await chained).toBe(11);
    expect(handle.state).toBe('SUCCESS');
    handle.onReady((meta) => seen.push(`late ${meta.status}`));
    expect(seen).toEqual(['SUCCESS', 'late SUCCESS']);
  });

  it('refresh() / fetch() read the stored meta with one GET', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const [id] = ids(redis, 1) as [string];
    const handle = backend.asyncResult(id);
    expect((await handle.refresh()).status).toBe('PENDING');
    await backend.store(createResultMeta({ taskId: id, status: 'STARTED', result: null }));
    expect((await handle.fetch()).status).toBe('STARTED');
    expect(handle.state).toBe('STARTED');
    expect(backend.consumer.stats().waiting).toBe(0); // reading never subscribes
  });

  it('forget() deletes the result, drops the subscription and cancels pending waits', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const [id, other] = ids(redis, 2) as [string, string];
    await backend.store(createResultMeta({ taskId: id, status: 'STARTED', result: null }));
    const handle = backend.asyncResult(id);
    const waiting = handle.get().catch((err: unknown) => err);
    const cancelled: unknown[] = [];
    handle.onReady(() => undefined, (err: unknown) => cancelled.push(err));
    await subscribed(handle, redis);
    await handle.forget();
    expect(await waiting).toBeInstanceOf(PromiseCancelledError);
    expect(cancelled[0]).toBeInstanceOf(PromiseCancelledError);
    expect(await redis.client.exists(taskKey(id))).toBe(0);
    await waitUntil(async () => (await subscribers(redis, id)) === 0);
    await backend.forget(other); // nothing stored, nobody waiting: a plain DEL
    expect(backend.consumer.stats().waiting).toBe(0);
  });

  it('close() rejects pending waits with ConnectionClosedError and refuses new work', async () => {
    await using redis = await createTestRedis();
    const backend = backendFor(redis.url);
    const [id] = ids(redis, 1) as [string];
    const handle = backend.asyncResult(id);
    const waiting = handle.get().catch((err: unknown) => err);
    const told: unknown[] = [];
    backend.asyncResult(id).onReady(() => undefined, (err: unknown) => told.push(err));
    await subscribed(handle, redis);
    await backend.close();
    expect(await waiting).toBeInstanceOf(ConnectionClosedError);
    expect(told[0]).toBeInstanceOf(ConnectionClosedError);
    await expect(handle.get()).rejects.toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
    await expect(backend.store(success(id, 1))).rejects.toBeInstanceOf(ConnectionClosedError);
    await backend.close(); // idempotent
    await waitUntil(async () => (await subscribers(redis, id)) === 0);
  });

  it('keeps one messageBuffer listener for 1,000 concurrent waits (no per-result listeners)', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    await using worker = backendFor(redis.url);
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      const many = ids(redis, 1_000);
      const waits = many.map((id) => backend.asyncResult(id).get({ timeout: 10_000 }));
      await waitUntil(() => backend.consumer.stats().subscribed === 1_000);
      expect(backend.consumer.stats().messageListeners).toBe(1);
      await Promise.all(many.map((id, i) => worker.store(success(id, i))));
      expect(await Promise.all(waits)).toEqual(many.map((_, i) => i));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('GroupResult', () => {
  it('joins in member order: one MGET for what is stored, subscriptions only for the missing ones (MONITOR)', async () => {
    await using server = await startRedisServer();
    await using monitor = await server.monitor();
    await using backend = backendFor(server.url);
    await using worker = backendFor(server.url);
    const members = taskIds(5);
    await Promise.all([0, 2, 4].map((i) => worker.store(success(members[i] ?? '', i))));
    const group = backend.groupResult<number>(randomUUID(), members);
    expect(group.ready()).toBe(false);
    const joined = group.join({ timeout: 10_000 });
    await waitUntil(() => monitor.count('subscribe') === 1);
    await Promise.all([1, 3].map((i) => worker.store(success(members[i] ?? '', i))));
    expect(await joined).toEqual([0, 1, 2, 3, 4]);
    const mgets = monitor.commands((c) => c.args[0]?.toLowerCase() === 'mget');
    expect(mgets[0]?.args.slice(1)).toEqual(members.map(taskKey));
    const subscribes = monitor.commands((c) => c.args[0]?.toLowerCase() === 'subscribe');
    expect(subscribes.flatMap((c) => c.args.slice(1)).sort()).toEqual([members[1], members[3]].map((id) => taskKey(id ?? '')).sort());
    expect(group.ready()).toBe(true);
    expect(group.completedCount()).toBe(5);
    expect(group.successful()).toBe(true);
  });

  it('rejects with the first failure, or puts the errors in place with propagate: false', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    await using worker = backendFor(redis.url);
    const members = ids(redis, 3);
    const [a, b, c] = members as [string, string, string];
    await worker.store(success(a, 'a'));
    const group = backend.groupResult<string>(randomUUID(), members);
    const joined = group.join({ timeout: 10_000 }).catch((err: unknown) => err);
    await waitUntil(() => backend.consumer.stats().subscribed === 2);
    await worker.store(failure(b, 'ValueError', 'bad'));
    expect(await joined).toMatchObject({ name: 'ValueError', taskId: b });
    // The failure dropped the wait still pending for c.
    await waitUntil(async () => (await subscribers(redis, c)) === 0);
    expect(backend.consumer.stats().waiting).toBe(0);
    await worker.store(success(c, 'c'));
    const values = await group.join({ propagate: false });
    expect(values[0]).toBe('a');
    expect(values[1]).toBeInstanceOf(RemoteTaskError);
    expect(values[2]).toBe('c');
    expect(group.failed()).toBe(true);
    expect(group.completedCount()).toBe(2);
  });

  it('times out as a whole and drops every pending wait', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const members = ids(redis, 3);
    await backend.store(success(members[0] ?? '', 0));
    const group = backend.groupResult(randomUUID(), members);
    const error = await group.join({ timeout: 100 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toContain('1 of 3');
    await waitUntil(() => backend.consumer.stats().waiting === 0 && backend.consumer.stats().subscribed === 0);
  });

  it('a join of 100 members adds O(1) abort listeners (no MaxListenersExceededWarning)', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    await using worker = backendFor(redis.url);
    const members = ids(redis, 100);
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    const addListener = vi.spyOn(EventTarget.prototype, 'addEventListener');
    try {
      const outer = new AbortController();
      const joined = backend.groupResult<number>(randomUUID(), members).join({ timeout: 10_000, signal: outer.signal });
      await waitUntil(() => backend.consumer.stats().subscribed === members.length);
      expect(getEventListeners(outer.signal, 'abort')).toHaveLength(1);
      // The caller's signal, and the join's own one shared by the 100 waits: one listener each.
      expect(addListener.mock.calls.filter(([type]) => type === 'abort')).toHaveLength(2);
      await Promise.all(members.map((id, i) => worker.store(success(id, i))));
      expect(await joined).toEqual(members.map((_, i) => i));
      expect(getEventListeners(outer.signal, 'abort')).toHaveLength(0);
      await sleep(10); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      addListener.mockRestore();
      process.off('warning', onWarning);
    }
  });

  it('100 get()s sharing one AbortSignal: one abort listener; aborting rejects and drops them all', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const members = ids(redis, 100);
    const controller = new AbortController();
    const waits = members.map((id) => backend.asyncResult(id).get({ signal: controller.signal }).catch((err: unknown) => err));
    await waitUntil(() => backend.consumer.stats().subscribed === members.length);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    const reason = new Error('enough');
    controller.abort(reason);
    expect(new Set(await Promise.all(waits))).toEqual(new Set([reason]));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await waitUntil(() => backend.consumer.stats().waiting === 0 && backend.consumer.stats().subscribed === 0);
    // Settled waits let go of a signal that never aborts.
    const keep = new AbortController();
    const settled = members.slice(0, 3).map((id) => backend.asyncResult<number>(id).get({ signal: keep.signal, timeout: 5_000 }));
    await waitUntil(() => backend.consumer.stats().subscribed === 3);
    expect(getEventListeners(keep.signal, 'abort')).toHaveLength(1);
    await Promise.all(members.slice(0, 3).map((id, i) => backend.store(success(id, i))));
    expect(await Promise.all(settled)).toEqual([0, 1, 2]);
    expect(getEventListeners(keep.signal, 'abort')).toHaveLength(0);
  });

  it('saves and restores (Celery tuple format), refreshes with one MGET', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const members = ids(redis, 2);
    const gid = randomUUID();
    redis.track(groupKey(gid));
    const group = backend.groupResult(gid, members);
    await group.save();
    const restored = await GroupResult.restore(gid, backend);
    expect(restored?.ids).toEqual(members);
    expect(await GroupResult.restore(randomUUID(), backend)).toBeNull();
    await backend.store(success(members[0] ?? '', 'x'));
    await restored?.refresh();
    expect(restored?.results[0]?.state).toBe('SUCCESS');
    expect(restored?.results[1]?.state).toBe('PENDING');
    await group.delete();
    expect(await GroupResult.restore(gid, backend)).toBeNull();
  });
});

/**
 * Matrix row 7: a reconnect finds a restarted server (its `run_id` changed). With
 * `onDataLoss: 'fail'` (the default) a wait whose result is not stored on it is rejected with
 * a `ResultLostError` naming the task instead of hanging forever; a stored one (persistence)
 * goes on. `onDataLoss: 'wait'` is covered by the restart tests in subscribe-monitor and
 * connection-loss. Uses a redis-server of the test's own.
 */
import { randomUUID } from 'node:crypto';
import { ConnectionClosedError, createResultMeta, ErrorCode } from '@celeriac/protocol';
import { pubsubNumsub, startRedisServer, waitUntil } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { EPOCH_KEY, ResultLostError, taskKey } from '../src/index.ts';
import { adminFor, backendFor, success, taskIds } from './helpers.ts';

/** Rejects when `promise` is still pending after `ms` (so a hang fails the test, not the run). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

const settle = <T>(p: Promise<T>): Promise<unknown> => p.then((value) => ({ value }), (error: unknown) => error);

describe("onDataLoss: 'fail' (default)", () => {
  it('a restart without persistence rejects every pending wait with ResultLostError; later waits work', async () => {
    await using server = await startRedisServer({ persistence: 'none' });
    await using monitor = await server.monitor();
    await using backend = backendFor(server.url);
    await using worker = backendFor(server.url);
    const ids = taskIds(50);
    const waits = ids.map((id) => settle(backend.asyncResult<number>(id).get()));
    await waitUntil(() => ids.every((id) => monitor.countSubscribes(taskKey(id)) === 1), { message: 'subscribed' });

    const restartedAt = performance.now();
    await server.restart();
    const outcomes = await within(Promise.all(waits), 10_000, 'waits after the restart');
    const rejectedMs = performance.now() - restartedAt;
    outcomes.forEach((outcome, i) => {
      expect(outcome).toBeInstanceOf(ResultLostError);
      expect(outcome).toBeInstanceOf(ConnectionClosedError);
      expect(outcome).toMatchObject({ code: ErrorCode.CONNECTION_CLOSED, taskId: ids[i] });
      expect((outcome as Error).message).toContain(`the result of task ${ids[i] ?? ''} is not stored`);
      expect((outcome as Error).message).toContain('Redis lost its data');
    });
    expect(backend.consumer.stats()).toMatchObject({ serverRestarts: 1, resultsLost: ids.length, waiting: 0 });
    // Resubscribed once after the restart (then unsubscribed when rejected): no extra round.
    expect(ids.every((id) => monitor.countSubscribes(taskKey(id)) === 2)).toBe(true);

    // A wait that starts after the restart is not suspect.
    const later = randomUUID();
    const wait = backend.asyncResult<number>(later).get({ timeout: 5_000 });
    await waitUntil(() => monitor.countSubscribes(taskKey(later)) === 1, { message: 'later id subscribed' });
    await worker.store(success(later, 7));
    expect(await wait).toBe(7);
    expect(backend.consumer.stats().resultsLost).toBe(ids.length);
    console.log(`[backend-redis] onDataLoss 'fail': ${ids.length} waits rejected ${rejectedMs.toFixed(0)} ms after the restart began`);
  });

  it('a restart with persistence keeps the data epoch: every wait goes on and gets its result', async () => {
    await using server = await startRedisServer({ persistence: 'aof' });
    await using monitor = await server.monitor();
    await using backend = backendFor(server.url);
    await using worker = backendFor(server.url);
    const ids = taskIds(20);
    const started = ids.slice(0, 10); // STARTED is stored (and survives)
    const waits = ids.map((id) => settle(backend.asyncResult<number>(id).get()));
    await waitUntil(() => ids.every((id) => monitor.countSubscribes(taskKey(id)) === 1), { message: 'subscribed' });
    await Promise.all(started.map((id) => worker.store(createResultMeta({ taskId: id, status: 'STARTED', result: null }))));

    await server.restart();
    await waitUntil(() => ids.every((id) => monitor.countSubscribes(taskKey(id)) === 2), { message: 'resubscribed', timeoutMs: 10_000 });
    await waitUntil(() => backend.consumer.stats().serverRestarts === 1, { message: 'restart noticed' });
    expect(backend.consumer.stats()).toMatchObject({ resultsLost: 0, waiting: ids.length });
    expect(backend.asyncResult(started[0] ?? '').state).toBe('STARTED');

    await Promise.all(ids.map((id, i) => worker.store(success(id, i))));
    expect(await within(Promise.all(waits), 5_000, 'every wait')).toEqual(ids.map((_, i) => ({ value: i })));
  });

  it('a FLUSHALL on a running server (same run_id, new epoch) is data loss too', async () => {
    await using server = await startRedisServer();
    await using admin = await adminFor(server.url);
    await using backend = backendFor(server.url);
    const ids = taskIds(5);
    const waits = ids.map((id) => settle(backend.asyncResult<number>(id).get()));
    await waitUntil(async () => [...(await pubsubNumsub(admin, ids.map(taskKey))).values()].every((n) => n === 1), { message: 'subscribed' });
    expect(await admin.get(EPOCH_KEY)).not.toBeNull();
    await admin.flushall(); // the test's own server
    await admin.client('KILL', 'TYPE', 'pubsub'); // a reconnect is when the consumer looks
    const outcomes = await within(Promise.all(waits), 10_000, 'waits after FLUSHALL');
    outcomes.forEach((outcome, i) => expect(outcome).toMatchObject({ name: 'ResultLostError', taskId: ids[i] }));
  });
});

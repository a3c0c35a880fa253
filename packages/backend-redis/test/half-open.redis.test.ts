/**
 * A hung network (a TCP proxy in `blackhole` mode: no data, no FIN, no RST), the failure that
 * closes nothing and so is seen only by deadlines: commands time out instead of hanging, the
 * subscriber's health-check PING notices the dead connection, and after the network comes
 * back every live id is subscribed once more and MGET finds what was stored meanwhile.
 * Uses a redis-server and a proxy of the test's own.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, TimeoutError } from '@celeriac/protocol';
import { createTcpProxy, pubsubNumsub, startRedisServer, waitUntil } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { taskKey } from '../src/index.ts';
import { adminFor, backendFor, keysOf, sleep, storeIndexed, success, taskIds } from './helpers.ts';

/** Rejects when `promise` is still pending after `ms` (so a hang fails the test, not the run). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe('half-open connections (blackhole)', () => {
  it('commands time out, the subscriber is dropped and resubscribed once, waits get what was stored meanwhile', async () => {
    await using server = await startRedisServer();
    await using monitor = await server.monitor();
    await using admin = await adminFor(server.url);
    await using proxy = await createTcpProxy({ host: '127.0.0.1', port: server.port });
    await using backend = backendFor(proxy.url(), { commandTimeoutMs: 1_000, healthCheckInterval: 500 });
    await using worker = backendFor(server.url); // stores directly on the server
    const ids = taskIds(200);
    const waits = ids.map((id) => backend.asyncResult<number>(id).get()); // no timeout of their own
    await waitUntil(async () => [...(await pubsubNumsub(admin, keysOf(ids))).values()].every((n) => n === 1), {
      message: 'every channel subscribed',
    });
    expect((await backend.get(randomUUID())).status).toBe('PENDING'); // the command connection is up
    expect(backend.consumer.stats().connection).toBe('ready');

    proxy.setMode('blackhole');
    const blackholedAt = performance.now();
    const settle = (p: Promise<unknown>): Promise<unknown> => p.then((value) => ({ value }), (error: unknown) => error);
    const [getError, storeError] = await within(
      Promise.all([settle(backend.get(randomUUID())), settle(backend.store(success(randomUUID(), 0)))]),
      5_000,
      'get() and store() during the blackhole',
    );
    const commandsFailedMs = performance.now() - blackholedAt;
    expect(getError).toBeInstanceOf(TimeoutError);
    expect(getError).toMatchObject({ code: ErrorCode.TIMEOUT, timeoutMs: 1_000 });
    expect((getError as Error).message).toContain('did not answer within 1000 ms');
    expect(storeError).toBeInstanceOf(TimeoutError);
    await waitUntil(() => backend.consumer.stats().connection !== 'ready', {
      timeoutMs: 5_000,
      message: 'the consumer still says ready on a dead connection',
    });
    const noticedMs = performance.now() - blackholedAt;
    expect(backend.consumer.stats().healthCheckFailures).toBeGreaterThanOrEqual(1);

    // Published to the dead connection only: just the MGET after resubscribing can find them.
    await storeIndexed(worker, ids, ids);
    // Reconnects made meanwhile hang in their handshake (a connection opened during the
    // blackhole stays silent for good): the handshake's deadline has to drop them too.
    await sleep(3_000);
    expect(backend.consumer.stats().connection).not.toBe('ready');
    proxy.setMode('pass');
    const backAt = performance.now();
    expect(await within(Promise.all(waits), 15_000, 'waits after the network came back')).toEqual(ids.map((_, i) => i));
    const resolvedMs = performance.now() - backAt;

    // Exactly once per connection: the first SUBSCRIBE, and one after the reconnect.
    const counts = ids.map((id) => monitor.countSubscribes(taskKey(id)));
    expect(new Set(counts)).toEqual(new Set([2]));
    const stats = backend.consumer.stats();
    expect(stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(stats.settledByFetch).toBe(ids.length);
    expect(stats.serverRestarts).toBe(0);
    expect(stats).toMatchObject({ waiting: 0, messageListeners: 1 });
    // The command connection works again.
    expect(await backend.get(ids[0] ?? '')).toMatchObject({ status: 'SUCCESS', result: 0 });
    console.log(
      `[backend-redis] blackhole: get()/store() rejected after ${commandsFailedMs.toFixed(0)} ms (commandTimeoutMs 1000), ` +
        `subscriber dropped after ${noticedMs.toFixed(0)} ms (healthCheckInterval 500), ` +
        `${ids.length} waits resolved ${resolvedMs.toFixed(0)} ms after the network came back`,
    );
  }, 25_000);
});

/**
 * Commands whose connection drops while they are in flight (ioredis never settles them with
 * autoResendUnfulfilledCommands off): they fail with ConnectionClosedError, and the
 * connection keeps working afterwards. Commands issued while Redis is down wait for it.
 * Uses a redis-server of the test's own (paused, killed, restarted).
 */
import { randomUUID } from 'node:crypto';
import { ConnectionClosedError, ErrorCode } from '@celeriac/protocol';
import { startRedisServer, waitUntil } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { backendFor, sleep, success } from './helpers.ts';

describe('connection loss', () => {
  it('a command in flight when the connection drops fails with ConnectionClosedError; the next ones work', async () => {
    await using server = await startRedisServer();
    await using backend = backendFor(server.url);
    const id = randomUUID();
    expect((await backend.get(id)).status).toBe('PENDING'); // connected
    server.pause(); // the server takes the commands but answers nothing
    const lostGet = backend.get(id).catch((err: unknown) => err);
    const lostStore = backend.store(success(id, 1)).catch((err: unknown) => err);
    await sleep(50);
    await server.kill();
    const [getError, storeError] = await Promise.all([lostGet, lostStore]);
    expect(getError).toBeInstanceOf(ConnectionClosedError);
    expect(getError).toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
    expect((getError as Error).message).toContain('may or may not have run');
    expect(storeError).toBeInstanceOf(ConnectionClosedError);
    // Issued while Redis is down: queued, sent once it is back.
    const queued = backend.store(success(id, 2));
    await sleep(100);
    await server.start();
    expect(await queued).toBe(true);
    expect(await backend.get(id)).toMatchObject({ status: 'SUCCESS', result: 2 });
  });

  it("waits survive a paused-then-killed server and get the results stored once it is back (onDataLoss: 'wait')", async () => {
    await using server = await startRedisServer();
    await using backend = backendFor(server.url, { onDataLoss: 'wait' });
    await using worker = backendFor(server.url);
    const [a, b] = [randomUUID(), randomUUID()];
    const first = backend.asyncResult<number>(a).get({ timeout: 20_000 });
    await waitUntil(() => backend.consumer.stats().subscribed === 1);
    server.pause();
    const second = backend.asyncResult<number>(b).get({ timeout: 20_000 }); // its SUBSCRIBE is lost in flight
    await sleep(50);
    await server.kill();
    await server.start();
    await waitUntil(() => backend.consumer.stats().reconnects === 1, { timeoutMs: 10_000 });
    await worker.store(success(a, 1));
    await worker.store(success(b, 2));
    expect(await Promise.all([first, second])).toEqual([1, 2]);
    await waitUntil(() => backend.consumer.stats().serverRestarts === 1);
  });
});

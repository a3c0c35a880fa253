/**
 * The polling fallback (matrix row 26): an ACL user without channel rights (Redis 7's
 * default `resetchannels`) gets NOPERM on SUBSCRIBE, and the consumer polls with MGET
 * instead; `mode: 'poll'` never subscribes at all.
 */
import { ErrorCode } from '@celeriac/protocol';
import { startRedisServer, waitUntil } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { adminFor, backendFor, storeIndexed, taskIds } from './helpers.ts';

describe('polling fallback', () => {
  it('falls back to MGET polling when SUBSCRIBE is refused with NOPERM, and still delivers', async () => {
    await using server = await startRedisServer();
    await using monitor = await server.monitor();
    await using admin = await adminFor(server.url);
    await admin.call('ACL', ['SETUSER', 'nochan', 'on', '>pw', '~*', '+@all', 'resetchannels']);
    const url = `redis://nochan:pw@127.0.0.1:${server.port}`;
    await using backend = backendFor(url, { pollInterval: 50 });
    await using worker = backendFor(server.url);
    const ids = taskIds(20);
    await storeIndexed(worker, ids.slice(0, 5), ids); // stored before: the first MGET finds them
    const waits = ids.map((id) => backend.asyncResult<number>(id).get({ timeout: 10_000 }));
    await waitUntil(() => backend.consumer.mode === 'poll', { message: 'switched to polling' });
    // Tried once and refused: MONITOR does not show refused commands, the ACL log does.
    const denials = (await admin.call('ACL', ['LOG'])) as unknown[][];
    const reasons = denials.map((entry) => {
      const fields = new Map<string, unknown>();
      for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
      return `${String(fields.get('reason'))} ${String(fields.get('username'))}`;
    });
    expect(reasons).toContain('channel nochan');
    expect(monitor.count('subscribe')).toBe(0);
    await storeIndexed(worker, ids.slice(5), ids);
    expect(await Promise.all(waits)).toEqual(ids.map((_, i) => i));
    const stats = backend.consumer.stats();
    expect(stats).toMatchObject({ mode: 'poll', waiting: 0, settledByMessage: 0, settledByFetch: 20, connection: 'none' });

    // Polling stops when nobody waits; a timed-out wait leaves nothing behind.
    const mgets = monitor.count('mget');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(monitor.count('mget')).toBe(mgets);
    const error = await backend.asyncResult(taskIds(1)[0] ?? '').get({ timeout: 120 }).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(backend.consumer.stats().waiting).toBe(0);
  });

  it("mode: 'poll' never subscribes", async () => {
    await using server = await startRedisServer();
    await using monitor = await server.monitor();
    await using backend = backendFor(server.url, { mode: 'poll', pollInterval: 30 });
    await using worker = backendFor(server.url);
    const ids = taskIds(10);
    const waits = ids.map((id) => backend.asyncResult<number>(id).get({ timeout: 10_000 }));
    await waitUntil(() => monitor.count('mget') >= 2);
    await storeIndexed(worker, ids, ids);
    expect(await Promise.all(waits)).toEqual(ids.map((_, i) => i));
    expect(monitor.count('subscribe')).toBe(0);
    expect(backend.consumer.stats()).toMatchObject({ mode: 'poll', subscribeCommands: 0, connection: 'none' });
  });
});

/**
 * Exactly-once SUBSCRIBE, counted with MONITOR on a redis-server of the test's own (so the
 * counts are exact and the server may be killed and restarted): matrix rows 6, 8, 9, 29.
 */
import { countClients, pubsubNumsub, startRedisServer, waitUntil, type RedisMonitor } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { BATCH_SIZE, taskKey } from '../src/index.ts';
import { adminFor, backendFor, keysOf, sleep, storeIndexed, taskIds, type AdminClient } from './helpers.ts';

const isCommand = (name: string) => (c: { args: readonly string[] }): boolean => c.args[0]?.toLowerCase() === name;

async function allSubscribed(admin: AdminClient, ids: readonly string[], expected: number): Promise<boolean> {
  const counts = await pubsubNumsub(admin, keysOf(ids));
  return [...counts.values()].every((n) => n === expected);
}

/** Channel → how many times a command named it (one pass over the recording). */
function channelCounts(monitor: RedisMonitor, command: 'subscribe' | 'unsubscribe'): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of monitor.commands(isCommand(command))) {
    for (const channel of c.args.slice(1)) counts.set(channel, (counts.get(channel) ?? 0) + 1);
  }
  return counts;
}

/** How many ids were SUBSCRIBEd how many times: `Map { times → ids }`. */
function subscribeCounts(monitor: RedisMonitor, ids: readonly string[]): Map<number, number> {
  const counts = channelCounts(monitor, 'subscribe');
  const histogram = new Map<number, number>();
  for (const id of ids) {
    const n = counts.get(taskKey(id)) ?? 0;
    histogram.set(n, (histogram.get(n) ?? 0) + 1);
  }
  return histogram;
}

describe('subscriptions counted with MONITOR', () => {
  it('10,000 concurrent awaits on a cold client: one SUBSCRIBE per id, one subscriber connection, every result delivered', async () => {
    await using server = await startRedisServer();
    await using monitor = await server.monitor();
    await using admin = await adminFor(server.url);
    await using backend = backendFor(server.url);
    await using worker = backendFor(server.url);
    const n = 10_000;
    const ids = taskIds(n);
    const before = ids.slice(0, 2_500); // stored before anybody waits: only the MGET after SUBSCRIBE finds them
    const racing = ids.slice(2_500, 5_000); // stored while the SUBSCRIBEs go out
    const after = ids.slice(5_000); // stored once every channel is confirmed: pub/sub only
    await storeIndexed(worker, before, ids);

    const started = performance.now();
    // Each handle is a thenable: Promise.all calls then() → get() on all 10,000 at once.
    const all = Promise.all(ids.map((id) => backend.asyncResult<number>(id)));
    await monitor.waitFor(isCommand('subscribe'), 10_000);
    await storeIndexed(worker, racing, ids);
    await waitUntil(() => allSubscribed(admin, after, 1), { timeoutMs: 10_000, message: 'every channel subscribed' });
    // Exactly one connection holds subscriptions, and it is ours.
    expect(await countClients(admin, (c) => Number(c['sub'] ?? 0) > 0)).toBe(1);
    expect(await countClients(admin, (c) => c['name'] === 'celeriac:result-subscriber')).toBe(1);
    await sleep(50); // let the race-guard MGETs answer first, so the rest goes by pub/sub
    await storeIndexed(worker, after, ids);
    const values = await all;
    const elapsedMs = performance.now() - started;

    expect(values).toEqual(ids.map((_, i) => i));
    const histogram = subscribeCounts(monitor, ids);
    expect(histogram).toEqual(new Map([[1, n]]));
    const subscribeCommands = monitor.count('subscribe');
    expect(subscribeCommands).toBeLessThanOrEqual(2 * Math.ceil(n / BATCH_SIZE));
    const stats = backend.consumer.stats();
    expect(stats.subscribeCommands).toBe(subscribeCommands);
    expect(stats.channelsSubscribed).toBe(n);
    expect(stats.settledByFetch).toBeGreaterThanOrEqual(before.length);
    expect(stats.settledByMessage).toBeGreaterThanOrEqual(after.length);
    expect(stats.settledByFetch + stats.settledByMessage).toBe(n);
    expect(stats.messageListeners).toBe(1);
    expect(stats.reconnects).toBe(0);
    // Ready → UNSUBSCRIBE (batched), once per id.
    await waitUntil(() => allSubscribed(admin, ids, 0), { timeoutMs: 10_000, message: 'every channel unsubscribed' });
    const unsubscribes = channelCounts(monitor, 'unsubscribe');
    expect(ids.every((id) => unsubscribes.get(taskKey(id)) === 1)).toBe(true);
    expect(backend.consumer.stats()).toMatchObject({ waiting: 0, subscribed: 0 });
    console.log(
      `10,000 awaits: ${elapsedMs.toFixed(0)} ms, ${subscribeCommands} SUBSCRIBE commands, ` +
        `${monitor.count('unsubscribe')} UNSUBSCRIBE, ${monitor.count('mget')} MGET, ` +
        `settled by MGET ${stats.settledByFetch}, by message ${stats.settledByMessage}`,
    );
  });

  it('CLIENT KILL TYPE pubsub mid-flight: one resubscribe per live id, results published in the gap arrive', async () => {
    await using server = await startRedisServer();
    await using monitor = await server.monitor();
    await using admin = await adminFor(server.url);
    await using backend = backendFor(server.url);
    await using worker = backendFor(server.url);
    const ids = taskIds(3_000);
    const settledEarly = ids.slice(0, 1_000);
    const gap = ids.slice(1_000, 2_000);
    const late = ids.slice(2_000);
    const waits = ids.map((id) => backend.asyncResult<number>(id).get({ timeout: 25_000 }));
    await waitUntil(() => allSubscribed(admin, ids, 1), { timeoutMs: 10_000, message: 'subscribed' });
    await storeIndexed(worker, settledEarly, ids);
    await Promise.all(waits.slice(0, 1_000));
    await waitUntil(() => allSubscribed(admin, settledEarly, 0), { message: 'settled ids unsubscribed' });

    const killedAt = Date.now();
    expect(await admin.call('CLIENT', ['KILL', 'TYPE', 'pubsub'])).toBe(1);
    await storeIndexed(worker, gap, ids); // published to nobody: the subscriber is gone
    const gapKeys = new Set(keysOf(gap));
    const lastGapPublish = Math.max(...monitor.commands((c) => isCommand('publish')(c) && gapKeys.has(c.args[1] ?? '')).map((c) => c.time));
    await waitUntil(() => backend.consumer.stats().reconnects === 1, { timeoutMs: 10_000, message: 'reconnected' });
    await waitUntil(() => allSubscribed(admin, late, 1), { timeoutMs: 10_000, message: 'late ids resubscribed' });
    const firstResubscribe = monitor.commands((c) => isCommand('subscribe')(c) && c.time > killedAt)[0];
    expect(firstResubscribe).toBeDefined();
    expect(lastGapPublish).toBeLessThan(firstResubscribe?.time ?? 0);
    await storeIndexed(worker, late, ids);
    expect(await Promise.all(waits)).toEqual(ids.map((_, i) => i));

    expect(subscribeCounts(monitor, settledEarly)).toEqual(new Map([[1, settledEarly.length]]));
    expect(subscribeCounts(monitor, [...gap, ...late])).toEqual(new Map([[2, gap.length + late.length]]));
    const stats = backend.consumer.stats();
    expect(stats.reconnects).toBe(1);
    expect(stats.serverRestarts).toBe(0); // same run_id: a dropped connection, not a restart
    expect(stats.settledByFetch).toBeGreaterThanOrEqual(gap.length); // the MGET after resubscribing
    expect(stats.messageListeners).toBe(1);
    await waitUntil(() => allSubscribed(admin, ids, 0), { message: 'all unsubscribed' });
  });

  it("server restart (no persistence), onDataLoss: 'wait': one resubscribe per live id, results stored after the restart arrive", async () => {
    await using server = await startRedisServer({ persistence: 'none' });
    await using monitor = await server.monitor();
    await using admin = await adminFor(server.url);
    await using backend = backendFor(server.url, { onDataLoss: 'wait' });
    await using worker = backendFor(server.url);
    const ids = taskIds(3_000);
    const settledEarly = ids.slice(0, 1_000);
    const soon = ids.slice(1_000, 2_000);
    const late = ids.slice(2_000);
    const waits = ids.map((id) => backend.asyncResult<number>(id).get({ timeout: 25_000 }));
    await waitUntil(() => allSubscribed(admin, ids, 1), { timeoutMs: 10_000, message: 'subscribed' });
    await storeIndexed(worker, settledEarly, ids);
    await Promise.all(waits.slice(0, 1_000));
    await waitUntil(() => allSubscribed(admin, settledEarly, 0), { message: 'settled ids unsubscribed' });

    const restartedAt = Date.now();
    await server.restart();
    // Stored at once: most likely before the subscriber is back (ioredis backs off), so the
    // MGET after resubscribing has to find them; either way they must arrive.
    await storeIndexed(worker, soon, ids);
    await waitUntil(() => backend.consumer.stats().reconnects === 1, { timeoutMs: 10_000, message: 'reconnected' });
    await waitUntil(() => allSubscribed(admin, late, 1), { timeoutMs: 10_000, message: 'resubscribed' });
    await storeIndexed(worker, late, ids);
    expect(await Promise.all(waits)).toEqual(ids.map((_, i) => i));

    expect(monitor.commands((c) => isCommand('subscribe')(c) && c.time > restartedAt).length).toBeGreaterThan(0);
    expect(subscribeCounts(monitor, settledEarly)).toEqual(new Map([[1, settledEarly.length]]));
    expect(subscribeCounts(monitor, [...soon, ...late])).toEqual(new Map([[2, soon.length + late.length]]));
    await waitUntil(() => backend.consumer.stats().serverRestarts === 1, { message: 'run_id change seen' });
    expect(backend.consumer.stats()).toMatchObject({ reconnects: 1, messageListeners: 1, resultsLost: 0 });
    await waitUntil(() => allSubscribed(admin, ids, 0), { message: 'all unsubscribed' });
    expect(backend.consumer.stats()).toMatchObject({ waiting: 0, subscribed: 0 });
  });
});

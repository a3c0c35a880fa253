/**
 * Beats in this process against the shared Redis (a random key prefix and queue per test):
 * first run, headers, the state hash, lock release on stop, the claim fence, and the missed
 * policies after downtime.
 */
import { createApp } from '@celeriac/client';
import { createTestRedis, waitUntil, type TestRedis } from '@celeriac/test-utils';
import { describe, it } from 'vitest';
import { BeatStore, createBeat, type Beat, type BeatOptions, type BeatSentEvent } from '../src/index.ts';
import { queuedTicks, tickReport } from './queued-ticks.ts';

function beatFor(redis: TestRedis, app: ReturnType<typeof createApp>, options: BeatOptions): Beat {
  return createBeat(app, { keyPrefix: `${redis.prefix}beat:`, lockTtlMs: 3_000, ...options });
}

function collect(beat: Beat): BeatSentEvent[] {
  const sent: BeatSentEvent[] = [];
  beat.on('sent', (event) => sent.push(event));
  return sent;
}

describe.concurrent('a beat on Redis', () => {
  it('first sends an interval entry one interval after it is first seen, the tick in beat_scheduled_at, and releases the lock on stop', async ({ expect }) => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using app = createApp({ broker_url: redis.url }, { env: {} });
    await using beat = beatFor(redis, app, { entries: { ping: { task: 'tasks.ping', schedule: { every: 400 }, args: [7], options: { queue } } } });
    const sent = collect(beat);
    const before = Date.now();
    await beat.start();
    await waitUntil(() => sent.length >= 3, { timeoutMs: 5_000, message: 'three ticks sent' });
    await beat.stop();
    expect(beat.isLeader).toBe(false);

    const messages = await queuedTicks(redis, queue);
    expect(messages.map((m) => m.tick)).toEqual(sent.map((e) => e.scheduledAt.getTime()));
    expect(messages.map((m) => m.id)).toEqual(sent.map((e) => e.taskId));
    expect(messages.every((m) => m.entry === 'ping' && m.task === 'tasks.ping' && m.args[0] === 7)).toBe(true);
    const report = tickReport(messages.map((m) => m.tick), 400);
    expect(report).toMatchObject({ duplicates: [], missing: [], offGrid: [] });
    // The state was created (HSETNX) when the beat first looked: the first tick is one interval later.
    const first = report.first ?? 0;
    expect(first - before).toBeGreaterThanOrEqual(400);
    expect(first - before).toBeLessThan(400 + 1_000);
    // The state holds the last claimed tick; the lock is gone (released, not expired).
    expect(await redis.client.hget(beat.keys.state, 'ping')).toBe(String(report.last));
    expect(await redis.client.exists(beat.keys.lock)).toBe(0);
  });

  it('a standby takes over at once when the leader stops cleanly, and no tick is sent twice', async ({ expect }) => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using app = createApp({ broker_url: redis.url }, { env: {} });
    const options: BeatOptions = { lockTtlMs: 6_000, entries: { e: { task: 'tasks.ping', schedule: { every: 250 }, options: { queue } } } };
    await using a = beatFor(redis, app, options);
    await using b = beatFor(redis, app, options);
    await a.start();
    await waitUntil(() => a.isLeader, { message: 'a leads' });
    await b.start();
    await waitUntil(async () => (await redis.client.llen(queue)) >= 4, { message: 'ticks sent by a' });
    expect(b.isLeader).toBe(false);
    const stoppedAt = Date.now();
    await a.stop();
    // b retries every lockTtl / 3 = 2 s; without the release the lock would live up to 6 s more.
    await waitUntil(() => b.isLeader, { timeoutMs: 3_500, message: 'b takes over within a retry period' });
    const takeover = Date.now() - stoppedAt;
    const atTakeover = await redis.client.llen(queue);
    await waitUntil(async () => (await redis.client.llen(queue)) >= atTakeover + 3, { message: 'ticks sent by b' });
    await b.stop();

    expect(takeover).toBeLessThan(3_500);
    const report = tickReport((await queuedTicks(redis, queue)).map((m) => m.tick), 250);
    // The ticks due during the handover are late, not missed (graceMs 60 s): b sends each of them.
    expect(report).toMatchObject({ duplicates: [], missing: [], offGrid: [] });
    expect(report.count).toBeGreaterThanOrEqual(atTakeover + 3);
  });

  it('claims are fenced by the lock and compare-and-set on the last tick', async ({ expect }) => {
    await using redis = await createTestRedis();
    const store = new BeatStore(redis.client, `${redis.prefix}store:`);
    expect(await store.acquire('A', 5_000)).toEqual({ acquired: true });
    const refused = await store.acquire('B', 5_000);
    expect(refused.acquired).toBe(false);
    expect(refused.acquired === false && refused.ttlMs > 0 && refused.ttlMs <= 5_000).toBe(true);

    expect(await store.lastTicks(['e'], 1_000)).toEqual(['1000']);
    expect(await store.lastTicks(['e'], 2_000)).toEqual(['1000']); // HSETNX: created once
    expect(await store.claim('B', 'e', '1000', 2_000)).toEqual({ status: 'not-leader' });
    expect(await store.claim('A', 'e', '999', 2_000)).toEqual({ status: 'moved', current: '1000' });
    expect(await store.claim('A', 'e', '1000', 2_000)).toEqual({ status: 'claimed' });
    // The same tick again (a retried claim, or a second process with the same view): refused.
    expect(await store.claim('A', 'e', '1000', 2_000)).toEqual({ status: 'moved', current: '2000' });
    expect(await store.claim('A', 'gone', '1000', 2_000)).toEqual({ status: 'moved', current: null });
    expect(await redis.client.hget(store.stateKey, 'e')).toBe('2000');

    expect(await store.renew('B', 5_000)).toBe(false);
    expect(await store.renew('A', 5_000)).toBe(true);
    expect(await store.release('B')).toBe(false);
    expect(await store.release('A')).toBe(true);
    expect(await redis.client.exists(store.lockKey)).toBe(0);
    expect(await store.claim('A', 'e', '2000', 3_000)).toEqual({ status: 'not-leader' });

    // An expired lock: another process takes it, and the old holder can neither renew nor claim.
    expect(await store.acquire('A', 300)).toEqual({ acquired: true });
    await waitUntil(async () => (await redis.client.exists(store.lockKey)) === 0, { timeoutMs: 2_000 });
    expect(await store.acquire('B', 5_000)).toEqual({ acquired: true });
    expect(await store.renew('A', 5_000)).toBe(false);
    expect(await store.claim('A', 'e', '2000', 3_000)).toEqual({ status: 'not-leader' });
    expect(await store.claim('B', 'e', '2000', 3_000)).toEqual({ status: 'claimed' });
  });

  for (const missed of ['once', 'skip'] as const) {
    it(`missed: '${missed}' after 10 minutes of downtime: ${missed === 'once' ? 'one catch-up' : 'nothing'} for the missed ticks, then on the grid`, async ({ expect }) => {
      await using redis = await createTestRedis();
      const queue = redis.queue();
      await using app = createApp({ broker_url: redis.url }, { env: {} });
      await using beat = beatFor(redis, app, { missed, graceMs: 2_500, entries: { e: { task: 'tasks.ping', schedule: 1, options: { queue } } } });
      const downSince = Date.now() - 600_000;
      await redis.client.hset(beat.keys.state, 'e', String(downSince));
      const sent = collect(beat);
      const skipped: { scheduledAt: Date; count: number }[] = [];
      beat.on('skipped', (event) => skipped.push(event));
      const startedAt = Date.now();
      await beat.start();
      await waitUntil(() => sent.filter((e) => e.missed === 0).length >= 3, { timeoutMs: 6_000, message: 'ticks after the catch-up' });
      await beat.stop();

      const ticks = (await queuedTicks(redis, queue)).map((m) => m.tick);
      expect(ticks).toEqual(sent.map((e) => e.scheduledAt.getTime()));
      expect(tickReport(ticks, 1_000)).toMatchObject({ duplicates: [], missing: [], offGrid: [] });
      // Ticks are on the grid of the stored last tick.
      expect(ticks.every((t) => (t - downSince) % 1_000 === 0)).toBe(true);
      // The missed ones: every tick more than 2.5 s older than the start, about 597 of them.
      const missedCount = missed === 'once' ? (sent[0]?.missed ?? 0) : (skipped[0]?.count ?? 0);
      expect(missedCount).toBeGreaterThanOrEqual(595);
      expect(missedCount).toBeLessThanOrEqual(600);
      const collapsed = missed === 'once' ? sent[0]?.scheduledAt.getTime() : skipped[0]?.scheduledAt.getTime();
      expect(collapsed).toBe(downSince + missedCount * 1_000);
      expect(startedAt - (collapsed ?? 0)).toBeGreaterThan(2_500);
      if (missed === 'once') {
        expect(skipped).toEqual([]);
        expect(ticks[0]).toBe(collapsed);
        expect(sent.slice(1).every((e) => e.missed === 0)).toBe(true);
      } else {
        expect(skipped).toHaveLength(1);
        expect(sent.every((e) => e.missed === 0)).toBe(true);
        expect(ticks[0]).toBe((collapsed ?? 0) + 1_000);
      }
    });
  }
});

import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  clientList,
  countClients,
  createTestRedis,
  monitorRedis,
  pubsubChannelCount,
  pubsubNumsub,
  randomName,
  redisUrl,
  startRedisServer,
  waitUntil,
} from '../src/index.ts';

const clients: Redis[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

describe('monitorRedis', () => {
  it('counts a SUBSCRIBE of three channels once per channel, and UNSUBSCRIBEs', async () => {
    await using redis = await createTestRedis();
    await using monitor = await monitorRedis(redisUrl());
    expect(monitor.connected).toBe(true);
    const [a, b, c] = ['a', 'b', 'c'].map((name) => `${redis.prefix}${name}`) as [string, string, string];
    const sub = redis.duplicate();
    await sub.subscribe(a, b, c); // one command, three channels

    await monitor.waitFor((cmd) => cmd.args[0]?.toLowerCase() === 'subscribe' && cmd.args.includes(a));
    expect([a, b, c].map((ch) => monitor.countSubscribes(ch))).toEqual([1, 1, 1]);
    expect(monitor.count('SUBSCRIBE', (args) => args.includes(a))).toBe(1);
    expect(await pubsubNumsub(redis.client, [a, b, c])).toEqual(new Map([[a, 1], [b, 1], [c, 1]]));
    expect(await pubsubChannelCount(redis.client, `${redis.prefix}*`)).toBe(3);

    await sub.unsubscribe(a);
    await monitor.waitFor((cmd) => cmd.args[0]?.toLowerCase() === 'unsubscribe' && cmd.args.includes(a));
    expect([a, b].map((ch) => monitor.countUnsubscribes(ch))).toEqual([1, 0]);
    expect((await pubsubNumsub(redis.client, [a, b])).get(a)).toBe(0);
    expect(await pubsubChannelCount(redis.client, `${redis.prefix}*`)).toBe(2);
  });

  it('sees an LPUSH with its exact arguments, binary and quotes included', async () => {
    await using redis = await createTestRedis({ db: 1 });
    const key = redis.key('q\x06\x16 "é" \\ end');
    await using monitor = await monitorRedis(redisUrl(), {
      filter: (cmd) => cmd.args.some((arg) => arg.startsWith(redis.prefix)),
    });
    const before = Date.now();
    await redis.client.lpush(key, 'va" "lue');
    const seen = await monitor.waitFor((cmd) => cmd.args[1] === key);
    expect(seen.args).toEqual(['lpush', key, 'va" "lue']);
    expect(seen.db).toBe(1);
    expect(seen.client).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(seen.time).toBeGreaterThanOrEqual(before - 1_000);
    expect(monitor.count('lpush')).toBe(1);
    expect(monitor.commands().every((cmd) => cmd.args.some((arg) => arg.startsWith(redis.prefix)))).toBe(true);
    await monitor.stop();
    expect(monitor.connected).toBe(false);
    await expect(monitor.waitFor(() => false)).rejects.toThrow(/stopped/);
  });

  it('lists clients by name', async () => {
    await using redis = await createTestRedis();
    const name = randomName('client');
    const named = new Redis(redisUrl(), { connectionName: name, retryStrategy: () => null });
    named.on('error', () => {});
    clients.push(named);
    await named.ping();
    const listed = (await clientList(redis.client)).find((entry) => entry.name === name);
    expect(listed).toMatchObject({ name, db: '0' });
    expect(listed?.['addr']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await countClients(redis.client, (entry) => entry.name === name)).toBe(1);
    await named.quit();
    await waitUntil(async () => (await countClients(redis.client, (e) => e.name === name)) === 0);
  });
});

describe('RedisServer.monitor', () => {
  it('follows a restart and sees the client re-SUBSCRIBE exactly once per channel', async () => {
    await using server = await startRedisServer({ persistence: 'aof' });
    await using monitor = await server.monitor();
    const channels = ['ch-1', 'ch-2'];
    const sub = new Redis(server.url, { retryStrategy: () => 20 }); // reconnects, resubscribes
    sub.on('error', () => {});
    clients.push(sub);
    await sub.subscribe(...channels);
    await monitor.waitFor((cmd) => cmd.args[0] === 'subscribe');

    await server.restart();
    expect(monitor.connected).toBe(true);
    await waitUntil(() => monitor.countSubscribes('ch-2') === 2, {
      message: 'the client did not re-SUBSCRIBE after the restart',
    });
    const admin = new Redis(server.url);
    clients.push(admin);
    expect(await pubsubNumsub(admin, channels)).toEqual(new Map([['ch-1', 1], ['ch-2', 1]]));
    expect(channels.map((ch) => monitor.countSubscribes(ch))).toEqual([2, 2]);
  });
});

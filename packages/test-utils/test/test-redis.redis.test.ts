import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { celeryQueueKeys, createTestRedis, randomName, redisUrl, redisUrlWithDb } from '../src/index.ts';

// An independent connection that checks what dispose left behind.
const observer = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
afterAll(async () => {
  await observer.quit();
});

describe('createTestRedis', () => {
  it('deletes named, tracked and stray prefixed keys on close()', async () => {
    const redis = await createTestRedis();
    expect(redis.prefix).toMatch(/^celeriac-test:[0-9a-f]{12}:$/);
    const named = redis.key('string');
    const hash = redis.key('hash');
    const outside = randomName('outside');
    redis.track(outside);
    const stray = `${redis.prefix}not-recorded`;
    await redis.client.set(named, 'v');
    await redis.client.hset(hash, 'f', 'v');
    await redis.client.set(outside, 'v');
    await redis.client.rpush(stray, 'v');
    expect(await observer.exists(named, hash, outside, stray)).toBe(4);

    await redis.close();
    expect(await observer.exists(named, hash, outside, stray)).toBe(0);
    expect(redis.client.status).toBe('end');
    await redis.close(); // idempotent
  });

  it('cleans up at the end of an `await using` block, extra connections included', async () => {
    let key: string;
    let queueKeys: string[];
    let sub: Redis;
    {
      await using redis = await createTestRedis();
      key = redis.key('k');
      const queue = redis.queue();
      expect(queue.startsWith(redis.prefix)).toBe(true);
      queueKeys = celeryQueueKeys(queue);
      await redis.client.set(key, '1');
      for (const k of queueKeys.slice(0, 4)) await redis.client.lpush(k, 'msg');
      await redis.client.sadd(queueKeys[4] ?? '', 'binding');
      sub = redis.duplicate();
      await sub.subscribe(redis.key('channel'));
    }
    expect(await observer.exists(key, ...queueKeys)).toBe(0);
    expect(sub.status).toBe('end');
  });

  it('selects the database it is asked for', async () => {
    await using redis = await createTestRedis({ db: 1 });
    expect(redis.db).toBe(1);
    expect(redis.url).toBe(redisUrlWithDb(1));
    const key = redis.key('in-db-1');
    await redis.client.set(key, 'v');
    await using db0 = await createTestRedis({ db: 0 });
    expect(await db0.client.exists(key)).toBe(0);
    expect(await redis.client.exists(key)).toBe(1);
  });
});

describe('redisUrlWithDb', () => {
  it('replaces only the database path', () => {
    const base = new URL(redisUrl());
    const url = new URL(redisUrlWithDb(3));
    expect([url.protocol, url.host, url.pathname]).toEqual([base.protocol, base.host, '/3']);
    expect(() => redisUrlWithDb(-1)).toThrow(RangeError);
  });
});

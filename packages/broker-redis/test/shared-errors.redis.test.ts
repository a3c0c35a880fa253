import { toRedisError } from '@celeriac/redis-connection';
import { createTestRedis } from '@celeriac/test-utils';
import type * as RedisConnection from '@celeriac/redis-connection';
import { describe, expect, it, vi } from 'vitest';
import { brokerFor, message } from './helpers.ts';

// The broker must map its errors with the one mapper of @celeriac/redis-connection (shared
// with backend-redis), not with a copy of its own.
vi.mock('@celeriac/redis-connection', async (importOriginal) => {
  const actual = await importOriginal<typeof RedisConnection>();
  return { ...actual, toRedisError: vi.fn(actual.toRedisError) };
});

describe('error mapping', () => {
  it('goes through toRedisError of @celeriac/redis-connection', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    await redis.client.set(`${redis.prefix}typed`, 'not a list');
    const failure = await broker.publish(message('typed')).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(String(failure)).toMatch(/WRONGTYPE/);
    const mapper = vi.mocked(toRedisError);
    expect(mapper).toHaveBeenCalledWith(failure, 'publish to queue "typed"', expect.objectContaining({ url: broker.redactedUrl }));

    mapper.mockClear();
    await redis.client.set(broker.keys.unackedIndex, 'not a zset');
    await expect(broker.restoreVisible()).rejects.toThrow(/WRONGTYPE/);
    expect(mapper).toHaveBeenCalledWith(expect.anything(), expect.stringMatching(/^restore of unacked messages/), expect.anything());
  });
});

import { redisUrl } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { createRedisClient, parseRedisUrl } from '../src/index.ts';

describe('createRedisClient', () => {
  it('names the connection, follows its status and reports a reconnect once', async () => {
    const { redis, state } = createRedisClient(parseRedisUrl(redisUrl()), { role: 'command', name: 'test-client' });
    try {
      expect(state.status).toBe('wait');
      await redis.connect();
      await redis.ping();
      expect(state.status).toBe('ready');
      expect(await redis.client('GETNAME')).toBe('celeriac:test-client');
      const reconnected = new Promise<void>((resolve) => state.once('reconnected', resolve));
      const id = await redis.client('ID');
      const killer = redis.duplicate();
      await killer.client('KILL', 'ID', String(id));
      await killer.quit();
      await reconnected;
      expect(await redis.ping()).toBe('PONG');
    } finally {
      const ended = new Promise<void>((resolve) => redis.once('end', resolve));
      redis.disconnect();
      await ended;
    }
    expect(state.status).toBe('end');
  });

  it('gives subscribers autoResubscribe off and commands auto-pipelining', () => {
    const config = parseRedisUrl(redisUrl());
    const sub = createRedisClient(config, { role: 'subscriber', name: 's' });
    const cmd = createRedisClient(config, { role: 'command', name: 'c' });
    expect(sub.redis.options.autoResubscribe).toBe(false);
    expect(sub.redis.options.maxRetriesPerRequest).toBeNull();
    expect(cmd.redis.options.enableAutoPipelining).toBe(true);
    expect(cmd.redis.options.autoResendUnfulfilledCommands).toBe(false);
    sub.redis.disconnect();
    cmd.redis.disconnect();
  });
});

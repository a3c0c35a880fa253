import { ConnectionClosedError } from '@celeriac/protocol';
import { createTcpProxy, redisUrl, startRedisServer, waitUntil } from '@celeriac/test-utils';
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

describe('commands in flight when the connection closes', () => {
  it('reject with ConnectionClosedError instead of hanging, and the client keeps working', async () => {
    await using server = await startRedisServer();
    await using proxy = await createTcpProxy({ host: '127.0.0.1', port: server.port });
    const { redis } = createRedisClient(parseRedisUrl(proxy.url()), { role: 'command', name: 'inflight' });
    try {
      await redis.connect();
      expect(await redis.set('k', 'v')).toBe('OK');
      proxy.setMode('blackhole');
      const pending = Promise.all([redis.get('k'), redis.incr('n'), redis.get('k')]).then(
        () => 'resolved',
        (err: unknown) => err,
      );
      await waitUntil(() => proxy.droppedToServer > 0, { message: 'commands never reached the proxy' });
      proxy.setMode('pass');
      proxy.cutAll();
      const err = await pending;
      expect(err).toBeInstanceOf(ConnectionClosedError);
      expect((err as ConnectionClosedError).code).toBe('CONNECTION_CLOSED');
      expect((err as Error).message).toMatch(/may or may not have run/);
      // Auto-pipelining is not stuck behind the lost pipeline.
      expect(await redis.get('k')).toBe('v');
    } finally {
      redis.disconnect();
    }
  });
});

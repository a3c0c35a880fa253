import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedisServer } from '../src/index.ts';

// Every server here is this file's own: stopping, killing and pausing it is the point.
const clients: Redis[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

/** A client that fails instead of reconnecting, so each assertion sees one connection. */
async function connect(url: string, options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    ...options,
  });
  client.on('error', () => {});
  clients.push(client);
  await client.connect();
  return client;
}

describe('startRedisServer', () => {
  it('restarts on the same port: aof keeps a key, none loses it', async () => {
    await using aof = await startRedisServer({ persistence: 'aof' });
    await using none = await startRedisServer();
    expect(aof.url).toBe(`redis://127.0.0.1:${aof.port}`);
    expect(aof.port).not.toBe(none.port);
    for (const server of [aof, none]) {
      const client = await connect(server.url);
      expect(await client.set('k', 'v')).toBe('OK');
      client.disconnect();
    }
    const [aofPid, nonePid, aofPort] = [aof.pid, none.pid, aof.port];

    await Promise.all([aof.restart(), none.restart()]);

    expect(aof.port).toBe(aofPort);
    expect(aof.pid).not.toBe(aofPid);
    expect(none.pid).not.toBe(nonePid);
    expect(await (await connect(aof.url)).get('k')).toBe('v');
    expect(await (await connect(none.url)).get('k')).toBeNull();
  });

  it('SHUTDOWN SAVE writes an RDB that start() loads; SHUTDOWN NOSAVE loses the data', async () => {
    await using server = await startRedisServer(); // no save points, no AOF
    await (await connect(server.url)).set('k', 'saved');
    await server.shutdown({ save: true });
    expect(server.running).toBe(false);
    await server.start();
    const client = await connect(server.url);
    expect(await client.get('k')).toBe('saved');
    await client.set('k', 'unsaved');
    await server.shutdown({ save: false });
    await server.start();
    expect(await (await connect(server.url)).get('k')).toBe('saved'); // the old RDB
  });

  it('rdb: stop() saves (SIGTERM with save points), kill() does not', async () => {
    await using server = await startRedisServer({ persistence: 'rdb' });
    const before = await connect(server.url);
    await before.set('k', 'one');
    await server.restart();
    const after = await connect(server.url);
    expect(await after.get('k')).toBe('one');
    await after.set('k', 'two');
    await server.kill();
    expect(server.running).toBe(false);
    await server.start();
    expect(await (await connect(server.url)).get('k')).toBe('one');
  });

  it('pause() makes a PING time out; resume() answers it and the next one', async () => {
    await using server = await startRedisServer();
    const client = await connect(server.url, { commandTimeout: 300 });
    expect(await client.ping()).toBe('PONG');
    server.pause();
    expect(server.paused).toBe(true);
    const started = performance.now();
    await expect(client.ping()).rejects.toThrow(/timed out/i);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    server.resume();
    expect(server.paused).toBe(false);
    expect(await client.ping()).toBe('PONG');
  });

  it('stops a paused server and removes its directory on dispose', async () => {
    let dir: string;
    let pid: number;
    {
      await using server = await startRedisServer({ persistence: 'aof' });
      ({ dir, pid } = server);
      expect(existsSync(dir)).toBe(true);
      server.pause();
    }
    expect(existsSync(dir)).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow(); // gone
  });

  it('fails clearly when the requested port is taken, without touching its owner', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const address = holder.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      await expect(startRedisServer({ port })).rejects.toThrow(new RegExp(`port ${port} is in use`));
      expect(holder.listening).toBe(true);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

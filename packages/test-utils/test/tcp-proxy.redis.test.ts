import { Redis, type RedisOptions } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  countClients,
  createTcpProxy,
  createTestRedis,
  randomName,
  redisUrl,
  waitUntil,
} from '../src/index.ts';

// The proxy sits in front of the shared server; only this file's keys (createTestRedis) are
// touched, and every proxied connection is closed by the proxy's dispose.
const shared = new URL(redisUrl());
const target = { host: shared.hostname, port: Number(shared.port || 6379) };

const clients: Redis[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

/** A client that never reconnects or retries, so a lost connection stays lost. */
async function connect(url: string, options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    ...options,
  });
  client.on('error', () => {});
  clients.push(client);
  await client.connect();
  return client;
}

describe('createTcpProxy', () => {
  it('passes a PING through and counts bytes and connections', async () => {
    await using proxy = await createTcpProxy(target);
    expect(proxy.url()).toBe(`redis://127.0.0.1:${proxy.port}`);
    expect(proxy.url(3)).toBe(`redis://127.0.0.1:${proxy.port}/3`);
    const client = await connect(proxy.url());
    expect(await client.ping()).toBe('PONG');
    expect(proxy.connections).toBe(1);
    expect(proxy.bytesToServer).toBeGreaterThan(0);
    expect(proxy.bytesToClient).toBeGreaterThan(0);
    await client.quit();
    await waitUntil(() => proxy.connections === 0, { message: 'proxy still holds the connection' });
  });

  it('blackhole hangs commands; back in pass the old socket stays dead, new ones work', async () => {
    await using redis = await createTestRedis();
    await using proxy = await createTcpProxy(target);
    const name = randomName('blackhole');
    const old = await connect(proxy.url(), { commandTimeout: 300, connectionName: name });
    expect(await old.ping()).toBe('PONG');

    proxy.setMode('blackhole');
    await expect(old.ping()).rejects.toThrow(/timed out/i);
    expect(proxy.droppedToServer).toBeGreaterThan(0);

    proxy.setMode('pass');
    await expect(old.ping()).rejects.toThrow(/timed out/i); // not revived
    expect(old.status).toBe('ready'); // no FIN, no RST reached it
    const fresh = await connect(proxy.url(), { commandTimeout: 1_000 });
    expect(await fresh.ping()).toBe('PONG');
    expect(proxy.connections).toBe(2);

    // Half-open the other way too: the client leaves, the server never hears of it.
    old.disconnect();
    await waitUntil(() => proxy.connections === 1);
    expect(await countClients(redis.client, (c) => c.name === name)).toBe(1);
    await proxy.close();
    await waitUntil(async () => (await countClients(redis.client, (c) => c.name === name)) === 0, {
      message: `server still lists ${name} after the proxy closed`,
    });
  });

  it('drop-replies loses the reply of an LPUSH that Redis executed', async () => {
    await using redis = await createTestRedis();
    await using proxy = await createTcpProxy(target);
    const list = redis.key('list');
    const client = await connect(proxy.url(), { commandTimeout: 300 });
    expect(await client.ping()).toBe('PONG');

    proxy.setMode('drop-replies');
    await expect(client.lpush(list, 'job')).rejects.toThrow(/timed out/i);
    // Redis answered (the proxy dropped the answer), so the LPUSH has run.
    await waitUntil(() => proxy.droppedToClient > 0, { message: 'no reply reached the proxy' });
    expect(await redis.client.llen(list)).toBe(1);

    proxy.setMode('pass');
    // The lost reply leaves that connection's reply stream unusable: still no replies.
    await expect(client.llen(list)).rejects.toThrow(/timed out/i);
    const fresh = await connect(proxy.url(), { commandTimeout: 1_000 });
    expect(await fresh.llen(list)).toBe(1);
  });

  it('cutAfterServerBytes resets the client right after Redis ran the pop', async () => {
    await using redis = await createTestRedis();
    await using proxy = await createTcpProxy(target);
    const list = redis.key('list');
    await redis.client.rpush(list, 'job-1', 'job-2');
    const client = await connect(proxy.url());
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));

    const cut = proxy.cutAfterServerBytes((chunk) => chunk.includes('job-1'));
    await expect(client.lpop(list)).rejects.toThrow(/closed/i);
    expect((await cut).toString()).toContain('job-1');
    await closed;
    expect(await redis.client.lrange(list, 0, -1)).toEqual(['job-2']); // popped, reply lost
    expect(proxy.bytesToClient).toBeGreaterThan(0); // the handshake got through
    await waitUntil(() => proxy.connections === 0);
  });

  it('delay() adds latency both ways; cutAll() resets every connection', async () => {
    await using proxy = await createTcpProxy(target);
    const client = await connect(proxy.url());
    proxy.delay(100);
    const started = performance.now();
    const replies = await Promise.all([client.ping('a'), client.ping('b'), client.ping('c')]);
    expect(replies).toEqual(['a', 'b', 'c']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    proxy.delay(0);

    const other = await connect(proxy.url());
    const closed = Promise.all(
      [client, other].map((c) => new Promise<void>((resolve) => c.once('close', () => resolve()))),
    );
    proxy.cutAll();
    await closed;
    await waitUntil(() => proxy.connections === 0);
    expect(await (await connect(proxy.url())).ping()).toBe('PONG');
  });
});

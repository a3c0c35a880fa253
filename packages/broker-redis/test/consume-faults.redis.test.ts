import { ErrorCode } from '@celeriac/protocol';
import {
  clientList,
  createTcpProxy,
  createTestRedis,
  monitorRedis,
  startRedisServer,
  waitUntil,
} from '@celeriac/test-utils';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createRedisBroker } from '../src/index.ts';
import { brokerFor, collect, message, pause, recordingLogger } from './helpers.ts';

function shared(): { host: string; port: number } {
  const url = new URL(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
  return { host: url.hostname || '127.0.0.1', port: Number(url.port || 6379) };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

describe('wake-up without popping', () => {
  it('delivers a push to an idle consumer within milliseconds, without busy polling', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    const consumer = broker.consume({ queues: ['idle-a', 'idle-b'], prefetch: 1 });
    const collected = collect(consumer);
    await pause(1_200); // idle: the consumer waits on tracking now
    const latencies: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      await pause(50 + Math.random() * 250); // a random phase against the 1 s safety timer
      const started = performance.now();
      await redis.client.lpush(`${redis.prefix}${i % 2 === 0 ? 'idle-a' : 'idle-b'}`, message('x').raw);
      const [delivery] = (await collected.waitFor(i + 1)).slice(i);
      latencies.push((collected.times[i] ?? Number.NaN) - started);
      await delivery?.ack();
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const median = percentile(sorted, 50);
    const p95 = percentile(sorted, 95);
    console.log(
      `[broker-redis] wake-up latency LPUSH -> delivery (idle consumer, 20 samples): ` +
        `median ${median.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms, max ${Math.max(...latencies).toFixed(2)} ms`,
    );
    expect(median).toBeLessThan(50);
    expect(p95).toBeLessThan(200);

    // Idle cost: about one fetch per second (kombu BRPOPs once a second), not a busy loop.
    await using monitor = await monitorRedis(redis.url, {
      filter: (c) => c.args[0]?.toLowerCase() === 'evalsha' && c.args.some((a) => a.startsWith(redis.prefix)),
    });
    await pause(3_000);
    const fetches = monitor.count('evalsha');
    expect(fetches).toBeGreaterThanOrEqual(1);
    expect(fetches).toBeLessThanOrEqual(5);
    await consumer.close();
  });
});

describe('bad input from Redis', () => {
  it('records and delivers non-JSON and tagless elements as raw, and keeps going', async () => {
    await using redis = await createTestRedis();
    await using broker = brokerFor(redis);
    const key = `${redis.prefix}bad`;
    const notJson = Buffer.from([0x6e, 0x6f, 0x74, 0x20, 0x6a, 0x73, 0x6f, 0x6e, 0x22, 0x00, 0xff, 0xc3, 0xa9]);
    const tagless = Buffer.from('{"body": "e30=", "headers": {"id": "x", "big": 12345678901234567890123}, "properties": {}}');
    const arrayElement = Buffer.from('[1, 2, 3]');
    const good = message('bad');
    await redis.client.lpush(key, notJson, tagless, arrayElement, good.raw);
    const consumer = broker.consume({ queues: ['bad', 'other'], prefetch: 10 });
    const collected = collect(consumer);
    const got = await collected.waitFor(4);
    expect(got.map((d) => Buffer.from(d.raw))).toEqual([notJson, tagless, arrayElement, good.raw]);
    expect(got.map((d) => d.deliveryTag)).toEqual(['', '', '', good.deliveryTag]);
    // kombu's unacked holds the tagged message only: a Python worker's restore would delete
    // the others without pushing them anywhere. They live in Celeriac's own keys.
    expect(await redis.client.hkeys(broker.keys.unacked)).toEqual([good.deliveryTag]);
    const records = await redis.client.hgetallBuffer(broker.keys.invalidUnacked);
    expect(Object.keys(records)).toHaveLength(3);
    expect(await redis.client.zcard(broker.keys.invalidUnackedIndex)).toBe(3);
    for (const delivery of got.slice(0, 3)) {
      const tag = (delivery as typeof delivery & { unackedTag: string }).unackedTag;
      expect(tag).toMatch(/^celeriac-invalid:[0-9a-f-]{36}$/);
      // Every record is valid JSON.
      const record = JSON.parse(records[tag]?.toString('utf8') ?? 'null') as unknown[];
      expect(record).toHaveLength(3);
      expect(record.slice(1)).toEqual(['', 'bad']);
    }
    // The tagless object is recorded byte for byte (its 2^70-sized integer untouched).
    const taglessTag = (got[1] as (typeof got)[1] & { unackedTag: string }).unackedTag;
    expect(records[taglessTag]?.toString('utf8')).toBe(`[${tagless.toString('utf8')}, "", "bad"]`);

    // The last key of the fetch order (the second queue's bucket 9) records its own queue.
    await redis.client.lpush(`${redis.prefix}other\x06\x169`, 'garbage');
    const [, , , , last] = await collected.waitFor(5);
    expect(last?.queue).toBe('other');
    const lastTag = (last as NonNullable<typeof last> & { unackedTag: string }).unackedTag;
    expect(await redis.client.hget(broker.keys.invalidUnacked, lastTag)).toBe('["garbage", "", "other"]');
    await last?.ack(); // in Celeriac's keys
    expect(await redis.client.hexists(broker.keys.invalidUnacked, lastTag)).toBe(0);
    expect(await redis.client.zscore(broker.keys.invalidUnackedIndex, lastTag)).toBeNull();

    // A requeue of an invalid element takes its record from Celeriac's keys too.
    await redis.client.lpush(`${redis.prefix}other`, 'requeue me');
    const [, , , , , sixth] = await collected.waitFor(6);
    await sixth?.reject({ requeue: true });
    const [, , , , , , seventh] = await collected.waitFor(7);
    expect(Buffer.from(seventh?.raw ?? []).toString('utf8')).toBe('requeue me');
    await seventh?.ack();
    expect(await redis.client.hlen(broker.keys.invalidUnacked)).toBe(3);
    expect(await redis.client.zcard(broker.keys.invalidUnackedIndex)).toBe(3);

    // Restoring them puts the exact bytes back (the non-JSON one byte for byte).
    const tags = got.slice(0, 3).map((d) => (d as typeof d & { unackedTag: string }).unackedTag);
    await consumer.close();
    expect(await broker.restoreUnacked(tags)).toBe(3);
    const restored = await redis.client.lrangeBuffer(key, 0, -1);
    expect(restored).toHaveLength(3);
    expect(restored).toContainEqual(notJson); // byte for byte
    expect(restored.map((b) => b.toString('utf8'))).toContain('[1,2,3]'); // the same JSON
    expect(restored.map((b) => b.toString('utf8')).some((s) => s.includes('12345678901234567890123'))).toBe(true);
    expect(await redis.client.hlen(broker.keys.invalidUnacked)).toBe(0);
    expect(await redis.client.zcard(broker.keys.invalidUnackedIndex)).toBe(0);
    await got[3]?.ack();
  });

  it('skips a queue key that is not a list, and pops nothing while unacked is not a hash', async () => {
    await using redis = await createTestRedis();
    const logger = recordingLogger();
    await using broker = brokerFor(redis, { logger });
    await redis.client.set(`${redis.prefix}wrong`, 'a string');
    const good = message('right');
    await broker.publish(good);
    const consumer = broker.consume({ queues: ['wrong', 'right'], prefetch: 10 });
    const collected = collect(consumer);
    const [delivery] = await collected.waitFor(1);
    expect(delivery?.deliveryTag).toBe(good.deliveryTag);
    await delivery?.ack();
    await waitUntil(() => logger.lines.some((l) => l.includes('non-list value') && l.includes(`${redis.prefix}wrong`)));

    // A broken unacked hash: the script refuses before popping, the message stays queued.
    await redis.client.del(broker.keys.unacked);
    await redis.client.set(broker.keys.unacked, 'not a hash');
    const waiting = message('right');
    await broker.publish(waiting);
    await waitUntil(() => logger.lines.some((l) => l.includes('cannot fetch') && l.includes('WRONGTYPE')));
    expect(await redis.client.lrange(`${redis.prefix}right`, 0, -1)).toEqual([waiting.raw.toString('utf8')]);
    await redis.client.del(broker.keys.unacked);
    const [, later] = await collected.waitFor(2, 8_000);
    expect(later?.deliveryTag).toBe(waiting.deliveryTag);
    await later?.ack();
    await consumer.close();
  });
});

describe('no loss window', () => {
  it('a reply lost right after the fetch: the message is recorded, and the consumer puts it back once reconnected', async () => {
    await using redis = await createTestRedis();
    await using proxy = await createTcpProxy(shared());
    const logger = recordingLogger();
    // visibility_timeout stays 1 h: only the consumer itself can bring the message back in time.
    const options = { watchdogTimeoutMs: 1_500, restoreIntervalMs: 3_600_000 };
    await using consumerBroker = brokerFor(redis, { ...options, logger }, proxy.url(redis.db));
    await using admin = brokerFor(redis, options);
    const consumer = consumerBroker.consume({ queues: ['cut'], prefetch: 1 });
    const collected = collect(consumer);
    await pause(300); // connected and idle
    const sent = message('cut');
    const cut = proxy.cutAfterServerBytes((chunk) => chunk.includes(sent.taskId));
    await admin.publish(sent);
    await cut;
    // The script ran, its reply never arrived: the message was recorded, not lost, and the
    // consumer (which cannot know whether its fetch ran) puts back what that fetch recorded.
    const [delivery] = await collected.waitFor(1, 8_000);
    expect(delivery?.deliveryTag).toBe(sent.deliveryTag);
    expect(delivery?.redelivered).toBe(true);
    expect(logger.lines.some((l) => l.includes('put back') && l.includes('fetch'))).toBe(true);
    await delivery?.ack();
    await pause(1_500);
    expect(collected.items).toHaveLength(1); // exactly once
    expect(await admin.restoreVisible()).toBe(0);
    expect(await redis.client.hlen(admin.keys.unacked)).toBe(0);
    expect(await redis.client.llen(`${redis.prefix}cut`)).toBe(0);
    await consumer.close();
  });

  it('CLIENT KILL of the consumer connection mid-run loses nothing', async () => {
    await using redis = await createTestRedis();
    const name = `bk-${redis.prefix.slice(14, 26)}`;
    await using broker = brokerFor(redis, { name, watchdogTimeoutMs: 1_500, restoreIntervalMs: 3_600_000 });
    const consumer = broker.consume({ queues: ['kill'], prefetch: 100 });
    const collected = collect(consumer);
    const sent = Array.from({ length: 200 }, () => message('kill'));
    const publishing = (async () => {
      for (const m of sent) {
        await broker.publish(m);
        if (Math.random() < 0.05) await pause(1);
      }
    })();
    let kills = 0;
    for (let i = 0; i < 5; i += 1) {
      await pause(30);
      // Only our own consumer connection (the server is shared).
      const ids = (await clientList(redis.client))
        .filter((c) => c['name'] === `celeriac:${name}-consumer-1`)
        .map((c) => c['id'] ?? '');
      for (const id of ids) kills += Number(await redis.client.call('CLIENT', 'KILL', 'ID', id));
    }
    expect(kills).toBeGreaterThan(0);
    await publishing;
    await waitUntil(async () => {
      for (const d of collected.items) if (!d.redelivered) await d.ack();
      const left = await redis.client.llen(`${redis.prefix}kill`);
      return left === 0;
    }, { timeoutMs: 10_000 }).catch(() => undefined);
    // Everything is either delivered, still queued, or recorded in unacked: nothing vanished.
    const delivered = new Set(collected.items.map((d) => d.deliveryTag));
    const queued = (await redis.client.lrange(`${redis.prefix}kill`, 0, -1)).map(
      (raw) => (JSON.parse(raw) as { properties: { delivery_tag: string } }).properties.delivery_tag,
    );
    const recorded = await redis.client.hkeys(broker.keys.unacked);
    for (const m of sent) {
      const found = delivered.has(m.deliveryTag) || queued.includes(m.deliveryTag) || recorded.includes(m.deliveryTag);
      expect(found, `message ${m.deliveryTag}`).toBe(true);
    }
    await Promise.all(collected.items.map((d) => d.ack().catch(() => undefined)));
    await consumer.close();
  }, 20_000);
});

describe('watchdog', () => {
  it('resumes after a hung network (blackhole) without a restart', async () => {
    await using redis = await createTestRedis();
    await using proxy = await createTcpProxy(shared());
    const logger = recordingLogger();
    await using broker = brokerFor(redis, { watchdogTimeoutMs: 1_500, logger }, proxy.url(redis.db));
    const consumer = broker.consume({ queues: ['hang'], prefetch: 1 });
    const collected = collect(consumer);
    await redis.client.lpush(`${redis.prefix}hang`, message('hang').raw);
    await collected.waitFor(1);
    await collected.items[0]?.ack();

    proxy.setMode('blackhole');
    await pause(3_500); // the idle fetch hangs; the watchdog drops the connection; reconnects hang too
    const during = message('hang');
    await redis.client.lpush(`${redis.prefix}hang`, during.raw);
    await pause(500);
    expect(collected.items).toHaveLength(1);
    expect(logger.lines.some((l) => l.includes('timed out; dropping the connection'))).toBe(true);

    proxy.setMode('pass');
    const started = performance.now();
    const [, resumed] = await collected.waitFor(2, 10_000);
    const elapsed = performance.now() - started;
    console.log(`[broker-redis] resumed ${elapsed.toFixed(0)} ms after the network came back (watchdog 1500 ms)`);
    expect(elapsed).toBeLessThan(10_000);
    expect(resumed?.deliveryTag).toBe(during.deliveryTag);
    await resumed?.ack();

    // The wake-up path works again too (a fresh tracking connection).
    await pause(1_500);
    const t0 = performance.now();
    await redis.client.lpush(`${redis.prefix}hang`, message('hang').raw);
    await collected.waitFor(3, 5_000);
    expect(performance.now() - t0).toBeLessThan(900);
    await collected.items[2]?.ack();
    await consumer.close();
  }, 25_000);

  it('resumes after its own redis-server restarts, and waits while Redis is down', async () => {
    await using server = await startRedisServer();
    const direct = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    direct.on('error', () => undefined);
    try {
      await using broker = createRedisBroker(server.url, { watchdogTimeoutMs: 1_500, commandTimeoutMs: 1_000 });
      const consumer = broker.consume({ queues: ['restart'], prefetch: 1 });
      const collected = collect(consumer);
      await broker.publish(message('restart'));
      await collected.waitFor(1);
      await collected.items[0]?.ack();

      await server.restart(); // no persistence: the server comes back empty
      const started = performance.now();
      await direct.lpush('restart', message('restart').raw);
      await collected.waitFor(2, 10_000);
      const elapsed = performance.now() - started;
      console.log(`[broker-redis] resumed ${elapsed.toFixed(0)} ms after a redis-server restart`);
      expect(elapsed).toBeLessThan(10_000);
      await collected.items[1]?.ack();

      // Down: a publish fails with a typed error within its deadline; the consumer waits.
      await server.stop();
      const failure = await broker.publish(message('restart')).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({ code: expect.stringMatching(/^(TIMEOUT|CONNECTION_CLOSED)$/) as unknown });
      await server.start();
      await waitUntil(async () => (await direct.llen('restart').catch(() => 0)) === 0 && collected.items.length >= 2);
      await broker.publish(message('restart'));
      const [, , third] = await collected.waitFor(3, 10_000);
      await third?.ack();
      await consumer.close();
      expect([ErrorCode.TIMEOUT, ErrorCode.CONNECTION_CLOSED]).toContain((failure as { code: string }).code);
    } finally {
      direct.disconnect();
    }
  }, 30_000);
});

/**
 * Stalls a server for `ms` with a busy script (nothing else runs meanwhile), then LPUSHes
 * `raw` to `key` as its last step: the first command to run after the stall sees it.
 */
const STALL_SCRIPT = `
local t = redis.call('TIME')
local start = tonumber(t[1]) * 1000000 + tonumber(t[2])
repeat
  local n = redis.call('TIME')
until tonumber(n[1]) * 1000000 + tonumber(n[2]) - start >= tonumber(ARGV[1]) * 1000
redis.call('LPUSH', KEYS[1], ARGV[2])
return 1
`;

describe('a fetch abandoned by the watchdog', () => {
  it('puts back what the abandoned fetch still popped on the server, at once and exactly once', async () => {
    await using server = await startRedisServer();
    const staller = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const direct = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    staller.on('error', () => undefined);
    direct.on('error', () => undefined);
    try {
      const logger = recordingLogger();
      await using broker = createRedisBroker(server.url, {
        watchdogTimeoutMs: 1_000,
        pollIntervalMs: 300, // a fetch is sent while the server is stalled
        restoreIntervalMs: 3_600_000, // visibility_timeout stays 1 h: only the consumer can bring it back
        logger,
      });
      const consumer = broker.consume({ queues: ['stall'], prefetch: 1 });
      const collected = collect(consumer);
      await pause(500); // connected and idle
      const sent = message('stall');
      // The fetch in flight during the stall misses its deadline; the consumer drops the
      // connection, but the server still runs that fetch right after the stall: it pops
      // the message and records it in unacked.
      await staller.eval(STALL_SCRIPT, 1, 'stall', 3_000, sent.raw);
      const stalledAt = performance.now();
      expect(logger.lines.some((l) => l.includes('command timed out') && l.includes('fetch'))).toBe(true);

      const [delivery] = await collected.waitFor(1, 8_000);
      console.log(
        `[broker-redis] abandoned fetch put back and delivered ${(performance.now() - stalledAt).toFixed(0)} ms after the stall`,
      );
      expect(delivery?.deliveryTag).toBe(sent.deliveryTag);
      expect(delivery?.redelivered).toBe(true);
      expect(logger.lines.some((l) => l.includes('put back') && l.includes('fetch'))).toBe(true);
      // Its only record now is the one of this delivery.
      expect(await direct.hkeys('unacked')).toEqual([sent.deliveryTag]);
      await delivery?.ack();
      await pause(1_000);
      expect(collected.items).toHaveLength(1); // exactly once
      expect(await direct.hlen('unacked')).toBe(0);
      expect(await direct.zcard('unacked_index')).toBe(0);
      expect(await direct.llen('stall')).toBe(0);
      await consumer.close();
    } finally {
      staller.disconnect();
      direct.disconnect();
    }
  }, 20_000);
});

describe('startup and lost replies', () => {
  it('a consumer started while Redis is down waits, then consumes', async () => {
    await using server = await startRedisServer();
    await server.stop();
    await using broker = createRedisBroker(server.url, { watchdogTimeoutMs: 1_000 });
    const consumer = broker.consume({ queues: ['late'], prefetch: 1 });
    const collected = collect(consumer);
    await pause(1_500);
    await server.start();
    await broker.publish(message('late'));
    const [delivery] = await collected.waitFor(1, 8_000);
    await delivery?.ack();
    await consumer.close();
  }, 20_000);

  it('a publish whose reply is lost rejects with TIMEOUT and is not sent twice', async () => {
    await using redis = await createTestRedis();
    await using proxy = await createTcpProxy(shared());
    await using broker = brokerFor(redis, { commandTimeoutMs: 1_000 }, proxy.url(redis.db));
    await broker.publish(message('lost')); // connected, binding declared
    proxy.setMode('drop-replies');
    const lost = message('lost');
    await expect(broker.publish(lost)).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    proxy.setMode('pass');
    // The dead connection was dropped on the timeout; the next publish goes through a new one.
    await broker.publish(message('lost'));
    const tags = (await redis.client.lrange(`${redis.prefix}lost`, 0, -1)).map(
      (raw) => (JSON.parse(raw) as { properties: { delivery_tag: string } }).properties.delivery_tag,
    );
    expect(tags).toHaveLength(3);
    expect(tags.filter((tag) => tag === lost.deliveryTag)).toHaveLength(1); // ran once, never re-sent
  }, 20_000);
});

describe('a Redis over maxmemory', () => {
  it('refuses the unacked record while the message is still in its list, never after it left', async () => {
    await using server = await startRedisServer();
    const admin = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    try {
      await admin.connect();
      const logger = recordingLogger();
      await using broker = createRedisBroker(server.url, { pollIntervalMs: 100, logger });
      const sent = message('oom');
      await broker.publish(sent);
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1'); // every write that may grow memory is refused
      const consumer = broker.consume({ queues: ['oom'], prefetch: 1 });
      const collected = collect(consumer);
      await pause(800); // several fetches refused
      expect(collected.items).toHaveLength(0);
      expect(await admin.llen(broker.keys.queueKey('oom'))).toBe(1);
      expect(await admin.hlen(broker.keys.unacked)).toBe(0);
      await admin.config('SET', 'maxmemory', '0');
      const [delivery] = await collected.waitFor(1, 5_000);
      expect(delivery?.deliveryTag).toBe(sent.deliveryTag);
      await consumer.close();
    } finally {
      admin.disconnect();
    }
  });
});

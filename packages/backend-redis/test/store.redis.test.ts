/**
 * What `store()` and the group / chord primitives put into Redis (celery-wire §4.2, §4.8;
 * matrix row 27): GET before write, SETEX + PUBLISH of the identical payload in one MULTI,
 * a TTL on every key, result_extended fields, Celery's group tuple and chord counters.
 */
import { randomUUID } from 'node:crypto';
import { createResultMeta, msgpackSerializer } from '@celeriac/protocol';
import { celeryResultKey, createTestRedis, startRedisServer, waitUntil } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RESULT_EXPIRES, groupKey, taskKey } from '../src/index.ts';
import { backendFor, success } from './helpers.ts';

const extended = { name: 'tasks.add', args: [2, 3], kwargs: { z: 1 }, worker: 'w1@vm', retries: 0, queue: 'celery' };

describe('store()', () => {
  it('runs GET, then MULTI / SETEX / PUBLISH / EXEC with the identical payload (MONITOR)', async () => {
    await using server = await startRedisServer();
    await using monitor = await server.monitor();
    await using backend = backendFor(server.url);
    const id = randomUUID();
    const key = taskKey(id);
    expect(await backend.store(success(id, 5))).toBe(true);
    // MONITOR output arrives on its own connection, possibly after the reply to EXEC.
    await monitor.waitFor((c) => c.args[0]?.toLowerCase() === 'exec', 5_000);
    const mine = monitor.commands((c) => c.args.includes(key) || ['multi', 'exec'].includes(c.args[0]?.toLowerCase() ?? ''));
    expect(mine.map((c) => c.args[0]?.toUpperCase())).toEqual(['GET', 'MULTI', 'SETEX', 'PUBLISH', 'EXEC']);
    const setex = mine[2]?.args ?? [];
    const publish = mine[3]?.args ?? [];
    expect(setex.slice(1, 3)).toEqual([key, String(DEFAULT_RESULT_EXPIRES)]);
    expect(publish[1]).toBe(key);
    expect(publish[2]).toBe(setex[3]);
    expect(JSON.parse(setex[3] ?? '')).toMatchObject({ status: 'SUCCESS', result: 5, task_id: id });
  });

  it('publishes exactly the bytes it stores, on the channel named like the key', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const id = randomUUID();
    redis.track(celeryResultKey(id));
    const sub = redis.duplicate();
    const received: Buffer[] = [];
    sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => received.push(message));
    await sub.subscribe(taskKey(id));
    const meta = createResultMeta({ taskId: id, status: 'SUCCESS', result: { text: 'h\u00e9llo \u2603', n: 2n ** 70n } });
    await backend.store(meta);
    await waitUntil(() => received.length === 1);
    const stored = await redis.client.getBuffer(taskKey(id));
    expect(stored).not.toBeNull();
    expect(received[0]?.equals(stored ?? Buffer.alloc(0))).toBe(true);
    expect(backend.decode(stored ?? Buffer.alloc(0), id).result).toEqual({ text: 'h\u00e9llo \u2603', n: 2n ** 70n });
  });

  it('never overwrites a stored SUCCESS (GET before write), but does overwrite other states', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const id = randomUUID();
    redis.track(celeryResultKey(id));
    expect(await backend.store(createResultMeta({ taskId: id, status: 'STARTED', result: { pid: 1, hostname: 'h' } }))).toBe(true);
    expect((await backend.get(id)).status).toBe('STARTED');
    expect(await backend.store(success(id, 'first'))).toBe(true);
    expect(await backend.store(createResultMeta({ taskId: id, status: 'FAILURE', result: new Error('late') }))).toBe(false);
    expect(await backend.store(success(id, 'second'))).toBe(false);
    expect(await backend.get(id)).toMatchObject({ status: 'SUCCESS', result: 'first' });
  });

  it('a SUCCESS stored with the other serializer is still final', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const id = randomUUID();
    redis.track(celeryResultKey(id));
    await redis.client.set(taskKey(id), Buffer.from(msgpackSerializer.encode(success(id, 1))));
    expect(await backend.store(createResultMeta({ taskId: id, status: 'FAILURE', result: new Error('x') }))).toBe(false);
  });

  it('puts a TTL on every key it writes (default 86400), none only when expiry is disabled', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    await using forever = backendFor(redis.url, { resultExpires: null });
    await using short = backendFor(redis.url, { resultExpires: 90.5 });
    const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const gid = randomUUID();
    redis.track(...[a, b, c, d].map(celeryResultKey), groupKey(gid), groupKey(gid, '.j'), groupKey(gid, '.s'), groupKey(gid, '.t'));
    await backend.store(success(a, 1));
    await forever.store(success(b, 1));
    await short.store(success(c, 1));
    await backend.store(success(d, 1), { expires: 60 });
    expect(await redis.client.ttl(taskKey(a))).toBe(DEFAULT_RESULT_EXPIRES);
    expect(await redis.client.ttl(taskKey(b))).toBe(-1);
    expect(await redis.client.ttl(taskKey(c))).toBe(91);
    expect(await redis.client.ttl(taskKey(d))).toBe(60);

    await backend.saveGroup(gid, [a, b]);
    await backend.setChordSize(gid, 2);
    await backend.addToChord(gid);
    await backend.chordPartDone(gid, 0, a, 'SUCCESS', 1);
    for (const suffix of ['', '.j', '.s', '.t'] as const) {
      expect(await redis.client.ttl(groupKey(gid, suffix))).toBe(DEFAULT_RESULT_EXPIRES);
    }
    await using zero = backendFor(redis.url, { resultExpires: 0 });
    expect(zero.expires).toBeNull();
  });

  it('keeps the result_extended fields (before task_id) only with resultExtended', async () => {
    await using redis = await createTestRedis();
    await using plain = backendFor(redis.url);
    await using ext = backendFor(redis.url, { resultExtended: true });
    const [a, b] = [randomUUID(), randomUUID()];
    redis.track(celeryResultKey(a), celeryResultKey(b));
    await plain.store(createResultMeta({ taskId: a, status: 'SUCCESS', result: 5, extended }));
    await ext.store(createResultMeta({ taskId: b, status: 'SUCCESS', result: 5, extended }));
    const rawA = JSON.parse((await redis.client.get(taskKey(a))) ?? '') as Record<string, unknown>;
    const rawB = JSON.parse((await redis.client.get(taskKey(b))) ?? '') as Record<string, unknown>;
    expect(Object.keys(rawA)).toEqual(['status', 'result', 'traceback', 'children', 'date_done', 'task_id']);
    expect(Object.keys(rawB)).toEqual([
      'status', 'result', 'traceback', 'children', 'date_done', 'name', 'args', 'kwargs', 'worker', 'retries', 'queue', 'task_id',
    ]);
    const handle = ext.asyncResult<number>(b);
    expect(await handle.get()).toBe(5);
    expect([handle.name, handle.args, handle.kwargs, handle.worker, handle.retries, handle.queue]).toEqual([
      'tasks.add', [2, 3], { z: 1 }, 'w1@vm', 0, 'celery',
    ]);
  });

  it('stores msgpack when the result serializer is msgpack', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url, { resultSerializer: 'msgpack', accept: ['msgpack'] });
    const id = randomUUID();
    redis.track(celeryResultKey(id));
    await backend.store(success(id, new Uint8Array([0, 1, 254, 255])));
    const raw = await redis.client.getBuffer(taskKey(id));
    expect(msgpackSerializer.decode(raw ?? Buffer.alloc(0))).toMatchObject({ status: 'SUCCESS', result: new Uint8Array([0, 1, 254, 255]) });
    expect(await backend.asyncResult(id).get()).toEqual(new Uint8Array([0, 1, 254, 255]));
  });
});

describe('groups and chords', () => {
  it('saves a group in Celery tuple form and reads it back', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const gid = randomUUID();
    const ids = [randomUUID(), randomUUID()];
    redis.track(groupKey(gid));
    await backend.saveGroup(gid, ids);
    expect(JSON.parse((await redis.client.get(groupKey(gid))) ?? '')).toEqual({
      result: [[gid, null], ids.map((id) => [[id, null], null])],
    });
    expect(await backend.getGroup(gid)).toEqual(ids);
    expect(await backend.getGroup(randomUUID())).toBeNull();
    await backend.deleteGroup(gid);
    expect(await backend.getGroup(gid)).toBeNull();
  });

  it('counts chord parts like a Celery worker and returns them ordered by group_index', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const gid = randomUUID();
    const [t0, t1, t2] = [randomUUID(), randomUUID(), randomUUID()];
    redis.track(groupKey(gid, '.j'), groupKey(gid, '.s'), groupKey(gid, '.t'));
    await backend.setChordSize(gid, 3);
    expect(await redis.client.get(groupKey(gid, '.s'))).toBe('3');
    expect(await backend.chordPartDone(gid, 2, t2, 'SUCCESS', 'c')).toEqual({ count: 1, total: 3, complete: false });
    expect(await backend.chordPartDone(gid, 0, t0, 'SUCCESS', 'a')).toEqual({ count: 2, total: 3, complete: false });
    const last = await backend.chordPartDone(gid, 1, t1, 'FAILURE', new TypeError('bad'));
    expect(last).toEqual({ count: 3, total: 3, complete: true });
    const members = await redis.client.zrange(groupKey(gid, '.j'), 0, -1, 'WITHSCORES');
    expect(members[1]).toBe('0');
    expect(JSON.parse(members[0] ?? '')).toEqual([1, t0, 'SUCCESS', 'a']);
    expect(await backend.chordResults(gid)).toEqual([
      { taskId: t0, state: 'SUCCESS', result: 'a' },
      { taskId: t1, state: 'FAILURE', result: { exc_type: 'TypeError', exc_message: ['bad'], exc_module: 'builtins' } },
      { taskId: t2, state: 'SUCCESS', result: 'c' },
    ]);
    expect(await backend.addToChord(gid)).toBe(1);
    expect((await backend.chordPartDone(gid, null, randomUUID(), 'SUCCESS', 'd'))).toEqual({ count: 4, total: 4, complete: true });
    await backend.chordCleanup(gid);
    expect(await redis.client.exists(groupKey(gid, '.j'), groupKey(gid, '.s'), groupKey(gid, '.t'))).toBe(0);
  });

  it('reports a null total while the chord size is unknown', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const gid = randomUUID();
    redis.track(groupKey(gid, '.j'), groupKey(gid, '.s'), groupKey(gid, '.t'));
    expect(await backend.chordPartDone(gid, 0, randomUUID(), 'SUCCESS', 1)).toEqual({ count: 1, total: null, complete: false });
  });
});

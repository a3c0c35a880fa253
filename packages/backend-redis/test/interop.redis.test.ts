/**
 * Interop with Debian's Celery 5.2.6 (matrix row 30, result side): what a real Celery
 * worker stores is read by this backend, and what this backend stores is read by Python's
 * `AsyncResult.get()` and `GroupResult.restore()`, with json and msgpack results.
 * Task messages are built with @celeriac/protocol and LPUSHed by the test.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { createResultMeta, encodeTaskMessage, ErrorCode, RemoteTaskError, type TaskMessageInput } from '@celeriac/protocol';
import {
  assertCeleryAvailable,
  celeryEnv,
  celeryPython,
  celeryResultKey,
  createTestRedis,
  getResultsWithPython,
  PYTHON_DIR,
  startCeleryWorker,
  waitUntil,
  type TestRedis,
} from '@celeriac/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { groupKey, taskKey } from '../src/index.ts';
import { backendFor } from './helpers.ts';

const run = promisify(execFile);

/** LPUSHes a protocol v2 message built by @celeriac/protocol; returns the task id. */
async function send(redis: TestRedis, queue: string, input: Omit<TaskMessageInput, 'queue'>): Promise<string> {
  const message = encodeTaskMessage({ ...input, queue });
  redis.track(celeryResultKey(message.taskId));
  await redis.client.lpush(queue, message.raw);
  return message.taskId;
}

beforeAll(async () => {
  await assertCeleryAvailable();
});

describe.each(['json', 'msgpack'] as const)('with %s results', (serializer) => {
  const options = { resultSerializer: serializer, accept: [serializer] };

  it('reads what a real Celery worker stores: success, failure (name InteropError), a result stored before the wait', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using worker = await startCeleryWorker({ queue, brokerUrl: redis.url, resultSerializer: serializer });
    await using backend = backendFor(redis.url, options);

    const addId = await send(redis, queue, { task: 'tasks.add', args: [2, 3] });
    const failId = await send(redis, queue, { task: 'tasks.fail', args: ['boom \u2603'] });
    const typesId = await send(redis, queue, { task: 'tasks.types', kwargs: { binary: serializer === 'msgpack' } });
    expect(await backend.asyncResult<number>(addId).get({ timeout: 15_000 })).toBe(5);
    const error = await backend.asyncResult(failId).get({ timeout: 15_000 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect(error).toMatchObject({ name: 'InteropError', excModule: 'tasks', excMessage: ['boom \u2603'], code: ErrorCode.TASK_FAILED });
    expect((error as RemoteTaskError).traceback).toContain('InteropError');
    const types = await backend.asyncResult<Record<string, unknown>>(typesId).get({ timeout: 15_000 });
    expect(types).toMatchObject({ none: null, int: 42, negative: -7, float: -1.5 });
    if (serializer === 'json') expect(types['big_int']).toBe(2n ** 70n);
    else expect(types['bytes']).toBeInstanceOf(Uint8Array);

    // Stored before anybody waits (and before our subscriber exists for it): the MGET after
    // the SUBSCRIBE finds it.
    const earlyId = await send(redis, queue, { task: 'tasks.add', args: [20, 22] });
    await waitUntil(async () => (await redis.client.exists(taskKey(earlyId))) === 1, { timeoutMs: 15_000 });
    const early = backend.asyncResult<number>(earlyId);
    expect(await early.get({ timeout: 5_000 })).toBe(42);
    expect(early.dateDone).not.toBeNull();
    expect(worker.queue).toBe(queue);
  });

  it("is read by Python's AsyncResult.get(): success and failure", async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url, options);
    const [ok, bad] = [randomUUID(), randomUUID()];
    redis.track(celeryResultKey(ok), celeryResultKey(bad));
    const value = serializer === 'json' ? { text: 'h\u00e9llo', n: [1, 2.5, null, true] } : { bin: new Uint8Array([0, 255]), n: 2n ** 63n - 1n };
    await backend.store(createResultMeta({ taskId: ok, status: 'SUCCESS', result: value }));
    await backend.store(createResultMeta({ taskId: bad, status: 'FAILURE', result: new TypeError('nope') }));
    const [okResult, badResult] = await getResultsWithPython([ok, bad], 10, { brokerUrl: redis.url, resultSerializer: serializer });
    expect(okResult).toMatchObject({ id: ok, status: 'SUCCESS' });
    expect(okResult?.result).toEqual(value);
    expect(badResult).toMatchObject({
      id: bad,
      status: 'FAILURE',
      result: { exc_type: 'TypeError', exc_message: ['nope'], exc_module: 'builtins' },
    });
  });
});

describe('groups with Python', () => {
  it("a group saved here is restored by Python's GroupResult.restore()", async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const gid = randomUUID();
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    redis.track(groupKey(gid));
    await backend.saveGroup(gid, ids);
    const script = [
      'import json, sys',
      'from celery.result import GroupResult',
      'from tasks import app',
      'r = GroupResult.restore(sys.argv[1], app=app)',
      'print(json.dumps([x.id for x in r.results]))',
    ].join('\n');
    const { stdout } = await run(celeryPython(), ['-c', script, gid], { cwd: PYTHON_DIR, env: celeryEnv({ brokerUrl: redis.url }) });
    expect(JSON.parse(stdout)).toEqual(ids);
  });

  it('a group saved by Python is read here', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const gid = randomUUID();
    const ids = [randomUUID(), randomUUID()];
    redis.track(groupKey(gid));
    const script = [
      'import sys',
      'from celery.result import AsyncResult, GroupResult',
      'from tasks import app',
      'GroupResult(sys.argv[1], [AsyncResult(i, app=app) for i in sys.argv[2:]], app=app).save()',
    ].join('\n');
    await run(celeryPython(), ['-c', script, gid, ...ids], { cwd: PYTHON_DIR, env: celeryEnv({ brokerUrl: redis.url }) });
    expect(await backend.getGroup(gid)).toEqual(ids);
    expect(await redis.client.ttl(groupKey(gid))).toBeGreaterThan(0);
  });
});

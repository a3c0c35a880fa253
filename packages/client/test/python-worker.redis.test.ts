/**
 * A TypeScript client and a real Python Celery 5.2.6 worker (matrix row 30, client side):
 * tasks sent with `delay` / `applyAsync` / `sendTask` run on Celery and their results come
 * back through the lazy handles, with json and msgpack. Also checks the settings table
 * against the installed Celery.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ErrorCode, RemoteTaskError } from '@celeriac/protocol';
import {
  assertCeleryAvailable,
  celeryPython,
  celeryResultKey,
  createTestRedis,
  startCeleryWorker,
  waitUntil,
  type TestRedis,
} from '@celeriac/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp, defaultConfig, OLD_SETTING_NAMES, SETTINGS, type App, type SentResult } from '../src/index.ts';

const run = promisify(execFile);
const WAIT = { timeout: 20_000 };

beforeAll(async () => {
  await assertCeleryAvailable();
});

function appFor(redis: TestRedis, queue: string, serializer: 'json' | 'msgpack'): App {
  return createApp(
    {
      broker_url: redis.url,
      result_backend: redis.url,
      task_default_queue: queue,
      task_serializer: serializer,
      result_serializer: serializer,
      accept_content: ['json', 'msgpack'],
    },
    { env: {} },
  );
}

/** Tracks the result key of each handle for cleanup. */
function tracked<T extends SentResult<unknown>>(redis: TestRedis, result: T): T {
  redis.track(celeryResultKey(result.id));
  return result;
}

describe.each(['json', 'msgpack'] as const)('TypeScript client → Python worker, %s', (serializer) => {
  it('add, echo with every value type, failures, unknown tasks', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using worker = await startCeleryWorker({ queue, brokerUrl: redis.url, taskSerializer: serializer, resultSerializer: serializer });
    await using app = appFor(redis, queue, serializer);
    const add = app.taskRef<[x: number, y: number], number>('tasks.add');
    const echo = app.taskRef<unknown[], [unknown[], Record<string, unknown>]>('tasks.echo');
    const fail = app.taskRef<[msg?: string], never>('tasks.fail');

    const values: unknown[] =
      serializer === 'json'
        ? ['h\u00e9llo \u2603 \ud834\udd1e', { list: [1, [2, [3, null]]], dict: { a: { b: [] } } }, null, 2n ** 70n, 2n ** 63n - 1n, -7, -1.5, 1e300, true, false, '', Number.POSITIVE_INFINITY]
        : ['h\u00e9llo \u2603 \ud834\udd1e', { list: [1, [2, [3, null]]], dict: { a: { b: [] } } }, null, 2n ** 63n - 1n, -(2n ** 63n), -7, -1.5, true, new Uint8Array([0, 1, 254, 255]), new Uint8Array()];
    const sum = tracked(redis, add.delay(2, 3));
    const echoed = tracked(redis, echo.applyAsync(values, { key: 'v\u00e9', nested: { deep: [null] } }));
    const failed = tracked(redis, fail.delay('boom \u2603'));
    const unknown = tracked(redis, app.sendTask('tasks.nope', [1]));

    expect(await sum).toBe(5);
    expect(await echoed.get(WAIT)).toEqual([values, { key: 'v\u00e9', nested: { deep: [null] } }]);
    const error = await failed.get(WAIT).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect(error).toMatchObject({ name: 'InteropError', code: ErrorCode.TASK_FAILED, excModule: 'tasks', excMessage: ['boom \u2603'] });
    expect(failed.state).toBe('FAILURE');
    const notRegistered = await unknown.get(WAIT).catch((err: unknown) => err);
    expect(notRegistered).toMatchObject({ name: 'NotRegistered', code: ErrorCode.NOT_REGISTERED });
    expect(worker.logs().join('\n')).toContain('tasks.nope');
  });

  it('ignore_result stores nothing on success (failures still); retry_once goes RETRY then SUCCESS', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using worker = await startCeleryWorker({ queue, brokerUrl: redis.url, taskSerializer: serializer, resultSerializer: serializer });
    await using app = appFor(redis, queue, serializer);

    const ignored = tracked(redis, app.sendTask('tasks.add', [1, 1], {}, { ignoreResult: true }));
    const ignoredFailure = tracked(redis, app.sendTask('tasks.fail', ['still stored'], {}, { ignoreResult: true }));
    const retried = tracked(redis, app.sendTask<[string, number]>('tasks.retry_once', [], { value: 'ok', countdown: 2 }));
    await expect(ignored.get()).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG });
    // The solo worker runs in order: once a later task is done, the ignored one ran too.
    expect(await tracked(redis, app.sendTask('tasks.add', [2, 2])).get(WAIT)).toBe(4);
    expect(await redis.client.exists(celeryResultKey(ignored.id))).toBe(0);
    expect((await ignoredFailure.refresh()).status).toBe('FAILURE');

    await waitUntil(async () => (await retried.refresh()).status === 'RETRY', { timeoutMs: 10_000, message: 'no RETRY state stored' });
    expect(retried.state).toBe('RETRY');
    expect(await retried.get(WAIT)).toEqual(['ok', 1]);
    expect(worker.queue).toBe(queue);
  });

  it('link and link_error callbacks run on the worker', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using _worker = await startCeleryWorker({ queue, brokerUrl: redis.url, taskSerializer: serializer, resultSerializer: serializer });
    await using app = appFor(redis, queue, serializer);
    const echo = app.taskRef<unknown[], [unknown[], Record<string, unknown>]>('tasks.echo');
    const [linkId, errbackId] = [`link-${queue}`, `errback-${queue}`];
    redis.track(celeryResultKey(linkId), celeryResultKey(errbackId));

    const sum = tracked(redis, app.sendTask('tasks.add', [2, 3], {}, { link: echo.signature(['cb'], {}, { taskId: linkId }) }));
    // Celery 5.2 calls an errback whose function takes more than one argument (echo) in
    // the worker process, without sending it; tasks.types takes one, so it is sent, as an
    // immutable signature it ignores the failed task's id.
    const types = app.taskRef<[binary?: boolean], Record<string, unknown>>('tasks.types');
    const failed = tracked(redis, app.sendTask('tasks.fail', ['x'], {}, { linkError: types.signature([], { binary: serializer === 'msgpack' }, { taskId: errbackId, immutable: true }) }));
    expect(await sum.get(WAIT)).toBe(5);
    expect(await app.asyncResult(linkId).get(WAIT)).toEqual([[5, 'cb'], {}]);
    await expect(failed.get(WAIT)).rejects.toMatchObject({ name: 'InteropError' });
    expect(await app.asyncResult(errbackId).get(WAIT)).toMatchObject({ int: 42, none: null });
  });
});

describe('the README example', () => {
  it('runs as written against a Python worker that has tasks.add', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using _worker = await startCeleryWorker({ queue, brokerUrl: redis.url });
    const app = createApp({ broker_url: redis.url, result_backend: redis.url, task_default_queue: queue }, { env: {} });
    const add = app.task('tasks.add', (_ctx, x: number, y: number) => x + y);
    const result = tracked(redis, add.delay(2, 3));
    expect(result.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await result).toBe(5);
    await app.close();
    expect(app.closed).toBe(true);
  });
});

describe('TypeScript client → Python worker: timing and priorities', () => {
  it('countdown delays the run; expires in the past is REVOKED', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using _worker = await startCeleryWorker({ queue, brokerUrl: redis.url });
    await using app = appFor(redis, queue, 'json');
    const started = Date.now();
    const later = tracked(redis, app.sendTask<number>('tasks.add', [1, 2], {}, { countdown: 1.5 }));
    const expired = tracked(redis, app.sendTask('tasks.add', [1, 2], {}, { expires: new Date(Date.now() - 1_000) }));
    const revoked = await expired.get(WAIT).catch((err: unknown) => err);
    expect(revoked).toMatchObject({ name: 'TaskRevokedError', code: ErrorCode.TASK_REVOKED });
    expect(expired.state).toBe('REVOKED');
    expect(await later.get(WAIT)).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
  });

  it('priorities: lower buckets run first on Redis', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using app = appFor(redis, queue, 'json');
    const priorities = [9, 6, 3, 0];
    const results = priorities.map((priority) => tracked(redis, app.sendTask('tasks.echo', [priority], {}, { priority })));
    await Promise.all(results.map((r) => r.sent));
    await using _worker = await startCeleryWorker({ queue, brokerUrl: redis.url });
    await Promise.all(results.map((r) => r.get(WAIT)));
    const doneAt = results.map((r) => ({ priority: priorities[results.indexOf(r)], at: r.dateDone ?? '' }));
    const order = [...doneAt].sort((a, b) => a.at.localeCompare(b.at)).map((d) => d.priority);
    expect(order).toEqual([0, 3, 6, 9]);
  });
});

describe('the settings table against the installed Celery', () => {
  it("matches celery.app.defaults: every new name, _TO_NEW_KEY, and the defaults", async () => {
    const script = [
      'import json, datetime',
      'from celery.app.defaults import DEFAULTS, _TO_NEW_KEY',
      'def conv(v):',
      '    if isinstance(v, datetime.timedelta): return v.total_seconds()',
      '    if isinstance(v, tuple): return list(v)',
      '    if v == float("inf"): return "inf"',
      '    return v',
      'print(json.dumps({"defaults": {k: conv(v) for k, v in DEFAULTS.items()}, "old": _TO_NEW_KEY}))',
    ].join('\n');
    const { stdout } = await run(celeryPython(), ['-c', script]);
    const celery = JSON.parse(stdout) as { defaults: Record<string, unknown>; old: Record<string, string> };
    expect(OLD_SETTING_NAMES).toEqual(celery.old);
    const extras = Object.keys(SETTINGS).filter((k) => !(k in celery.defaults)).sort();
    expect(extras).toEqual(['broker_connection_retry_on_startup', 'task_default_retry_delay', 'task_max_retries', 'worker_hostname']);
    const ours = defaultConfig() as unknown as Record<string, unknown>;
    // Where Celeriac's default differs on purpose: concrete values for Celery's None.
    const differs = new Set(['worker_concurrency', 'timezone', 'result_backend_max_retries']);
    for (const [key, value] of Object.entries(celery.defaults)) {
      if (differs.has(key)) continue;
      expect({ key, value: ours[key] }).toEqual({ key, value });
    }
    expect(ours['result_backend_max_retries']).toBe(Number.POSITIVE_INFINITY);
  });
});

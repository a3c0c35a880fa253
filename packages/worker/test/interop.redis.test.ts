/**
 * A real Celery 5.2 client (Python) → the Celeriac worker (the built CLI running the interop
 * app, apps/interop), json and msgpack. RELIABILITY.md row 30, the "Python client → TS
 * worker" direction.
 */
import {
  assertCeleryAvailable,
  celeryEnv,
  celeryResultKey,
  createTestRedis,
  getResultsWithPython,
  publishWithPython,
  type CeleryPeerOptions,
  type CelerySerializer,
  type PythonTaskResult,
  type TestRedis,
} from '@celeriac/test-utils';
import { AcceptContent, decodeResultMeta, jsonSerializer, msgpackSerializer } from '@celeriac/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTEROP_APP, startCliWorker, type CliWorker } from './cli-worker.ts';

beforeAll(async () => {
  await assertCeleryAvailable();
});

/** When a stored meta says the task finished (ms), read with the serializer it was stored with. */
async function dateDone(redis: TestRedis, id: string, serializer: CelerySerializer = 'json'): Promise<number> {
  const raw = await redis.client.getBuffer(celeryResultKey(id));
  if (raw === null) return Number.NaN;
  const meta = decodeResultMeta(raw, { serializer: serializer === 'msgpack' ? msgpackSerializer : jsonSerializer, accept: new AcceptContent(['json', 'msgpack']) });
  return Date.parse(`${meta.date_done ?? ''}Z`);
}

describe.each(['json', 'msgpack'] as const)('Python client → Celeriac worker (%s)', (serializer: CelerySerializer) => {
  let redis: TestRedis;
  let worker: CliWorker;
  let peer: CeleryPeerOptions;

  beforeAll(async () => {
    redis = await createTestRedis();
    const queue = redis.queue();
    peer = { queue, taskSerializer: serializer, resultSerializer: serializer };
    worker = await startCliWorker({ app: INTEROP_APP, args: ['-c', '1', '-n', `interop-${serializer}@%h`], env: celeryEnv(peer) });
  }, 60_000);

  afterAll(async () => {
    await worker?.stop();
    await redis?.close();
  });

  async function call(calls: Parameters<typeof publishWithPython>[0], timeout = 10): Promise<PythonTaskResult[]> {
    const ids = await publishWithPython(calls, peer);
    redis.track(...ids.map(celeryResultKey));
    return getResultsWithPython(ids, timeout, peer);
  }

  it('tasks.add with args and with kwargs', async () => {
    const results = await call([
      { task: 'tasks.add', args: [2, 3] },
      { task: 'tasks.add', kwargs: { x: 40, y: 2 } },
      { task: 'tasks.add', args: [0.5], kwargs: { y: 0.25 } },
    ]);
    expect(results.map((r) => [r.status, r.result])).toEqual([
      ['SUCCESS', 5],
      ['SUCCESS', 42],
      ['SUCCESS', 0.75],
    ]);
  });

  it('tasks.echo returns every value type unchanged', async () => {
    const args: unknown[] = [
      'h\u00e9llo \u2603 \u{1d11e}',
      { list: [1, [2, [3, null]]], dict: { a: { b: [] } }, '': 'empty key' },
      null,
      42,
      -7,
      -1.5,
      1e300,
      true,
      false,
      2n ** 63n - 1n,
      serializer === 'json' ? 2n ** 70n : new Uint8Array([0, 1, 0xfe, 0xff]),
    ];
    const kwargs = { unicode: '\u00fc\u00f1\u00ee', none: null, nested: { deep: [{ x: 1 }] } };
    const [result] = await call([{ task: 'tasks.echo', args, kwargs }]);
    expect(result?.status).toBe('SUCCESS');
    expect(result?.result).toEqual([args, kwargs]);
  });

  it('tasks.fail: Python sees InteropError with the message', async () => {
    const [result] = await call([{ task: 'tasks.fail', kwargs: { msg: 'bad news \u2603' } }, { task: 'tasks.fail' }]).then((r) => [r[0], r[1]]);
    expect(result).toMatchObject({
      status: 'FAILURE',
      result: { exc_type: 'InteropError', exc_message: ['bad news \u2603'], exc_module: 'tasks' },
    });
    expect(result?.traceback).toMatch(/^Traceback \(most recent call last\):/);
    expect(result?.traceback).toMatch(/tasks\.InteropError: bad news \u2603\n$/);
  });

  it('countdown: the task runs no sooner than its ETA', async () => {
    const before = Date.now();
    const ids = await publishWithPython([{ task: 'tasks.add', args: [1, 1], options: { countdown: 1.5 } }], peer);
    redis.track(...ids.map(celeryResultKey));
    const [result] = await getResultsWithPython(ids, 10, peer);
    expect(result).toMatchObject({ status: 'SUCCESS', result: 2 });
    const done = await dateDone(redis, ids[0] as string, serializer);
    expect(done - before).toBeGreaterThanOrEqual(1_400);
  });

  it('expires: an expired message is REVOKED, a countdown past its expiry too', async () => {
    const results = await call([
      { task: 'tasks.add', args: [1, 2], options: { expires: new Date(Date.now() - 60_000).toISOString() } },
      { task: 'tasks.add', args: [1, 2], options: { countdown: 1, expires: 0.5 } },
    ]);
    for (const result of results) {
      expect(result).toMatchObject({ status: 'REVOKED', result: { exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' } });
    }
  });

  it("tasks.retry_once: retried once, then ['ok', 1]", async () => {
    const results = await call([{ task: 'tasks.retry_once' }, { task: 'tasks.retry_once', kwargs: { value: 'v', countdown: 0.2 } }], 15);
    expect(results.map((r) => [r.status, r.result])).toEqual([
      ['SUCCESS', ['ok', 1]],
      ['SUCCESS', ['v', 1]],
    ]);
  });

  it('ignore_result: no result is stored for the call', async () => {
    const ids = await publishWithPython(
      [
        { task: 'tasks.add', args: [5, 5], options: { ignore_result: true } },
        { task: 'tasks.add', args: [6, 6] },
      ],
      peer,
    );
    redis.track(...ids.map(celeryResultKey));
    // -c 1 runs them in order: once the second is stored, the first has run.
    const [second] = await getResultsWithPython([ids[1] as string], 10, peer);
    expect(second).toMatchObject({ status: 'SUCCESS', result: 12 });
    expect(await redis.client.exists(celeryResultKey(ids[0] as string))).toBe(0);
    await worker.waitForLog(new RegExp(`"msg":"task succeeded","id":"${ids[0]}"`), 2_000);
  });

  it('an unknown task is FAILURE NotRegistered and the worker goes on', async () => {
    const results = await call([{ task: 'tasks.nope' }, { task: 'tasks.add', args: [1, 1] }]);
    expect(results[0]).toMatchObject({
      status: 'FAILURE',
      result: { exc_type: 'NotRegistered', exc_message: ['tasks.nope'], exc_module: 'celery.exceptions' },
    });
    expect(results[1]).toMatchObject({ status: 'SUCCESS', result: 2 });
  });
});

describe('Python client → Celeriac worker: priorities', () => {
  it('runs queued messages lowest priority number first, as kombu on Redis', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    const peer: CeleryPeerOptions = { queue };
    const priorities = [9, 6, 3, 0];
    const ids = await publishWithPython(
      priorities.map((p) => ({ task: 'tasks.sleep', kwargs: { seconds: 0.02, value: p }, options: { priority: p } })),
      peer,
    );
    redis.track(...ids.map(celeryResultKey));
    await using _worker = await startCliWorker({ app: INTEROP_APP, args: ['-c', '1'], env: celeryEnv(peer) });
    const results = await getResultsWithPython(ids, 10, peer);
    expect(results.map((r) => r.result)).toEqual(priorities);
    const done = await Promise.all(ids.map((id) => dateDone(redis, id)));
    const order = priorities.map((p, i) => ({ p, t: done[i] ?? 0 })).sort((a, b) => a.t - b.t).map((e) => e.p);
    expect(order).toEqual([0, 3, 6, 9]);
  }, 30_000);
});

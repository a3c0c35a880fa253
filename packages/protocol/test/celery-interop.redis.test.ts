/**
 * Real Celery in the loop (Debian's Celery 5.2.6 under /usr/bin/python3): task messages we
 * encode, pushed to a Redis list, are executed by a real `celery worker`, and the results it
 * stores decode with our result decoder; messages Python's `apply_async` makes decode with
 * ours. The protocol package does no I/O, so the test moves the bytes itself.
 */
import {
  assertCeleryAvailable,
  celeryResultKey,
  createTestRedis,
  publishWithPython,
  startCeleryWorker,
  type CeleryWorker,
  type TestRedis,
} from '@celeriac/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AcceptContent,
  createSerializerRegistry,
  decodeResultMeta,
  decodeTaskMessage,
  encodeTaskMessage,
  errorFromMeta,
  RemoteTaskError,
  type ResultMeta,
  type Serializer,
  type TaskMessageInput,
} from '../src/index.ts';

const registry = createSerializerRegistry();
const json = registry.get('json');
const msgpack = registry.get('msgpack');
const acceptBoth = new AcceptContent(['json', 'msgpack'], registry);

/** Pushes our message and polls the result key until a ready state (the backend is not ours yet). */
async function run(redis: TestRedis, input: TaskMessageInput, serializer: Serializer, resultSerializer: Serializer): Promise<ResultMeta> {
  const message = encodeTaskMessage(input, { serializer });
  const key = celeryResultKey(message.taskId);
  redis.track(key);
  await redis.client.lpush(message.queue, message.raw);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const stored = await redis.client.getBuffer(key);
    if (stored !== null) {
      const meta = decodeResultMeta(stored, { serializer: resultSerializer, accept: acceptBoth, taskId: message.taskId });
      if (['SUCCESS', 'FAILURE', 'REVOKED'].includes(meta.status)) return meta;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no result for ${input.task} ${message.taskId} within 15 s`);
}

describe('our task messages run on a real Celery 5.2.6 worker', () => {
  let redis: TestRedis;
  let jsonWorker: CeleryWorker;
  let msgpackWorker: CeleryWorker;
  let jsonQueue: string;
  let msgpackQueue: string;

  beforeAll(async () => {
    await assertCeleryAvailable();
    redis = await createTestRedis();
    jsonQueue = redis.queue('json');
    msgpackQueue = redis.queue('msgpack');
    [jsonWorker, msgpackWorker] = await Promise.all([
      startCeleryWorker({ queue: jsonQueue, resultSerializer: 'json', acceptContent: ['json', 'msgpack'] }),
      startCeleryWorker({ queue: msgpackQueue, resultSerializer: 'msgpack', acceptContent: ['json', 'msgpack'] }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([jsonWorker?.stop(), msgpackWorker?.stop()]);
    await redis?.close();
  });

  it('json: add(2, 3) returns 5', async () => {
    const meta = await run(redis, { task: 'tasks.add', args: [2, 3], queue: jsonQueue }, json, json);
    expect(meta.status).toBe('SUCCESS');
    expect(meta.result).toBe(5);
    expect(meta.date_done).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('json: every value type crosses both ways (unicode, nested, null, big ints, floats, NaN)', async () => {
    const args = ['héllo ☃ 𝄞', [1, [2, [3, null]]], 2n ** 70n, -(2n ** 63n), -1.5, 1e300, null, true, Number.NaN];
    const kwargs = { 'kéy': 'v', deep: { a: [{ b: 1 }] }, __proto__x: 1 };
    const meta = await run(redis, { task: 'tasks.echo', args, kwargs, queue: jsonQueue }, json, json);
    expect(meta.status).toBe('SUCCESS');
    expect(meta.result).toEqual([args, kwargs]);
  });

  it('json: kwargs named __proto__ and constructor reach Python as plain keys and come back', async () => {
    const kwargs = JSON.parse('{"__proto__": {"x": 1}, "constructor": "c"}') as Record<string, unknown>;
    const meta = await run(redis, { task: 'tasks.echo', kwargs, queue: jsonQueue }, json, json);
    const [, back] = meta.result as [unknown, Record<string, unknown>];
    expect(Object.keys(back).sort()).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ x: 1 });
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });

  it('msgpack: bytes and int64 limits cross both ways, the result stored in msgpack', async () => {
    const args = [new Uint8Array([0, 1, 254, 255]), 2n ** 63n - 1n, -(2n ** 63n), 'é', 1.5, null, { bin: new Uint8Array([114, 97, 119]) }];
    const meta = await run(redis, { task: 'tasks.echo', args, queue: msgpackQueue }, msgpack, msgpack);
    expect(meta.status).toBe('SUCCESS');
    expect(meta.result).toEqual([args, {}]);
  });

  it('a failure is stored as Celery does and rebuilds by name', async () => {
    const meta = await run(redis, { task: 'tasks.fail', kwargs: { msg: 'boom ☃' }, queue: jsonQueue }, json, json);
    expect(meta.status).toBe('FAILURE');
    expect(meta.result).toEqual({ exc_type: 'InteropError', exc_message: ['boom ☃'], exc_module: 'tasks' });
    const err = errorFromMeta(meta);
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(err.name).toBe('InteropError');
    expect(err.traceback).toContain('InteropError');
  });

  it('a countdown is honoured (our six-digit ETA)', async () => {
    const started = Date.now();
    const meta = await run(redis, { task: 'tasks.add', args: [1, 1], countdown: 1, queue: jsonQueue }, json, json);
    expect(meta.result).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('an expired message is REVOKED by the worker', async () => {
    const meta = await run(redis, { task: 'tasks.add', args: [1, 1], expires: new Date(Date.now() - 60_000), queue: jsonQueue }, json, json);
    expect(meta.status).toBe('REVOKED');
    expect(errorFromMeta(meta).code).toBe('TASK_REVOKED');
  });

  it('a zlib-compressed body, custom headers, time limits and a shadow name are accepted', async () => {
    const meta = await run(
      redis,
      { task: 'tasks.add', args: [20, 22], compression: 'zlib', headers: { 'x-custom': 'v1' }, timeLimit: 30, softTimeLimit: 20, shadow: 'custom.shadow', queue: jsonQueue },
      json,
      json,
    );
    expect(meta.result).toBe(42);
  });
});

describe('messages Python apply_async makes decode with ours', () => {
  let redis: TestRedis;

  beforeAll(async () => {
    await assertCeleryAvailable();
    redis = await createTestRedis();
  });

  afterAll(async () => {
    await redis?.close();
  });

  it('json and msgpack calls with options decode to the same call', async () => {
    const queue = redis.queue('py');
    const ids = await publishWithPython(
      [
        { task: 'tasks.add', args: [2, 3], options: { queue } },
        { task: 'tasks.echo', args: ['héllo 𝄞', 2n ** 70n, { n: [1, null] }], kwargs: { k: true }, options: { queue, countdown: 10, expires: 60, headers: { 'x-custom': 'v1' } } },
        { task: 'tasks.echo', args: [new Uint8Array([0, 255]), 2n ** 63n - 1n], options: { queue, serializer: 'msgpack', priority: 0 } },
        { task: 'tasks.add', args: [1, 2], options: { queue, time_limit: 30, soft_time_limit: 20, shadow: 'sh' } },
      ],
      { acceptContent: ['json', 'msgpack'] },
    );
    const raws = await redis.client.lrangeBuffer(queue, 0, -1);
    expect(raws).toHaveLength(4);
    // LPUSH: the first message sent is the last element.
    const byId = new Map(raws.map((raw) => {
      const m = decodeTaskMessage(raw, { accept: acceptBoth });
      return [m.headers.id, m] as const;
    }));
    const [addId, echoId, packId, limitsId] = ids as [string, string, string, string];

    const add = byId.get(addId);
    expect(add?.headers).toMatchObject({ task: 'tasks.add', lang: 'py', root_id: addId, retries: 0, argsrepr: '[2, 3]' }); // send_task keeps the list
    expect(add?.args).toEqual([2, 3]);
    expect(add?.properties.delivery_info).toEqual({ exchange: '', routing_key: queue });

    const echo = byId.get(echoId);
    expect(echo?.args).toEqual(['héllo 𝄞', 2n ** 70n, { n: [1, null] }]);
    expect(echo?.kwargs).toEqual({ k: true });
    expect(echo?.headers['x-custom']).toBe('v1');
    const now = Date.now();
    expect(echo?.eta?.getTime()).toBeGreaterThan(now + 5_000);
    expect(echo?.expires?.getTime()).toBeGreaterThan(echo?.eta?.getTime() ?? Infinity);
    expect(echo?.properties.expiration).toMatch(/^\d+$/);

    const pack = byId.get(packId);
    expect(pack?.contentType).toBe('application/x-msgpack');
    expect(pack?.args).toEqual([new Uint8Array([0, 255]), 2n ** 63n - 1n]);

    const limits = byId.get(limitsId);
    expect(limits?.headers.timelimit).toEqual([30, 20]);
    expect(limits?.headers.shadow).toBe('sh');
  });
});

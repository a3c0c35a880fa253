/**
 * The worker in-process on the real Redis broker and backend: refused and malformed
 * messages (RELIABILITY.md rows 17, 18, 19), the dead-letter list, and held ETA messages
 * restored at shutdown.
 */
import { Buffer } from 'node:buffer';
import { createApp, type App } from '@celeriac/client';
import { encodeTaskMessage, type WireValue } from '@celeriac/protocol';
import { celeryResultKey, createTestRedis, waitUntil, type TestRedis } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_QUEUE, type DeadLetterEntry } from '../src/dead-letter.ts';
import { createWorker, type Worker } from '../src/worker.ts';

interface Setup extends AsyncDisposable {
  readonly app: App;
  readonly worker: Worker;
  readonly redis: TestRedis;
  readonly queue: string;
  readonly ran: WireValue[];
  /** LPUSHes a raw element to the queue, as any producer could. */
  push(raw: string | Buffer): Promise<void>;
  deadLetters(): Promise<DeadLetterEntry[]>;
}

async function setup(redis: TestRedis): Promise<Setup> {
  const ran: WireValue[] = [];
  const queue = 'q';
  const app = createApp({
    broker_url: redis.url,
    result_backend: redis.url,
    task_default_queue: queue,
    broker_transport_options: { global_keyprefix: redis.prefix },
  });
  app.task('t.record', { params: ['value'] }, (_ctx, value: WireValue) => {
    ran.push(value);
    return value;
  });
  const worker = createWorker(app, { hostname: 'redis-test@%h', concurrency: 2 });
  await worker.start();
  return {
    app,
    worker,
    redis,
    queue,
    ran,
    push: async (raw) => {
      await redis.client.lpush(`${redis.prefix}${queue}`, raw);
    },
    deadLetters: async () =>
      (await redis.client.lrange(`${redis.prefix}${DEAD_LETTER_QUEUE}`, 0, -1)).map((e) => JSON.parse(e) as DeadLetterEntry),
    [Symbol.asyncDispose]: async () => {
      await worker.stop();
      await app.close();
    },
  };
}

describe('worker on Redis: refused and malformed messages', () => {
  it('a pickle message is not decoded: FAILURE ContentDisallowed, dead letter, get() rejects; the worker goes on', async () => {
    await using redis = await createTestRedis();
    await using s = await setup(redis);
    const good = encodeTaskMessage({ task: 't.record', args: ['after'], queue: s.queue });
    const pickle = {
      ...good.envelope,
      headers: { ...good.envelope.headers, id: 'pickle-task-id' },
      'content-type': 'application/x-python-serialize',
      'content-encoding': 'binary',
      // pickle of os.system('true'): must never be decoded.
      body: Buffer.from('gASVHgAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAR0cnVllIWUUpQu', 'utf8').toString('base64'),
    };
    redis.track(celeryResultKey('pickle-task-id'), celeryResultKey(good.taskId));
    await s.push(JSON.stringify(pickle));
    const error = await s.app.backend?.asyncResult('pickle-task-id').get({ timeout: 5_000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ContentDisallowed', excModule: 'kombu.exceptions' });
    await waitUntil(async () => (await s.deadLetters()).length === 1, { message: 'no dead letter' });
    const [entry] = await s.deadLetters();
    expect(entry).toMatchObject({ code: 'CONTENT_DISALLOWED', queue: s.queue, taskId: 'pickle-task-id', rawEncoding: 'text' });
    expect(JSON.parse(entry?.raw ?? '{}')).toEqual(pickle);
    await s.push(good.raw);
    expect(await s.app.backend?.asyncResult(good.taskId).get({ timeout: 5_000 })).toBe('after');
    expect(s.ran).toEqual(['after']);
    expect(await redis.client.hlen(`${redis.prefix}unacked`)).toBe(0);
  });

  it('malformed JSON, truncated msgpack, bad base64, a 2-element body, non-JSON: all dead-lettered, none silently dropped', async () => {
    await using redis = await createTestRedis();
    await using s = await setup(redis);
    const base = encodeTaskMessage({ task: 't.record', args: ['x'], queue: s.queue }).envelope;
    const variants: [string, Record<string, unknown> | string][] = [
      ['bad-json', { ...base, headers: { ...base.headers, id: 'bad-json' }, body: Buffer.from('[["x"], {}, {').toString('base64') }],
      ['bad-base64', { ...base, headers: { ...base.headers, id: 'bad-base64' }, body: '!!!not base64!!!' }],
      ['two-elements', { ...base, headers: { ...base.headers, id: 'two-elements' }, body: Buffer.from('[["x"], {}]').toString('base64') }],
      ['no-tag', { ...base, headers: { ...base.headers, id: 'no-tag' }, properties: { ...base.properties, delivery_tag: undefined } }],
      ['not-json', '\u0000\u0001 this is not an envelope'],
    ];
    for (const [id] of variants) redis.track(celeryResultKey(id));
    for (const [, raw] of variants) await s.push(typeof raw === 'string' ? raw : JSON.stringify(raw));
    await waitUntil(async () => (await s.deadLetters()).length === variants.length, { message: 'not every message was dead-lettered', timeoutMs: 5_000 });
    const entries = await s.deadLetters();
    const byId = new Map(entries.map((e) => [e.taskId, e]));
    expect(byId.get('bad-json')?.code).toBe('DECODE_FAILED');
    expect(byId.get('bad-base64')?.code).toBe('DECODE_FAILED');
    expect(byId.get('two-elements')?.code).toBe('INVALID_MESSAGE');
    expect(byId.get('no-tag')?.code).toBe('INVALID_MESSAGE');
    expect(byId.get(null)?.code).toBe('DECODE_FAILED');
    for (const id of ['bad-json', 'bad-base64', 'two-elements', 'no-tag']) {
      const error = await s.app.backend?.asyncResult(id).get({ timeout: 5_000 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ state: 'FAILURE' });
    }
    // The worker is still up: the next good message runs; nothing is left unacked.
    const good = encodeTaskMessage({ task: 't.record', args: ['still up'], queue: s.queue });
    redis.track(celeryResultKey(good.taskId));
    await s.push(good.raw);
    expect(await s.app.backend?.asyncResult(good.taskId).get({ timeout: 5_000 })).toBe('still up');
    await waitUntil(async () => (await redis.client.hlen(`${redis.prefix}unacked`)) === 0, { message: 'unacked records left' });
  });

  it('an unknown task: FAILURE NotRegistered, the message is gone', async () => {
    await using redis = await createTestRedis();
    await using s = await setup(redis);
    const unknown = encodeTaskMessage({ task: 'nope.nothing', queue: s.queue });
    redis.track(celeryResultKey(unknown.taskId));
    await s.push(unknown.raw);
    const error = await s.app.backend?.asyncResult(unknown.taskId).get({ timeout: 5_000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'NotRegistered', code: 'NOT_REGISTERED', excMessage: ['nope.nothing'] });
    await waitUntil(async () => (await redis.client.hlen(`${redis.prefix}unacked`)) === 0, { message: 'unacked record left' });
    expect(await redis.client.llen(`${redis.prefix}${s.queue}`)).toBe(0);
  });

  it('held ETA messages go back to the front of the queue at a warm shutdown, redelivered, same tag', async () => {
    await using redis = await createTestRedis();
    const s = await setup(redis);
    const held = encodeTaskMessage({ task: 't.record', args: ['later'], queue: s.queue, countdown: 60 });
    await s.push(held.raw);
    await waitUntil(() => s.worker.scheduled().length === 1, { message: 'not held' });
    expect(await redis.client.hlen(`${redis.prefix}unacked`)).toBe(1);
    await s[Symbol.asyncDispose]();
    const [raw] = await redis.client.lrange(`${redis.prefix}${s.queue}`, 0, -1);
    const restored = JSON.parse(raw ?? '{}') as { headers: Record<string, unknown>; properties: { delivery_tag: string } };
    expect(restored.headers['id']).toBe(held.taskId);
    expect(restored.headers['redelivered']).toBe(true);
    expect(restored.properties.delivery_tag).toBe(held.deliveryTag);
    expect(await redis.client.hlen(`${redis.prefix}unacked`)).toBe(0);
    expect(s.ran).toEqual([]);
  });
});

import { Buffer } from 'node:buffer';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  decodeTaskMessage,
  encodeTaskMessage,
  msgpackSerializer,
  parseEnvelope,
  TaskRejectError,
  type ResultMeta,
} from '@celeriac/protocol';
import { waitUntil } from '@celeriac/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeApp, task, type FakeApp } from '../test/fakes.ts';
import { DEAD_LETTER_QUEUE, type DeadLetterEntry } from './dead-letter.ts';
import { createJsonLogger } from './json-logger.ts';
import { createWorker, type Worker, type WorkerOptions } from './worker.ts';
import type { WorkerEvents } from './worker-events.ts';

const workers: Worker[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ cold: true })));
});

async function start(app: FakeApp, options: WorkerOptions = {}): Promise<Worker> {
  const worker = createWorker(app, { hostname: 'w1@test', ...(process.env['WORKER_TEST_LOG'] ? { logger: createJsonLogger({ level: 'debug' }) } : {}), ...options });
  workers.push(worker);
  await worker.start();
  return worker;
}

function statusOf(app: FakeApp, id: string): string | undefined {
  return app.backend.last(id)?.status;
}

async function settled(app: FakeApp, id: string, status = 'SUCCESS'): Promise<ResultMeta> {
  await waitUntil(() => statusOf(app, id) === status, { timeoutMs: 3_000, message: `task ${id} never reached ${status}` });
  return app.backend.last(id) as ResultMeta;
}

function collect<K extends keyof WorkerEvents>(worker: Worker, event: K): WorkerEvents[K][0][] {
  const out: WorkerEvents[K][0][] = [];
  worker.on(event, ((e: WorkerEvents[K][0]) => out.push(e)) as never);
  return out;
}

describe('Worker: running and storing', () => {
  it('runs a task, stores SUCCESS and acks early (before the task runs)', async () => {
    const app = fakeApp([
      task('tasks.add', (_ctx, x, y) => {
        app.broker.log.push({ what: 'run', at: Date.now() });
        return (x as number) + (y as number);
      }),
    ]);
    const worker = await start(app);
    const succeeded = collect(worker, 'task-succeeded');
    const received = collect(worker, 'task-received');
    const { id, delivery } = app.broker.deliver({ task: 'tasks.add', args: [2, 3] });
    const meta = await settled(app, id);
    expect(meta.result).toBe(5);
    expect(meta.parent_id).toBeUndefined();
    expect(delivery.outcome).toBe('ack');
    const order = app.broker.log.filter((e) => e.what === 'ack' || e.what === 'run' || e.what.startsWith('store')).map((e) => e.what);
    expect(order).toEqual(['ack', 'run', 'store:SUCCESS']);
    expect(received[0]).toMatchObject({ uuid: id, name: 'tasks.add', args: '(2, 3)', kwargs: '{}', retries: 0, hostname: 'w1@test' });
    expect(succeeded[0]).toMatchObject({ uuid: id, result: '5', type: 'task-succeeded' });
    expect(worker.stats().total).toEqual({ 'tasks.add': 1 });
  });

  it('acks late (after the result is stored) with acksLate or task_acks_late', async () => {
    const app = fakeApp(
      [
        task('t.late', () => {
          app.broker.log.push({ what: 'run', at: Date.now() });
          return 'ok';
        }, { acksLate: true }),
        task('t.conf', () => 'ok'),
        task('t.fails', () => {
          throw new Error('no');
        }),
      ],
      { task_acks_late: true },
    );
    await start(app);
    const late = app.broker.deliver({ task: 't.late' });
    await settled(app, late.id);
    await waitUntil(() => late.delivery.outcome === 'ack');
    const order = app.broker.log.filter((e) => e.id === late.id || e.what === 'run').map((e) => e.what);
    expect(order).toEqual(['run', 'store:SUCCESS', 'ack']);
    const failing = app.broker.deliver({ task: 't.fails' });
    await settled(app, failing.id, 'FAILURE');
    await waitUntil(() => failing.delivery.outcome === 'ack');
    expect(app.broker.log.filter((e) => e.id === failing.id).map((e) => e.what)).toEqual(['store:FAILURE', 'ack']);
  });

  it('binds kwargs to params, passes **kwargs, and fails unexpected kwargs with TypeError', async () => {
    const app = fakeApp([
      task('t.sleep', (_ctx, seconds, value) => [seconds ?? 1, value ?? null], {}, { params: ['seconds', 'value'] }),
      task('t.echo', (_ctx, ...all) => {
        const kwargs = all.pop() as Record<string, unknown>;
        return [all, { ...kwargs }];
      }, {}, { acceptsKwargs: true }),
    ]);
    await start(app);
    const a = app.broker.deliver({ task: 't.sleep', kwargs: { value: 'v' } });
    expect((await settled(app, a.id)).result).toEqual([1, 'v']);
    const b = app.broker.deliver({ task: 't.echo', args: [1, 'x'], kwargs: { k: null } });
    expect((await settled(app, b.id)).result).toEqual([[1, 'x'], { k: null }]);
    const c = app.broker.deliver({ task: 't.sleep', kwargs: { nope: 1 } });
    const failed = await settled(app, c.id, 'FAILURE');
    expect(failed.result).toEqual({ exc_type: 'TypeError', exc_message: ["t.sleep() got an unexpected keyword argument 'nope'"], exc_module: 'builtins' });
    const d = app.broker.deliver({ task: 't.sleep', args: [2], kwargs: { seconds: 3 } });
    expect((await settled(app, d.id, 'FAILURE')).result).toMatchObject({ exc_type: 'TypeError' });
  });

  it('stores FAILURE with a Python-style traceback, even with ignore_result', async () => {
    class InteropError extends Error {
      override name = 'InteropError';
    }
    const app = fakeApp([
      task('t.fail', () => {
        throw new InteropError('boom \u2603');
      }, { ignoreResult: true }),
    ]);
    const worker = await start(app);
    const failedEvents = collect(worker, 'task-failed');
    const { id } = app.broker.deliver({ task: 't.fail' });
    const meta = await settled(app, id, 'FAILURE');
    expect(meta.result).toEqual({ exc_type: 'InteropError', exc_message: ['boom \u2603'], exc_module: 'celeriac' });
    expect(meta.traceback).toMatch(/^Traceback \(most recent call last\):\n {2}File ".+", line \d+, in .+\n/);
    expect(meta.traceback).toMatch(/celeriac\.InteropError: boom \u2603\n$/);
    expect(failedEvents[0]).toMatchObject({ uuid: id, exception: "InteropError('boom \u2603')" });
  });

  it('does not store SUCCESS with ignoreResult, task_ignore_result or the ignore_result header', async () => {
    const app = fakeApp([task('t.opt', () => 1, { ignoreResult: true }), task('t.plain', () => 2)]);
    await start(app);
    const a = app.broker.deliver({ task: 't.opt' });
    const b = app.broker.deliver({ task: 't.plain', ignoreResult: true });
    const c = app.broker.deliver({ task: 't.plain' });
    await settled(app, c.id);
    await waitUntil(() => a.delivery.outcome === 'ack' && b.delivery.outcome === 'ack');
    expect(app.backend.of(a.id)).toEqual([]);
    expect(app.backend.of(b.id)).toEqual([]);
  });

  it('stores FAILURE EncodeError when the return value does not encode', async () => {
    const app = fakeApp([task('t.fn', () => () => 1)]);
    await start(app);
    const { id } = app.broker.deliver({ task: 't.fn' });
    const meta = await settled(app, id, 'FAILURE');
    expect(meta.result).toMatchObject({ exc_type: 'EncodeError', exc_module: 'kombu.exceptions' });
  });

  it('stores STARTED {pid, hostname} with task_track_started, and the result_extended fields', async () => {
    const app = fakeApp([task('t.slow', async () => {
      await sleep(50);
      return 'done';
    }, {}, { params: ['x', 'a'] })], { task_track_started: true, result_extended: true });
    await start(app);
    const { id } = app.broker.deliver({ task: 't.slow', args: [1], kwargs: { a: 2 } });
    const meta = await settled(app, id);
    const started = app.backend.of(id)[0];
    expect(started).toMatchObject({ status: 'STARTED', result: { pid: process.pid, hostname: 'w1@test' }, date_done: null });
    expect(meta).toMatchObject({ name: 't.slow', args: [1], kwargs: { a: 2 }, worker: 'w1@test', retries: 0, queue: 'celery' });
    expect(Object.keys(meta).at(-1)).toBe('task_id');
  });

  it('a task rejecting its message with requeue is requeued, nothing stored', async () => {
    const app = fakeApp([task('t.rej', () => {
      throw new TaskRejectError('not now', { requeue: true });
    }, { acksLate: true })]);
    const worker = await start(app);
    const rejected = collect(worker, 'task-rejected');
    const { id, delivery } = app.broker.deliver({ task: 't.rej' });
    await waitUntil(() => delivery.outcome !== undefined);
    expect(delivery.outcome).toBe('requeue');
    expect(app.backend.of(id)).toEqual([]);
    expect(rejected[0]).toMatchObject({ uuid: id, requeue: true });
  });
});

describe('Worker: refused and unknown messages', () => {
  it('stores FAILURE NotRegistered and rejects an unknown task; the worker goes on', async () => {
    const app = fakeApp([task('t.ok', () => 'fine')]);
    await start(app);
    const unknown = app.broker.deliver({ task: 'nope.missing' });
    const meta = await settled(app, unknown.id, 'FAILURE');
    expect(meta.result).toEqual({ exc_type: 'NotRegistered', exc_message: ['nope.missing'], exc_module: 'celery.exceptions' });
    expect(unknown.delivery.outcome).toBe('reject');
    const next = app.broker.deliver({ task: 't.ok' });
    await settled(app, next.id);
  });

  it('refuses content outside accept_content: FAILURE ContentDisallowed, dead letter, ack, goes on', async () => {
    const ran: unknown[] = [];
    const app = fakeApp([task('t.ok', (_ctx, x) => ran.push(x))]);
    await start(app);
    const { id, delivery } = app.broker.deliver({ task: 't.ok', args: ['msgpack'] }, msgpackSerializer);
    const meta = await settled(app, id, 'FAILURE');
    expect(meta.result).toMatchObject({ exc_type: 'ContentDisallowed', exc_module: 'kombu.exceptions' });
    await waitUntil(() => delivery.outcome === 'ack');
    const dead = app.broker.published.filter((m) => m.queue === DEAD_LETTER_QUEUE);
    expect(dead).toHaveLength(1);
    const entry = JSON.parse(String(dead[0]?.raw)) as DeadLetterEntry;
    expect(entry).toMatchObject({ code: 'CONTENT_DISALLOWED', queue: 'celery', taskId: id, rawEncoding: 'text' });
    expect(entry.reason).toContain('application/x-msgpack');
    expect(parseEnvelope(entry.raw).headers['id']).toBe(id);
    expect(Number.isNaN(Date.parse(entry.receivedAt))).toBe(false);
    expect(ran).toEqual([]);
    const next = app.broker.deliver({ task: 't.ok', args: ['json'] });
    await settled(app, next.id);
    expect(ran).toEqual(['json']);
  });

  it('dead-letters undecodable bodies (FAILURE DecodeError where the id is known) and non-JSON elements', async () => {
    const app = fakeApp([task('t.ok', () => 1)]);
    await start(app);
    const good = encodeTaskMessage({ task: 't.ok' });
    const envelope = { ...good.envelope, body: Buffer.from('[[1, 2], {}, {').toString('base64') };
    const bad = app.broker.deliverRaw(JSON.stringify(envelope), 'celery', good.taskId);
    const meta = await settled(app, good.taskId, 'FAILURE');
    expect(meta.result).toMatchObject({ exc_type: 'DecodeError', exc_module: 'kombu.exceptions' });
    await waitUntil(() => bad.outcome === 'ack');
    const garbage = app.broker.deliverRaw(new Uint8Array([0xff, 0x00, 0xfe]));
    await waitUntil(() => garbage.outcome === 'ack');
    const entries = app.broker.published
      .filter((m) => m.queue === DEAD_LETTER_QUEUE)
      .map((m) => JSON.parse(String(m.raw)) as DeadLetterEntry);
    expect(entries.map((e) => [e.code, e.taskId])).toEqual([
      ['DECODE_FAILED', good.taskId],
      ['DECODE_FAILED', null],
    ]);
    expect(entries[1]).toMatchObject({ rawEncoding: 'base64', raw: Buffer.from([0xff, 0x00, 0xfe]).toString('base64') });
  });

  it('refuses a body over the decode limits before decoding it: FAILURE, dead letter LIMIT_EXCEEDED', async () => {
    const app = fakeApp([task('t.ok', () => 1, {}, { acceptsKwargs: true })]);
    await start(app, { decodeLimits: { maxBytes: 1024, maxDepth: 8 } });
    const big = app.broker.deliver({ task: 't.ok', args: ['x'.repeat(4096)] });
    const deep = app.broker.deliver({ task: 't.ok', args: [[[[[[[[[[[1]]]]]]]]]]] });
    expect((await settled(app, big.id, 'FAILURE')).result).toMatchObject({ exc_type: 'DecodeError' });
    expect((await settled(app, deep.id, 'FAILURE')).result).toMatchObject({ exc_type: 'DecodeError' });
    await waitUntil(() => big.delivery.outcome === 'ack' && deep.delivery.outcome === 'ack');
    const codes = app.broker.published
      .filter((m) => m.queue === DEAD_LETTER_QUEUE)
      .map((m) => (JSON.parse(String(m.raw)) as DeadLetterEntry).code);
    expect(codes).toContain('LIMIT_EXCEEDED');
    expect(codes).toHaveLength(2);
  });
});

describe('Worker: retries', () => {
  it('publishes the retry as Celery does, stores RETRY and acks the original', async () => {
    const app = fakeApp([task('t.retry', (ctx) => {
      if (ctx.request.retries === 0) throw ctx.retry({ countdown: 5 });
      return 'second';
    }, {}, { acceptsKwargs: true })]);
    const worker = await start(app);
    const retried = collect(worker, 'task-retried');
    const before = Date.now();
    const { id, delivery } = app.broker.deliver({ task: 't.retry', args: [1, 'a'], kwargs: { k: 2 }, priority: 6, queue: 'celery' });
    const meta = await settled(app, id, 'RETRY');
    expect(meta.result).toEqual({ exc_type: 'Retry', exc_message: ['Retry in 5s'], exc_module: 'celery.exceptions' });
    expect(meta.children).toEqual([[[id, null], null]]);
    expect(meta.date_done).toBeNull();
    expect(delivery.outcome).toBe('ack');
    expect(retried[0]).toMatchObject({ uuid: id });
    const published = app.broker.published.filter((m) => m.queue === 'celery');
    expect(published).toHaveLength(1);
    const message = decodeTaskMessage(String(published[0]?.raw));
    expect(message.headers).toMatchObject({ task: 't.retry', id, retries: 1, parent_id: id, root_id: id });
    expect(message.args).toEqual([1, 'a']);
    expect(message.kwargs).toEqual({ k: 2 });
    expect(message.properties.priority).toBe(6);
    expect(published[0]?.priority).toBe(6);
    const eta = message.eta?.getTime() ?? 0;
    expect(eta).toBeGreaterThanOrEqual(before + 5_000);
    expect(eta).toBeLessThan(Date.now() + 5_000 + 50);
  });

  it('fails with the given exc, or MaxRetriesExceededError, when the retries ran out', async () => {
    const app = fakeApp([
      task('t.exc', (ctx) => {
        throw ctx.retry({ exc: new RangeError('too far'), countdown: 1 });
      }, { maxRetries: 2 }),
      task('t.max', (ctx) => {
        throw ctx.retry();
      }),
    ]);
    await start(app);
    const a = app.broker.deliver({ task: 't.exc', retries: 2 });
    expect((await settled(app, a.id, 'FAILURE')).result).toEqual({ exc_type: 'RangeError', exc_message: ['too far'], exc_module: 'celeriac' });
    const b = app.broker.deliver({ task: 't.max', retries: 3 });
    const meta = await settled(app, b.id, 'FAILURE');
    expect(meta.result).toMatchObject({ exc_type: 'MaxRetriesExceededError', exc_module: 'celery.exceptions' });
    expect(String((meta.result as { exc_message: string[] }).exc_message[0])).toMatch(/^Can't retry t\.max\[/);
  });

  it('autoretries listed errors with the backoff and stores the error in the RETRY meta', async () => {
    class Flaky extends Error {
      override name = 'Flaky';
    }
    const app = fakeApp([task('t.flaky', () => {
      throw new Flaky('again');
    }, { autoretryFor: ['Flaky'], retryBackoff: 2, retryJitter: false, maxRetries: 5 })]);
    await start(app, { random: () => 0.999 });
    const before = Date.now();
    const { id } = app.broker.deliver({ task: 't.flaky', retries: 2 });
    const meta = await settled(app, id, 'RETRY');
    expect(meta.result).toEqual({ exc_type: 'Flaky', exc_message: ['again'], exc_module: 'celeriac' });
    const message = decodeTaskMessage(String(app.broker.published[0]?.raw));
    expect(message.headers.retries).toBe(3);
    // 2 × 2^2 = 8 s, no jitter.
    expect((message.eta?.getTime() ?? 0) - before).toBeGreaterThanOrEqual(8_000);
    expect((message.eta?.getTime() ?? 0) - Date.now()).toBeLessThanOrEqual(8_000);
  });
});

describe('Worker: ETA, expires, revoke', () => {
  it('holds an ETA task without taking a slot, acks it when it runs', async () => {
    const order: string[] = [];
    const app = fakeApp([task('t.rec', (_ctx, name) => order.push(name as string))], { worker_concurrency: 1 });
    const worker = await start(app);
    const held = app.broker.deliver({ task: 't.rec', args: ['eta'], countdown: 0.3 });
    await waitUntil(() => worker.scheduled().length === 1);
    expect(worker.scheduled()[0]?.request.id).toBe(held.id);
    expect(held.delivery.outcome).toBeUndefined();
    const now = app.broker.deliver({ task: 't.rec', args: ['now'] });
    await settled(app, now.id);
    expect(order).toEqual(['now']);
    await settled(app, held.id);
    expect(order).toEqual(['now', 'eta']);
    expect(held.delivery.outcome).toBe('ack');
  });

  it('revokes an expired message on receipt, and one that expires while held at its ETA', async () => {
    const ran: string[] = [];
    const app = fakeApp([task('t.x', () => ran.push('x'))]);
    const worker = await start(app);
    const revoked = collect(worker, 'task-revoked');
    const past = app.broker.deliver({ task: 't.x', expires: new Date(Date.now() - 1_000) });
    const meta = await settled(app, past.id, 'REVOKED');
    expect(meta.result).toEqual({ exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' });
    expect(past.delivery.outcome).toBe('ack');
    expect(revoked[0]).toMatchObject({ uuid: past.id, expired: true, terminated: false });
    const later = app.broker.deliver({ task: 't.x', countdown: 0.3, expires: 0.1 });
    await sleep(150);
    expect(statusOf(app, later.id)).toBeUndefined();
    await settled(app, later.id, 'REVOKED');
    expect(ran).toEqual([]);
  });

  it('revokes held tasks at once and later messages with the id; terminate ends a running one', async () => {
    let signal: AbortSignal | undefined;
    const app = fakeApp([
      task('t.wait', (ctx) => {
        signal = ctx.signal;
        return new Promise(() => undefined);
      }),
      task('t.x', () => 'ran'),
    ]);
    const worker = await start(app);
    const held = app.broker.deliver({ task: 't.x', countdown: 10 });
    await waitUntil(() => worker.scheduled().length === 1);
    expect(worker.revoke(held.id)).toEqual([held.id]);
    expect((await settled(app, held.id, 'REVOKED')).result).toMatchObject({ exc_message: ['revoked'] });
    worker.revoke(['later-id']);
    app.broker.deliver({ task: 't.x', id: 'later-id' });
    await settled(app, 'later-id', 'REVOKED');
    const running = app.broker.deliver({ task: 't.wait' });
    await waitUntil(() => worker.active().length === 1);
    expect(worker.active()[0]).toMatchObject({ id: running.id, name: 't.wait', acknowledged: true, hostname: 'w1@test', worker_pid: process.pid });
    const revoked = collect(worker, 'task-revoked');
    worker.revoke(running.id, { terminate: true, signal: 'SIGKILL' });
    const meta = await settled(app, running.id, 'REVOKED');
    expect(meta.result).toMatchObject({ exc_type: 'TaskRevokedError', exc_message: ['terminated'] });
    expect(signal?.aborted).toBe(true);
    expect(revoked[0]).toMatchObject({ terminated: true, signum: 'SIGKILL' });
    expect(worker.active()).toEqual([]);
  });
});

describe('Worker: time limits', () => {
  it('soft limit aborts ctx.signal with SoftTimeLimitExceeded; throwing it fails the task', async () => {
    const app = fakeApp([task('t.soft', (ctx) => new Promise((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
    }), { softTimeLimit: 0.1 })]);
    await start(app);
    const { id } = app.broker.deliver({ task: 't.soft' });
    const meta = await settled(app, id, 'FAILURE');
    expect(meta.result).toEqual({ exc_type: 'SoftTimeLimitExceeded', exc_message: [], exc_module: 'billiard.exceptions' });
  });

  it('a task that hands ctx.signal on (timers/promises) fails SoftTimeLimitExceeded too', async () => {
    const app = fakeApp([task('t.sleep', async (ctx) => {
      await sleep(5_000, undefined, { signal: ctx.signal });
      return 'never';
    }, { softTimeLimit: 0.1 })]);
    await start(app);
    const { id } = app.broker.deliver({ task: 't.sleep' });
    const meta = await settled(app, id, 'FAILURE');
    expect(meta.result).toMatchObject({ exc_type: 'SoftTimeLimitExceeded' });
  });

  it('hard limit (header timelimit) abandons an async task: FAILURE TimeLimitExceeded([limit]), slot freed', async () => {
    const app = fakeApp([task('t.hang', () => new Promise(() => undefined)), task('t.ok', () => 'ok')], { worker_concurrency: 1 });
    await start(app);
    const { id, delivery } = app.broker.deliver({ task: 't.hang', timeLimit: 0.2 });
    const meta = await settled(app, id, 'FAILURE');
    expect(meta.result).toEqual({ exc_type: 'TimeLimitExceeded', exc_message: [0.2], exc_module: 'billiard.exceptions' });
    expect(meta.traceback).toBeNull();
    expect(delivery.outcome).toBe('ack');
    const next = app.broker.deliver({ task: 't.ok' });
    await settled(app, next.id);
  });
});

describe('Worker: shutdown', () => {
  it('warm: stops fetching, restores held and prefetched messages, finishes the running task', async () => {
    const app = fakeApp([task('t.slow', async () => {
      await sleep(200);
      return 'finished';
    })], { worker_concurrency: 1 });
    const worker = await start(app);
    const running = app.broker.deliver({ task: 't.slow' });
    await waitUntil(() => worker.active().length === 1);
    const queued = app.broker.deliver({ task: 't.slow' });
    const held = app.broker.deliver({ task: 't.slow', countdown: 60 });
    await waitUntil(() => worker.scheduled().length === 1 && worker.reserved().length === 1);
    const offline = collect(worker, 'worker-offline');
    await worker.stop();
    expect(app.broker.consumer?.closed).toBe(true);
    expect((await settled(app, running.id)).result).toBe('finished');
    expect(app.broker.restored.sort()).toEqual([queued.delivery.deliveryTag, held.delivery.deliveryTag].sort());
    expect(app.backend.of(queued.id)).toEqual([]);
    expect(app.backend.of(held.id)).toEqual([]);
    expect(offline).toHaveLength(1);
  });

  it('cold (a second stop): aborts running tasks and restores their unacked messages at once', async () => {
    let signal: AbortSignal | undefined;
    const app = fakeApp([task('t.forever', (ctx) => {
      signal = ctx.signal;
      return new Promise(() => undefined);
    }, { acksLate: true })]);
    const worker = await start(app, { shutdownTimeout: 20_000 });
    const running = app.broker.deliver({ task: 't.forever' });
    await waitUntil(() => worker.active().length === 1);
    const warm = worker.stop();
    await sleep(50);
    expect(signal?.aborted).toBe(false);
    const started = Date.now();
    await Promise.all([worker.stop({ cold: true }), warm]);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(signal?.aborted).toBe(true);
    expect(app.broker.restored).toEqual([running.delivery.deliveryTag]);
    expect(running.delivery.outcome).toBeUndefined();
    expect(app.backend.of(running.id)).toEqual([]);
  });

  it('turns cold by itself when the shutdown timeout passes', async () => {
    const app = fakeApp([task('t.forever', () => new Promise(() => undefined), { acksLate: true })]);
    const worker = await start(app, { shutdownTimeout: 100 });
    const running = app.broker.deliver({ task: 't.forever' });
    await waitUntil(() => worker.active().length === 1);
    await worker.stop();
    expect(app.broker.restored).toEqual([running.delivery.deliveryTag]);
  });

  it('a SIGTERM handler starts a warm shutdown, a second one a cold shutdown', async () => {
    const app = fakeApp([task('t.forever', () => new Promise(() => undefined), { acksLate: true })]);
    const worker = await start(app, { shutdownTimeout: 20_000 });
    const remove = worker.installSignalHandlers();
    try {
      app.broker.deliver({ task: 't.forever' });
      await waitUntil(() => worker.active().length === 1);
      const handlers = process.listeners('SIGTERM');
      const ours = handlers.at(-1) as (signal: NodeJS.Signals) => void;
      ours('SIGTERM');
      await sleep(30);
      expect(worker.running).toBe(false);
      ours('SIGTERM');
      await worker.done;
      expect(app.broker.restored).toHaveLength(1);
    } finally {
      remove();
    }
  });
});

describe('Worker: inspect views', () => {
  it('reports stats() with Celery keys', async () => {
    const app = fakeApp([task('t.ok', () => 1)], { worker_concurrency: 3, worker_prefetch_multiplier: 2 });
    const worker = await start(app, { queues: ['a', 'b'] });
    expect(app.broker.consumer?.options).toMatchObject({ queues: ['a', 'b'], prefetch: 6 });
    const stats = worker.stats();
    expect(stats).toMatchObject({ hostname: 'w1@test', pid: process.pid, prefetch_count: 6, queues: ['a', 'b'], total: {} });
    expect(stats.pool['max-concurrency']).toBe(3);
  });

  it('refuses to consume the dead-letter list', () => {
    const app = fakeApp([]);
    expect(() => createWorker(app, { queues: [DEAD_LETTER_QUEUE] })).toThrow(/dead letters/);
  });
});

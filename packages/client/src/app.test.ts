import {
  AcceptContent,
  CeleriacError,
  ConnectionClosedError,
  createSerializerRegistry,
  decodeTaskMessage,
  ErrorCode,
  type LogFields,
  type Logger,
  type TaskMessage,
} from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../test/memory-broker.ts';
import { createApp, type CreateAppOptions } from './app.ts';
import { chain, chord, group } from './canvas.ts';
import type { CeleryConfigInput } from './config.ts';

const registry = createSerializerRegistry();
const accept = new AcceptContent(['json', 'msgpack'], registry);

function testApp(config: CeleryConfigInput = {}, options: CreateAppOptions = {}) {
  const broker = new MemoryBroker();
  return { app: createApp(config, { broker, env: {}, ...options }), broker };
}

function decode(raw: string): TaskMessage {
  return decodeTaskMessage(raw, { accept, serializers: registry });
}

function last(broker: MemoryBroker): { queue: string; priority: number; message: TaskMessage } {
  const published = broker.published.at(-1);
  if (published === undefined) throw new Error('nothing published');
  return { queue: published.queue, priority: published.priority, message: decode(published.raw) };
}

function recordingLogger(): Logger & { lines: [string, string, LogFields | undefined][] } {
  const lines: [string, string, LogFields | undefined][] = [];
  const log = (level: string) => (message: string, fields?: LogFields) => void lines.push([level, message, fields]);
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

describe('sending', () => {
  it('publishes a canonical protocol 2 message and returns a handle at once', async () => {
    const { app, broker } = testApp();
    const add = app.task('tasks.add', (_ctx, x: number, y: number) => x + y);
    const result = add.delay(2, 3);
    expect(result.task).toBe('tasks.add');
    expect(result.ignored).toBe(false);
    await result.sent;
    const { queue, priority, message } = last(broker);
    expect(queue).toBe('celery');
    expect(priority).toBe(0);
    expect(message.headers).toMatchObject({
      lang: 'py',
      task: 'tasks.add',
      id: result.id,
      root_id: result.id,
      parent_id: null,
      eta: null,
      expires: null,
      timelimit: [null, null],
      argsrepr: '(2, 3)',
      ignore_result: false,
    });
    expect(message.args).toEqual([2, 3]);
    expect(message.embed).toEqual({ callbacks: null, errbacks: null, chain: null, chord: null });
    expect(message.properties).toMatchObject({ correlation_id: result.id, delivery_info: { exchange: '', routing_key: 'celery' } });
  });

  it('reflects every per-call option in the message', async () => {
    const { app, broker } = testApp();
    const echo = app.task('tasks.echo', (_ctx, ...args: unknown[]) => args);
    const eta = new Date(Date.now() + 60_000);
    const expires = new Date(Date.now() + 120_000);
    await echo.applyAsync(['a'], { k: 1 }, {
      eta,
      expires,
      priority: 7,
      queue: 'other',
      headers: { 'x-trace': 'abc' },
      serializer: 'msgpack',
      taskId: 'fixed-id-1',
      link: echo.s('cb'),
      linkError: [echo.si('eb')],
      timeLimit: 30,
      softTimeLimit: 20,
      shadow: 'shadowed',
      parentId: 'p-1',
      rootId: 'r-1',
      groupId: 'g-1',
      groupIndex: 2,
      retries: 1,
      compression: 'zlib',
    }).sent;
    const { queue, priority, message } = last(broker);
    expect(queue).toBe('other');
    expect(priority).toBe(7);
    expect(message.contentType).toBe('application/x-msgpack');
    expect(message.headers).toMatchObject({
      id: 'fixed-id-1',
      shadow: 'shadowed',
      timelimit: [30, 20],
      parent_id: 'p-1',
      root_id: 'r-1',
      group: 'g-1',
      group_index: 2,
      retries: 1,
      'x-trace': 'abc',
      compression: 'application/x-gzip',
    });
    expect(message.eta?.getTime()).toBe(eta.getTime());
    expect(message.expires?.getTime()).toBe(expires.getTime());
    expect(message.args).toEqual(['a']);
    expect(message.kwargs).toEqual({ k: 1 });
    expect(message.embed.callbacks).toEqual([{ task: 'tasks.echo', args: ['cb'], kwargs: {}, options: {}, subtask_type: null, immutable: false }]);
    expect(message.embed.errbacks).toEqual([{ task: 'tasks.echo', args: ['eb'], kwargs: {}, options: {}, subtask_type: null, immutable: true }]);
    expect(message.properties.priority).toBe(7);

    await echo.applyAsync([], {}, { countdown: 10, expires: 60 }).sent;
    const timed = last(broker).message;
    expect((timed.eta?.getTime() ?? 0) - Date.now()).toBeGreaterThan(9_000);
    expect(timed.properties.expiration).toMatch(/^(59|60)\d{3}$/);
  });

  it('takes defaults from the task options, then the configuration', async () => {
    const { app, broker } = testApp({ task_default_priority: 3, task_ignore_result: true, task_serializer: 'msgpack', task_compression: 'zlib' });
    const plain = app.task('tasks.plain', () => 1);
    await plain.delay().sent;
    let sent = last(broker);
    expect(sent.priority).toBe(3);
    expect(sent.message.headers.ignore_result).toBe(true);
    expect(sent.message.contentType).toBe('application/x-msgpack');
    expect(sent.message.headers['compression']).toBe('application/x-gzip');

    const tuned = app.task('tasks.tuned', { priority: 9, ignoreResult: false, serializer: 'json', expires: 30, timeLimit: 5, softTimeLimit: 4, queue: 'tq' }, () => 1);
    await tuned.delay().sent;
    sent = last(broker);
    expect(sent).toMatchObject({ queue: 'tq', priority: 9 });
    expect(sent.message.contentType).toBe('application/json');
    expect(sent.message.headers).toMatchObject({ ignore_result: false, timelimit: [5, 4] });
    expect(sent.message.expires).not.toBeNull();

    await tuned.applyAsync([], {}, { priority: 1, queue: 'cq', timeLimit: 50, compression: null }).sent;
    sent = last(broker);
    expect(sent).toMatchObject({ queue: 'cq', priority: 1 });
    expect(sent.message.headers.timelimit).toEqual([50, 4]);
    expect(sent.message.headers['compression']).toBeUndefined();

    // send_task does not apply the task-level defaults (Celery's send_task).
    await app.sendTask('tasks.remote').sent;
    sent = last(broker);
    expect(sent.priority).toBe(0);
    expect(sent.message.headers.ignore_result).toBe(false);
  });
});

describe('routing', () => {
  it('call option, then task option, then task_routes, then task_default_queue', async () => {
    const { app, broker } = testApp({
      task_default_queue: 'fallback',
      task_routes: [{ 'tasks.routed': { queue: 'by-name', priority: 6 }, 'tasks.*': 'by-glob' }, (name: string) => (name === 'fn.task' ? { queue: 'by-fn' } : null)],
    });
    const routed = app.task('tasks.routed', () => 1);
    const withQueue = app.task('tasks.withqueue', { queue: 'task-option' }, () => 1);
    await routed.delay().sent;
    expect(last(broker)).toMatchObject({ queue: 'by-name', priority: 6 });
    await app.sendTask('tasks.other').sent;
    expect(last(broker).queue).toBe('by-glob');
    await app.sendTask('fn.task').sent;
    expect(last(broker).queue).toBe('by-fn');
    await app.sendTask('unrouted').sent;
    expect(last(broker).queue).toBe('fallback');
    await withQueue.delay().sent;
    expect(last(broker).queue).toBe('task-option'); // Celery: the task's queue beats task_routes
    await withQueue.applyAsync([], {}, { queue: 'call' }).sent;
    expect(last(broker).queue).toBe('call');
    await routed.applyAsync([], {}, { routingKey: 'rk' }).sent;
    expect(last(broker)).toMatchObject({ queue: 'rk', priority: 6 });
    expect(last(broker).message.properties.delivery_info).toEqual({ exchange: '', routing_key: 'rk' });
    expect(() => routed.applyAsync([], {}, { queue: 'a', routingKey: 'b' })).toThrow(/routing key is the queue/);
  });
});

describe('results', () => {
  it('without a result backend: sends work, waiting rejects with INVALID_CONFIG', async () => {
    const { app } = testApp();
    expect(app.backend).toBeUndefined();
    const result = app.sendTask('tasks.add', [1, 2]);
    await result.sent;
    const error = await result.get().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(CeleriacError);
    expect(error).toMatchObject({ code: ErrorCode.INVALID_CONFIG });
    expect((error as Error).message).toContain('No result backend is configured');
    await expect(app.asyncResult('x').refresh()).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG });
    const onReady = await new Promise((resolve) => {
      result.onReady(resolve, resolve);
    });
    expect(onReady).toMatchObject({ code: ErrorCode.INVALID_CONFIG });
  });

  it('ignoreResult: the handle has the id, and get() rejects at once', async () => {
    const { app, broker } = testApp();
    const result = app.sendTask('tasks.add', [1, 2], {}, { ignoreResult: true });
    expect(result.ignored).toBe(true);
    await expect(result.get()).rejects.toThrow(/was sent with ignoreResult/);
    expect(last(broker).message.headers.ignore_result).toBe(true);
    expect(last(broker).message.headers.id).toBe(result.id);
  });

  it('a publish that fails for good rejects sent and get() with its error, and is logged', async () => {
    const logger = recordingLogger();
    const { app, broker } = testApp({ task_publish_retry_policy: { interval_step: 0.001 } }, { logger });
    broker.failWith = () => new ConnectionClosedError('gone');
    const result = app.sendTask('tasks.add', [1, 2]);
    await expect(result.sent).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(result.get()).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(broker.calls).toBe(4);
    expect(logger.lines.filter(([level]) => level === 'warn')).toHaveLength(3);
    expect(logger.lines.at(-1)).toMatchObject(['error', 'publish failed', { error: 'gone' }]);
  });

  it('get() honours an abort signal while the publish is still pending', async () => {
    const { app, broker } = testApp({ task_publish_retry_policy: { interval_start: 0.2 } });
    broker.failWith = (call) => (call === 1 ? new ConnectionClosedError('blip') : undefined);
    const result = app.sendTask('tasks.add', [1, 2]);
    const controller = new AbortController();
    const waiting = result.get({ signal: controller.signal });
    controller.abort(new Error('stop waiting'));
    await expect(waiting).rejects.toThrow('stop waiting');
    await result.sent;
    expect(broker.published).toHaveLength(1);
  });

  it('publish retry: two connection errors, then published once', async () => {
    const { app, broker } = testApp();
    broker.failWith = (call) => (call <= 2 ? new ConnectionClosedError(`lost ${call}`) : undefined);
    const started = Date.now();
    await app.sendTask('tasks.add', [1, 2], {}, { retryPolicy: { intervalStep: 0.05 } }).sent;
    expect(broker.calls).toBe(3);
    expect(broker.published).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    const once = testApp().broker;
    const { app: noRetry } = testApp({}, { broker: once });
    once.failWith = (call) => (call === 1 ? new ConnectionClosedError('lost') : undefined);
    await expect(noRetry.sendTask('t', [], {}, { retry: false }).sent).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(once.calls).toBe(1);
  });
});

describe('errors at the call', () => {
  it('encoding errors and unknown serializers throw synchronously', () => {
    const { app } = testApp();
    expect(() => app.sendTask('t', [new Uint8Array([1])])).toThrow(/do not encode with json/);
    expect(() => app.sendTask('t', [], {}, { serializer: 'yaml' })).toThrow(/No serializer named or typed "yaml"/);
    expect(() => app.sendTask('t', [], {}, { countdown: 1, eta: new Date() })).toThrow(/exclusive/);
    expect(() => app.sendTask('t', [], {}, { priority: 300 })).toThrow(/priority/);
  });

  it('no broker configured is INVALID_CONFIG at the send, not at createApp', () => {
    const app = createApp({}, { env: {} });
    expect(() => app.broker).toThrow(/No broker is configured/);
    expect(() => app.sendTask('t')).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }) as Error);
  });

  it('settings are checked at compile time and at run time', () => {
    // @ts-expect-error misspelt setting
    expect(() => createApp({ task_serialiser: 'json' }, { env: {} })).toThrow("Unknown setting 'task_serialiser'; did you mean 'task_serializer'?");
    // @ts-expect-error wrong type
    expect(() => createApp({ task_acks_late: 'yes' }, { env: {} })).toThrow(/must be a boolean/);
    // @ts-expect-error wrong type under the Celery 3 name
    expect(() => createApp({ CELERYD_PREFETCH_MULTIPLIER: '4' }, { env: {} })).toThrow(/must be an integer/);
    expect(createApp({ CELERY_TASK_ACKS_LATE: true }, { env: {}, namespace: 'CELERY' }).conf.task_acks_late).toBe(true);
  });

  it('createApp refuses serializers, accept lists and transport options that cannot work', () => {
    expect(() => createApp({ task_serializer: 'pickle' }, { env: {} })).toThrow(/'task_serializer' names serializer "pickle"/);
    expect(() => createApp({ accept_content: ['jsn'] }, { env: {} })).toThrow(/Unknown serializer "jsn" in accept_content/);
    expect(() => createApp({ broker_transport_options: { visibility_timeuot: 1 } as never }, { env: {} })).toThrow(CeleriacError);
  });
});

describe('lifecycle', () => {
  it('connects nothing until used, and close() is safe before any use', async () => {
    const app = createApp({ broker_url: 'redis://127.0.0.1:1/0', result_backend: 'redis://127.0.0.1:1/0' }, { env: {} });
    expect(app.conf.broker_url).toBe('redis://127.0.0.1:1/0');
    await app.close();
    expect(app.closed).toBe(true);
    expect(() => app.sendTask('t')).toThrow(ConnectionClosedError);
  });

  it('close() waits for publishes in flight and leaves injected instances open', async () => {
    const { app, broker } = testApp({ task_publish_retry_policy: { interval_start: 0.05 } });
    broker.failWith = (call) => (call === 1 ? new ConnectionClosedError('blip') : undefined);
    const result = app.sendTask('tasks.add', [1, 2]);
    await app.close();
    expect(broker.published).toHaveLength(1);
    await expect(result.sent).resolves.toBeUndefined();
    expect(broker.closed).toBe(false);
  });

  it('exposes the accept lists and serializers', () => {
    const { app } = testApp({ accept_content: ['json', 'application/x-msgpack'], result_accept_content: ['msgpack'] });
    expect(app.accept.contentTypes).toEqual(['application/json', 'application/x-msgpack']);
    expect(app.resultAccept.contentTypes).toEqual(['application/x-msgpack']);
    expect(app.serializers.names()).toEqual(['json', 'msgpack']);
    expect(testApp().app.resultAccept.contentTypes).toEqual(['application/json']);
  });
});

describe('applyAsync (canvas)', () => {
  it('a chord without a result backend throws at once, before anything is sent', () => {
    const { app, broker } = testApp();
    const c = chord([app.signature('tasks.add', [1, 1])], app.signature('tasks.tsum'));
    expect(() => app.applyAsync(c)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(/chord needs a result backend/) }) as Error);
    expect(broker.published).toHaveLength(0);
  });

  it('a chord sets its size before publishing the header, routed as sends are; the handle is the body', async () => {
    const order: string[] = [];
    const backend = {
      setChordSize: (groupId: string, size: number) => {
        order.push(`size ${size}`);
        return new Promise<void>((resolve) => setTimeout(resolve, 20));
      },
    };
    const { app, broker } = testApp({ task_routes: { 'tasks.add': { queue: 'math' } } }, { backend: backend as never });
    broker.failWith = () => void order.push('publish');
    app.task('tasks.tsum', { queue: 'sums' }, (_ctx, values: number[]) => values.length);
    const handle = app.applyAsync(chord([app.signature('tasks.add', [1, 1]), app.signature('tasks.add', [2, 2])], app.signature('tasks.tsum')));
    await handle.sent;
    expect(order).toEqual(['size 2', 'publish', 'publish']);
    const messages = broker.published.map((p) => ({ queue: p.queue, message: decode(p.raw) }));
    expect(messages.map((m) => m.queue)).toEqual(['math', 'math']);
    expect(messages.map((m) => m.message.headers.group_index)).toEqual([0, 1]);
    expect(messages[0]?.message.embed.chord?.options['task_id']).toBe(handle.id);
    expect(messages[0]?.message.embed.chord?.task).toBe('tasks.tsum');
  });

  it('a chain publishes only its first step; a group returns a handle per member; unknown options throw', async () => {
    const { app, broker } = testApp();
    const tail = app.applyAsync(chain(app.signature('tasks.add', [1, 1]), app.signature('tasks.add', [2])), [], {}, { priority: 3 });
    await tail.sent;
    expect(broker.published).toHaveLength(1);
    const first = last(broker).message;
    expect(first.embed.chain?.map((s) => s.options['task_id'])).toEqual([tail.id]);
    expect(last(broker).priority).toBe(3);
    const g = app.applyAsync(group(app.signature('tasks.add', [1, 1]), app.signature('tasks.add', [2, 2])));
    await g.sent;
    expect(g.results).toHaveLength(2);
    expect(broker.published.slice(1).map((p) => decode(p.raw).headers.group)).toEqual([g.id, g.id]);
    expect(() => app.applyAsync(group(), [], {}, { nope: 1 } as never)).toThrow(/Unknown send option 'nope'/);
  });
});

import { decodeTaskMessage, parseEnvelope, type SignatureDict, type TaskMessage } from '@celeriac/protocol';
import { waitUntil } from '@celeriac/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeApp, task, type FakeApp } from '../test/fakes.ts';
import { createWorker, type Worker } from './worker.ts';

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ cold: true })));
});

async function start(app: FakeApp, options: Parameters<typeof createWorker>[1] = {}): Promise<Worker> {
  const worker = createWorker(app, { hostname: 'w1@test', ...options });
  workers.push(worker);
  await worker.start();
  return worker;
}

function sig(name: string, args: unknown[] = [], options: Record<string, unknown> = {}, immutable = false): SignatureDict {
  return { task: name, args, kwargs: {}, options, subtask_type: null, immutable } as SignatureDict;
}

function published(app: FakeApp): TaskMessage[] {
  return app.broker.published.map((m) => decodeTaskMessage(parseEnvelope(m.raw)));
}

async function finalMeta(app: FakeApp, id: string, status = 'SUCCESS') {
  await waitUntil(() => app.backend.last(id)?.status === status, { timeoutMs: 3_000, message: `${id} never ${status}` });
  return app.backend.last(id)!;
}

const add = task('tasks.add', (_ctx, x, y) => (x as number) + (y as number));

describe('Worker: chains and link callbacks', () => {
  it('sends the next task of the chain (last first) before storing, with parent/root ids and children', async () => {
    const app = fakeApp([add]);
    await start(app);
    const chain = [sig('tasks.add', [4], { task_id: 'third' }), sig('tasks.add', [3], { task_id: 'second', queue: 'other' })];
    const { id } = app.broker.deliver({ task: 'tasks.add', args: [1, 1], chain, rootId: 'root-1' });
    const meta = await finalMeta(app, id);
    expect(meta.result).toBe(2);
    expect(meta.children).toEqual([[['second', null], null]]);
    const [next] = published(app);
    expect(app.broker.published[0]?.queue).toBe('other');
    expect(next?.headers).toMatchObject({ task: 'tasks.add', id: 'second', parent_id: id, root_id: 'root-1' });
    expect(next?.args).toEqual([2, 3]);
    expect(next?.embed.chain).toEqual([chain[0]]);
    const order = app.broker.log.filter((e) => e.what === 'publish' || e.what.startsWith('store')).map((e) => e.what);
    expect(order).toEqual(['publish', 'store:SUCCESS']);
  });

  it('the last task of a chain carries no chain; the default queue routes a sig without one', async () => {
    const app = fakeApp([add], { task_default_queue: 'dq' });
    await start(app, { queues: ['dq'] });
    const { id } = app.broker.deliver({ task: 'tasks.add', args: [1, 1], queue: 'dq', chain: [sig('tasks.add', [3])] });
    await finalMeta(app, id);
    const [next] = published(app);
    expect(next?.embed.chain).toBeNull();
    expect(app.broker.published[0]?.queue).toBe('dq');
    expect(next?.headers.root_id).toBe(id);
  });

  it('routes by task_routes when the signature names no queue', async () => {
    const app = fakeApp([add], { task_routes: { 'tasks.mul': { queue: 'math' } } } as never);
    await start(app);
    const { id } = app.broker.deliver({ task: 'tasks.add', args: [1, 1], callbacks: [sig('tasks.mul', [3])] });
    await finalMeta(app, id);
    expect(app.broker.published[0]?.queue).toBe('math');
  });

  it('immutable signatures get their own args only', async () => {
    const app = fakeApp([add]);
    await start(app);
    const { id } = app.broker.deliver({ task: 'tasks.add', args: [1, 1], chain: [sig('tasks.add', [5, 6], {}, true)] });
    await finalMeta(app, id);
    expect(published(app)[0]?.args).toEqual([5, 6]);
  });

  it('sends several link callbacks as one group with [retval] + args, link/link_error options, then the chain; children list all (Celery trace)', async () => {
    const app = fakeApp([add]);
    await start(app);
    const callbacks = [
      sig('tasks.log', ['x'], { task_id: 'cb1', link: sig('tasks.deep'), link_error: [sig('tasks.err')], priority: 3 }),
      sig('tasks.log2', [], { task_id: 'cb2', countdown: 10 }),
    ];
    const { id } = app.broker.deliver({ task: 'tasks.add', args: [2, 2], callbacks, chain: [sig('tasks.add', [1], { task_id: 'n1' })] });
    const meta = await finalMeta(app, id);
    const [cb1, cb2, n1] = published(app);
    const gid = cb1?.headers.group;
    expect(gid).toEqual(expect.any(String));
    expect(cb2?.headers.group).toBe(gid);
    expect(meta.children).toEqual([[[gid, null], [[['cb1', null], null], [['cb2', null], null]]], [['n1', null], null]]);
    expect(cb1?.args).toEqual([4, 'x']);
    expect(cb1?.headers).toMatchObject({ id: 'cb1', parent_id: id, root_id: id });
    expect(cb1?.embed.callbacks).toEqual([sig('tasks.deep')]);
    expect(cb1?.embed.errbacks).toEqual([sig('tasks.err')]);
    expect(cb1?.properties.priority).toBe(3);
    expect(cb2?.args).toEqual([4]);
    expect(cb2?.eta).not.toBeNull();
    expect(n1?.args).toEqual([4, 1]);
  });

  it('a chain signature as a callback: its first task is sent carrying the rest', async () => {
    const app = fakeApp([add]);
    await start(app);
    const chainSig = { task: 'celery.chain', args: [], kwargs: { tasks: [sig('tasks.a', [], { task_id: 'A' }), sig('tasks.b', [], { task_id: 'B' }), sig('tasks.c', [], { task_id: 'C' })] }, options: {}, subtask_type: 'chain', immutable: false } as SignatureDict;
    const { id } = app.broker.deliver({ task: 'tasks.add', args: [1, 1], callbacks: [chainSig] });
    await finalMeta(app, id);
    const [first] = published(app);
    expect(first?.headers.id).toBe('A');
    expect(first?.args).toEqual([2]);
    expect(first?.embed.chain?.map((s) => s.options['task_id'])).toEqual(['C', 'B']);
  });

  it('on failure: stores FAILURE, sends errbacks with [task id] + args, fails chain members with ids, sends no chain', async () => {
    const app = fakeApp([task('tasks.boom', () => {
      throw new Error('boom');
    })]);
    await start(app);
    const { id } = app.broker.deliver({
      task: 'tasks.boom',
      errbacks: [sig('tasks.on_err', ['extra'], { task_id: 'eb1' }), sig('tasks.on_err2', ['only'], {}, true)],
      chain: [sig('tasks.add', [1], { task_id: 'later' })],
    });
    await finalMeta(app, id, 'FAILURE');
    await waitUntil(() => app.broker.published.length === 2, { timeoutMs: 2_000 });
    const [eb1, eb2] = published(app);
    expect(eb1?.headers).toMatchObject({ task: 'tasks.on_err', id: 'eb1', parent_id: id, root_id: id });
    expect(eb1?.args).toEqual([id, 'extra']);
    expect(eb2?.args).toEqual(['only']);
    expect(app.backend.last('later')?.status).toBe('FAILURE');
    const order = app.broker.log.filter((e) => e.what === 'publish' || e.what.startsWith('store')).map((e) => e.what);
    expect(order.slice(0, 2)).toEqual(['store:FAILURE', 'store:FAILURE']);
  });

  it('a group as the next step of a chain: each member gets [retval], children hold the group', async () => {
    const app = fakeApp([add]);
    await start(app);
    const group = { task: 'celery.group', args: [], kwargs: { tasks: [sig('tasks.a', [1], { task_id: 'ga' }), sig('tasks.b', [], { task_id: 'gb' })] }, options: { task_id: 'G' }, subtask_type: 'group', immutable: false } as SignatureDict;
    const { id } = app.broker.deliver({ task: 'tasks.add', args: [1, 1], chain: [group] });
    const meta = await finalMeta(app, id);
    expect(meta.children).toEqual([[['G', null], [[['ga', null], null], [['gb', null], null]]]]);
    const [a, b] = published(app);
    expect(a?.args).toEqual([2, 1]);
    expect(b?.args).toEqual([2]);
    expect([a?.headers.group, b?.headers.group]).toEqual(['G', 'G']);
    expect([a?.headers.parent_id, b?.headers.root_id]).toEqual([id, id]);
  });

  it('a chain with an unsupported canvas type fails the task', async () => {
    const app = fakeApp([add]);
    await start(app);
    const chunks = { task: 'celery.chunks', args: [], kwargs: {}, options: {}, subtask_type: 'chunks', immutable: false } as SignatureDict;
    const { id } = app.broker.deliver({ task: 'tasks.add', args: [1, 1], chain: [chunks] });
    const meta = await finalMeta(app, id, 'FAILURE');
    expect(JSON.stringify(meta.result)).toContain('Celeriac applies tasks, chains, groups and chords');
  });
});

describe('Worker: ETA messages and prefetch', () => {
  it('raises the consumer prefetch by one per held ETA message and lowers it when released', async () => {
    const app = fakeApp([add]);
    await start(app, { concurrency: 1, prefetchMultiplier: 1 });
    const consumer = app.broker.consumer!;
    const { id } = app.broker.deliver({ task: 'tasks.add', args: [1, 2], countdown: 0.3 });
    app.broker.deliver({ task: 'tasks.add', args: [1, 2], countdown: 60 });
    await waitUntil(() => consumer.prefetchDeltas.length === 2, { timeoutMs: 1_000 });
    expect(consumer.prefetchDeltas).toEqual([1, 1]);
    await finalMeta(app, id);
    expect(consumer.prefetchDeltas).toEqual([1, 1, -1]);
  });

  it('lowers it when a held message is revoked; no change without a prefetch limit', async () => {
    const app = fakeApp([add]);
    const worker = await start(app, { concurrency: 1, prefetchMultiplier: 1 });
    const consumer = app.broker.consumer!;
    const { id } = app.broker.deliver({ task: 'tasks.add', args: [1, 2], countdown: 60 });
    await waitUntil(() => consumer.prefetchDeltas.length === 1, { timeoutMs: 1_000 });
    worker.revoke(id);
    await finalMeta(app, id, 'REVOKED');
    expect(consumer.prefetchDeltas).toEqual([1, -1]);

    const unlimited = fakeApp([add]);
    await start(unlimited, { prefetchMultiplier: 0 });
    const { id: id2 } = unlimited.broker.deliver({ task: 'tasks.add', args: [1, 2], countdown: 0.1 });
    await finalMeta(unlimited, id2);
    expect(unlimited.broker.consumer!.prefetchDeltas).toEqual([]);
  });
});

import { fileURLToPath, pathToFileURL } from 'node:url';
import { decodeTaskMessage, type ResultMeta } from '@celeriac/protocol';
import { waitUntil } from '@celeriac/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultChildEntry } from '../src/task-pool.ts';
import { createWorker, type Worker } from '../src/worker.ts';
import { fakeApp, task, type FakeApp } from './fakes.ts';

const MODULE = fileURLToPath(new URL('./fixtures/pool-tasks.mjs', import.meta.url));
const workers: Worker[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ cold: true })));
});

function poolApp(pool: 'thread' | 'process', options: { acksLate?: boolean; rejectOnWorkerLost?: boolean } = {}): FakeApp {
  const names = ['pool.cpu', 'pool.types', 'pool.crash', 'pool.hang', 'pool.soft', 'pool.retry', 'pool.fail'];
  return fakeApp(names.map((name) => task(name, undefined, { pool, ...options }, { module: MODULE })), {
    worker_concurrency: 2,
    result_serializer: 'msgpack',
  });
}

async function start(app: FakeApp, appModule?: string): Promise<Worker> {
  // The pool child is the built script: fail loudly (not skip) when the package was not built.
  defaultChildEntry();
  const worker = createWorker(app, { hostname: 'pool@test', ...(appModule === undefined ? {} : { appModule }) });
  workers.push(worker);
  await worker.start();
  return worker;
}

async function settled(app: FakeApp, id: string, status: string, timeoutMs = 10_000): Promise<ResultMeta> {
  await waitUntil(() => app.backend.last(id)?.status === status, { timeoutMs, message: `task ${id} never reached ${status}` });
  return app.backend.last(id) as ResultMeta;
}

describe.each(['thread', 'process'] as const)('%s pool', (pool) => {
  it('runs a CPU-bound task off the event loop; values cross by structured clone', async () => {
    const app = poolApp(pool);
    const worker = await start(app);
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 5);
    const { id } = app.broker.deliver({ task: 'pool.cpu', args: [30] });
    const meta = await settled(app, id, 'SUCCESS');
    clearInterval(ticker);
    const result = meta.result as { fib: number; pid: number; threadId: number };
    expect(result.fib).toBe(832040);
    if (pool === 'process') expect(result.pid).not.toBe(process.pid);
    else expect(result.threadId).toBeGreaterThan(0);
    expect(ticks).toBeGreaterThan(0);
    expect(worker.stats().pool.processes.length).toBeGreaterThan(0);
    const types = app.broker.deliver({ task: 'pool.types' });
    const typed = await settled(app, types.id, 'SUCCESS');
    expect(typed.result).toEqual({ big: 2n ** 63n, bytes: new Uint8Array([0, 1, 255]), when: new Date(0) });
  });

  it('a child that dies fails the task with WorkerLostError (acks_late without reject_on_worker_lost)', async () => {
    const app = poolApp(pool, { acksLate: true });
    await start(app);
    const { id, delivery } = app.broker.deliver({ task: 'pool.crash' });
    const meta = await settled(app, id, 'FAILURE');
    expect(meta.result).toMatchObject({ exc_type: 'WorkerLostError', exc_module: 'billiard.exceptions' });
    expect(delivery.outcome).toBe('ack');
    // The pool replaces the child: the next task runs.
    const next = app.broker.deliver({ task: 'pool.cpu', args: [5] });
    expect((await settled(app, next.id, 'SUCCESS')).result).toMatchObject({ fib: 5 });
  });

  it('a child that dies requeues the message with rejectOnWorkerLost, and stores nothing', async () => {
    const app = poolApp(pool, { acksLate: true, rejectOnWorkerLost: true });
    await start(app);
    const { id, delivery } = app.broker.deliver({ task: 'pool.crash' });
    await waitUntil(() => delivery.outcome !== undefined, { timeoutMs: 10_000 });
    expect(delivery.outcome).toBe('requeue');
    expect(app.backend.of(id)).toEqual([]);
  });

  it('hard limit kills the child: FAILURE TimeLimitExceeded; soft limit aborts the signal in the child', async () => {
    const app = poolApp(pool);
    await start(app);
    const hard = app.broker.deliver({ task: 'pool.hang', timeLimit: 0.3 });
    expect((await settled(app, hard.id, 'FAILURE')).result).toEqual({ exc_type: 'TimeLimitExceeded', exc_message: [0.3], exc_module: 'billiard.exceptions' });
    const soft = app.broker.deliver({ task: 'pool.soft', softTimeLimit: 0.2 });
    expect((await settled(app, soft.id, 'FAILURE')).result).toMatchObject({ exc_type: 'SoftTimeLimitExceeded', exc_module: 'billiard.exceptions' });
  });

  it('a soft limit that passes while a fresh child still loads the module fails the task instead of hanging it', async () => {
    const slow = fileURLToPath(new URL('./fixtures/slow-pool-tasks.mjs', import.meta.url));
    const app = fakeApp([task('slow.soft', undefined, { pool }, { module: slow })], { worker_concurrency: 1 });
    await start(app);
    const { id } = app.broker.deliver({ task: 'slow.soft', softTimeLimit: 0.1 });
    expect((await settled(app, id, 'FAILURE')).result).toMatchObject({ exc_type: 'SoftTimeLimitExceeded', exc_module: 'billiard.exceptions' });
  });

  it("loads a task without a module from the worker's appModule (the CLI's -A)", async () => {
    // Registered in the worker's process too (as an app's tasks are), but run in the pool.
    const inParent = (): string => 'ran in the worker process';
    const app = fakeApp([task('pool.cpu', inParent, { pool })]);
    await start(app, pathToFileURL(MODULE).href);
    const { id } = app.broker.deliver({ task: 'pool.cpu', args: [10] });
    expect((await settled(app, id, 'SUCCESS')).result).toMatchObject({ fib: 55 });
    const none = fakeApp([task('pool.cpu', inParent, { pool })]);
    await start(none);
    const failed = none.broker.deliver({ task: 'pool.cpu', args: [10] });
    const meta = await settled(none, failed.id, 'FAILURE');
    expect((meta.result as { exc_message: string[] }).exc_message[0]).toContain('no module to load it from');
  });

  it('errors, retries and terminate cross the pool boundary', async () => {
    const app = poolApp(pool);
    const worker = await start(app);
    const fail = app.broker.deliver({ task: 'pool.fail', args: ['bad \u2603'] });
    const failed = await settled(app, fail.id, 'FAILURE');
    expect(failed.result).toEqual({ exc_type: 'PoolError', exc_message: ['bad \u2603'], exc_module: 'celeriac' });
    expect(failed.traceback).toContain('pool-tasks.mjs');
    const retry = app.broker.deliver({ task: 'pool.retry', args: ['v'] });
    await settled(app, retry.id, 'RETRY');
    const message = decodeTaskMessage(String(app.broker.published[0]?.raw));
    expect(message.headers).toMatchObject({ id: retry.id, retries: 1, parent_id: retry.id });
    const hang = app.broker.deliver({ task: 'pool.hang' });
    await waitUntil(() => worker.active().length === 1);
    expect(worker.active()[0]?.worker_pid).toEqual(pool === 'process' ? expect.any(Number) : process.pid);
    worker.revoke(hang.id, { terminate: true });
    expect((await settled(app, hang.id, 'REVOKED')).result).toMatchObject({ exc_message: ['terminated'] });
  });
});

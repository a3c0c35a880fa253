import {
  createResultMeta,
  pendingMeta,
  RemoteTaskError,
  type ResultMeta,
} from '@celeriac/protocol';
import { PromiseCancelledError, type AnyVinePromise } from '@celeriac/promise';
import { describe, expect, it } from 'vitest';
import { AsyncResult, createAsyncResult } from './async-result.ts';
import { GroupResult } from './group-result.ts';
import type { ResultHandleBackend } from './result-handle-backend.ts';

/**
 * A backend without Redis: stored metas in a Map, waits resolved by `deliver()`. Its
 * consumer holds on-ready promises strongly and owners weakly, as the real one does.
 */
class FakeBackend implements ResultHandleBackend {
  readonly stored = new Map<string, ResultMeta>();
  readonly waits = new Map<string, ((meta: ResultMeta) => void)[]>();
  readonly watched: { id: string; promise: AnyVinePromise; owner: WeakRef<object> }[] = [];
  readonly consumer = {
    watch: (id: string, promise: AnyVinePromise, owner: object): void => {
      this.watched.push({ id, promise, owner: new WeakRef(owner) });
    },
    peek: (): ResultMeta | undefined => undefined,
  };

  deliver(meta: ResultMeta): void {
    this.stored.set(meta.task_id, meta);
    for (const resolve of this.waits.get(meta.task_id) ?? []) resolve(meta);
    this.waits.delete(meta.task_id);
    for (const w of this.watched.filter((x) => x.id === meta.task_id)) w.promise.fulfil(meta);
  }

  store(meta: ResultMeta): Promise<boolean> {
    this.deliver(meta);
    return Promise.resolve(true);
  }
  get(id: string): Promise<ResultMeta> {
    return Promise.resolve(this.stored.get(id) ?? pendingMeta(id));
  }
  getMany(ids: readonly string[]): Promise<ResultMeta[]> {
    return Promise.resolve(ids.map((id) => this.stored.get(id) ?? pendingMeta(id)));
  }
  forget(id: string): Promise<void> {
    this.stored.delete(id);
    return Promise.resolve();
  }
  waitFor(id: string): Promise<ResultMeta> {
    const known = this.stored.get(id);
    if (known !== undefined) return Promise.resolve(known);
    return new Promise((resolve) => this.waits.set(id, [...(this.waits.get(id) ?? []), resolve]));
  }
  saveGroup(): Promise<void> {
    return Promise.resolve();
  }
  getGroup(): Promise<string[] | null> {
    return Promise.resolve(null);
  }
  deleteGroup(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const ok = (id: string, result: unknown): ResultMeta => createResultMeta({ taskId: id, status: 'SUCCESS', result });
const failed = (id: string): ResultMeta =>
  createResultMeta({ taskId: id, status: 'FAILURE', result: { exc_type: 'KeyError', exc_message: ['k'], exc_module: 'builtins' } });

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (typeof collect !== 'function') throw new Error('globalThis.gc is missing: run node with --expose-gc');
  collect();
}

describe('AsyncResult (no Redis)', () => {
  it('starts PENDING and touches nothing until awaited or given a callback', () => {
    const backend = new FakeBackend();
    const handle = createAsyncResult('a', backend);
    expect([handle.state, handle.ready(), handle.result, handle.meta]).toEqual(['PENDING', false, null, undefined]);
    expect(backend.watched).toHaveLength(0);
    expect(backend.waits.size).toBe(0);
    expect(handle.asTuple()).toEqual([['a', null], null]);
  });

  it('resolves values, rejects failures by name, returns them with propagate: false', async () => {
    const backend = new FakeBackend();
    const handle = new AsyncResult<number>('a', backend);
    const pending = handle.get();
    backend.deliver(ok('a', 3));
    expect(await pending).toBe(3);
    expect(await handle).toBe(3);
    const bad = new AsyncResult('b', backend);
    backend.deliver(failed('b'));
    await expect(bad.get()).rejects.toMatchObject({ name: 'KeyError' });
    expect(await bad.get({ propagate: false })).toBeInstanceOf(RemoteTaskError);
    expect(bad.failed()).toBe(true);
  });

  it('registers one on-ready promise per handle, fulfilled with the meta; late callbacks run at once', async () => {
    const backend = new FakeBackend();
    const handle = new AsyncResult('a', backend);
    const first = handle.onReady((meta) => meta.status);
    const second = handle.onReady((meta) => meta.result);
    expect(backend.watched).toHaveLength(1);
    expect(backend.watched[0]?.owner.deref()).toBe(handle);
    backend.deliver(ok('a', 'v'));
    expect(await first).toBe('SUCCESS');
    expect(await second).toBe('v');
    expect(handle.state).toBe('SUCCESS');
    expect(await handle.onReady((meta) => meta.task_id)).toBe('a');
  });

  it('the handle → on-ready promise → weak method cycle is collectable while the consumer holds the promise', async () => {
    const backend = new FakeBackend();
    let ref: WeakRef<AsyncResult> | undefined;
    const told: unknown[] = [];
    (() => {
      const handle = new AsyncResult('a', backend);
      handle.onReady(() => 'never', (err: unknown) => told.push(err));
      ref = new WeakRef(handle);
    })();
    for (let i = 0; i < 5 && ref?.deref() !== undefined; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      gc();
    }
    expect(ref?.deref()).toBeUndefined();
    // The result arrives after the handle is gone: the promise is cancelled, the callback never runs.
    backend.deliver(ok('a', 1));
    expect(told).toHaveLength(1);
    expect(told[0]).toBeInstanceOf(PromiseCancelledError);
  });

  it('refresh() reads once and remembers; a remembered ready meta answers get() without waiting', async () => {
    const backend = new FakeBackend();
    backend.stored.set('a', ok('a', 7));
    const handle = new AsyncResult<number>('a', backend);
    expect((await handle.refresh()).status).toBe('SUCCESS');
    expect(handle.successful()).toBe(true);
    backend.stored.clear();
    expect(await handle.get()).toBe(7);
  });
});

describe('GroupResult (no Redis)', () => {
  it('joins in order and counts completions', async () => {
    const backend = new FakeBackend();
    backend.stored.set('b', ok('b', 2));
    const group = new GroupResult<number>('g', ['a', 'b', 'c'].map((id) => new AsyncResult<number>(id, backend)), backend);
    const joined = group.join();
    await new Promise((resolve) => setTimeout(resolve, 0));
    backend.deliver(ok('c', 3));
    backend.deliver(ok('a', 1));
    expect(await joined).toEqual([1, 2, 3]);
    expect(group.completedCount()).toBe(3);
    expect(group.ready()).toBe(true);
  });
});

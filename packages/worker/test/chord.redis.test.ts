/**
 * Groups and chords on the real Redis broker and result backend, with Celery 5.2's chord
 * scheme (`celery-taskset-meta-<gid>.s` / `.j`, results ordered by `group_index`), and across
 * languages with a real Celery 5.2 client (send_canvas.py) and real Celery 5.2 workers:
 * a chord whose header runs on Python workers and whose body runs on ours, and the reverse,
 * each started from either language; a chain crossing languages twice; a group of 1,000
 * tasks joined; a failing header member.
 */
import { join } from 'node:path';
import { chain, chord, createApp, group, type App } from '@celeriac/client';
import type { SignatureDict } from '@celeriac/protocol';
import {
  assertCeleryAvailable,
  celeryResultKey,
  createTestRedis,
  getResultsWithPython,
  monitorRedis,
  runPythonScript,
  startCeleryWorker,
  type CeleryPeerOptions,
  type CeleryWorker,
  type TestRedis,
} from '@celeriac/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorker, type Worker } from '../src/worker.ts';

/** A canvas for send_canvas.py. */
type Spec =
  | { readonly task: string; readonly args?: unknown[]; readonly queue?: string; readonly immutable?: boolean }
  | { readonly chain: Spec[] }
  | { readonly group: Spec[] }
  | { readonly chord: { readonly header: Spec[]; readonly body: Spec } };

/** What send_canvas.py prints: Celery's result (and its parents) as ids. */
interface PyResult {
  readonly id?: string;
  readonly group?: string;
  readonly results?: PyResult[];
  readonly parent: PyResult | null;
}

/** Applies a canvas with a real Celery 5.2 client. */
function sendCanvasWithPython(spec: Spec, peer: CeleryPeerOptions): Promise<PyResult> {
  return runPythonScript<PyResult>(join(import.meta.dirname, 'send_canvas.py'), spec, peer);
}

interface Meta {
  status: string;
  result: unknown;
  parent_id?: string | null;
  group_id?: string;
}

async function readMeta(redis: TestRedis, id: string): Promise<Meta | null> {
  return JSON.parse((await redis.client.get(celeryResultKey(id))) ?? 'null') as Meta | null;
}

/** Every chord counter key of a group, so the test deletes what it made even on failure. */
function chordKeys(gid: string): string[] {
  return ['', '.j', '.s', '.t'].map((suffix) => `celery-taskset-meta-${gid}${suffix}`);
}

interface TsWorker {
  readonly app: App;
  readonly worker: Worker;
  /** Task ids this worker ran, in order. */
  readonly ran: string[];
}

async function tsWorker(redis: TestRedis, queue: string, concurrency = 4): Promise<TsWorker> {
  const ran: string[] = [];
  const app = createApp({ broker_url: redis.url, result_backend: redis.url, task_default_queue: queue, result_expires: 600 });
  app.task('tasks.add', { params: ['x', 'y'] }, (ctx, x: number, y: number) => {
    ran.push(ctx.request.id);
    return x + y;
  });
  app.task('tasks.tsum', { params: ['values'] }, (ctx, values: number[]) => {
    ran.push(ctx.request.id);
    return values.reduce((a, b) => a + b, 0);
  });
  app.task('tasks.echo', { acceptsKwargs: true }, (ctx, ...all: unknown[]) => {
    ran.push(ctx.request.id);
    const kwargs = all.pop();
    return [all, kwargs];
  });
  app.task('tasks.fail', { params: ['msg'] }, (ctx, msg: string | undefined): never => {
    ran.push(ctx.request.id);
    throw new Error(msg ?? 'boom');
  });
  const worker = createWorker(app, { hostname: `chord-${queue}@%h`, concurrency });
  await worker.start();
  return { app, worker, ran };
}

async function stopAll(...workers: TsWorker[]): Promise<void> {
  for (const w of workers) {
    await w.worker.stop();
    await w.app.close();
  }
}

/** A producer-only app (no worker) on the test's Redis. */
function producer(redis: TestRedis, queue: string): App {
  return createApp({ broker_url: redis.url, result_backend: redis.url, task_default_queue: queue, result_expires: 600 });
}

function sig(app: App, task: string, args: unknown[], queue: string): SignatureDict {
  return app.signature(task, args, {}, { queue });
}

describe('groups and chords on Redis (Celeriac only)', () => {
  let redis: TestRedis;
  let w: TsWorker;
  let queue: string;

  beforeAll(async () => {
    redis = await createTestRedis();
    queue = redis.queue('chord');
    w = await tsWorker(redis, queue, 8);
  });

  afterAll(async () => {
    await stopAll(w);
    await redis.close();
  });

  it('a chord with a chain in its header: results in header order, body parent = a header task, counters deleted', async () => {
    const app = producer(redis, queue);
    try {
      const c = chord(
        [sig(app, 'tasks.add', [1, 1], queue), chain(sig(app, 'tasks.add', [3, 3], queue), sig(app, 'tasks.add', [1], queue)), sig(app, 'tasks.add', [2, 2], queue)],
        sig(app, 'tasks.echo', [], queue),
      );
      const handle = app.applyAsync(c);
      await handle.sent;
      const headerTask = JSON.parse(JSON.stringify(c)) as { kwargs: { header: unknown } };
      expect(headerTask.kwargs.header).toBeDefined();
      const value = await handle.get({ timeout: 10_000 });
      expect(value).toEqual([[[2, 7, 4]], {}]);
      const meta = await readMeta(redis, handle.id);
      redis.track(celeryResultKey(handle.id));
      expect(meta?.parent_id).toEqual(expect.any(String));
      const parentMeta = await readMeta(redis, meta?.parent_id ?? '');
      expect(parentMeta?.group_id).toEqual(expect.any(String));
      const gid = parentMeta?.group_id ?? '';
      redis.track(...chordKeys(gid));
      expect(await redis.client.exists(...chordKeys(gid).slice(1))).toBe(0);
    } finally {
      await app.close();
    }
  }, 20_000);

  it('a failing header member fails the body with a ChordError and calls the body errback; the other members still run', async () => {
    const app = producer(redis, queue);
    try {
      const errbackId = `errback-${queue}`;
      const errback = app.signature('tasks.echo', ['errback'], {}, { queue, taskId: errbackId });
      const body = app.signature('tasks.tsum', [], {}, { queue, linkError: errback });
      const handle = app.applyAsync(chord([sig(app, 'tasks.add', [1, 1], queue), sig(app, 'tasks.fail', ['header broke'], queue), sig(app, 'tasks.add', [2, 2], queue)], body));
      redis.track(celeryResultKey(handle.id), celeryResultKey(errbackId));
      const error = await handle.get({ timeout: 10_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ excType: 'ChordError', excModule: 'celery.exceptions' });
      expect(String((error as Error).message)).toMatch(/Dependency [0-9a-f-]{36} raised Error\('header broke'\)/);
      // The body never ran; its errback was sent with [body id].
      expect(w.ran).not.toContain(handle.id);
      expect(await app.asyncResult(errbackId).get({ timeout: 5_000 })).toEqual([[handle.id, 'errback'], {}]);
    } finally {
      await app.close();
    }
  }, 20_000);

  it('a group of 1,000 tasks joined: one MGET for the initial check, results in order', async () => {
    const app = producer(redis, queue);
    await using monitor = await monitorRedis(redis.url, { filter: (c) => c.args[0]?.toLowerCase() === 'mget' && c.args.some((a) => a.startsWith('celery-task-meta-')) });
    try {
      const members = Array.from({ length: 1000 }, (_, i) => sig(app, 'tasks.add', [i, i], queue));
      const handle = app.applyAsync(group(members));
      redis.track(...handle.ids.map(celeryResultKey));
      expect(handle.results).toHaveLength(1000);
      const values = await handle.join({ timeout: 30_000 });
      expect(values).toEqual(Array.from({ length: 1000 }, (_, i) => 2 * i));
      const ours = monitor.commands().filter((c) => c.args.includes(celeryResultKey(handle.ids[0] as string)));
      expect(ours).toHaveLength(1);
      const metas = await Promise.all(handle.ids.slice(0, 3).map((id) => readMeta(redis, id)));
      expect(metas.map((m) => m?.group_id)).toEqual([handle.id, handle.id, handle.id]);
    } finally {
      await app.close();
    }
  }, 60_000);

  it('an empty chord header sends the body at once with []', async () => {
    const app = producer(redis, queue);
    try {
      const handle = app.applyAsync(chord([], sig(app, 'tasks.tsum', [], queue)));
      redis.track(celeryResultKey(handle.id));
      expect(await handle.get({ timeout: 5_000 })).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('chords and chains across languages with Celery 5.2', () => {
  let redis: TestRedis;
  let ts: TsWorker;
  let python: CeleryWorker;
  let qts: string;
  let qpy: string;

  beforeAll(async () => {
    await assertCeleryAvailable();
    redis = await createTestRedis();
    qts = redis.queue('ts');
    qpy = redis.queue('py');
    ts = await tsWorker(redis, qts);
    python = await startCeleryWorker({ queue: qpy, pool: 'threads', concurrency: 4 });
  }, 60_000);

  afterAll(async () => {
    await python?.[Symbol.asyncDispose]();
    if (ts !== undefined) await stopAll(ts);
    await redis?.close();
  });

  const peer = (): CeleryPeerOptions => ({ queue: qts });

  for (const starter of ['python', 'typescript'] as const) {
    for (const [headerOn, bodyOn] of [['python', 'typescript'], ['typescript', 'python']] as const) {
      it(`started from ${starter}: header on ${headerOn} workers, body on ${bodyOn}`, async () => {
        const hq = headerOn === 'python' ? qpy : qts;
        const bq = bodyOn === 'python' ? qpy : qts;
        const header = [[1, 1], [2, 2], [3, 3], [4, 4]];
        let bodyId: string;
        if (starter === 'python') {
          const result = await sendCanvasWithPython(
            { chord: { header: header.map((args) => ({ task: 'tasks.add', args, queue: hq })), body: { task: 'tasks.tsum', queue: bq } } },
            peer(),
          );
          bodyId = result.id ?? '';
          redis.track(...chordKeys(result.parent?.group ?? ''));
        } else {
          const app = producer(redis, qts);
          try {
            const handle = app.applyAsync(chord(header.map((args) => sig(app, 'tasks.add', args, hq)), sig(app, 'tasks.tsum', [], bq)));
            await handle.sent;
            bodyId = handle.id;
          } finally {
            await app.close();
          }
        }
        redis.track(celeryResultKey(bodyId));
        const [body] = await getResultsWithPython([bodyId], 20, peer());
        expect(body).toMatchObject({ status: 'SUCCESS', result: 20 });
        const bodyMeta = await readMeta(redis, bodyId);
        const headerIds = [bodyMeta?.parent_id ?? ''];
        redis.track(...headerIds.map(celeryResultKey));
        // Who ran the body: our worker records its ids; the Python worker logs them.
        expect(ts.ran.includes(bodyId)).toBe(bodyOn === 'typescript');
        if (bodyOn === 'python') expect(python.logs().join('\n')).toContain(bodyId);
        // The header task that completed the chord ran where the header was sent.
        expect(ts.ran.includes(headerIds[0] as string)).toBe(headerOn === 'typescript');
        const parentMeta = await readMeta(redis, headerIds[0] as string);
        const gid = parentMeta?.group_id ?? '';
        redis.track(...chordKeys(gid));
        expect(await redis.client.exists(`celery-taskset-meta-${gid}.j`, `celery-taskset-meta-${gid}.s`)).toBe(0);
      }, 40_000);
    }
  }

  it('a failing header member on Python fails the body on ours with ChordError, as a Python client reads it', async () => {
    const result = await sendCanvasWithPython(
      {
        chord: {
          header: [
            { task: 'tasks.add', args: [1, 1], queue: qts },
            { task: 'tasks.fail', args: ['py header broke'], queue: qpy },
          ],
          body: { task: 'tasks.tsum', queue: qts },
        },
      },
      peer(),
    );
    const bodyId = result.id ?? '';
    redis.track(celeryResultKey(bodyId), ...chordKeys(result.parent?.group ?? ''));
    const [body] = await getResultsWithPython([bodyId], 20, peer());
    expect(body?.status).toBe('FAILURE');
    expect(body?.result).toMatchObject({ exc_type: 'ChordError', exc_module: 'celery.exceptions' });
    expect(JSON.stringify(body?.result)).toMatch(/Dependency [0-9a-f-]{36} raised /);
    expect(ts.ran.includes(bodyId)).toBe(false);
  }, 40_000);

  it('a chain from TypeScript crossing languages twice, with a chord in the middle: add | group | tsum | add', async () => {
    const app = producer(redis, qts);
    try {
      // add(1,1) on Python → group(add(10), add(20)) on ours, upgraded to a chord with
      // tsum on Python → add(100) on ours: ((2+10) + (2+20)) + 100 = 134.
      const handle = app.applyAsync(
        chain(
          sig(app, 'tasks.add', [1, 1], qpy),
          group(sig(app, 'tasks.add', [10], qts), sig(app, 'tasks.add', [20], qts)),
          sig(app, 'tasks.tsum', [], qpy),
          sig(app, 'tasks.add', [100], qts),
        ),
      );
      redis.track(celeryResultKey(handle.id));
      const v = await handle.get({ timeout: 20_000 });
      expect(v).toBe(134);
      const last = await readMeta(redis, handle.id);
      const tsumMeta = await readMeta(redis, last?.parent_id ?? '');
      expect(tsumMeta?.result).toBe(34);
      expect(python.logs().join('\n')).toContain(last?.parent_id ?? 'missing');
      expect(ts.ran).toContain(handle.id);
    } finally {
      await app.close();
    }
  }, 40_000);
});

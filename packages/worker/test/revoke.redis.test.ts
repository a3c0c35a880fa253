/**
 * Revoke across languages, end to end: a Python client's `app.control.revoke(id)` stops a
 * held countdown task on a running `celeriac worker` (REVOKED stored, as Celery), and a
 * Celeriac `control(broker, 'revoke')` stops one on a real Celery 5.2.6 worker.
 */
import { spawn } from 'node:child_process';
import { createApp } from '@celeriac/client';
import { createRedisBroker } from '@celeriac/broker-redis';
import {
  assertCeleryAvailable,
  celeryEnv,
  celeryPython,
  celeryResultKey,
  createTestRedis,
  getResultsWithPython,
  publishWithPython,
  PYTHON_DIR,
  startCeleryWorker,
  waitUntil,
} from '@celeriac/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { control, createKombuTable, inspect } from '../src/index.ts';
import { INTEROP_APP, startCliWorker } from './cli-worker.ts';

function python(code: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(celeryPython(), ['-c', code, ...args], { cwd: PYTHON_DIR, env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`python exited ${code}: ${err}`))));
  });
}

describe('revoke across languages', () => {
  beforeAll(async () => {
    await assertCeleryAvailable();
  });

  it("Python's app.control.revoke stops a held countdown task on our worker: REVOKED stored", async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    const env = celeryEnv({ queue });
    await using _worker = await startCliWorker({ app: INTEROP_APP, env, args: ['-c', '1'] });
    // The worker answers pings once its remote control is listening.
    await waitUntil(async () => (await python('from tasks import app; print(len(app.control.ping(timeout=0.5)))', [], env)).trim() !== '0', {
      timeoutMs: 15_000,
      message: 'our worker never answered a Python ping',
    });
    const [held, other] = await publishWithPython(
      [
        { task: 'tasks.add', args: [1, 1], options: { queue, countdown: 3 } },
        { task: 'tasks.add', args: [2, 2], options: { queue } },
      ],
      { queue },
    );
    redis.track(celeryResultKey(held ?? ''), celeryResultKey(other ?? ''));
    await waitUntil(() => redis.client.exists(celeryResultKey(other ?? '')).then((n) => n === 1), { timeoutMs: 10_000, message: 'the plain task ran' });
    await python('import sys; from tasks import app; app.control.revoke(sys.argv[1])', [held ?? ''], env);
    const [result] = await getResultsWithPython([held ?? ''], 10, { queue });
    expect(result).toMatchObject({ id: held, status: 'REVOKED' });
    expect(JSON.stringify(result?.result)).toContain('revoked');
  }, 40_000);

  it("our control('revoke') stops a held countdown task on a real Celery worker", async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using _python = await startCeleryWorker({ queue });
    await using app = createApp({ broker_url: redis.url, result_backend: redis.url, task_default_queue: queue });
    await using broker = createRedisBroker(redis.url);
    const add = app.taskRef<[number, number], number>('tasks.add');
    // A Python worker subscribes to remote control just after it logs ready: wait for a pong.
    const table = createKombuTable(redis.url, { keys: broker.keys });
    await waitUntil(async () => (await inspect(broker, 'ping', { table, timeout: 0.5 })).size > 0, {
      timeoutMs: 15_000,
      message: 'the Python worker never answered our ping',
    });
    const held = add.applyAsync([1, 1], undefined, { countdown: 3 });
    await held.sent;
    redis.track(celeryResultKey(held.id));
    await control(broker, 'revoke', { task_id: held.id, terminate: false, signal: 'SIGTERM' });
    const outcome = await held.get({ timeout: 10_000 }).catch((err: unknown) => err);
    expect(outcome).toMatchObject({ name: 'TaskRevokedError', code: 'TASK_REVOKED' });
    await table.close();
  }, 40_000);
});

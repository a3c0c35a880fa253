/**
 * The `celeriac` CLI as a process: call / result / purge against a running `celeriac worker`,
 * exit codes, and the worker's signal handling (RELIABILITY.md row 5: warm SIGTERM with
 * in-flight, prefetched and held messages; a second signal is a cold shutdown).
 */
import { fileURLToPath } from 'node:url';
import { celeryEnv, celeryResultKey, createTestRedis, waitUntil } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { INTEROP_APP, runCliProcess, startCliWorker } from './cli-worker.ts';

const COUNTING_APP = fileURLToPath(new URL('./fixtures/counting-app.mjs', import.meta.url));

describe('celeriac call / result / purge', () => {
  it('call --wait prints the result; exit 1 on failure, 3 on timeout; result reads it back', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    const env = celeryEnv({ queue });
    await using _worker = await startCliWorker({ app: INTEROP_APP, env, args: ['-c', '2'] });
    const A = ['-A', INTEROP_APP];

    const add = await runCliProcess(['call', 'tasks.add', '--args', '[2, 3]', '--wait', '--timeout', '10', ...A], env);
    const [id, line] = add.stdout.trim().split('\n');
    redis.track(celeryResultKey(id ?? ''));
    expect(add.code).toBe(0);
    expect(JSON.parse(line ?? '')).toMatchObject({ task_id: id, status: 'SUCCESS', result: 5 });

    const big = await runCliProcess(['call', 'tasks.add', '--args', '[18446744073709551616, 1]', '--wait', ...A], env);
    redis.track(celeryResultKey(big.stdout.split('\n')[0] ?? ''));
    expect(big.stdout).toContain('"result":18446744073709551617');

    const fail = await runCliProcess(['call', 'tasks.fail', '--kwargs', '{"msg": "nope"}', '--wait', ...A], env);
    redis.track(celeryResultKey(fail.stdout.split('\n')[0] ?? ''));
    expect(fail.code).toBe(1);
    expect(fail.stderr).toContain('InteropError: nope');

    const slow = await runCliProcess(['call', 'tasks.sleep', '--args', '[2]', '--wait', '--timeout', '0.3', ...A], env);
    const slowId = slow.stdout.split('\n')[0] ?? '';
    redis.track(celeryResultKey(slowId));
    expect(slow.code).toBe(3);

    const pending = await runCliProcess(['result', slowId, '--timeout', '0.2', ...A], env);
    expect(pending.code).toBe(3);
    const done = await runCliProcess(['result', slowId, '--timeout', '10', ...A], env);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ status: 'SUCCESS', result: 2 });

    const byUrl = await runCliProcess(['result', id ?? '', '--backend', env['CELERY_BROKER_URL'] ?? ''], env);
    expect(byUrl.code).toBe(0);
    expect(JSON.parse(byUrl.stdout)).toMatchObject({ status: 'SUCCESS', result: 5 });
  }, 30_000);

  it('-P process runs the app\'s tasks in child processes that load the -A module', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    const env = celeryEnv({ queue });
    await using _worker = await startCliWorker({ app: INTEROP_APP, env, args: ['-P', 'process', '-c', '2'] });
    const add = await runCliProcess(['call', 'tasks.echo', '--args', '[2, "x"]', '--kwargs', '{"k": null}', '--wait', '--timeout', '10', '-A', INTEROP_APP], env);
    const [id, line] = add.stdout.trim().split('\n');
    redis.track(celeryResultKey(id ?? ''));
    expect(add.code).toBe(0);
    expect(JSON.parse(line ?? '')).toMatchObject({ status: 'SUCCESS', result: [[2, 'x'], { k: null }] });
  }, 30_000);

  it('purge needs -f when stdin is not a terminal, then empties the queues', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    const env = celeryEnv({ queue });
    for (let i = 0; i < 3; i++) {
      const sent = await runCliProcess(['call', 'tasks.add', '--args', '[1, 1]', '--priority', String(i * 4), '--broker', env['CELERY_BROKER_URL'] ?? '', '-Q', queue], env);
      expect(sent.code).toBe(0);
    }
    const refused = await runCliProcess(['purge', '-Q', queue, '-A', INTEROP_APP], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('-f');
    const purged = await runCliProcess(['purge', '-Q', queue, '-f', '-A', INTEROP_APP], env);
    expect(purged.code).toBe(0);
    expect(purged.stdout).toContain(`Purged 3 messages from ${queue}.`);
  }, 30_000);

  it('usage errors exit 2, a module without an app exits 1', async () => {
    const unknown = await runCliProcess(['frobnicate']);
    expect(unknown.code).toBe(2);
    const badPool = await runCliProcess(['worker', '-A', INTEROP_APP, '--pool', 'gevent']);
    expect(badPool.code).toBe(2);
    expect(badPool.stderr).toContain('--pool must be async, thread or process');
    const noApp = await runCliProcess(['worker', '-A', fileURLToPath(new URL('./fixtures/pool-tasks.mjs', import.meta.url)) + ':nothing']);
    expect(noApp.code).toBe(1);
    expect(noApp.stderr).toContain('export named "nothing"');
    const help = await runCliProcess(['call', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: celeriac call <task>');
  }, 30_000);
});

describe('celeriac inspect', () => {
  it('ping, stats and active reach a running celeriac worker through its remote control', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    const env = celeryEnv({ queue });
    const name = `inspect-${queue.slice(-12)}@test`;
    await using _worker = await startCliWorker({ app: INTEROP_APP, env, args: ['-n', name] });
    const A = ['-A', INTEROP_APP, '-d', name];
    const ping = await runCliProcess(['inspect', 'ping', ...A], env);
    expect(ping.code).toBe(0);
    expect(JSON.parse(ping.stdout)).toEqual({ [name]: { ok: 'pong' } });
    const sent = await runCliProcess(['call', 'tasks.sleep', '--args', '[1]', '-A', INTEROP_APP], env);
    const id = sent.stdout.trim();
    redis.track(celeryResultKey(id));
    await _worker.waitForLog(new RegExp(`"task received","id":"${id}"`));
    const active = await runCliProcess(['inspect', 'active', ...A], env);
    expect(active.code).toBe(0);
    expect((JSON.parse(active.stdout) as Record<string, unknown[]>)[name]).toMatchObject([{ id, name: 'tasks.sleep', args: [1], acknowledged: true }]);
    const stats = await runCliProcess(['inspect', 'stats', ...A], env);
    expect((JSON.parse(stats.stdout) as Record<string, { total: Record<string, number>; prefetch_count: number }>)[name]).toMatchObject({
      total: { 'tasks.sleep': 1 },
      prefetch_count: expect.any(Number),
    });
    const nobody = await runCliProcess(['inspect', 'ping', '-A', INTEROP_APP, '-d', 'nobody@nowhere', '--timeout', '0.3'], env);
    expect(nobody.code).toBe(3);
  }, 30_000);
});

describe('celeriac worker: signals', () => {
  it('SIGTERM: running task finishes, held (ETA) and prefetched messages go back, exit 0', async () => {
    await using redis = await createTestRedis();
    const counter = redis.key('runs');
    const config = { broker_transport_options: { global_keyprefix: redis.prefix } };
    const env = celeryEnv({ queue: 'q', config });
    const worker = await startCliWorker({ app: COUNTING_APP, env, args: ['-c', '1'] });
    const call = async (args: string[]): Promise<string> => {
      const sent = await runCliProcess(['call', 'count.sleep', '-A', COUNTING_APP, ...args], env);
      expect(sent.code).toBe(0);
      const id = sent.stdout.trim();
      redis.track(celeryResultKey(id));
      return id;
    };
    // Long enough that the two `celeriac call` processes below are sent while it runs, also on
    // a loaded machine (the warm shutdown waits for it).
    const running = await call(['--args', JSON.stringify([counter, 4])]);
    await waitUntil(async () => (await redis.client.get(counter)) === '1', { message: 'first task never started' });
    const queued = await call(['--args', JSON.stringify([counter, 0])]);
    const held = await call(['--args', JSON.stringify([counter, 0]), '--countdown', '60']);
    await worker.waitForLog(new RegExp(`"task received","id":"${held}"`));
    await worker.waitForLog(new RegExp(`"task received","id":"${queued}"`));
    worker.signal('SIGTERM');
    const exit = await worker.exited;
    expect(exit.code).toBe(0);
    expect(await redis.client.get(counter)).toBe('1');
    const meta = JSON.parse((await redis.client.get(celeryResultKey(running))) ?? '{}') as { status?: string };
    expect(meta.status).toBe('SUCCESS');
    // Executed + requeued == sent: both others are back in the queue, nothing is unacked.
    const queuedRaw = await redis.client.lrange(`${redis.prefix}q`, 0, -1);
    expect(queuedRaw.map((raw) => (JSON.parse(raw) as { headers: { id: string } }).headers.id).sort()).toEqual([queued, held].sort());
    expect(await redis.client.hlen(`${redis.prefix}unacked`)).toBe(0);
    expect(worker.logs()).toContain('restored unacknowledged messages');
  }, 30_000);

  it('a second SIGTERM is a cold shutdown: the running acks_late task is aborted and its message restored', async () => {
    await using redis = await createTestRedis();
    const counter = redis.key('runs');
    const config = { task_acks_late: true, broker_transport_options: { global_keyprefix: redis.prefix } };
    const env = celeryEnv({ queue: 'q', config });
    const worker = await startCliWorker({ app: COUNTING_APP, env });
    const sent = await runCliProcess(['call', 'count.sleep', '--args', JSON.stringify([counter, 30]), '-A', COUNTING_APP], env);
    const id = sent.stdout.trim();
    redis.track(celeryResultKey(id));
    await waitUntil(async () => (await redis.client.get(counter)) === '1', { message: 'the task never started' });
    worker.signal('SIGTERM');
    await worker.waitForLog(/"msg":"waiting for running tasks"/);
    const before = Date.now();
    worker.signal('SIGTERM');
    expect((await worker.exited).code).toBe(0);
    expect(Date.now() - before).toBeLessThan(3_000);
    expect(await redis.client.llen(`${redis.prefix}q`)).toBe(1);
    expect(await redis.client.hlen(`${redis.prefix}unacked`)).toBe(0);
    expect(await redis.client.exists(celeryResultKey(id))).toBe(0);
  }, 30_000);
});

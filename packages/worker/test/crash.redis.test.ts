/**
 * RELIABILITY.md row 1: a worker SIGKILLed while running an acks_late task. The message stays
 * in `unacked`; another worker restores it after the visibility timeout (2 s here) and runs
 * it exactly once more.
 */
import { fileURLToPath } from 'node:url';
import { celeryEnv, celeryResultKey, createTestRedis, getResultsWithPython, waitUntil } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { runCliProcess, startCliWorker } from './cli-worker.ts';

const COUNTING_APP = fileURLToPath(new URL('./fixtures/counting-app.mjs', import.meta.url));

describe('worker killed with SIGKILL mid-task (acks_late)', () => {
  it('the task runs again after the visibility timeout, exactly once more', async () => {
    await using redis = await createTestRedis();
    const counter = redis.key('runs');
    // A keyspace of its own: a 2 s visibility timeout restores *any* stale unacked message.
    const config = { task_acks_late: true, broker_transport_options: { global_keyprefix: redis.prefix, visibility_timeout: 2 } };
    const env = celeryEnv({ queue: 'crash', config });
    const first = await startCliWorker({ app: COUNTING_APP, env, args: ['-n', 'crash1@%h'] });
    const sent = await runCliProcess(['call', 'count.run', '--args', JSON.stringify([counter]), '-A', COUNTING_APP], env);
    expect(sent.code).toBe(0);
    const id = sent.stdout.trim();
    redis.track(celeryResultKey(id));
    await waitUntil(async () => (await redis.client.get(counter)) === '1', { message: 'the task never started' });
    const killedAt = Date.now();
    first.signal('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(await redis.client.hlen(`${redis.prefix}unacked`)).toBe(1);

    await using _second = await startCliWorker({ app: COUNTING_APP, env, args: ['-n', 'crash2@%h'] });
    const [result] = await getResultsWithPython([id], 15, { config });
    expect(result).toMatchObject({ status: 'SUCCESS', result: { runs: 2, redelivered: true } });
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(1_000);
    // Nothing runs it a third time, and no unacked record is left.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await redis.client.get(counter)).toBe('2');
    expect(await redis.client.hlen(`${redis.prefix}unacked`)).toBe(0);
    expect(await redis.client.zcard(`${redis.prefix}unacked_index`)).toBe(0);
  }, 30_000);
});

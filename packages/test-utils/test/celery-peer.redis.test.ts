import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  assertCeleryAvailable,
  celeryResultKey,
  createTestRedis,
  getResultsWithPython,
  publishWithPython,
  startCeleryWorker,
} from '../src/index.ts';

beforeAll(async () => {
  // Fails (never skips) when Debian's python3-celery is missing.
  expect(await assertCeleryAvailable()).toMatch(/^5\.2\./);
});

describe('assertCeleryAvailable', () => {
  it('names the packages to install when the Python is unusable', async () => {
    vi.stubEnv('CELERY_PYTHON', '/nonexistent/python3');
    try {
      await expect(assertCeleryAvailable()).rejects.toThrow(
        "Debian's python3-celery is needed: apt-get install -y python3-celery python3-redis python3-msgpack",
      );
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('Python Celery peer', () => {
  it('runs tasks.add on a real worker (json)', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using worker = await startCeleryWorker({ queue });
    expect(worker.nodename).toMatch(/^celeriac-test-worker-[0-9a-f]{12}@/);

    const ids = await publishWithPython([{ task: 'tasks.add', args: [2, 3], options: { queue } }]);
    redis.track(...ids.map(celeryResultKey));
    expect(await getResultsWithPython(ids, 10)).toEqual([
      { id: ids[0], status: 'SUCCESS', result: 5, traceback: null },
    ]);
  });

  it('carries bytes and 64-bit ints through tasks.echo with msgpack tasks and results', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    const peer = { taskSerializer: 'msgpack', resultSerializer: 'msgpack' } as const;
    await using worker = await startCeleryWorker({ queue, ...peer });

    const bytes = new Uint8Array([0, 1, 0xfe, 0xff]);
    const call = {
      task: 'tasks.echo',
      args: [bytes, 'h\u00e9llo \u{1d11e}', 2n ** 63n - 1n],
      kwargs: { raw: Buffer.from('abc') },
      options: { queue },
    };
    const ids = await publishWithPython([call], peer);
    redis.track(...ids.map(celeryResultKey));
    const [result] = await getResultsWithPython(ids, 10, peer);
    expect(result).toEqual({
      id: ids[0],
      status: 'SUCCESS',
      result: [[bytes, 'h\u00e9llo \u{1d11e}', 2n ** 63n - 1n], { raw: new Uint8Array(Buffer.from('abc')) }],
      traceback: null,
    });
    // The stored meta really is msgpack (a fixmap), not JSON.
    const stored = await redis.client.getBuffer(celeryResultKey(ids[0] ?? ''));
    expect(stored?.[0]).toBe(0x86);
    expect(worker.logs().some((line) => line.includes(`tasks.echo[${ids[0] ?? ''}] succeeded`))).toBe(true);
  });

  it('reports failures, big ints, retries and timeouts like Celery', async () => {
    await using redis = await createTestRedis();
    const queue = redis.queue();
    await using _worker = await startCeleryWorker({ queue });

    const ids = await publishWithPython(
      [
        { task: 'tasks.fail', kwargs: { msg: 'boom \u2603' } },
        { task: 'tasks.types' },
        { task: 'tasks.retry_once', kwargs: { value: 'v', countdown: 0.2 } },
      ],
      { queue },
    );
    redis.track(...ids.map(celeryResultKey));
    const [failed, types, retried] = await getResultsWithPython(ids, 10);
    expect(failed).toMatchObject({
      status: 'FAILURE',
      result: { exc_type: 'InteropError', exc_message: ['boom \u2603'], exc_module: 'tasks' },
    });
    expect(failed?.traceback).toContain('InteropError: boom');
    expect(types).toMatchObject({
      status: 'SUCCESS',
      result: { big_int: 2n ** 70n, int64_max: 2n ** 63n - 1n, unicode: 'h\u00e9llo \u2603 \u{1d11e}', none: null },
    });
    expect(retried).toMatchObject({ status: 'SUCCESS', result: ['v', 1] });

    const pending = await getResultsWithPython(['celeriac-test-never-sent'], 0.2);
    expect(pending).toEqual([
      { id: 'celeriac-test-never-sent', status: 'PENDING', result: null, traceback: null, timedOut: true },
    ]);
  });

  it('stops a worker (SIGTERM) and explains one that cannot start', async () => {
    await using redis = await createTestRedis();
    const worker = await startCeleryWorker({ queue: redis.queue() });
    expect(await worker.stop()).toEqual({ code: 0, signal: null });
    expect(() => process.kill(worker.pid, 0)).toThrow();
    await worker.stop(); // idempotent

    await expect(
      startCeleryWorker({ queue: redis.queue(), extraArgs: ['--no-such-option'] }),
    ).rejects.toThrow(/exited \(2\).*\n[\s\S]*no-such-option/);
  });
});

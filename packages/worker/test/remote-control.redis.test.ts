/**
 * Remote control against real Celery 5.2.6: the `celery` CLI and `app.control` talk to our
 * RemoteControl, our `inspect`/`control` talk to a Python worker. Every test runs in its own
 * keyspace (`global_keyprefix` = the test prefix, on both sides), so other tests' workers on
 * the shared Redis never see these commands.
 */
import { execFile } from 'node:child_process';
import { createRedisBroker, type RedisBroker } from '@celeriac/broker-redis';
import {
  assertCeleryAvailable,
  celeryEnv,
  celeryPython,
  createTestRedis,
  monitorRedis,
  PYTHON_DIR,
  randomName,
  startCeleryWorker,
  type TestRedis,
} from '@celeriac/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { LamportClock } from '../src/events.ts';
import { control, inspect, mingle } from '../src/inspect.ts';
import { kombuTable, RemoteControl, type ControlRevokeOptions, type KombuTable } from '../src/remote-control.ts';

beforeAll(async () => {
  await assertCeleryAvailable();
});

const SEP = '\x06\x16';

interface Env {
  readonly broker: RedisBroker;
  readonly table: KombuTable;
  /** Celery settings that put a Python peer in the same keyspace. */
  readonly config: Readonly<Record<string, unknown>>;
}

function env(redis: TestRedis): Env & AsyncDisposable {
  const broker = createRedisBroker(redis.url, { transportOptions: { global_keyprefix: redis.prefix } });
  return {
    broker,
    table: kombuTable(redis.client, broker.keys),
    config: { broker_transport_options: { global_keyprefix: redis.prefix } },
    [Symbol.asyncDispose]: () => broker.close(),
  };
}

/** Runs `python -m celery -A tasks <args>` (or `python -c <code>` with `code`) in the test-utils app. */
function python(args: readonly string[], config: Readonly<Record<string, unknown>>, redis: TestRedis): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      celeryPython(),
      [...args],
      { cwd: PYTHON_DIR, env: celeryEnv({ brokerUrl: redis.url, config }), timeout: 30_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`${args.join(' ')} failed: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ stdout, stderr, code: error === null ? 0 : Number(error.code) });
      },
    );
  });
}

function celeryCli(args: readonly string[], e: Env, redis: TestRedis) {
  return python(['-m', 'celery', '-A', 'tasks', ...args], e.config, redis);
}

function nodeName(label: string): string {
  return `${randomName(label)}@celeriac`;
}

/** Keys under the test prefix whose name mentions a reply queue. */
async function replyKeys(redis: TestRedis): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.client.scan(cursor, 'MATCH', `${redis.prefix}*reply.celery.pidbox*`, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found.filter((key) => !key.endsWith('_kombu.binding.reply.celery.pidbox'));
}

describe('the celery CLI and app.control against our RemoteControl', () => {
  it('`celery inspect ping` is answered with pong, over kombu keys and channels', async () => {
    await using redis = await createTestRedis();
    await using e = env(redis);
    await using monitor = await monitorRedis(redis.url, { filter: (c) => c.args.some((a) => a.startsWith(redis.prefix)) });
    const hostname = nodeName('rc');
    await using rc = new RemoteControl({ broker: e.broker, table: e.table, hostname });
    await rc.start();
    const mailboxMember = `${SEP}${SEP}${hostname}.celery.pidbox`;
    expect(await redis.client.sismember(`${redis.prefix}_kombu.binding.celery.pidbox`, mailboxMember)).toBe(1);
    expect(monitor.count('psubscribe', (args) => args[0] === `${redis.prefix}/${redis.db}.celery.pidbox`)).toBe(1);

    const out = await celeryCli(['inspect', 'ping', '-t', '1'], e, redis);
    expect(out.stdout).toContain(`->  ${hostname}: OK`);
    expect(out.stdout).toMatch(/OK\s+pong/);
    expect(out.stdout).toContain('1 node online.');
    expect(out.code).toBe(0);
    // We looked the reply queue up before pushing, and the CLI took the reply and tidied up.
    const smembers = monitor.commands((c) => c.args[0]?.toLowerCase() === 'smembers');
    const lpush = monitor.commands((c) => c.args[0]?.toLowerCase() === 'lpush' && c.args[1]?.endsWith('.reply.celery.pidbox') === true);
    expect(smembers.map((c) => c.args[1])).toContain(`${redis.prefix}_kombu.binding.reply.celery.pidbox`);
    expect(lpush).toHaveLength(1);
    expect(await replyKeys(redis)).toEqual([]);

    await rc.close();
    expect(await redis.client.sismember(`${redis.prefix}_kombu.binding.celery.pidbox`, mailboxMember)).toBe(0);
    expect(monitor.count('punsubscribe', (args) => args[0] === `${redis.prefix}/${redis.db}.celery.pidbox`)).toBe(1);
  });

  it('`celery inspect stats|active|registered|query_task --json` read our replies', async () => {
    await using redis = await createTestRedis();
    await using e = env(redis);
    const hostname = nodeName('rc');
    const running = {
      id: 'task-1',
      name: 'tasks.sleep',
      args: [1],
      kwargs: {},
      type: 'tasks.sleep',
      hostname,
      time_start: 1_700_000_000.5,
      acknowledged: true,
      delivery_info: { exchange: '', routing_key: 'celery', priority: 0, redelivered: false },
      worker_pid: process.pid,
    };
    await using rc = new RemoteControl({
      broker: e.broker,
      table: e.table,
      hostname,
      brokerUrl: redis.url,
      handlers: {
        active: () => [running],
        registered: () => ['tasks.sleep', 'tasks.add'],
        stats: () => ({ total: { 'tasks.sleep': 4 }, prefetch_count: 16, pool: { 'max-concurrency': 4 } }),
      },
    });
    await rc.start();
    const json = async (...args: string[]) => {
      const out = await celeryCli(['inspect', ...args, '-t', '3', '-j', '-d', hostname], e, redis);
      expect(out.code, out.stderr).toBe(0);
      return (JSON.parse(out.stdout) as Record<string, unknown>)[hostname];
    };
    const stats = (await json('stats')) as Record<string, unknown>;
    expect(Object.keys(stats)).toEqual(['total', 'pid', 'clock', 'uptime', 'pool', 'broker', 'prefetch_count', 'rusage']);
    expect(stats).toMatchObject({
      total: { 'tasks.sleep': 4 },
      pid: process.pid,
      prefetch_count: 16,
      pool: { 'max-concurrency': 4, processes: [process.pid] },
      broker: { transport: 'redis', hostname: new URL(redis.url).hostname, port: Number(new URL(redis.url).port || 6379) },
    });
    expect(Number(stats['clock'])).toBeGreaterThan(0);
    expect(await json('active')).toEqual([running]);
    expect(await json('registered')).toEqual(['tasks.add', 'tasks.sleep']);
    expect(await json('query_task', 'task-1')).toEqual({ 'task-1': ['active', running] });
  });

  it('app.control.revoke reaches our handler, with and without a reply', async () => {
    await using redis = await createTestRedis();
    await using e = env(redis);
    const hostname = nodeName('rc');
    const calls: [string[], ControlRevokeOptions][] = [];
    await using rc = new RemoteControl({
      broker: e.broker,
      table: e.table,
      hostname,
      handlers: {
        revoke: (ids, options) => {
          calls.push([ids, options]);
          return options.terminate ? ids.slice(0, 1) : [];
        },
      },
    });
    await rc.start();
    const code = [
      'import json, tasks',
      "tasks.app.control.revoke('id-1')",
      "replies = tasks.app.control.revoke(['id-2', 'id-3'], terminate=True, signal='SIGKILL', reply=True, timeout=1)",
      'print(json.dumps(replies))',
    ].join('\n');
    const out = await python(['-c', code], e.config, redis);
    expect(out.code, out.stderr).toBe(0);
    expect(calls).toEqual([
      [['id-1'], { terminate: false, signal: 'SIGTERM' }],
      [['id-2', 'id-3'], { terminate: true, signal: 'SIGKILL' }],
    ]);
    expect(JSON.parse(out.stdout)).toEqual([{ [hostname]: { ok: 'terminate: id-2' } }]);
    expect(await replyKeys(redis)).toEqual([]);
  });
});

/**
 * Waits until a Celery worker answers a ping: it logs `ready.` slightly before its pidbox
 * PSUBSCRIBE, and a command published in between is lost (fanout is fire-and-forget).
 */
async function untilListening(e: Env, nodename: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const replies = await inspect(e.broker, 'ping', { table: e.table, timeout: 1, destination: [nodename] });
    if (replies.has(nodename)) return;
  }
  throw new Error(`${nodename} never answered a ping`);
}

describe('our inspect/control against a real Celery worker', () => {
  it("gets a Celery worker's ping, stats and error replies, the same as our RemoteControl's", async () => {
    await using redis = await createTestRedis();
    await using e = env(redis);
    await using worker = await startCeleryWorker({ queue: redis.queue(), brokerUrl: redis.url, config: e.config });
    await untilListening(e, worker.nodename);
    const hostname = nodeName('rc');
    await using rc = new RemoteControl({ broker: e.broker, table: e.table, hostname });
    await rc.start();

    const pings = await inspect(e.broker, 'ping', { table: e.table, timeout: 3, destination: [worker.nodename, hostname] });
    expect(Object.fromEntries(pings)).toEqual({ [worker.nodename]: { ok: 'pong' }, [hostname]: { ok: 'pong' } });

    const unknown = await inspect(e.broker, 'no_such_command', { table: e.table, timeout: 3, destination: [worker.nodename, hostname] });
    expect(unknown.get(worker.nodename)).toEqual({ error: "KeyError('no_such_command')" });
    expect(unknown.get(hostname)).toEqual(unknown.get(worker.nodename));

    const stats = await inspect(e.broker, 'stats', { table: e.table, timeout: 3, destination: [worker.nodename, hostname] });
    const theirs = stats.get(worker.nodename) as Record<string, unknown>;
    const ours = stats.get(hostname) as Record<string, unknown>;
    expect(Object.keys(ours)).toEqual(Object.keys(theirs));
    expect(Object.keys(ours['pool'] as object)).toEqual(Object.keys(theirs['pool'] as object));
    expect(Object.keys(ours['broker'] as object)).toEqual(Object.keys(theirs['broker'] as object));
    expect(Object.keys(ours['rusage'] as object)).toEqual(Object.keys(theirs['rusage'] as object));

    const registered = await inspect(e.broker, 'registered', { table: e.table, timeout: 3, destination: [worker.nodename] });
    expect(registered.get(worker.nodename)).toEqual(expect.arrayContaining(['tasks.add', 'tasks.echo']));
    expect(await replyKeys(redis)).toEqual([]);
    expect(await redis.client.smembers(`${redis.prefix}_kombu.binding.reply.celery.pidbox`)).toEqual([]);
  });

  it("control('revoke') reaches a Celery worker, and mingle learns its revoked ids and clock", async () => {
    await using redis = await createTestRedis();
    await using e = env(redis);
    await using worker = await startCeleryWorker({ queue: redis.queue(), brokerUrl: redis.url, config: e.config });
    await untilListening(e, worker.nodename);
    const revokedId = `revoked-${randomName()}`;
    await control(e.broker, 'revoke', { task_id: revokedId, terminate: false, signal: 'SIGTERM' });
    await worker.waitForLog(`Tasks flagged as revoked: ${revokedId}`);
    const listed = await inspect(e.broker, 'revoked', { table: e.table, timeout: 3, destination: [worker.nodename] });
    expect(listed.get(worker.nodename)).toEqual([revokedId]);

    const clock = new LamportClock();
    const result = await mingle(e.broker, { hostname: nodeName('new'), table: e.table, clock, revoked: ['ours-1'], timeout: 1 });
    expect(result.nodes).toEqual([worker.nodename]);
    // The Python worker merged the ids we sent before replying with its whole set.
    expect(result.revoked.sort()).toEqual([revokedId, 'ours-1'].sort());
    expect(clock.value).toBeGreaterThan(1);
    const after = await inspect(e.broker, 'revoked', { table: e.table, timeout: 3, destination: [worker.nodename] });
    expect(((after.get(worker.nodename) as string[] | undefined) ?? []).sort()).toEqual([revokedId, 'ours-1'].sort());
  });
});

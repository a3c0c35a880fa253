/**
 * Our events on real Redis: decoded from a raw PSUBSCRIBE as Celery's wire has them, and fed
 * to Celery 5.2.6's own event receiver and state tracker (what `celery events` and Flower
 * use). Each test runs in its own keyspace (`global_keyprefix` = the test prefix).
 */
import { spawn } from 'node:child_process';
import { createRedisBroker } from '@celeriac/broker-redis';
import {
  assertCeleryAvailable,
  celeryEnv,
  celeryPython,
  createTestRedis,
  monitorRedis,
  PYTHON_DIR,
  randomName,
  waitUntil,
} from '@celeriac/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeKombuJson, EventDispatcher, LamportClock, utcoffset } from '../src/events.ts';
import { kombuTable, RemoteControl } from '../src/remote-control.ts';

beforeAll(async () => {
  await assertCeleryAvailable();
});

/** The fields Celery's state tracker reads from worker events. */
const WORKER_FIELDS = [
  'hostname', 'utcoffset', 'pid', 'clock', 'freq', 'active', 'processed', 'loadavg', 'sw_ident', 'sw_ver', 'sw_sys', 'timestamp', 'type',
];

describe('events on the wire', () => {
  it('worker and task events arrive on /<db>.celeryev/<routing key> with Celery\'s envelope and fields', async () => {
    await using redis = await createTestRedis();
    await using broker = createRedisBroker(redis.url, { transportOptions: { global_keyprefix: redis.prefix } });
    const subscriber = redis.duplicate();
    const received: { channel: string; envelope: Record<string, unknown>; body: unknown }[] = [];
    subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
      received.push({ channel, envelope: JSON.parse(message) as Record<string, unknown>, body: decodeKombuJson(message).body });
    });
    await subscriber.psubscribe(`${redis.prefix}/${redis.db}.celeryev/*`);

    const hostname = `${randomName('ev')}@celeriac`;
    let processed = 0;
    const events = new EventDispatcher({
      broker,
      hostname,
      enabled: true,
      heartbeatInterval: 0.2,
      state: () => ({ active: 1, processed }),
      software: { version: '1.2.3' },
    });
    await events.start();
    events.sendTaskEvent('task-received', { uuid: 't1', name: 'tasks.add', args: '(2, 3)', kwargs: '{}', retries: 0 });
    events.sendTaskEvent('task-started', { uuid: 't1' });
    processed = 1;
    events.sendTaskEvent('task-succeeded', { uuid: 't1', result: '5', runtime: 0.01 });
    await waitUntil(() => received.filter((r) => r.channel.endsWith('/worker.heartbeat')).length >= 2);
    await events.close();
    await waitUntil(() => received.some((r) => r.channel.endsWith('/worker.offline')));

    const base = `${redis.prefix}/${redis.db}.celeryev/`;
    const channels = received.map((r) => r.channel.slice(base.length));
    expect(channels[0]).toBe('worker.online');
    expect(channels).toContain('task.multi');
    expect(channels.at(-1)).toBe('worker.offline');
    expect(channels.filter((c) => c === 'worker.heartbeat').length).toBeGreaterThanOrEqual(2);
    for (const { channel, envelope } of received) {
      expect(envelope['headers']).toEqual({ hostname });
      expect(envelope['content-type']).toBe('application/json');
      expect(envelope['properties']).toMatchObject({
        delivery_mode: 1,
        delivery_info: { exchange: 'celeryev', routing_key: channel.slice(base.length) },
        body_encoding: 'base64',
      });
    }
    const heartbeat = received.find((r) => r.channel.endsWith('/worker.heartbeat'))?.body as Record<string, unknown>;
    expect(Object.keys(heartbeat)).toEqual(WORKER_FIELDS);
    expect(heartbeat).toMatchObject({ hostname, utcoffset: utcoffset(), pid: process.pid, freq: 0.2, active: 1, sw_ident: 'celeriac', sw_ver: '1.2.3', sw_sys: 'Linux', type: 'worker-heartbeat' });
    const batch = received.find((r) => r.channel.endsWith('/task.multi'))?.body as Record<string, unknown>[];
    expect(batch.map((e) => e['type'])).toEqual(['task-received', 'task-started', 'task-succeeded']);
    expect(batch[0]).toMatchObject({ hostname, uuid: 't1', name: 'tasks.add', args: '(2, 3)', root_id: null, eta: null });
    // One Lamport clock over every event, in publish order for worker events.
    const clocks = received.flatMap((r) => (Array.isArray(r.body) ? r.body : [r.body]).map((e) => (e as { clock: number }).clock));
    expect(new Set(clocks).size).toBe(clocks.length);
    expect(Math.max(...clocks)).toBe(clocks.length);
  });
});

/**
 * Celery's own receiver and state tracker. Prints READY once consuming (after its wake-up
 * broadcast, the `heartbeat` control command), stops at our worker-offline, prints JSON.
 */
const RECEIVER = `
import json, socket, sys, time
import tasks
app = tasks.app
host = sys.argv[1]
state = app.events.State()
seen, snapshots = [], []
def on_event(event):
    state.event(event)
    if event.get('hostname') != host:
        return
    seen.append(event['type'])
    w = state.workers.get(host)
    if w is not None and event['type'].startswith('worker-'):
        snapshots.append({'type': event['type'], 'alive': w.alive, 'heartbeats': len(w.heartbeats), 'freq': w.freq,
                          'sw_ident': w.sw_ident, 'sw_ver': w.sw_ver, 'sw_sys': w.sw_sys, 'active': w.active,
                          'processed': w.processed, 'loadavg': list(w.loadavg or []), 'clock': w.clock, 'pid': w.pid})
    if event['type'] == 'worker-offline':
        recv.should_stop = True
with app.connection_for_read() as conn:
    recv = app.events.Receiver(conn, handlers={'*': on_event})
    original = recv.on_consume_ready
    def ready(connection, channel, consumers, **kwargs):
        original(connection, channel, consumers, **kwargs)
        print('READY', flush=True)
    recv.on_consume_ready = ready
    try:
        recv.capture(limit=None, timeout=float(sys.argv[2]), wakeup=True)
    except socket.timeout:
        pass
tasks_out = {}
for uuid, t in state.tasks.items():
    tasks_out[uuid] = {'state': t.state, 'name': t.name, 'args': t.args, 'kwargs': t.kwargs, 'result': t.result,
                       'runtime': t.runtime, 'exception': t.exception, 'traceback': t.traceback, 'retries': t.retries,
                       'worker': t.worker.hostname if t.worker else None, 'received': t.received, 'started': t.started,
                       'succeeded': t.succeeded, 'failed': t.failed}
w = state.workers.get(host)
print(json.dumps({'seen': seen, 'snapshots': snapshots, 'tasks': tasks_out,
                  'alive_after_offline': None if w is None else w.alive}), flush=True)
`;

interface ReceiverOutput {
  seen: string[];
  snapshots: Record<string, unknown>[];
  tasks: Record<string, Record<string, unknown>>;
  alive_after_offline: boolean | null;
}

describe("Celery's event receiver and state tracker", () => {
  it('tracks our worker (alive, heartbeats, software) and our tasks, and wakes us with a heartbeat command', async () => {
    await using redis = await createTestRedis();
    await using broker = createRedisBroker(redis.url, { transportOptions: { global_keyprefix: redis.prefix } });
    const hostname = `${randomName('ev')}@celeriac`;
    const clock = new LamportClock();
    let wakeups = 0;
    // A long interval: the only heartbeat comes from the receiver's wake-up broadcast.
    const events = new EventDispatcher({
      broker,
      hostname,
      clock,
      enabled: true,
      heartbeatInterval: 60,
      state: () => ({ active: 0, processed: 2 }),
    });
    await using rc = new RemoteControl({
      broker,
      table: kombuTable(redis.client, broker.keys),
      hostname,
      clock,
      handlers: {
        heartbeat: async () => {
          await events.heartbeatNow();
          wakeups += 1;
        },
      },
    });
    await rc.start();

    const pattern = `${redis.prefix}/${redis.db}.celeryev/*`;
    await using monitor = await monitorRedis(redis.url, { filter: (c) => c.args[1] === pattern });
    const config = { broker_transport_options: { global_keyprefix: redis.prefix } };
    const child = spawn(celeryPython(), ['-c', RECEIVER, hostname, '20'], {
      cwd: PYTHON_DIR,
      env: celeryEnv({ brokerUrl: redis.url, config }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await waitUntil(() => stdout.includes('READY'), { timeoutMs: 20_000, message: `receiver not ready: ${stderr}` });
      // Its wake-up broadcast reached our RemoteControl, which sent a heartbeat.
      await waitUntil(() => wakeups === 1, { message: 'no heartbeat command from the receiver' });
      // kombu PSUBSCRIBEs lazily, on the receiver's first poll; events before it are lost.
      await monitor.waitFor((c) => c.args[0]?.toLowerCase() === 'psubscribe', 20_000);
      await events.start();
      const t0 = Date.now() / 1000;
      events.sendTaskEvent('task-received', { uuid: 'ok-1', name: 'tasks.add', args: '(2, 3)', kwargs: '{}', retries: 0, timestamp: t0 });
      events.sendTaskEvent('task-started', { uuid: 'ok-1', timestamp: t0 + 0.01 });
      events.sendTaskEvent('task-succeeded', { uuid: 'ok-1', result: '5', runtime: 0.25, timestamp: t0 + 0.02 });
      events.sendTaskEvent('task-received', { uuid: 'bad-1', name: 'tasks.fail', args: '()', kwargs: "{'msg': 'x'}", retries: 0 });
      events.sendTaskEvent('task-failed', { uuid: 'bad-1', exception: "InteropError('x')", traceback: 'Traceback …' });
      await events.flush();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await events.close();
      expect(await exited, stderr).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    const out = JSON.parse(stdout.slice(stdout.indexOf('{'))) as ReceiverOutput;
    // The heartbeat answering the receiver's wake-up broadcast may beat kombu's lazy PSUBSCRIBE
    // (so with a Python worker too); everything after the PSUBSCRIBE must arrive.
    expect(out.seen.filter((type, i) => i > 0 || type !== 'worker-heartbeat')).toEqual([
      'worker-online',
      'task-received', 'task-started', 'task-succeeded', 'task-received', 'task-failed',
      'worker-offline',
    ]);
    const online = out.snapshots.find((s) => s['type'] === 'worker-online');
    expect(online).toMatchObject({ alive: true, freq: 60, sw_ident: 'celeriac', sw_sys: 'Linux', active: 0, processed: 2, pid: process.pid });
    expect(online?.['heartbeats']).toBe(out.seen[0] === 'worker-heartbeat' ? 2 : 1);
    expect((online?.['loadavg'] as number[]).length).toBe(3);
    expect(out.snapshots.at(-1)).toMatchObject({ type: 'worker-offline', alive: false, heartbeats: 0 });
    expect(out.alive_after_offline).toBe(false);
    expect(out.tasks['ok-1']).toMatchObject({
      state: 'SUCCESS', name: 'tasks.add', args: '(2, 3)', kwargs: '{}', result: '5', runtime: 0.25, worker: hostname,
    });
    expect(out.tasks['ok-1']?.['succeeded']).toBeCloseTo(Date.now() / 1000, -2);
    expect(out.tasks['bad-1']).toMatchObject({ state: 'FAILURE', name: 'tasks.fail', exception: "InteropError('x')", worker: hostname });
  });
});

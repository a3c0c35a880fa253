import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  buildTaskEvent,
  decodeKombuJson,
  encodeKombuJson,
  EventDispatcher,
  LamportClock,
  TASK_EVENT_TYPES,
  utcoffset,
  type TaskEventPayload,
} from './events.ts';

/** `PUBLISH /1.celeryev/worker.online` by Celery 5.2.6 (celery-captures/w_startup.log). */
const CAPTURED_WORKER_ONLINE =
  '{"body": "eyJob3N0bmFtZSI6ICJ3MUB2bSIsICJ1dGNvZmZzZXQiOiAwLCAicGlkIjogOTk2MiwgImNsb2NrIjogMSwgImZyZXEiOiAyLjAsICJhY3RpdmUiOiAwLCAicHJvY2Vzc2VkIjogMCwgImxvYWRhdmciOiBbMC4xMiwgMC4xNiwgMC4wNl0sICJzd19pZGVudCI6ICJweS1jZWxlcnkiLCAic3dfdmVyIjogIjUuMi42IiwgInN3X3N5cyI6ICJMaW51eCIsICJ0aW1lc3RhbXAiOiAxNzk1ODA1NzUwLjk1MjgwMzYsICJ0eXBlIjogIndvcmtlci1vbmxpbmUifQ==", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"hostname": "w1@vm"}, "properties": {"delivery_mode": 1, "delivery_info": {"exchange": "celeryev", "routing_key": "worker.online"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "82c0b316-329b-4a3e-814e-c1fe46840cb6"}}';

/** `PUBLISH /1.celeryev/task.multi` by Celery 5.2.6 (celery-captures/w_revoke.log): one task-received. */
const CAPTURED_TASK_MULTI =
  '{"body": "W3siaG9zdG5hbWUiOiAidzFAdm0iLCAidXRjb2Zmc2V0IjogMCwgInBpZCI6IDk5NjIsICJjbG9jayI6IDY3LCAidXVpZCI6ICI4NGVlMWI5NC1mMTE0LTQ1MjMtYjk4Ny0zNDFiN2M1MDRjZWEiLCAibmFtZSI6ICJ0YXNrcy5hZGQiLCAiYXJncyI6ICIoNywgNykiLCAia3dhcmdzIjogInt9IiwgInJvb3RfaWQiOiAiODRlZTFiOTQtZjExNC00NTIzLWI5ODctMzQxYjdjNTA0Y2VhIiwgInBhcmVudF9pZCI6IG51bGwsICJyZXRyaWVzIjogMCwgImV0YSI6ICIyMDI2LTExLTI3VDE4OjU2OjE2LjU1NDU3NCswMDowMCIsICJleHBpcmVzIjogbnVsbCwgInRpbWVzdGFtcCI6IDE3OTU4MDU3NzMuNTU2Mjk1OSwgInR5cGUiOiAidGFzay1yZWNlaXZlZCJ9XQ==", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"hostname": "w1@vm"}, "properties": {"delivery_mode": 1, "delivery_info": {"exchange": "celeryev", "routing_key": "task.multi"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "d5b8800f-4dbd-46cf-980e-39a77dd8fc57"}}';

interface Published {
  readonly exchange: string;
  readonly routingKey: string;
  readonly envelope: Record<string, unknown>;
  readonly body: unknown;
}

/** A broker that records fanout publishes (and can fail the next ones). */
function recordingBroker() {
  const published: Published[] = [];
  let failures = 0;
  return {
    published,
    failNext(n: number) {
      failures = n;
    },
    publishFanout(exchange: string, routingKey: string, raw: Uint8Array | string): Promise<void> {
      if (failures > 0) {
        failures -= 1;
        return Promise.reject(new Error('connection lost'));
      }
      const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
      const envelope = JSON.parse(text) as Record<string, unknown>;
      published.push({ exchange, routingKey, envelope, body: decodeKombuJson(text).body });
      return Promise.resolve();
    },
  };
}

/** The key structure of a JSON value: objects become their keys in order (recursively). */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
  }
  return value === null ? 'null' : typeof value;
}

function keysOf(value: unknown): string[] {
  return Object.keys(value as Record<string, unknown>);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('LamportClock', () => {
  it('forwards by one and adjusts to max(ours, theirs) + 1, as kombu', () => {
    const clock = new LamportClock();
    expect(clock.value).toBe(0);
    expect(clock.forward()).toBe(1);
    expect(clock.adjust(10)).toBe(11);
    expect(clock.adjust(3)).toBe(12);
    expect(clock.adjust('x')).toBe(13);
    expect(clock.adjust(Number.NaN)).toBe(14);
    expect(clock.value).toBe(14);
  });
});

describe('kombu envelope', () => {
  it('has the structure of a captured Celery event envelope', () => {
    const captured = JSON.parse(CAPTURED_WORKER_ONLINE) as Record<string, unknown>;
    const ours = JSON.parse(
      encodeKombuJson({ a: 1 }, { hostname: 'w1@vm' }, { exchange: 'celeryev', routingKey: 'worker.online', deliveryMode: 1 }),
    ) as Record<string, unknown>;
    expect(shape(ours)).toEqual(shape(captured));
    expect(ours['headers']).toEqual(captured['headers']);
    const { delivery_tag: ourTag, ...ourProps } = ours['properties'] as Record<string, unknown>;
    const { delivery_tag: _theirTag, ...theirProps } = captured['properties'] as Record<string, unknown>;
    expect(ourProps).toEqual(theirProps);
    expect(ourTag).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(decodeKombuJson(JSON.stringify(ours)).body).toEqual({ a: 1 });
  });

  it('decodes captured Celery envelopes and refuses a body that is not JSON', () => {
    const online = decodeKombuJson(CAPTURED_WORKER_ONLINE);
    expect(online.headers).toEqual({ hostname: 'w1@vm' });
    expect(online.body).toMatchObject({ type: 'worker-online', sw_ident: 'py-celery', freq: 2 });
    const plain = decodeKombuJson(
      JSON.stringify({
        body: '{"x": 1}',
        'content-encoding': 'utf-8',
        'content-type': 'application/json',
        headers: {},
        properties: { delivery_tag: 't', delivery_info: { exchange: 'e', routing_key: '' } },
      }),
    );
    expect(plain.body).toEqual({ x: 1 });
    const pickle = CAPTURED_WORKER_ONLINE.replace('application/json', 'application/x-python-serialize');
    expect(() => decodeKombuJson(pickle)).toThrow(/application\/x-python-serialize/);
    expect(() => decodeKombuJson('not json')).toThrow();
  });
});

describe('buildTaskEvent', () => {
  it("orders Celery's fields for the type, fills missing ones with null, keeps extras", () => {
    const fields = buildTaskEvent('task-received', {
      type: 'task-received',
      hostname: 'x@y',
      pid: 1,
      timestamp: 12.5,
      uuid: 'id-1',
      name: 'tasks.add',
      args: '(2, 3)',
      kwargs: '{}',
      retries: 0,
      custom: 'yes',
    });
    expect(keysOf(fields)).toEqual([
      'uuid', 'name', 'args', 'kwargs', 'root_id', 'parent_id', 'retries', 'eta', 'expires', 'timestamp', 'custom',
    ]);
    expect(fields).toMatchObject({ uuid: 'id-1', root_id: null, eta: null, timestamp: 12.5, custom: 'yes' });
  });

  it('sends the signal number in task-revoked, as Celery', () => {
    expect(buildTaskEvent('task-revoked', { uuid: 'a', terminated: true, signum: 'SIGKILL', expired: false })).toEqual({
      uuid: 'a', terminated: true, signum: 9, expired: false,
    });
    expect(buildTaskEvent('task-revoked', { uuid: 'a', terminated: false, signum: null, expired: true })['signum']).toBeNull();
  });

  it('refuses a payload without a uuid', () => {
    expect(() => buildTaskEvent('task-started', {})).toThrow(/task-started payload to have a string uuid/);
  });
});

describe('EventDispatcher', () => {
  it('sends worker-online with the fields and key order of a captured Celery worker-online', async () => {
    const broker = recordingBroker();
    const events = new EventDispatcher({ broker, hostname: 'w1@vm', state: () => ({ active: 2, processed: 7 }) });
    await events.start();
    await events.close();
    const [online, offline] = broker.published;
    expect(broker.published).toHaveLength(2);
    const captured = decodeKombuJson(CAPTURED_WORKER_ONLINE).body as Record<string, unknown>;
    expect(online).toMatchObject({ exchange: 'celeryev', routingKey: 'worker.online' });
    expect(keysOf(online?.body)).toEqual(keysOf(captured));
    expect(online?.envelope['headers']).toEqual({ hostname: 'w1@vm' });
    expect(online?.envelope['properties']).toMatchObject({
      delivery_mode: 1,
      delivery_info: { exchange: 'celeryev', routing_key: 'worker.online' },
    });
    const body = online?.body as Record<string, unknown>;
    expect(body).toMatchObject({
      hostname: 'w1@vm',
      utcoffset: utcoffset(),
      pid: process.pid,
      clock: 1,
      freq: 2,
      active: 2,
      processed: 7,
      sw_ident: 'celeriac',
      type: 'worker-online',
    });
    expect(body['loadavg']).toHaveLength(3);
    expect(Math.abs((body['timestamp'] as number) - Date.now() / 1000)).toBeLessThan(5);
    expect(offline).toMatchObject({ routingKey: 'worker.offline', body: { type: 'worker-offline', clock: 2 } });
  });

  it('sends a heartbeat every interval with an increasing clock, and stops on close', async () => {
    vi.useFakeTimers();
    const broker = recordingBroker();
    let processed = 0;
    const events = new EventDispatcher({ broker, hostname: 'h@x', heartbeatInterval: 0.5, state: () => ({ active: 0, processed }) });
    await events.start();
    processed = 3;
    await vi.advanceTimersByTimeAsync(1600);
    await events.close();
    await vi.advanceTimersByTimeAsync(2000);
    const types = broker.published.map((p) => (p.body as Record<string, unknown>)['type']);
    expect(types).toEqual(['worker-online', 'worker-heartbeat', 'worker-heartbeat', 'worker-heartbeat', 'worker-offline']);
    const clocks = broker.published.map((p) => (p.body as Record<string, unknown>)['clock']);
    expect(clocks).toEqual([1, 2, 3, 4, 5]);
    expect(broker.published[1]).toMatchObject({ routingKey: 'worker.heartbeat', body: { freq: 0.5, processed: 3 } });
  });

  it('sends no worker events with heartbeat: false, and no task events unless enabled', async () => {
    const broker = recordingBroker();
    const events = new EventDispatcher({ broker, hostname: 'h@x', heartbeat: false });
    await events.start();
    void events.send('task-started', { uuid: 'a' });
    await events.close();
    expect(broker.published).toEqual([]);
  });

  it('batches task events into one task.multi array with the captured task-received key order', async () => {
    const broker = recordingBroker();
    const clock = new LamportClock(66);
    const events = new EventDispatcher({ broker, hostname: 'w1@vm', enabled: true, heartbeat: false, clock, flushIntervalMs: 20 });
    await events.start();
    events.sendTaskEvent('task-received', {
      uuid: '84ee1b94-f114-4523-b987-341b7c504cea',
      name: 'tasks.add',
      args: '(7, 7)',
      kwargs: '{}',
      root_id: '84ee1b94-f114-4523-b987-341b7c504cea',
      parent_id: null,
      retries: 0,
      eta: '2026-11-27T18:56:16.554574+00:00',
      expires: null,
    });
    events.sendTaskEvent('task-started', { uuid: '84ee1b94-f114-4523-b987-341b7c504cea' });
    expect(events.buffered).toBe(2);
    expect(broker.published).toHaveLength(0);
    await vi.waitFor(() => expect(broker.published).toHaveLength(1));
    const [multi] = broker.published;
    expect(multi).toMatchObject({ exchange: 'celeryev', routingKey: 'task.multi' });
    expect(multi?.envelope['headers']).toEqual({ hostname: 'w1@vm' });
    const batch = multi?.body as Record<string, unknown>[];
    const captured = decodeKombuJson(CAPTURED_TASK_MULTI).body as Record<string, unknown>[];
    expect(Array.isArray(batch)).toBe(true);
    expect(keysOf(batch[0])).toEqual(keysOf(captured[0]));
    const { timestamp: _a, pid: _b, utcoffset: _c, ...ours } = batch[0] ?? {};
    const { timestamp: _d, pid: _e, utcoffset: _f, ...theirs } = captured[0] ?? {};
    expect(ours).toEqual(theirs); // clock 67 included
    expect(batch[1]).toMatchObject({ type: 'task-started', clock: 68 });
    await events.close();
  });

  it('flushes at bufferLimit without waiting for the timer, in order', async () => {
    const broker = recordingBroker();
    const events = new EventDispatcher({ broker, hostname: 'h', enabled: true, heartbeat: false, bufferLimit: 3, flushIntervalMs: 60_000 });
    for (let i = 0; i < 7; i += 1) events.sendTaskEvent('task-started', { uuid: `t${i}` });
    await vi.waitFor(() => expect(broker.published).toHaveLength(2));
    await events.close();
    const batches = broker.published.map((p) => (p.body as { uuid: string }[]).map((e) => e.uuid));
    expect(batches).toEqual([['t0', 't1', 't2'], ['t3', 't4', 't5'], ['t6']]);
  });

  it('keeps task events of a failed publish for the next flush', async () => {
    const broker = recordingBroker();
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
    const events = new EventDispatcher({ broker, hostname: 'h', enabled: true, heartbeat: false, logger });
    events.sendTaskEvent('task-started', { uuid: 'a' });
    broker.failNext(1);
    await events.flush();
    expect(broker.published).toHaveLength(0);
    expect(events.buffered).toBe(1);
    expect(warnings).toEqual(['task events not published; kept for the next flush']);
    events.sendTaskEvent('task-succeeded', { uuid: 'a', result: '1', runtime: 0.1 });
    await events.flush();
    expect((broker.published[0]?.body as { type: string }[]).map((e) => e.type)).toEqual(['task-started', 'task-succeeded']);
    await events.close();
  });

  it("forwards a worker's task events through attachTo until detached", async () => {
    const broker = recordingBroker();
    const worker = new EventEmitter();
    const events = new EventDispatcher({ broker, hostname: 'h', enabled: true, heartbeat: false });
    const detach = events.attachTo(worker);
    for (const type of TASK_EVENT_TYPES) expect(worker.listenerCount(type)).toBe(1);
    const payload: TaskEventPayload = { uuid: 'u1', hostname: 'h', pid: 1, timestamp: 100, type: 'task-succeeded', result: '5', runtime: 0.25 };
    worker.emit('task-succeeded', payload);
    worker.emit('task-started', { timestamp: 1 }); // no uuid: dropped
    detach();
    for (const type of TASK_EVENT_TYPES) expect(worker.listenerCount(type)).toBe(0);
    worker.emit('task-failed', { uuid: 'u2', exception: "Error('x')", traceback: null });
    await events.close();
    expect(broker.published).toHaveLength(1);
    expect(broker.published[0]?.body).toEqual([
      { hostname: 'h', utcoffset: utcoffset(), pid: process.pid, clock: 1, uuid: 'u1', result: '5', runtime: 0.25, timestamp: 100, type: 'task-succeeded' },
    ]);
  });

  it('switches task events on and off for the enable_events/disable_events commands', async () => {
    const broker = recordingBroker();
    const events = new EventDispatcher({ broker, hostname: 'h', heartbeat: false });
    expect(events.taskEventsEnabled).toBe(false);
    expect(events.enableTaskEvents()).toBe(true);
    expect(events.enableTaskEvents()).toBe(false);
    events.sendTaskEvent('task-started', { uuid: 'a' });
    expect(events.disableTaskEvents()).toBe(true);
    events.sendTaskEvent('task-started', { uuid: 'b' });
    await events.close();
    expect(broker.published.map((p) => (p.body as { uuid: string }[]).map((e) => e.uuid))).toEqual([['a']]);
  });

  it('rejects a bad interval', () => {
    expect(() => new EventDispatcher({ broker: recordingBroker(), hostname: 'h', heartbeatInterval: 0 })).toThrow(RangeError);
  });
});

describe('utcoffset', () => {
  it("is Celery's hours west of UTC", () => {
    const date = new Date();
    expect(utcoffset(date)).toBe(Math.floor(date.getTimezoneOffset() / 60));
  });
});

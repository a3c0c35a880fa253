import { Buffer } from 'node:buffer';
import { KombuKeys } from '@celeriac/broker-redis';
import type { FanoutMessage, WireObject } from '@celeriac/protocol';
import { globToRegExp } from '@celeriac/client';
import { describe, expect, it } from 'vitest';
import { decodeKombuJson, encodeKombuJson, LamportClock } from './events.ts';
import {
  exceptionRepr,
  isAddressedTo,
  kombuTable,
  parseControlCommand,
  RemoteControl,
  type KombuCommands,
  type RemoteControlHandlers,
} from './remote-control.ts';

/** `celery inspect ping` as Celery 5.2.6 published it (celery-captures/w_inspect_ping.log). */
const CAPTURED_PING =
  '{"body": "eyJtZXRob2QiOiAicGluZyIsICJhcmd1bWVudHMiOiB7fSwgImRlc3RpbmF0aW9uIjogbnVsbCwgInBhdHRlcm4iOiBudWxsLCAibWF0Y2hlciI6IG51bGwsICJ0aWNrZXQiOiAiMjY0NTc4NmItNDU1MC00ZjBhLTlhMDYtNWM5NjgxZmZhMTRmIiwgInJlcGx5X3RvIjogeyJleGNoYW5nZSI6ICJyZXBseS5jZWxlcnkucGlkYm94IiwgInJvdXRpbmdfa2V5IjogIjdlZjNiZDg0LWI2YTAtMzI0Ny1iOTJiLTBkODgyYTRjZGI5MiJ9fQ==", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"clock": 2, "expires": 1795805778.1625667}, "properties": {"delivery_mode": 2, "delivery_info": {"exchange": "celery.pidbox", "routing_key": ""}, "priority": 0, "body_encoding": "base64", "delivery_tag": "a8c46169-0361-49dc-ad08-c9fe3cfd748e"}}';

/** The worker's reply to it: `LPUSH 7ef3bd84-….reply.celery.pidbox` (same capture). */
const CAPTURED_PONG =
  '{"body": "eyJ3MUB2bSI6IHsib2siOiAicG9uZyJ9fQ==", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"ticket": "2645786b-4550-4f0a-9a06-5c9681ffa14f", "clock": 4}, "properties": {"delivery_mode": 1, "delivery_info": {"exchange": "reply.celery.pidbox", "routing_key": "7ef3bd84-b6a0-3247-b92b-0d882a4cdb92"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "1e687c65-b1bc-411c-b2d0-eec20985d80d"}}';

/** `app.control.revoke(id)` as Celery 5.2.6 published it (celery-captures/w_revoke.log): no ticket, no reply_to. */
const CAPTURED_REVOKE =
  '{"body": "eyJtZXRob2QiOiAicmV2b2tlIiwgImFyZ3VtZW50cyI6IHsidGFza19pZCI6ICI4NGVlMWI5NC1mMTE0LTQ1MjMtYjk4Ny0zNDFiN2M1MDRjZWEiLCAidGVybWluYXRlIjogZmFsc2UsICJzaWduYWwiOiAiU0lHVEVSTSJ9LCAiZGVzdGluYXRpb24iOiBudWxsLCAicGF0dGVybiI6IG51bGwsICJtYXRjaGVyIjogbnVsbH0=", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"clock": 1, "expires": 1795805775.0612848}, "properties": {"delivery_mode": 2, "delivery_info": {"exchange": "celery.pidbox", "routing_key": ""}, "priority": 0, "body_encoding": "base64", "delivery_tag": "0d0aea1a-9de0-4ab6-8b90-9a354fd28f23"}}';

const OID = '7ef3bd84-b6a0-3247-b92b-0d882a4cdb92';
const SEP = '\x06\x16';

/** Sets and lists in memory, logging every command as MONITOR would. */
class MemoryRedis implements KombuCommands {
  readonly sets = new Map<string, Set<string>>();
  readonly lists = new Map<string, string[]>();
  readonly log: string[][] = [];

  sadd(key: string, member: string): Promise<number> {
    this.log.push(['SADD', key, member]);
    const set = this.sets.get(key) ?? new Set();
    this.sets.set(key, set);
    const added = set.has(member) ? 0 : 1;
    set.add(member);
    return Promise.resolve(added);
  }

  srem(key: string, member: string): Promise<number> {
    this.log.push(['SREM', key, member]);
    const removed = this.sets.get(key)?.delete(member) === true ? 1 : 0;
    if (this.sets.get(key)?.size === 0) this.sets.delete(key);
    return Promise.resolve(removed);
  }

  smembers(key: string): Promise<string[]> {
    this.log.push(['SMEMBERS', key]);
    return Promise.resolve([...(this.sets.get(key) ?? [])]);
  }

  lpush(key: string, element: string): Promise<number> {
    this.log.push(['LPUSH', key, element]);
    const list = this.lists.get(key) ?? [];
    this.lists.set(key, list);
    list.unshift(element);
    return Promise.resolve(list.length);
  }

  del(...keys: string[]): Promise<number> {
    this.log.push(['DEL', ...keys]);
    let n = 0;
    for (const key of keys) if (this.lists.delete(key) || this.sets.delete(key)) n += 1;
    return Promise.resolve(n);
  }
}

/** A broker whose fanout delivers in memory. */
function memoryFanout() {
  const handlers = new Map<string, Set<(message: FanoutMessage) => void>>();
  return {
    subscribed: () => [...handlers.keys()],
    subscribeFanout(exchange: string, bindingKey: string, onMessage: (message: FanoutMessage) => void) {
      const key = `${exchange}/${bindingKey}`;
      const set = handlers.get(key) ?? new Set();
      handlers.set(key, set);
      set.add(onMessage);
      return Promise.resolve({
        unsubscribe: () => {
          set.delete(onMessage);
          if (set.size === 0) handlers.delete(key);
          return Promise.resolve();
        },
      });
    },
  };
}

const keys = new KombuKeys({ global_keyprefix: 'p:' }, 1);

function setup(options: { handlers?: RemoteControlHandlers; hostname?: string; clock?: LamportClock; expiryGraceMs?: number } = {}) {
  const redis = new MemoryRedis();
  const broker = memoryFanout();
  const table = kombuTable(redis, keys);
  const control = new RemoteControl({
    broker,
    table,
    hostname: options.hostname ?? 'w1@vm',
    handlers: options.handlers ?? {},
    expiryGraceMs: options.expiryGraceMs ?? Number.POSITIVE_INFINITY,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  return { redis, broker, table, control };
}

/** A command as `inspect`/`control` publish it. */
function command(body: Record<string, unknown>, headers: Record<string, unknown> = { clock: 1, expires: Date.now() / 1000 + 1 }): string {
  return encodeKombuJson(
    { destination: null, pattern: null, matcher: null, arguments: {}, ...body },
    headers,
    { exchange: 'celery.pidbox', routingKey: '', deliveryMode: 2 },
  );
}

/** Binds a client reply queue as kombu does, runs the command, returns the decoded replies. */
async function call(ctx: ReturnType<typeof setup>, body: Record<string, unknown>, headers?: Record<string, unknown>) {
  await ctx.table.bind('reply.celery.pidbox', 'client-1', 'client-1.reply.celery.pidbox');
  await ctx.control.handleMessage(
    command({ ...body, ticket: 't-1', reply_to: { exchange: 'reply.celery.pidbox', routing_key: 'client-1' } }, headers),
  );
  const list = ctx.redis.lists.get('p:client-1.reply.celery.pidbox') ?? [];
  return list.map((raw) => decodeKombuJson(raw));
}

function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
  return value === null ? 'null' : typeof value;
}

describe('RemoteControl wire', () => {
  it("answers a captured `celery inspect ping` with a reply shaped like Celery's, after looking up the binding", async () => {
    const ctx = setup();
    await ctx.control.start();
    await ctx.table.bind('reply.celery.pidbox', OID, `${OID}.reply.celery.pidbox`);
    ctx.redis.log.length = 0;
    await ctx.control.handleMessage(CAPTURED_PING);
    expect(ctx.redis.log.map((c) => c.slice(0, 2))).toEqual([
      ['SMEMBERS', 'p:_kombu.binding.reply.celery.pidbox'],
      ['LPUSH', `p:${OID}.reply.celery.pidbox`],
    ]);
    const raw = ctx.redis.lists.get(`p:${OID}.reply.celery.pidbox`)?.[0] ?? '';
    const ours = JSON.parse(raw) as Record<string, unknown>;
    const theirs = JSON.parse(CAPTURED_PONG) as Record<string, unknown>;
    expect(shape(ours)).toEqual(shape(theirs));
    const { delivery_tag: _a, ...ourProps } = ours['properties'] as Record<string, unknown>;
    const { delivery_tag: _b, ...theirProps } = theirs['properties'] as Record<string, unknown>;
    expect(ourProps).toEqual(theirProps);
    expect(Object.keys(ours['headers'] as object)).toEqual(['ticket', 'clock']);
    expect((ours['headers'] as Record<string, unknown>)['ticket']).toBe('2645786b-4550-4f0a-9a06-5c9681ffa14f');
    expect(decodeKombuJson(raw).body).toEqual(decodeKombuJson(CAPTURED_PONG).body); // {"w1@vm": {"ok": "pong"}}
    await ctx.control.close();
  });

  it('records and removes its mailbox binding as a Celery worker does', async () => {
    const ctx = setup();
    await ctx.control.start();
    expect(ctx.broker.subscribed()).toEqual(['celery.pidbox/']);
    expect(ctx.redis.log).toEqual([['SADD', 'p:_kombu.binding.celery.pidbox', `${SEP}${SEP}w1@vm.celery.pidbox`]]);
    expect(ctx.control.mailbox).toBe('w1@vm.celery.pidbox');
    await ctx.control.close();
    expect(ctx.broker.subscribed()).toEqual([]);
    expect(ctx.redis.log.slice(1)).toEqual([
      ['SREM', 'p:_kombu.binding.celery.pidbox', `${SEP}${SEP}w1@vm.celery.pidbox`],
      ['DEL', 'p:w1@vm.celery.pidbox', `p:w1@vm.celery.pidbox${SEP}3`, `p:w1@vm.celery.pidbox${SEP}6`, `p:w1@vm.celery.pidbox${SEP}9`],
    ]);
    expect(ctx.redis.sets.size).toBe(0);
    await ctx.control.close(); // idempotent
    expect(ctx.redis.log).toHaveLength(3);
  });

  it('sends no reply when the client is gone (its binding removed)', async () => {
    const ctx = setup();
    await ctx.control.handleMessage(CAPTURED_PING);
    expect(ctx.redis.log).toEqual([['SMEMBERS', 'p:_kombu.binding.reply.celery.pidbox']]);
    expect(ctx.redis.lists.size).toBe(0);
  });

  it('runs a captured revoke (no reply_to) and replies to nobody', async () => {
    const calls: unknown[] = [];
    const ctx = setup({ handlers: { revoke: (ids, options) => void calls.push([ids, options]) } });
    await ctx.control.handleMessage(CAPTURED_REVOKE);
    expect(calls).toEqual([[['84ee1b94-f114-4523-b987-341b7c504cea'], { terminate: false, signal: 'SIGTERM' }]]);
    expect(ctx.redis.log).toEqual([]);
  });

  it("forwards its clock, adjusts to the sender's, and stamps replies later still", async () => {
    const clock = new LamportClock(5);
    const ctx = setup({ clock });
    const [reply] = await call(ctx, { method: 'clock' }, { clock: 100, expires: 0 });
    // forward (6), adjust to max(6, 100) + 1 = 101, the reply body reads 101, the header forwards to 102.
    expect(reply?.body).toEqual({ 'w1@vm': { clock: 101 } });
    expect(reply?.headers).toEqual({ ticket: 't-1', clock: 102 });
    expect(clock.value).toBe(102);
  });

  it('drops a command that expired longer ago than the grace period', async () => {
    const ctx = setup({ expiryGraceMs: 0 });
    expect(await call(ctx, { method: 'ping' }, { clock: 1, expires: Date.now() / 1000 - 5 })).toEqual([]);
    expect((await call(ctx, { method: 'ping' }, { clock: 1, expires: 0 })).map((r) => r.body)).toEqual([{ 'w1@vm': { ok: 'pong' } }]);
  });

  it('ignores messages that are not commands', async () => {
    const ctx = setup();
    await ctx.control.handleMessage('garbage');
    await ctx.control.handleMessage(command({ method: 42 }));
    await ctx.control.handleMessage(CAPTURED_PING.replace('application/json', 'application/x-python-serialize'));
    expect(ctx.redis.log).toEqual([]);
  });
});

describe('RemoteControl addressing', () => {
  it('handles a command only when its destination names the node (null or empty: every node)', async () => {
    const seen: string[][] = [];
    const ctx = setup({ handlers: { revoke: (ids) => void seen.push(ids) } });
    const send = (destination: unknown) => ctx.control.handleMessage(command({ method: 'revoke', arguments: { task_id: 'x' }, destination }));
    await send(['w2@vm']);
    expect(seen).toEqual([]);
    await send(['w2@vm', 'w1@vm']);
    await send(null);
    await send([]);
    expect(seen).toEqual([['x'], ['x'], ['x']]);
  });

  it('honours pattern and matcher (glob, pcre) as kombu does', () => {
    const base = { destination: null };
    expect(isAddressedTo({ ...base, pattern: 'w*@vm', matcher: 'glob' }, 'w1@vm')).toBe(true);
    expect(isAddressedTo({ ...base, pattern: 'w?@v[lm]', matcher: 'glob' }, 'w1@vm')).toBe(true);
    expect(isAddressedTo({ ...base, pattern: 'x*', matcher: 'glob' }, 'w1@vm')).toBe(false);
    expect(isAddressedTo({ ...base, pattern: 'w1', matcher: 'pcre' }, 'w1@vm')).toBe(true); // re.match: anchored at the start only
    expect(isAddressedTo({ ...base, pattern: '1@vm', matcher: 'pcre' }, 'w1@vm')).toBe(false);
    expect(isAddressedTo({ ...base, pattern: 'x*', matcher: null }, 'w1@vm')).toBe(true); // both needed
    expect(() => isAddressedTo({ ...base, pattern: 'x', matcher: 'nope' }, 'w1@vm')).toThrow(/No matcher installed for nope/);
    expect(isAddressedTo({ destination: ['a'], pattern: '*', matcher: 'glob' }, 'w1@vm')).toBe(false); // destination wins
  });

  it("translates fnmatch globs like Python's fnmatch.translate", () => {
    expect(globToRegExp('celery@*').test('celery@host.example')).toBe(true);
    expect(globToRegExp('a.b').test('aXb')).toBe(false);
    expect(globToRegExp('[!ab]x').test('cx')).toBe(true);
    expect(globToRegExp('[!ab]x').test('ax')).toBe(false);
    expect(globToRegExp('[x').test('[x')).toBe(true);
    expect(globToRegExp('a(b)+').test('a(b)+')).toBe(true);
  });

  it('skips a command with an unknown matcher', async () => {
    const seen: string[][] = [];
    const ctx = setup({ handlers: { revoke: (ids) => void seen.push(ids) } });
    await ctx.control.handleMessage(command({ method: 'revoke', arguments: { task_id: 'x' }, pattern: 'w', matcher: 'regex' }));
    expect(seen).toEqual([]);
  });
});

describe('RemoteControl commands', () => {
  it("replies to an unknown method as Celery 5.2.6 does: {error: \"KeyError('name')\"}", async () => {
    const ctx = setup();
    const [reply] = await call(ctx, { method: 'nosuch' });
    expect(reply?.body).toEqual({ 'w1@vm': { error: "KeyError('nosuch')" } });
  });

  it('replies with the repr of a handler error', async () => {
    const ctx = setup({
      handlers: {
        active: () => {
          throw new TypeError("bad 'state'");
        },
      },
    });
    const [reply] = await call(ctx, { method: 'active' });
    expect(reply?.body).toEqual({ 'w1@vm': { error: 'TypeError("bad \'state\'")' } });
    expect(exceptionRepr('plain')).toBe("Exception('plain')");
  });

  it("formats revoke replies as Celery's", async () => {
    const ctx = setup({ handlers: { revoke: (ids, { terminate }) => (terminate ? ids.filter((id) => id === 'b') : undefined) } });
    expect(await ctx.control.dispatch('revoke', { task_id: ['a', 'b', 'a'] })).toEqual({ ok: 'tasks a, b flagged as revoked' });
    expect(await ctx.control.dispatch('revoke', { task_id: ['a', 'b'], terminate: true, signal: 'SIGKILL' })).toEqual({ ok: 'terminate: b' });
    expect(await ctx.control.dispatch('revoke', { task_id: 'a', terminate: true })).toEqual({ ok: 'terminate: tasks unknown' });
    expect(await ctx.control.dispatch('terminate', { task_id: 'b', signal: 'KILL' })).toEqual({ ok: 'terminate: b' });
  });

  it("answers rate_limit as Celery's control command does", async () => {
    const calls: [string, string | null][] = [];
    const ctx = setup({
      handlers: {
        rateLimit: (name, rate) => {
          if (name === 'tasks.unknown') throw new Error('unknown task');
          calls.push([name, rate]);
        },
      },
    });
    expect(await ctx.control.dispatch('rate_limit', { task_name: 'tasks.add', rate_limit: '10/m' })).toEqual({ ok: 'new rate limit set successfully' });
    expect(await ctx.control.dispatch('rate_limit', { task_name: 'tasks.add', rate_limit: null })).toEqual({ ok: 'rate limit disabled successfully' });
    expect(await ctx.control.dispatch('rate_limit', { task_name: 'tasks.unknown', rate_limit: '1/s' })).toEqual({ error: 'unknown task' });
    expect(calls).toEqual([['tasks.add', '10/m'], ['tasks.add', null]]);
    expect(await setup().control.dispatch('rate_limit', { task_name: 'tasks.add', rate_limit: '1/s' })).toEqual({ error: 'unknown task' });
  });

  it('answers ping, clock, inspect lists, registered and query_task', async () => {
    const request = (id: string) => ({
      id,
      name: 'tasks.add',
      args: [1, 2],
      kwargs: {},
      type: 'tasks.add',
      hostname: 'w1@vm',
      time_start: null,
      acknowledged: false,
      delivery_info: { exchange: '', routing_key: 'celery', priority: 0, redelivered: false },
      worker_pid: null,
    });
    const safeSeen: boolean[] = [];
    const ctx = setup({
      handlers: {
        active: ({ safe }) => (safeSeen.push(safe), [request('a1')]),
        reserved: () => [request('r1')],
        scheduled: () => [{ eta: '2030-01-01T00:00:00+00:00', priority: 0, request: request('s1') }],
        registered: () => ['tasks.b', 'celery.chord_unlock', 'tasks.a'],
        revoked: () => new Set(['x', 'y']),
        activeQueues: () => [{ name: 'celery' }],
        conf: () => ({ broker_url: 'redis://…' }),
        report: () => 'software -> celeriac',
      },
    });
    expect(await ctx.control.dispatch('ping')).toEqual({ ok: 'pong' });
    expect(await ctx.control.dispatch('active', { safe: true })).toEqual([request('a1')]);
    expect(safeSeen).toEqual([true]);
    expect(await ctx.control.dispatch('dump_reserved')).toEqual([request('r1')]);
    expect(await ctx.control.dispatch('scheduled')).toHaveLength(1);
    expect(await ctx.control.dispatch('registered')).toEqual(['tasks.a', 'tasks.b']);
    expect(await ctx.control.dispatch('registered', { builtins: true })).toEqual(['celery.chord_unlock', 'tasks.a', 'tasks.b']);
    expect(await ctx.control.dispatch('revoked')).toEqual(['x', 'y']);
    expect(await ctx.control.dispatch('query_task', { ids: ['a1', 's1', 'r1', 'nope'] })).toEqual({
      a1: ['active', request('a1')],
      r1: ['reserved', request('r1')],
      s1: ['reserved', request('s1')],
    });
    expect(await ctx.control.dispatch('active_queues')).toEqual([{ name: 'celery' }]);
    expect(await ctx.control.dispatch('conf')).toEqual({ broker_url: 'redis://…' });
    expect(await ctx.control.dispatch('report')).toEqual({ ok: 'software -> celeriac' });
    expect(await setup().control.dispatch('active')).toEqual([]);
  });

  it("builds stats in Celery's shape, the handler's keys first", async () => {
    const clock = new LamportClock(41);
    const redis = new MemoryRedis();
    const control = new RemoteControl({
      broker: memoryFanout(),
      table: kombuTable(redis, keys),
      hostname: 'w1@vm',
      clock,
      brokerUrl: 'redis://:secret@broker.example:6380/3',
      startedAt: new Date(Date.now() - 5000),
      handlers: {
        stats: () => ({
          total: { 'tasks.add': 3 },
          prefetch_count: 8,
          pool: { 'max-concurrency': 2, processes: [11, 12], implementation: 'celeriac:threads' },
          rusage: { utime: 1.5 },
          queues: ['celery'],
        }),
      },
    });
    const stats = (await control.dispatch('stats')) as Record<string, unknown>;
    expect(Object.keys(stats)).toEqual(['total', 'pid', 'clock', 'uptime', 'pool', 'broker', 'prefetch_count', 'rusage', 'queues']);
    expect(stats).toMatchObject({
      total: { 'tasks.add': 3 },
      pid: process.pid,
      clock: '41',
      uptime: 5,
      pool: { 'max-concurrency': 2, processes: [11, 12], 'max-tasks-per-child': null, implementation: 'celeriac:threads' },
      broker: { transport: 'redis', hostname: 'broker.example', port: 6380, virtual_host: '3', ssl: false },
      prefetch_count: 8,
      rusage: { utime: 1.5 },
    });
    expect(JSON.stringify(stats)).not.toContain('secret');
    expect(Object.keys(stats['rusage'] as object)).toEqual(expect.arrayContaining(['utime', 'stime', 'maxrss', 'nvcsw', 'nivcsw']));
    const bare = (await setup().control.dispatch('stats')) as Record<string, unknown>;
    expect(bare).toMatchObject({ total: {}, prefetch_count: 0, pool: { 'max-concurrency': 1, processes: [process.pid] }, broker: { transport: 'redis' } });
  });

  it("answers mingle's hello: null to itself; to others its revoked ids and a clock, merging theirs", async () => {
    const merged: unknown[] = [];
    const clock = new LamportClock(9);
    const ctx = setup({
      clock,
      handlers: { revoked: () => ['mine'], mergeRevoked: (ids, from) => void merged.push([ids, from]) },
    });
    expect(await ctx.control.dispatch('hello', { from_node: 'w1@vm', revoked: {} })).toBeNull();
    const reply = (await ctx.control.dispatch('hello', { from_node: 'w2@vm', revoked: { theirs: [12.5, 'theirs'] } })) as {
      revoked: Record<string, [number, string]>;
      clock: number;
    };
    expect(merged).toEqual([[['theirs'], 'w2@vm']]);
    expect(Object.keys(reply)).toEqual(['revoked', 'clock']);
    expect(reply.clock).toBe(10);
    expect(reply.revoked['mine']?.[1]).toBe('mine');
    expect(typeof reply.revoked['mine']?.[0]).toBe('number');
  });

  it('sends no reply to shutdown, and calls the handler', async () => {
    const messages: string[] = [];
    const ctx = setup({ handlers: { shutdown: (message) => void messages.push(message) } });
    expect(await call(ctx, { method: 'shutdown' })).toEqual([]);
    expect(messages).toEqual(['Got shutdown from remote']);
  });

  it('switches events and sends heartbeats through handlers', async () => {
    let enabled = false;
    let beats = 0;
    const ctx = setup({
      handlers: {
        enableEvents: () => !enabled && (enabled = true),
        disableEvents: () => enabled && !(enabled = false),
        heartbeat: () => void (beats += 1),
      },
    });
    expect(await ctx.control.dispatch('enable_events')).toEqual({ ok: 'task events enabled' });
    expect(await ctx.control.dispatch('enable_events')).toEqual({ ok: 'task events already enabled' });
    expect(await ctx.control.dispatch('disable_events')).toEqual({ ok: 'task events disabled' });
    expect(await ctx.control.dispatch('heartbeat')).toBeNull();
    expect(beats).toBe(1);
  });

  it('runs custom commands, which may replace built-ins', async () => {
    const ctx = setup({
      handlers: {
        commands: {
          rate_limit: (args: WireObject) => ({ ok: `new rate limit set for ${JSON.stringify(args['task_name'])}` }),
          ping: () => ({ ok: 'custom pong' }),
        },
      },
    });
    const [reply] = await call(ctx, { method: 'rate_limit', arguments: { task_name: 'tasks.add', rate_limit: '1/s' } });
    expect(reply?.body).toEqual({ 'w1@vm': { ok: 'new rate limit set for "tasks.add"' } });
    expect(await ctx.control.dispatch('ping')).toEqual({ ok: 'custom pong' });
  });
});

describe('parseControlCommand', () => {
  it('reads the captured commands', () => {
    expect(parseControlCommand(decodeKombuJson(CAPTURED_PING).body)).toEqual({
      method: 'ping',
      arguments: {},
      destination: null,
      pattern: null,
      matcher: null,
      ticket: '2645786b-4550-4f0a-9a06-5c9681ffa14f',
      reply_to: { exchange: 'reply.celery.pidbox', routing_key: OID },
    });
    expect(parseControlCommand(decodeKombuJson(CAPTURED_REVOKE).body)).toMatchObject({ method: 'revoke', destination: null });
    expect(parseControlCommand([1])).toBeUndefined();
    expect(parseControlCommand({ method: '' })).toBeUndefined();
  });
});

describe('kombuTable', () => {
  it('writes and reads binding members as kombu, matching the routing key exactly', async () => {
    const redis = new MemoryRedis();
    const table = kombuTable(redis, keys);
    expect(await table.bind('reply.celery.pidbox', OID, `${OID}.reply.celery.pidbox`)).toBe(true);
    expect(await table.bind('reply.celery.pidbox', OID, `${OID}.reply.celery.pidbox`)).toBe(false);
    await table.bind('reply.celery.pidbox', 'other', 'other.reply.celery.pidbox');
    expect(redis.log[0]).toEqual(['SADD', 'p:_kombu.binding.reply.celery.pidbox', `${OID}${SEP}${SEP}${OID}.reply.celery.pidbox`]);
    expect(await table.lookup('reply.celery.pidbox', OID)).toEqual([`${OID}.reply.celery.pidbox`]);
    expect(await table.lookup('reply.celery.pidbox', 'nobody')).toEqual([]);
    await table.put('q', 'x');
    expect(redis.lists.get('p:q')).toEqual(['x']);
    await table.unbind('reply.celery.pidbox', OID, `${OID}.reply.celery.pidbox`);
    expect(await table.lookup('reply.celery.pidbox', OID)).toEqual([]);
    await table.deleteQueue('q');
    expect(redis.lists.size).toBe(0);
    expect(Buffer.byteLength(SEP)).toBe(2);
  });
});

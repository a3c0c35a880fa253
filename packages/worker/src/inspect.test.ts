import { Buffer } from 'node:buffer';
import { KombuKeys } from '@celeriac/broker-redis';
import type { ConsumeOptions, Consumer, Delivery, FanoutMessage, Subscription } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { decodeKombuJson, encodeKombuJson, LamportClock } from './events.ts';
import { broadcast, control, inspect, mingle } from './inspect.ts';
import { kombuTable, RemoteControl, type KombuCommands, type KombuTable } from './remote-control.ts';

/** `celery inspect ping` as Celery 5.2.6 published it (celery-captures/w_inspect_ping.log). */
const CAPTURED_PING =
  '{"body": "eyJtZXRob2QiOiAicGluZyIsICJhcmd1bWVudHMiOiB7fSwgImRlc3RpbmF0aW9uIjogbnVsbCwgInBhdHRlcm4iOiBudWxsLCAibWF0Y2hlciI6IG51bGwsICJ0aWNrZXQiOiAiMjY0NTc4NmItNDU1MC00ZjBhLTlhMDYtNWM5NjgxZmZhMTRmIiwgInJlcGx5X3RvIjogeyJleGNoYW5nZSI6ICJyZXBseS5jZWxlcnkucGlkYm94IiwgInJvdXRpbmdfa2V5IjogIjdlZjNiZDg0LWI2YTAtMzI0Ny1iOTJiLTBkODgyYTRjZGI5MiJ9fQ==", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"clock": 2, "expires": 1795805778.1625667}, "properties": {"delivery_mode": 2, "delivery_info": {"exchange": "celery.pidbox", "routing_key": ""}, "priority": 0, "body_encoding": "base64", "delivery_tag": "a8c46169-0361-49dc-ad08-c9fe3cfd748e"}}';

/** `app.control.revoke(id)` as Celery 5.2.6 published it (celery-captures/w_revoke.log). */
const CAPTURED_REVOKE =
  '{"body": "eyJtZXRob2QiOiAicmV2b2tlIiwgImFyZ3VtZW50cyI6IHsidGFza19pZCI6ICI4NGVlMWI5NC1mMTE0LTQ1MjMtYjk4Ny0zNDFiN2M1MDRjZWEiLCAidGVybWluYXRlIjogZmFsc2UsICJzaWduYWwiOiAiU0lHVEVSTSJ9LCAiZGVzdGluYXRpb24iOiBudWxsLCAicGF0dGVybiI6IG51bGwsICJtYXRjaGVyIjogbnVsbH0=", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"clock": 1, "expires": 1795805775.0612848}, "properties": {"delivery_mode": 2, "delivery_info": {"exchange": "celery.pidbox", "routing_key": ""}, "priority": 0, "body_encoding": "base64", "delivery_tag": "0d0aea1a-9de0-4ab6-8b90-9a354fd28f23"}}';

const keys = new KombuKeys({ global_keyprefix: 'p:' }, 0);

/**
 * A broker and Redis in memory: fanout delivers to subscribers (asynchronously, like
 * pub/sub), `consume` pops the queue's list, and the kombu commands log as MONITOR would.
 */
class MemoryBroker implements KombuCommands {
  readonly sets = new Map<string, Set<string>>();
  readonly lists = new Map<string, string[]>();
  readonly log: string[][] = [];
  readonly fanout: { exchange: string; routingKey: string; raw: string }[] = [];
  readonly consumers = new Set<string>();
  readonly #subscribers = new Set<{ exchange: string; fn: (message: FanoutMessage) => void }>();

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
    const set = this.sets.get(key);
    const removed = set?.delete(member) === true ? 1 : 0;
    if (set?.size === 0) this.sets.delete(key);
    return Promise.resolve(removed);
  }

  smembers(key: string): Promise<string[]> {
    return Promise.resolve([...(this.sets.get(key) ?? [])]);
  }

  lpush(key: string, element: string): Promise<number> {
    this.log.push(['LPUSH', key]);
    const list = this.lists.get(key) ?? [];
    this.lists.set(key, list);
    list.unshift(element);
    return Promise.resolve(list.length);
  }

  del(...keys: string[]): Promise<number> {
    this.log.push(['DEL', ...keys]);
    let n = 0;
    for (const key of keys) if (this.lists.delete(key)) n += 1;
    return Promise.resolve(n);
  }

  publishFanout(exchange: string, routingKey: string, raw: Uint8Array | string): Promise<void> {
    const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
    this.fanout.push({ exchange, routingKey, raw: text });
    for (const sub of this.#subscribers) {
      if (sub.exchange === exchange) setImmediate(() => sub.fn({ exchange, routingKey, raw: Buffer.from(text) }));
    }
    return Promise.resolve();
  }

  subscribeFanout(exchange: string, _bindingKey: string, fn: (message: FanoutMessage) => void): Promise<Subscription> {
    const sub = { exchange, fn };
    this.#subscribers.add(sub);
    return Promise.resolve({ unsubscribe: () => Promise.resolve(void this.#subscribers.delete(sub)) });
  }

  consume(options: ConsumeOptions): Consumer {
    const [queue = ''] = options.queues;
    const key = keys.queueKey(queue);
    this.consumers.add(queue);
    let closed = false;
    const lists = this.lists;
    const consumers = this.consumers;
    return {
      close: () => {
        closed = true;
        consumers.delete(queue);
        return Promise.resolve();
      },
      [Symbol.asyncIterator]: () => ({
        async next(): Promise<IteratorResult<Delivery>> {
          for (;;) {
            if (closed) return { done: true, value: undefined };
            const raw = lists.get(key)?.pop();
            if (raw !== undefined) {
              const delivery: Delivery = {
                queue,
                deliveryTag: '',
                raw: Buffer.from(raw),
                redelivered: false,
                ack: () => Promise.resolve(),
                reject: () => Promise.resolve(),
              };
              return { done: false, value: delivery };
            }
            await new Promise((resolve) => setTimeout(resolve, 2));
          }
        },
      }),
    };
  }
}

async function workers(broker: MemoryBroker, names: string[]): Promise<RemoteControl[]> {
  const table = kombuTable(broker, keys);
  const list = names.map((hostname) => new RemoteControl({ broker, table, hostname, handlers: { registered: () => [`tasks.${hostname}`] } }));
  await Promise.all(list.map((w) => w.start()));
  return list;
}

function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
  return value === null ? 'null' : typeof value;
}

describe('control without replies', () => {
  it("publishes a revoke shaped exactly like Celery's app.control.revoke", async () => {
    const broker = new MemoryBroker();
    const clock = new LamportClock();
    const replies = await control(broker, 'revoke', { task_id: 'abc', terminate: false, signal: 'SIGTERM' }, { clock });
    expect(replies.size).toBe(0);
    expect(broker.fanout).toHaveLength(1);
    const sent = broker.fanout[0];
    expect(sent).toMatchObject({ exchange: 'celery.pidbox', routingKey: '' });
    const ours = JSON.parse(sent?.raw ?? '') as Record<string, unknown>;
    const theirs = JSON.parse(CAPTURED_REVOKE) as Record<string, unknown>;
    expect(shape(ours)).toEqual(shape(theirs));
    const body = decodeKombuJson(sent?.raw ?? '').body;
    const capturedBody = decodeKombuJson(CAPTURED_REVOKE).body as Record<string, unknown>;
    expect(shape(body)).toEqual(shape(capturedBody));
    expect(body).toEqual({ ...capturedBody, arguments: { task_id: 'abc', terminate: false, signal: 'SIGTERM' } });
    const headers = ours['headers'] as Record<string, number>;
    expect(headers['clock']).toBe(1);
    expect(headers['expires']).toBeGreaterThan(Date.now() / 1000);
    expect(headers['expires']).toBeLessThan(Date.now() / 1000 + 1.5);
    expect(broker.log).toEqual([]); // no reply queue
  });

  it('refuses reply: true without a table, and a bad timeout or destination', async () => {
    const broker = new MemoryBroker();
    await expect(broadcast(broker, 'ping', { reply: true })).rejects.toThrow(/needs a table/);
    await expect(broadcast(broker, 'ping', { timeout: 0 })).rejects.toThrow(RangeError);
    await expect(broadcast(broker, 'ping', { destination: 'w1' as unknown as string[] })).rejects.toThrow(/destination must be a list/);
  });
});

describe('inspect', () => {
  it("publishes a command shaped like Celery's `inspect ping` and collects every node's reply", async () => {
    const broker = new MemoryBroker();
    const nodes = await workers(broker, ['w1@vm', 'w2@vm']);
    broker.log.length = 0;
    const table = kombuTable(broker, keys);
    const replies = await inspect(broker, 'ping', { table, timeout: 0.3 });
    expect(Object.fromEntries(replies)).toEqual({ 'w1@vm': { ok: 'pong' }, 'w2@vm': { ok: 'pong' } });
    const command = broker.fanout[0]?.raw ?? '';
    expect(shape(JSON.parse(command))).toEqual(shape(JSON.parse(CAPTURED_PING)));
    const body = decodeKombuJson(command).body as Record<string, unknown>;
    expect(shape(body)).toEqual(shape(decodeKombuJson(CAPTURED_PING).body));
    const oid = (body['reply_to'] as { routing_key: string }).routing_key;
    const queue = `${oid}.reply.celery.pidbox`;
    // kombu's sequence: SADD the reply binding, (replies LPUSHed), SREM, DEL the lists.
    expect(broker.log[0]).toEqual(['SADD', 'p:_kombu.binding.reply.celery.pidbox', `${oid}\x06\x16\x06\x16${queue}`]);
    expect(broker.log.filter((c) => c[0] === 'LPUSH')).toEqual([
      ['LPUSH', `p:${queue}`],
      ['LPUSH', `p:${queue}`],
    ]);
    expect(broker.log.slice(-2)).toEqual([
      ['SREM', 'p:_kombu.binding.reply.celery.pidbox', `${oid}\x06\x16\x06\x16${queue}`],
      ['DEL', ...keys.queueKeys(queue)],
    ]);
    // Only the two workers' mailbox bindings are left.
    expect([...broker.sets.keys()]).toEqual(['p:_kombu.binding.celery.pidbox']);
    expect(broker.sets.get('p:_kombu.binding.celery.pidbox')?.size).toBe(2);
    expect(broker.consumers.size).toBe(0);
    await Promise.all(nodes.map((n) => n.close()));
    expect(broker.sets.size).toBe(0);
  });

  it('stops waiting once every destination replied, and only they reply', async () => {
    const broker = new MemoryBroker();
    const nodes = await workers(broker, ['w1@vm', 'w2@vm', 'w3@vm']);
    const started = Date.now();
    const replies = await inspect(broker, 'registered', { table: kombuTable(broker, keys), timeout: 5, destination: ['w3@vm', 'w1@vm'] });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(Object.fromEntries(replies)).toEqual({ 'w1@vm': ['tasks.w1@vm'], 'w3@vm': ['tasks.w3@vm'] });
    await Promise.all(nodes.map((n) => n.close()));
  });

  it('returns what arrived when the timeout passes, and streams replies to onReply', async () => {
    const broker = new MemoryBroker();
    const nodes = await workers(broker, ['w1@vm']);
    const streamed: string[] = [];
    const started = Date.now();
    const replies = await inspect(broker, 'ping', {
      table: kombuTable(broker, keys),
      timeout: 0.25,
      destination: ['w1@vm', 'gone@vm'],
      onReply: (node) => streamed.push(node),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect([...replies.keys()]).toEqual(['w1@vm']);
    expect(streamed).toEqual(['w1@vm']);
    await Promise.all(nodes.map((n) => n.close()));
  });

  it("ignores replies to another ticket and adjusts the clock to the replies'", async () => {
    const broker = new MemoryBroker();
    const clock = new LamportClock();
    // A fake worker that first answers with a stale ticket, then with the right one.
    await broker.subscribeFanout('celery.pidbox', '', (message) => {
      const body = decodeKombuJson(message.raw).body as { ticket: string; reply_to: { routing_key: string } };
      const queue = `${body.reply_to.routing_key}.reply.celery.pidbox`;
      const reply = (ticket: string, value: string, replyClock: number) =>
        encodeKombuJson({ 'fake@vm': value }, { ticket, clock: replyClock }, { exchange: 'reply.celery.pidbox', routingKey: '', deliveryMode: 1 });
      void broker.lpush(keys.queueKey(queue), reply('stale', 'old', 1));
      void broker.lpush(keys.queueKey(queue), reply(body.ticket, 'fresh', 500));
    });
    const replies = await inspect(broker, 'ping', { table: kombuTable(broker, keys), timeout: 0.2, clock, limit: 1 });
    expect(Object.fromEntries(replies)).toEqual({ 'fake@vm': 'fresh' });
    expect(clock.value).toBeGreaterThan(500);
  });

  it('cleans the reply queue up even when publishing fails', async () => {
    const broker = new MemoryBroker();
    const failing = { ...broker, consume: broker.consume.bind(broker), publishFanout: () => Promise.reject(new Error('down')) };
    const table: KombuTable = kombuTable(broker, keys);
    await expect(inspect(failing, 'ping', { table })).rejects.toThrow('down');
    expect(broker.sets.size).toBe(0);
    expect(broker.log.at(-1)?.[0]).toBe('DEL');
    expect(broker.consumers.size).toBe(0);
  });
});

describe('mingle', () => {
  it("sends hello, leaves out its own reply, adopts neighbours' revoked ids and clock", async () => {
    const broker = new MemoryBroker();
    const table = kombuTable(broker, keys);
    const neighbour = new RemoteControl({
      broker,
      table,
      hostname: 'old@vm',
      clock: new LamportClock(300),
      handlers: { revoked: () => ['r1', 'r2'], mergeRevoked: (ids) => void merged.push(...ids) },
    });
    const merged: string[] = [];
    const clock = new LamportClock();
    const self = new RemoteControl({ broker, table, hostname: 'new@vm', clock });
    await Promise.all([neighbour.start(), self.start()]);
    const result = await mingle(broker, { hostname: 'new@vm', table, clock, revoked: ['mine'], timeout: 0.3 });
    expect(result.nodes).toEqual(['old@vm']);
    expect(result.revoked.sort()).toEqual(['r1', 'r2']);
    expect(merged).toEqual(['mine']);
    expect(clock.value).toBeGreaterThan(300);
    await Promise.all([neighbour.close(), self.close()]);
  });
});

/**
 * The client side of Celery's remote control: `celery inspect …` / `celery control …` and
 * `app.control.broadcast()` for Celeriac, answered by Celery 5.2 workers and Celeriac
 * workers alike.
 *
 * A call that wants replies does what kombu's `Mailbox._broadcast` does on Redis:
 *
 * 1. `SADD P_kombu.binding.reply.celery.pidbox "<oid> SEP SEP <oid>.reply.celery.pidbox"`
 *    (workers look the reply queue up there; without it they drop the reply);
 * 2. consume `P<oid>.reply.celery.pidbox` without ack bookkeeping;
 * 3. `PUBLISH P/<db>.celery.pidbox` the command with a `ticket` and
 *    `reply_to: {exchange: "reply.celery.pidbox", routing_key: <oid>}`, headers
 *    `{clock, expires: now + timeout}`;
 * 4. collect replies carrying that ticket until the timeout or the expected number;
 * 5. `SREM` the binding and `DEL` the reply lists.
 *
 * A call without replies (`revoke` by default) is step 3 alone, without ticket and reply_to.
 *
 * @see celery-wire.md §5.8; kombu/pidbox.py `Mailbox`, celery/app/control.py
 * @module
 */
import { randomUUID } from 'node:crypto';
import { silentLogger, type Broker, type Logger, type WireValue } from '@celeriac/protocol';
import { decodeKombuJson, encodeKombuJson, LamportClock } from './events.ts';
import { DEFAULT_CONTROL_NAMESPACE, pidboxExchange, replyExchange, type KombuTable } from './remote-control.ts';

/** The broker side a control client needs. */
export type ControlBroker = Pick<Broker, 'publishFanout' | 'consume'>;

/** Options shared by {@link broadcast}, {@link inspect} and {@link control}. */
export interface BroadcastOptions {
  /** The command's arguments (Celery's names: `task_id`, `terminate`, …). */
  readonly arguments?: Readonly<Record<string, unknown>>;
  /** Wait for replies; needs `table`. */
  readonly reply?: boolean;
  /** The binding table (required when `reply` is true). */
  readonly table?: KombuTable;
  /** Seconds to wait for replies, as Celery's `timeout`; default 1. Also sets the `expires` header. */
  readonly timeout?: number;
  /** Only these nodes handle the command; also the number of replies to wait for. */
  readonly destination?: readonly string[];
  /** With `matcher`: only nodes whose name matches handle it. */
  readonly pattern?: string;
  /** `glob` or `pcre`. */
  readonly matcher?: 'glob' | 'pcre';
  /** Stop waiting after this many replies; default `destination.length`, else none. */
  readonly limit?: number;
  /** The Lamport clock to stamp and adjust; default one per process. */
  readonly clock?: LamportClock;
  /** Called for each reply as it arrives (a CLI prints them). */
  readonly onReply?: (hostname: string, reply: WireValue) => void;
  /** Celery's `control_exchange`; default `celery`. */
  readonly namespace?: string;
  /** Where cleanup trouble is logged. */
  readonly logger?: Logger;
}

/** Options of {@link inspect}: {@link BroadcastOptions} with a `table` (replies are always awaited). */
export interface InspectOptions extends Omit<BroadcastOptions, 'reply' | 'table'> {
  /** The binding table (the client's reply binding lives there). */
  readonly table: KombuTable;
}

/** Options of {@link control}. */
export type ControlOptions = Omit<BroadcastOptions, 'arguments'>;

/** The process' control clock (Celery's `app.clock` for a client). */
const processClock = new LamportClock();

function isObject(value: unknown): value is Readonly<Record<string, WireValue>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && !(value instanceof Date);
}

/**
 * Publishes a control command to every worker (or the ones addressed) and, with `reply`,
 * collects their replies.
 *
 * @param broker - publishes the command and consumes the reply queue
 * @param method - the command (`ping`, `revoke`, `stats`, …)
 * @param options - arguments, reply, timeout, destination
 * @returns node name → reply (empty without `reply`); a node that replied twice keeps its last
 * @throws {@link RangeError} for `reply` without `table`, a bad timeout or destination;
 *   broker errors from publishing
 */
export async function broadcast(broker: ControlBroker, method: string, options: BroadcastOptions = {}): Promise<Map<string, WireValue>> {
  const timeout = options.timeout ?? 1;
  if (!(timeout > 0) || !Number.isFinite(timeout)) throw new RangeError(`timeout must be a positive number of seconds, got ${String(timeout)}`);
  const destination = options.destination;
  if (destination !== undefined && (!Array.isArray(destination) || !destination.every((d) => typeof d === 'string'))) {
    throw new RangeError(`destination must be a list of node names, got ${JSON.stringify(destination)}`);
  }
  const clock = options.clock ?? processClock;
  const namespace = options.namespace ?? DEFAULT_CONTROL_NAMESPACE;
  const exchange = pidboxExchange(namespace);
  const body: Record<string, unknown> = {
    method,
    arguments: { ...(options.arguments ?? {}) },
    destination: destination === undefined ? null : [...destination],
    pattern: options.pattern ?? null,
    matcher: options.matcher ?? null,
  };
  const envelope = (): string =>
    encodeKombuJson(
      body,
      { clock: clock.forward(), expires: Date.now() / 1000 + timeout },
      { exchange, routingKey: '', deliveryMode: 2 },
    );
  if (options.reply !== true) {
    await broker.publishFanout(exchange, '', envelope());
    return new Map();
  }
  const table = options.table;
  if (table === undefined) throw new RangeError(`broadcast of ${JSON.stringify(method)} with reply: true needs a table`);
  const logger = options.logger ?? silentLogger;
  const limit = options.limit ?? (destination !== undefined && destination.length > 0 ? destination.length : Infinity);
  const oid = randomUUID();
  const reply = replyExchange(namespace);
  const queue = `${oid}.${reply}`;
  const ticket = randomUUID();
  body['ticket'] = ticket;
  body['reply_to'] = { exchange: reply, routing_key: oid };

  await table.bind(reply, oid, queue);
  const consumer = broker.consume({ queues: [queue], prefetch: 0, noAck: true });
  const replies = new Map<string, WireValue>();
  try {
    await broker.publishFanout(exchange, '', envelope());
    const deadline = Date.now() + timeout * 1000;
    const iterator = consumer[Symbol.asyncIterator]();
    let count = 0;
    while (count < limit) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      const next = await Promise.race([
        iterator.next(),
        new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), left))),
      ]).finally(() => clearTimeout(timer));
      if (next === 'timeout' || next.done === true) break;
      let decoded;
      try {
        decoded = decodeKombuJson(next.value.raw);
      } catch (error) {
        logger.warn('undecodable control reply ignored', { error: error instanceof Error ? error.message : String(error) });
        continue;
      }
      const headers = decoded.headers;
      clock.adjust(headers['clock'] ?? 0);
      const expires = headers['expires'];
      if (typeof expires === 'number' && expires > 0 && Date.now() / 1000 > expires) continue;
      // kombu: a reply without a ticket header counts as ours.
      const theirs = headers['ticket'];
      if (theirs !== undefined && theirs !== null && theirs !== ticket) continue;
      if (!isObject(decoded.body)) continue;
      for (const [hostname, value] of Object.entries(decoded.body)) {
        replies.set(hostname, value);
        options.onReply?.(hostname, value);
      }
      count += 1;
    }
  } finally {
    // The consumer first: closing puts back what it fetched and did not hand out. Then
    // kombu's after_reply_message_received: SREM the binding, DEL the reply lists.
    const closed = await Promise.allSettled([consumer.close()]);
    const cleanup = [...closed, ...(await Promise.allSettled([table.unbind(reply, oid, queue), table.deleteQueue(queue)]))];
    for (const result of cleanup) {
      if (result.status === 'rejected') {
        logger.warn('control reply queue cleanup failed', {
          queue,
          error: result.reason instanceof Error ? result.reason.message : String(result.reason),
        });
      }
    }
  }
  return replies;
}

/**
 * `celery inspect <method>`: asks workers and collects their replies.
 *
 * @example
 * ```ts
 * const replies = await inspect(broker, 'ping', { table, timeout: 1 });
 * for (const [node, reply] of replies) console.log(node, reply); // w1@host { ok: 'pong' }
 * ```
 * @param broker - publishes the command and consumes the reply queue
 * @param method - `ping`, `active`, `reserved`, `scheduled`, `stats`, `registered`, `revoked`,
 *   `query_task`, `active_queues`, `conf`, `report`, `clock`, …
 * @param options - `table` (required), `timeout` in seconds (default 1), `destination`, `arguments`
 * @returns node name → reply
 * @see celery-wire.md §5.8
 */
export function inspect(broker: ControlBroker, method: string, options: InspectOptions): Promise<Map<string, WireValue>> {
  return broadcast(broker, method, { ...options, reply: true });
}

/**
 * `app.control.<method>(…)`: sends a control command, by default without waiting for replies
 * (as Celery's `revoke`, `shutdown`, …).
 *
 * @example
 * ```ts
 * await control(broker, 'revoke', { task_id: id, terminate: true, signal: 'SIGKILL' });
 * ```
 * @param broker - publishes the command (and consumes replies with `reply: true`)
 * @param method - `revoke`, `terminate`, `shutdown`, `enable_events`, `rate_limit`, …
 * @param args - the command's arguments, Celery's names
 * @param options - `reply: true` (with `table`) to collect replies
 * @returns node name → reply; empty without `reply`
 */
export function control(
  broker: ControlBroker,
  method: string,
  args: Readonly<Record<string, unknown>> = {},
  options: ControlOptions = {},
): Promise<Map<string, WireValue>> {
  return broadcast(broker, method, { ...options, arguments: args });
}

/** Options of {@link mingle}. */
export interface MingleOptions {
  /** This worker's node name (its own reply is left out). */
  readonly hostname: string;
  /** The binding table. */
  readonly table: KombuTable;
  /** The worker's Lamport clock, adjusted to the neighbours'. */
  readonly clock: LamportClock;
  /** Ids this worker already knows to be revoked (sent to the neighbours). */
  readonly revoked?: Iterable<string>;
  /** Seconds to wait for neighbours; default 1, as Celery. */
  readonly timeout?: number;
  readonly namespace?: string;
  readonly logger?: Logger;
}

/** What {@link mingle} learned. */
export interface MingleResult {
  /** Neighbours that replied. */
  readonly nodes: string[];
  /** Revoked ids the neighbours know of. */
  readonly revoked: string[];
}

/**
 * Celery's startup "mingle": broadcasts `hello`, adjusts the clock to the neighbours' and
 * gathers their revoked ids (`--without-mingle` skips it).
 *
 * @param broker - publishes the command and consumes the reply queue
 * @param options - hostname, table, clock, own revoked ids
 * @returns the neighbours and their revoked ids
 * @see celery/worker/consumer/mingle.py
 */
export async function mingle(broker: ControlBroker, options: MingleOptions): Promise<MingleResult> {
  const now = Number(process.hrtime.bigint()) / 1e9;
  const ours: Record<string, unknown> = {};
  for (const id of options.revoked ?? []) ours[id] = [now, id];
  const replies = await broadcast(broker, 'hello', {
    reply: true,
    table: options.table,
    clock: options.clock,
    timeout: options.timeout ?? 1,
    arguments: { from_node: options.hostname, revoked: ours },
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  replies.delete(options.hostname);
  const nodes: string[] = [];
  const revoked = new Set<string>();
  for (const [node, reply] of replies) {
    if (!isObject(reply)) continue;
    nodes.push(node);
    const clock = reply['clock'];
    if (typeof clock === 'number' && clock > 0) options.clock.adjust(clock);
    else options.clock.forward();
    const theirs = reply['revoked'];
    if (isObject(theirs)) for (const id of Object.keys(theirs)) revoked.add(id);
    else if (Array.isArray(theirs)) for (const id of theirs) if (typeof id === 'string') revoked.add(id);
  }
  return { nodes, revoked: [...revoked] };
}

/**
 * Celery's remote control ("pidbox") on the worker side: answers `celery inspect …`,
 * `celery control …`, `app.control.revoke()`, Flower and other workers' mingle, the way a
 * Celery 5.2 worker does.
 *
 * Wire (kombu 5.2.4 `pidbox.py`, Redis transport), with `P` = `global_keyprefix`, `SEP` =
 * `\x06\x16`, database `DB`:
 *
 * | what | Redis |
 * |---|---|
 * | commands | `PUBLISH P/DB.celery.pidbox <envelope>`; workers `PSUBSCRIBE P/DB.celery.pidbox` |
 * | a worker's mailbox binding | `SADD P_kombu.binding.celery.pidbox "SEP SEP <hostname>.celery.pidbox"` (advisory) |
 * | a client's reply binding | `SADD P_kombu.binding.reply.celery.pidbox "<oid> SEP SEP <oid>.reply.celery.pidbox"` |
 * | a reply | `SMEMBERS P_kombu.binding.reply.celery.pidbox`, then `LPUSH P<oid>.reply.celery.pidbox <envelope>` for each member whose routing key is `<oid>` |
 *
 * Command body `{method, arguments, destination, pattern, matcher[, ticket, reply_to]}` with
 * headers `{clock, expires}`; reply body `{"<hostname>": <reply>}` with headers
 * `{ticket, clock}`, `delivery_info` `{exchange: reply.celery.pidbox, routing_key: <oid>}`.
 * The reply goes only to a queue still bound: a client that gave up (SREM) gets nothing, so
 * no reply list outlives its reader.
 *
 * The binding table needs plain Redis set and list commands, which the `Broker` interface
 * does not offer: they come through a {@link KombuTable} (kombu's `_queue_bind`, `_delete`,
 * `get_table`, `_put`).
 *
 * @see celery-wire.md §5.8, §2.7; kombu/pidbox.py, celery/worker/control.py, celery/worker/pidbox.py
 * @module
 */
import { globToRegExp } from '@celeriac/client';
import {
  encodeException,
  pyRepr,
  silentLogger,
  type Broker,
  type Logger,
  type Subscription,
  type WireObject,
  type WireValue,
} from '@celeriac/protocol';
import { createRedisClient, parseRedisUrl, type RedisTransportOptions } from '@celeriac/redis-connection';
import { decodeKombuJson, encodeKombuJson, LamportClock } from './events.ts';

// ---------------------------------------------------------------------------------------------
// Names

/** Celery's `control_exchange` default: commands go to `<namespace>.pidbox`. */
export const DEFAULT_CONTROL_NAMESPACE = 'celery';

/**
 * @param namespace - Celery's `control_exchange`; default `celery`
 * @returns the command exchange, `celery.pidbox`
 */
export function pidboxExchange(namespace = DEFAULT_CONTROL_NAMESPACE): string {
  return `${namespace}.pidbox`;
}

/**
 * @param namespace - Celery's `control_exchange`; default `celery`
 * @returns the reply exchange, `reply.celery.pidbox`
 */
export function replyExchange(namespace = DEFAULT_CONTROL_NAMESPACE): string {
  return `reply.${namespace}.pidbox`;
}

// ---------------------------------------------------------------------------------------------
// kombu's binding table

/**
 * kombu's binding table and direct queues on Redis: the part of kombu's virtual channel that
 * remote control needs beyond publish/consume/fanout. Keys follow the broker's layout
 * (`global_keyprefix` included).
 */
export interface KombuTable {
  /**
   * kombu `_queue_bind`: `SADD P_kombu.binding.<exchange> "<routingKey> SEP <pattern> SEP <queue>"`.
   *
   * @returns true when the binding was new
   */
  bind(exchange: string, routingKey: string, queue: string): Promise<boolean>;
  /** kombu `_delete` (first half): `SREM` the binding. */
  unbind(exchange: string, routingKey: string, queue: string): Promise<void>;
  /**
   * kombu `_lookup` on a direct exchange: the queues bound with exactly this routing key.
   *
   * @returns queue names (`SMEMBERS`, filtered)
   */
  lookup(exchange: string, routingKey: string): Promise<string[]>;
  /** kombu `_put` at priority 0: `LPUSH P<queue> <raw>`. */
  put(queue: string, raw: string): Promise<void>;
  /** kombu `_delete` (second half): `DEL` every priority list of the queue. */
  deleteQueue(queue: string): Promise<void>;
}

/** The Redis commands a {@link KombuTable} runs; an ioredis client fits. */
export interface KombuCommands {
  sadd(key: string, member: string): Promise<number>;
  srem(key: string, member: string): Promise<number>;
  smembers(key: string): Promise<string[]>;
  lpush(key: string, element: string): Promise<number>;
  del(...keys: string[]): Promise<number>;
}

/** The key layout a {@link KombuTable} follows; a broker's `keys` (`KombuKeys`) fits. */
export interface KombuTableKeys {
  /** `sep`, between the parts of a binding member. */
  readonly sep: string;
  /** @returns `P _kombu.binding.<exchange>` */
  bindingKey(exchange: string): string;
  /** @returns `P <queue>` (step 0) or `P <queue> SEP <step>` */
  queueKey(queue: string, step?: number): string;
  /** @returns every priority list of the queue */
  queueKeys(queue: string): string[];
}

/**
 * A {@link KombuTable} on a Redis connection you own.
 *
 * @param redis - a command connection (an ioredis client); its keys are not prefixed by it
 * @param keys - the broker's key layout (`broker.keys`), which adds `global_keyprefix`
 * @returns the table
 */
export function kombuTable(redis: KombuCommands, keys: KombuTableKeys): KombuTable {
  const member = (routingKey: string, queue: string): string => `${routingKey}${keys.sep}${keys.sep}${queue}`;
  return {
    async bind(exchange, routingKey, queue) {
      return (await redis.sadd(keys.bindingKey(exchange), member(routingKey, queue))) === 1;
    },
    async unbind(exchange, routingKey, queue) {
      await redis.srem(keys.bindingKey(exchange), member(routingKey, queue));
    },
    async lookup(exchange, routingKey) {
      const members = await redis.smembers(keys.bindingKey(exchange));
      const queues = new Set<string>();
      for (const entry of members) {
        const parts = entry.split(keys.sep);
        // routing_key SEP pattern SEP queue; a direct exchange matches the routing key exactly.
        if (parts.length === 3 && parts[0] === routingKey && parts[2] !== undefined && parts[2] !== '') queues.add(parts[2]);
      }
      return [...queues];
    },
    async put(queue, raw) {
      await redis.lpush(keys.queueKey(queue), raw);
    },
    async deleteQueue(queue) {
      await redis.del(...keys.queueKeys(queue));
    },
  };
}

/** Options of {@link createKombuTable}. */
export interface CreateKombuTableOptions {
  /** The broker's key layout (`broker.keys`). */
  readonly keys: KombuTableKeys;
  /** The broker's transport options (`master_name` for Sentinel URLs). */
  readonly transportOptions?: RedisTransportOptions;
  /** Connection name (`CLIENT SETNAME celeriac:<name>`); default `control`. */
  readonly name?: string;
  /** Where connection changes are logged. */
  readonly logger?: Logger;
}

/** A {@link KombuTable} with a connection of its own. */
export interface ClosableKombuTable extends KombuTable, AsyncDisposable {
  /** Closes the connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * A {@link KombuTable} on a new Redis command connection (made on first use).
 *
 * @param url - the broker URL (Celery-style)
 * @param options - the broker's key layout, transport options, logger
 * @returns the table; close it when done
 * @throws {@link CeleriacError} `INVALID_CONFIG` for a bad URL
 */
export function createKombuTable(url: string, options: CreateKombuTableOptions): ClosableKombuTable {
  const { redis } = createRedisClient(parseRedisUrl(url, options.transportOptions ?? {}), {
    role: 'command',
    name: options.name ?? 'control',
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const table = kombuTable(redis, options.keys);
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      if (redis.status === 'wait' || redis.status === 'end') {
        redis.disconnect();
        return;
      }
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    })();
    return closed;
  };
  return { ...table, close, [Symbol.asyncDispose]: close };
}

// ---------------------------------------------------------------------------------------------
// Commands and replies

/** A control command as published on the pidbox exchange. */
export interface ControlCommand {
  readonly method: string;
  readonly arguments: WireObject;
  /** Node names that should handle it; `null` (or empty) for every node. */
  readonly destination: readonly string[] | null;
  /** With `matcher`: node names matching it handle the command. */
  readonly pattern: string | null;
  /** `glob` (fnmatch) or `pcre` (Python `re.match`). */
  readonly matcher: string | null;
  /** Correlates replies with the call; only with `reply_to`. */
  readonly ticket?: string;
  /** Where replies go; present when the sender waits for replies. */
  readonly reply_to?: { readonly exchange: string; readonly routing_key: string };
}

/**
 * Reads a control command from a decoded body.
 *
 * @param body - the decoded JSON body
 * @returns the command, or `undefined` when the body is not one
 */
export function parseControlCommand(body: WireValue): ControlCommand | undefined {
  if (!isObject(body) || typeof body['method'] !== 'string' || body['method'] === '') return undefined;
  const args = body['arguments'];
  const destination = body['destination'];
  const replyTo = body['reply_to'];
  const ticket = body['ticket'];
  return {
    method: body['method'],
    arguments: isObject(args) ? args : {},
    destination: Array.isArray(destination) ? destination.filter((d): d is string => typeof d === 'string') : null,
    pattern: typeof body['pattern'] === 'string' ? body['pattern'] : null,
    matcher: typeof body['matcher'] === 'string' ? body['matcher'] : null,
    ...(typeof ticket === 'string' ? { ticket } : {}),
    ...(isObject(replyTo) && typeof replyTo['exchange'] === 'string' && typeof replyTo['routing_key'] === 'string'
      ? { reply_to: { exchange: replyTo['exchange'], routing_key: replyTo['routing_key'] } }
      : {}),
  };
}


/**
 * kombu's `Node.handle_message` filter: does a command address this node?
 *
 * @param command - the command
 * @param hostname - this node's name
 * @returns true when the node should handle it
 * @throws {@link Error} for a matcher kombu does not know (kombu raises `MatcherNotInstalled`)
 */
export function isAddressedTo(command: Pick<ControlCommand, 'destination' | 'pattern' | 'matcher'>, hostname: string): boolean {
  if (command.destination !== null && command.destination.length > 0) return command.destination.includes(hostname);
  if (command.pattern && command.matcher) {
    if (command.matcher === 'glob') return globToRegExp(command.pattern).test(hostname);
    if (command.matcher === 'pcre') return new RegExp(command.pattern, 'u').exec(hostname)?.index === 0;
    throw new Error(`No matcher installed for ${command.matcher}`);
  }
  return true;
}

/**
 * Python's `repr()` of an exception, as kombu puts it in an error reply (`KeyError('x')`).
 *
 * @param error - what was thrown
 * @returns e.g. `InteropError('boom')`, `Exception('plain')` for a thrown string
 */
export function exceptionRepr(error: unknown): string {
  const info = encodeException(error);
  return `${info.exc_type}(${info.exc_message.map((arg) => pyRepr(arg)).join(', ')})`;
}

// ---------------------------------------------------------------------------------------------
// Handlers

/** A task as `inspect active|reserved|scheduled|query_task` report it (Celery's `Request.info()`). */
export interface RequestInfo {
  readonly id: string;
  readonly name: string;
  /** Positional arguments (with `safe: true`, their repr string). */
  readonly args: unknown;
  /** Keyword arguments (with `safe: true`, their repr string). */
  readonly kwargs: unknown;
  /** The task name again (Celery's `type`). */
  readonly type: string;
  /** The worker's node name. */
  readonly hostname: string;
  /** Unix time (seconds) it started, or null. */
  readonly time_start: number | null;
  readonly acknowledged: boolean;
  readonly delivery_info: {
    readonly exchange: string;
    readonly routing_key: string;
    readonly priority: number | null;
    readonly redelivered: boolean | null;
  };
  /** The executing process' pid, or null. */
  readonly worker_pid: number | null;
}

/** A scheduled (ETA/countdown) task, as `inspect scheduled` reports it. */
export interface ScheduledInfo {
  /** ISO 8601 ETA, or null. */
  readonly eta: string | null;
  readonly priority: number | null;
  readonly request: RequestInfo;
}

/** Options of a revoke (`revoke` and `terminate` commands). */
export interface ControlRevokeOptions {
  /** Also stop the task if it is running. */
  readonly terminate: boolean;
  /** The signal name to terminate with (`SIGTERM` unless given). */
  readonly signal: string;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * What the worker provides to answer commands. Every handler is optional; without one, a
 * command answers as an idle Celery worker would (empty lists, zero counts).
 */
export interface RemoteControlHandlers {
  /**
   * Flag task ids as revoked (and, with `terminate`, stop them if running).
   *
   * @returns with `terminate`, the ids actually terminated
   */
  revoke?(ids: string[], options: ControlRevokeOptions): MaybePromise<Iterable<string> | void>;
  /** Revoked ids (for `inspect revoked` and the mingle `hello` reply). */
  revoked?(): MaybePromise<Iterable<string>>;
  /** Tasks executing now (`inspect active`). */
  active?(options: { safe: boolean }): MaybePromise<readonly RequestInfo[]>;
  /** Tasks received and waiting for a slot, ETA tasks excluded (`inspect reserved`). */
  reserved?(options: { safe: boolean }): MaybePromise<readonly RequestInfo[]>;
  /** ETA/countdown tasks held (`inspect scheduled`). */
  scheduled?(): MaybePromise<readonly ScheduledInfo[]>;
  /**
   * `inspect stats`, with Celery's keys (`total`, `pool`, `prefetch_count`, …). Whatever it
   * leaves out is filled in Celery's shape: `pid`, `clock` (always the control clock),
   * `uptime`, `pool`, `broker` (from `brokerUrl`), `rusage`.
   */
  stats?(): MaybePromise<object>;
  /** Registered task names (`inspect registered`). */
  registered?(): MaybePromise<Iterable<string>>;
  /** Queues consumed (`inspect active_queues`), as Celery's `Queue.as_dict()`. */
  activeQueues?(): MaybePromise<readonly unknown[]>;
  /** Configuration (`inspect conf`). */
  conf?(): MaybePromise<Readonly<Record<string, unknown>>>;
  /** `inspect report` text. */
  report?(): MaybePromise<string>;
  /**
   * Changes a task's rate limit (`control rate_limit`); throws for an unknown task or a rate
   * that does not parse (the reply is then Celery's `{"error": …}`).
   */
  rateLimit?(taskName: string, rateLimit: string | null): MaybePromise<void>;
  /** Warm shutdown (`control shutdown`); no reply is sent, as Celery. */
  shutdown?(message: string): MaybePromise<void>;
  /** Send a heartbeat event now (`heartbeat`, broadcast by event monitors). */
  heartbeat?(): MaybePromise<void>;
  /** Turn task events on (`enable_events`); return false when already on. */
  enableEvents?(): MaybePromise<boolean>;
  /** Turn task events off (`disable_events`); return false when already off. */
  disableEvents?(): MaybePromise<boolean>;
  /**
   * Merge revoked ids another worker sent with its mingle `hello`; default: `revoke(ids,
   * { terminate: false })`.
   */
  mergeRevoked?(ids: string[], fromNode: string): MaybePromise<void>;
  /** More commands by name (`rate_limit`, `add_consumer`, custom ones); the return value is the reply. */
  commands?: Readonly<Record<string, (args: WireObject) => unknown>>;
}

/** Options of {@link RemoteControl}. */
export interface RemoteControlOptions {
  /** Where commands arrive (`subscribeFanout`). */
  readonly broker: Pick<Broker, 'subscribeFanout'>;
  /** The binding table, for the mailbox binding and replies. */
  readonly table: KombuTable;
  /** The worker's node name (`celery@host`). */
  readonly hostname: string;
  readonly handlers?: RemoteControlHandlers;
  /** The worker's Lamport clock, shared with its events; default a new one. */
  readonly clock?: LamportClock;
  /** Celery's `control_exchange`; default `celery`. */
  readonly namespace?: string;
  /** When the worker started (for `uptime`); default now. */
  readonly startedAt?: Date;
  /** The broker URL, for `broker` in `inspect stats` (the password is never reported). */
  readonly brokerUrl?: string;
  /**
   * Commands whose `expires` header is older than this many ms are dropped. Celery 5.2
   * never drops commands; this only guards against replays, with room for clock skew
   * between hosts. Default 10 000; `Infinity` never drops.
   */
  readonly expiryGraceMs?: number;
  readonly logger?: Logger;
}

/** Returned by a command implementation when no reply must be sent (shutdown). */
const NO_REPLY = Symbol('no reply');

type Command = (args: WireObject) => Promise<unknown>;

/** Commands that are known under a second name (Celery's `alias`). */
const ALIASES: Readonly<Record<string, string>> = {
  dump_conf: 'conf',
  dump_active: 'active',
  dump_reserved: 'reserved',
  dump_schedule: 'scheduled',
  dump_revoked: 'revoked',
  dump_tasks: 'registered',
};

function isObject(value: unknown): value is WireObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && !(value instanceof Date);
}

/** Celery's `maybe_list`: a string becomes `[string]`, a list keeps its strings, anything else `[]`. */
function idList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return [...new Set(value.filter((v): v is string => typeof v === 'string'))];
  return [];
}

function truthy(value: unknown): boolean {
  if (typeof value === 'string') return ['1', 'true', 'yes', 'on', 'y'].includes(value.toLowerCase());
  return Boolean(value);
}

/** Python's `time.monotonic()` on Linux (CLOCK_MONOTONIC), as Celery's revoked `LimitedSet` stamps entries. */
function monotonicSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

function rusage(): Record<string, number> {
  const u = process.resourceUsage();
  return {
    utime: u.userCPUTime / 1e6,
    stime: u.systemCPUTime / 1e6,
    maxrss: u.maxRSS,
    ixrss: u.sharedMemorySize,
    idrss: u.unsharedDataSize,
    isrss: u.unsharedStackSize,
    minflt: u.minorPageFault,
    majflt: u.majorPageFault,
    nswap: u.swappedOut,
    inblock: u.fsRead,
    oublock: u.fsWrite,
    msgsnd: u.ipcSent,
    msgrcv: u.ipcReceived,
    nsignals: u.signalsCount,
    nvcsw: u.voluntaryContextSwitches,
    nivcsw: u.involuntaryContextSwitches,
  };
}

type Status = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/**
 * A worker's mailbox: receives control commands, runs them, replies.
 *
 * @example
 * ```ts
 * const control = new RemoteControl({
 *   broker, table, hostname: 'celeriac@host', clock,
 *   handlers: { revoke: (ids) => worker.revoke(ids), active: () => worker.activeRequests(), stats: () => worker.stats() },
 * });
 * await control.start(); // now `celery inspect ping` answers "pong"
 * // …
 * await control.close();
 * ```
 * @see celery-wire.md §5.8
 */
export class RemoteControl {
  /** The worker's node name. */
  readonly hostname: string;
  /** The Lamport clock stamped on replies. */
  readonly clock: LamportClock;
  readonly #broker: Pick<Broker, 'subscribeFanout'>;
  readonly #table: KombuTable;
  readonly #handlers: RemoteControlHandlers;
  readonly #logger: Logger;
  readonly #exchange: string;
  readonly #mailbox: string;
  readonly #startedAt: number;
  readonly #graceMs: number;
  readonly #brokerInfo: Readonly<Record<string, unknown>>;
  readonly #commands: ReadonlyMap<string, Command>;
  readonly #inFlight = new Set<Promise<void>>();
  #subscription: Subscription | undefined;
  #status: Status = 'new';

  /**
   * @param options - broker, table, hostname, handlers
   */
  constructor(options: RemoteControlOptions) {
    this.hostname = options.hostname;
    this.clock = options.clock ?? new LamportClock();
    this.#broker = options.broker;
    this.#table = options.table;
    this.#handlers = options.handlers ?? {};
    this.#logger = options.logger ?? silentLogger;
    this.#exchange = pidboxExchange(options.namespace);
    this.#mailbox = `${this.hostname}.${options.namespace ?? DEFAULT_CONTROL_NAMESPACE}.pidbox`;
    this.#startedAt = (options.startedAt ?? new Date()).getTime();
    this.#graceMs = options.expiryGraceMs ?? 10_000;
    this.#brokerInfo = brokerInfo(options.brokerUrl);
    this.#commands = this.#builtins();
  }

  /** The mailbox queue name bound to the pidbox exchange (`<hostname>.celery.pidbox`). */
  get mailbox(): string {
    return this.#mailbox;
  }

  /**
   * Records the mailbox binding (`SADD P_kombu.binding.celery.pidbox "SEP SEP <mailbox>"`)
   * and subscribes to the pidbox exchange. Resolves once the subscription is confirmed.
   *
   * @throws when Redis rejects the subscription (the binding is removed again)
   */
  async start(): Promise<void> {
    if (this.#status !== 'new') return;
    this.#status = 'starting';
    try {
      const fresh = await this.#table.bind(this.#exchange, '', this.#mailbox);
      if (!fresh) {
        // kombu's W_PIDBOX_IN_USE; also left behind by a worker of this name that crashed.
        this.#logger.warn('a node with this name is already bound to the control mailbox; use unique node names', {
          hostname: this.hostname,
        });
      }
      this.#subscription = await this.#broker.subscribeFanout(this.#exchange, '', (message) => this.#onMessage(message.raw));
      this.#status = 'running';
    } catch (error) {
      this.#status = 'closed';
      await this.#table.unbind(this.#exchange, '', this.#mailbox).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Unsubscribes, waits for commands being answered, removes the binding and the mailbox
   * lists (kombu deletes `<hostname>.celery.pidbox*` on shutdown). Idempotent.
   */
  async close(): Promise<void> {
    if (this.#status === 'closing' || this.#status === 'closed') return;
    const wasStarted = this.#status !== 'new';
    this.#status = 'closing';
    try {
      await this.#subscription?.unsubscribe();
    } catch (error) {
      this.#logger.warn('pidbox unsubscribe failed', { error: error instanceof Error ? error.message : String(error) });
    }
    this.#subscription = undefined;
    await Promise.allSettled([...this.#inFlight]);
    if (wasStarted) {
      await Promise.allSettled([this.#table.unbind(this.#exchange, '', this.#mailbox), this.#table.deleteQueue(this.#mailbox)]);
    }
    this.#status = 'closed';
  }

  /** {@link RemoteControl.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Handles one raw pidbox message as if it arrived on the exchange (for tests and custom
   * transports).
   *
   * @param raw - the envelope
   * @returns resolves when the command ran and its reply (if any) was sent
   */
  handleMessage(raw: Uint8Array | string): Promise<void> {
    const promise = this.#handle(raw).finally(() => this.#inFlight.delete(promise));
    this.#inFlight.add(promise);
    return promise;
  }

  /**
   * Runs a command and returns its reply, without the wire (for tests and embedding).
   *
   * @param method - the command name
   * @param args - its arguments
   * @returns the reply value, or `undefined` when the command sends no reply (shutdown)
   */
  async dispatch(method: string, args: WireObject = {}): Promise<unknown> {
    const reply = await this.#run(method, args);
    return reply === NO_REPLY ? undefined : reply;
  }

  #onMessage(raw: Uint8Array): void {
    if (this.#status !== 'running') return;
    void this.handleMessage(raw);
  }

  async #handle(raw: Uint8Array | string): Promise<void> {
    let command: ControlCommand | undefined;
    let headers: WireObject;
    try {
      const decoded = decodeKombuJson(raw);
      headers = decoded.headers;
      command = parseControlCommand(decoded.body);
    } catch (error) {
      this.#logger.error('cannot decode control message', { error: error instanceof Error ? error.message : String(error) });
      return;
    }
    if (command === undefined) {
      this.#logger.error('control message without a method; ignored', { hostname: this.hostname });
      return;
    }
    // Celery's worker forwards its clock for every message, then kombu adjusts to the sender's.
    this.clock.forward();
    if (headers['clock'] !== undefined && headers['clock'] !== null) this.clock.adjust(headers['clock']);
    let addressed: boolean;
    try {
      addressed = isAddressedTo(command, this.hostname);
    } catch (error) {
      this.#logger.error('control command error', { method: command.method, error: error instanceof Error ? error.message : String(error) });
      return;
    }
    if (!addressed) return;
    const expires = headers['expires'];
    if (typeof expires === 'number' && expires > 0 && Date.now() > expires * 1000 + this.#graceMs) {
      this.#logger.warn('expired control command dropped', { method: command.method, expires });
      return;
    }
    this.#logger.debug('pidbox received method', { method: command.method, ticket: command.ticket });
    const reply = await this.#run(command.method, command.arguments);
    if (reply === NO_REPLY || command.reply_to === undefined) return;
    await this.#reply(command.reply_to, command.ticket ?? null, reply);
  }

  async #run(method: string, args: WireObject): Promise<unknown> {
    const command = this.#commands.get(method) ?? this.#commands.get(ALIASES[method] ?? '');
    try {
      if (command === undefined) {
        this.#logger.error('No such control command', { method });
        // kombu looks the handler up in a dict: the KeyError's repr is the reply.
        return { error: `KeyError(${pyRepr(method)})` };
      }
      return (await command(args)) ?? null;
    } catch (error) {
      this.#logger.error('pidbox command error', { method, error: error instanceof Error ? error.message : String(error) });
      return { error: exceptionRepr(error) };
    }
  }

  async #reply(replyTo: { exchange: string; routing_key: string }, ticket: string | null, reply: unknown): Promise<void> {
    try {
      const queues = await this.#table.lookup(replyTo.exchange, replyTo.routing_key);
      if (queues.length === 0) {
        this.#logger.debug('control reply dropped: nobody waits for it', { routingKey: replyTo.routing_key });
        return;
      }
      const raw = encodeKombuJson(
        { [this.hostname]: reply },
        { ticket, clock: this.clock.forward() },
        { exchange: replyTo.exchange, routingKey: replyTo.routing_key, deliveryMode: 1 },
      );
      await Promise.all(queues.map((queue) => this.#table.put(queue, raw)));
    } catch (error) {
      this.#logger.warn('control reply not sent', {
        routingKey: replyTo.routing_key,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  #builtins(): Map<string, Command> {
    const h = this.#handlers;
    const commands = new Map<string, Command>();
    const ok = (value: unknown): { ok: unknown } => ({ ok: value });
    const revoke = async (ids: string[], terminate: boolean, signal: unknown): Promise<unknown> => {
      const options: ControlRevokeOptions = { terminate, signal: typeof signal === 'string' && signal !== '' ? signal : 'SIGTERM' };
      const result = await h.revoke?.(ids, options);
      if (terminate) {
        const terminated = [...new Set(result ?? [])];
        return ok(terminated.length === 0 ? 'terminate: tasks unknown' : `terminate: ${terminated.join(', ')}`);
      }
      return ok(`tasks ${ids.join(', ')} flagged as revoked`);
    };
    commands.set('ping', () => Promise.resolve(ok('pong')));
    commands.set('revoke', (args) => revoke(idList(args['task_id']), truthy(args['terminate']), args['signal']));
    commands.set('terminate', (args) => revoke(idList(args['task_id']), true, args['signal']));
    commands.set('clock', () => Promise.resolve({ clock: this.clock.value }));
    commands.set('hello', async (args) => {
      const from = args['from_node'];
      if (from === this.hostname) return null;
      this.#logger.info('sync with node', { from });
      const theirs = args['revoked'];
      const ids = isObject(theirs) ? Object.keys(theirs) : idList(theirs);
      if (ids.length > 0) {
        if (h.mergeRevoked !== undefined) await h.mergeRevoked(ids, typeof from === 'string' ? from : '');
        else await h.revoke?.(ids, { terminate: false, signal: 'SIGTERM' });
      }
      // Celery sends its LimitedSet's data: {id: [monotonic time, id]}.
      const now = monotonicSeconds();
      const revoked: Record<string, unknown> = {};
      for (const id of (await h.revoked?.()) ?? []) revoked[id] = [now, id];
      return { revoked, clock: this.clock.forward() };
    });
    commands.set('active', async (args) => [...((await h.active?.({ safe: truthy(args['safe']) })) ?? [])]);
    commands.set('reserved', async (args) => [...((await h.reserved?.({ safe: truthy(args['safe']) })) ?? [])]);
    commands.set('scheduled', async () => [...((await h.scheduled?.()) ?? [])]);
    commands.set('revoked', async () => [...((await h.revoked?.()) ?? [])]);
    commands.set('registered', async (args) => {
      const builtins = truthy(args['builtins']);
      const names = [...((await h.registered?.()) ?? [])].filter((name) => builtins || !name.startsWith('celery.'));
      return names.sort();
    });
    commands.set('query_task', async (args) => {
      const ids = new Set(idList(args['ids'] ?? args['id']));
      const found: Record<string, unknown> = {};
      for (const info of (await h.active?.({ safe: false })) ?? []) if (ids.has(info.id)) found[info.id] = ['active', info];
      for (const info of (await h.reserved?.({ safe: false })) ?? []) {
        if (ids.has(info.id) && !(info.id in found)) found[info.id] = ['reserved', info];
      }
      for (const entry of (await h.scheduled?.()) ?? []) {
        if (ids.has(entry.request.id) && !(entry.request.id in found)) found[entry.request.id] = ['reserved', entry.request];
      }
      return found;
    });
    commands.set('stats', async () => this.#stats((await h.stats?.()) ?? {}));
    commands.set('active_queues', async () => [...((await h.activeQueues?.()) ?? [])]);
    commands.set('conf', async () => ({ ...((await h.conf?.()) ?? {}) }));
    commands.set('report', async () => ok((await h.report?.()) ?? defaultReport()));
    commands.set('heartbeat', async () => {
      await h.heartbeat?.();
      return null;
    });
    commands.set('enable_events', async () =>
      ok((await h.enableEvents?.()) === false ? 'task events already enabled' : 'task events enabled'),
    );
    commands.set('disable_events', async () =>
      ok((await h.disableEvents?.()) === false ? 'task events already disabled' : 'task events disabled'),
    );
    commands.set('rate_limit', async (args) => {
      const name = args['task_name'];
      const rate = args['rate_limit'];
      if (typeof name !== 'string' || h.rateLimit === undefined) return { error: 'unknown task' };
      const value = typeof rate === 'string' || rate === null ? rate : typeof rate === 'number' ? String(rate) : null;
      try {
        await h.rateLimit(name, value);
      } catch (error) {
        return { error: error instanceof Error ? error.message : String(error) };
      }
      return ok(value === null || value === '' || value === '0' ? 'rate limit disabled successfully' : 'new rate limit set successfully');
    });
    commands.set('shutdown', async (args) => {
      const message = typeof args['msg'] === 'string' ? args['msg'] : 'Got shutdown from remote';
      this.#logger.warn(message, { hostname: this.hostname });
      await h.shutdown?.(message);
      return NO_REPLY;
    });
    // Handlers' own commands replace built-ins of the same name.
    for (const [name, fn] of Object.entries(h.commands ?? {})) commands.set(name, (args) => Promise.resolve(fn(args)));
    return commands;
  }

  /**
   * Celery's `stats` reply: the handler's keys over Celery's shape (`total`, `pid`, `clock`,
   * `uptime`, `pool`, `broker`, `prefetch_count`, `rusage`, in Celery's order); `pool`,
   * `broker` and `rusage` are merged key by key, `clock` is always this node's clock.
   */
  #stats(own: object = {}): Record<string, unknown> {
    const theirs = own as Readonly<Record<string, unknown>>;
    const merged = (key: string, base: Record<string, unknown>): Record<string, unknown> => {
      const value = theirs[key];
      return isObject(value) ? { ...base, ...value } : base;
    };
    const stats: Record<string, unknown> = {
      total: {},
      pid: process.pid,
      clock: '',
      uptime: Math.round((Date.now() - this.#startedAt) / 1000),
      pool: {},
      broker: {},
      prefetch_count: 0,
      rusage: {},
      ...theirs,
    };
    stats['clock'] = String(this.clock.value);
    stats['pool'] = merged('pool', {
      'max-concurrency': 1,
      processes: [process.pid],
      'max-tasks-per-child': null,
      'put-guarded-by-semaphore': false,
      timeouts: [],
    });
    stats['broker'] = merged('broker', { ...this.#brokerInfo });
    stats['rusage'] = merged('rusage', rusage());
    return stats;
  }
}

/**
 * The `broker` part of Celery's `inspect stats` (kombu's `Connection.info()`), from a URL,
 * without the password.
 */
function brokerInfo(url: string | undefined): Record<string, unknown> {
  let hostname: string | null = null;
  let port: number | null = null;
  let virtualHost = '0';
  let ssl = false;
  let transport = 'redis';
  if (url !== undefined) {
    try {
      const parsed = new URL(url);
      transport = parsed.protocol.replace(/:$/, '').replace(/^rediss$/, 'redis');
      ssl = parsed.protocol === 'rediss:';
      hostname = parsed.hostname === '' ? null : parsed.hostname;
      port = parsed.port === '' ? (transport === 'redis' ? 6379 : null) : Number(parsed.port);
      const db = /^\/(\d+)/.exec(parsed.pathname)?.[1];
      if (db !== undefined) virtualHost = db;
    } catch {
      // Not a URL (a Sentinel list): report the transport only.
    }
  }
  return {
    hostname,
    userid: null,
    virtual_host: virtualHost,
    port,
    insist: false,
    ssl,
    transport,
    connect_timeout: 4,
    transport_options: {},
    login_method: null,
    uri_prefix: null,
    heartbeat: 120,
    failover_strategy: 'round-robin',
    alternates: [],
  };
}

function defaultReport(): string {
  return `\nsoftware -> celeriac node:${process.versions.node}\nplatform -> system:${process.platform} arch:${process.arch}\n`;
}

/**
 * The result consumer: one per backend, one subscriber connection, one `Map` of the task ids
 * somebody waits for. It replaces Celery's `ResultConsumer` + `Drainer` pair and avoids the
 * ways they fail (celery#4670 duplicate SUBSCRIBEs, #5921 results lost across a reconnect,
 * #6416 a connection per thread, #6963 an undrained subscriber killed by the server, and a
 * timed-out `get()` that keeps its channel forever).
 *
 * **Who holds what.** The map holds, per task id, an {@link Entry}: the `get()` waiters
 * (resolve/reject of a promise somebody awaits, held strongly: an awaited wait must never be
 * cut short by the garbage collector) and the on-ready promises of result handles (held
 * strongly, but each reaches its handle only through a `weakMethod`, so a dropped handle is
 * collectable). A `FinalizationRegistry` keyed on the handle and holding only the task id
 * queues the id when a handle is collected; a later tick drops the dead registrations and,
 * when nothing is left, the subscription.
 *
 * **Subscriptions.** `#subscribed` is what this consumer has sent SUBSCRIBE for on the current
 * connection; `#dirty` the ids whose wanted state (in the map or not) may differ from it.
 * One flush per tick reconciles the two in batches of {@link BATCH_SIZE}: so a channel is
 * subscribed once per connection however many callers race, and unsubscribed once it has
 * no waiter left (ready state, timeout, abort, `forget()`, garbage collection). After a
 * SUBSCRIBE is confirmed, one MGET of its batch closes the race with a result stored before.
 *
 * **Connection.** Created on the first subscription; its {@link ConnectionState} is the one
 * state machine: leaving `ready` forgets `#subscribed` (the server did), `ready` and
 * `reconnected` resubscribe every live id once, in batches, then MGET them (what was
 * published meanwhile is lost to pub/sub). ioredis never resubscribes (`autoResubscribe:
 * false`) nor queues our commands for later (`enableOfflineQueue: false`), so nothing is
 * sent twice. A SUBSCRIBE the server refuses (NOPERM: an ACL user without channel rights)
 * switches the consumer to polling (MGET every `pollInterval`).
 *
 * **Half-open connections.** Every subscriber command has a deadline (`commandTimeout`,
 * which also bounds a reconnect's handshake), and the connection is PINGed every
 * `healthCheckInterval`: a PING, SUBSCRIBE or UNSUBSCRIBE with no answer in time drops the
 * connection, and the reconnect resyncs as above. After a reconnect to a restarted server
 * (`run_id` changed), `onDataLoss: 'fail'` rejects the waits whose result is not stored.
 *
 * @see celery-wire.md §4.7; RELIABILITY.md section C and matrix rows 6-13, 26, 28, 29
 * @module
 */
import {
  CeleriacError,
  ConnectionClosedError,
  ErrorCode,
  READY_STATES,
  TimeoutError,
  silentLogger,
  type Logger,
  type ResultMeta,
} from '@celeriac/protocol';
import type { AnyVinePromise } from '@celeriac/promise';
import {
  createRedisClient,
  type ConnectionStatus,
  type RedisClientHandle,
  type RedisConnectionConfig,
} from '@celeriac/redis-connection';
import { closeRedis } from './close-redis.ts';
import { taskIdOfChannel, taskKey } from './result-keys.ts';

/** Channels per SUBSCRIBE / UNSUBSCRIBE command and keys per MGET. */
export const BATCH_SIZE = 1000;

/** How the consumer learns about results. */
export type ResultConsumerMode = 'pubsub' | 'poll';

/**
 * What happens to pending waits when the server restarted (its `run_id` changed across a
 * reconnect): `fail` rejects those whose result is not stored with a {@link ResultLostError};
 * `wait` keeps waiting.
 */
export type DataLossPolicy = 'fail' | 'wait';

/** Default deadline of a command (ioredis `commandTimeout`), in ms. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

/** Default interval of the subscriber connection's health-check PING, in ms. */
export const DEFAULT_HEALTH_CHECK_INTERVAL_MS = 5_000;

/** TCP keepalive delay of both connections, in ms. */
export const TCP_KEEPALIVE_MS = 30_000;

/**
 * How long a dropped connection waits for the server's FIN before its socket is destroyed
 * (ioredis `disconnectTimeout`, 2 000 by default): a half-open connection never sends one.
 */
export const DISCONNECT_TIMEOUT_MS = 500;

/**
 * A wait rejected because Redis restarted (its `run_id` changed) and the result is not
 * stored on the restarted server: stored before the restart and lost with it (no
 * persistence), or not stored yet (the task still runs). Only with `onDataLoss: 'fail'`.
 */
/** Who the server is, for telling a restart that kept its data from one that lost it. */
export interface ServerIdentity {
  /** `run_id` from INFO server: new on every restart. */
  readonly runId: string;
  /** The data epoch marker's value: survives a restart only together with the data. */
  readonly epoch: string;
}

export class ResultLostError extends ConnectionClosedError {
  /** The task whose result is missing. */
  readonly taskId: string;

  /**
   * @param taskId - the task id
   * @param previousRunId - the server's run_id before the reconnect
   * @param runId - its run_id after
   */
  constructor(taskId: string, previousRunId: string, runId: string) {
    super(
      `Redis lost its data (run_id ${previousRunId} -> ${runId}, new data epoch: a restart without persistence, ` +
        `a FLUSHALL or a failover) and the result of task ${taskId} is not stored on it: it was lost, or the task ` +
        "has not finished yet. Pass onDataLoss: 'wait' to keep waiting after data loss.",
    );
    this.name = 'ResultLostError';
    this.taskId = taskId;
  }
}

/** Decodes a stored or published meta for a task id; throws the typed decode errors. */
export type ResultMetaDecoder = (raw: Buffer, taskId: string) => ResultMeta;

/** Options of {@link ResultConsumer}. */
export interface ResultConsumerOptions {
  /** Where the subscriber connects (the backend's URL, parsed). */
  readonly config: RedisConnectionConfig;
  /**
   * MGET on the backend's command connection (a subscribed connection cannot GET): the
   * values of the keys, in order, `null` for missing ones.
   */
  readonly mget: (keys: readonly string[]) => Promise<(Buffer | null)[]>;
  /**
   * Reads who the server is: its `run_id` (INFO server) and the data epoch, a marker key
   * holding a random token, set when missing and never expiring. Compared on every
   * (re)connect: a new run_id with the same epoch is a restart that kept its data (AOF/RDB);
   * a new epoch is data loss (a restart without persistence, a FLUSHALL, a failover to an
   * empty replica). Optional.
   */
  readonly serverIdentity?: () => Promise<ServerIdentity | undefined>;
  /** Decodes metas with the backend's serializer, accept list and limits. */
  readonly decode: ResultMetaDecoder;
  /** `pubsub` (default) or `poll` (never subscribe; MGET every `pollInterval`). */
  readonly mode?: ResultConsumerMode;
  /** Milliseconds between two polls, and before retrying a failed MGET. Default 500. */
  readonly pollInterval?: number;
  /**
   * Deadline of each command on the subscriber connection (ioredis `commandTimeout`: the
   * handshake, SUBSCRIBE, UNSUBSCRIBE, PING), in ms. Default 10 000. A SUBSCRIBE or
   * UNSUBSCRIBE that misses it drops the connection (a new one resubscribes everything).
   */
  readonly commandTimeoutMs?: number;
  /**
   * How often the subscriber connection is PINGed, in ms (`0`: never). A PING not answered
   * within this interval (or `commandTimeoutMs`, whichever is shorter) marks the connection
   * half-open: it is dropped and a new one resubscribes every waited id. Default 5 000.
   */
  readonly healthCheckInterval?: number;
  /** See {@link DataLossPolicy}. Default `fail`. */
  readonly onDataLoss?: DataLossPolicy;
  readonly logger?: Logger;
}

/** Options of {@link ResultConsumer.wait}. */
export interface ConsumerWaitOptions {
  /** Milliseconds; then the wait rejects with a `TimeoutError` and is dropped. */
  readonly timeout?: number | undefined;
  /** Aborting rejects the wait with the signal's reason and drops it. */
  readonly signal?: AbortSignal | undefined;
}

/** Counters and sizes, for tests and monitoring. */
export interface ResultConsumerStats {
  /** `pubsub`, or `poll` after a refused SUBSCRIBE or when configured. */
  readonly mode: ResultConsumerMode;
  /** Task ids somebody waits for (entries of the map). */
  readonly waiting: number;
  /** Channels subscribed (or being subscribed) on the current connection. */
  readonly subscribed: number;
  /** The subscriber connection's status, `none` before the first subscription. */
  readonly connection: ConnectionStatus | 'none';
  /** Times the subscriber connection became ready again after having been ready. */
  readonly reconnects: number;
  /** SUBSCRIBE commands sent, and the channels in them (cumulative). */
  readonly subscribeCommands: number;
  readonly channelsSubscribed: number;
  /** UNSUBSCRIBE commands sent, and the channels in them (cumulative). */
  readonly unsubscribeCommands: number;
  readonly channelsUnsubscribed: number;
  /** MGET commands sent (race guards, resubscribe catch-up and polls). */
  readonly mgetCommands: number;
  /** Task ids settled by a pub/sub message, and by an MGET (stored before the SUBSCRIBE, or polled). */
  readonly settledByMessage: number;
  readonly settledByFetch: number;
  /**
   * Reconnects after which the server's `run_id` had changed: a restarted (or failed-over)
   * server, which may have lost what it stored before when it had no persistence.
   */
  readonly serverRestarts: number;
  /** Health-check PINGs that got no answer in time (each dropped the subscriber connection). */
  readonly healthCheckFailures: number;
  /** Waited ids rejected with {@link ResultLostError} (`onDataLoss: 'fail'`). */
  readonly resultsLost: number;
  /** `messageBuffer` listeners on the subscriber connection (always 1 once it exists). */
  readonly messageListeners: number;
}

interface Waiter {
  readonly taskId: string;
  readonly resolve: (meta: ResultMeta) => void;
  readonly reject: (reason: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
}

/** The waits sharing one AbortSignal, and the one listener they share on it. */
interface SignalWaiters {
  readonly waiters: Set<Waiter>;
  readonly onAbort: () => void;
}

interface HandleRegistration {
  /** The handle's on-ready promise; its fn is a weak method back to the handle. */
  readonly promise: AnyVinePromise;
  /** The handle, weakly: only to tell a dead registration from a live one. */
  readonly owner: WeakRef<object>;
}

interface Entry {
  waiters: Set<Waiter> | undefined;
  handles: HandleRegistration[] | undefined;
  /** The last non-ready meta seen (STARTED, RETRY, custom states). */
  lastMeta: ResultMeta | undefined;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function isReplyError(err: unknown): err is Error {
  // ioredis rejects with redis-errors' ReplyError for an error reply of the server
  // (NOPERM, ERR …); connection problems are plain Errors.
  return err instanceof Error && err.name === 'ReplyError';
}

function isCommandTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Command timed out';
}

function nonNegativeMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new CeleriacError(ErrorCode.INVALID_CONFIG, `${name} must be a number of milliseconds >= 0, got ${String(value)}`);
  }
  return value;
}

/**
 * Waits for results on Celery's Redis backend: pub/sub with exactly-once SUBSCRIBE per
 * awaited id, batched resubscribe + MGET after reconnects, unsubscribe as soon as nobody
 * waits, a polling fallback. One per {@link RedisResultBackend}; made by it.
 */
export class ResultConsumer {
  readonly #config: RedisConnectionConfig;
  readonly #mget: (keys: readonly string[]) => Promise<(Buffer | null)[]>;
  readonly #serverIdentity: (() => Promise<ServerIdentity | undefined>) | undefined;
  readonly #decode: ResultMetaDecoder;
  readonly #pollInterval: number;
  readonly #commandTimeoutMs: number;
  readonly #healthCheckInterval: number;
  readonly #onDataLoss: DataLossPolicy;
  readonly #logger: Logger;
  #mode: ResultConsumerMode;

  readonly #entries = new Map<string, Entry>();
  readonly #subscribed = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #collected = new Set<string>();
  /** One abort listener per signal, however many waits share it (a group join: one signal, n waits). */
  readonly #signals = new WeakMap<AbortSignal, SignalWaiters>();
  /**
   * Ids waited for when a reconnect found a restarted server (`onDataLoss: 'fail'`): the
   * next MGET that finds no value for one rejects its waits with a {@link ResultLostError}.
   */
  readonly #lossSuspects = new Map<string, { previousRunId: string; runId: string }>();
  // Holds only the task id; the handle is the target and the unregister token (both weak).
  readonly #finalizer = new FinalizationRegistry<string>((taskId) => {
    // No I/O here (celery#10497): only queue the id; a later tick does the rest.
    this.#collected.add(taskId);
    this.#scheduleSweep();
  });

  #subscriber: RedisClientHandle | undefined;
  #detachSubscriber: (() => void) | undefined;
  /** Whether the subscriber connection is ready as far as this consumer knows. */
  #live = false;
  /** Bumped whenever the subscriber connection leaves `ready`: replies of an older epoch are void. */
  #epoch = 0;
  #everReady = false;
  /** The server's run_id and data epoch at the last (re)connect. */
  #identity: ServerIdentity | undefined;
  #closed = false;
  #flushScheduled = false;
  #sweepScheduled = false;
  #pollTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #probing = false;
  readonly #retryIds = new Set<string>();

  #reconnects = 0;
  #subscribeCommands = 0;
  #channelsSubscribed = 0;
  #unsubscribeCommands = 0;
  #channelsUnsubscribed = 0;
  #mgetCommands = 0;
  #settledByMessage = 0;
  #settledByFetch = 0;
  #serverRestarts = 0;
  #healthCheckFailures = 0;
  #resultsLost = 0;

  /**
   * @param options - connection, MGET on the command connection, decoder, mode
   */
  constructor(options: ResultConsumerOptions) {
    this.#config = options.config;
    this.#mget = options.mget;
    this.#serverIdentity = options.serverIdentity;
    this.#decode = options.decode;
    this.#mode = options.mode ?? 'pubsub';
    this.#pollInterval = options.pollInterval ?? 500;
    const commandTimeoutMs = nonNegativeMs('commandTimeoutMs', options.commandTimeoutMs, DEFAULT_COMMAND_TIMEOUT_MS);
    if (commandTimeoutMs === 0) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, 'commandTimeoutMs must be a positive number of milliseconds, got 0');
    }
    this.#commandTimeoutMs = commandTimeoutMs;
    this.#healthCheckInterval = nonNegativeMs(
      'healthCheckInterval',
      options.healthCheckInterval,
      DEFAULT_HEALTH_CHECK_INTERVAL_MS,
    );
    const onDataLoss = options.onDataLoss ?? 'fail';
    if (onDataLoss !== 'fail' && onDataLoss !== 'wait') {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `onDataLoss must be 'fail' or 'wait', got ${JSON.stringify(onDataLoss)}`);
    }
    this.#onDataLoss = onDataLoss;
    this.#logger = options.logger ?? silentLogger;
  }

  /** `pubsub`, or `poll` (configured, or after the server refused a SUBSCRIBE). */
  get mode(): ResultConsumerMode {
    return this.#mode;
  }

  /**
   * Waits for the first ready meta (SUCCESS, FAILURE, REVOKED) of a task. Subscribes its
   * channel if nobody else waits for it yet; a stored result is found by the MGET that
   * follows the confirmed SUBSCRIBE.
   *
   * @param taskId - the task id
   * @param options - timeout (ms) and abort signal; either drops the wait (and the
   *   subscription, when no other waiter is left)
   * @returns the ready meta
   * @throws {@link TimeoutError} after `timeout`; the signal's reason on abort;
   *   {@link ConnectionClosedError} on {@link close}; `DecodeError`, `ContentDisallowedError` or
   *   `CeleriacError` `INVALID_RESULT` when the stored or published value does not decode
   */
  wait(taskId: string, options: ConsumerWaitOptions = {}): Promise<ResultMeta> {
    if (this.#closed) return Promise.reject(this.#closedError(taskId));
    const { timeout, signal } = options;
    // The signal's reason, as `fetch()` and friends reject with (an AbortError by default).
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    return new Promise<ResultMeta>((resolve, reject) => {
      const waiter: Waiter = { taskId, resolve, reject, timer: undefined, signal: undefined };
      const entry = this.#entryFor(taskId);
      (entry.waiters ??= new Set()).add(waiter);
      if (timeout !== undefined) {
        waiter.timer = setTimeout(() => {
          this.#dropWaiter(taskId, waiter, new TimeoutError(
            `The result of task ${taskId} was not ready within ${timeout} ms`, timeout, { taskId },
          ));
        }, timeout);
      }
      if (signal !== undefined) this.#watchSignal(signal, waiter);
    });
  }

  /**
   * Registers a result handle's on-ready promise: fulfilled with the ready meta, failed
   * with a decode error or `ConnectionClosedError`. The promise is held strongly, the handle
   * only weakly; once the handle is garbage-collected the registration is dropped (and the
   * promise cancelled), and with it the subscription when nobody else waits.
   *
   * @param taskId - the task id
   * @param promise - the on-ready promise (its fn should be a `weakMethod` to `owner`)
   * @param owner - the handle; never held strongly
   */
  watch(taskId: string, promise: AnyVinePromise, owner: object): void {
    if (this.#closed) {
      promise.throw(this.#closedError(taskId));
      return;
    }
    const entry = this.#entryFor(taskId);
    (entry.handles ??= []).push({ promise, owner: new WeakRef(owner) });
    this.#finalizer.register(owner, taskId, owner);
  }

  /**
   * @param taskId - the task id
   * @returns the last non-ready meta seen for a task somebody waits for, if any
   */
  peek(taskId: string): ResultMeta | undefined {
    return this.#entries.get(taskId)?.lastMeta;
  }

  /**
   * Stops waiting for a task: every waiter is rejected with `reason`, every registered
   * handle promise is cancelled, and the channel is unsubscribed. Used by `forget()`.
   *
   * @param taskId - the task id
   * @param reason - what the waiters are rejected with
   */
  cancel(taskId: string, reason: unknown): void {
    const entry = this.#entries.get(taskId);
    if (entry === undefined) return;
    this.#remove(taskId);
    for (const waiter of entry.waiters ?? []) {
      this.#releaseWaiter(waiter);
      waiter.reject(reason);
    }
    for (const reg of entry.handles ?? []) {
      this.#unregister(reg);
      reg.promise.cancel();
    }
  }

  /** @returns counters and sizes (see {@link ResultConsumerStats}) */
  stats(): ResultConsumerStats {
    return {
      mode: this.#mode,
      waiting: this.#entries.size,
      subscribed: this.#subscribed.size,
      connection: this.#subscriber?.state.status ?? 'none',
      reconnects: this.#reconnects,
      subscribeCommands: this.#subscribeCommands,
      channelsSubscribed: this.#channelsSubscribed,
      unsubscribeCommands: this.#unsubscribeCommands,
      channelsUnsubscribed: this.#channelsUnsubscribed,
      mgetCommands: this.#mgetCommands,
      settledByMessage: this.#settledByMessage,
      settledByFetch: this.#settledByFetch,
      serverRestarts: this.#serverRestarts,
      healthCheckFailures: this.#healthCheckFailures,
      resultsLost: this.#resultsLost,
      messageListeners: this.#subscriber?.redis.listenerCount('messageBuffer') ?? 0,
    };
  }

  /**
   * Rejects every waiter with a {@link ConnectionClosedError}, fails every registered handle
   * promise with it, and closes the subscriber connection. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#pollTimer);
    clearTimeout(this.#retryTimer);
    clearInterval(this.#healthTimer);
    this.#lossSuspects.clear();
    const entries = [...this.#entries];
    this.#entries.clear();
    this.#dirty.clear();
    this.#subscribed.clear();
    this.#collected.clear();
    this.#retryIds.clear();
    for (const [taskId, entry] of entries) this.#fail(taskId, entry, this.#closedError(taskId));
    await this.#dropSubscriber();
  }

  #closedError(taskId: string): ConnectionClosedError {
    return new ConnectionClosedError(`The result backend was closed while waiting for the result of task ${taskId}`);
  }

  // ---- the map -------------------------------------------------------------------------

  #entryFor(taskId: string): Entry {
    let entry = this.#entries.get(taskId);
    if (entry === undefined) {
      entry = { waiters: undefined, handles: undefined, lastMeta: undefined };
      this.#entries.set(taskId, entry);
      this.#markDirty(taskId);
    }
    return entry;
  }

  #remove(taskId: string): void {
    this.#entries.delete(taskId);
    this.#lossSuspects.delete(taskId);
    this.#markDirty(taskId);
  }

  #dropWaiter(taskId: string, waiter: Waiter, reason: unknown): void {
    const entry = this.#entries.get(taskId);
    if (entry?.waiters?.delete(waiter) === true) {
      if (entry.waiters.size === 0) entry.waiters = undefined;
      if (entry.waiters === undefined && entry.handles === undefined) this.#remove(taskId);
    }
    this.#releaseWaiter(waiter);
    waiter.reject(reason);
  }

  #releaseWaiter(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    waiter.timer = undefined;
    const signal = waiter.signal;
    waiter.signal = undefined;
    if (signal === undefined) return;
    const shared = this.#signals.get(signal);
    if (shared?.waiters.delete(waiter) === true && shared.waiters.size === 0) {
      signal.removeEventListener('abort', shared.onAbort);
      this.#signals.delete(signal);
    }
  }

  /**
   * Drops the wait when the signal aborts. Every wait on one signal shares one listener, so
   * a group join (n waits, one signal) adds one, not n (no MaxListenersExceededWarning).
   */
  #watchSignal(signal: AbortSignal, waiter: Waiter): void {
    let shared = this.#signals.get(signal);
    if (shared === undefined) {
      const waiters = new Set<Waiter>();
      const onAbort = (): void => {
        this.#signals.delete(signal);
        for (const w of [...waiters]) this.#dropWaiter(w.taskId, w, signal.reason);
      };
      shared = { waiters, onAbort };
      this.#signals.set(signal, shared);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    shared.waiters.add(waiter);
    waiter.signal = signal;
  }

  #unregister(reg: HandleRegistration): void {
    const owner = reg.owner.deref();
    if (owner !== undefined) this.#finalizer.unregister(owner);
  }

  /** A ready meta for a task: every waiter resolves, every handle promise is fulfilled. */
  #settle(taskId: string, entry: Entry, meta: ResultMeta): void {
    this.#remove(taskId);
    for (const waiter of entry.waiters ?? []) {
      this.#releaseWaiter(waiter);
      waiter.resolve(meta);
    }
    for (const reg of entry.handles ?? []) {
      this.#unregister(reg);
      reg.promise.fulfil(meta);
    }
  }

  #fail(taskId: string, entry: Entry, error: unknown): void {
    this.#remove(taskId);
    for (const waiter of entry.waiters ?? []) {
      this.#releaseWaiter(waiter);
      waiter.reject(error);
    }
    for (const reg of entry.handles ?? []) {
      this.#unregister(reg);
      reg.promise.throw(error);
    }
  }

  /** A stored or published value for a task: decode it (only if somebody waits) and apply it. */
  #deliver(taskId: string, raw: Buffer, source: 'message' | 'fetch'): void {
    const entry = this.#entries.get(taskId);
    if (entry === undefined) return;
    let meta: ResultMeta;
    try {
      meta = this.#decode(raw, taskId);
    } catch (err) {
      // A foreign value, the other serializer, a refused content type: the waiters of this
      // id get the typed error; the consumer goes on serving the others.
      this.#logger.warn('result consumer: a result meta does not decode', {
        taskId,
        error: err instanceof Error ? err.message : String(err),
      });
      this.#fail(taskId, entry, err);
      return;
    }
    if (READY_STATES.has(meta.status)) {
      if (source === 'message') this.#settledByMessage += 1;
      else this.#settledByFetch += 1;
      this.#settle(taskId, entry, meta);
    } else {
      entry.lastMeta = meta;
    }
  }

  // The one 'messageBuffer' listener: never a listener per result (bullmq#135, ioredis#2030).
  readonly #onMessage = (channel: Buffer, message: Buffer): void => {
    const taskId = taskIdOfChannel(channel.toString('utf8'));
    if (taskId !== undefined) this.#deliver(taskId, message, 'message');
  };

  // ---- garbage-collected handles -------------------------------------------------------

  #scheduleSweep(): void {
    if (this.#sweepScheduled) return;
    this.#sweepScheduled = true;
    setImmediate(() => {
      this.#sweepScheduled = false;
      this.#sweep();
    }).unref();
  }

  #sweep(): void {
    for (const taskId of this.#collected) {
      const entry = this.#entries.get(taskId);
      if (entry?.handles === undefined) continue;
      const alive: HandleRegistration[] = [];
      for (const reg of entry.handles) {
        if (reg.owner.deref() === undefined) reg.promise.cancel();
        else alive.push(reg);
      }
      entry.handles = alive.length === 0 ? undefined : alive;
      if (entry.waiters === undefined && entry.handles === undefined) this.#remove(taskId);
    }
    this.#collected.clear();
  }

  // ---- reconciling subscriptions -------------------------------------------------------

  #markDirty(taskId: string): void {
    if (this.#closed) return;
    this.#dirty.add(taskId);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // A macrotask, so that every subscription requested in this turn (10,000 awaits
    // resolving their thenables over as many microtasks) goes out in the same batches.
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#closed || this.#dirty.size === 0) return;
    if (this.#mode === 'poll') {
      this.#flushPoll();
      return;
    }
    const subscriber = this.#subscriber;
    if (subscriber === undefined) {
      let wanted = false;
      for (const id of this.#dirty) {
        if (this.#entries.has(id)) {
          wanted = true;
          break;
        }
      }
      this.#dirty.clear();
      if (wanted) this.#createSubscriber();
      return;
    }
    if (!this.#live || subscriber.redis.status !== 'ready') {
      // Not ready: nothing is subscribed on the server (#subscribed was cleared when the
      // connection left `ready`), and #resync subscribes every entry once it is ready.
      this.#dirty.clear();
      return;
    }
    const toSubscribe: string[] = [];
    const toUnsubscribe: string[] = [];
    const toFetch: string[] = [];
    for (const id of this.#dirty) {
      const wanted = this.#entries.has(id);
      const subscribed = this.#subscribed.has(id);
      if (wanted && !subscribed) {
        toSubscribe.push(id);
        this.#subscribed.add(id);
      } else if (!wanted && subscribed) {
        toUnsubscribe.push(id);
        this.#subscribed.delete(id);
      } else if (wanted) {
        // Waited for again before the UNSUBSCRIBE of its previous wait went out: still
        // subscribed, but what was published meanwhile went to nobody, so GET it.
        toFetch.push(id);
      }
    }
    this.#dirty.clear();
    const redis = subscriber.redis;
    const epoch = this.#epoch;
    for (const batch of chunks(toUnsubscribe, BATCH_SIZE)) {
      this.#unsubscribeCommands += 1;
      this.#channelsUnsubscribed += batch.length;
      redis.unsubscribe(...batch.map(taskKey)).catch((err: unknown) => {
        // The connection went away: the server dropped the channels with it. No answer in
        // time: the connection hangs; a new one subscribes only what is still wanted.
        if (isCommandTimeout(err)) this.#dropHungSubscriber(subscriber, epoch, 'UNSUBSCRIBE');
        this.#logger.debug('result consumer: UNSUBSCRIBE failed', { error: String(err), channels: batch.length });
      });
    }
    for (const batch of chunks(toSubscribe, BATCH_SIZE)) {
      this.#subscribeCommands += 1;
      this.#channelsSubscribed += batch.length;
      redis.subscribe(...batch.map(taskKey)).then(
        () => this.#onSubscribed(batch, epoch),
        (err: unknown) => this.#onSubscribeFailed(subscriber, batch, epoch, err),
      );
    }
    if (toFetch.length > 0) void this.#fetch(toFetch);
  }

  #onSubscribed(batch: readonly string[], epoch: number): void {
    if (this.#closed || epoch !== this.#epoch) return;
    // The race guard: a result stored before the SUBSCRIBE was published to nobody.
    const live = batch.filter((id) => this.#entries.has(id));
    if (live.length > 0) void this.#fetch(live);
  }

  #onSubscribeFailed(subscriber: RedisClientHandle, batch: readonly string[], epoch: number, err: unknown): void {
    if (this.#closed) return;
    if (isReplyError(err)) {
      this.#enterPollMode(err);
      return;
    }
    if (epoch !== this.#epoch) return; // the connection dropped; #resync subscribes again
    if (isCommandTimeout(err)) {
      // Whether the server subscribed is unknown: only a new connection makes it known
      // (nothing subscribed), and #resync then subscribes every live id once.
      this.#dropHungSubscriber(subscriber, epoch, 'SUBSCRIBE');
      return;
    }
    // Not sent (the socket is going away; ioredis queues nothing for later): forget that
    // we sent it. The 'close' that follows bumps the epoch, and #resync subscribes again.
    for (const id of batch) {
      this.#subscribed.delete(id);
      if (this.#entries.has(id)) this.#dirty.add(id);
    }
    this.#logger.debug('result consumer: SUBSCRIBE not sent', { error: String(err), channels: batch.length });
  }

  /** MGET the ids (in batches) on the command connection and apply what is stored. */
  async #fetch(ids: readonly string[]): Promise<void> {
    await Promise.all(chunks(ids, BATCH_SIZE).map(async (batch) => {
      this.#mgetCommands += 1;
      let values: (Buffer | null)[];
      try {
        values = await this.#mget(batch.map(taskKey));
      } catch (err) {
        if (this.#closed) return;
        this.#logger.warn('result consumer: MGET failed', { error: String(err), keys: batch.length });
        // Polling tries again on its next tick anyway.
        if (this.#mode === 'pubsub') this.#retryFetch(batch);
        return;
      }
      if (this.#closed) return;
      values.forEach((value, i) => {
        const id = batch[i];
        if (id === undefined) return;
        if (value !== null && value !== undefined) {
          this.#lossSuspects.delete(id);
          this.#deliver(id, value, 'fetch');
          return;
        }
        const lost = this.#lossSuspects.get(id);
        if (lost === undefined) return;
        this.#lossSuspects.delete(id);
        const entry = this.#entries.get(id);
        if (entry === undefined) return;
        this.#resultsLost += 1;
        this.#fail(id, entry, new ResultLostError(id, lost.previousRunId, lost.runId));
      });
    }));
  }

  #retryFetch(ids: readonly string[]): void {
    for (const id of ids) this.#retryIds.add(id);
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      const again = [...this.#retryIds].filter((id) => this.#entries.has(id));
      this.#retryIds.clear();
      if (again.length > 0 && !this.#closed) void this.#fetch(again);
    }, this.#pollInterval);
  }

  // ---- the subscriber connection -------------------------------------------------------

  #createSubscriber(): void {
    const handle = createRedisClient(this.#config, {
      role: 'subscriber',
      name: 'result-subscriber',
      logger: this.#logger,
      // Never queue a SUBSCRIBE to be sent after a reconnect: #resync sends every channel
      // then, and a queued copy would be a duplicate (celery#4670). The command deadline
      // also bounds the handshake (a ready check nobody answers makes ioredis reconnect).
      overrides: {
        enableOfflineQueue: false,
        commandTimeout: this.#commandTimeoutMs,
        keepAlive: TCP_KEEPALIVE_MS,
        disconnectTimeout: DISCONNECT_TIMEOUT_MS,
      },
    });
    const onStatus = (status: ConnectionStatus): void => this.#onStatus(handle, status);
    const onReconnected = (): void => {
      this.#reconnects += 1;
      this.#resync('reconnected');
    };
    handle.redis.on('messageBuffer', this.#onMessage);
    handle.state.on('status', onStatus);
    handle.state.on('reconnected', onReconnected);
    this.#subscriber = handle;
    this.#everReady = false;
    this.#detachSubscriber = () => {
      handle.redis.off('messageBuffer', this.#onMessage);
      handle.state.off('status', onStatus);
      handle.state.off('reconnected', onReconnected);
    };
    handle.redis.connect().catch((err: unknown) => {
      // Reported through the status events; ioredis keeps retrying on its own.
      this.#logger.debug('result consumer: subscriber connect failed', { error: String(err) });
    });
    if (this.#healthTimer === undefined && this.#healthCheckInterval > 0) {
      this.#healthTimer = setInterval(() => this.#probe(), this.#healthCheckInterval);
      this.#healthTimer.unref();
    }
  }

  /**
   * The health check: a PING on the subscriber connection (allowed while subscribed in
   * RESP2), raced against a deadline. A half-open connection (a hung network, a vanished
   * peer) answers nothing and closes nothing, so without it the consumer would say `ready`
   * and wait forever; an unanswered PING drops the connection, and the reconnect
   * resubscribes every waited id once and MGETs them.
   */
  #probe(): void {
    const subscriber = this.#subscriber;
    if (this.#closed || this.#probing || subscriber === undefined || !this.#live || subscriber.redis.status !== 'ready') return;
    this.#probing = true;
    const epoch = this.#epoch;
    const deadlineMs = Math.min(this.#healthCheckInterval, this.#commandTimeoutMs);
    let answered = false;
    const timer = setTimeout(() => {
      this.#probing = false;
      if (answered) return;
      this.#healthCheckFailures += 1;
      this.#dropHungSubscriber(subscriber, epoch, `health-check PING (${deadlineMs} ms)`);
    }, deadlineMs);
    timer.unref();
    subscriber.redis.ping().then(
      () => {
        answered = true;
        clearTimeout(timer);
        this.#probing = false;
      },
      () => {
        // The connection closed (its status events handle that) or the command deadline
        // passed (the timer above fires first or at the same time).
        answered = true;
        clearTimeout(timer);
        this.#probing = false;
      },
    );
  }

  /**
   * A command on the subscriber connection got no answer in time: drop the connection
   * (ioredis makes a new one; #resync subscribes every live id on it), unless it was
   * already dropped or replaced.
   */
  #dropHungSubscriber(subscriber: RedisClientHandle, epoch: number, what: string): void {
    if (this.#closed || subscriber !== this.#subscriber || epoch !== this.#epoch) return;
    const status = subscriber.redis.status;
    if (status !== 'ready' && status !== 'connect') return;
    this.#logger.warn('result consumer: the subscriber connection did not answer; reconnecting', {
      command: what,
      waiting: this.#entries.size,
    });
    subscriber.redis.disconnect(true);
  }

  #onStatus(handle: RedisClientHandle, status: ConnectionStatus): void {
    if (handle !== this.#subscriber) return;
    if (status === 'ready') {
      // The first ready of this client; later ones arrive as 'reconnected'.
      if (!this.#everReady) {
        this.#everReady = true;
        this.#resync('connected');
      }
      return;
    }
    if (this.#live || this.#subscribed.size > 0) {
      // The server forgets a connection's channels with it; replies still in flight are void.
      this.#live = false;
      this.#epoch += 1;
      this.#subscribed.clear();
    }
    if (status === 'end' && !this.#closed) {
      // Closed for good without us asking: start over with a new connection if needed.
      this.#logger.warn('result consumer: subscriber connection ended; reconnecting with a new one');
      this.#detachSubscriber?.();
      this.#detachSubscriber = undefined;
      this.#subscriber = undefined;
      setTimeout(() => {
        if (this.#mode === 'pubsub') for (const id of this.#entries.keys()) this.#markDirty(id);
      }, this.#pollInterval);
    }
  }

  /** Ready (first time or again): subscribe every live id once, in batches; MGET follows each. */
  #resync(reason: 'connected' | 'reconnected'): void {
    if (this.#closed || this.#mode !== 'pubsub') return;
    this.#live = true;
    const waited = [...this.#entries.keys()];
    for (const id of waited) this.#dirty.add(id);
    this.#logger.debug('result consumer: subscribing', { reason, channels: this.#entries.size });
    this.#flush();
    void this.#checkRunId(waited);
  }

  /**
   * Compares the server's run_id with the one seen at the previous connect. When it changed
   * (a restarted or failed-over server) and `onDataLoss` is `fail`, the ids waited for at
   * the reconnect are MGET once more: those without a value are rejected with a
   * {@link ResultLostError}.
   *
   * @param waited - the ids waited for when the connection became ready
   */
  async #checkRunId(waited: readonly string[]): Promise<void> {
    if (this.#serverIdentity === undefined) return;
    let identity: ServerIdentity | undefined;
    try {
      identity = await this.#serverIdentity();
    } catch {
      return; // INFO refused (ACL) or the connection went away again: nothing to compare
    }
    if (identity === undefined || this.#closed) return;
    const previous = this.#identity;
    this.#identity = identity;
    if (previous === undefined) return;
    if (previous.runId !== identity.runId) this.#serverRestarts += 1;
    if (previous.epoch === identity.epoch) {
      if (previous.runId !== identity.runId) {
        this.#logger.info('result consumer: Redis restarted with its data (same epoch); waits go on', {
          waiting: this.#entries.size,
        });
      }
      return;
    }
    const previousRunId = previous.runId;
    const runId = identity.runId;
    if (this.#onDataLoss === 'wait') {
      this.#logger.warn(
        'result consumer: Redis lost its data (new epoch: a restart without persistence, a FLUSHALL or a failover). ' +
          'Waits go on; results stored before are gone, so give waits a timeout.',
        { waiting: this.#entries.size },
      );
      return;
    }
    const suspects = waited.filter((id) => this.#entries.has(id));
    this.#logger.warn(
      'result consumer: Redis lost its data (new epoch: a restart without persistence, a FLUSHALL or a failover). ' +
        "Waits whose result is not stored on it are rejected (onDataLoss: 'fail').",
      { waiting: this.#entries.size, checked: suspects.length },
    );
    for (const id of suspects) this.#lossSuspects.set(id, { previousRunId, runId });
    // Commands on the command connection go to the restarted server from now on, so a key
    // this MGET does not find is not on it.
    if (suspects.length > 0) await this.#fetch(suspects);
  }

  async #dropSubscriber(): Promise<void> {
    const handle = this.#subscriber;
    this.#subscriber = undefined;
    this.#live = false;
    this.#epoch += 1;
    this.#detachSubscriber?.();
    this.#detachSubscriber = undefined;
    if (handle !== undefined) await closeRedis(handle.redis, 'disconnect');
  }

  // ---- polling -------------------------------------------------------------------------

  #enterPollMode(err: Error): void {
    if (this.#mode === 'poll') return;
    this.#mode = 'poll';
    this.#logger.warn(
      'result consumer: Redis refused SUBSCRIBE; polling results instead. Give the user channel rights ' +
        '(ACL SETUSER <user> &celery-task-meta-*) to get them pushed.',
      { error: err.message, pollInterval: this.#pollInterval },
    );
    this.#subscribed.clear();
    void this.#dropSubscriber();
    for (const id of this.#entries.keys()) this.#dirty.add(id);
    this.#flushPoll();
  }

  #flushPoll(): void {
    const fresh = [...this.#dirty].filter((id) => this.#entries.has(id));
    this.#dirty.clear();
    if (fresh.length > 0) void this.#fetch(fresh);
    this.#schedulePoll();
  }

  #schedulePoll(): void {
    if (this.#pollTimer !== undefined || this.#closed || this.#entries.size === 0) return;
    this.#pollTimer = setTimeout(() => {
      void this.#poll();
    }, this.#pollInterval);
  }

  async #poll(): Promise<void> {
    const ids = [...this.#entries.keys()];
    if (ids.length > 0) await this.#fetch(ids);
    this.#pollTimer = undefined;
    this.#schedulePoll();
  }
}

/**
 * The beat: Celery beat for Celeriac. It sends the entries of a schedule (Celery's
 * `beat_schedule`, or entries given in code) with the app's `sendTask` when they are due.
 *
 * Any number of beat processes may run for one schedule: one leads (it holds a Redis lock and
 * sends), the others stand by and take over when the lock expires. Each tick is claimed in
 * Redis before its message is sent (see beat-store.ts for the keys), so a tick is sent at
 * most once, also while the lock changes hands; a claimed tick whose send then fails (or whose
 * process dies between the claim and the publish) is lost and logged, never sent twice.
 *
 * @see https://docs.celeryq.dev/en/v5.2.7/userguide/periodic-tasks.html
 * @module
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SendOptions } from '@celeriac/client';
import { CeleriacError, ErrorCode, silentLogger, type Logger } from '@celeriac/protocol';
import {
  createRedisClient,
  parseRedisUrl,
  type RedisClientHandle,
  type RedisConnectionConfig,
} from '@celeriac/redis-connection';
import { toBeatEntries, type BeatEntry, type BeatEntryInput } from './beat-entry.ts';
import { BeatStore } from './beat-store.ts';
import { planTicks, type MissedPolicy, type PlanOptions } from './plan-ticks.ts';

/** The settings a beat reads from its app (`app.conf` of `@celeriac/client` has them all). */
export interface BeatConfig {
  /** Celery's `beat_schedule`: name → `{ task, schedule, args?, kwargs?, options? }`. */
  readonly beat_schedule?: Readonly<Record<string, unknown>>;
  /** The zone of crontabs that name none; default `UTC`. */
  readonly timezone?: string;
  /** Where the lock and state live unless `redisUrl` is given. */
  readonly broker_url?: string | null;
  /** kombu's transport options (`master_name` for a Sentinel broker URL). */
  readonly broker_transport_options?: object;
  /** Seconds; the longest sleep between two looks at the schedule (0: the default, 300). */
  readonly beat_max_loop_interval?: number;
}

/** What a send returns (a `SentResult` of `@celeriac/client` is one). */
export interface BeatSentHandle {
  /** The task id. */
  readonly id: string;
  /** Settles when the message is in the broker, or the publish failed for good. */
  readonly sent: Promise<void>;
}

/**
 * What a beat uses of an app: an `App` of `@celeriac/client` fits. Narrow and structural,
 * so a test's fake fits too.
 */
export interface BeatApp {
  readonly conf: BeatConfig;
  /** The app's name (Celery's `main`): the default schedule name. */
  readonly main?: string | undefined;
  /** Where the beat logs unless `logger` is given. */
  readonly logger?: Logger;
  /** Celery's `send_task`: how due entries are sent. */
  sendTask(name: string, args?: readonly unknown[], kwargs?: Readonly<Record<string, unknown>>, options?: SendOptions): BeatSentHandle;
}

/** Options of {@link createBeat}. */
export interface BeatOptions {
  /** Entries besides (and over, for equal names) the app's `beat_schedule`. */
  readonly entries?: Readonly<Record<string, BeatEntryInput>>;
  /** The Redis for the lock and state; default the app's `broker_url`. */
  readonly redisUrl?: string;
  /** The schedule's name, which beats of one schedule share; default the app's `main`, else `default`. */
  readonly name?: string;
  /** The prefix of the beat's Redis keys; default `celeriac-beat:<name>:`. */
  readonly keyPrefix?: string;
  /**
   * The lock's time to live, ms (default 30 000). The leader renews it every third of that; a
   * standby takes over at most this long after a leader died.
   */
  readonly lockTtlMs?: number;
  /** The longest sleep between two looks at the schedule, ms; default `beat_max_loop_interval` (s), else 300 000. */
  readonly maxIntervalMs?: number;
  /** Missed ticks: `'once'` (default, as Celery) or `'skip'` (see {@link MissedPolicy}). */
  readonly missed?: MissedPolicy;
  /**
   * How late a tick may be and still be sent on its own, ms (default 60 000, longer than a
   * lock handover). Ticks due longer ago are missed and follow `missed`.
   */
  readonly graceMs?: number;
  /** Where the beat logs; default the app's logger. */
  readonly logger?: Logger;
  /** Stop on SIGTERM / SIGINT (a second signal drops the connection at once); default false. */
  readonly handleSignals?: boolean;
}

/** A message a beat sent. */
export interface BeatSentEvent {
  /** The entry's name. */
  readonly entry: string;
  readonly task: string;
  readonly taskId: string;
  /** The tick it was sent for (also in the message's `beat_scheduled_at` header). */
  readonly scheduledAt: Date;
  /** 0, or for a catch-up (`missed: 'once'`) how many missed ticks it stands for. */
  readonly missed: number;
}

/** The events of a {@link Beat}. */
export interface BeatEvents {
  /** This process took the lock: it sends due ticks now. */
  leader: [{ readonly token: string }];
  /** This process no longer leads (the lock was lost, or the beat stopped). */
  standby: [{ readonly token: string; readonly reason: string }];
  /** A due tick was claimed and its message published. */
  sent: [BeatSentEvent];
  /** Missed ticks were claimed without a message (`missed: 'skip'`). */
  skipped: [{ readonly entry: string; readonly scheduledAt: Date; readonly count: number }];
  /** A claimed tick could not be sent: it is lost (never sent twice). */
  lost: [{ readonly entry: string; readonly scheduledAt: Date; readonly error: unknown }];
  /** The beat stopped: the loop ended, sends settled, the lock was released. */
  stopped: [];
}

const DEFAULT_LOCK_TTL_MS = 30_000;
const DEFAULT_MAX_INTERVAL_MS = 300_000;
const DEFAULT_GRACE_MS = 60_000;
const MAX_STEPS_PER_ENTRY = 100;
const RETRY_DELAY_MS = 1_000;

function invalid(message: string): CeleriacError {
  return new CeleriacError(ErrorCode.INVALID_CONFIG, message);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function checkMs(value: number | undefined, what: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw invalid(`createBeat: ${what} must be a number of milliseconds >= ${min}, got ${String(value)}`);
  }
  return value;
}

/**
 * A beat: sends the due ticks of its entries while it leads. Make it with {@link createBeat},
 * then `start()`; `stop()` (or a signal, with `handleSignals`) ends it.
 *
 * @example
 * ```ts
 * const app = createApp({ broker_url: 'redis://localhost:6379/0', beat_schedule: {
 *   'add-every-30s': { task: 'tasks.add', schedule: 30, args: [16, 16] },
 *   'report-mornings': { task: 'tasks.report', schedule: crontab({ minute: 0, hour: 7, dayOfWeek: 'mon-fri' }) },
 * } });
 * const beat = createBeat(app, { handleSignals: true });
 * await beat.start();
 * await beat.done;
 * await app.close();
 * ```
 */
export class Beat extends EventEmitter<BeatEvents> {
  /** The checked entries, in schedule order. */
  readonly entries: readonly BeatEntry[];
  /** The schedule's name. */
  readonly name: string;
  /** This process's lock token: `<hostname>:<pid>:<uuid>`. */
  readonly token: string;
  /** The Redis keys (see beat-store.ts). */
  readonly keys: { readonly lock: string; readonly state: string };
  /** Resolves when the beat has stopped. */
  readonly done: Promise<void>;
  readonly #app: BeatApp;
  readonly #logger: Logger;
  readonly #redisConfig: RedisConnectionConfig;
  readonly #keyPrefix: string;
  readonly #lockTtl: number;
  readonly #renewEvery: number;
  readonly #maxInterval: number;
  readonly #plan: PlanOptions;
  readonly #handleSignals: boolean;
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #neverDue = new Set<string>();
  #resolveDone!: () => void;
  #handle: RedisClientHandle | undefined;
  #store: BeatStore | undefined;
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #removeSignals: (() => void) | undefined;
  #leading = false;
  /** Local time until which our lock is known to be valid (from before the request that set it). */
  #leaderUntil = 0;
  /** When to renew (leading) or try to acquire (standing by). */
  #lockCheckAt = 0;

  /**
   * @param app - the app (its `conf`, `sendTask`, `main`, `logger`)
   * @param options - entries, Redis, names, lock and loop timing, missed policy, logger
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a bad entry, option or Redis URL, or no Redis URL at all
   */
  constructor(app: BeatApp, options: BeatOptions = {}) {
    super();
    this.#app = app;
    this.#logger = options.logger ?? app.logger ?? silentLogger;
    const conf = app.conf;
    const timezone = conf.timezone ?? 'UTC';
    this.entries = Object.freeze(toBeatEntries({ ...(conf.beat_schedule ?? {}), ...(options.entries ?? {}) }, timezone));
    const name = options.name ?? app.main ?? 'default';
    if (typeof name !== 'string' || name === '') throw invalid(`createBeat: name must be a non-empty string, got ${JSON.stringify(name)}`);
    this.name = name;
    const prefix = options.keyPrefix ?? `celeriac-beat:${name}:`;
    if (typeof prefix !== 'string' || prefix === '') throw invalid(`createBeat: keyPrefix must be a non-empty string, got ${JSON.stringify(prefix)}`);
    this.#keyPrefix = prefix;
    this.keys = Object.freeze({ lock: `${prefix}lock`, state: `${prefix}state` });
    const url = options.redisUrl ?? conf.broker_url ?? undefined;
    if (url === undefined || url === null || url === '') {
      throw invalid("createBeat: no Redis for the beat's lock and state: set the app's broker_url (or CELERY_BROKER_URL), or pass redisUrl");
    }
    this.#redisConfig = parseRedisUrl(url, options.redisUrl === undefined ? conf.broker_transport_options : undefined);
    this.#lockTtl = checkMs(options.lockTtlMs, 'lockTtlMs', 300) ?? DEFAULT_LOCK_TTL_MS;
    this.#renewEvery = Math.floor(this.#lockTtl / 3);
    const confInterval = conf.beat_max_loop_interval !== undefined && conf.beat_max_loop_interval > 0 ? conf.beat_max_loop_interval * 1000 : undefined;
    this.#maxInterval = checkMs(options.maxIntervalMs, 'maxIntervalMs', 1) ?? confInterval ?? DEFAULT_MAX_INTERVAL_MS;
    const missed = options.missed ?? 'once';
    if (missed !== 'once' && missed !== 'skip') throw invalid(`createBeat: missed must be 'once' or 'skip', got ${JSON.stringify(missed)}`);
    this.#plan = { missed, graceMs: checkMs(options.graceMs, 'graceMs', 0) ?? DEFAULT_GRACE_MS, maxSteps: MAX_STEPS_PER_ENTRY };
    this.#handleSignals = options.handleSignals ?? false;
    this.token = `${hostname()}:${process.pid}:${randomUUID()}`;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  /** Whether this process holds the lock (as far as it knows) and sends due ticks. */
  get isLeader(): boolean {
    return this.#leading;
  }

  /**
   * Connects (lazily) and starts the loop: stand by, take the lock when it is free, send due
   * ticks while leading.
   *
   * @throws {@link CeleriacError} `INVALID_CONFIG` when started twice or after `stop()`
   */
  start(): Promise<void> {
    if (this.#store !== undefined || this.#stopping !== undefined) {
      return Promise.reject(invalid(`beat ${this.name}: ${this.#stopping === undefined ? 'start() was already called' : 'the beat is stopped; make a new one'}`));
    }
    this.#handle = createRedisClient(this.#redisConfig, {
      role: 'command',
      name: 'beat',
      logger: this.#logger,
      // A stalled connection must not stall the loop for long: a claim that times out may
      // still land, which the lock fence and the compare-and-set make harmless.
      overrides: { commandTimeout: Math.max(this.#renewEvery, 500) },
    });
    this.#store = new BeatStore(this.#handle.redis, this.#keyPrefix);
    if (this.#handleSignals) this.#removeSignals = this.installSignalHandlers();
    if (this.entries.length === 0) this.#logger.warn('beat: the schedule has no entries; nothing will be sent', { schedule: this.name });
    this.#logger.info('beat: starting', {
      schedule: this.name,
      redis: this.#redisConfig.redactedUrl,
      keyPrefix: this.#keyPrefix,
      token: this.token,
      entries: this.entries.map((e) => `${e.name}: ${e.task} ${e.schedule.toString()}`),
      missed: this.#plan.missed,
    });
    this.#loop = this.#run();
    return Promise.resolve();
  }

  /**
   * Stops: ends the loop, waits for sends in flight, releases the lock if held (so a standby
   * takes over at once) and closes the connection. Idempotent.
   *
   * @returns resolves when stopped (as {@link Beat.done})
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** `await using beat = createBeat(…)` stops it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * SIGTERM / SIGINT: the first stops the beat; a second one drops the Redis connection so
   * the stop does not wait for it.
   *
   * @returns a function that removes the handlers
   */
  installSignalHandlers(): () => void {
    const handler = (signal: NodeJS.Signals): void => {
      if (this.#stopping === undefined) {
        this.#logger.info('beat: shutting down', { signal });
        void this.stop();
      } else {
        this.#logger.warn('beat: shutting down now, without waiting for Redis', { signal });
        this.#handle?.redis.disconnect();
      }
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
    return () => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    };
  }

  /**
   * One pass, as Celery's `Scheduler.tick()`: keep or take the lock, and while leading claim
   * and send every due tick.
   *
   * @returns ms until the next pass is needed
   * @throws the Redis error of a failed command (the loop logs it and retries)
   */
  async #tick(): Promise<number> {
    const store = this.#store;
    if (store === undefined) throw invalid(`beat ${this.name}: call start() first`);
    await this.#keepLock(store);
    if (!this.#leading) return Math.max(0, this.#lockCheckAt - Date.now());
    const nextDue = await this.#sendDue(store);
    const wake = this.#leading ? Math.min(nextDue, this.#lockCheckAt, Date.now() + this.#maxInterval) : this.#lockCheckAt;
    return Math.max(0, wake - Date.now());
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let delay: number;
      try {
        delay = await this.#tick();
      } catch (error) {
        if (signal.aborted) break;
        this.#logger.warn('beat: a pass failed; retrying', { schedule: this.name, error: message(error), retryInMs: RETRY_DELAY_MS });
        delay = RETRY_DELAY_MS;
      }
      try {
        await sleep(delay, undefined, { signal });
      } catch {
        break; // aborted by stop()
      }
    }
  }

  async #keepLock(store: BeatStore): Promise<void> {
    const now = Date.now();
    if (now < this.#lockCheckAt) return;
    if (this.#leading) {
      let held: boolean;
      try {
        held = await store.renew(this.token, this.#lockTtl);
      } catch (error) {
        if (Date.now() >= this.#leaderUntil) {
          this.#standby(`the lock could not be renewed before it expired (${message(error)})`);
        } else {
          this.#logger.warn('beat: renewing the lock failed; retrying', { schedule: this.name, error: message(error) });
          this.#lockCheckAt = Date.now() + Math.min(RETRY_DELAY_MS, this.#renewEvery);
        }
        return;
      }
      if (held) {
        this.#leaderUntil = now + this.#lockTtl;
        this.#lockCheckAt = now + this.#renewEvery;
      } else {
        this.#standby('the lock expired or another beat took it');
      }
      return;
    }
    const result = await store.acquire(this.token, this.#lockTtl);
    if (result.acquired) {
      this.#leading = true;
      this.#leaderUntil = now + this.#lockTtl;
      this.#lockCheckAt = now + this.#renewEvery;
      this.#logger.info('beat: leading (holds the lock); sending due tasks', { schedule: this.name, token: this.token });
      this.#emit('leader', { token: this.token });
      return;
    }
    // Try again when the holder's lock would expire, but at least every renew period (the
    // holder may release it on a clean shutdown). -2: it just expired: try again at once.
    const wait = result.ttlMs === -2 ? 0 : result.ttlMs > 0 ? Math.min(result.ttlMs + 1, this.#renewEvery) : this.#renewEvery;
    this.#lockCheckAt = Date.now() + wait;
  }

  #standby(reason: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#lockCheckAt = Date.now();
    this.#logger.warn('beat: no longer leading', { schedule: this.name, reason });
    this.#emit('standby', { token: this.token, reason });
  }

  /** Claims and sends every due tick; returns the earliest next tick (ms since the epoch). */
  async #sendDue(store: BeatStore): Promise<number> {
    const stored = await store.lastTicks(this.entries.map((e) => e.name), Date.now());
    let next = Number.POSITIVE_INFINITY;
    for (const [i, entry] of this.entries.entries()) {
      const due = await this.#sendEntry(store, entry, stored[i] ?? '');
      if (!this.#leading) return Date.now();
      next = Math.min(next, due);
    }
    return next;
  }

  /** One entry's due ticks; returns its next tick (Infinity: never; now: look again at once). */
  async #sendEntry(store: BeatStore, entry: BeatEntry, value: string): Promise<number> {
    let stored = value;
    const last = Number(stored);
    if (stored === '' || !Number.isSafeInteger(last)) {
      // Not written by a beat: start the entry afresh, as a new one.
      const now = Date.now();
      this.#logger.warn('beat: the stored last tick is not a time; starting the entry afresh', { entry: entry.name, stored, key: this.keys.state });
      const result = await store.claim(this.token, entry.name, stored, now);
      if (result.status === 'not-leader') this.#standby('the lock expired or another beat took it');
      return Date.now();
    }
    const plan = planTicks(entry.schedule, last, Date.now(), this.#plan);
    for (const step of plan.steps) {
      const result = await store.claim(this.token, entry.name, stored, step.tick);
      if (result.status === 'not-leader') {
        this.#standby('the lock expired or another beat took it');
        return Date.now();
      }
      if (result.status === 'moved') {
        // Another process moved it (a reset by hand, or a leader that overlapped ours):
        // nothing is sent; the next pass reads it again.
        this.#logger.warn('beat: the entry moved under us; reading it again', { entry: entry.name, expected: stored, current: result.current });
        return Date.now();
      }
      stored = String(step.tick);
      const scheduledAt = new Date(step.tick);
      if (step.send) {
        this.#send(entry, scheduledAt, step.missed);
      } else {
        this.#logger.info('beat: skipped missed ticks', { entry: entry.name, task: entry.task, latest: scheduledAt.toISOString(), count: step.missed });
        this.#emit('skipped', { entry: entry.name, scheduledAt, count: step.missed });
      }
    }
    if (plan.next === undefined) {
      if (!this.#neverDue.has(entry.name)) {
        this.#neverDue.add(entry.name);
        this.#logger.warn('beat: the entry will never be due again', { entry: entry.name, schedule: entry.schedule.toString() });
      }
      return Number.POSITIVE_INFINITY;
    }
    return plan.next;
  }

  #send(entry: BeatEntry, scheduledAt: Date, missed: number): void {
    const headers = { ...(entry.options.headers ?? {}), beat_scheduled_at: scheduledAt.toISOString(), beat_entry: entry.name };
    let handle: BeatSentHandle;
    try {
      handle = this.#app.sendTask(entry.task, entry.args, entry.kwargs, { ...entry.options, headers });
    } catch (error) {
      this.#lost(entry, scheduledAt, error);
      return;
    }
    const settled = handle.sent.then(
      () => {
        this.#logger.info('beat: sent due task', {
          entry: entry.name,
          task: entry.task,
          id: handle.id,
          scheduledAt: scheduledAt.toISOString(),
          ...(missed > 0 ? { catchUpFor: missed } : {}),
        });
        this.#emit('sent', { entry: entry.name, task: entry.task, taskId: handle.id, scheduledAt, missed });
      },
      (error: unknown) => this.#lost(entry, scheduledAt, error),
    );
    this.#inFlight.add(settled);
    void settled.finally(() => this.#inFlight.delete(settled));
  }

  #lost(entry: BeatEntry, scheduledAt: Date, error: unknown): void {
    // At most once: the tick is claimed, so no beat sends it again.
    this.#logger.error('beat: a claimed tick could not be sent and is lost', {
      entry: entry.name,
      task: entry.task,
      scheduledAt: scheduledAt.toISOString(),
      error: message(error),
    });
    this.#emit('lost', { entry: entry.name, scheduledAt, error });
  }

  #emit<K extends keyof BeatEvents>(event: K, ...args: BeatEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: BeatEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.#logger.error('beat: an event listener threw', { event, error: message(error) });
    }
  }

  async #stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
    const store = this.#store;
    if (this.#leading && store !== undefined) {
      try {
        await store.release(this.token);
      } catch (error) {
        this.#logger.warn('beat: releasing the lock failed; it expires by itself', { schedule: this.name, error: message(error) });
      }
      this.#leading = false;
      this.#emit('standby', { token: this.token, reason: 'stopped' });
    }
    this.#removeSignals?.();
    const redis = this.#handle?.redis;
    if (redis !== undefined) {
      if (redis.status === 'wait' || redis.status === 'end') {
        redis.disconnect();
      } else {
        try {
          await redis.quit();
        } catch {
          redis.disconnect();
        }
      }
    }
    this.#logger.info('beat: stopped', { schedule: this.name });
    this.#emit('stopped');
    this.#resolveDone();
  }
}

/**
 * Makes a beat for an app's `beat_schedule` (and `options.entries`).
 *
 * @param app - the app (`createApp` of `@celeriac/client`)
 * @param options - see {@link BeatOptions}
 * @returns the beat, not started
 * @throws {@link CeleriacError} `INVALID_CONFIG` for a bad entry, option or Redis URL
 */
export function createBeat(app: BeatApp, options?: BeatOptions): Beat {
  return new Beat(app, options);
}

/**
 * Celery's per-task, per-worker `rate_limit`: {@link parseRateLimit} reads the option as
 * Celery's `rate()` does, {@link TokenBucket} is kombu's token bucket, and {@link RateLimiter}
 * holds a rate-limited request in a per-task FIFO and releases it from a timer when its bucket
 * has a token, as the consumer's `_limit_task` / `_schedule_bucket_request` do — so a limited
 * task never delays any other task name.
 *
 * Where this deliberately differs from Celery 5.2 / kombu 5.2 (each point explained where it
 * is implemented):
 *
 * - Times are milliseconds on an injectable monotonic clock (kombu: seconds, `monotonic()`).
 * - The bucket's refill is never lost while it sits full, so after an idle period one request
 *   passes, not two (kombu leaves `timestamp` stale while the bucket is full).
 * - A release timer that fires late credits up to half a token interval of its lateness, so
 *   timer latency does not accumulate into a lower rate than asked.
 * - `setLimit` moves the held requests into the new bucket (Celery leaves them draining from
 *   the old one at the old rate).
 *
 * @see celery/utils/time.py `rate`, kombu/utils/limits.py `TokenBucket`,
 *   celery/worker/consumer/consumer.py `_limit_task`, `_schedule_bucket_request`, `_limit_post_eta`
 * @module
 */
import { CeleriacError, ErrorCode } from '@celeriac/protocol';

/** Celery's `RATE_MODIFIER_MAP`: the divisor that turns "per unit" into "per second". */
const SECONDS_PER_UNIT: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600 };

/**
 * What Python's `float()` accepts as a plain decimal (surrounding whitespace, a `+`, an
 * exponent). A minus sign, `inf`, `nan` and `_` separators are refused: Celery would pass a
 * negative rate on to a bucket that never fills.
 */
const RATE_NUMBER = /^\s*\+?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/**
 * Floating-point slack, in milliseconds, below which a token counts as available. It absorbs
 * rounding in the bucket's instant arithmetic (a few ulps even on a `Date.now()`-sized clock)
 * and is far below one token at any sensible rate.
 */
const EPSILON_MS = 1e-3;

/** The monotonic clock used unless one is injected (kombu uses `time.monotonic`). */
const monotonicNow = (): number => performance.now();

const SYNTAX = 'a number of tasks per second, or "<n>/s", "<n>/m" or "<n>/h" with <n> ≥ 0';

/**
 * Converts a Celery `rate_limit` to tokens per second, as `celery.utils.time.rate()` does.
 *
 * A number is tasks per second; a string is `"<n>"` (per second), `"<n>/s"`, `"<n>/m"` or
 * `"<n>/h"` (Celery also takes `"<n>/"` as per second). Zero, `''`, `null` and `undefined`
 * mean no limit.
 *
 * @param value - the task's `rate_limit` option (or a `rate_limit` control command's argument)
 * @returns tokens per second, or `null` for no limit
 * @throws {@link CeleriacError} `INVALID_CONFIG` for an unknown unit (`"10/x"`), a negative,
 *   non-finite or unparsable number (`"-1/s"`, `"abc"`, `NaN`) — where Celery would raise
 *   `KeyError` / `ValueError` or, for a negative rate, silently never run the task
 * @see celery/utils/time.py `rate`
 */
export function parseRateLimit(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined || value === '' || value === 0) return null;
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return value;
    throw invalidRate(String(value));
  }
  if (typeof value !== 'string') throw invalidRate(String(value));
  // Celery's `r.partition('/')`: everything after the first slash is the unit.
  const slash = value.indexOf('/');
  const ops = slash === -1 ? value : value.slice(0, slash);
  const unit = slash === -1 ? '' : value.slice(slash + 1);
  const perUnit = SECONDS_PER_UNIT[unit];
  if (perUnit === undefined || !RATE_NUMBER.test(ops)) throw invalidRate(JSON.stringify(value));
  const perSecond = Number(ops) / perUnit;
  if (!Number.isFinite(perSecond)) throw invalidRate(JSON.stringify(value));
  return perSecond === 0 ? null : perSecond;
}

function invalidRate(shown: string): CeleriacError {
  return new CeleriacError(ErrorCode.INVALID_CONFIG, `Invalid rate limit ${shown}: expected ${SYNTAX}`);
}

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** The most tokens the bucket holds, i.e. the largest burst; default 1, as Celery uses. */
  readonly capacity?: number;
  /** A monotonic clock in milliseconds; default `performance.now()`. Injected by tests. */
  readonly now?: () => number;
}

/**
 * kombu's token bucket: it refills at `fillRate` tokens per second up to `capacity`, starts
 * full, and a request passes when it can take its tokens.
 *
 * The state is one instant, the time at which the bucket is (or was) full, so reading it
 * changes nothing and refill is exact however rarely it is read. kombu only advances its
 * `timestamp` while the bucket is below capacity, so the first take after an idle period
 * credits the whole idle time again and lets a second request through at once; here a burst
 * is never more than `capacity`.
 *
 * @see kombu/utils/limits.py `TokenBucket`
 */
export class TokenBucket {
  /** Tokens added per second. */
  readonly fillRate: number;
  /** The most tokens the bucket holds. */
  readonly capacity: number;
  readonly #now: () => number;
  /** The instant (ms) from which the bucket is full; earlier than now while it is full. */
  #fullAt: number;

  /**
   * @param fillRate - tokens per second, > 0 (use {@link parseRateLimit} for Celery's strings)
   * @param options - capacity and clock
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a rate or capacity that is not a
   *   positive finite number
   */
  constructor(fillRate: number, options: TokenBucketOptions = {}) {
    const capacity = options.capacity ?? 1;
    if (!(Number.isFinite(fillRate) && fillRate > 0)) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `Invalid TokenBucket fill rate ${String(fillRate)}: expected a positive finite number of tokens per second`);
    }
    if (!(Number.isFinite(capacity) && capacity > 0)) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `Invalid TokenBucket capacity ${String(capacity)}: expected a positive finite number of tokens`);
    }
    this.fillRate = fillRate;
    this.capacity = capacity;
    this.#now = options.now ?? monotonicNow;
    this.#fullAt = this.#now();
  }

  /** The tokens in the bucket now (fractional), between 0 and `capacity`. */
  get tokens(): number {
    const missingMs = Math.max(0, this.#fullAt - this.#now());
    return Math.max(0, this.capacity - (missingMs * this.fillRate) / 1000);
  }

  /**
   * Takes `tokens` from the bucket if it holds that many: all of them or none, as kombu's
   * `can_consume`.
   *
   * @param tokens - how many to take; default 1
   * @param at - take them as of this earlier instant on the bucket's clock (clamped to now):
   *   for a request that has been waiting since then, e.g. a release timer that fired late.
   *   The refill the bucket could not hold while full between `at` and now is kept, so late
   *   timers do not lower the rate. Default now, as kombu.
   * @returns whether the tokens were taken
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a count that is negative, not finite or
   *   more than `capacity` (such a request could never pass)
   * @see kombu/utils/limits.py `TokenBucket.can_consume`
   */
  canConsume(tokens = 1, at?: number): boolean {
    this.#checkTokens(tokens, 'canConsume');
    const now = this.#now();
    const when = at === undefined || !(at < now) ? now : at;
    if (this.#waitMs(tokens, when) > EPSILON_MS) return false;
    this.#fullAt = Math.max(this.#fullAt, when) + (tokens / this.fillRate) * 1000;
    return true;
  }

  /**
   * How long until the bucket holds `tokens`; takes nothing.
   *
   * @param tokens - how many are wanted; default 1
   * @returns milliseconds to wait, 0 when they are there now
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a count that is negative, not finite or
   *   more than `capacity`
   * @see kombu/utils/limits.py `TokenBucket.expected_time` (which returns seconds)
   */
  expectedTime(tokens = 1): number {
    this.#checkTokens(tokens, 'expectedTime');
    const wait = this.#waitMs(tokens, this.#now());
    return wait > EPSILON_MS ? wait : 0;
  }

  /** Milliseconds from `when` until `tokens` are in the bucket (≤ 0 when they already are). */
  #waitMs(tokens: number, when: number): number {
    return this.#fullAt - when - ((this.capacity - tokens) / this.fillRate) * 1000;
  }

  #checkTokens(tokens: number, method: string): void {
    if (!(Number.isFinite(tokens) && tokens >= 0 && tokens <= this.capacity)) {
      throw new CeleriacError(
        ErrorCode.INVALID_CONFIG,
        `Invalid token count ${String(tokens)} for TokenBucket.${method}: expected a number from 0 to the capacity ${String(this.capacity)}`,
      );
    }
  }
}

/** What {@link RateLimiter.submit} decided: run the item at once, or it is held for later. */
export type RateLimitDecision = 'now' | 'held';

/** Options of {@link RateLimiter}; all are for tests or for a host with its own timers. */
export interface RateLimiterOptions<TItem = unknown> {
  /** A monotonic clock in milliseconds; default `performance.now()`. */
  readonly now?: () => number;
  /** Starts a one-shot timer; default `setTimeout`. The delay is a whole number of ms ≥ 1. */
  readonly setTimer?: (callback: () => void, delayMs: number) => unknown;
  /** Cancels a timer `setTimer` returned; default `clearTimeout`. */
  readonly clearTimer?: (handle: unknown) => void;
  /**
   * Called when a `release` callback throws; the limiter's state is already consistent and
   * the remaining items are still released. Default: rethrow on a microtask, so the error
   * surfaces as an uncaught exception as it would from any timer callback.
   */
  readonly onError?: (error: unknown, item: TItem, taskName: string) => void;
}

/** One held item and how to hand it back. */
interface Held<TItem> {
  readonly item: TItem;
  readonly release: (item: TItem) => void;
  /** Submission order across all tasks, so {@link RateLimiter.drain} returns arrival order. */
  readonly seq: number;
}

/** The bucket and held items of one rate-limited task name (Celery's `task_buckets[name]`). */
interface TaskBucket<TItem> {
  /** Tokens per second of `bucket`. */
  limit: number;
  bucket: TokenBucket;
  /** FIFO: the head is released first. */
  queue: Held<TItem>[];
  /** The pending release timer, if any; compared by identity to ignore a stale callback. */
  timer: { readonly handle: unknown } | null;
  /** The instant the pending timer's token becomes available. */
  due: number;
}

/**
 * The worker's per-task rate limiter: one {@link TokenBucket} (capacity 1) per task name with
 * a limit, and a FIFO of the requests waiting for it.
 *
 * {@link submit} answers `'now'` when the task has no limit or its bucket has a token (which
 * it takes); otherwise it holds the item and keeps one timer per task at the instant the next
 * token is due, releasing held items one token at a time through their `release` callbacks.
 * Timers are computed from the bucket, never from fixed sleeps, so a steady backlog runs at the
 * configured rate. Items of other task names are never held behind a limited one.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter<Request>();
 * if (limiter.submit(req.name, parseRateLimit(task.rateLimit), req, (r) => pool.run(r)) === 'now') {
 *   pool.run(req);
 * }
 * ```
 * @see celery/worker/consumer/consumer.py `_limit_task`, `_schedule_bucket_request`, `_limit_post_eta`
 */
export class RateLimiter<TItem> {
  readonly #now: () => number;
  readonly #setTimer: (callback: () => void, delayMs: number) => unknown;
  readonly #clearTimer: (handle: unknown) => void;
  readonly #onError: (error: unknown, item: TItem, taskName: string) => void;
  /** Only task names with a limit have an entry. */
  readonly #buckets = new Map<string, TaskBucket<TItem>>();
  /** Limits set at run time by {@link setLimit}; they win over the limit passed to submit. */
  readonly #overrides = new Map<string, number | null>();
  #seq = 0;
  #closed = false;

  /**
   * @param options - clock and timers (tests inject fakes), and where release errors go
   */
  constructor(options: RateLimiterOptions<TItem> = {}) {
    this.#now = options.now ?? monotonicNow;
    this.#setTimer = options.setTimer ?? ((callback, delayMs) => setTimeout(callback, delayMs));
    this.#clearTimer = options.clearTimer ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
    this.#onError =
      options.onError ??
      ((error) =>
        queueMicrotask(() => {
          throw error;
        }));
  }

  /**
   * Offers one request of `taskName` to its bucket.
   *
   * @param taskName - the task's registered name; each name has its own bucket and queue
   * @param limit - the task's rate in tokens per second ({@link parseRateLimit}), `null` or 0
   *   for none. Ignored once {@link setLimit} has set a limit for this name. A different
   *   limit than the bucket's replaces the bucket, as {@link setLimit} does.
   * @param item - the request
   * @param release - called with `item` once, later, when it may run (only when `'held'` is
   *   returned)
   * @returns `'now'`: a token was taken (or there is no limit), run the item at once and
   *   `release` will not be called; `'held'`: it waits behind earlier held items of this name
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a limit that is negative or not finite;
   *   `CONNECTION_CLOSED` after {@link close}
   */
  submit(taskName: string, limit: number | null, item: TItem, release: (item: TItem) => void): RateLimitDecision {
    this.#assertOpen('submit');
    const requested = checkLimit(limit, taskName);
    const effective = this.#overrides.has(taskName) ? (this.#overrides.get(taskName) ?? null) : requested;
    // Held items of this name go first: released now if the limit went away or the new bucket has a token.
    const released = this.#applyLimit(taskName, effective);
    const state = this.#buckets.get(taskName);
    let decision: RateLimitDecision = 'now';
    // FIFO: with items already waiting, a newcomer queues even if a token happens to be there.
    if (state !== undefined && (state.queue.length > 0 || !state.bucket.canConsume(1))) {
      state.queue.push({ item, release, seq: this.#seq++ });
      if (state.timer === null) this.#schedule(taskName, state);
      decision = 'held';
    }
    this.#releaseAll(taskName, released);
    return decision;
  }

  /**
   * Changes a task's rate at run time, as Celery's `rate_limit` control command: the task gets
   * a new, full bucket at the new rate and its held items move into it in order (so the first
   * is released at once). `null` (or 0) removes the limit and releases every held item now, in
   * order. The limit stays in force for later {@link submit} calls whatever limit they pass.
   *
   * @param taskName - the task's registered name
   * @param limit - tokens per second ({@link parseRateLimit}), or `null` for no limit
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a limit that is negative or not finite;
   *   `CONNECTION_CLOSED` after {@link close}
   * @see celery/worker/control.py `rate_limit`
   */
  setLimit(taskName: string, limit: number | null): void {
    this.#assertOpen('setLimit');
    const checked = checkLimit(limit, taskName);
    this.#overrides.set(taskName, checked);
    // Celery builds new buckets on every rate_limit command, even for the same rate.
    this.#releaseAll(taskName, this.#applyLimit(taskName, checked, true));
  }

  /**
   * Counts held items.
   *
   * @param taskName - only this task's; default all
   * @returns how many items wait for a token
   */
  held(taskName?: string): number {
    if (taskName !== undefined) return this.#buckets.get(taskName)?.queue.length ?? 0;
    let count = 0;
    for (const state of this.#buckets.values()) count += state.queue.length;
    return count;
  }

  /**
   * Drops held items, e.g. a revoked request; their `release` is never called. The others keep
   * their order, and the buckets are untouched (a removed item gives no token back).
   *
   * @param predicate - true for the items to drop
   * @returns the dropped items, in submission order
   */
  remove(predicate: (item: TItem, taskName: string) => boolean): TItem[] {
    const removed: Held<TItem>[] = [];
    for (const [taskName, state] of this.#buckets) {
      const kept: Held<TItem>[] = [];
      for (const held of state.queue) (predicate(held.item, taskName) ? removed : kept).push(held);
      state.queue = kept;
      if (kept.length === 0) this.#cancel(state);
    }
    return inOrder(removed);
  }

  /**
   * Takes every held item out and cancels every timer, e.g. at shutdown, where the worker hands
   * them back to the broker unacknowledged. Limits and bucket levels are kept.
   *
   * @returns the held items in submission order; their `release` is never called
   */
  drain(): TItem[] {
    const drained: Held<TItem>[] = [];
    for (const state of this.#buckets.values()) {
      this.#cancel(state);
      drained.push(...state.queue);
      state.queue = [];
    }
    return inOrder(drained);
  }

  /**
   * {@link drain}s and refuses further {@link submit} and {@link setLimit} calls. Idempotent.
   *
   * @returns the items that were still held, in submission order
   */
  close(): TItem[] {
    const drained = this.drain();
    this.#closed = true;
    return drained;
  }

  /**
   * Makes `limit` the task's rate: drops its bucket (handing back every held item) when there
   * is none, or gives it a new full bucket when the rate differs (or `renew`) and releases what
   * that allows.
   *
   * @returns the held items to release, in order (the caller releases them after deciding)
   */
  #applyLimit(taskName: string, limit: number | null, renew = false): Held<TItem>[] {
    const state = this.#buckets.get(taskName);
    if (limit === null) {
      if (state === undefined) return [];
      this.#cancel(state);
      this.#buckets.delete(taskName);
      return state.queue;
    }
    if (state === undefined) {
      this.#buckets.set(taskName, { limit, bucket: this.#bucket(limit), queue: [], timer: null, due: 0 });
      return [];
    }
    if (state.limit === limit && !renew) return [];
    this.#cancel(state);
    state.limit = limit;
    state.bucket = this.#bucket(limit);
    return this.#take(taskName, state, this.#now());
  }

  /**
   * Moves from the head of the queue as many items as the bucket has tokens for, as of `at`,
   * and schedules the timer for the rest.
   */
  #take(taskName: string, state: TaskBucket<TItem>, at: number): Held<TItem>[] {
    const batch: Held<TItem>[] = [];
    while (state.queue.length > 0 && state.bucket.canConsume(1, at)) batch.push(state.queue.shift() as Held<TItem>);
    if (state.queue.length > 0 && state.timer === null) this.#schedule(taskName, state);
    return batch;
  }

  /** One timer per bucket, at the instant its next token is due (Celery: `bucket.expected_time()`). */
  #schedule(taskName: string, state: TaskBucket<TItem>): void {
    const wait = state.bucket.expectedTime(1);
    state.due = this.#now() + wait;
    const timer = {
      // Node fires timers on whole milliseconds; rounding up avoids waking before the token
      // and re-arming for a fraction of a millisecond.
      handle: this.#setTimer(() => this.#onTimer(taskName, state, timer), Math.max(1, Math.ceil(wait))),
    };
    state.timer = timer;
  }

  #onTimer(taskName: string, state: TaskBucket<TItem>, timer: TaskBucket<TItem>['timer']): void {
    if (state.timer !== timer || this.#buckets.get(taskName) !== state) return;
    state.timer = null;
    const now = this.#now();
    // The head item has waited since `due`. Taking its token as of then keeps a late timer from
    // pushing every later token back (capacity 1 cannot store the lateness); capping the credit
    // at half an interval keeps even a long stall from releasing two items back to back.
    const at = Math.max(state.due, now - 500 / state.limit);
    this.#releaseAll(taskName, this.#take(taskName, state, at));
  }

  #releaseAll(taskName: string, batch: readonly Held<TItem>[]): void {
    for (const { item, release } of batch) {
      try {
        release(item);
      } catch (error) {
        this.#onError(error, item, taskName);
      }
    }
  }

  #cancel(state: TaskBucket<TItem>): void {
    if (state.timer === null) return;
    this.#clearTimer(state.timer.handle);
    state.timer = null;
  }

  #bucket(limit: number): TokenBucket {
    // Celery: `TokenBucket(limit, capacity=1)`; a bucket starts full.
    return new TokenBucket(limit, { capacity: 1, now: this.#now });
  }

  #assertOpen(method: string): void {
    if (this.#closed) throw new CeleriacError(ErrorCode.CONNECTION_CLOSED, `RateLimiter.${method} called after close(): expected an open limiter`);
  }
}

/** Validates a limit in tokens per second; 0 means none, as Celery's `if limit`. */
function checkLimit(limit: number | null | undefined, taskName: string): number | null {
  if (limit === null || limit === undefined || limit === 0) return null;
  if (typeof limit === 'number' && Number.isFinite(limit) && limit > 0) return limit;
  throw new CeleriacError(
    ErrorCode.INVALID_CONFIG,
    `Invalid rate limit ${String(limit)} for task ${JSON.stringify(taskName)}: expected null or a positive finite number of tasks per second (see parseRateLimit)`,
  );
}

function inOrder<TItem>(held: Held<TItem>[]): TItem[] {
  return held.sort((a, b) => a.seq - b.seq).map((h) => h.item);
}

/**
 * A consumer of kombu's Redis queues without kombu's loss window.
 *
 * Fetch: one Lua script pops the first available element (kombu's key order: for each
 * priority step, for each queue, the queue that delivered last rotated to the end) and, in
 * the same atomic step, records it in `unacked`/`unacked_index`. A crash, a cut connection or
 * a lost reply leaves the message in its list or in `unacked`, never nowhere; the
 * visibility-timeout restore brings it back.
 *
 * Wake-up: when the script finds every list empty it reads them (LLEN), which arms Redis
 * client-side tracking for those keys on this connection (`CLIENT TRACKING on REDIRECT
 * <broker wake-up connection> NOLOOP`). A push by anyone sends an invalidation to the
 * broker's {@link KeyWatcher}, which wakes this loop. A 1 s timer (kombu's BRPOP timeout)
 * re-fetches anyway, so a lost invalidation costs at most that.
 *
 * Watchdog: every command races a deadline and the connection leaving `ready`; on a timeout
 * the connection is dropped and re-created, and the loop resumes when Redis answers again.
 * A fetch given up on that way (or lost with its connection) may still have run on the
 * server: Redis executes what it already read from a dropped connection, popping and
 * recording a message nobody was handed. Once a new connection is ready (so the server is
 * past the old one's input), the consumer puts back what is recorded with exactly that
 * fetch's score.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Delivery, Logger } from '@celeriac/protocol';
import { createRedisClient, type ConnectionState, type RedisConnectionConfig } from '@celeriac/redis-connection';
import { ReplyError, type Redis } from 'ioredis';
import { CommandAbortedError, guard, quit, sleep, waitForReady } from './deadline.ts';
import type { KeyWatcher } from './key-watcher.ts';
import type { KombuKeys } from './kombu-keys.ts';
import { markRedelivered } from './redelivered.ts';
import { RedisDelivery, type DeliveryOwner } from './redis-delivery.ts';
import { defineScripts, type BrokerScripts } from './scripts.ts';
import type { UnackedStore } from './unacked-store.ts';

/** Options of {@link RedisConsumer.close}. */
export interface ConsumerCloseOptions {
  /**
   * Also put back what this consumer handed out and was not acked or rejected yet (a warm
   * shutdown: kombu's `restore_unacked`, celery-wire §2.6). Deliveries fetched but never
   * handed out are always put back. Default false.
   */
  readonly restore?: boolean;
}

/** What a consumer gets from its broker (internal). */
export interface ConsumerContext {
  /** Where to connect. */
  readonly config: RedisConnectionConfig;
  /** The key layout. */
  readonly keys: KombuKeys;
  /** Ack, requeue and restore, on the broker's command connection. */
  readonly store: UnackedStore;
  /** The broker's wake-up connection. */
  readonly watcher: KeyWatcher;
  /** Where trouble is logged. */
  readonly logger: Logger;
  /** Connection name. */
  readonly name: string;
  /** Deadline of every consumer command and of reconnecting. */
  readonly watchdogMs: number;
  /** Longest idle wait before fetching again. */
  readonly pollMs: number;
  /** Called when a command missed its deadline (the broker checks its other connections). */
  readonly onWatchdog: () => void;
  /** Called once the consumer is closed. */
  readonly onClosed: (consumer: RedisConsumer) => void;
}

/** Poll interval while tracking is unavailable (server without it, wake-up connection down). */
const DEGRADED_POLL_MS = 250;

/**
 * The most messages one fetch takes. Large enough that a busy worker spends one round trip
 * per batch instead of per message; small enough that a fetch stays a short script (Redis
 * runs nothing else meanwhile) and its reply a few hundred KB at most.
 */
const MAX_FETCH_BATCH = 64;

function backoff(failures: number): number {
  return Math.min(50 * 2 ** Math.min(failures - 1, 6), 2000);
}

/** The last delivery score of this process, in whole microseconds. */
let lastScoreMicros = 0;

/**
 * The `unacked_index` score of a new delivery: the wall clock in unix seconds, as kombu's
 * `time()`. Restores (ours and Python's) compare scores with the wall clock, so a monotonic
 * clock, which lags after a suspend or a clock step, would make fresh deliveries look stale.
 *
 * Scores are unique within the process (at least 1 µs apart, which doubles of this size
 * still tell apart): a fetch whose reply never came is identified by its score alone. When
 * the wall clock steps back by more than a second, it is followed anyway.
 *
 * @returns unix seconds with six decimals
 */
export function deliveryScore(): string {
  let micros = Date.now() * 1000;
  if (micros <= lastScoreMicros && lastScoreMicros - micros < 1_000_000) micros = lastScoreMicros + 1;
  lastScoreMicros = micros;
  const seconds = Math.floor(micros / 1_000_000);
  return `${seconds}.${String(micros - seconds * 1_000_000).padStart(6, '0')}`;
}

/** A fetch whose outcome is unknown: no reply came. */
interface UnansweredFetch {
  /** The score it sent: what it recorded, if it ran, is recorded with exactly this score. */
  readonly score: string;
  /** The connection generation it was sent on. */
  readonly generation: number;
}

/**
 * A running consumer: iterate it for deliveries (`for await`), close it to stop. Breaking out
 * of a `for await` loop closes it too.
 */
export class RedisConsumer implements Consumer, DeliveryOwner {
  readonly #ctx: ConsumerContext;
  #prefetch: number;
  /**
   * How many slots must be free before a fetch: a quarter of the prefetch the consumer was
   * made with (not of the raised one: slots raised for held messages never free up).
   */
  readonly #refill: number;
  readonly #noAck: boolean;
  readonly #queues: string[];
  readonly #redis: Redis;
  readonly #state: ConnectionState;
  readonly #scripts: BrokerScripts;
  readonly #buffer: RedisDelivery[] = [];
  readonly #takers: ((result: IteratorResult<Delivery>) => void)[] = [];
  /** Fetched with a record and not settled yet, in fetch order (buffered ones included). */
  readonly #unsettled = new Set<RedisDelivery>();
  readonly #abort = new AbortController();
  readonly #unregister: () => void;
  readonly #loop: Promise<void>;
  #fetchKeys: { keys: string[]; queues: string[] };
  #closing = false;
  #closed: Promise<void> | undefined;
  #woken = false;
  #wake: (() => void) | undefined;
  #slot: (() => void) | undefined;
  #redirect: { id: number; generation: number } | undefined;
  #trackingUnsupported = false;
  #failures = 0;
  #warnedBadKeys = new Set<string>();
  /** Incremented each time the fetch connection becomes ready (a new connection). */
  #generation = 0;
  /** Fetches without a reply, whose records (if they ran) are put back once it is safe. */
  #unanswered: UnansweredFetch[] = [];

  /**
   * @param ctx - the broker's shared parts
   * @param queues - logical queues, in priority order of listing
   * @param prefetch - most un-acked deliveries at once; 0 for no limit (kombu's semantics)
   * @param noAck - skip the unacked bookkeeping
   */
  constructor(ctx: ConsumerContext, queues: readonly string[], prefetch: number, noAck: boolean) {
    this.#ctx = ctx;
    this.#queues = [...new Set(queues)];
    this.#prefetch = prefetch;
    this.#refill = Math.max(1, Math.floor(prefetch / 4));
    this.#noAck = noAck;
    this.#fetchKeys = ctx.keys.fetchKeys(this.#queues);
    const { redis, state } = createRedisClient(ctx.config, { role: 'consumer', name: ctx.name, logger: ctx.logger });
    this.#redis = redis;
    this.#state = state;
    this.#scripts = defineScripts(redis);
    state.on('status', (status) => {
      // Tracking is per connection: a new connection must ask for it again.
      if (status !== 'ready') this.#redirect = undefined;
      else this.#generation += 1;
    });
    this.#unregister = ctx.watcher.register(this.#fetchKeys.keys, () => {
      this.#woken = true;
      this.#wake?.();
    });
    this.#loop = this.#run();
  }

  /** The logical queues, in the current round-robin order. */
  get queues(): readonly string[] {
    return [...this.#queues];
  }

  /** Deliveries handed out (or buffered) and not yet acked or rejected. */
  get unacked(): number {
    return this.#noAck ? 0 : this.#unsettled.size;
  }

  /** The current prefetch limit (0: no limit); see {@link RedisConsumer.adjustPrefetch}. */
  get prefetch(): number {
    return this.#prefetch;
  }

  /**
   * Raises (delta > 0) or lowers (delta < 0) the prefetch limit, as kombu's
   * `qos.increment_eventually` / `decrement_eventually`: a worker raises it by one for each
   * ETA message it holds, so held messages do not stop it fetching, and lowers it when one
   * is released. Raising wakes a fetch loop waiting for capacity at once; lowering never
   * takes deliveries back, it only delays the next fetch. The limit never goes below 1, and
   * a consumer without a limit (prefetch 0) stays without one.
   *
   * @param delta - an integer
   * @returns the new limit
   * @throws TypeError for a non-integer delta
   */
  adjustPrefetch(delta: number): number {
    if (!Number.isInteger(delta)) throw new TypeError(`prefetch delta must be an integer, got ${String(delta)}`);
    if (this.#prefetch === 0 || delta === 0) return this.#prefetch;
    this.#prefetch = Math.max(1, this.#prefetch + delta);
    if (delta > 0) this.#freeSlot();
    return this.#prefetch;
  }

  /** The connection state of the fetch connection. */
  get connectionState(): ConnectionState {
    return this.#state;
  }

  /**
   * @returns an iterator over deliveries; `return()` (breaking a `for await`) closes the consumer
   */
  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return {
      next: () => this.#next(),
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  #next(): Promise<IteratorResult<Delivery>> {
    const delivery = this.#buffer.shift();
    if (delivery !== undefined) {
      this.#freeSlot();
      return Promise.resolve({ done: false, value: delivery });
    }
    if (this.#closing) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => this.#takers.push(resolve));
  }

  #hand(delivery: RedisDelivery): void {
    const taker = this.#takers.shift();
    if (taker === undefined) {
      this.#buffer.push(delivery);
      return;
    }
    taker({ done: false, value: delivery });
  }

  /** Deliveries that count against prefetch. */
  #inFlight(): number {
    return this.#noAck ? this.#buffer.length : this.#unsettled.size;
  }

  #freeSlot(): void {
    const slot = this.#slot;
    this.#slot = undefined;
    slot?.();
  }

  /**
   * Waits until a fetch is worth a round trip: a quarter of the configured prefetch window
   * free (at least one slot). Refilling one slot at a time would cost one round trip per message once
   * the window is full, which is a busy worker's steady state; the deliveries still held keep
   * the worker busy meanwhile.
   */
  async #waitForCapacity(): Promise<void> {
    while (!this.#closing && this.#prefetch > 0 && this.#inFlight() > this.#prefetch - this.#refill) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.#abort.signal.removeEventListener('abort', done);
          resolve();
        };
        this.#slot = done;
        this.#abort.signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  async #run(): Promise<void> {
    while (!this.#closing) {
      await this.#waitForCapacity();
      if (this.#closing) break;
      try {
        await this.#ensureSession();
        if (this.#closing) break;
        if (this.#unanswered.length > 0) await this.#putBackUnanswered(false);
        const found = await this.#fetchOnce();
        if (this.#failures > 0) {
          this.#ctx.logger.info('broker consumer resumed', { connection: this.#ctx.name, failures: this.#failures });
          this.#failures = 0;
        }
        if (!found) await this.#idle();
      } catch (error) {
        if (this.#closing) break;
        this.#failures += 1;
        const fields = {
          connection: this.#ctx.name,
          failures: this.#failures,
          error: error instanceof Error ? error.message : String(error),
        };
        if (this.#failures === 1) this.#ctx.logger.warn('broker consumer cannot fetch; retrying', fields);
        else this.#ctx.logger.debug('broker consumer cannot fetch; retrying', fields);
        await sleep(backoff(this.#failures), this.#abort.signal);
      }
    }
  }

  #command<T>(promise: Promise<T>, what: string): Promise<T> {
    return guard(promise, {
      state: this.#state,
      timeoutMs: this.#ctx.watchdogMs,
      what: `${this.#ctx.name}: ${what}`,
      onTimeout: () => {
        this.#ctx.logger.warn('broker consumer command timed out; dropping the connection', {
          connection: this.#ctx.name,
          command: what,
          timeoutMs: this.#ctx.watchdogMs,
        });
        this.#redis.disconnect(true);
        // The same network path probably hangs for the broker's other connections too.
        this.#ctx.onWatchdog();
      },
    });
  }

  async #ensureSession(): Promise<void> {
    const signal = this.#abort.signal;
    await waitForReady(this.#redis, this.#state, this.#ctx.watchdogMs, `${this.#ctx.name}: connect`, signal);
    if (this.#trackingUnsupported) return;
    const watcher = this.#ctx.watcher;
    if (watcher.clientId === undefined) await watcher.settle(this.#ctx.pollMs, signal);
    const id = watcher.clientId;
    if (id === undefined) return;
    const generation = watcher.generation;
    if (this.#redirect?.id === id && this.#redirect.generation === generation) return;
    try {
      await this.#command(this.#redis.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', String(id), 'NOLOOP'), 'CLIENT TRACKING');
      this.#redirect = { id, generation };
    } catch (error) {
      // The wake-up connection was replaced meanwhile: its new id comes with the next round.
      if (error instanceof CommandAbortedError || /does not exist/i.test(String(error))) throw error;
      // Any other error reply: a server without tracking (< 6.0) or an ACL without CLIENT.
      this.#trackingUnsupported = true;
      this.#ctx.logger.warn('Redis client-side tracking unavailable; consumer polls instead', {
        connection: this.#ctx.name,
        pollMs: DEGRADED_POLL_MS,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  async #fetchOnce(): Promise<boolean> {
    const keys = this.#ctx.keys;
    const { keys: listKeys, queues } = this.#fetchKeys;
    const score = deliveryScore();
    const generation = this.#generation;
    this.#woken = false;
    let reply: unknown;
    try {
      reply = await this.#command(
        this.#scripts.fetch(
          [keys.unackedIndex, keys.unacked, keys.invalidUnackedIndex, keys.invalidUnacked, ...listKeys],
          [score, randomUUID(), this.#noAck ? '1' : '0', ...queues, String(this.#batchSize())],
        ),
        'fetch',
      );
    } catch (error) {
      // An error reply means the script did not write. Anything else (the watchdog gave up,
      // the connection was lost) leaves it open whether it ran.
      if (!this.#noAck && !(error instanceof ReplyError)) this.#unanswered.push({ score, generation });
      throw error;
    }
    if (!Array.isArray(reply)) throw new Error(`fetch script returned ${typeof reply}, expected an array`);
    const index = Number(reply[0]);
    if (index === 0) {
      this.#reportBadKeys(reply.slice(1).map((i) => listKeys[Number(i) - 1] ?? ''));
      return false;
    }
    if (reply.length % 5 !== 0) throw new Error(`fetch script returned ${reply.length} values, expected groups of 5`);
    for (let at = 0; at < reply.length; at += 5) {
      const [listIndex, element, tagBytes, redelivered, kind] = reply.slice(at, at + 5) as [unknown, unknown, unknown, unknown, unknown];
      const queue = queues[Number(listIndex) - 1];
      const listKey = listKeys[Number(listIndex) - 1];
      if (!Buffer.isBuffer(element) || queue === undefined || listKey === undefined) {
        throw new Error(`fetch script returned an unexpected reply for list #${String(listIndex)}`);
      }
      const unackedTag = Buffer.isBuffer(tagBytes) ? tagBytes.toString('utf8') : '';
      const delivery = new RedisDelivery(
        {
          queue,
          listKey,
          raw: element,
          deliveryTag: Number(kind) === 1 ? unackedTag : '',
          unackedTag,
          recordSet: Number(kind) === 0 ? 'invalid' : 'kombu',
          score,
          redelivered: Number(redelivered) === 1,
        },
        this,
      );
      if (!this.#noAck) this.#unsettled.add(delivery);
      this.#hand(delivery);
      // As the script did: the queue that delivered goes behind the others, per message.
      this.#rotate(queue);
    }
    return true;
  }

  /**
   * How many messages one fetch may take: the free prefetch slots (kombu's `can_consume`
   * asks one at a time; a batch fills them in one round trip), at most
   * {@link MAX_FETCH_BATCH}; with no prefetch limit, that maximum.
   */
  #batchSize(): number {
    if (this.#prefetch <= 0) return MAX_FETCH_BATCH;
    return Math.max(1, Math.min(MAX_FETCH_BATCH, this.#prefetch - this.#inFlight()));
  }

  /**
   * Puts back what fetches without a reply recorded (if they ran at all). Only once the
   * connection they were sent on is gone and a new one is ready: the server reads a
   * connection's input before its close and before it answers a newer connection, so by then
   * the old fetch has run or never will.
   *
   * @param all - also those whose connection was not replaced yet (closing: best effort)
   */
  async #putBackUnanswered(all: boolean): Promise<void> {
    for (const entry of [...this.#unanswered]) {
      if (!all && entry.generation >= this.#generation) continue;
      const restored = await this.#ctx.store.restoreScore(entry.score);
      this.#unanswered = this.#unanswered.filter((e) => e !== entry);
      if (restored > 0) {
        this.#ctx.logger.warn('put back messages a fetch without a reply had recorded', {
          connection: this.#ctx.name,
          score: entry.score,
          restored,
        });
      }
    }
  }

  /** kombu's round_robin_cycle.rotate: the queue that delivered goes to the end. */
  #rotate(queue: string): void {
    if (this.#queues.length < 2) return;
    const at = this.#queues.indexOf(queue);
    if (at === -1) return;
    this.#queues.splice(at, 1);
    this.#queues.push(queue);
    this.#fetchKeys = this.#ctx.keys.fetchKeys(this.#queues);
  }

  #reportBadKeys(keys: string[]): void {
    for (const key of keys) {
      if (this.#warnedBadKeys.has(key)) continue;
      this.#warnedBadKeys.add(key);
      this.#ctx.logger.error('queue key holds a non-list value; skipped', { connection: this.#ctx.name, key });
    }
  }

  async #idle(): Promise<void> {
    if (this.#woken || this.#closing) return;
    const watcher = this.#ctx.watcher;
    const tracking =
      this.#redirect !== undefined &&
      watcher.clientId === this.#redirect.id &&
      watcher.generation === this.#redirect.generation;
    const waitMs = tracking ? this.#ctx.pollMs : Math.min(this.#ctx.pollMs, DEGRADED_POLL_MS);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        this.#abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.#wake = done;
      this.#abort.signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Settles a delivery (called by {@link RedisDelivery}).
   *
   * @internal
   */
  async settle(delivery: RedisDelivery, requeue: boolean): Promise<void> {
    if (this.#noAck) return;
    this.#unsettled.delete(delivery);
    this.#freeSlot();
    if (!requeue) {
      await this.#ctx.store.ack(delivery.unackedTag, delivery.score, delivery.recordSet);
      return;
    }
    const moved = await this.#ctx.store.move({
      set: delivery.recordSet,
      tag: delivery.unackedTag,
      score: delivery.score,
      payload: markRedelivered(delivery.raw),
      destinations: [this.#ctx.keys.queueKey(delivery.queue)],
      end: 'left',
    });
    if (moved !== 1) {
      this.#ctx.logger.warn('requeue skipped: the unacked record is gone or was delivered again meanwhile', {
        queue: delivery.queue,
        tag: delivery.unackedTag,
      });
    }
  }

  /**
   * Stops fetching and closes the fetch connection. Deliveries fetched but not handed out
   * go back to the front of their list; handed-out ones stay valid to ack or reject unless
   * `restore` puts them back too.
   *
   * @param options - `restore: true` for a warm shutdown
   */
  close(options: ConsumerCloseOptions = {}): Promise<void> {
    this.#closed ??= this.#close(options.restore === true);
    return this.#closed;
  }

  /** {@link RedisConsumer.close} without restore, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(restoreHandedOut: boolean): Promise<void> {
    this.#closing = true;
    this.#abort.abort();
    this.#wake?.();
    this.#freeSlot();
    await this.#loop;
    this.#unregister();
    for (const taker of this.#takers.splice(0)) taker({ done: true, value: undefined });
    const buffered = this.#buffer.splice(0);
    try {
      await this.#restore(restoreHandedOut && !this.#noAck ? [...this.#unsettled] : buffered);
      if (this.#unanswered.length > 0) {
        await this.#putBackUnanswered(true).catch((error: unknown) => {
          this.#ctx.logger.warn('could not put back what a fetch without a reply recorded; the visibility timeout will', {
            connection: this.#ctx.name,
            error: error instanceof Error ? error.message : String(error),
          });
        });
      }
    } finally {
      await quit(this.#redis);
      this.#ctx.onClosed(this);
    }
  }

  /**
   * Puts deliveries back at the front of the lists they came from, oldest consumed first.
   */
  async #restore(deliveries: RedisDelivery[]): Promise<void> {
    const store = this.#ctx.store;
    const pending: Promise<unknown>[] = [];
    // RPUSH the newest first, so the oldest ends up rightmost (consumed next). The command
    // connection pipelines the calls in this order.
    for (const delivery of deliveries.reverse()) {
      let outcome: Promise<unknown>;
      if (this.#noAck) {
        outcome = store.pushBack(delivery.listKey, delivery.raw);
      } else {
        this.#unsettled.delete(delivery);
        outcome = store.move({
          set: delivery.recordSet,
          tag: delivery.unackedTag,
          score: delivery.score,
          payload: markRedelivered(delivery.raw),
          destinations: [delivery.listKey],
          end: 'right',
        });
      }
      delivery.settleWith(outcome.then(
        () => undefined,
        () => undefined,
      ));
      pending.push(outcome);
    }
    const results = await Promise.allSettled(pending);
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length > 0) {
      this.#ctx.logger.error('could not put back every unacked delivery on close; the visibility timeout will', {
        connection: this.#ctx.name,
        failed: failed.length,
        error: String((failed[0] as PromiseRejectedResult).reason),
      });
    } else if (deliveries.length > 0) {
      this.#ctx.logger.info('restored unacknowledged deliveries', { connection: this.#ctx.name, restored: deliveries.length });
    }
  }
}

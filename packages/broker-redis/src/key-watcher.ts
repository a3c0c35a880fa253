/**
 * The wake-up side of blocking without popping: one small pub/sub connection per broker,
 * subscribed to `__redis__:invalidate`, that receives Redis client-side tracking
 * invalidations for every consumer connection of the broker (each consumer runs
 * `CLIENT TRACKING on REDIRECT <this connection's id> NOLOOP`). When the fetch script finds
 * every list empty it reads them, which arms tracking for exactly those keys; the next push
 * by any client sends their names here, and the consumers waiting on them fetch again.
 *
 * One `messageBuffer` listener and a `Map<key, Set<callback>>`, whatever the number of
 * consumers and keys. Nothing here changes server configuration (unlike keyspace
 * notifications, which need `CONFIG SET notify-keyspace-events`).
 *
 * @module
 */
import { silentLogger, type Logger } from '@celeriac/protocol';
import {
  createRedisClient,
  type ConnectionState,
  type RedisConnectionConfig,
} from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import { guard, quit, sleep, waitForReady } from './deadline.ts';

const INVALIDATE_CHANNEL = '__redis__:invalidate';

/** Options of {@link KeyWatcher}. */
export interface KeyWatcherOptions {
  /** Connection name (`CLIENT SETNAME celeriac:<name>`). */
  readonly name: string;
  /** Where connection trouble is logged. */
  readonly logger?: Logger;
  /** Deadline of each command, and of (re)connecting. */
  readonly timeoutMs: number;
  /** How often to PING the connection to notice a half-open one. */
  readonly healthCheckMs: number;
}

/**
 * Receives client-side tracking invalidations for the broker's consumers.
 */
export class KeyWatcher {
  readonly #redis: Redis;
  readonly #state: ConnectionState;
  readonly #logger: Logger;
  readonly #options: KeyWatcherOptions;
  readonly #callbacks = new Map<string, Set<() => void>>();
  #clientId: number | undefined;
  #generation = 0;
  #setup: Promise<void> | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * @param config - the broker's connection config
   * @param options - name, logger, deadlines
   */
  constructor(config: RedisConnectionConfig, options: KeyWatcherOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    const { redis, state } = createRedisClient(config, { role: 'subscriber', name: options.name, logger: this.#logger });
    this.#redis = redis;
    this.#state = state;
    redis.on('messageBuffer', (channel: Buffer, message: unknown) => this.#onMessage(channel, message));
    state.on('status', (status) => {
      if (status === 'ready' || this.#clientId === undefined) return;
      // Invalidations sent to the old connection are gone: everybody fetches again (and
      // re-points its tracking at the new connection once it is up).
      this.#clientId = undefined;
      this.#generation += 1;
      this.#wakeAll();
    });
    state.on('reconnected', () => this.ensure());
  }

  /**
   * The client id consumers redirect their tracking to, or `undefined` while the connection
   * is not set up (consumers then poll). Calling it starts the setup when needed.
   */
  get clientId(): number | undefined {
    if (this.#clientId === undefined) this.ensure();
    return this.#clientId;
  }

  /** Changes whenever the connection was lost: a tracking redirect set up before is stale. */
  get generation(): number {
    return this.#generation;
  }

  /** Starts connecting and subscribing, unless done or under way. */
  ensure(): void {
    if (this.#closed || this.#clientId !== undefined || this.#setup !== undefined) return;
    this.#setup = this.#subscribe()
      .catch((error: unknown) => {
        this.#logger.debug('broker wake-up connection not ready; consumers poll meanwhile', {
          connection: this.#options.name,
          error: error instanceof Error ? error.message : String(error),
        });
      })
      .finally(() => {
        this.#setup = undefined;
      });
  }

  /**
   * Waits for the setup under way (tests and the first consumer use it to start in
   * tracking mode rather than polling).
   *
   * @param timeoutMs - at most this long
   * @param signal - stops waiting
   */
  async settle(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.ensure();
    const pending = this.#setup;
    if (pending === undefined) return;
    await Promise.race([pending, sleep(timeoutMs, signal)]);
  }

  async #subscribe(): Promise<void> {
    const timeoutMs = this.#options.timeoutMs;
    const what = `${this.#options.name}: subscribe ${INVALIDATE_CHANNEL}`;
    const onTimeout = (): void => this.recycle();
    await waitForReady(this.#redis, this.#state, timeoutMs, what);
    const id = await guard(this.#redis.client('ID'), { state: this.#state, timeoutMs, what, onTimeout });
    await guard(this.#redis.subscribe(INVALIDATE_CHANNEL), { state: this.#state, timeoutMs, what, onTimeout });
    if (this.#closed) return;
    this.#clientId = id;
    this.#generation += 1;
    this.#startHealthCheck();
    this.#logger.debug('broker wake-up connection subscribed', { connection: this.#options.name, clientId: id });
  }

  #startHealthCheck(): void {
    if (this.#healthTimer !== undefined) return;
    this.#healthTimer = setInterval(() => {
      if (!this.#state.isReady || this.#clientId === undefined) return;
      const what = `${this.#options.name}: health check`;
      guard(this.#redis.ping(), {
        state: this.#state,
        timeoutMs: this.#options.timeoutMs,
        what,
        onTimeout: () => this.recycle(),
      }).catch((error: unknown) => {
        this.#logger.warn('broker wake-up connection unhealthy; reconnecting', {
          connection: this.#options.name,
          error: error instanceof Error ? error.message : String(error),
        });
      });
    }, this.#options.healthCheckMs);
    this.#healthTimer.unref();
  }

  /** Drops the connection so a fresh one is made (a consumer saw the network hang). */
  recycle(): void {
    if (this.#closed) return;
    if (this.#redis.status === 'wait' || this.#redis.status === 'end') return;
    this.#redis.disconnect(true);
  }

  /**
   * Calls `onInvalidate` whenever one of `keys` is modified by another client after a
   * consumer with tracking armed read it (and when the connection is lost).
   *
   * @param keys - full Redis key names
   * @param onInvalidate - the wake-up
   * @returns unregisters
   */
  register(keys: readonly string[], onInvalidate: () => void): () => void {
    for (const key of keys) {
      let set = this.#callbacks.get(key);
      if (set === undefined) {
        set = new Set();
        this.#callbacks.set(key, set);
      }
      set.add(onInvalidate);
    }
    return () => {
      for (const key of keys) {
        const set = this.#callbacks.get(key);
        set?.delete(onInvalidate);
        if (set?.size === 0) this.#callbacks.delete(key);
      }
    };
  }

  #onMessage(channel: Buffer, message: unknown): void {
    if (channel.toString('latin1') !== INVALIDATE_CHANNEL) return;
    // RESP2 delivers the key names as an array; null means "everything" (FLUSHDB/FLUSHALL,
    // or the tracking table overflowed).
    if (!Array.isArray(message)) {
      this.#wakeAll();
      return;
    }
    const woken = new Set<() => void>();
    for (const item of message as unknown[]) {
      if (!Buffer.isBuffer(item)) continue;
      for (const callback of this.#callbacks.get(item.toString('utf8')) ?? []) woken.add(callback);
    }
    for (const callback of woken) callback();
  }

  #wakeAll(): void {
    const woken = new Set<() => void>();
    for (const set of this.#callbacks.values()) for (const callback of set) woken.add(callback);
    for (const callback of woken) callback();
  }

  /** Closes the connection for good. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#healthTimer);
    this.#clientId = undefined;
    this.#wakeAll();
    await quit(this.#redis);
  }
}

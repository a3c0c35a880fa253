/**
 * kombu's Redis transport for Celeriac: the {@link Broker} a Celeriac producer and worker
 * talk to, sharing its queues, unacked records and fanout channels with Python Celery 5.2
 * peers. The key layout is documented in kombu-keys.ts.
 *
 * Connections: one auto-pipelined `command` connection (publish, ack, restore), one
 * `consumer` connection per consumer, one `subscriber` connection for fanout and one for
 * the consumers' wake-up invalidations, each created on first use.
 *
 * @see celery-wire.md §2
 * @module
 */
import { Buffer } from 'node:buffer';
import {
  CeleriacError,
  ConnectionClosedError,
  ErrorCode,
  silentLogger,
  type Broker,
  type ConsumeOptions,
  type FanoutMessage,
  type Logger,
  type OutgoingMessage,
  type Subscription,
} from '@celeriac/protocol';
import {
  createRedisClient,
  parseRedisUrl,
  toRedisError,
  type ConnectionState,
  type RedisConnectionConfig,
  type RedisErrorContext,
} from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import { guard, quit } from './deadline.ts';
import { FanoutHub } from './fanout-hub.ts';
import { KeyWatcher } from './key-watcher.ts';
import { KombuKeys, type RedisBrokerTransportOptions } from './kombu-keys.ts';
import { RedisConsumer } from './redis-consumer.ts';
import { defineScripts } from './scripts.ts';
import { UnackedStore } from './unacked-store.ts';

/** Options of {@link RedisBroker}. */
export interface RedisBrokerOptions {
  /** kombu's transport options (Celery's `broker_transport_options`), kombu's names. */
  readonly transportOptions?: RedisBrokerTransportOptions;
  /** Where connection changes, restores and recoveries are logged; silent by default. */
  readonly logger?: Logger;
  /** Prefix of the connection names (`CLIENT SETNAME celeriac:<name>-command`, …); default `broker`. */
  readonly name?: string;
  /**
   * Deadline of each command on the command connection (publish, ack, restore), in ms;
   * default 10 000. A publish that misses it rejects with a `TIMEOUT` error, and may still
   * have been enqueued (publishing is at-least-once).
   */
  readonly commandTimeoutMs?: number;
  /**
   * Deadline of each consumer command and of a consumer's reconnect, in ms; default 5 000.
   * When it passes the consumer drops its connection, makes a new one and resumes.
   */
  readonly watchdogTimeoutMs?: number;
  /** Longest idle wait of a consumer before it fetches again, in ms; default 1 000 (kombu's BRPOP timeout). */
  readonly pollIntervalMs?: number;
  /**
   * How often consuming brokers run {@link RedisBroker.restoreVisible}, in ms; default half
   * the visibility timeout, at least 1 s and at most 10 s (kombu: about every 10 s). It also
   * runs when a consumer starts.
   */
  readonly restoreIntervalMs?: number;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
const DEFAULT_WATCHDOG_MS = 5_000;
const DEFAULT_POLL_MS = 1_000;

function positiveMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new CeleriacError(ErrorCode.INVALID_CONFIG, `${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

function toBuffer(raw: Uint8Array | string): Buffer | string {
  if (typeof raw === 'string') return raw;
  return Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
}

/**
 * kombu's Redis transport.
 *
 * @example
 * ```ts
 * const broker = createRedisBroker('redis://localhost:6379/0');
 * await broker.publish(encodeTaskMessage({ task: 'tasks.add', args: [2, 3] }));
 * const consumer = broker.consume({ queues: ['celery'], prefetch: 4 });
 * for await (const delivery of consumer) {
 *   // decode, run …
 *   await delivery.ack();
 * }
 * ```
 */
export class RedisBroker implements Broker {
  /** The key layout (queue, priority, unacked and fanout names). */
  readonly keys: KombuKeys;
  readonly #config: RedisConnectionConfig;
  readonly #logger: Logger;
  readonly #name: string;
  readonly #redis: Redis;
  readonly #state: ConnectionState;
  readonly #store: UnackedStore;
  readonly #errorContext: RedisErrorContext;
  readonly #watchdogMs: number;
  readonly #pollMs: number;
  readonly #restoreMs: number;
  readonly #declared = new Set<string>();
  readonly #consumers = new Set<RedisConsumer>();
  #watcher: KeyWatcher | undefined;
  #fanout: FanoutHub | undefined;
  #restoreTimer: NodeJS.Timeout | undefined;
  #restoring: Promise<number> | undefined;
  #consumerCount = 0;
  #closed: Promise<void> | undefined;
  #lastRecycle = 0;
  #probing = false;

  /**
   * @param url - a Celery-style Redis URL (`redis://`, `rediss://`, `unix://`, `sentinel://`)
   * @param options - transport options, logger, deadlines
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a bad URL or option (the password redacted)
   */
  constructor(url: string, options: RedisBrokerOptions = {}) {
    const transport = options.transportOptions ?? {};
    this.#config = parseRedisUrl(url, transport);
    this.keys = new KombuKeys(transport, this.#config.db);
    this.#logger = options.logger ?? silentLogger;
    this.#name = options.name ?? 'broker';
    const commandTimeoutMs = positiveMs('commandTimeoutMs', options.commandTimeoutMs, DEFAULT_COMMAND_TIMEOUT_MS);
    this.#watchdogMs = positiveMs('watchdogTimeoutMs', options.watchdogTimeoutMs, DEFAULT_WATCHDOG_MS);
    this.#pollMs = positiveMs('pollIntervalMs', options.pollIntervalMs, DEFAULT_POLL_MS);
    this.#restoreMs = positiveMs(
      'restoreIntervalMs',
      options.restoreIntervalMs,
      Math.min(10_000, Math.max(1_000, (this.keys.visibilityTimeout * 1000) / 2)),
    );
    this.#errorContext = {
      url: this.#config.redactedUrl,
      timeoutMs: commandTimeoutMs,
      onTimeout: () => this.#recycleCommandConnection(),
    };
    const { redis, state } = createRedisClient(this.#config, {
      role: 'command',
      name: `${this.#name}-command`,
      logger: this.#logger,
      // ioredis drops (never settles) a command in flight when the connection closes and
      // resending is off: the timeout makes every publish and ack settle.
      overrides: { commandTimeout: commandTimeoutMs },
    });
    this.#redis = redis;
    this.#state = state;
    this.#store = new UnackedStore({
      redis,
      scripts: defineScripts(redis),
      keys: this.keys,
      logger: this.#logger,
      errorContext: this.#errorContext,
    });
  }

  /** The URL with the password replaced by `***`, safe to log. */
  get redactedUrl(): string {
    return this.#config.redactedUrl;
  }

  /**
   * A command timed out: the connection may be half-open (answers nothing, closes nothing).
   * Drop it so a new one is made; at most once per deadline, so a burst of timeouts of one
   * outage drops it once.
   */
  #recycleCommandConnection(): void {
    const now = Date.now();
    if (this.#closed !== undefined || now - this.#lastRecycle < this.#errorContext.timeoutMs) return;
    if (this.#redis.status !== 'ready' && this.#redis.status !== 'connect') return;
    this.#lastRecycle = now;
    this.#logger.warn('broker command timed out; dropping the connection', {
      connection: `${this.#name}-command`,
      timeoutMs: this.#errorContext.timeoutMs,
    });
    this.#redis.disconnect(true);
  }

  /**
   * A consumer's watchdog fired: the network path to Redis may hang for every connection.
   * The wake-up connection is re-made at once (cheap); the command and fanout connections
   * are probed with a PING first, so a healthy one with commands in flight is left alone.
   */
  #onWatchdog(): void {
    this.#watcher?.recycle();
    this.#fanout?.probe(this.#watchdogMs);
    if (this.#probing || !this.#state.isReady) return;
    this.#probing = true;
    guard(this.#redis.ping(), {
      state: this.#state,
      timeoutMs: this.#watchdogMs,
      what: `${this.#name}-command: probe`,
      onTimeout: () => this.#recycleCommandConnection(),
    })
      .catch(() => undefined)
      .finally(() => {
        this.#probing = false;
      });
  }

  #assertOpen(what: string): void {
    if (this.#closed !== undefined) {
      throw new ConnectionClosedError(`${what}: the broker for ${this.#config.redactedUrl} is closed`);
    }
  }

  /**
   * `LPUSH` the message to its queue's priority key, and on the first publish to a queue
   * `SADD _kombu.binding.<queue> "<queue><sep><sep><queue>"` (kombu's `maybe_declare`).
   * Auto-pipelined: concurrent calls share round trips.
   *
   * @param message - queue, priority (0..255, bucketed as kombu) and the raw envelope
   * @throws {@link ConnectionClosedError} when the broker is closed or the connection drops
   * @throws {@link TimeoutError} when Redis does not confirm in time (it may still have been enqueued)
   * @see celery-wire.md §2.2, §2.4
   */
  async publish(message: OutgoingMessage): Promise<void> {
    this.#assertOpen(`publish to queue ${JSON.stringify(message.queue)}`);
    const pending: Promise<unknown>[] = [];
    const binding = this.#declare(message.queue);
    if (binding !== undefined) {
      pending.push(
        this.#redis.sadd(binding.key, binding.member).catch((error: unknown) => {
          this.#declared.delete(message.queue);
          throw error;
        }),
      );
    }
    pending.push(this.#redis.lpush(this.#listKey(message), toBuffer(message.raw)));
    try {
      await Promise.all(pending);
    } catch (error) {
      throw toRedisError(error, `publish to queue ${JSON.stringify(message.queue)}`, this.#errorContext);
    }
  }

  /**
   * Publishes many messages in one pipeline (one round trip).
   *
   * @param messages - the messages
   * @throws like {@link RedisBroker.publish}; some messages may have been enqueued
   */
  async publishMany(messages: Iterable<OutgoingMessage>): Promise<void> {
    this.#assertOpen('publishMany');
    const pipeline = this.#redis.pipeline();
    const declaredNow: string[] = [];
    let count = 0;
    for (const message of messages) {
      const binding = this.#declare(message.queue);
      if (binding !== undefined) {
        declaredNow.push(message.queue);
        pipeline.sadd(binding.key, binding.member);
      }
      pipeline.lpush(this.#listKey(message), toBuffer(message.raw));
      count += 1;
    }
    if (count === 0) return;
    try {
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error !== null)?.[0];
      if (failed) throw failed;
    } catch (error) {
      for (const queue of declaredNow) this.#declared.delete(queue);
      throw toRedisError(error, `publishMany of ${count} messages`, this.#errorContext);
    }
  }

  #declare(queue: string): { key: string; member: string } | undefined {
    if (this.#declared.has(queue)) return undefined;
    this.#declared.add(queue);
    return { key: this.keys.bindingKey(queue), member: this.keys.bindingMember(queue) };
  }

  #listKey(message: OutgoingMessage): string {
    return this.keys.queueKey(message.queue, this.keys.bucket(message.priority));
  }

  /**
   * Starts consuming, on a connection of its own.
   *
   * @param options - queues (rotated round-robin as kombu), prefetch (0: no limit), noAck
   * @returns the consumer; iterate it for deliveries
   * @throws {@link ConnectionClosedError} when the broker is closed; {@link CeleriacError}
   *   `INVALID_CONFIG` for no queues or a bad prefetch
   * @see celery-wire.md §2.3, §5.1
   */
  consume(options: ConsumeOptions): RedisConsumer {
    this.#assertOpen('consume');
    const queues = options.queues;
    if (!Array.isArray(queues) || queues.length === 0 || !queues.every((q) => typeof q === 'string' && q !== '')) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `consume: expected at least one queue name, got ${JSON.stringify(queues)}`);
    }
    if (!Number.isInteger(options.prefetch) || options.prefetch < 0) {
      throw new CeleriacError(
        ErrorCode.INVALID_CONFIG,
        `consume: expected prefetch to be an integer >= 0 (0: no limit), got ${String(options.prefetch)}`,
      );
    }
    this.#watcher ??= new KeyWatcher(this.#config, {
      name: `${this.#name}-wakeup`,
      logger: this.#logger,
      timeoutMs: this.#watchdogMs,
      healthCheckMs: Math.max(this.#watchdogMs, 5_000),
    });
    this.#watcher.ensure();
    this.#consumerCount += 1;
    const consumer = new RedisConsumer(
      {
        config: this.#config,
        keys: this.keys,
        store: this.#store,
        watcher: this.#watcher,
        logger: this.#logger,
        name: `${this.#name}-consumer-${this.#consumerCount}`,
        watchdogMs: this.#watchdogMs,
        pollMs: this.#pollMs,
        onWatchdog: () => this.#onWatchdog(),
        onClosed: (closed) => {
          this.#consumers.delete(closed);
          if (this.#consumers.size === 0) this.#stopRestoreTimer();
        },
      },
      queues,
      options.prefetch,
      options.noAck === true,
    );
    this.#consumers.add(consumer);
    if (options.noAck !== true) {
      this.#backgroundRestore();
      this.#startRestoreTimer();
    }
    return consumer;
  }

  #startRestoreTimer(): void {
    if (this.#restoreTimer !== undefined) return;
    this.#restoreTimer = setInterval(() => this.#backgroundRestore(), this.#restoreMs);
    this.#restoreTimer.unref();
  }

  #stopRestoreTimer(): void {
    clearInterval(this.#restoreTimer);
    this.#restoreTimer = undefined;
  }

  #backgroundRestore(): void {
    if (this.#closed !== undefined || this.#restoring !== undefined) return;
    this.#restoring = this.#store.restoreVisible().finally(() => {
      this.#restoring = undefined;
    });
    this.#restoring.catch((error: unknown) => {
      this.#logger.warn('visibility-timeout restore failed; retrying on the next tick', {
        error: error instanceof Error ? error.message : String(error),
      });
    });
  }

  /**
   * kombu's `restore_visible`: under the `unacked_mutex` lock (shared with Python workers),
   * every unacked message older than `visibility_timeout` goes back to the front of its
   * queue (RPUSH to the bucket-0 key), marked redelivered, with its delivery tag. Celeriac's
   * records of malformed messages (`celeriac.unacked.invalid`) too. A record that cannot be
   * put back is logged and left for the next round; the others still are.
   *
   * @returns how many were put back (0 also when another process holds the lock)
   * @throws {@link TimeoutError} or {@link ConnectionClosedError} when Redis does not answer
   * @see celery-wire.md §2.6
   */
  async restoreVisible(): Promise<number> {
    this.#assertOpen('restoreVisible');
    return this.#store.restoreVisible();
  }

  /**
   * Puts unacked messages back by delivery tag, whoever fetched them (kombu's
   * `restore_by_tag`, RPUSH marked redelivered). A consumer restores its own with
   * `close({ restore: true })`.
   *
   * @param tags - hash fields of `unacked`, or `celeriac-invalid:<uuid>` fields of Celeriac's
   *   records of malformed messages
   * @returns how many were put back
   * @throws {@link TimeoutError} or {@link ConnectionClosedError} when Redis does not answer
   */
  async restoreUnacked(tags: Iterable<string>): Promise<number> {
    this.#assertOpen('restoreUnacked');
    return this.#store.restoreTags(tags);
  }

  /**
   * Empties a queue: every priority key, in one transaction.
   *
   * @param queue - the logical queue
   * @returns how many messages were removed
   */
  async purge(queue: string): Promise<number> {
    this.#assertOpen(`purge of queue ${JSON.stringify(queue)}`);
    const transaction = this.#redis.multi();
    for (const key of this.keys.queueKeys(queue)) transaction.llen(key).del(key);
    try {
      const results = await transaction.exec();
      let removed = 0;
      for (let i = 0; i < (results?.length ?? 0); i += 2) {
        const [error, value] = results?.[i] ?? [null, 0];
        if (error) throw error;
        removed += Number(value);
      }
      return removed;
    } catch (error) {
      throw toRedisError(error, `purge of queue ${JSON.stringify(queue)}`, this.#errorContext);
    }
  }

  /**
   * `PUBLISH` to a fanout exchange: channel `<prefix>/<db>.<exchange>[/<routingKey>]`.
   *
   * @param exchange - e.g. `celery.pidbox`, `celeryev`
   * @param routingKey - `''` for none
   * @param raw - the envelope
   * @see celery-wire.md §2.7
   */
  async publishFanout(exchange: string, routingKey: string, raw: Uint8Array | string): Promise<void> {
    this.#assertOpen(`publish to fanout exchange ${JSON.stringify(exchange)}`);
    try {
      await this.#redis.publish(this.keys.fanoutChannel(exchange, routingKey), toBuffer(raw));
    } catch (error) {
      throw toRedisError(error, `publish to fanout exchange ${JSON.stringify(exchange)}`, this.#errorContext);
    }
  }

  /**
   * `PSUBSCRIBE <prefix>/<db>.<exchange>[/<bindingKey with # → *>]` on the broker's shared
   * subscriber connection (resubscribed after a reconnect).
   *
   * @param exchange - the fanout exchange
   * @param bindingKey - a routing-key pattern; `''` for all
   * @param onMessage - called for each message of this binding; exceptions are logged
   * @returns the subscription, once the server confirmed it
   */
  async subscribeFanout(exchange: string, bindingKey: string, onMessage: (message: FanoutMessage) => void): Promise<Subscription> {
    this.#assertOpen(`subscribe to fanout exchange ${JSON.stringify(exchange)}`);
    this.#fanout ??= new FanoutHub(this.#config, this.keys, {
      name: `${this.#name}-fanout`,
      logger: this.#logger,
      timeoutMs: this.#watchdogMs,
      healthCheckMs: Math.max(this.#watchdogMs, 5_000),
    });
    return this.#fanout.subscribe(exchange, bindingKey, onMessage);
  }

  /** The fanout side, once something subscribed (for diagnostics and tests). */
  get fanout(): FanoutHub | undefined {
    return this.#fanout;
  }

  /**
   * Stops every consumer (deliveries fetched but not handed out go back to their lists),
   * then closes every connection. Later calls reject with {@link ConnectionClosedError}.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  /** {@link RedisBroker.close}, for `await using broker = createRedisBroker(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#stopRestoreTimer();
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.close()));
    await this.#restoring?.catch(() => undefined);
    await Promise.allSettled([this.#watcher?.close(), this.#fanout?.close(), quit(this.#redis)]);
  }
}

/**
 * Creates a {@link RedisBroker}.
 *
 * @param url - a Celery-style Redis URL
 * @param options - transport options (kombu's names), logger, deadlines
 * @returns the broker (connections are made on first use)
 * @throws {@link CeleriacError} `INVALID_CONFIG` for a bad URL or option
 */
export function createRedisBroker(url: string, options: RedisBrokerOptions = {}): RedisBroker {
  return new RedisBroker(url, options);
}

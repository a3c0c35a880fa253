/**
 * Fanout exchanges over Redis pub/sub, as kombu does them: one shared subscriber connection
 * per broker, one `pmessageBuffer` listener and a `Map<pattern, handlers>`, never a listener
 * per subscription. The owner (this class) resubscribes every pattern once after a
 * reconnect, in batches; ioredis' own `autoResubscribe` is off for this role.
 *
 * Messages published while the connection was down are lost: fanout is fire-and-forget in
 * Celery too (remote control, events).
 *
 * A pattern the server refuses after a reconnect (an error reply such as NOPERM, after an
 * ACL change) is dropped and logged, and whoever waits for it is rejected; the other
 * patterns are subscribed one by one.
 *
 * @see celery-wire.md §2.7
 * @module
 */
import { silentLogger, type FanoutMessage, type Logger, type Subscription } from '@celeriac/protocol';
import {
  createRedisClient,
  toRedisError,
  type ConnectionState,
  type RedisConnectionConfig,
  type RedisErrorContext,
} from '@celeriac/redis-connection';
import { ReplyError, type Redis } from 'ioredis';
import { guard, quit } from './deadline.ts';
import type { KombuKeys } from './kombu-keys.ts';

/** How many patterns one PSUBSCRIBE names when resubscribing. */
const RESUBSCRIBE_BATCH = 1000;

type Handler = (message: FanoutMessage) => void;

interface PatternEntry {
  readonly handlers: Set<Handler>;
  /** Settles when the server confirmed the PSUBSCRIBE. */
  subscribed: Promise<void>;
}

/** Options of {@link FanoutHub}. */
export interface FanoutHubOptions {
  /** Connection name (`CLIENT SETNAME celeriac:<name>`). */
  readonly name: string;
  /** Where connection trouble is logged. */
  readonly logger?: Logger;
  /** Deadline of a health-check PING. */
  readonly timeoutMs: number;
  /** How often to PING the connection to notice a half-open one. */
  readonly healthCheckMs: number;
}

/**
 * The broker's pub/sub side.
 */
export class FanoutHub {
  readonly #redis: Redis;
  readonly #state: ConnectionState;
  readonly #keys: KombuKeys;
  readonly #logger: Logger;
  readonly #patterns = new Map<string, PatternEntry>();
  #everReady = false;
  /** While reconnecting: settles after the resubscription with the patterns the server refused. */
  #resubscribed: Promise<ReadonlyMap<string, Error>> | undefined;
  #signalResubscribed: ((refused: ReadonlyMap<string, Error>) => void) | undefined;
  readonly #errorContext: RedisErrorContext;
  #closed = false;
  #probing = false;
  readonly #healthTimer: NodeJS.Timeout;
  readonly #name: string;

  /**
   * @param config - the broker's connection config
   * @param keys - the key layout (fanout prefix, database)
   * @param options - name and logger
   */
  constructor(config: RedisConnectionConfig, keys: KombuKeys, options: FanoutHubOptions) {
    this.#keys = keys;
    this.#logger = options.logger ?? silentLogger;
    this.#errorContext = { url: config.redactedUrl, timeoutMs: options.timeoutMs };
    const { redis, state } = createRedisClient(config, { role: 'subscriber', name: options.name, logger: this.#logger });
    this.#redis = redis;
    this.#state = state;
    redis.on('pmessageBuffer', (pattern: string, channel: Buffer, message: Buffer) => this.#dispatch(pattern, channel, message));
    state.on('status', (status) => {
      if (status === 'ready') this.#everReady = true;
      else if (this.#everReady && this.#resubscribed === undefined) {
        this.#resubscribed = new Promise((resolve) => (this.#signalResubscribed = resolve));
      }
    });
    state.on('reconnected', () => {
      void this.#resubscribe();
    });
    this.#name = options.name;
    this.#healthTimer = setInterval(() => this.probe(options.timeoutMs), options.healthCheckMs);
    this.#healthTimer.unref();
  }

  /**
   * PINGs the connection; when no answer comes within `timeoutMs` (a half-open connection),
   * drops it, so a new one is made and every pattern resubscribed.
   *
   * @param timeoutMs - the deadline
   */
  probe(timeoutMs: number): void {
    if (this.#closed || this.#probing || !this.#state.isReady) return;
    this.#probing = true;
    guard(this.#redis.ping(), {
      state: this.#state,
      timeoutMs,
      what: `${this.#name}: health check`,
      onTimeout: () => {
        this.#logger.warn('fanout connection unhealthy; reconnecting', { connection: this.#name });
        this.#redis.disconnect(true);
      },
    })
      .catch(() => undefined)
      .finally(() => {
        this.#probing = false;
      });
  }

  /** The subscriber connection's state. */
  get connectionState(): ConnectionState {
    return this.#state;
  }

  /** How many patterns are subscribed. */
  get patternCount(): number {
    return this.#patterns.size;
  }

  /**
   * How many `pmessageBuffer` listeners the connection has (one, whatever the number of
   * subscriptions).
   */
  get listenerCount(): number {
    return this.#redis.listenerCount('pmessageBuffer');
  }

  /**
   * `PSUBSCRIBE` the exchange's pattern (once per pattern, shared by every handler).
   *
   * @param exchange - the fanout exchange
   * @param bindingKey - `#`/`*` pattern; `''` for all
   * @param onMessage - the handler; its exceptions are logged, never propagated
   * @returns the subscription, resolved once the server confirmed it
   */
  async subscribe(exchange: string, bindingKey: string, onMessage: Handler): Promise<Subscription> {
    const pattern = this.#keys.fanoutPattern(exchange, bindingKey);
    let entry = this.#patterns.get(pattern);
    const handler: Handler = (message) => onMessage(message);
    if (entry === undefined) {
      const created: PatternEntry = { handlers: new Set([handler]), subscribed: Promise.resolve() };
      this.#patterns.set(pattern, created);
      created.subscribed = this.#psubscribe(pattern);
      entry = created;
    } else {
      entry.handlers.add(handler);
    }
    try {
      await entry.subscribed;
    } catch (error) {
      await this.#remove(pattern, handler);
      throw error;
    }
    let active = true;
    return {
      unsubscribe: async () => {
        if (!active) return;
        active = false;
        await this.#remove(pattern, handler);
      },
    };
  }

  async #psubscribe(pattern: string): Promise<void> {
    if (!this.#everReady || this.#state.isReady) {
      // Before the first connection the command waits in the offline queue.
      try {
        await this.#redis.psubscribe(pattern);
      } catch (error) {
        throw toRedisError(error, `subscribe to fanout pattern ${JSON.stringify(pattern)}`, this.#errorContext);
      }
      return;
    }
    // Reconnecting: the owner's resubscription after the reconnect includes it.
    const refused = await this.#resubscribed;
    const error = refused?.get(pattern);
    if (error !== undefined) throw error;
  }

  async #remove(pattern: string, handler: Handler): Promise<void> {
    const entry = this.#patterns.get(pattern);
    if (entry === undefined || !entry.handlers.delete(handler) || entry.handlers.size > 0) return;
    this.#patterns.delete(pattern);
    if (this.#closed || !this.#state.isReady) return;
    try {
      await this.#redis.punsubscribe(pattern);
    } catch (error) {
      this.#logger.warn('PUNSUBSCRIBE failed', { pattern, error: error instanceof Error ? error.message : String(error) });
    }
  }

  async #resubscribe(): Promise<void> {
    const patterns = [...this.#patterns.keys()];
    const refused = new Map<string, Error>();
    try {
      for (let i = 0; i < patterns.length; i += RESUBSCRIBE_BATCH) {
        const batch = patterns.slice(i, i + RESUBSCRIBE_BATCH);
        try {
          await this.#redis.psubscribe(...batch);
        } catch (error) {
          if (!(error instanceof ReplyError)) throw error;
          // The server refused the batch (an ACL denying some pattern refuses the whole
          // command): find out which, one by one, and keep the others.
          for (const pattern of batch) {
            try {
              await this.#redis.psubscribe(pattern);
            } catch (single) {
              if (!(single instanceof ReplyError)) throw single;
              refused.set(pattern, toRedisError(single, `resubscribe to fanout pattern ${JSON.stringify(pattern)}`, this.#errorContext));
            }
          }
        }
      }
    } catch (error) {
      // The connection dropped again; the next 'reconnected' retries.
      this.#logger.warn('fanout resubscribe failed', { error: error instanceof Error ? error.message : String(error) });
      return;
    }
    for (const [pattern, error] of refused) {
      // Its handlers get nothing from now on; a waiting subscribe() rejects and removes its own.
      this.#patterns.delete(pattern);
      this.#logger.error('fanout pattern refused by Redis after a reconnect; dropped', { pattern, error: error.message });
    }
    const resubscribed = patterns.length - refused.size;
    if (resubscribed > 0) this.#logger.info('fanout patterns resubscribed', { patterns: resubscribed });
    const signal = this.#signalResubscribed;
    this.#resubscribed = undefined;
    this.#signalResubscribed = undefined;
    signal?.(refused);
  }

  #dispatch(pattern: string, channel: Buffer, message: Buffer): void {
    const entry = this.#patterns.get(pattern);
    if (entry === undefined) return;
    const parsed = this.#keys.parseFanoutChannel(channel.toString('utf8'));
    if (parsed === undefined) return;
    const fanout: FanoutMessage = { exchange: parsed.exchange, routingKey: parsed.routingKey, raw: message };
    for (const handler of entry.handlers) {
      try {
        handler(fanout);
      } catch (error) {
        this.#logger.error('fanout handler threw', {
          exchange: parsed.exchange,
          routingKey: parsed.routingKey,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }

  /** Drops every subscription and closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#healthTimer);
    this.#patterns.clear();
    this.#signalResubscribed?.(new Map());
    await quit(this.#redis);
  }
}

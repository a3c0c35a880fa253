/**
 * kombu's ack emulation on the broker's command connection: ack, requeue, and the
 * visibility-timeout restore, compatible with Python Celery 5.2 workers on the same keys
 * (`unacked`, `unacked_index`, `unacked_mutex`; see kombu-keys.ts for the layout).
 *
 * Every move of a record back to a queue is one atomic script that also checks the record's
 * `unacked_index` score is still the one the caller saw, so a message fetched again by
 * another consumer meanwhile is never pushed twice nor stripped of its new record.
 *
 * @see celery-wire.md §2.5, §2.6
 * @module
 */
import { randomUUID } from 'node:crypto';
import { silentLogger, type Logger } from '@celeriac/protocol';
import type { Redis } from 'ioredis';
import { toBrokerError, type ErrorContext } from './broker-errors.ts';
import type { KombuKeys } from './kombu-keys.ts';
import { decodeUnackedRecord } from './redelivered.ts';
import type { BrokerScripts } from './scripts.ts';

/** How many records one restore works on at once. */
const RESTORE_CONCURRENCY = 64;

/** What one record move needs. */
export interface RecordMove {
  /** The hash field (delivery tag) of the record. */
  readonly tag: string;
  /** The `unacked_index` score the caller saw (the delivery's own, or from the index). */
  readonly score: string;
  /** The element to push. */
  readonly payload: Buffer;
  /** Destination list keys. */
  readonly destinations: readonly string[];
  /** `left`: LPUSH (back of the queue, a requeue); `right`: RPUSH (front, a restore). */
  readonly end: 'left' | 'right';
}

/** Options of {@link UnackedStore}. */
export interface UnackedStoreOptions {
  /** The broker's command connection. */
  readonly redis: Redis;
  /** The scripts registered on it. */
  readonly scripts: BrokerScripts;
  /** The key layout. */
  readonly keys: KombuKeys;
  /** Where restores are logged. */
  readonly logger?: Logger;
  /** For error messages and the timeout reaction. */
  readonly errorContext: ErrorContext;
}

/**
 * The unacked records of one broker (on its command connection).
 */
export class UnackedStore {
  readonly #redis: Redis;
  readonly #scripts: BrokerScripts;
  readonly #keys: KombuKeys;
  readonly #logger: Logger;
  readonly #errorContext: ErrorContext;

  /**
   * @param options - the command connection, its scripts, the key layout
   */
  constructor(options: UnackedStoreOptions) {
    this.#redis = options.redis;
    this.#scripts = options.scripts;
    this.#keys = options.keys;
    this.#logger = options.logger ?? silentLogger;
    this.#errorContext = options.errorContext;
  }

  /**
   * kombu's ack (`ZREM unacked_index tag; HDEL unacked tag`), fenced by the record's score:
   * a late ack for a message that was restored and delivered again is a logged no-op.
   *
   * @param tag - the record's hash field
   * @param score - the `unacked_index` score the delivery was recorded with
   * @returns whether this delivery's record was removed (false: already gone, or a newer delivery owns it)
   * @throws {@link TimeoutError} or {@link ConnectionClosedError} when Redis does not confirm
   */
  async ack(tag: string, score: string | number): Promise<boolean> {
    let outcome: number;
    try {
      outcome = Number(await this.#scripts.ack(this.#keys.unackedIndex, this.#keys.unacked, tag, score));
    } catch (error) {
      throw toBrokerError(error, `ack of delivery ${tag}`, this.#errorContext);
    }
    if (outcome === -1) {
      this.#logger.warn('late ack ignored: the message was restored and delivered again meanwhile', { tag });
    }
    return outcome === 1;
  }

  /**
   * Moves one record back to its queue(s) if it is still the one seen (score check).
   *
   * @param move - which record, what to push, where
   * @returns 1 moved; 0 gone or owned by a newer delivery; -1 an orphan index entry was dropped
   */
  async move(move: RecordMove): Promise<number> {
    const keys = [this.#keys.unackedIndex, this.#keys.unacked, ...move.destinations];
    try {
      return Number(await this.#scripts.restore(keys, [move.tag, move.score, move.payload, move.end]));
    } catch (error) {
      throw toBrokerError(error, `restore of delivery ${move.tag}`, this.#errorContext);
    }
  }

  /**
   * Pushes an element back to the front of a list (a no-ack delivery that was fetched but
   * never handed out: it has no record).
   *
   * @param listKey - the list it came from
   * @param raw - the element
   */
  async pushBack(listKey: string, raw: Buffer): Promise<void> {
    try {
      await this.#redis.rpush(listKey, raw);
    } catch (error) {
      throw toBrokerError(error, `push-back to ${JSON.stringify(listKey)}`, this.#errorContext);
    }
  }

  /**
   * Puts back records by tag, whoever delivered them: reads each record, marks it
   * redelivered and RPUSHes it to the bucket-0 key of its queue (kombu's `restore_by_tag`).
   *
   * @param tags - hash fields of `unacked`
   * @returns how many were put back
   */
  async restoreTags(tags: Iterable<string>): Promise<number> {
    const all = [...tags];
    let restored = 0;
    for (let i = 0; i < all.length; i += RESTORE_CONCURRENCY) {
      const batch = all.slice(i, i + RESTORE_CONCURRENCY);
      const scores = await Promise.all(batch.map((tag) => this.#redis.zscore(this.#keys.unackedIndex, tag)));
      const moved = await Promise.all(
        batch.map((tag, j) => {
          const score = scores[j];
          return score === null || score === undefined ? Promise.resolve(0) : this.#restoreTag(tag, score);
        }),
      );
      restored += moved.filter((n) => n === 1).length;
    }
    return restored;
  }

  /**
   * kombu's `restore_visible`: under the `unacked_mutex` lock (redis-py `Lock` semantics:
   * `SET mutex token PX expire NX`, released by compare-and-delete), every record older than
   * the visibility timeout goes back to the front of its queue, marked redelivered.
   *
   * @param now - the clock, unix milliseconds
   * @returns how many were put back; 0 also when another process holds the lock
   */
  async restoreVisible(now: number = Date.now()): Promise<number> {
    const token = randomUUID().replaceAll('-', '');
    const mutex = this.#keys.unackedMutex;
    let locked: string | null;
    try {
      locked = await this.#redis.set(mutex, token, 'PX', Math.round(this.#keys.mutexExpire * 1000), 'NX');
    } catch (error) {
      throw toBrokerError(error, 'restore of unacked messages (lock)', this.#errorContext);
    }
    if (locked !== 'OK') return 0;
    try {
      const ceiling = now / 1000 - this.#keys.visibilityTimeout;
      const flat = await this.#redis.zrevrangebyscore(this.#keys.unackedIndex, ceiling, 0, 'WITHSCORES');
      const entries: [string, string][] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) entries.push([flat[i] ?? '', flat[i + 1] ?? '']);
      let restored = 0;
      for (let i = 0; i < entries.length; i += RESTORE_CONCURRENCY) {
        const moved = await Promise.all(
          entries.slice(i, i + RESTORE_CONCURRENCY).map(([tag, score]) => this.#restoreTag(tag, score)),
        );
        restored += moved.filter((n) => n === 1).length;
      }
      if (restored > 0) {
        this.#logger.info('restored unacked messages past the visibility timeout', {
          restored,
          visibilityTimeout: this.#keys.visibilityTimeout,
        });
      }
      return restored;
    } catch (error) {
      throw toBrokerError(error, 'restore of unacked messages', this.#errorContext);
    } finally {
      await this.#scripts.unlock(mutex, token).catch((error: unknown) => {
        // It expires on its own (unacked_mutex_expire).
        this.#logger.warn('could not release the restore lock', {
          key: mutex,
          error: error instanceof Error ? error.message : String(error),
        });
      });
    }
  }

  async #restoreTag(tag: string, score: string): Promise<number> {
    const record = await this.#redis.hgetBuffer(this.#keys.unacked, tag);
    if (record === null) {
      // An index entry without a record: the script drops it if nobody re-recorded the tag.
      return this.move({ tag, score, payload: Buffer.alloc(0), destinations: [], end: 'right' });
    }
    const decoded = decodeUnackedRecord(record);
    if (decoded === undefined) {
      this.#logger.error('cannot restore an unacked record that is not [envelope, exchange, routing_key]; left in place', {
        tag,
        record: record.subarray(0, 200).toString('utf8'),
      });
      return 0;
    }
    const queues = await this.#lookup(decoded.exchange, decoded.routingKey);
    return this.move({
      tag,
      score,
      payload: decoded.payload,
      destinations: queues.map((queue) => this.#keys.queueKey(queue)),
      end: 'right',
    });
  }

  /**
   * kombu's `_lookup` for a restore: the default exchange routes to the queue named by the
   * routing key; a named exchange to the queues of its direct bindings
   * (`_kombu.binding.<exchange>` members whose routing key matches). Where kombu would drop
   * the message (no binding matches), it goes to the queue named by the routing key.
   */
  async #lookup(exchange: string, routingKey: string): Promise<string[]> {
    if (exchange === '') return [routingKey];
    const members = await this.#redis.smembers(this.#keys.bindingKey(exchange));
    const queues = new Set<string>();
    for (const member of members) {
      const binding = this.#keys.parseBinding(member);
      if (binding !== undefined && binding.routingKey === routingKey && binding.queue !== '') queues.add(binding.queue);
    }
    return queues.size === 0 ? [routingKey] : [...queues];
  }
}

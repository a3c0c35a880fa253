/**
 * kombu's ack emulation on the broker's command connection: ack, requeue, and the
 * visibility-timeout restore, compatible with Python Celery 5.2 workers on the same keys
 * (`unacked`, `unacked_index`, `unacked_mutex`; see kombu-keys.ts for the layout).
 *
 * Every move of a record back to a queue is one atomic script that also checks the record's
 * `unacked_index` score is still the one the caller saw, so a message fetched again by
 * another consumer meanwhile is never pushed twice nor stripped of its new record.
 *
 * Records of malformed elements live in Celeriac's own pair of keys
 * (`celeriac.unacked.invalid`, `celeriac.unacked.invalid_index`), which kombu never reads:
 * every restore here looks at both pairs.
 *
 * @see celery-wire.md §2.5, §2.6
 * @module
 */
import { randomUUID } from 'node:crypto';
import { ConnectionClosedError, silentLogger, TimeoutError, type Logger } from '@celeriac/protocol';
import { toRedisError, type RedisErrorContext } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import type { KombuKeys } from './kombu-keys.ts';
import { decodeUnackedRecord } from './redelivered.ts';
import type { BrokerScripts } from './scripts.ts';

/** How many records one restore works on at once. */
const RESTORE_CONCURRENCY = 64;

/**
 * Where a record lives: `kombu` in `unacked`/`unacked_index` (shared with Python peers),
 * `invalid` in Celeriac's `celeriac.unacked.invalid`/`celeriac.unacked.invalid_index` (the
 * records of malformed elements, which kombu's restore would lose).
 */
export type RecordSet = 'kombu' | 'invalid';

/** One index entry: a record to restore. */
interface IndexEntry {
  readonly set: RecordSet;
  readonly tag: string;
  readonly score: string;
}

/** What one record move needs. */
export interface RecordMove {
  /** Which pair of keys holds the record. */
  readonly set: RecordSet;
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
  readonly errorContext: RedisErrorContext;
}

/**
 * The unacked records of one broker (on its command connection).
 */
export class UnackedStore {
  readonly #redis: Redis;
  readonly #scripts: BrokerScripts;
  readonly #keys: KombuKeys;
  readonly #logger: Logger;
  readonly #errorContext: RedisErrorContext;

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
   * @param set - which pair of keys
   * @returns its index (zset) and hash
   */
  #pair(set: RecordSet): { index: string; hash: string } {
    return set === 'kombu'
      ? { index: this.#keys.unackedIndex, hash: this.#keys.unacked }
      : { index: this.#keys.invalidUnackedIndex, hash: this.#keys.invalidUnacked };
  }

  /**
   * kombu's ack (`ZREM unacked_index tag; HDEL unacked tag`), fenced by the record's score:
   * a late ack for a message that was restored and delivered again is a logged no-op.
   *
   * @param tag - the record's hash field
   * @param score - the `unacked_index` score the delivery was recorded with
   * @param set - where the record lives (`invalid` for a malformed element)
   * @returns whether this delivery's record was removed (false: already gone, or a newer delivery owns it)
   * @throws {@link TimeoutError} or {@link ConnectionClosedError} when Redis does not confirm
   */
  async ack(tag: string, score: string | number, set: RecordSet = 'kombu'): Promise<boolean> {
    const { index, hash } = this.#pair(set);
    let outcome: number;
    try {
      outcome = Number(await this.#scripts.ack(index, hash, tag, score));
    } catch (error) {
      throw toRedisError(error, `ack of delivery ${tag}`, this.#errorContext);
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
    const { index, hash } = this.#pair(move.set);
    const keys = [index, hash, ...move.destinations];
    try {
      return Number(await this.#scripts.restore(keys, [move.tag, move.score, move.payload, move.end]));
    } catch (error) {
      throw toRedisError(error, `restore of delivery ${move.tag}`, this.#errorContext);
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
      throw toRedisError(error, `push-back to ${JSON.stringify(listKey)}`, this.#errorContext);
    }
  }

  /**
   * Puts back records by tag, whoever delivered them: reads each record, marks it
   * redelivered and RPUSHes it to the bucket-0 key of its queue (kombu's `restore_by_tag`).
   * A tag not in `unacked` is looked up among Celeriac's records of malformed elements.
   * A record that cannot be put back is logged and left in place.
   *
   * @param tags - hash fields of `unacked` (or `celeriac-invalid:<uuid>` fields)
   * @returns how many were put back
   * @throws {@link TimeoutError} or {@link ConnectionClosedError} when Redis does not answer
   */
  async restoreTags(tags: Iterable<string>): Promise<number> {
    const all = [...new Set(tags)];
    const entries: IndexEntry[] = [];
    const kombu = this.#pair('kombu');
    const invalid = this.#pair('invalid');
    try {
      for (let i = 0; i < all.length; i += RESTORE_CONCURRENCY) {
        const batch = all.slice(i, i + RESTORE_CONCURRENCY);
        const found = await Promise.all(
          batch.map(async (tag): Promise<IndexEntry | undefined> => {
            const score = await this.#redis.zscore(kombu.index, tag);
            if (score !== null) return { set: 'kombu', tag, score };
            const other = await this.#redis.zscore(invalid.index, tag);
            return other === null ? undefined : { set: 'invalid', tag, score: other };
          }),
        );
        for (const entry of found) if (entry !== undefined) entries.push(entry);
      }
    } catch (error) {
      throw toRedisError(error, 'restore of unacked messages by tag', this.#errorContext);
    }
    return this.#restoreEntries(entries);
  }

  /**
   * Puts back whatever is recorded with exactly this score: the records a fetch wrote whose
   * reply never came (the consumer gave up on it, or its connection was lost), so nobody
   * holds them. Scores are unique per process, so only that fetch's record matches.
   *
   * @param score - the score the fetch sent
   * @returns how many were put back
   * @throws {@link TimeoutError} or {@link ConnectionClosedError} when Redis does not answer
   */
  async restoreScore(score: string): Promise<number> {
    const sets: RecordSet[] = ['kombu', 'invalid'];
    let entries: IndexEntry[];
    try {
      const found = await Promise.all(sets.map((set) => this.#redis.zrangebyscore(this.#pair(set).index, score, score)));
      entries = sets.flatMap((set, i) => (found[i] ?? []).map((tag) => ({ set, tag, score })));
    } catch (error) {
      throw toRedisError(error, 'restore of an unanswered fetch', this.#errorContext);
    }
    return this.#restoreEntries(entries);
  }

  /**
   * kombu's `restore_visible`: under the `unacked_mutex` lock (redis-py `Lock` semantics:
   * `SET mutex token PX expire NX`, released by compare-and-delete), every record older than
   * the visibility timeout goes back to the front of its queue, marked redelivered. Celeriac's
   * records of malformed elements too. A record that cannot be put back (its queue key holds
   * something else than a list, …) is logged and left in place; the others still are.
   *
   * @param now - the clock, unix milliseconds
   * @returns how many were put back; 0 also when another process holds the lock
   * @throws {@link TimeoutError} or {@link ConnectionClosedError} when Redis does not answer
   */
  async restoreVisible(now: number = Date.now()): Promise<number> {
    const token = randomUUID().replaceAll('-', '');
    const mutex = this.#keys.unackedMutex;
    let locked: string | null;
    try {
      locked = await this.#redis.set(mutex, token, 'PX', Math.round(this.#keys.mutexExpire * 1000), 'NX');
    } catch (error) {
      throw toRedisError(error, 'restore of unacked messages (lock)', this.#errorContext);
    }
    if (locked !== 'OK') return 0;
    try {
      const ceiling = now / 1000 - this.#keys.visibilityTimeout;
      const sets: RecordSet[] = ['kombu', 'invalid'];
      const flats = await Promise.all(
        sets.map((set) => this.#redis.zrevrangebyscore(this.#pair(set).index, ceiling, 0, 'WITHSCORES')),
      );
      const entries: IndexEntry[] = [];
      sets.forEach((set, s) => {
        const flat = flats[s] ?? [];
        for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ set, tag: flat[i] ?? '', score: flat[i + 1] ?? '' });
      });
      const restored = await this.#restoreEntries(entries);
      if (restored > 0) {
        this.#logger.info('restored unacked messages past the visibility timeout', {
          restored,
          visibilityTimeout: this.#keys.visibilityTimeout,
        });
      }
      return restored;
    } catch (error) {
      throw toRedisError(error, 'restore of unacked messages', this.#errorContext);
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

  /**
   * Restores entries, {@link RESTORE_CONCURRENCY} at a time. A record that fails (a Redis
   * error reply: WRONGTYPE, OOM, …) is logged and skipped, so one bad record never holds up
   * the others; losing Redis (timeout, closed connection) ends the round.
   *
   * @returns how many were put back
   */
  async #restoreEntries(entries: readonly IndexEntry[]): Promise<number> {
    let restored = 0;
    for (let i = 0; i < entries.length; i += RESTORE_CONCURRENCY) {
      const batch = entries.slice(i, i + RESTORE_CONCURRENCY);
      const outcomes = await Promise.allSettled(batch.map((entry) => this.#restoreTag(entry)));
      let lost: Error | undefined;
      outcomes.forEach((outcome, j) => {
        if (outcome.status === 'fulfilled') {
          if (outcome.value === 1) restored += 1;
          return;
        }
        const entry = batch[j];
        const error = toRedisError(outcome.reason, `restore of delivery ${entry?.tag ?? '?'}`, this.#errorContext);
        if (error instanceof TimeoutError || error instanceof ConnectionClosedError) {
          lost ??= error;
          return;
        }
        this.#logger.error('cannot restore an unacked record; left in place', {
          tag: entry?.tag,
          key: entry === undefined ? undefined : this.#pair(entry.set).hash,
          error: error.message,
        });
      });
      if (lost !== undefined) throw lost;
    }
    return restored;
  }

  async #restoreTag(entry: IndexEntry): Promise<number> {
    const { set, tag, score } = entry;
    const record = await this.#redis.hgetBuffer(this.#pair(set).hash, tag);
    if (record === null) {
      // An index entry without a record: the script drops it if nobody re-recorded the tag.
      return this.move({ set, tag, score, payload: Buffer.alloc(0), destinations: [], end: 'right' });
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
      set,
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

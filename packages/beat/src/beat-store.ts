/**
 * Where beats meet in Redis: the leader lock and each entry's last tick.
 *
 * Key layout, every key under one prefix (the beat's `keyPrefix`, default
 * `celeriac-beat:<name>:`, where `<name>` is the beat's `name`: the app's `main`, else
 * `default`):
 *
 * - `<prefix>lock` (string): the token of the leading beat process
 *   (`<hostname>:<pid>:<uuid>`), with a time to live of `lockTtlMs`. Taken with
 *   `SET <lock> <token> NX PX <ttl>`; renewed by its holder only (`celeriacBeatRenew`: GET
 *   equals the token, then PEXPIRE); deleted by its holder only on a clean shutdown
 *   (`celeriacBeatRelease`: GET equals the token, then DEL). A standby takes it after it
 *   expires.
 * - `<prefix>state` (hash): entry name → the entry's last tick, the *scheduled* time of the
 *   last tick claimed for it (ms since the epoch, a decimal integer). Created with HSETNX at
 *   the time a leader first sees the entry (so an interval entry first fires one interval
 *   later, as Celery's first `last_run_at`); afterwards moved forward only by
 *   `celeriacBeatClaim`, which checks that the caller still holds the lock and that the field
 *   still has the value the caller read, then sets the claimed tick. Fields of entries that
 *   left the schedule stay (an entry that comes back goes on from its old last tick).
 *
 * No key expires but the lock; both are tiny.
 *
 * @module
 */
import type { RedisClientHandle } from '@celeriac/redis-connection';
import { defineBeatScripts, type BeatScripts } from './scripts.ts';

type Redis = RedisClientHandle['redis'];

/** What a claim found. */
export type ClaimResult =
  /** The tick is ours: the field moved to it. */
  | { readonly status: 'claimed' }
  /** The field no longer had the value we read; `current` is what it has (`null`: gone). */
  | { readonly status: 'moved'; readonly current: string | null }
  /** We do not hold the lock (any more). */
  | { readonly status: 'not-leader' };

/** What an acquire attempt found. */
export type AcquireResult =
  | { readonly acquired: true }
  /** Another process holds the lock for `ttlMs` more (-1: it has no expiry, -2: it just went). */
  | { readonly acquired: false; readonly ttlMs: number };

/**
 * The beat's Redis operations on its keys (see the module comment for the layout).
 */
export class BeatStore {
  /** The lock key. */
  readonly lockKey: string;
  /** The state hash key. */
  readonly stateKey: string;
  readonly #redis: Redis;
  readonly #scripts: BeatScripts;

  /**
   * @param redis - a command connection
   * @param keyPrefix - the prefix of both keys
   */
  constructor(redis: Redis, keyPrefix: string) {
    this.#redis = redis;
    this.lockKey = `${keyPrefix}lock`;
    this.stateKey = `${keyPrefix}state`;
    this.#scripts = defineBeatScripts(redis);
  }

  /**
   * Takes the lock if nobody holds it (`SET NX PX`).
   *
   * @param token - this process's token
   * @param ttlMs - the lock's time to live
   * @returns acquired, or how long the current holder's lock still lives
   */
  async acquire(token: string, ttlMs: number): Promise<AcquireResult> {
    const reply = await this.#redis.set(this.lockKey, token, 'PX', ttlMs, 'NX');
    if (reply === 'OK') return { acquired: true };
    return { acquired: false, ttlMs: await this.#redis.pttl(this.lockKey) };
  }

  /**
   * Resets the lock's time to live if this token holds it.
   *
   * @param token - this process's token
   * @param ttlMs - the new time to live
   * @returns whether the token holds the lock
   */
  async renew(token: string, ttlMs: number): Promise<boolean> {
    return (await this.#scripts.renew(this.lockKey, token, ttlMs)) === 1;
  }

  /**
   * Deletes the lock if this token holds it.
   *
   * @param token - this process's token
   * @returns whether it was held (and is now released)
   */
  async release(token: string): Promise<boolean> {
    return (await this.#scripts.release(this.lockKey, token)) === 1;
  }

  /**
   * Reads the last ticks of entries, creating (HSETNX `initial`) the ones that have none.
   *
   * @param names - entry names
   * @param initial - the value of a new entry's field (now, ms since the epoch)
   * @returns each entry's stored value, in the order of `names`
   */
  async lastTicks(names: readonly string[], initial: number): Promise<string[]> {
    if (names.length === 0) return [];
    const values = await this.#redis.hmget(this.stateKey, ...names);
    const out: string[] = [];
    for (const [i, name] of names.entries()) {
      let value = values[i] ?? null;
      if (value === null) {
        await this.#redis.hsetnx(this.stateKey, name, String(initial));
        value = (await this.#redis.hget(this.stateKey, name)) ?? String(initial);
      }
      out.push(value);
    }
    return out;
  }

  /**
   * Claims a tick: moves an entry's last tick from `expected` to `tick`, if this token holds
   * the lock and the field is still `expected`.
   *
   * @param token - this process's token
   * @param name - the entry
   * @param expected - the field's value as read
   * @param tick - the tick to claim (ms since the epoch)
   * @returns claimed, moved (with the current value), or not-leader
   */
  async claim(token: string, name: string, expected: string, tick: number): Promise<ClaimResult> {
    const [status, current] = await this.#scripts.claim(this.lockKey, this.stateKey, token, name, expected, String(tick));
    if (status === 1) return { status: 'claimed' };
    if (status === -1) return { status: 'not-leader' };
    return { status: 'moved', current };
  }
}

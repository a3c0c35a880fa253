/**
 * The beat's Lua scripts, each with its Input/Output contract, and their registration on an
 * ioredis client (`defineCommand`: EVALSHA, falling back to EVAL only on NOSCRIPT, so a
 * script never runs twice). The keys they touch are described in beat-store.ts.
 *
 * @module
 */
import type { RedisClientHandle } from '@celeriac/redis-connection';

type Redis = RedisClientHandle['redis'];

/**
 * `celeriacBeatRenew` (1 key): compare-and-renew the leader lock.
 *
 * Input: KEYS[1] the lock; ARGV[1] the holder's token; ARGV[2] the new time to live, ms.
 *
 * Output: 1 when the lock held the token and its expiry was reset to ARGV[2] ms; 0 when it
 * is gone or another token holds it (nothing changed).
 */
export const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/**
 * `celeriacBeatRelease` (1 key): compare-and-delete the leader lock.
 *
 * Input: KEYS[1] the lock; ARGV[1] the holder's token.
 *
 * Output: 1 when the lock held the token and was deleted; 0 otherwise (nothing changed).
 */
export const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

/**
 * `celeriacBeatClaim` (2 keys): claim one tick of one entry, fenced by the lock.
 *
 * Input: KEYS[1] the lock, KEYS[2] the state hash; ARGV[1] the caller's lock token, ARGV[2]
 * the entry name (hash field), ARGV[3] the last tick the caller read (the field's exact
 * value), ARGV[4] the tick to claim (the field's new value).
 *
 * Output:
 * - `{1}`: claimed: the lock held ARGV[1] and the field was ARGV[3]; the field is now ARGV[4];
 * - `{0, current}`: the field is no longer ARGV[3] (another process claimed, or it was
 *   reset); `current` is its value, or `false` (nil) when it is gone; nothing changed;
 * - `{-1}`: the lock does not hold ARGV[1] (expired, or taken over); nothing changed.
 *
 * The lock check makes a beat that lost the lock (a long GC pause, a stalled connection)
 * unable to claim; the compare-and-set makes every tick claimable once even if two
 * processes believed they led at the same time.
 */
export const CLAIM_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {-1}
end
local current = redis.call('HGET', KEYS[2], ARGV[2])
if current ~= ARGV[3] then
  return {0, current}
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
return {1}
`;

/** Typed callers of the scripts. */
export interface BeatScripts {
  /** {@link RENEW_SCRIPT}: 1 renewed, 0 not held. */
  renew(lock: string, token: string, ttlMs: number): Promise<number>;
  /** {@link RELEASE_SCRIPT}: 1 released, 0 not held. */
  release(lock: string, token: string): Promise<number>;
  /** {@link CLAIM_SCRIPT}. */
  claim(lock: string, state: string, token: string, field: string, expected: string, next: string): Promise<[number, string | null]>;
}

type ScriptCommand = (...args: (string | number)[]) => Promise<unknown>;

function command(redis: Redis, name: string): ScriptCommand {
  const fn = (redis as unknown as Record<string, ScriptCommand | undefined>)[name];
  if (typeof fn !== 'function') throw new Error(`ioredis did not define the script command ${name}`);
  return fn.bind(redis);
}

/**
 * Registers the scripts on a client (idempotent per client).
 *
 * @param redis - the client that will run them
 * @returns typed callers
 */
export function defineBeatScripts(redis: Redis): BeatScripts {
  if (!('celeriacBeatClaim' in redis)) {
    redis.defineCommand('celeriacBeatRenew', { lua: RENEW_SCRIPT, numberOfKeys: 1 });
    redis.defineCommand('celeriacBeatRelease', { lua: RELEASE_SCRIPT, numberOfKeys: 1 });
    redis.defineCommand('celeriacBeatClaim', { lua: CLAIM_SCRIPT, numberOfKeys: 2 });
  }
  const renew = command(redis, 'celeriacBeatRenew');
  const release = command(redis, 'celeriacBeatRelease');
  const claim = command(redis, 'celeriacBeatClaim');
  return {
    renew: async (lock, token, ttlMs) => Number(await renew(lock, token, ttlMs)),
    release: async (lock, token) => Number(await release(lock, token)),
    claim: async (lock, state, token, field, expected, next) => {
      const reply = (await claim(lock, state, token, field, expected, next)) as unknown[];
      const current = reply[1];
      return [Number(reply[0]), typeof current === 'string' ? current : null];
    },
  };
}

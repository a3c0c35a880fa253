/**
 * The broker's Lua scripts, each with its Input/Output contract, and their registration on
 * an ioredis client (`defineCommand`: EVALSHA, falling back to EVAL after a script flush or a
 * server restart; the fallback only happens on NOSCRIPT, so a script never runs twice).
 *
 * Envelopes are never re-encoded in Lua: cjson turns integers beyond 2^53 into doubles. The
 * scripts only *read* fields with `pcall(cjson.decode, …)` and build JSON around the raw
 * element by string concatenation. Any rewrite of an envelope (the `redelivered` flags)
 * happens in TypeScript with the lossless serializer of `@celeriac/protocol`.
 *
 * @module
 */
import type { Redis } from 'ioredis';

/**
 * `celeriacFetch` (variable number of keys): pop one message and record it as unacked in the
 * same atomic step, so no crash or lost reply can lose it (kombu BRPOPs first and writes the
 * record afterwards). When every list is empty, the script reads each list with LLEN, which
 * arms Redis client-side tracking for exactly those keys in the same atomic step: any later
 * push by another client sends an invalidation to the consumer's tracking connection.
 *
 * Input:
 * - KEYS[1] unacked_index (zset), KEYS[2] unacked (hash), KEYS[3] celeriac.unacked.invalid_index
 *   (zset), KEYS[4] celeriac.unacked.invalid (hash), KEYS[5..n] the lists, in order
 * - ARGV[1] the score: now, unix seconds as a decimal string (kombu writes `time()`)
 * - ARGV[2] a fresh uuid: an element without a usable `properties.delivery_tag` (not JSON, not
 *   an object, no non-empty string tag) is recorded under `celeriac-invalid:<uuid>` in
 *   KEYS[3]/KEYS[4], which kombu never reads (its restore would delete the record and push
 *   nothing); an element whose tag is already recorded under `celeriac-duplicate:<uuid>` in
 *   KEYS[1]/KEYS[2] (two copies of one message in flight: each keeps its own record)
 * - ARGV[3] `'1'`: no-ack consumer, plain RPOP without a record
 * - ARGV[4..3+n] for each list (KEYS[5..]) its logical queue: the routing key recorded when
 *   the element has no `properties.delivery_info.routing_key`
 * - ARGV[4+n] (optional) how many elements to take at most, default 1: the lists are emptied
 *   in order (priority first) until that many are taken, so one round trip can fill the
 *   consumer's free prefetch slots instead of one message per round trip
 *
 * Output:
 * - hits: `{i, element, tag, redelivered, kind}` for each element taken, one after the
 *   other (5 entries each): `i` the 1-based index of the list among
 *   KEYS[5..], `element` the raw bytes, `tag` the hash field of the record (`''` when no-ack),
 *   `redelivered` 1 when `headers.redelivered` or `delivery_info.redelivered` is true,
 *   `kind` 1 when `tag` is the element's own delivery_tag, 2 a duplicate (`celeriac-duplicate:`,
 *   in unacked), 0 a malformed element (`celeriac-invalid:`, in Celeriac's keys); in those
 *   generated tags the uuid's last two hex digits are the element's number in the batch
 *   (`01`, `02`, …), so each is unique and still a uuid
 *
 * Across queues a batch takes what one-message fetches would: the first non-empty list in
 * key order (a queue's priority buckets are adjacent, highest first), then that queue's
 * lists move behind the others (kombu's round-robin `rotate`), and so on.
 * - nothing to pop: `{0, bad...}`, `bad` the indexes of lists holding a non-list value (skipped)
 * - a WRONGTYPE error, before anything is popped, when an index is not a zset or a record
 *   hash not a hash
 *
 * The record is `[<element>, <exchange>, <routing_key>]` as kombu writes it when the element
 * decodes to a JSON object or array; otherwise `[<element as a JSON string>, "", <queue>]`
 * with every byte outside printable ASCII escaped as `\u00XX` (bytes read as Latin-1, so
 * the exact bytes come back).
 */
export const FETCH_SCRIPT = `
local noack = ARGV[3] == '1'
local function escape(c)
  return string.format('\\\\u%04x', string.byte(c))
end
-- a JSON string of text that is already UTF-8 (from cjson): escape controls, quote, backslash
local function jsontext(s)
  return '"' .. string.gsub(s, '[%z\\1-\\31"\\\\\\127]', escape) .. '"'
end
-- a JSON string of arbitrary bytes, each byte outside printable ASCII as \\u00XX (Latin-1)
local function jsonbytes(s)
  return '"' .. string.gsub(s, '[%z\\1-\\31"\\\\\\127-\\255]', escape) .. '"'
end
-- Redis does not roll back a script that fails after a write: every check that could fail
-- comes before the RPOP, so a popped element is always recorded. The record is written
-- before the pop (the element is peeked with LINDEX): over maxmemory the ZADD/HSET are
-- refused while the element is still in its list, never after it left.
if not noack then
  for k = 1, 4 do
    local want = 'hash'
    if k % 2 == 1 then want = 'zset' end
    local t = redis.call('TYPE', KEYS[k])['ok']
    if t ~= want and t ~= 'none' then
      return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' must be a ' .. want)
    end
  end
end
local bad = {}
local max = tonumber(ARGV[#KEYS]) or 1
-- The lists grouped by logical queue (ARGV[i - 1]), in key order.
local groups = {}
local lastq = nil
for i = 5, #KEYS do
  if ARGV[i - 1] ~= lastq or #groups == 0 then
    groups[#groups + 1] = {}
    lastq = ARGV[i - 1]
  end
  local g = groups[#groups]
  g[#g + 1] = i
end
local broken = {}
-- The next element as a one-message fetch would take it; its queue then rotates to the end.
local function next_element()
  for gi = 1, #groups do
    local g = groups[gi]
    for _, i in ipairs(g) do
      if not broken[i] then
        local popped
        if noack then popped = redis.pcall('RPOP', KEYS[i]) else popped = redis.pcall('LINDEX', KEYS[i], -1) end
        if type(popped) == 'table' and popped.err then
          broken[i] = true
          bad[#bad + 1] = i - 4
        elseif popped then
          table.remove(groups, gi)
          groups[#groups + 1] = g
          return i, popped
        end
      end
    end
  end
  return nil, nil
end
local hits = {}
local taken = 0
while taken < max do
  local i, element = next_element()
  if not i then break end
  taken = taken + 1
  local uuid = string.sub(ARGV[2], 1, 34) .. string.format('%02x', taken % 256)
  if noack then
    hits[#hits + 1] = i - 4
    hits[#hits + 1] = element
    hits[#hits + 1] = ''
    hits[#hits + 1] = 0
    hits[#hits + 1] = 1
  else
    local ok, env = pcall(cjson.decode, element)
    local isdoc = ok and type(env) == 'table'
    local tag = nil
    local exchange = ''
    local rk = ARGV[i - 1]
    local redelivered = 0
    if isdoc then
      local props = env['properties']
      if type(props) == 'table' then
        local t = props['delivery_tag']
        if type(t) == 'string' and t ~= '' then tag = t end
        local info = props['delivery_info']
        if type(info) == 'table' then
          if type(info['exchange']) == 'string' then exchange = info['exchange'] end
          if type(info['routing_key']) == 'string' then rk = info['routing_key'] end
          if info['redelivered'] == true then redelivered = 1 end
        end
      end
      local headers = env['headers']
      if type(headers) == 'table' and headers['redelivered'] == true then redelivered = 1 end
    end
    local kind = 1
    local index = KEYS[1]
    local hash = KEYS[2]
    if tag == nil then
      tag = 'celeriac-invalid:' .. uuid
      kind = 0
      index = KEYS[3]
      hash = KEYS[4]
    elseif redis.call('HEXISTS', KEYS[2], tag) == 1 then
      tag = 'celeriac-duplicate:' .. uuid
      kind = 2
    end
    local head
    if isdoc then head = element else head = jsonbytes(element) end
    local record = '[' .. head .. ', ' .. jsontext(exchange) .. ', ' .. jsontext(rk) .. ']'
    redis.call('ZADD', index, ARGV[1], tag)
    redis.call('HSET', hash, tag, record)
    redis.call('RPOP', KEYS[i])
    hits[#hits + 1] = i - 4
    hits[#hits + 1] = element
    hits[#hits + 1] = tag
    hits[#hits + 1] = redelivered
    hits[#hits + 1] = kind
  end
end
if taken > 0 then return hits end
for i = 5, #KEYS do redis.pcall('LLEN', KEYS[i]) end
local out = {0}
for _, b in ipairs(bad) do out[#out + 1] = b end
return out
`;

/**
 * `celeriacRestore` (variable number of keys): take one unacked record back and push its
 * (already rewritten) envelope to its queue(s), atomically, and only if the record is still
 * the one the caller saw: its `unacked_index` score must equal ARGV[2]. A record that another
 * consumer fetched again in the meantime has a new score and is left alone (no duplicate,
 * and its new owner keeps it).
 *
 * Input:
 * - KEYS[1] the record's index, KEYS[2] its hash (`unacked_index`/`unacked`, or Celeriac's
 *   `celeriac.unacked.invalid_index`/`celeriac.unacked.invalid`), KEYS[3..n] the destination lists
 * - ARGV[1] the tag, ARGV[2] the expected score, ARGV[3] the envelope to push,
 *   ARGV[4] `'left'` (LPUSH: the back of the queue, a requeue) or `'right'` (RPUSH: the
 *   front, consumed next, a restore)
 *
 * Output: 1 restored; 0 the record is gone or owned by a newer delivery (nothing changed);
 * -1 the index entry had no record (the orphan index entry was removed); a WRONGTYPE error
 * (nothing changed) when a destination is not a list.
 */
export const RESTORE_SCRIPT = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return -1
end
-- No write before every check passed: Redis does not roll back a failed script.
for i = 3, #KEYS do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'list' and t ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' is not a list; the record stays')
  end
end
for i = 3, #KEYS do
  if ARGV[4] == 'left' then
    redis.call('LPUSH', KEYS[i], ARGV[3])
  else
    redis.call('RPUSH', KEYS[i], ARGV[3])
  end
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

/**
 * `celeriacAck` (2 keys): kombu's ack (`ZREM unacked_index tag; HDEL unacked tag`), fenced:
 * only while the record's score is still the one this delivery was recorded with. A worker
 * whose message outlived the visibility timeout, was restored and fetched again by another
 * worker must not delete the new owner's record with its late ack (reliability matrix row 4).
 *
 * Input: KEYS[1] the record's index, KEYS[2] its hash (`unacked_index`/`unacked`, or Celeriac's
 * pair for malformed elements); ARGV[1] the tag, ARGV[2] the expected score.
 * Output: 1 acked; 0 the record is gone (already acked or restored); -1 it belongs to a newer
 * delivery (left alone).
 */
export const ACK_SCRIPT = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 0
end
if tonumber(score) ~= tonumber(ARGV[2]) then return -1 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

/**
 * `celeriacUnlock` (1 key): release the restore lock only if it is still ours; redis-py's
 * `Lock.release` script, so a Python worker's lock and ours exclude each other.
 *
 * Input: KEYS[1] unacked_mutex; ARGV[1] our token.
 * Output: 1 released; 0 it expired or someone else holds it now (left alone).
 */
export const UNLOCK_SCRIPT = `
local token = redis.call('GET', KEYS[1])
if not token or token ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

/** An argument of a script call. */
export type ScriptArg = string | Buffer | number;

/** The scripts, bound to one client. */
export interface BrokerScripts {
  /** {@link FETCH_SCRIPT}; bulk replies as Buffers. */
  fetch(keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown>;
  /** {@link RESTORE_SCRIPT}. */
  restore(keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown>;
  /** {@link UNLOCK_SCRIPT}. */
  unlock(key: string, token: string): Promise<unknown>;
  /** {@link ACK_SCRIPT}. */
  ack(unackedIndex: string, unacked: string, tag: string, score: string | number): Promise<unknown>;
}

type ScriptCommand = (...args: ScriptArg[]) => Promise<unknown>;

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
export function defineScripts(redis: Redis): BrokerScripts {
  if (!('celeriacFetchBuffer' in redis)) {
    redis.defineCommand('celeriacFetch', { lua: FETCH_SCRIPT });
    redis.defineCommand('celeriacRestore', { lua: RESTORE_SCRIPT });
    redis.defineCommand('celeriacUnlock', { lua: UNLOCK_SCRIPT, numberOfKeys: 1 });
    redis.defineCommand('celeriacAck', { lua: ACK_SCRIPT, numberOfKeys: 2 });
  }
  const ack = command(redis, 'celeriacAck');
  const fetch = command(redis, 'celeriacFetchBuffer');
  const restore = command(redis, 'celeriacRestore');
  const unlock = command(redis, 'celeriacUnlock');
  return {
    fetch: (keys, args) => fetch(keys.length, ...keys, ...args),
    ack: (unackedIndex, unacked, tag, score) => ack(unackedIndex, unacked, tag, score),
    restore: (keys, args) => restore(keys.length, ...keys, ...args),
    unlock: (key, token) => unlock(key, token),
  };
}

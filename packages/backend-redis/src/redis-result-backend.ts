/**
 * Celery's Redis result backend: what a worker stores and a client reads under
 * `celery-task-meta-<id>` (see result-keys.ts for the whole key layout), byte-compatible with
 * Celery 5.2's `RedisBackend`.
 *
 * Store = `GET` (a stored SUCCESS is final) then `MULTI; SETEX key ttl meta; PUBLISH key
 * meta; EXEC` (`SET` only when expiry is disabled). Waiting goes through the backend's one
 * {@link ResultConsumer}.
 *
 * @see celery-wire.md §4
 * @module
 */
import { Buffer } from 'node:buffer';
import {
  AcceptContent,
  CeleriacError,
  ConnectionClosedError,
  createSerializerRegistry,
  DEFAULT_DECODE_LIMITS,
  decodeResultMeta,
  encodeException,
  encodeResultMeta,
  ErrorCode,
  EXCEPTION_STATES,
  LimitExceededError,
  pendingMeta,
  silentLogger,
  TaskState,
  type ChordPart,
  type ChordPartProgress,
  type DecodeLimits,
  type Logger,
  type ResultMeta,
  type Serializer,
  type SerializerRegistry,
  type StoreResultOptions,
  type WaitForOptions,
  type WireValue,
} from '@celeriac/protocol';
import { PromiseCancelledError } from '@celeriac/promise';
import {
  createRedisClient,
  parseRedisUrl,
  toRedisError,
  type RedisClientHandle,
  type RedisErrorContext,
  type RedisTransportOptions,
} from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import { AsyncResult } from './async-result.ts';
import { closeRedis } from './close-redis.ts';
import { GroupResult } from './group-result.ts';
import {
  BATCH_SIZE,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DISCONNECT_TIMEOUT_MS,
  ResultConsumer,
  TCP_KEEPALIVE_MS,
  type DataLossPolicy,
  type ResultConsumerMode,
  type ServerIdentity,
} from './result-consumer.ts';
import type { ResultHandleBackend } from './result-handle-backend.ts';
import { groupKey, taskKey } from './result-keys.ts';
import { groupDocument, membersOfGroupDocument } from './result-tuple.ts';

/** Celery's default `result_expires`: one day, in seconds. */
export const DEFAULT_RESULT_EXPIRES = 86_400;

/** Redis's largest string value (512 MB); Celery raises `BackendStoreError` above it. */
export const MAX_VALUE_BYTES = 512 * 1024 * 1024;

/** The `result_extended` keys of a meta, dropped when the backend does not extend results. */
const EXTENDED_KEYS = ['name', 'args', 'kwargs', 'worker', 'retries', 'queue'] as const;

/** Options of {@link RedisResultBackend} and {@link createRedisBackend}. */
export interface RedisBackendOptions {
  /** `result_serializer`: a serializer or its name (`json`, `msgpack`). Default `json`. */
  readonly resultSerializer?: Serializer | string;
  /** Where serializer names are looked up; json and msgpack by default. */
  readonly serializers?: SerializerRegistry;
  /**
   * `result_accept_content`: names or MIME types, checked before a result is decoded.
   * Default `['json']` (Celery's `accept_content` default). A result serializer outside this
   * list makes every read fail with `ContentDisallowedError`, as in Celery.
   */
  readonly accept?: AcceptContent | readonly string[];
  /**
   * `result_expires` in seconds: the TTL of every key written. Default 86 400 (one day);
   * `null` or `0` disables expiry (keys live forever: only then does a key have no TTL).
   */
  readonly resultExpires?: number | null;
  /** `result_extended`: keep `name`, `args`, `kwargs`, `worker`, `retries`, `queue` in stored metas. Default false. */
  readonly resultExtended?: boolean;
  /** `pubsub` (default): results are pushed; `poll`: MGET every `pollInterval`, never SUBSCRIBE. */
  readonly mode?: ResultConsumerMode;
  /** Milliseconds between two polls (poll mode, or after Redis refused SUBSCRIBE). Default 500. */
  readonly pollInterval?: number;
  /**
   * Deadline of each command, in ms (ioredis `commandTimeout` on both connections); default
   * 10 000. A command that misses it rejects with `TimeoutError` (it may or may not have
   * run: a `store()` may have been written) and the connection is dropped and made anew, since
   * a connection that answers nothing may be half-open.
   */
  readonly commandTimeoutMs?: number;
  /**
   * How often the subscriber connection is PINGed, in ms (`0`: never); default 5 000. A PING
   * unanswered within this interval (or `commandTimeoutMs` if shorter) drops the connection;
   * the new one resubscribes every waited id and MGETs them.
   */
  readonly healthCheckInterval?: number;
  /**
   * After a reconnect to a restarted server (its `run_id` changed): `fail` (default) rejects
   * each pending wait whose result is not stored on it with a `ResultLostError`
   * (`ConnectionClosedError`, code `CONNECTION_CLOSED`); `wait` keeps waiting (give waits a
   * timeout then: a result lost with the restart never comes).
   */
  readonly onDataLoss?: DataLossPolicy;
  /** Size and nesting limits for decoding results. */
  readonly limits?: DecodeLimits;
  readonly logger?: Logger;
  /** `result_backend_transport_options`: `master_name` for `sentinel://` URLs. */
  readonly transportOptions?: RedisTransportOptions;
}

export type { ChordPart, ChordPartProgress } from '@celeriac/protocol';

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function resolveExpires(value: number | null | undefined, what: string): number | null {
  if (value === null || value === undefined || value === 0) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new CeleriacError(
      ErrorCode.INVALID_CONFIG,
      `${what} must be a number of seconds >= 0 or null, got ${JSON.stringify(value)}`,
    );
  }
  // SETEX takes whole seconds; round up so a fraction never turns into "no TTL".
  return Math.ceil(value);
}

function isExceptionInfo(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) &&
    typeof (value as Record<string, unknown>)['exc_type'] === 'string';
}

/**
 * Celery's Redis result backend plus its result consumer. Connections are opened lazily:
 * the command connection on the first command, the subscriber on the first wait.
 *
 * @example
 * ```ts
 * const backend = createRedisBackend('redis://127.0.0.1:6379/0');
 * const result = backend.asyncResult<number>(taskId);
 * console.log(await result.get({ timeout: 10_000 }));
 * await backend.close();
 * ```
 * @see celery-wire.md §4
 */
export class RedisResultBackend implements ResultHandleBackend {
  /** The one result consumer of this backend. */
  readonly consumer: ResultConsumer;
  /** The result serializer (`result_serializer`). */
  readonly serializer: Serializer;
  /** The accept list for results (`result_accept_content`). */
  readonly accept: AcceptContent;
  /** The TTL in seconds of every key written, or `null` for none. */
  readonly expires: number | null;
  /** Whether `result_extended` fields are stored. */
  readonly resultExtended: boolean;
  readonly #registry: SerializerRegistry;
  readonly #limits: DecodeLimits;
  readonly #command: RedisClientHandle;
  readonly #logger: Logger;
  readonly #errorContext: RedisErrorContext;
  #lastRecycle = 0;
  #closing: Promise<void> | undefined;

  /**
   * @param url - a Celery-style Redis URL (`redis://`, `rediss://`, `unix://`, `sentinel://`)
   * @param options - serializer, accept list, expiry, mode, logger, transport options
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a bad URL or option, `UNKNOWN_SERIALIZER`
   *   for an unknown serializer name
   */
  constructor(url: string, options: RedisBackendOptions = {}) {
    this.#logger = options.logger ?? silentLogger;
    this.#registry = options.serializers ?? createSerializerRegistry();
    const serializer = options.resultSerializer ?? 'json';
    this.serializer = typeof serializer === 'string' ? this.#registry.get(serializer) : serializer;
    const accept = options.accept ?? ['json'];
    this.accept = accept instanceof AcceptContent ? accept : new AcceptContent(accept, this.#registry);
    this.expires = resolveExpires(
      options.resultExpires === undefined ? DEFAULT_RESULT_EXPIRES : options.resultExpires,
      'resultExpires',
    );
    this.resultExtended = options.resultExtended ?? false;
    this.#limits = options.limits ?? DEFAULT_DECODE_LIMITS;
    const pollInterval = options.pollInterval ?? 500;
    if (!Number.isFinite(pollInterval) || pollInterval <= 0) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `pollInterval must be a positive number of ms, got ${pollInterval}`);
    }
    const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    if (typeof commandTimeoutMs !== 'number' || !Number.isFinite(commandTimeoutMs) || commandTimeoutMs <= 0) {
      throw new CeleriacError(
        ErrorCode.INVALID_CONFIG,
        `commandTimeoutMs must be a positive number of ms, got ${String(commandTimeoutMs)}`,
      );
    }
    const config = parseRedisUrl(url, options.transportOptions);
    this.#errorContext = {
      url: config.redactedUrl,
      timeoutMs: commandTimeoutMs,
      onTimeout: () => this.#recycleCommandConnection(),
    };
    this.#command = createRedisClient(config, {
      role: 'command',
      name: 'result-backend',
      logger: this.#logger,
      // Every command settles: one that gets no answer in time (a half-open connection, a
      // hung server) rejects, and the connection is dropped (#recycleCommandConnection).
      overrides: { commandTimeout: commandTimeoutMs, keepAlive: TCP_KEEPALIVE_MS, disconnectTimeout: DISCONNECT_TIMEOUT_MS },
    });
    this.consumer = new ResultConsumer({
      config,
      mget: (keys) => this.#run(`MGET of ${keys.length} result keys`, (r) => r.mgetBuffer(...keys)),
      serverIdentity: () => this.#run('INFO server', (r) => serverIdentity(r)),
      decode: (raw, taskId) => this.decode(raw, taskId),
      mode: options.mode ?? 'pubsub',
      pollInterval,
      commandTimeoutMs,
      ...(options.healthCheckInterval === undefined ? {} : { healthCheckInterval: options.healthCheckInterval }),
      ...(options.onDataLoss === undefined ? {} : { onDataLoss: options.onDataLoss }),
      logger: this.#logger,
    });
    if (!this.accept.accepts(this.serializer.contentType)) {
      this.#logger.warn(
        `result serializer ${this.serializer.name} is not in the result accept list: every result read will be refused`,
        { serializer: this.serializer.contentType, accept: this.accept.contentTypes },
      );
    }
  }

  /**
   * Decodes a stored or published meta with this backend's serializer, accept list and limits.
   *
   * @param raw - the bytes
   * @param taskId - the id it was read for
   * @returns the meta
   * @throws `ContentDisallowedError`, `DecodeError`, `LimitExceededError`, `CeleriacError` `INVALID_RESULT`
   */
  decode(raw: Uint8Array, taskId: string): ResultMeta {
    return decodeResultMeta(raw, { serializer: this.serializer, accept: this.accept, limits: this.#limits, taskId });
  }

  /**
   * A handle on a task's result. Creating it costs nothing: nothing is subscribed until
   * somebody awaits it or registers a callback.
   *
   * @param taskId - the task id
   * @returns the handle
   */
  asyncResult<TResult = unknown>(taskId: string): AsyncResult<TResult> {
    return new AsyncResult<TResult>(taskId, this);
  }

  /**
   * A handle on a group of results.
   *
   * @param groupId - the group id
   * @param taskIds - the member task ids, in order
   * @returns the handle
   */
  groupResult<TResult = unknown>(groupId: string, taskIds: readonly string[]): GroupResult<TResult> {
    return new GroupResult<TResult>(groupId, taskIds.map((id) => this.asyncResult<TResult>(id)), this);
  }

  /**
   * Stores and publishes a state change: `GET` first (a stored SUCCESS is final: returns
   * `false` without writing), then `MULTI; SETEX; PUBLISH; EXEC` with the identical payload.
   *
   * @param meta - the meta (see `createResultMeta`); extended fields are dropped unless
   *   `resultExtended`
   * @param options - `expires` (seconds, `null` for none) for this write only
   * @returns whether it was written
   * @throws `EncodeError` when the result cannot be serialized; {@link LimitExceededError} above 512 MB;
   *   `ConnectionClosedError` after {@link close}
   * @see celery-wire.md §4.2
   */
  async store(meta: ResultMeta, options: StoreResultOptions = {}): Promise<boolean> {
    this.#assertOpen();
    const taskId = meta.task_id;
    const key = taskKey(taskId);
    const bytes = encodeResultMeta(this.resultExtended ? meta : withoutExtended(meta), this.serializer);
    if (bytes.byteLength > MAX_VALUE_BYTES) {
      throw new LimitExceededError('Result meta (Redis string value)', MAX_VALUE_BYTES, bytes.byteLength, { taskId });
    }
    const current = await this.#run(`store the result of task ${taskId}: GET ${key}`, (r) => r.getBuffer(key));
    if (current !== null && this.#storedStatus(current, taskId) === TaskState.SUCCESS) return false;
    const ttl = options.expires === undefined ? this.expires : resolveExpires(options.expires, 'expires');
    await this.#set(`store the result of task ${taskId}`, key, toBuffer(bytes), ttl);
    return true;
  }

  /**
   * @param taskId - the task id
   * @returns the stored meta, or a PENDING one when there is none (one GET)
   * @throws the decode errors of {@link decode}
   */
  async get(taskId: string): Promise<ResultMeta> {
    this.#assertOpen();
    const key = taskKey(taskId);
    const raw = await this.#run(`GET ${key}`, (r) => r.getBuffer(key));
    return raw === null ? pendingMeta(taskId) : this.decode(raw, taskId);
  }

  /**
   * @param taskIds - task ids
   * @returns their metas in order (PENDING for missing ones), read with MGET in batches of 1,000
   * @throws the decode errors of {@link decode}, for the first value that does not decode
   */
  async getMany(taskIds: readonly string[]): Promise<ResultMeta[]> {
    this.#assertOpen();
    const out: ResultMeta[] = [];
    for (let i = 0; i < taskIds.length; i += BATCH_SIZE) {
      const batch = taskIds.slice(i, i + BATCH_SIZE);
      const values = await this.#run(`MGET of ${batch.length} result keys`, (r) => r.mgetBuffer(...batch.map(taskKey)));
      batch.forEach((id, j) => {
        const raw = values[j];
        out.push(raw === null || raw === undefined ? pendingMeta(id) : this.decode(raw, id));
      });
    }
    return out;
  }

  /**
   * Deletes a stored result and drops its subscription; waits for it reject with a
   * `PromiseCancelledError`.
   *
   * @param taskId - the task id
   */
  async forget(taskId: string): Promise<void> {
    this.#assertOpen();
    const key = taskKey(taskId);
    await this.#run(`forget: DEL ${key}`, (r) => r.del(key));
    this.consumer.cancel(taskId, new PromiseCancelledError(`The result of task ${taskId} was forgotten`));
  }

  /**
   * Waits for the first ready meta of a task (see {@link ResultConsumer.wait}).
   *
   * @param taskId - the task id
   * @param options - `timeout` (ms), `signal`
   * @returns the ready meta
   * @throws `TimeoutError`, the abort reason, `ConnectionClosedError`, or a decode error
   */
  waitFor(taskId: string, options: WaitForOptions = {}): Promise<ResultMeta> {
    return this.consumer.wait(taskId, options);
  }

  /**
   * Saves a group's member ids as `GroupResult.save()` does (SETEX + PUBLISH).
   *
   * @param groupId - the group id
   * @param taskIds - the member ids, in order
   * @see celery-wire.md §4.8
   */
  async saveGroup(groupId: string, taskIds: readonly string[]): Promise<void> {
    this.#assertOpen();
    const bytes = this.serializer.encode(groupDocument(groupId, taskIds));
    await this.#set(`save group ${groupId}`, groupKey(groupId), toBuffer(bytes), this.expires);
  }

  /**
   * @param groupId - the group id
   * @returns the member ids of a saved group, or `null` when none is saved
   * @throws the decode errors, or `CeleriacError` `INVALID_RESULT` for a document that is not a saved group
   */
  async getGroup(groupId: string): Promise<string[] | null> {
    this.#assertOpen();
    const key = groupKey(groupId);
    const raw = await this.#run(`GET ${key}`, (r) => r.getBuffer(key));
    if (raw === null) return null;
    this.accept.assert(this.serializer.contentType, groupId);
    return membersOfGroupDocument(this.serializer.decode(raw, this.#limits), groupId);
  }

  /**
   * Deletes a saved group (`GroupResult.delete()`).
   *
   * @param groupId - the group id
   */
  async deleteGroup(groupId: string): Promise<void> {
    this.#assertOpen();
    const key = groupKey(groupId);
    await this.#run(`delete group: DEL ${key}`, (r) => r.del(key));
  }

  /**
   * Sets the chord size, as the client applying a chord does: `SETEX <gid>.s ttl <size>` +
   * PUBLISH (Celery's `set()` publishes every key it writes).
   *
   * @param groupId - the chord's header group id
   * @param size - the number of header tasks
   */
  async setChordSize(groupId: string, size: number): Promise<void> {
    this.#assertOpen();
    if (!Number.isInteger(size) || size < 0) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `Chord size must be an integer >= 0, got ${size} (group ${groupId})`);
    }
    await this.#set(`set the chord size of group ${groupId}`, groupKey(groupId, '.s'), Buffer.from(String(size)), this.expires);
  }

  /**
   * Adds one to the extra header count `.t` (Celery's `add_to_chord`), keeping the TTL.
   *
   * @param groupId - the chord's header group id
   * @returns the new extra count
   */
  async addToChord(groupId: string): Promise<number> {
    this.#assertOpen();
    const key = groupKey(groupId, '.t');
    const values = await this.#run(`add to chord: INCR ${key}`, async (r) => {
      const multi = r.multi().incr(key);
      if (this.expires !== null) multi.expire(key, this.expires);
      return replyValues(await multi.exec(), key);
    });
    return Number(values[0]);
  }

  /**
   * Records a finished chord header task in one MULTI, as a Celery worker does: `ZADD .j
   * <group_index> [1, tid, state, result]; ZCOUNT .j; GET .t; GET .s; EXPIRE .j/.t/.s`.
   *
   * @param groupId - the chord's header group id
   * @param groupIndex - the task's `group_index` header (`null` → `+inf`)
   * @param taskId - the header task's id
   * @param state - its final state
   * @param result - its return value, or the error (encoded as Celery's exception info) for an exception state
   * @returns how many are done and the total
   * @see celery-wire.md §4.8
   */
  async chordPartDone(
    groupId: string,
    groupIndex: number | null,
    taskId: string,
    state: string,
    result: unknown,
  ): Promise<ChordPartProgress> {
    this.#assertOpen();
    const value = EXCEPTION_STATES.has(state) && !isExceptionInfo(result) ? encodeException(result) : result;
    const member = toBuffer(this.serializer.encode([1, taskId, state, value]));
    const jkey = groupKey(groupId, '.j');
    const tkey = groupKey(groupId, '.t');
    const skey = groupKey(groupId, '.s');
    const replies = await this.#run(`chord part done: ZADD ${jkey}`, async (r) => {
      const multi = r
        .multi()
        .zadd(jkey, groupIndex === null ? '+inf' : groupIndex, member)
        .zcount(jkey, '-inf', '+inf')
        .get(tkey)
        .get(skey);
      if (this.expires !== null) multi.expire(jkey, this.expires).expire(tkey, this.expires).expire(skey, this.expires);
      return replyValues(await multi.exec(), jkey);
    });
    const [, count, extra, size] = replies;
    const done = Number(count);
    const total = size === null || size === undefined ? null : Number(size) + Number(extra ?? 0);
    return { count: done, total, complete: total !== null && done === total };
  }

  /**
   * @param groupId - the chord's header group id
   * @returns the finished header tasks ordered by `group_index` (`ZRANGE .j 0 -1`)
   * @throws the decode errors, or `CeleriacError` `INVALID_RESULT` for a member that is not `[1, tid, state, result]`
   */
  async chordResults(groupId: string): Promise<ChordPart[]> {
    this.#assertOpen();
    const jkey = groupKey(groupId, '.j');
    const members = await this.#run(`ZRANGE ${jkey}`, (r) => r.zrangeBuffer(jkey, 0, -1));
    this.accept.assert(this.serializer.contentType, groupId);
    return members.map((raw) => {
      const tuple = this.serializer.decode(raw, this.#limits);
      if (!Array.isArray(tuple) || tuple.length !== 4 || typeof tuple[1] !== 'string' || typeof tuple[2] !== 'string') {
        throw new CeleriacError(
          ErrorCode.INVALID_RESULT,
          `Expected [1, task_id, state, result] in celery-taskset-meta-${groupId}.j, got ${Array.isArray(tuple) ? `an array of ${tuple.length}` : typeof tuple}`,
        );
      }
      const [, id, state, result] = tuple as [WireValue, string, string, WireValue];
      return { taskId: id, state, result };
    });
  }

  /**
   * Deletes the chord counter keys `.j`, `.t`, `.s` (after the callback was sent).
   *
   * @param groupId - the chord's header group id
   */
  async chordCleanup(groupId: string): Promise<void> {
    this.#assertOpen();
    const keys = [groupKey(groupId, '.j'), groupKey(groupId, '.t'), groupKey(groupId, '.s')];
    await this.#run(`chord cleanup of group ${groupId}: DEL`, (r) => r.del(...keys));
  }

  /**
   * Closes the backend: every pending wait rejects with `ConnectionClosedError`, the
   * subscriber connection is dropped and the command connection quits after its pending
   * commands. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.consumer.close();
      await closeRedis(this.#command.redis, 'quit');
    })();
    return this.#closing;
  }

  /**
   * Sends a command on the command connection. Every error goes through `toRedisError`: no
   * answer within `commandTimeoutMs` → `TimeoutError` (and the connection is dropped), lost
   * with its connection → `ConnectionClosedError`, refused credentials → `CeleriacError`
   * `INVALID_CONFIG`; no error carries the credentials ioredis attaches to a failed AUTH.
   *
   * @param what - the operation, for error messages
   * @param command - what to send
   */
  async #run<T>(what: string, command: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      return await command(this.#command.redis);
    } catch (error) {
      throw toRedisError(error, `result backend: ${what}`, this.#errorContext);
    }
  }

  /**
   * A command timed out: the connection may be half-open (answers nothing, closes nothing).
   * Drop it so ioredis makes a new one (commands not yet written wait for it); at most once
   * per deadline, so a burst of timeouts of one outage drops it once.
   */
  #recycleCommandConnection(): void {
    const redis = this.#command.redis;
    const now = Date.now();
    if (this.#closing !== undefined || now - this.#lastRecycle < this.#errorContext.timeoutMs) return;
    if (redis.status !== 'ready' && redis.status !== 'connect') return;
    this.#lastRecycle = now;
    this.#logger.warn('result backend: a command timed out; dropping the connection', {
      timeoutMs: this.#errorContext.timeoutMs,
    });
    redis.disconnect(true);
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) throw new ConnectionClosedError('The result backend is closed');
  }

  /** Celery's `set()`: SETEX (or SET without expiry) and PUBLISH of the same bytes, in one MULTI. */
  async #set(what: string, key: string, value: Buffer, ttl: number | null): Promise<void> {
    await this.#run(`${what}: ${ttl === null ? 'SET' : 'SETEX'} ${key} + PUBLISH`, async (r) => {
      const multi = r.multi();
      if (ttl === null) multi.set(key, value);
      else multi.setex(key, ttl, value);
      multi.publish(key, value);
      replyValues(await multi.exec(), key);
    });
  }

  /** The status of a stored value, for GET-before-write; `undefined` when it does not decode. */
  #storedStatus(raw: Buffer, taskId: string): string | undefined {
    // Tried with every registered serializer: a SUCCESS written with the other one must
    // still not be overwritten. Only `status` is read; nothing is handed out.
    const serializers = [this.serializer, ...this.#registry.names().map((n) => this.#registry.get(n))];
    for (const serializer of serializers) {
      try {
        const value = serializer.decode(raw, this.#limits);
        if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && !(value instanceof Date)) {
          const status = (value as Record<string, WireValue>)['status'];
          return typeof status === 'string' ? status : undefined;
        }
        return undefined;
      } catch {
        // try the next one
      }
    }
    this.#logger.warn('result backend: the stored value does not decode; overwriting it', { taskId });
    return undefined;
  }
}

/** The values of a MULTI's replies; throws the first command error. */
function replyValues(replies: [Error | null, unknown][] | null, key: string): unknown[] {
  if (replies === null) {
    throw new CeleriacError(ErrorCode.CONNECTION_CLOSED, `The transaction on ${key} was aborted`);
  }
  return replies.map(([err, value]) => {
    if (err !== null) throw err;
    return value;
  });
}

function withoutExtended(meta: ResultMeta): ResultMeta {
  if (!EXTENDED_KEYS.some((key) => key in meta)) return meta;
  const copy: ResultMeta = { ...meta };
  for (const key of EXTENDED_KEYS) delete copy[key];
  return copy;
}

/**
 * Creates a {@link RedisResultBackend}.
 *
 * @param url - a Celery-style Redis URL
 * @param options - see {@link RedisBackendOptions}
 * @returns the backend (no connection is opened yet)
 * @throws {@link CeleriacError} `INVALID_CONFIG` / `UNKNOWN_SERIALIZER` for bad options
 */
export function createRedisBackend(url: string, options: RedisBackendOptions = {}): RedisResultBackend {
  return new RedisResultBackend(url, options);
}

/**
 * The marker of the data epoch: a key without TTL holding a random token, set by the first
 * client that finds it missing. It lives and dies with the data set, so a restart that kept
 * the data keeps it and one that lost it (no persistence, FLUSHALL) does not.
 */
export const EPOCH_KEY = 'celeriac-backend-epoch';

async function serverIdentity(redis: Redis): Promise<ServerIdentity | undefined> {
  const replies = await redis
    .multi()
    .info('server')
    .set(EPOCH_KEY, globalThis.crypto.randomUUID(), 'NX')
    .get(EPOCH_KEY)
    .exec();
  const info = replies?.[0]?.[1];
  const epoch = replies?.[2]?.[1];
  const runId = typeof info === 'string' ? /^run_id:(\w+)/m.exec(info)?.[1] : undefined;
  return runId === undefined || typeof epoch !== 'string' ? undefined : { runId, epoch };
}

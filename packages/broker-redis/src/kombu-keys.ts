/**
 * kombu's Redis key layout, shared byte for byte with Python Celery 5.2 (kombu 5.2.4), and
 * the transport options that change it.
 *
 * With `P` = `global_keyprefix` (default empty), `SEP` = `sep` (default `\x06\x16`), queue `Q`
 * and database `DB`:
 *
 * | key | type | what |
 * |---|---|---|
 * | `P Q` | list | priority bucket 0 (and every restored or requeued message) |
 * | `P Q SEP 3`, `… 6`, `… 9` | list | the other buckets of `priority_steps` |
 * | `P _kombu.binding.Q` | set | member `Q SEP SEP Q` (the queue bound to its own direct exchange) |
 * | `P unacked` | hash | delivery_tag → `[envelope, exchange, routing_key]` JSON |
 * | `P unacked_index` | zset | delivery_tag → unix time (float seconds) of the delivery |
 * | `P unacked_mutex` | string | the restore lock (`SET … PX … NX`, redis-py `Lock` compatible) |
 * | `P celeriac.unacked.invalid` | hash | Celeriac only: `celeriac-invalid:<uuid>` → record of a malformed element |
 * | `P celeriac.unacked.invalid_index` | zset | Celeriac only: `celeriac-invalid:<uuid>` → unix time of the delivery |
 * | `P /DB.exchange[/routing_key]` | pub/sub channel | fanout (remote control, events) |
 *
 * Malformed elements (not JSON, not a JSON object, no `properties.delivery_tag`) are recorded
 * in the two Celeriac-only keys, which kombu never reads: kombu's `restore_visible` would
 * delete such a record from `unacked` and push nothing (a string payload raises TypeError,
 * only KeyError is caught), losing the element. Only Celeriac acks and restores them.
 *
 * Publish `LPUSH`es, consumers pop from the right end, so each list is FIFO. Lower bucket
 * numbers are consumed first. kombu prefixes every key it sends, and the pub/sub channels
 * too, but not the queue names inside binding members or unacked records.
 *
 * @see celery-wire.md §2.2–§2.7
 * @module
 */
import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import type { RedisTransportOptions } from '@celeriac/redis-connection';

/**
 * kombu's Redis transport options that Celeriac reads (`broker_transport_options`), with
 * kombu's names and defaults.
 */
export interface RedisBrokerTransportOptions extends RedisTransportOptions {
  /** Seconds a delivery may stay unacked before any consumer restores it; default 3600. */
  readonly visibility_timeout?: number;
  /** Ascending priority buckets; default `[0, 3, 6, 9]`. Every peer must agree. */
  readonly priority_steps?: readonly number[];
  /** Separator in priority keys and binding members; default `'\x06\x16'`. */
  readonly sep?: string;
  /** Prefix of every broker key and fanout channel; default `''`. */
  readonly global_keyprefix?: string;
  /** Default `'unacked'`. */
  readonly unacked_key?: string;
  /** Default `'unacked_index'`. */
  readonly unacked_index_key?: string;
  /** Default `'unacked_mutex'`. */
  readonly unacked_mutex_key?: string;
  /** Seconds the restore lock lives at most; default 300. */
  readonly unacked_mutex_expire?: number;
  /** Only kombu's default `true` (channels `/DB.exchange`) is supported. */
  readonly fanout_prefix?: boolean | string;
  /** Only kombu's default `true` (a routing key is a sub-channel) is supported. */
  readonly fanout_patterns?: boolean;
  /** Only kombu's default `'round_robin'` is supported. */
  readonly queue_order_strategy?: string;
}

/**
 * kombu options Celery users commonly set that have no effect here (socket and pool tuning
 * of redis-py, or behaviour Celeriac fixes). Accepted, so a Python configuration can be
 * copied as is, and ignored.
 */
const IGNORED_KOMBU_OPTIONS = new Set([
  'ack_emulation',
  'unacked_restore_limit',
  'socket_timeout',
  'socket_connect_timeout',
  'socket_keepalive',
  'socket_keepalive_options',
  'max_connections',
  'health_check_interval',
  'retry_on_timeout',
  'body_encoding',
  'polling_interval',
]);

/**
 * kombu options whose default is the only behaviour Celeriac has: the default value is
 * accepted (so a Python configuration that spells it out can be copied), any other value is
 * an `INVALID_CONFIG` error rather than silently different key names or consumption order
 * from the Python peers.
 */
const DEFAULT_ONLY_OPTIONS: ReadonlyMap<string, { readonly value: unknown; readonly means: string }> = new Map([
  ['fanout_prefix', { value: true, means: 'fanout channels are always named /<db>.<exchange>' }],
  ['fanout_patterns', { value: true, means: 'a fanout routing key is always a sub-channel /<db>.<exchange>/<routing_key>' }],
  ['queue_order_strategy', { value: 'round_robin', means: 'queues are always consumed round-robin' }],
]);

const KNOWN_OPTIONS = new Set([
  'visibility_timeout',
  'priority_steps',
  'sep',
  'global_keyprefix',
  'unacked_key',
  'unacked_index_key',
  'unacked_mutex_key',
  'unacked_mutex_expire',
  'master_name',
  'sentinel_kwargs',
]);

/** kombu's default `priority_steps`. */
export const DEFAULT_PRIORITY_STEPS: readonly number[] = Object.freeze([0, 3, 6, 9]);

/** kombu's default `sep`. */
export const KOMBU_SEP = '\x06\x16';

/**
 * The key layout of one broker: every name it reads or writes in Redis.
 *
 * @see celery-wire.md §2
 */
export class KombuKeys {
  /** `global_keyprefix`. */
  readonly prefix: string;
  /** `sep`. */
  readonly sep: string;
  /** `priority_steps`, ascending. */
  readonly steps: readonly number[];
  /** The database number (fanout channels name it). */
  readonly db: number;
  /** `P unacked`. */
  readonly unacked: string;
  /** `P unacked_index`. */
  readonly unackedIndex: string;
  /** `P unacked_mutex`. */
  readonly unackedMutex: string;
  /**
   * `P celeriac.unacked.invalid`: Celeriac's own hash of the records of malformed deliveries
   * (kombu never reads it; its restore would lose them).
   */
  readonly invalidUnacked: string;
  /** `P celeriac.unacked.invalid_index`: their delivery times, as `unacked_index`. */
  readonly invalidUnackedIndex: string;
  /** Seconds a delivery may stay unacked. */
  readonly visibilityTimeout: number;
  /** Seconds the restore lock lives at most. */
  readonly mutexExpire: number;

  /**
   * @param options - kombu's transport options (validated)
   * @param db - the database number from the URL
   * @throws {@link CeleriacError} `INVALID_CONFIG` for an unknown option or a value that cannot work
   */
  constructor(options: RedisBrokerTransportOptions, db: number) {
    validate(options);
    this.prefix = options.global_keyprefix ?? '';
    this.sep = options.sep ?? KOMBU_SEP;
    this.steps = Object.freeze([...(options.priority_steps ?? DEFAULT_PRIORITY_STEPS)]);
    this.db = db;
    this.unacked = this.prefix + (options.unacked_key ?? 'unacked');
    this.unackedIndex = this.prefix + (options.unacked_index_key ?? 'unacked_index');
    this.unackedMutex = this.prefix + (options.unacked_mutex_key ?? 'unacked_mutex');
    this.invalidUnacked = `${this.prefix}celeriac.unacked.invalid`;
    this.invalidUnackedIndex = `${this.prefix}celeriac.unacked.invalid_index`;
    this.visibilityTimeout = options.visibility_timeout ?? 3600;
    this.mutexExpire = options.unacked_mutex_expire ?? 300;
  }

  /**
   * The priority bucket of a priority, as kombu's `Channel.priority`: clamped to 0..9
   * (anything not a finite number counts as 0), then the largest step not above it.
   *
   * @param priority - the message priority
   * @returns one of {@link KombuKeys.steps}
   */
  bucket(priority: number): number {
    const p = Number.isFinite(priority) ? Math.min(9, Math.max(0, Math.trunc(priority))) : 0;
    let chosen: number | undefined;
    for (const step of this.steps) if (step <= p) chosen = step;
    // kombu: steps[bisect(steps, p) - 1], i.e. the last step when none is <= p.
    return chosen ?? this.steps[this.steps.length - 1] ?? 0;
  }

  /**
   * @param queue - the logical queue
   * @param step - a priority step; 0 (the default) is the queue's own key
   * @returns `P Q` or `P Q SEP step`
   */
  queueKey(queue: string, step = 0): string {
    return step === 0 ? this.prefix + queue : `${this.prefix}${queue}${this.sep}${step}`;
  }

  /**
   * @param queue - the logical queue
   * @returns every list key of the queue, bucket 0 first
   */
  queueKeys(queue: string): string[] {
    return this.steps.map((step) => this.queueKey(queue, step));
  }

  /**
   * The list keys a consumer pops from, in kombu's BRPOP order: for each priority step,
   * for each queue (in the given, already rotated, order).
   *
   * @param queues - logical queues in consumption order
   * @returns the keys and, for each, its logical queue
   */
  fetchKeys(queues: readonly string[]): { keys: string[]; queues: string[] } {
    const keys: string[] = [];
    const owners: string[] = [];
    for (const step of this.steps) {
      for (const queue of queues) {
        keys.push(this.queueKey(queue, step));
        owners.push(queue);
      }
    }
    return { keys, queues: owners };
  }

  /**
   * @param exchange - the exchange name (for a Celery queue: the queue name)
   * @returns `P _kombu.binding.<exchange>`
   */
  bindingKey(exchange: string): string {
    return `${this.prefix}_kombu.binding.${exchange}`;
  }

  /**
   * The binding member kombu's `maybe_declare` adds for a queue on its own direct exchange.
   *
   * @param queue - the queue
   * @returns `Q SEP SEP Q`
   */
  bindingMember(queue: string): string {
    return `${queue}${this.sep}${this.sep}${queue}`;
  }

  /**
   * Parses a binding member `routing_key SEP pattern SEP queue`.
   *
   * @param member - a member of `_kombu.binding.<exchange>`
   * @returns its parts, or `undefined` when it does not have three
   */
  parseBinding(member: string): { routingKey: string; pattern: string; queue: string } | undefined {
    const parts = member.split(this.sep);
    if (parts.length !== 3) return undefined;
    const [routingKey = '', pattern = '', queue = ''] = parts;
    return { routingKey, pattern, queue };
  }

  /**
   * The channel kombu PUBLISHes a fanout message to (`fanout_prefix` and `fanout_patterns`
   * on, as in kombu >= 4).
   *
   * @param exchange - the fanout exchange
   * @param routingKey - `''` for none
   * @returns `P /DB.exchange[/routingKey]`
   */
  fanoutChannel(exchange: string, routingKey: string): string {
    const base = `${this.prefix}/${this.db}.${exchange}`;
    return routingKey === '' ? base : `${base}/${routingKey}`;
  }

  /**
   * The pattern kombu PSUBSCRIBEs for a fanout binding: `#` becomes `*`.
   *
   * @param exchange - the fanout exchange
   * @param bindingKey - `''` for every message of the exchange
   * @returns `P /DB.exchange[/bindingKey]`
   */
  fanoutPattern(exchange: string, bindingKey: string): string {
    return this.fanoutChannel(exchange, bindingKey.replaceAll('#', '*'));
  }

  /**
   * Splits a fanout channel back into exchange and routing key (kombu splits at the first
   * `/` after the `/DB.` prefix).
   *
   * @param channel - a channel a pattern matched
   * @returns the exchange and routing key, or `undefined` for a foreign channel
   */
  parseFanoutChannel(channel: string): { exchange: string; routingKey: string } | undefined {
    const head = `${this.prefix}/${this.db}.`;
    if (!channel.startsWith(head)) return undefined;
    const rest = channel.slice(head.length);
    const slash = rest.indexOf('/');
    return slash === -1
      ? { exchange: rest, routingKey: '' }
      : { exchange: rest.slice(0, slash), routingKey: rest.slice(slash + 1) };
  }
}

function invalid(message: string): CeleriacError {
  return new CeleriacError(ErrorCode.INVALID_CONFIG, `Invalid broker transport options: ${message}`);
}

function validate(options: RedisBrokerTransportOptions): void {
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key) && !IGNORED_KOMBU_OPTIONS.has(key) && !DEFAULT_ONLY_OPTIONS.has(key)) {
      throw invalid(
        `unknown option ${JSON.stringify(key)} (expected one of ${[...KNOWN_OPTIONS].join(', ')}; ` +
          `kombu options accepted with their default only: ${[...DEFAULT_ONLY_OPTIONS.keys()].join(', ')}; ` +
          `ignored kombu options: ${[...IGNORED_KOMBU_OPTIONS].join(', ')})`,
      );
    }
  }
  for (const [name, { value, means }] of DEFAULT_ONLY_OPTIONS) {
    const given = (options as Record<string, unknown>)[name];
    if (given !== undefined && given !== value) {
      throw invalid(
        `${name}=${JSON.stringify(given)} is not supported: only kombu's default ${JSON.stringify(value)} is (${means})`,
      );
    }
  }
  const positive = (name: 'visibility_timeout' | 'unacked_mutex_expire'): void => {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)) {
      throw invalid(`${name} must be a positive number of seconds, got ${JSON.stringify(value)}`);
    }
  };
  positive('visibility_timeout');
  positive('unacked_mutex_expire');
  const steps = options.priority_steps;
  if (steps !== undefined) {
    const ok =
      Array.isArray(steps) &&
      steps.length > 0 &&
      steps.every((s, i) => Number.isInteger(s) && s >= 0 && s <= 9 && (i === 0 || s > (steps[i - 1] ?? -1)));
    if (!ok) throw invalid(`priority_steps must be ascending integers in 0..9, got ${JSON.stringify(steps)}`);
  }
  if (options.sep !== undefined && (typeof options.sep !== 'string' || options.sep === '')) {
    throw invalid(`sep must be a non-empty string, got ${JSON.stringify(options.sep)}`);
  }
  for (const name of ['global_keyprefix', 'unacked_key', 'unacked_index_key', 'unacked_mutex_key'] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'string') {
      throw invalid(`${name} must be a string, got ${JSON.stringify(value)}`);
    }
  }
  for (const name of ['unacked_key', 'unacked_index_key', 'unacked_mutex_key'] as const) {
    if (options[name] === '') throw invalid(`${name} must not be empty`);
  }
}

/**
 * Celery's monitoring events, sent the way a Celery 5.2 worker sends them, so Flower,
 * `celery events` and other workers' gossip see a Celeriac worker as one of their own.
 *
 * On Redis the `celeryev` exchange is a fanout: each event is a `PUBLISH` to
 * `<global_keyprefix>/<db>.celeryev/<type with - replaced by .>` of a kombu envelope (headers
 * `{hostname}`, `delivery_mode` 1, JSON body, base64). Worker events (`worker-online`,
 * `worker-heartbeat` every 2 s, `worker-offline`) go out one by one; task events are buffered
 * and published together as a JSON array to routing key `task.multi`, as the worker's event
 * loop does (flushed soon after the first buffered event, or at 24 events).
 *
 * This module also holds the two pieces remote control shares with events: the Lamport clock
 * (Celery's `app.clock`: events, control commands and replies all stamp it) and the kombu
 * JSON envelope codec for fanout and reply messages.
 *
 * @see celery-wire.md §2.7, §5.9; celery/events/dispatcher.py, celery/worker/heartbeat.py
 * @module
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { constants as osConstants, loadavg, type as osType } from 'node:os';
import {
  ContentDisallowedError,
  InvalidMessageError,
  jsonSerializer,
  parseEnvelope,
  silentLogger,
  type Broker,
  type KombuEnvelope,
  type Logger,
  type WireObject,
  type WireValue,
} from '@celeriac/protocol';

// ---------------------------------------------------------------------------------------------
// Lamport clock

/**
 * kombu's `LamportClock`: a logical clock stamped on events (`clock`), control commands and
 * replies (`headers.clock`). One per worker process, shared by its event dispatcher and its
 * remote control, like Celery's `app.clock`.
 *
 * @see kombu/clocks.py
 */
export class LamportClock {
  #value: number;

  /**
   * @param initial - the starting value; default 0
   */
  constructor(initial = 0) {
    this.#value = initial;
  }

  /** The current value. */
  get value(): number {
    return this.#value;
  }

  /**
   * Advances the clock for a local event.
   *
   * @returns the new value
   */
  forward(): number {
    this.#value += 1;
    return this.#value;
  }

  /**
   * Merges a clock value received from another node: `max(ours, theirs) + 1`. Values that
   * are not finite numbers are ignored (the clock only moves forward).
   *
   * @param other - the remote value
   * @returns the new value
   */
  adjust(other: unknown): number {
    const theirs = typeof other === 'number' && Number.isFinite(other) ? Math.trunc(other) : 0;
    this.#value = Math.max(this.#value, theirs) + 1;
    return this.#value;
  }
}

// ---------------------------------------------------------------------------------------------
// kombu envelope for fanout and reply messages

/** Where an envelope claims to have been published (kombu fills these at publish time). */
export interface EnvelopeRoute {
  /** `properties.delivery_info.exchange`. */
  readonly exchange: string;
  /** `properties.delivery_info.routing_key`. */
  readonly routingKey: string;
  /** `properties.delivery_mode`: 1 transient (events, replies), 2 persistent (control commands). */
  readonly deliveryMode: 1 | 2;
}

/**
 * Encodes a kombu JSON envelope as kombu 5.2 writes one for a fanout or reply message: keys
 * `body` (base64 of the JSON body), `content-encoding` `utf-8`, `content-type`
 * `application/json`, `headers`, `properties` (`delivery_mode`, `delivery_info`, `priority`
 * 0, `body_encoding` `base64`, `delivery_tag` a uuid4), in that order.
 *
 * @param body - the message body (JSON-encodable)
 * @param headers - the message headers
 * @param route - exchange, routing key and delivery mode
 * @returns the envelope as JSON text
 * @throws {@link EncodeError} when the body holds something JSON cannot carry
 * @see celery-wire.md §2.1
 */
export function encodeKombuJson(body: unknown, headers: Readonly<Record<string, unknown>>, route: EnvelopeRoute): string {
  const bytes = jsonSerializer.encode(body);
  const envelope = {
    body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers,
    properties: {
      delivery_mode: route.deliveryMode,
      delivery_info: { exchange: route.exchange, routing_key: route.routingKey },
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: randomUUID(),
    },
  };
  return Buffer.from(jsonSerializer.encode(envelope)).toString('utf8');
}

/** A decoded kombu JSON message. */
export interface DecodedKombuMessage {
  /** The decoded body. */
  readonly body: WireValue;
  /** The envelope headers. */
  readonly headers: WireObject;
  /** The envelope as parsed (body still encoded). */
  readonly envelope: KombuEnvelope;
}

/**
 * Decodes a kombu envelope whose body must be JSON (pidbox and events accept only `json`, as
 * kombu's `Mailbox.accept`).
 *
 * @param raw - the envelope bytes or text
 * @returns body, headers and the parsed envelope
 * @throws {@link DecodeError} or {@link InvalidMessageError} for something that is not a kombu
 *   envelope, {@link ContentDisallowedError} for a body that is not `application/json`
 */
export function decodeKombuJson(raw: Uint8Array | string): DecodedKombuMessage {
  const envelope = parseEnvelope(raw);
  const contentType = envelope['content-type'];
  if (contentType !== 'application/json') throw new ContentDisallowedError(contentType, ['application/json']);
  const encoding = (envelope.properties as unknown as Record<string, unknown>)['body_encoding'];
  let bytes: Uint8Array;
  if (encoding === 'base64') bytes = Buffer.from(envelope.body, 'base64');
  else if (encoding === undefined || encoding === null) bytes = Buffer.from(envelope.body, 'utf8');
  else throw new InvalidMessageError(`Expected properties.body_encoding "base64" or none, got ${JSON.stringify(encoding)}`);
  return { body: jsonSerializer.decode(bytes), headers: envelope.headers, envelope };
}

// ---------------------------------------------------------------------------------------------
// Events

/** Celery's event exchange (`event_exchange`). */
export const EVENT_EXCHANGE = 'celeryev';

/** The task events a worker sends, with the fields Celery 5.2 puts in each (after `uuid`). */
export const TASK_EVENT_FIELDS = {
  'task-received': ['uuid', 'name', 'args', 'kwargs', 'root_id', 'parent_id', 'retries', 'eta', 'expires'],
  'task-started': ['uuid'],
  'task-succeeded': ['uuid', 'result', 'runtime'],
  'task-failed': ['uuid', 'exception', 'traceback'],
  'task-retried': ['uuid', 'exception', 'traceback'],
  'task-revoked': ['uuid', 'terminated', 'signum', 'expired'],
  'task-rejected': ['uuid', 'requeue'],
} as const satisfies Record<string, readonly string[]>;

/** A task event type the worker emits. */
export type TaskEventType = keyof typeof TASK_EVENT_FIELDS;

/** Every {@link TaskEventType}, in lifecycle order. */
export const TASK_EVENT_TYPES: readonly TaskEventType[] = Object.freeze(Object.keys(TASK_EVENT_FIELDS) as TaskEventType[]);

/**
 * The worker's payload of a task event: an object with Celery's field names (`uuid`, `name`,
 * `args` as a repr, …). Typed `object` so that the worker's own event interfaces fit.
 */
export type TaskEventPayload = object;

/** Fields every event carries, set by the dispatcher (never taken from a payload). */
const BASE_FIELDS = new Set(['hostname', 'utcoffset', 'pid', 'clock', 'type']);

/**
 * Builds the fields of a task event from the worker's payload, in Celery's order: the fields
 * Celery 5.2 sends for that type (missing ones as `null`, as Celery always sends them), then
 * any extra payload fields. `undefined` values are dropped.
 *
 * @param type - the event type
 * @param event - the worker's payload (Celery's field names)
 * @returns the event fields, without `hostname`/`utcoffset`/`pid`/`clock`/`timestamp`/`type`
 *   unless the payload has a `timestamp`
 * @throws {@link InvalidMessageError} when `uuid` is not a non-empty string
 * @see celery/worker/request.py `send_event`, celery/worker/strategy.py
 */
export function buildTaskEvent(type: TaskEventType, event: TaskEventPayload): Record<string, unknown> {
  const payload = event as Readonly<Record<string, unknown>>;
  const uuid = payload['uuid'];
  if (typeof uuid !== 'string' || uuid === '') {
    throw new InvalidMessageError(`Expected ${type} payload to have a string uuid, got ${JSON.stringify(uuid) ?? 'undefined'}`);
  }
  const known: readonly string[] = TASK_EVENT_FIELDS[type];
  const fields: Record<string, unknown> = {};
  for (const name of known) fields[name] = payload[name] ?? null;
  // Celery sends the signal number (`signals.signum(name)`); accept a name too.
  const signum = fields['signum'];
  if (typeof signum === 'string') fields['signum'] = signalNumber(signum);
  for (const [name, value] of Object.entries(payload)) {
    if (value === undefined || BASE_FIELDS.has(name) || known.includes(name)) continue;
    fields[name] = value;
  }
  return fields;
}

function signalNumber(name: string): number | string {
  const upper = name.toUpperCase();
  const full = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return (osConstants.signals as Readonly<Record<string, number | undefined>>)[full] ?? name;
}

/**
 * Celery's `utcoffset()`: the local offset in whole hours, positive west of UTC (Python's
 * `time.timezone // 3600`, or `time.altzone // 3600` during DST).
 *
 * @param date - the moment; default now
 * @returns hours west of UTC, floored
 */
export function utcoffset(date: Date = new Date()): number {
  return Math.floor(date.getTimezoneOffset() / 60);
}

/**
 * Celery's `load_average()`: the 1/5/15-minute load averages rounded up to two decimals.
 *
 * @returns `[1 min, 5 min, 15 min]`
 */
export function loadAverage(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = loadavg();
  const round = (n: number): number => Math.ceil(n * 100) / 100;
  return [round(a), round(b), round(c)];
}

/** Python's `platform.system()` for this platform (`Linux`, `Darwin`, `Windows`). */
function platformSystem(): string {
  const name = osType();
  return name === 'Windows_NT' ? 'Windows' : name;
}

/** What a worker reports about its software in worker events (`SOFTWARE_INFO`). */
export interface SoftwareInfo {
  /** `sw_ident`; Celery sends `py-celery`. Default `celeriac`. */
  readonly ident?: string;
  /** `sw_ver`; default {@link CELERIAC_VERSION}. */
  readonly version?: string;
  /** `sw_sys`; default `platform.system()`'s name for this OS (`Linux`). */
  readonly system?: string;
}

/** The version reported as `sw_ver` unless the worker passes its own. */
export const CELERIAC_VERSION = '0.0.0';

/** The worker counters a heartbeat reports. */
export interface HeartbeatState {
  /** Tasks executing now (`len(active_requests)`). */
  readonly active: number;
  /** Tasks processed since start (`all_total_count`). */
  readonly processed: number;
}

/** Something that emits the worker's task events by name (a Node `EventEmitter` fits). */
export interface TaskEventEmitter {
  on(event: TaskEventType, listener: (payload: TaskEventPayload) => void): unknown;
  off(event: TaskEventType, listener: (payload: TaskEventPayload) => void): unknown;
}

/** Options of {@link EventDispatcher}. */
export interface EventDispatcherOptions {
  /** Where events are published (`publishFanout`). */
  readonly broker: Pick<Broker, 'publishFanout'>;
  /** The worker's node name (`celery@host`). */
  readonly hostname: string;
  /** Send task events (Celery's `-E` / `worker_send_task_events`); default false. */
  readonly enabled?: boolean;
  /**
   * Send worker events (`worker-online`, `worker-heartbeat`, `worker-offline`); default true.
   * False is Celery's `--without-heartbeat`.
   */
  readonly heartbeat?: boolean;
  /** Seconds between heartbeats (sent as `freq`); default 2, as Celery. */
  readonly heartbeatInterval?: number;
  /** The worker's Lamport clock, shared with remote control; default a new one. */
  readonly clock?: LamportClock;
  /** Current `active` and `processed` counts for heartbeats; default zeros. */
  readonly state?: () => HeartbeatState;
  /** `sw_ident`, `sw_ver`, `sw_sys`. */
  readonly software?: SoftwareInfo;
  /** Publish buffered task events at this many; default 24 (Celery's `buffer_limit`). */
  readonly bufferLimit?: number;
  /** Publish buffered task events this long after the first one, in ms; default 100. */
  readonly flushIntervalMs?: number;
  /** Most task events kept while publishing fails; older ones are dropped. Default 10 000. */
  readonly maxBuffered?: number;
  /** The event exchange (Celery's `event_exchange`); default `celeryev`. */
  readonly exchange?: string;
  /** `pid` in every event; default `process.pid`. */
  readonly pid?: number;
  /** Where publish failures are logged. */
  readonly logger?: Logger;
}

type Status = 'new' | 'running' | 'closing' | 'closed';

/**
 * Sends Celery monitoring events for one worker.
 *
 * @example
 * ```ts
 * const events = new EventDispatcher({ broker, hostname: 'celeriac@host', enabled: true, clock });
 * const detach = events.attachTo(worker); // forwards 'task-received', 'task-succeeded', …
 * await events.start(); // worker-online, then a heartbeat every 2 s
 * // …
 * detach();
 * await events.close(); // flushes task events, sends worker-offline
 * ```
 * @see celery-wire.md §5.9
 */
export class EventDispatcher {
  /** The Lamport clock stamped on every event. */
  readonly clock: LamportClock;
  /** The worker's node name. */
  readonly hostname: string;
  readonly #broker: Pick<Broker, 'publishFanout'>;
  readonly #logger: Logger;
  readonly #heartbeat: boolean;
  readonly #intervalMs: number;
  readonly #freq: number;
  readonly #state: () => HeartbeatState;
  readonly #software: { sw_ident: string; sw_ver: string; sw_sys: string };
  readonly #bufferLimit: number;
  readonly #flushMs: number;
  readonly #maxBuffered: number;
  readonly #exchange: string;
  readonly #pid: number;
  readonly #headers: Readonly<Record<string, unknown>>;
  #taskEvents: boolean;
  #status: Status = 'new';
  #buffer: Record<string, unknown>[] = [];
  #flushTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  readonly #pending = new Set<Promise<void>>();
  #dropped = 0;

  /**
   * @param options - broker, hostname, which events, intervals
   * @throws {@link RangeError} for a non-positive interval or limit
   */
  constructor(options: EventDispatcherOptions) {
    this.#broker = options.broker;
    this.hostname = options.hostname;
    this.clock = options.clock ?? new LamportClock();
    this.#logger = options.logger ?? silentLogger;
    this.#taskEvents = options.enabled === true;
    this.#heartbeat = options.heartbeat !== false;
    const interval = options.heartbeatInterval ?? 2;
    if (!(interval > 0) || !Number.isFinite(interval)) {
      throw new RangeError(`heartbeatInterval must be a positive number of seconds, got ${String(interval)}`);
    }
    this.#freq = interval;
    this.#intervalMs = interval * 1000;
    this.#state = options.state ?? (() => ({ active: 0, processed: 0 }));
    this.#software = {
      sw_ident: options.software?.ident ?? 'celeriac',
      sw_ver: options.software?.version ?? CELERIAC_VERSION,
      sw_sys: options.software?.system ?? platformSystem(),
    };
    this.#bufferLimit = positiveInt('bufferLimit', options.bufferLimit, 24);
    this.#flushMs = options.flushIntervalMs ?? 100;
    if (!(this.#flushMs >= 0)) throw new RangeError(`flushIntervalMs must be >= 0, got ${String(options.flushIntervalMs)}`);
    this.#maxBuffered = positiveInt('maxBuffered', options.maxBuffered, 10_000);
    this.#exchange = options.exchange ?? EVENT_EXCHANGE;
    this.#pid = options.pid ?? process.pid;
    this.#headers = Object.freeze({ hostname: this.hostname });
  }

  /** Whether task events are sent (Celery's `-E`); remote control may switch it. */
  get taskEventsEnabled(): boolean {
    return this.#taskEvents;
  }

  /** Task events waiting to be published. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /**
   * Turns task events on (the `enable_events` control command).
   *
   * @returns false when they were already on
   */
  enableTaskEvents(): boolean {
    if (this.#taskEvents) return false;
    this.#taskEvents = true;
    return true;
  }

  /**
   * Turns task events off (the `disable_events` control command); buffered ones still go out.
   *
   * @returns false when they were already off
   */
  disableTaskEvents(): boolean {
    if (!this.#taskEvents) return false;
    this.#taskEvents = false;
    return true;
  }

  /**
   * Sends `worker-online` and starts the heartbeat timer (unless worker events are off).
   * Resolves once `worker-online` was published (a failure is logged, not thrown).
   */
  async start(): Promise<void> {
    if (this.#status !== 'new') return;
    this.#status = 'running';
    if (!this.#heartbeat) return;
    const online = this.#sendWorkerEvent('worker-online');
    this.#heartbeatTimer = setInterval(() => void this.#sendWorkerEvent('worker-heartbeat'), this.#intervalMs);
    // Heartbeats alone never keep a process alive.
    this.#heartbeatTimer.unref();
    await online;
  }

  /**
   * Sends a `worker-heartbeat` now (the `heartbeat` control command, which `celery events`
   * and Flower broadcast to wake workers up). No-op when worker events are off.
   */
  async heartbeatNow(): Promise<void> {
    if (!this.#heartbeat || this.#status === 'closed') return;
    await this.#sendWorkerEvent('worker-heartbeat');
  }

  /**
   * Sends an event. Task events (`task-*`) are buffered and published as one `task.multi`
   * array (only when task events are enabled); other events are published at once.
   *
   * @param type - the event type, e.g. `task-succeeded`, `worker-heartbeat`
   * @param fields - the event fields (Celery's names)
   * @returns resolves when a non-buffered event was published (failures are logged)
   */
  send(type: string, fields: Readonly<Record<string, unknown>> = {}): Promise<void> {
    if (this.#status === 'closed') return Promise.resolve();
    if (type.startsWith('task-')) {
      if (!this.#taskEvents) return Promise.resolve();
      this.#buffer.push(this.#event(type, fields));
      if (this.#buffer.length >= this.#bufferLimit) void this.flush();
      else this.#flushTimer ??= setTimeout(() => void this.flush(), this.#flushMs);
      return Promise.resolve();
    }
    return this.#publishTracked(this.#event(type, fields), type.replaceAll('-', '.'));
  }

  /**
   * Sends a task event built from the worker's payload ({@link buildTaskEvent}). Payloads
   * without a uuid are logged and dropped.
   *
   * @param type - one of {@link TASK_EVENT_TYPES}
   * @param payload - the worker's payload, Celery's field names
   */
  sendTaskEvent(type: TaskEventType, payload: TaskEventPayload): void {
    let fields: Record<string, unknown>;
    try {
      fields = buildTaskEvent(type, payload);
    } catch (error) {
      this.#logger.warn('task event dropped', { type, error: error instanceof Error ? error.message : String(error) });
      return;
    }
    void this.send(type, fields);
  }

  /**
   * Forwards the worker's task events (`task-received`, …, `task-rejected`) to
   * {@link EventDispatcher.sendTaskEvent}.
   *
   * @param emitter - the worker (anything with `on`/`off` for those event names)
   * @returns a function that removes the listeners
   */
  attachTo(emitter: TaskEventEmitter): () => void {
    const listeners = TASK_EVENT_TYPES.map((type) => {
      const listener = (payload: TaskEventPayload): void => this.sendTaskEvent(type, payload);
      emitter.on(type, listener);
      return [type, listener] as const;
    });
    return () => {
      for (const [type, listener] of listeners) emitter.off(type, listener);
    };
  }

  /**
   * Publishes the buffered task events now, as one `task.multi` message. Events of a failed
   * publish are kept for the next flush (up to `maxBuffered`).
   */
  flush(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    // The batch is taken now (as Celery flushes synchronously at the limit); publishes are
    // chained, so batches go out in order.
    const batch = this.#buffer;
    this.#buffer = [];
    this.#flushing = this.#flushing.then(() => this.#publishBatch(batch));
    return this.#flushing;
  }

  async #publishBatch(batch: Record<string, unknown>[]): Promise<void> {
    if (batch.length === 0) return;
    try {
      await this.#broker.publishFanout(
        this.#exchange,
        'task.multi',
        encodeKombuJson(batch, this.#headers, { exchange: this.#exchange, routingKey: 'task.multi', deliveryMode: 1 }),
      );
    } catch (error) {
      // Celery's buffer_while_offline: keep them for the next flush.
      this.#buffer = [...batch, ...this.#buffer];
      const excess = this.#buffer.length - this.#maxBuffered;
      if (excess > 0) {
        this.#buffer.splice(0, excess);
        this.#dropped += excess;
      }
      this.#logger.warn('task events not published; kept for the next flush', {
        events: batch.length,
        buffered: this.#buffer.length,
        dropped: this.#dropped,
        error: error instanceof Error ? error.message : String(error),
      });
      if (this.#status === 'running') this.#flushTimer ??= setTimeout(() => void this.flush(), Math.max(this.#flushMs, 1000));
    }
  }

  /**
   * Stops heartbeats, publishes buffered task events and sends `worker-offline`. Idempotent;
   * failures are logged.
   */
  async close(): Promise<void> {
    if (this.#status === 'closing' || this.#status === 'closed') return;
    const wasRunning = this.#status === 'running';
    this.#status = 'closing';
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    await this.flush();
    await Promise.allSettled([...this.#pending]);
    if (wasRunning && this.#heartbeat) await this.#sendWorkerEvent('worker-offline');
    clearTimeout(this.#flushTimer);
    this.#status = 'closed';
  }

  #sendWorkerEvent(type: 'worker-online' | 'worker-heartbeat' | 'worker-offline'): Promise<void> {
    const { active, processed } = this.#state();
    return this.#publishTracked(
      this.#event(type, { freq: this.#freq, active, processed, loadavg: loadAverage(), ...this.#software }),
      type.replaceAll('-', '.'),
    );
  }

  /** Celery's `Event()`: hostname, utcoffset, pid, clock, the fields, then timestamp and type. */
  #event(type: string, fields: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const event: Record<string, unknown> = {
      hostname: this.hostname,
      utcoffset: utcoffset(),
      pid: this.#pid,
      clock: this.clock.forward(),
    };
    for (const [name, value] of Object.entries(fields)) {
      if (value !== undefined && !BASE_FIELDS.has(name)) event[name] = value;
    }
    if (!('timestamp' in event)) event['timestamp'] = Date.now() / 1000;
    event['type'] = type;
    return event;
  }

  #publishTracked(event: Record<string, unknown>, routingKey: string): Promise<void> {
    const promise = this.#broker
      .publishFanout(
        this.#exchange,
        routingKey,
        encodeKombuJson(event, this.#headers, { exchange: this.#exchange, routingKey, deliveryMode: 1 }),
      )
      .catch((error: unknown) => {
        this.#logger.warn('event not published', {
          type: event['type'],
          error: error instanceof Error ? error.message : String(error),
        });
      })
      .finally(() => this.#pending.delete(promise));
    this.#pending.add(promise);
    return promise;
  }
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/**
 * Celery task messages: protocol v2 (written and read) and protocol v1 (read, converted to
 * v2), inside kombu's Redis envelope.
 *
 * An envelope is one JSON document per Redis list element:
 * `{"body", "content-encoding", "content-type", "headers", "properties"}`, the body base64
 * of the serialized `[args, kwargs, embed]`.
 *
 * @see celery-wire.md §1 (task messages) and §2.1 (envelope)
 * @module
 */
import { Buffer } from 'node:buffer';
import { hostname } from 'node:os';
import { deflateSync, inflateSync } from 'node:zlib';
import { AcceptContent } from './accept-content.ts';
import { formatCeleryDatetime, parseCeleryDatetime } from './datetime.ts';
import { createSerializerRegistry, jsonSerializer } from './default-serializers.ts';
import {
  type CeleriacError,
  DecodeError,
  EncodeError,
  InvalidMessageError,
  LimitExceededError,
} from './errors.ts';
import { argsRepr, kwargsRepr } from './py-repr.ts';
import { describe, isPlainObject, isWireArray } from './util.ts';
import {
  DEFAULT_DECODE_LIMITS,
  type DecodeLimits,
  type Serializer,
  type SerializerRegistry,
  type WireValue,
} from './serializer.ts';

/** A JSON-like object as found on the wire. */
export type WireObject = { [key: string]: WireValue };

/** `properties.delivery_info`: kombu reads `exchange` and `routing_key` unconditionally. */
export interface DeliveryInfo {
  exchange: string;
  routing_key: string;
  redelivered?: boolean;
  [extra: string]: WireValue | undefined;
}

/** Envelope properties, in the order Celery writes them. */
export interface EnvelopeProperties {
  correlation_id?: string;
  reply_to?: string;
  /** Milliseconds until expiry, as a string; only with `expires`. Redis ignores it. */
  expiration?: string;
  delivery_mode?: number;
  delivery_info: DeliveryInfo;
  priority?: number | null;
  body_encoding?: string;
  delivery_tag: string;
  [extra: string]: WireValue | DeliveryInfo | undefined;
}

/** One Redis list element of kombu's transport. */
export interface KombuEnvelope {
  body: string;
  'content-encoding': string | null;
  'content-type': string;
  headers: WireObject;
  properties: EnvelopeProperties;
}

/** A signature as it travels in `embed` (link, link_error, chain, chord). */
export interface SignatureDict {
  task: string;
  args: WireValue[];
  kwargs: WireObject;
  options: WireObject;
  subtask_type: string | null;
  immutable: boolean;
  [extra: string]: WireValue | undefined;
}

/** The third body element. */
export interface TaskEmbed {
  callbacks: SignatureDict[] | null;
  errbacks: SignatureDict[] | null;
  /** The rest of a chain, last task first (the worker pops from the end). */
  chain: SignatureDict[] | null;
  chord: SignatureDict | null;
}

/** Protocol v2 headers, every standard key present (defaults filled in on decode). */
export interface TaskHeaders {
  lang: string;
  task: string;
  id: string;
  shadow: string | null;
  eta: string | null;
  expires: string | null;
  group: string | null;
  group_index: number | null;
  retries: number;
  timelimit: [number | null, number | null];
  root_id: string | null;
  parent_id: string | null;
  argsrepr: string | null;
  kwargsrepr: string | null;
  origin: string | null;
  ignore_result: boolean;
  [extra: string]: WireValue | undefined;
}

/** A decoded task message (protocol v1 messages come out converted to this shape). */
export interface TaskMessage {
  /** The protocol the message was written in. */
  readonly protocol: 1 | 2;
  readonly headers: TaskHeaders;
  readonly args: WireValue[];
  readonly kwargs: WireObject;
  readonly embed: TaskEmbed;
  readonly properties: EnvelopeProperties;
  readonly contentType: string;
  readonly contentEncoding: string | null;
  /** `headers.eta` parsed, or null. */
  readonly eta: Date | null;
  /** `headers.expires` parsed, or null. */
  readonly expires: Date | null;
  /** The envelope as received: what a requeue or restore must put back. */
  readonly envelope: KombuEnvelope;
}

/** Options for {@link decodeTaskMessage}. */
export interface DecodeTaskOptions {
  /** The accept-content whitelist; json only by default. */
  accept?: AcceptContent;
  /** The serializers to decode with; json and msgpack by default. */
  serializers?: SerializerRegistry;
  /** Size and nesting limits, checked before decoding. */
  limits?: DecodeLimits;
}

/** What {@link encodeTaskMessage} takes: Celery's `apply_async` options, camelCased. */
export interface TaskMessageInput {
  /** The registered task name, e.g. `tasks.add`. */
  task: string;
  /** The task id; a uuid4 by default. */
  id?: string;
  args?: readonly unknown[];
  kwargs?: Readonly<Record<string, unknown>>;
  /** Seconds from now until the task may run. Exclusive with `eta`. */
  countdown?: number;
  /** The earliest time the task may run. Exclusive with `countdown`. */
  eta?: Date;
  /** Seconds from now, or an instant, after which the task is revoked instead of run. */
  expires?: number | Date;
  /** 0..255 (Redis buckets 0/3/6/9; lower runs first on Redis). Default 0. */
  priority?: number;
  /** The queue (the routing key on the default exchange). Default `celery`. */
  queue?: string;
  /** The exchange; `""` (the default exchange), as Celery uses on Redis. */
  exchange?: string;
  retries?: number;
  /** Hard time limit in seconds. */
  timeLimit?: number | null;
  /** Soft time limit in seconds. */
  softTimeLimit?: number | null;
  shadow?: string | null;
  group?: string | null;
  groupIndex?: number | null;
  rootId?: string | null;
  parentId?: string | null;
  ignoreResult?: boolean;
  /** Extra headers, merged after the standard ones (they cannot replace them). */
  headers?: Readonly<Record<string, unknown>>;
  callbacks?: SignatureDict[] | null;
  errbacks?: SignatureDict[] | null;
  chain?: SignatureDict[] | null;
  chord?: SignatureDict | null;
  /** `gen<pid>@<host>` of the sender by default. */
  origin?: string;
  /** Client id for the rpc backend; a per-process uuid by default. */
  replyTo?: string;
  argsrepr?: string;
  kwargsrepr?: string;
  /** A fixed delivery tag (restores keep theirs); a fresh uuid4 by default. */
  deliveryTag?: string;
  /** Compress the body with zlib (Celery's `compression='zlib'`, header `application/x-gzip`). */
  compression?: 'zlib' | null;
}

/** Options for {@link encodeTaskMessage}. */
export interface EncodeTaskOptions {
  /** The body serializer; json by default. */
  serializer?: Serializer;
  /** The clock, for countdown and expires. */
  now?: Date;
}

/** An encoded message, ready for a broker. */
export interface EncodedTaskMessage {
  readonly taskId: string;
  readonly queue: string;
  readonly priority: number;
  readonly deliveryTag: string;
  readonly envelope: KombuEnvelope;
  /** The envelope as UTF-8 JSON: the Redis list element. */
  readonly raw: Buffer;
}

const STANDARD_HEADERS = new Set([
  'lang', 'task', 'id', 'shadow', 'eta', 'expires', 'group', 'group_index', 'retries', 'timelimit',
  'root_id', 'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result', 'compression',
]);
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const defaultRegistry = createSerializerRegistry();
const defaultAccept = new AcceptContent(['json'], defaultRegistry);
let processReplyTo: string | undefined;
let processOrigin: string | undefined;

/**
 * Builds a protocol v2 message in kombu's Redis envelope. It always writes the full
 * canonical header set, the 3-element body with all four embed keys and every property, so
 * the result is what Python's `apply_async` writes.
 *
 * @param input - the task, its arguments and options
 * @param options - the serializer and clock
 * @returns the envelope, its raw bytes, and where it goes
 * @throws {@link EncodeError} when an argument cannot be represented (the path names it)
 * @throws {@link InvalidMessageError} for contradictory or ill-typed options
 * @see celery-wire.md §1.1
 */
export function encodeTaskMessage(input: TaskMessageInput, options: EncodeTaskOptions = {}): EncodedTaskMessage {
  const serializer = options.serializer ?? jsonSerializer;
  const id = input.id ?? globalThis.crypto.randomUUID();
  const context = { taskId: id };
  if (typeof input.task !== 'string' || input.task === '') {
    throw new InvalidMessageError(`Expected a task name (non-empty string), got ${describe(input.task)}`, context);
  }
  const args = input.args ?? [];
  const kwargs = input.kwargs ?? {};
  if (!Array.isArray(args)) throw new InvalidMessageError(`Expected args to be an array, got ${describe(args)}`, context);
  if (!isPlainObject(kwargs)) {
    throw new InvalidMessageError(`Expected kwargs to be a plain object, got ${describe(kwargs)}`, context);
  }
  if (input.countdown !== undefined && input.eta !== undefined) {
    throw new InvalidMessageError('countdown and eta are exclusive: pass one of them', context);
  }
  const now = options.now ?? new Date();
  let eta: Date | undefined = input.eta;
  if (input.countdown !== undefined) {
    assertFiniteNumber(input.countdown, 'countdown', id);
    eta = new Date(now.getTime() + input.countdown * 1000);
  }
  if (eta !== undefined) assertDate(eta, 'eta', id);
  let expires: Date | undefined;
  if (typeof input.expires === 'number') {
    assertFiniteNumber(input.expires, 'expires', id);
    expires = new Date(now.getTime() + input.expires * 1000);
  } else if (input.expires !== undefined) {
    assertDate(input.expires, 'expires', id);
    expires = input.expires;
  }
  const priority = input.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > 255) {
    throw new InvalidMessageError(`Expected priority to be an integer 0..255, got ${describe(priority)}`, context);
  }
  const queue = input.queue ?? 'celery';
  const deliveryTag = input.deliveryTag ?? globalThis.crypto.randomUUID();

  const headers: WireObject = {
    lang: 'py',
    task: input.task,
    id,
    shadow: input.shadow ?? null,
    eta: eta === undefined ? null : formatCeleryDatetime(eta),
    expires: expires === undefined ? null : formatCeleryDatetime(expires),
    group: input.group ?? null,
    group_index: input.groupIndex ?? null,
    retries: input.retries ?? 0,
    timelimit: [input.timeLimit ?? null, input.softTimeLimit ?? null],
    root_id: input.rootId ?? id,
    parent_id: input.parentId ?? null,
    argsrepr: input.argsrepr ?? argsRepr(args),
    kwargsrepr: input.kwargsrepr ?? kwargsRepr(kwargs),
    origin: input.origin ?? defaultOrigin(),
    ignore_result: input.ignoreResult ?? false,
  };
  for (const [key, value] of Object.entries(input.headers ?? {})) {
    if (STANDARD_HEADERS.has(key)) {
      throw new InvalidMessageError(`Custom header ${JSON.stringify(key)} would replace a standard header`, context);
    }
    if (value !== undefined) headers[key] = value as WireValue;
  }

  const embed: TaskEmbed = {
    callbacks: input.callbacks ?? null,
    errbacks: input.errbacks ?? null,
    chain: input.chain ?? null,
    chord: input.chord ?? null,
  };
  let body: Uint8Array;
  try {
    body = serializer.encode([args, kwargs, embed]);
  } catch (err) {
    throw rewrapEncodeError(err, id, serializer);
  }
  if (input.compression === 'zlib') {
    body = deflateSync(body);
    headers['compression'] = 'application/x-gzip';
  }

  const properties: EnvelopeProperties = {
    correlation_id: id,
    reply_to: input.replyTo ?? defaultReplyTo(),
    delivery_mode: 2,
    ...(expires === undefined ? {} : { expiration: String(Math.max(0, expires.getTime() - now.getTime())) }),
    delivery_info: { exchange: input.exchange ?? '', routing_key: queue },
    priority,
    body_encoding: 'base64',
    delivery_tag: deliveryTag,
  };
  const envelope: KombuEnvelope = {
    body: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'),
    'content-encoding': serializer.contentEncoding,
    'content-type': serializer.contentType,
    headers,
    properties,
  };
  return { taskId: id, queue, priority, deliveryTag, envelope, raw: Buffer.from(jsonSerializer.encode(envelope)) };
}

/**
 * Parses and validates a kombu envelope: a JSON object with a string body, a content type,
 * headers, and properties holding `delivery_tag` and `delivery_info.{exchange,routing_key}`
 * (a Celery worker crashes without them). The body stays encoded.
 *
 * @param raw - the Redis list element
 * @param limits - size and nesting limits
 * @returns the envelope
 * @throws {@link DecodeError} when it is not JSON, {@link InvalidMessageError} when it is not an envelope,
 *   {@link LimitExceededError} when it is too large or deep
 * @see celery-wire.md §1.2, §2.1
 */
export function parseEnvelope(raw: string | Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): KombuEnvelope {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  let value: WireValue;
  try {
    value = jsonSerializer.decode(bytes, limits);
  } catch (err) {
    if (err instanceof LimitExceededError) throw err;
    throw new DecodeError(`Expected a kombu envelope (a JSON object), got bytes that are not JSON: ${excerpt(bytes)}`, {
      cause: err,
    });
  }
  if (!isPlainObject(value)) {
    throw new InvalidMessageError(`Expected a kombu envelope (a JSON object), got ${describe(value)}`);
  }
  const env = value;
  const headers = env['headers'] ?? {};
  const taskId = isPlainObject(headers) && typeof headers['id'] === 'string' ? headers['id'] : undefined;
  const context = { taskId };
  if (!isPlainObject(headers)) {
    throw new InvalidMessageError(`Expected envelope headers to be an object, got ${describe(headers)}`, context);
  }
  if (typeof env['body'] !== 'string') {
    throw new InvalidMessageError(`Expected envelope body to be a string, got ${describe(env['body'])}`, context);
  }
  if (typeof env['content-type'] !== 'string') {
    throw new InvalidMessageError(`Expected a content-type string, got ${describe(env['content-type'])}`, context);
  }
  const encoding = env['content-encoding'] ?? null;
  if (encoding !== null && typeof encoding !== 'string') {
    throw new InvalidMessageError(`Expected content-encoding to be a string or null, got ${describe(encoding)}`, context);
  }
  const properties = env['properties'];
  if (!isPlainObject(properties)) {
    throw new InvalidMessageError(`Expected envelope properties to be an object, got ${describe(properties)}`, context);
  }
  if (typeof properties['delivery_tag'] !== 'string' || properties['delivery_tag'] === '') {
    throw new InvalidMessageError(
      `Expected properties.delivery_tag (a string), got ${describe(properties['delivery_tag'])}`,
      context,
    );
  }
  const info = properties['delivery_info'];
  if (!isPlainObject(info) || typeof info['exchange'] !== 'string' || typeof info['routing_key'] !== 'string') {
    throw new InvalidMessageError(
      `Expected properties.delivery_info with string exchange and routing_key, got ${describe(info)}`,
      context,
    );
  }
  return env as unknown as KombuEnvelope;
}

/**
 * Reads the task id of an envelope without decoding its body (protocol v2 keeps it in the
 * headers). Used to store a FAILURE for a message that cannot be decoded.
 *
 * @param envelope - a parsed envelope
 * @returns the task id, or `undefined` for protocol v1 or foreign messages
 */
export function readTaskId(envelope: Pick<KombuEnvelope, 'headers'>): string | undefined {
  const id = envelope.headers['id'];
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/**
 * Decodes a task message, checking the accept-content whitelist before any byte of the body
 * is decoded. Protocol v1 messages (no `headers.task`) and v2 "hybrid" ones (a body object
 * with `args`) are converted to the v2 shape, as Celery 5 does.
 *
 * @param raw - the Redis list element, or an already parsed envelope
 * @param options - accept-content (json only by default), serializers, limits
 * @returns the decoded message
 * @throws {@link ContentDisallowedError} before decoding when the content type is not accepted
 * @throws {@link DecodeError}, {@link InvalidMessageError}, {@link LimitExceededError}; each carries the
 *   task id when it could be read
 * @see celery-wire.md §1.2, §1.3, §3.3
 */
export function decodeTaskMessage(raw: string | Uint8Array | KombuEnvelope, options: DecodeTaskOptions = {}): TaskMessage {
  const limits = options.limits ?? DEFAULT_DECODE_LIMITS;
  const envelope = typeof raw === 'string' || raw instanceof Uint8Array ? parseEnvelope(raw, limits) : raw;
  const taskId = readTaskId(envelope);
  const contentType = envelope['content-type'];
  (options.accept ?? defaultAccept).assert(contentType, taskId);
  const serializer = (options.serializers ?? defaultRegistry).find(contentType);
  if (serializer === undefined) {
    throw new DecodeError(`No serializer for content type ${JSON.stringify(contentType)} although it is accepted`, {
      taskId,
      contentType,
    });
  }

  const bytes = bodyBytes(envelope, limits, taskId);
  let body: WireValue;
  try {
    body = serializer.decode(bytes, limits);
  } catch (err) {
    throw rewrapDecodeError(err, taskId, contentType);
  }

  const headers = envelope.headers;
  if (typeof headers['task'] === 'string') {
    return fromV2(envelope, body, taskId);
  }
  return fromV1(envelope, body);
}

function bodyBytes(envelope: KombuEnvelope, limits: DecodeLimits, taskId: string | undefined): Uint8Array {
  const contentType = envelope['content-type'];
  const text = envelope.body;
  let bytes: Uint8Array;
  if (envelope.properties.body_encoding === 'base64') {
    // Buffer.from(…, 'base64') skips invalid characters silently; Celery's b64decode would
    // fail on them, and silently altered bytes are worse than a clear error.
    const stripped = text.replace(/\s+/g, '');
    if (stripped.length % 4 !== 0 || !BASE64_RE.test(stripped)) {
      throw new DecodeError(`Expected a base64 body (body_encoding=base64), got ${JSON.stringify(text.slice(0, 40))}`, {
        taskId,
        contentType,
      });
    }
    if ((stripped.length / 4) * 3 > limits.maxBytes + 2) {
      throw new LimitExceededError('Message body size', limits.maxBytes, Math.floor((stripped.length / 4) * 3), { taskId });
    }
    bytes = Buffer.from(stripped, 'base64');
  } else {
    bytes = Buffer.from(text, 'utf8');
  }
  const compression = envelope.headers['compression'];
  if (compression === undefined || compression === null) return bytes;
  if (compression !== 'application/x-gzip' && compression !== 'zlib') {
    throw new DecodeError(`Unsupported compression ${describe(compression)} (supported: application/x-gzip)`, {
      taskId,
      contentType,
    });
  }
  try {
    return inflateSync(bytes, { maxOutputLength: limits.maxBytes });
  } catch (err) {
    if (err instanceof RangeError) {
      throw new LimitExceededError('Decompressed body size', limits.maxBytes, Number.NaN, { taskId, cause: err });
    }
    throw new DecodeError('Compressed body does not inflate (zlib)', { taskId, contentType, cause: err });
  }
}

function fromV2(envelope: KombuEnvelope, body: WireValue, taskId: string | undefined): TaskMessage {
  const context = { taskId };
  let args: WireValue;
  let kwargs: WireValue;
  let embedValue: WireValue;
  if (Array.isArray(body)) {
    if (body.length !== 3) {
      throw new InvalidMessageError(
        `Expected a protocol v2 body [args, kwargs, embed] (3 elements), got an array of ${body.length}`,
        context,
      );
    }
    [args, kwargs, embedValue] = body as [WireValue, WireValue, WireValue];
  } else if (isPlainObject(body) && 'args' in body) {
    // "hybrid" v2: headers route, the body is a v1-style dict (Celery accepts it).
    args = body['args'] ?? [];
    kwargs = body['kwargs'] ?? {};
    embedValue = body;
  } else {
    throw new InvalidMessageError(`Expected a protocol v2 body [args, kwargs, embed], got ${describe(body)}`, context);
  }
  if (!Array.isArray(args)) throw new InvalidMessageError(`Expected args to be an array, got ${describe(args)}`, context);
  if (!isPlainObject(kwargs)) {
    throw new InvalidMessageError(`Expected kwargs to be an object, got ${describe(kwargs)}`, context);
  }
  const headers = normalizeHeaders(envelope.headers, context);
  return finish(2, envelope, headers, args as WireValue[], kwargs, toEmbed(embedValue, context, false));
}

function fromV1(envelope: KombuEnvelope, body: WireValue): TaskMessage {
  if (!isPlainObject(body) || typeof body['task'] !== 'string' || typeof body['id'] !== 'string') {
    throw new InvalidMessageError(
      `Expected headers.task (protocol v2) or a protocol v1 body with task and id, got ${describe(body)}`,
    );
  }
  const context = { taskId: body['id'] };
  const args = body['args'] ?? [];
  const kwargs = body['kwargs'] ?? {};
  if (!Array.isArray(args)) throw new InvalidMessageError(`Expected args to be an array, got ${describe(args)}`, context);
  if (!isPlainObject(kwargs)) {
    throw new InvalidMessageError(`Expected kwargs to be an object, got ${describe(kwargs)}`, context);
  }
  // celery/worker/strategy.py proto1_to_proto2: the routing fields move to the headers.
  const headers = normalizeHeaders(
    {
      lang: 'py',
      task: body['task'],
      id: body['id'],
      eta: body['eta'] ?? null,
      expires: body['expires'] ?? null,
      group: body['group'] ?? body['taskset'] ?? null,
      group_index: body['group_index'] ?? null,
      retries: body['retries'] ?? 0,
      timelimit: body['timelimit'] ?? [null, null],
      root_id: body['id'],
      parent_id: null,
    },
    context,
  );
  return finish(1, envelope, headers, args as WireValue[], kwargs, toEmbed(body, context, true));
}

function finish(
  protocol: 1 | 2,
  envelope: KombuEnvelope,
  headers: TaskHeaders,
  args: WireValue[],
  kwargs: WireObject,
  embed: TaskEmbed,
): TaskMessage {
  const context = { taskId: headers.id };
  return {
    protocol,
    headers,
    args,
    kwargs,
    embed,
    properties: envelope.properties,
    contentType: envelope['content-type'],
    contentEncoding: envelope['content-encoding'] ?? null,
    eta: parseHeaderDate(headers.eta, 'eta', context),
    expires: parseHeaderDate(headers.expires, 'expires', context),
    envelope,
  };
}

function normalizeHeaders(raw: WireObject, context: { taskId: string | undefined }): TaskHeaders {
  const str = (key: string, fallback: string | null): string | null => {
    const v = raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string') throw new InvalidMessageError(`Expected headers.${key} to be a string, got ${describe(v)}`, context);
    return v;
  };
  const int = (key: string, fallback: number | null): number | null => {
    const v = raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new InvalidMessageError(`Expected headers.${key} to be an integer, got ${describe(v)}`, context);
    }
    return v;
  };
  const limit = (v: WireValue | undefined): number | null => {
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new InvalidMessageError(`Expected headers.timelimit entries to be numbers or null, got ${describe(v)}`, context);
    }
    return v;
  };
  const timelimit = raw['timelimit'];
  if (timelimit !== undefined && timelimit !== null && (!isWireArray(timelimit) || timelimit.length !== 2)) {
    throw new InvalidMessageError(`Expected headers.timelimit to be [hard, soft], got ${describe(timelimit)}`, context);
  }
  const id = str('id', null);
  const task = str('task', null);
  if (id === null || id === '') throw new InvalidMessageError('Expected headers.id (the task id), got none', context);
  if (task === null || task === '') throw new InvalidMessageError('Expected headers.task (the task name), got none', context);
  const headers: TaskHeaders = {
    ...raw,
    lang: str('lang', 'py') ?? 'py',
    task,
    id,
    shadow: str('shadow', null),
    eta: str('eta', null),
    expires: str('expires', null),
    group: str('group', null),
    group_index: int('group_index', null),
    retries: int('retries', 0) ?? 0,
    timelimit: isWireArray(timelimit) ? [limit(timelimit[0]), limit(timelimit[1])] : [null, null],
    root_id: str('root_id', null),
    parent_id: str('parent_id', null),
    argsrepr: str('argsrepr', null),
    kwargsrepr: str('kwargsrepr', null),
    origin: str('origin', null),
    ignore_result: raw['ignore_result'] === true,
  };
  return headers;
}

function toEmbed(value: WireValue, context: { taskId: string | undefined }, v1: boolean): TaskEmbed {
  if (value === null || value === undefined) return { callbacks: null, errbacks: null, chain: null, chord: null };
  if (!isPlainObject(value)) throw new InvalidMessageError(`Expected embed to be an object or null, got ${describe(value)}`, context);
  const list = (key: string): SignatureDict[] | null => {
    const v = value[key];
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v) || !v.every(isPlainObject)) {
      throw new InvalidMessageError(`Expected embed.${key} to be a list of signatures, got ${describe(v)}`, context);
    }
    return v as SignatureDict[];
  };
  const chord = value['chord'];
  if (chord !== undefined && chord !== null && !isPlainObject(chord)) {
    throw new InvalidMessageError(`Expected embed.chord to be a signature, got ${describe(chord)}`, context);
  }
  return {
    callbacks: list('callbacks'),
    errbacks: list('errbacks'),
    chain: v1 ? null : list('chain'),
    chord: (chord ?? null) as SignatureDict | null,
  };
}

function parseHeaderDate(text: string | null, key: string, context: { taskId: string | undefined }): Date | null {
  if (text === null) return null;
  const date = parseCeleryDatetime(text);
  if (date === undefined) {
    throw new InvalidMessageError(`Expected headers.${key} to be an ISO-8601 datetime, got ${JSON.stringify(text)}`, context);
  }
  return date;
}

function rewrapDecodeError(err: unknown, taskId: string | undefined, contentType: string): CeleriacError {
  if (err instanceof LimitExceededError) {
    return new LimitExceededError('Message body', err.limit, err.actual, { taskId, cause: err });
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new DecodeError(`Message body does not decode: ${detail}`, { taskId, contentType, cause: err });
}

function rewrapEncodeError(err: unknown, taskId: string, serializer: Serializer): CeleriacError {
  if (!(err instanceof EncodeError)) {
    const detail = err instanceof Error ? err.message : String(err);
    return new EncodeError(`Task arguments do not encode with ${serializer.name}: ${detail}`, {
      taskId,
      contentType: serializer.contentType,
      cause: err,
    });
  }
  // The serializer saw the body [args, kwargs, embed]; name the argument as the caller wrote it.
  const path = err.path?.replace(/^\[0\]/, 'args').replace(/^\[1\]/, 'kwargs').replace(/^\[2\]/, 'embed');
  return new EncodeError(`Task arguments do not encode with ${serializer.name}: ${err.message}`, {
    taskId,
    path,
    contentType: serializer.contentType,
    cause: err,
  });
}

function defaultReplyTo(): string {
  processReplyTo ??= globalThis.crypto.randomUUID();
  return processReplyTo;
}

function defaultOrigin(): string {
  processOrigin ??= `gen${process.pid}@${hostname()}`;
  return processOrigin;
}

function assertFiniteNumber(value: unknown, name: string, taskId: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidMessageError(`Expected ${name} to be a finite number of seconds, got ${describe(value)}`, { taskId });
  }
}

function assertDate(value: unknown, name: string, taskId: string): void {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new InvalidMessageError(`Expected ${name} to be a valid Date, got ${describe(value)}`, { taskId });
  }
}

function excerpt(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 60)).toString('utf8');
  return JSON.stringify(bytes.byteLength > 60 ? `${text}...` : text);
}

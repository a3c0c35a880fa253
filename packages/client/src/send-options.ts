/**
 * The per-call options of `delay` / `applyAsync` / `sendTask`: Celery's `apply_async`
 * keyword arguments, camelCased, and their wire form inside a signature's `options`.
 *
 * @module
 */
import { formatCeleryDatetime, parseCeleryDatetime, type SignatureDict, type WireObject, type WireValue } from '@celeriac/protocol';

/** How a failed publish is retried (Celery's `retry_policy`, in seconds). */
export interface RetryPolicy {
  /** Retries after the first attempt (so `maxRetries + 1` attempts at most). Celery default 3. */
  readonly maxRetries?: number;
  /** Seconds before the first retry. Celery default 0. */
  readonly intervalStart?: number;
  /** Seconds added before each further retry. Celery default 0.2. */
  readonly intervalStep?: number;
  /** The longest wait between two attempts. Celery default 1. */
  readonly intervalMax?: number;
}

/** Something that stands for a signature: a signature dict, or an object with `s()` (a task). */
export type SignatureLike = SignatureDict | { s(): SignatureDict };

/**
 * Celery's `apply_async` options, camelCased. Unset options fall back to the task's options,
 * then to the app configuration.
 *
 * @see celery-wire.md §1.1
 */
export interface SendOptions {
  /** Seconds from now until the task may run (sets the `eta` header). Exclusive with `eta`. */
  readonly countdown?: number;
  /** The earliest time the task may run. Exclusive with `countdown`. */
  readonly eta?: Date;
  /** Seconds from now, or an instant, after which a worker revokes the task instead of running it. */
  readonly expires?: number | Date;
  /** 0..255; on Redis buckets 0/3/6/9 of `priority_steps`, and lower runs first. */
  readonly priority?: number;
  /** The queue. */
  readonly queue?: string;
  /** The routing key; on Redis (default exchange) it is the queue, so it is used when `queue` is not given. */
  readonly routingKey?: string;
  /** Extra message headers (they cannot replace Celery's own). */
  readonly headers?: Readonly<Record<string, unknown>>;
  /** The body serializer, by name (`json`, `msgpack`, or one registered in `app.serializers`). */
  readonly serializer?: string;
  /** Compress the body (`zlib`). */
  readonly compression?: 'zlib' | null;
  /**
   * The worker does not store the result on success (failures are still stored, as in
   * Celery). The handle then rejects `get()` at once; `refresh()` still reads a failure.
   */
  readonly ignoreResult?: boolean;
  /** The task id (a uuid4 by default). */
  readonly taskId?: string;
  /** Signatures applied with the result when the task succeeds (`link`). */
  readonly link?: SignatureLike | readonly SignatureLike[];
  /** Signatures applied with the request id when the task fails (`link_error`). */
  readonly linkError?: SignatureLike | readonly SignatureLike[];
  /** Hard time limit in seconds. */
  readonly timeLimit?: number;
  /** Soft time limit in seconds. */
  readonly softTimeLimit?: number;
  /** The name shown in logs and monitors instead of the task name. */
  readonly shadow?: string;
  /** Retry the publish on connection errors (default: `task_publish_retry`, true). */
  readonly retry?: boolean;
  /** Overrides of `task_publish_retry_policy` for this call. */
  readonly retryPolicy?: RetryPolicy;
  /** The id of the task that sends this one (canvas, subtasks). */
  readonly parentId?: string;
  /** The id of the first task of the workflow (default: this task's id). */
  readonly rootId?: string;
  /** The group this task belongs to. */
  readonly groupId?: string;
  /** Its position in a chord header. */
  readonly groupIndex?: number;
  /** How many times it was retried (a worker re-sending a retry sets it). */
  readonly retries?: number;
  /** The rest of a chain, last task first (canvas). */
  readonly chain?: readonly SignatureDict[];
  /** The chord callback (canvas). */
  readonly chord?: SignatureDict;
}

const SEND_OPTION_KEYS: readonly (keyof SendOptions)[] = [
  'countdown', 'eta', 'expires', 'priority', 'queue', 'routingKey', 'headers', 'serializer', 'compression',
  'ignoreResult', 'taskId', 'link', 'linkError', 'timeLimit', 'softTimeLimit', 'shadow', 'retry', 'retryPolicy',
  'parentId', 'rootId', 'groupId', 'groupIndex', 'retries', 'chain', 'chord',
];

/** Every option name of {@link SendOptions}. */
export const SEND_OPTION_NAMES: ReadonlySet<string> = new Set(SEND_OPTION_KEYS);

/** camelCase option → Celery's `apply_async` keyword, for signature options. */
const WIRE_NAMES: Readonly<Record<keyof SendOptions, string>> = {
  countdown: 'countdown',
  eta: 'eta',
  expires: 'expires',
  priority: 'priority',
  queue: 'queue',
  routingKey: 'routing_key',
  headers: 'headers',
  serializer: 'serializer',
  compression: 'compression',
  ignoreResult: 'ignore_result',
  taskId: 'task_id',
  link: 'link',
  linkError: 'link_error',
  timeLimit: 'time_limit',
  softTimeLimit: 'soft_time_limit',
  shadow: 'shadow',
  retry: 'retry',
  retryPolicy: 'retry_policy',
  parentId: 'parent_id',
  rootId: 'root_id',
  groupId: 'group_id',
  groupIndex: 'group_index',
  retries: 'retries',
  chain: 'chain',
  chord: 'chord',
};

/**
 * Turns a signature-like (a dict, or a task via its `s()`) into a signature dict.
 *
 * @param value - the signature or task
 * @returns the signature dict
 */
export function toSignatureDict(value: SignatureLike): SignatureDict {
  return 'task' in value && typeof value.task === 'string' ? (value) : (value as { s(): SignatureDict }).s();
}

/**
 * @param value - one signature-like or a list
 * @returns the signature dicts, or `null` for none
 */
export function toSignatureList(value: SignatureLike | readonly SignatureLike[] | undefined): SignatureDict[] | null {
  if (value === undefined) return null;
  const list = Array.isArray(value) ? (value as readonly SignatureLike[]) : [value as SignatureLike];
  return list.length === 0 ? null : list.map(toSignatureDict);
}

/**
 * The wire form of send options inside a signature (`options` of a signature dict): Celery's
 * keyword names, dates as ISO strings, signatures as dicts.
 *
 * @param options - the send options
 * @returns the options as Celery's `apply_async` would take them
 */
export function toWireOptions(options: SendOptions): WireObject {
  const out: WireObject = {};
  for (const key of SEND_OPTION_KEYS) {
    const value = options[key];
    if (value === undefined) continue;
    const name = WIRE_NAMES[key];
    if (value instanceof Date) out[name] = formatCeleryDatetime(value);
    else if (key === 'link' || key === 'linkError') out[name] = toSignatureList(value as SignatureLike | readonly SignatureLike[]) as WireValue;
    else if (key === 'retryPolicy') {
      const policy = value as RetryPolicy;
      const wire: WireObject = {};
      if (policy.maxRetries !== undefined) wire['max_retries'] = policy.maxRetries;
      if (policy.intervalStart !== undefined) wire['interval_start'] = policy.intervalStart;
      if (policy.intervalStep !== undefined) wire['interval_step'] = policy.intervalStep;
      if (policy.intervalMax !== undefined) wire['interval_max'] = policy.intervalMax;
      out[name] = wire;
    } else out[name] = value as WireValue;
  }
  return out;
}

function wireDate(value: WireValue | undefined): Date | undefined {
  if (value instanceof Date) return value;
  return typeof value === 'string' ? parseCeleryDatetime(value) : undefined;
}

function wireNumber(value: WireValue | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function wireString(value: WireValue | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function wireSignatures(value: WireValue | undefined): SignatureDict[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = (Array.isArray(value) ? value : [value]).filter(
    (s): s is WireObject => typeof s === 'object' && s !== null && !Array.isArray(s) && typeof (s as WireObject)['task'] === 'string',
  );
  return list.length === 0 ? undefined : (list as unknown as SignatureDict[]);
}

/**
 * The inverse of {@link toWireOptions} for the options a signature carries (Celery's names,
 * as a Python client writes them): what a planned canvas message needs to be sent through
 * the app. Options Celeriac does not send (`reply_to`, `exchange`, …) are dropped; a value
 * of the wrong type is ignored rather than sent.
 *
 * @param options - a signature's `options`
 * @returns the send options
 */
export function fromWireOptions(options: WireObject): SendOptions {
  const o = options;
  const queue = o['queue'];
  const queueName = typeof queue === 'object' && queue !== null && !Array.isArray(queue) ? wireString((queue as WireObject)['name']) : wireString(queue);
  const expires = o['expires'];
  const eta = wireDate(o['eta']);
  const out: { -readonly [K in keyof SendOptions]: SendOptions[K] } = {
    taskId: wireString(o['task_id']),
    queue: queueName ?? wireString(o['routing_key']),
    eta,
    countdown: eta === undefined ? wireNumber(o['countdown']) : undefined,
    expires: typeof expires === 'number' ? expires : wireDate(expires),
    priority: wireNumber(o['priority']),
    timeLimit: wireNumber(o['time_limit']),
    softTimeLimit: wireNumber(o['soft_time_limit']),
    shadow: wireString(o['shadow']),
    serializer: wireString(o['serializer']),
    compression: o['compression'] === 'zlib' ? 'zlib' : undefined,
    ignoreResult: typeof o['ignore_result'] === 'boolean' ? o['ignore_result'] : undefined,
    groupId: wireString(o['group_id']),
    groupIndex: wireNumber(o['group_index']),
    parentId: wireString(o['parent_id']),
    rootId: wireString(o['root_id']),
    link: wireSignatures(o['link']),
    linkError: wireSignatures(o['link_error']),
    chain: wireSignatures(o['chain']),
    chord: wireSignatures(o['chord'])?.[0],
    headers: typeof o['headers'] === 'object' && o['headers'] !== null && !Array.isArray(o['headers']) ? (o['headers'] as Record<string, unknown>) : undefined,
  };
  for (const key of Object.keys(out) as (keyof SendOptions)[]) if (out[key] === undefined) delete out[key];
  return out;
}

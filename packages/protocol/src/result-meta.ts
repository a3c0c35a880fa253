/**
 * Result metas: the documents Celery's Redis backend stores under `celery-task-meta-<id>`
 * and publishes on the channel of the same name. Serialized with the result serializer as
 * plain documents (no envelope, no content type on the wire).
 *
 * @see celery-wire.md §4.3
 * @module
 */
import { Buffer } from 'node:buffer';
import type { AcceptContent } from './accept-content.ts';
import { formatDateDone } from './datetime.ts';
import { jsonSerializer } from './default-serializers.ts';
import { CeleriacError, DecodeError, ErrorCode, LimitExceededError } from './errors.ts';
import { decodeException, encodeException, type RemoteTaskError } from './exceptions.ts';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits, type Serializer, type WireValue } from './serializer.ts';
import { EXCEPTION_STATES, READY_STATES, TaskState } from './task-state.ts';
import type { WireObject } from './task-message.ts';
import { describe, isPlainObject } from './util.ts';

/** A result document, keys as on the wire and in Celery's order. */
export interface ResultMeta {
  status: string;
  /** The return value; an exception info for FAILURE / RETRY / REVOKED; `{pid, hostname}` for STARTED. */
  result: WireValue;
  traceback: string | null;
  /** Result tuples of tasks sent from inside this one (`[[["<id>", null], null]]`). */
  children: WireValue[] | null;
  /** Naive UTC ISO datetime for ready states, null otherwise. */
  date_done: string | null;
  group_id?: string;
  parent_id?: string;
  /** The `result_extended` fields. */
  name?: string | null;
  args?: WireValue[] | null;
  kwargs?: WireObject | null;
  worker?: string | null;
  retries?: number | null;
  queue?: string | null;
  task_id: string;
  [extra: string]: WireValue | undefined;
}

/** The `result_extended` fields of a meta. */
export interface ResultExtended {
  name: string | null;
  args: readonly unknown[] | null;
  kwargs: Readonly<Record<string, unknown>> | null;
  worker: string | null;
  retries: number | null;
  queue: string | null;
}

/** What {@link createResultMeta} takes. */
export interface ResultMetaInput {
  taskId: string;
  status: string;
  /** The return value, or for exception states the thrown value (encoded with {@link encodeException}). */
  result?: unknown;
  traceback?: string | null;
  children?: WireValue[] | null;
  /** When the task finished; now by default for ready states. Ignored for other states. */
  dateDone?: Date;
  groupId?: string | null;
  parentId?: string | null;
  /** Present only with `result_extended`. */
  extended?: ResultExtended;
}

/**
 * Builds a meta with Celery's key order: status, result, traceback, children, date_done,
 * group_id, parent_id, the extended fields, task_id.
 *
 * @param input - the state and value
 * @returns the meta, ready for {@link encodeResultMeta}
 */
export function createResultMeta(input: ResultMetaInput): ResultMeta {
  const exceptional = EXCEPTION_STATES.has(input.status);
  const result = exceptional
    ? (isExceptionInfo(input.result) ? input.result : encodeException(input.result))
    : input.result;
  const meta: ResultMeta = {
    status: input.status,
    result: (result ?? null) as WireValue,
    traceback: input.traceback ?? null,
    children: input.children === undefined ? [] : input.children,
    date_done: READY_STATES.has(input.status) ? formatDateDone(input.dateDone ?? new Date()) : null,
    task_id: '',
  };
  if (typeof input.groupId === 'string' && input.groupId !== '') meta.group_id = input.groupId;
  if (typeof input.parentId === 'string' && input.parentId !== '') meta.parent_id = input.parentId;
  if (input.extended !== undefined) {
    const e = input.extended;
    meta.name = e.name;
    meta.args = e.args === null ? null : ([...e.args] as WireValue[]);
    meta.kwargs = e.kwargs as WireObject | null;
    meta.worker = e.worker;
    meta.retries = e.retries;
    meta.queue = e.queue;
  }
  // task_id last, as Celery writes it: delete and re-add to move the key to the end.
  delete (meta as Partial<ResultMeta>).task_id;
  meta.task_id = input.taskId;
  return meta;
}

/**
 * @param meta - a result meta
 * @param serializer - the result serializer (json by default)
 * @returns the bytes to store and publish
 * @throws {@link EncodeError} when the result cannot be represented (store a FAILURE instead)
 */
export function encodeResultMeta(meta: ResultMeta, serializer: Serializer = jsonSerializer): Uint8Array {
  return serializer.encode(meta);
}

/** Options for {@link decodeResultMeta}. */
export interface DecodeResultOptions {
  /** The result serializer the writer used (results carry no content type). json by default. */
  serializer?: Serializer;
  /** `result_accept_content`; checked against the serializer before decoding. */
  accept?: AcceptContent;
  limits?: DecodeLimits;
  /** The id the meta was read for, for errors and as a fallback `task_id`. */
  taskId?: string;
}

/**
 * Decodes and validates a stored or published meta.
 *
 * @param data - the value of `celery-task-meta-<id>` or a pub/sub message
 * @param options - serializer, accept-content, limits, task id
 * @returns the meta, missing optional fields filled with Celery's defaults
 * @throws {@link ContentDisallowedError} when the serializer is not in `accept`
 * @throws {@link DecodeError} for bytes that do not decode (including a msgpack meta read as json,
 *   which says so), {@link LimitExceededError}, or {@link CeleriacError} `INVALID_RESULT` for a document
 *   that is not a result meta
 */
export function decodeResultMeta(data: string | Uint8Array, options: DecodeResultOptions = {}): ResultMeta {
  const serializer = options.serializer ?? jsonSerializer;
  const taskId = options.taskId;
  options.accept?.assert(serializer.contentType, taskId);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let value: WireValue;
  try {
    value = serializer.decode(bytes, options.limits ?? DEFAULT_DECODE_LIMITS);
  } catch (err) {
    if (err instanceof LimitExceededError) {
      throw new LimitExceededError('Result meta', err.limit, err.actual, { taskId, cause: err });
    }
    const hint = mismatchHint(bytes, serializer);
    const detail = err instanceof Error ? err.message : String(err);
    throw new DecodeError(`Result meta does not decode with ${serializer.name}: ${hint ?? detail}`, {
      taskId,
      contentType: serializer.contentType,
      cause: err,
    });
  }
  return validateResultMeta(value, taskId);
}

/**
 * Checks a decoded value is a Celery result meta and fills Celery's defaults.
 *
 * @param value - the decoded document
 * @param taskId - the id it was read for
 * @returns the meta
 * @throws {@link CeleriacError} `INVALID_RESULT`
 */
export function validateResultMeta(value: WireValue, taskId?: string): ResultMeta {
  const fail = (what: string): never => {
    throw new CeleriacError(
      ErrorCode.INVALID_RESULT,
      `Expected a Celery result meta${taskId === undefined ? '' : ` for task ${taskId}`}: ${what}`,
    );
  };
  if (!isPlainObject(value)) return fail(`got ${describe(value)}`);
  const status = value['status'];
  if (typeof status !== 'string' || status === '') return fail(`status must be a state string, got ${describe(status)}`);
  const id = value['task_id'] ?? taskId;
  if (typeof id !== 'string') return fail(`task_id must be a string, got ${describe(id)}`);
  if (taskId !== undefined && id !== taskId) return fail(`task_id is ${JSON.stringify(id)}`);
  const traceback = value['traceback'] ?? null;
  if (traceback !== null && typeof traceback !== 'string') return fail(`traceback must be a string, got ${describe(traceback)}`);
  const children = value['children'] === undefined ? [] : value['children'];
  if (children !== null && !Array.isArray(children)) return fail(`children must be a list, got ${describe(children)}`);
  const dateDone = value['date_done'] ?? null;
  if (dateDone !== null && typeof dateDone !== 'string') return fail(`date_done must be a string, got ${describe(dateDone)}`);
  return {
    ...value,
    status,
    result: value['result'] ?? null,
    traceback,
    children: children as WireValue[] | null,
    date_done: dateDone,
    task_id: id,
  };
}

/**
 * The error a client raises for a FAILURE / REVOKED (or RETRY) meta, rebuilt by name only.
 *
 * @param meta - a meta in an exception state
 * @returns the error
 */
export function errorFromMeta(meta: ResultMeta): RemoteTaskError {
  return decodeException(meta.result, { traceback: meta.traceback, taskId: meta.task_id, state: meta.status });
}

/**
 * The meta Celery reports for an id with no stored result.
 *
 * @param taskId - the task id
 * @returns a PENDING meta
 */
export function pendingMeta(taskId: string): ResultMeta {
  return { status: TaskState.PENDING, result: null, traceback: null, children: [], date_done: null, task_id: taskId };
}

function isExceptionInfo(value: unknown): boolean {
  return isPlainObject(value) && typeof value['exc_type'] === 'string' && 'exc_message' in value;
}

/** A friendlier message when the writer used the other serializer (celery-wire §3.3). */
function mismatchHint(bytes: Uint8Array, serializer: Serializer): string | undefined {
  const first = bytes[0];
  if (first === undefined) return undefined;
  const looksMsgpackMap = (first >= 0x80 && first <= 0x8f) || first === 0xde || first === 0xdf;
  if (serializer.contentType === 'application/json' && looksMsgpackMap) {
    return "the bytes look like msgpack: the writer's result_serializer is msgpack, set result_serializer to 'msgpack' here too";
  }
  if (serializer.contentType === 'application/x-msgpack' && first === 0x7b) {
    return "the bytes look like JSON: the writer's result_serializer is json, set result_serializer to 'json' here too";
  }
  return undefined;
}

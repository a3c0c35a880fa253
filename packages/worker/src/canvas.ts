/**
 * Link callbacks, errbacks and chains, as Celery 5.2's worker applies them (`app/trace.py`
 * on success, `backends/base.py: mark_as_failure` / `_call_task_errbacks` on failure): a
 * signature dict from `embed` becomes a task message, sent by name like
 * `Signature.apply_async(partial_args, parent_id=…, root_id=…)` does.
 *
 * @see celery-wire.md §1.1, §4.8
 * @module
 */
import { createRouter, fromWireOptions, toSignatureList, type Router } from '@celeriac/client';
import {
  encodeTaskMessage,
  type EncodedTaskMessage,
  type Serializer,
  type SignatureDict,
  type TaskMessageInput,
  type WireValue,
} from '@celeriac/protocol';

/** What sending a signature needs besides the signature. */
export interface SignatureSendContext {
  /** The id of the task that sends it (its `parent_id`). */
  readonly parentId: string;
  /** The workflow's root id. */
  readonly rootId: string;
  /** The queue when neither the signature nor the routes name one. */
  readonly queueFor: (task: string, args: readonly WireValue[], kwargs: Readonly<Record<string, WireValue>>) => string;
  /** The serializer by name (`options.serializer`), else the sender's. */
  readonly serializer: (name: string | undefined) => Serializer;
  /** `gen<pid>@<host>`. */
  readonly origin: string;
}

function isObject(value: unknown): value is Record<string, WireValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** @returns whether the value looks like a signature dict (`task` name, maybe args/kwargs/options) */
export function isSignatureDict(value: unknown): value is SignatureDict {
  return isObject(value) && typeof value['task'] === 'string' && value['task'] !== '';
}

function str(value: WireValue | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Encodes a signature as Celery's `sig.apply_async(partial, parent_id=…, root_id=…)`:
 * args = partial + sig args (sig args alone when immutable), kwargs = sig kwargs, options
 * from `sig.options` (`task_id`, `queue`, `priority`, `countdown`, `eta`, `expires`,
 * `time_limit`, `soft_time_limit`, `link`, `link_error`, `shadow`, `group_id`,
 * `group_index`, `ignore_result`, `reply_to`, `serializer`, `chain`, `chord`). Canvas
 * signatures are planned first with `planSignature` from `@celeriac/client`.
 *
 * @param signature - the signature dict from `embed`
 * @param partial - args prepended unless immutable (`[retval]`, or `[task_id]` for errbacks)
 * @param ctx - parent/root ids, routing, serializer
 * @returns the encoded message
 * @throws what encodeTaskMessage throws, or Error for a canvas signature (plan it first)
 */
export function encodeSignature(
  sig: SignatureDict,
  partial: readonly WireValue[],
  ctx: SignatureSendContext,
): EncodedTaskMessage {
  if (sig.subtask_type !== null && sig.subtask_type !== undefined) {
    throw new Error(`encodeSignature sends one task; plan the ${String(sig.subtask_type)} ${sig.task} with planSignature first`);
  }
  const sigArgs: WireValue[] = Array.isArray(sig.args) ? sig.args : [];
  const kwargs: Record<string, WireValue> = isObject(sig.kwargs) ? sig.kwargs : {};
  const args = sig.immutable === true ? sigArgs : [...partial, ...sigArgs];
  const o: Record<string, WireValue> = isObject(sig.options) ? sig.options : {};
  // The producer's reading of Celery's option names, so both sides read a signature alike.
  const options = fromWireOptions(o);
  const priority = options.priority;
  const input: TaskMessageInput = {
    task: sig.task,
    ...(options.taskId === undefined ? {} : { id: options.taskId }),
    args,
    kwargs,
    queue: options.queue ?? ctx.queueFor(sig.task, args, kwargs),
    ...(options.eta === undefined ? {} : { eta: options.eta }),
    ...(options.countdown === undefined ? {} : { countdown: options.countdown }),
    ...(options.expires === undefined ? {} : { expires: options.expires }),
    ...(priority === undefined || !Number.isInteger(priority) || priority < 0 || priority > 255 ? {} : { priority }),
    timeLimit: options.timeLimit ?? null,
    softTimeLimit: options.softTimeLimit ?? null,
    shadow: options.shadow ?? null,
    group: options.groupId ?? null,
    groupIndex: options.groupIndex ?? null,
    ignoreResult: options.ignoreResult === true,
    rootId: ctx.rootId,
    parentId: ctx.parentId,
    callbacks: toSignatureList(options.link),
    errbacks: toSignatureList(options.linkError),
    chain: options.chain === undefined ? null : [...options.chain],
    chord: options.chord ?? null,
    origin: ctx.origin,
    ...(str(o['reply_to']) === undefined ? {} : { replyTo: str(o['reply_to']) }),
  };
  return encodeTaskMessage(input, { serializer: ctx.serializer(options.serializer) });
}

/**
 * @param routes - the app's `task_routes` (any shape `createRouter` takes), or nothing
 * @returns a router that never throws (a bad setting routes nothing)
 */
export function safeRouter(routes: unknown): Router {
  try {
    return createRouter(routes);
  } catch {
    return () => undefined;
  }
}

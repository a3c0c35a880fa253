/**
 * Canvas: `chain`, `group` and `chord` as Celery 5.2 serializes and applies them, shared by
 * the producer (`app.applyAsync`) and the worker (callbacks, the next step of a chain, a
 * chord body).
 *
 * Signatures are plain data: the dicts below are exactly what Celery's `Signature` subclasses
 * serialize to, so a canvas built here travels inside a Python message and the reverse.
 *
 * - chain: `{"task": "celery.chain", "kwargs": {"tasks": [...]}, "subtask_type": "chain"}`
 * - group: `{"task": "celery.group", "kwargs": {"tasks": [...]}, "subtask_type": "group"}`
 * - chord: `{"task": "celery.chord", "kwargs": {"header": <group>, "body": <sig>, "kwargs": {}}, "subtask_type": "chord"}`
 *
 * Applying a canvas is split in two pure steps, so both sides send the same messages:
 * {@link freezeSignature} fixes every task id up front (Celery's `freeze`), and
 * {@link planSignature} turns a signature into the simple task messages to publish and the
 * chord sizes to set first (Celery's `chain.run`, `group._apply_tasks`, `chord.run`):
 *
 * - a chain sends its first step carrying the rest in `options.chain`, last step first; a
 *   group followed by another step becomes a chord (`prepare_steps`); the chain's last step
 *   carries the chain's own `group_id` / `chord` / `group_index` (so a chain inside a chord
 *   header counts once, when it ends);
 * - a group sends each member with `group_id`; nested groups are unrolled;
 * - a chord sets `celery-taskset-meta-<gid>.s` to the header size (Celery's `_descend`:
 *   a chain counts by its last step, a nested chord by its body) and sends each header member
 *   with `group_id`, `group_index` and `chord` = the frozen body; the body receives the
 *   chain and outer-chord options; an empty header sends the body at once with `[[]]`.
 *
 * @see celery-wire.md §1.1, §4.8; celery/canvas.py
 * @module
 */
import { randomUUID } from 'node:crypto';
import { CeleriacError, ErrorCode, type SignatureDict, type WireObject, type WireValue } from '@celeriac/protocol';
import type { SignatureLike } from './send-options.ts';

/** A chain signature dict (`subtask_type: "chain"`). */
export interface ChainSignature extends SignatureDict {
  subtask_type: 'chain';
}

/** A group signature dict (`subtask_type: "group"`). */
export interface GroupSignature extends SignatureDict {
  subtask_type: 'group';
}

/** A chord signature dict (`subtask_type: "chord"`). */
export interface ChordSignature extends SignatureDict {
  subtask_type: 'chord';
}

/** What applying a signature will produce: a task's id, or a group's id and members. */
export type ResultNode =
  | { readonly kind: 'task'; readonly id: string }
  | { readonly kind: 'group'; readonly id: string; readonly results: readonly ResultNode[] };

/** The messages and chord sizes applying a signature needs, and the result it gives. */
export interface CanvasPlan {
  /** Chord sizes (`<gid>.s`) to set before any message is published. */
  readonly chordSizes: { readonly groupId: string; readonly size: number }[];
  /**
   * Simple task signatures to publish, in order. Their args are final (partial args already
   * merged, so they are marked immutable) and their options hold `task_id` and, where they
   * apply, `group_id`, `group_index`, `chord`, `chain`, `link`, `link_error`.
   */
  readonly messages: SignatureDict[];
  /** The result of the whole signature. */
  readonly result: ResultNode;
}

type Kind = 'task' | 'chain' | 'group' | 'chord';

function invalid(message: string): CeleriacError {
  return new CeleriacError(ErrorCode.INVALID_MESSAGE, message);
}

function isObject(value: unknown): value is Record<string, WireValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function isSignature(value: unknown): value is SignatureDict {
  return isObject(value) && typeof value['task'] === 'string' && value['task'] !== '';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** A signature dict with every field present (Python sends all six; others may not). */
function normalize(value: unknown, where: string): SignatureDict {
  if (!isSignature(value)) throw invalid(`Expected a signature dict ({"task": ...}) in ${where}, got ${describe(value)}`);
  return {
    ...value,
    task: value.task,
    args: Array.isArray(value.args) ? value.args : [],
    kwargs: isObject(value.kwargs) ? value.kwargs : {},
    options: isObject(value.options) ? value.options : {},
    subtask_type: typeof value.subtask_type === 'string' ? value.subtask_type : null,
    immutable: value.immutable === true,
  };
}

function kindOf(sig: SignatureDict): Kind {
  const type = sig.subtask_type;
  if (type === null || type === undefined) return 'task';
  if (type === 'chain' || type === 'group' || type === 'chord') return type;
  throw invalid(`Signature ${sig.task} has subtask_type ${JSON.stringify(type)}; Celeriac applies tasks, chains, groups and chords`);
}

function membersOf(sig: SignatureDict): SignatureDict[] {
  // Celery stores the tasks in kwargs.tasks; very old clients put them in args[0].
  const tasks = sig.kwargs['tasks'] ?? sig.args[0];
  if (!Array.isArray(tasks)) throw invalid(`Expected a list of signatures in ${sig.task} kwargs.tasks, got ${describe(tasks)}`);
  return tasks.map((t, i) => normalize(t, `${sig.task} task ${i}`));
}

function chordParts(sig: SignatureDict): { header: SignatureDict; body: SignatureDict } {
  const rawHeader = sig.kwargs['header'];
  // The header is a group signature since Celery 4; a bare list before that.
  const header = Array.isArray(rawHeader) ? group(rawHeader.map((t, i) => normalize(t, `chord header task ${i}`))) : normalize(rawHeader, 'chord header');
  if (kindOf(header) !== 'group') throw invalid(`Expected the chord header to be a group, got a ${kindOf(header)}`);
  const body = normalize(sig.kwargs['body'], 'chord body');
  return { header, body };
}

function str(value: WireValue | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function signatureList(value: WireValue | undefined): SignatureDict[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).filter(isSignature);
}

function without(options: WireObject, ...keys: string[]): WireObject {
  const out: WireObject = { ...options };
  for (const key of keys) delete out[key];
  return out;
}

/**
 * Celery's `Signature._merge`: call options override the signature's, except `group_id`
 * once set (an immutable option: changing it would stall a chord).
 */
function mergeOptions(own: WireObject, call: WireObject): WireObject {
  const out: WireObject = { ...own };
  for (const [key, value] of Object.entries(call)) {
    if (value === undefined || value === null) continue;
    if (key === 'group_id' && own['group_id'] !== undefined && own['group_id'] !== null) continue;
    out[key] = value;
  }
  return out;
}

function dictOf(sig: SignatureDict): WireValue {
  return sig as unknown as WireValue;
}

// ---------------------------------------------------------------------------------------------
// Builders

function hasS(value: unknown): value is { s(): SignatureDict } {
  return typeof value === 'object' && value !== null && !isSignature(value) && typeof (value as { s?: unknown }).s === 'function';
}

function toList(items: readonly (SignatureLike | readonly SignatureLike[])[]): SignatureDict[] {
  const flat = items.length === 1 && Array.isArray(items[0]) ? (items[0] as readonly SignatureLike[]) : (items as readonly SignatureLike[]);
  return flat.map((s, i) => normalize(hasS(s) ? s.s() : s, `canvas member ${i}`));
}

/**
 * A chain: each step gets the previous step's result as its first argument (unless it is
 * immutable, `si()`). Celery's `chain(a, b, c)` or `a | b | c`.
 *
 * @param tasks - the steps, or one array of steps
 * @returns the chain signature dict
 * @throws InvalidMessageError when a step is not a signature
 */
export function chain(...tasks: (SignatureLike | readonly SignatureLike[])[]): ChainSignature {
  return { task: 'celery.chain', args: [], kwargs: { tasks: toList(tasks).map(dictOf) }, options: {}, subtask_type: 'chain', immutable: false };
}

/**
 * A group: its members run in parallel; its result is the list of their results, in order.
 *
 * @param tasks - the members, or one array of members
 * @returns the group signature dict
 * @throws InvalidMessageError when a member is not a signature
 */
export function group(...tasks: (SignatureLike | readonly SignatureLike[])[]): GroupSignature {
  return { task: 'celery.group', args: [], kwargs: { tasks: toList(tasks).map(dictOf) }, options: {}, subtask_type: 'group', immutable: false };
}

/**
 * A chord: the body runs once every header member has finished, with the list of their
 * results (in header order) as its first argument. A failed member fails the body with
 * Celery's `ChordError`. Needs a result backend (the header counts down in Redis).
 *
 * @param header - the header members, or a group
 * @param body - the callback
 * @returns the chord signature dict
 * @throws InvalidMessageError when a member or the body is not a signature
 */
export function chord(header: readonly SignatureLike[] | GroupSignature, body: SignatureLike): ChordSignature {
  // Unfrozen, Celery serializes the header as a list of signatures (a group once frozen).
  const headerValue: WireValue = Array.isArray(header)
    ? toList([header as readonly SignatureLike[]]).map(dictOf)
    : Object.keys((header as GroupSignature).options).length === 0
      ? (membersOf(normalize(header, 'chord header')).map(dictOf))
      : dictOf(header as GroupSignature);
  return {
    task: 'celery.chord',
    args: [],
    kwargs: { kwargs: {}, header: headerValue, body: dictOf(normalize(hasS(body) ? body.s() : body, 'chord body')) },
    options: {},
    subtask_type: 'chord',
    immutable: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Freeze

/** Where a frozen signature sits: its id, and the group / chord it completes. */
interface FreezeContext {
  readonly id?: string | undefined;
  readonly groupId?: string | undefined;
  readonly chord?: SignatureDict | undefined;
  readonly groupIndex?: number | undefined;
}

/** A group's members with nested groups unrolled, as `group._prepared` / `_freeze_unroll`. */
function unrolled(sig: SignatureDict): SignatureDict[] {
  const out: SignatureDict[] = [];
  for (const member of membersOf(sig)) {
    if (kindOf(member) === 'group') out.push(...unrolled(member));
    else out.push(member);
  }
  return out;
}

/**
 * The steps of a chain as `chain.prepare_steps` arranges them: nested chains spliced,
 * one-member groups unrolled, and a group followed by another step upgraded to a chord
 * whose body is that step (working from the end, as Celery does).
 */
function chainSteps(sig: SignatureDict): SignatureDict[] {
  const flat: SignatureDict[] = [];
  const splice = (s: SignatureDict): void => {
    for (const step of membersOf(s)) {
      const kind = kindOf(step);
      if (kind === 'chain') splice(step);
      else if (kind === 'group') {
        const members = membersOf(step);
        flat.push(members.length === 1 && members[0] !== undefined ? members[0] : step);
      } else flat.push(step);
    }
  };
  splice(sig);
  const steps: SignatureDict[] = [];
  for (let i = flat.length - 1; i >= 0; i--) {
    const step = flat[i] as SignatureDict;
    const next = steps[0];
    if (kindOf(step) === 'group' && next !== undefined) {
      steps[0] = { ...chord(step as GroupSignature, next), options: {} };
    } else steps.unshift(step);
  }
  return steps;
}

/**
 * Celery's `sig.freeze()`: fixes the task ids of a signature and of everything inside it
 * (chain steps, group members, chord header and body), so the results can be awaited before
 * anything runs. Ids already set are kept. Pure: returns a new dict.
 *
 * @param signature - any signature dict
 * @returns the frozen signature and the result it will give
 * @throws InvalidMessageError for a malformed signature or an unsupported canvas type
 */
export function freezeSignature(signature: SignatureDict): { signature: SignatureDict; result: ResultNode } {
  return freeze(normalize(signature, 'signature'), {});
}

function freeze(sig: SignatureDict, ctx: FreezeContext): { signature: SignatureDict; result: ResultNode } {
  switch (kindOf(sig)) {
    case 'task': {
      const options: WireObject = { ...sig.options };
      const id = str(options['task_id']) ?? ctx.id ?? randomUUID();
      options['task_id'] = id;
      if (ctx.groupId !== undefined && str(options['group_id']) === undefined) options['group_id'] = ctx.groupId;
      if (ctx.chord !== undefined) options['chord'] = dictOf(ctx.chord);
      if (ctx.groupIndex !== undefined) options['group_index'] = ctx.groupIndex;
      return { signature: { ...sig, options }, result: { kind: 'task', id } };
    }
    case 'chain': {
      const steps = chainSteps(sig);
      if (steps.length === 0) throw invalid('Cannot freeze an empty chain');
      const frozen = steps.map((step, i) => freeze(step, i === steps.length - 1 ? ctx : {}));
      const last = frozen[frozen.length - 1] as { result: ResultNode };
      return { signature: { ...sig, kwargs: { ...sig.kwargs, tasks: frozen.map((f) => dictOf(f.signature)) } }, result: last.result };
    }
    case 'group': {
      const options: WireObject = { ...sig.options };
      const gid = str(options['task_id']) ?? randomUUID();
      options['task_id'] = gid;
      const inChord = ctx.chord !== undefined;
      // As `_freeze_group_tasks`: members get no group_id here, only when the group is
      // applied. A Python worker that applies a frozen chord rebuilds its header as a plain
      // list (losing the group's task_id) and counts under a new group id; a member that
      // already carried the old one would count under the wrong key and the chord would hang.
      const members = unrolled(sig).map((member, i) => freeze(member, { chord: ctx.chord, groupIndex: inChord ? i : undefined }));
      return {
        signature: { ...sig, options, kwargs: { ...sig.kwargs, tasks: members.map((m) => dictOf(m.signature)) } },
        result: { kind: 'group', id: gid, results: members.map((m) => m.result) },
      };
    }
    case 'chord': {
      const { header, body } = chordParts(sig);
      const frozenBody = freeze(body, { id: ctx.id ?? str(sig.options['task_id']), groupId: ctx.groupId, chord: ctx.chord, groupIndex: ctx.groupIndex });
      const frozenHeader = freeze(header, { chord: frozenBody.signature });
      return {
        signature: { ...sig, kwargs: { ...sig.kwargs, header: dictOf(frozenHeader.signature), body: dictOf(frozenBody.signature) } },
        result: frozenBody.result,
      };
    }
  }
}

/**
 * Celery's `chord._descend`: how many completions a header member adds to the chord count.
 *
 * @param sig - a header member
 * @returns 1 for a task, the sum for a group, the last non-empty step for a chain, the body for a chord
 */
export function chordSizeOf(sig: SignatureDict): number {
  switch (kindOf(sig)) {
    case 'task':
      return 1;
    case 'group':
      return unrolled(sig).reduce((n, m) => n + chordSizeOf(m), 0);
    case 'chain': {
      const steps = membersOf(sig);
      for (let i = steps.length - 1; i >= 0; i--) {
        const size = chordSizeOf(steps[i] as SignatureDict);
        if (size > 0) return size;
      }
      return 0;
    }
    case 'chord':
      return chordSizeOf(chordParts(sig).body);
  }
}

// ---------------------------------------------------------------------------------------------
// Plan

/**
 * What applying a signature publishes: Celery's `sig.apply_async(partial_args, **options)`.
 * The signature is frozen first, so the plan's ids are the ones a {@link freezeSignature}
 * of the same dict would give only when the dict was already frozen (as the steps a worker
 * receives in `embed.chain` and `embed.chord` are).
 *
 * @param signature - any signature dict (task, chain, group, chord)
 * @param partial - args prepended to the (first) task's args unless immutable: the parent's
 *   result for a callback or the next step of a chain, `[results]` for a chord body
 * @param options - call options in Celery's wire names, merged over the signature's
 *   (`chain` — the rest of an enclosing chain, last step first — is appended to, not replaced)
 * @returns the chord sizes to set, then the messages to publish, and the result
 * @throws InvalidMessageError for a malformed signature, a `link` on a group, or an
 *   unsupported canvas type
 */
export function planSignature(signature: SignatureDict, partial: readonly WireValue[] = [], options: WireObject = {}): CanvasPlan {
  const plan: CanvasPlan = { chordSizes: [], messages: [], result: { kind: 'task', id: '' } };
  const result = apply(normalize(signature, 'signature'), partial, options, plan);
  return { ...plan, result };
}

function apply(sig: SignatureDict, partial: readonly WireValue[], call: WireObject, plan: CanvasPlan): ResultNode {
  switch (kindOf(sig)) {
    case 'task':
      return applyTask(sig, partial, call, plan);
    case 'chain':
      return applyChain(sig, partial, call, plan);
    case 'group':
      return applyGroup(sig, partial, call, plan);
    case 'chord':
      return applyChord(sig, partial, call, plan);
  }
}

function applyTask(sig: SignatureDict, partial: readonly WireValue[], call: WireObject, plan: CanvasPlan): ResultNode {
  const options = mergeOptions(sig.options, call);
  const id = str(options['task_id']) ?? randomUUID();
  options['task_id'] = id;
  const args = sig.immutable ? sig.args : [...partial, ...sig.args];
  plan.messages.push({ ...sig, args, options, immutable: true });
  return { kind: 'task', id };
}

function applyChain(sig: SignatureDict, partial: readonly WireValue[], call: WireObject, plan: CanvasPlan): ResultNode {
  const options = mergeOptions(sig.options, call);
  const steps = chainSteps(sig);
  if (steps.length === 0) throw invalid('Cannot apply an empty chain');
  // chain.run: the chain's task_id / group_id / chord / group_index belong to its last step,
  // link to the last step, link_error to every step.
  const errbacks = signatureList(options['link_error']);
  const links = signatureList(options['link']);
  const frozen = steps.map((step, i) => {
    const isLast = i === steps.length - 1;
    const withCallbacks = errbacks.length === 0 && (!isLast || links.length === 0)
      ? step
      : {
          ...step,
          options: {
            ...step.options,
            ...(errbacks.length === 0 ? {} : { link_error: [...signatureList(step.options['link_error']), ...errbacks].map(dictOf) }),
            ...(isLast && links.length > 0 ? { link: [...signatureList(step.options['link']), ...links].map(dictOf) } : {}),
          },
        };
    const ctx: FreezeContext = isLast
      ? {
          id: str(options['task_id']),
          groupId: str(options['group_id']),
          chord: isSignature(options['chord']) ? normalize(options['chord'], 'chain chord') : undefined,
          groupIndex: typeof options['group_index'] === 'number' ? options['group_index'] : undefined,
        }
      : {};
    return freeze(withCallbacks, ctx);
  });
  const [first, ...rest] = frozen;
  if (first === undefined) throw invalid('Cannot apply an empty chain');
  const outer = signatureList(options['chain']);
  const carried = [...outer, ...rest.map((f) => f.signature).reverse()];
  const firstOptions = without(options, 'task_id', 'group_id', 'group_index', 'chord', 'link', 'link_error', 'chain');
  const args = sig.immutable ? [] : partial;
  apply(first.signature, [...args, ...sig.args], carried.length === 0 ? firstOptions : { ...firstOptions, chain: carried.map(dictOf) }, plan);
  return (frozen[frozen.length - 1] as { result: ResultNode }).result;
}

function applyGroup(sig: SignatureDict, partial: readonly WireValue[], call: WireObject, plan: CanvasPlan): ResultNode {
  const options = mergeOptions(sig.options, call);
  if (signatureList(options['link']).length > 0) throw invalid('Cannot add a link to a group: use a chord');
  if (signatureList(options['chain']).length > 0) {
    throw invalid('A group cannot carry the rest of a chain: a group followed by a step is a chord');
  }
  const gid = str(options['task_id']) ?? randomUUID();
  const body = isSignature(options['chord']) ? normalize(options['chord'], 'group chord') : undefined;
  const members = unrolled(sig);
  if (body !== undefined) plan.chordSizes.push({ groupId: gid, size: members.reduce((n, m) => n + chordSizeOf(m), 0) });
  const memberOptions = without(options, 'task_id', 'chord', 'group_index', 'link_error');
  const errbacks = signatureList(options['link_error']);
  const results = members.map((member, i) =>
    apply(
      errbacks.length === 0 ? member : { ...member, options: { ...member.options, link_error: [...signatureList(member.options['link_error']), ...errbacks].map(dictOf) } },
      partial,
      { ...memberOptions, group_id: gid, ...(body === undefined ? {} : { chord: dictOf(body), group_index: i }) },
      plan,
    ),
  );
  return { kind: 'group', id: gid, results };
}

function applyChord(sig: SignatureDict, partial: readonly WireValue[], call: WireObject, plan: CanvasPlan): ResultNode {
  const options = mergeOptions(sig.options, call);
  const { header, body } = chordParts(sig);
  const args = sig.immutable ? [] : partial;
  // chord.run: every call option but the task id goes to the body (the rest of an enclosing
  // chain, an outer chord it completes, link / link_error); the header gets none of those.
  const bodyOptions = mergeOptions(body.options, without(options, 'task_id'));
  const frozenBody = freeze({ ...body, options: bodyOptions }, { id: str(options['task_id']) });
  const gid = str(header.options['task_id']) ?? randomUUID();
  if (membersOf(header).length === 0) {
    // An empty header never counts down: Celery sends the body at once with [].
    apply(frozenBody.signature, [[]], {}, plan);
    return frozenBody.result;
  }
  const headerOptions = without(options, 'task_id', 'chain', 'chord', 'group_id', 'group_index', 'link', 'link_error');
  apply(
    { ...header, options: { ...header.options, task_id: gid } },
    [...args, ...sig.args],
    { ...headerOptions, task_id: gid, chord: dictOf(frozenBody.signature) },
    plan,
  );
  return frozenBody.result;
}

/**
 * The ids a result node stands for at its end: a task's id, or every member's for a group.
 *
 * @param node - a result node
 * @returns the task ids
 */
export function leafIds(node: ResultNode): string[] {
  return node.kind === 'task' ? [node.id] : node.results.flatMap(leafIds);
}

/**
 * The result tuple Celery stores in a parent's `children` for what it sent: `[[id, null], null]`
 * for a task, `[[gid, null], [members...]]` for a group.
 *
 * @param node - a result node
 * @returns the result tuple
 */
export function resultTupleOf(node: ResultNode): WireValue {
  return node.kind === 'task' ? [[node.id, null], null] : [[node.id, null], node.results.map(resultTupleOf)];
}

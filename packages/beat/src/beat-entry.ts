/**
 * Beat entries: Celery's `beat_schedule` shape (name → `{ task, schedule, args, kwargs,
 * options }`), checked and normalised once, when the beat is made.
 *
 * @module
 */
import { closestName, SEND_OPTION_NAMES, type RetryPolicy, type SendOptions } from '@celeriac/client';
import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import type { ScheduleInput, Schedule } from './schedule.ts';
import { toSchedule } from './to-schedule.ts';

/**
 * The send options of an entry: `SendOptions` of `@celeriac/client` (camelCase), or Celery's
 * `apply_async` names as a Python `beat_schedule` has them (`routing_key`, `ignore_result`,
 * `time_limit`, `retry_policy: { max_retries, … }`, …).
 */
export type BeatEntryOptions = SendOptions | Readonly<Record<string, unknown>>;

/** One entry of a schedule, as Celery's `beat_schedule` values. */
export interface BeatEntryInput {
  /** The task name (sent by name, as Celery's `send_task`: it need not be registered here). */
  readonly task: string;
  /** When: seconds, `{ every: ms }`, a crontab string, or `every()` / `crontab()`. */
  readonly schedule: ScheduleInput;
  /** Positional arguments; default `[]`. */
  readonly args?: readonly unknown[];
  /** Keyword arguments; default `{}`. */
  readonly kwargs?: Readonly<Record<string, unknown>>;
  /** Send options (queue, priority, expires, headers, …); default `{}`. */
  readonly options?: BeatEntryOptions;
}

/** A checked entry. */
export interface BeatEntry {
  /** The entry's name (its key in the schedule, and its field in the state hash). */
  readonly name: string;
  readonly task: string;
  readonly schedule: Schedule;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** The send options, camelCase. */
  readonly options: SendOptions;
}

/** Celery's `apply_async` keyword → `SendOptions` name, where they differ. */
const CELERY_OPTION_NAMES: Readonly<Record<string, keyof SendOptions>> = {
  routing_key: 'routingKey',
  ignore_result: 'ignoreResult',
  task_id: 'taskId',
  link_error: 'linkError',
  time_limit: 'timeLimit',
  soft_time_limit: 'softTimeLimit',
  retry_policy: 'retryPolicy',
  parent_id: 'parentId',
  root_id: 'rootId',
  group_id: 'groupId',
  group_index: 'groupIndex',
};

const RETRY_POLICY_NAMES: Readonly<Record<string, keyof RetryPolicy>> = {
  max_retries: 'maxRetries',
  maxRetries: 'maxRetries',
  interval_start: 'intervalStart',
  intervalStart: 'intervalStart',
  interval_step: 'intervalStep',
  intervalStep: 'intervalStep',
  interval_max: 'intervalMax',
  intervalMax: 'intervalMax',
};

const ENTRY_KEYS: ReadonlySet<string> = new Set(['task', 'schedule', 'args', 'kwargs', 'options']);
const ALL_OPTION_NAMES: ReadonlySet<string> = new Set([...SEND_OPTION_NAMES, ...Object.keys(CELERY_OPTION_NAMES)]);

function invalid(message: string): CeleriacError {
  return new CeleriacError(ErrorCode.INVALID_CONFIG, message);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function suggestion(key: string, names: ReadonlySet<string>): string {
  const close = closestName(key, names);
  return close === undefined ? '' : `; did you mean '${close}'?`;
}

function toRetryPolicy(value: unknown, where: string): RetryPolicy {
  if (!isPlainObject(value)) throw invalid(`${where}: retry_policy must be an object ({ max_retries, interval_start, interval_step, interval_max }), got ${JSON.stringify(value)}`);
  const out: { -readonly [K in keyof RetryPolicy]: RetryPolicy[K] } = {};
  for (const [key, v] of Object.entries(value)) {
    const name = RETRY_POLICY_NAMES[key];
    if (name === undefined) throw invalid(`${where}: unknown retry_policy key '${key}'${suggestion(key, new Set(Object.keys(RETRY_POLICY_NAMES)))}`);
    out[name] = v as number;
  }
  return out;
}

/**
 * Reads an entry's options, in Celery's names or camelCase.
 *
 * @param options - the entry's `options`
 * @param where - for the error message
 * @returns the send options
 * @throws {@link CeleriacError} `INVALID_CONFIG` for an option `sendTask` does not take
 */
export function toSendOptions(options: unknown, where: string): SendOptions {
  if (options === undefined || options === null) return {};
  if (!isPlainObject(options)) throw invalid(`${where}: options must be an object, got ${JSON.stringify(options)}`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (key === 'exchange') {
      throw invalid(`${where}: option 'exchange' is not supported (Celeriac publishes to the default exchange on Redis); route with 'queue'`);
    }
    const name = CELERY_OPTION_NAMES[key] ?? key;
    if (!SEND_OPTION_NAMES.has(name)) throw invalid(`${where}: unknown send option '${key}'${suggestion(key, ALL_OPTION_NAMES)}`);
    if (name in out) throw invalid(`${where}: option '${name}' is given twice (as '${key}' and under another name)`);
    out[name] = name === 'retryPolicy' ? toRetryPolicy(value, where) : value;
  }
  if (out['headers'] !== undefined && !isPlainObject(out['headers'])) {
    throw invalid(`${where}: headers must be an object, got ${JSON.stringify(out['headers'])}`);
  }
  return out;
}

/**
 * Checks one entry.
 *
 * @param name - the entry's name
 * @param input - `{ task, schedule, args?, kwargs?, options? }`
 * @param timezone - the zone of crontabs that name none (the app's `timezone`)
 * @returns the entry
 * @throws {@link CeleriacError} `INVALID_CONFIG` naming the entry, what was expected and what came
 */
export function toBeatEntry(name: string, input: unknown, timezone: string): BeatEntry {
  const where = `beat_schedule[${JSON.stringify(name)}]`;
  if (name === '') throw invalid('beat_schedule: an entry name must be a non-empty string');
  if (!isPlainObject(input)) {
    throw invalid(`${where}: expected an object { task, schedule, args?, kwargs?, options? }, got ${JSON.stringify(input) ?? String(input)}`);
  }
  for (const key of Object.keys(input)) {
    if (!ENTRY_KEYS.has(key)) throw invalid(`${where}: unknown key '${key}'${suggestion(key, ENTRY_KEYS)}; an entry has task, schedule, args, kwargs, options`);
  }
  const { task, schedule, args, kwargs, options } = input;
  if (typeof task !== 'string' || task === '') throw invalid(`${where}: task must be a task name (non-empty string), got ${JSON.stringify(task)}`);
  if (schedule === undefined) throw invalid(`${where}: schedule is required (seconds, { every: ms }, a crontab string or crontab({ … }))`);
  if (args !== undefined && !Array.isArray(args)) throw invalid(`${where}: args must be an array, got ${JSON.stringify(args)}`);
  if (kwargs !== undefined && !isPlainObject(kwargs)) throw invalid(`${where}: kwargs must be an object, got ${JSON.stringify(kwargs)}`);
  return Object.freeze({
    name,
    task,
    schedule: toSchedule(schedule, timezone, where),
    args: Object.freeze([...((args as unknown[] | undefined) ?? [])]),
    kwargs: Object.freeze({ ...((kwargs) ?? {}) }),
    options: Object.freeze(toSendOptions(options, where)),
  });
}

/**
 * Checks a whole schedule (Celery's `beat_schedule`).
 *
 * @param schedule - name → entry
 * @param timezone - the zone of crontabs that name none
 * @returns the entries, in the schedule's order
 * @throws {@link CeleriacError} `INVALID_CONFIG` for the first bad entry
 */
export function toBeatEntries(schedule: Readonly<Record<string, unknown>>, timezone: string): BeatEntry[] {
  if (!isPlainObject(schedule)) throw invalid(`beat_schedule must be an object (name → entry), got ${JSON.stringify(schedule)}`);
  return Object.entries(schedule).map(([name, input]) => toBeatEntry(name, input, timezone));
}

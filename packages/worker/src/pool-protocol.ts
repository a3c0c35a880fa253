/**
 * The pool protocol: what the worker and a pool child (a `node:worker_threads` thread or a
 * `node:child_process` fork, both running `pool-child.js`) say to each other. Messages go by
 * structured clone (`postMessage`, or `fork` with `serialization: 'advanced'`), so bigints,
 * `Uint8Array`s and `Date`s cross unchanged.
 *
 * ```
 * worker → child  {t: 'run', id, task, module, args, request}   run task `task` from `module`
 * worker → child  {t: 'abort', id, reason}                      abort that run's ctx.signal
 * child  → worker {t: 'done', id, ok: true, value}              it returned
 * child  → worker {t: 'done', id, ok: false, error}             it threw (or could not be found)
 * ```
 *
 * A child runs one task at a time. It loads `module` once (dynamic `import()`), finds the
 * task by name (an exported app's `tasks.get(name)`, or an exported task definition whose
 * `name` matches), calls it with a context built like the in-loop one (`ctx.retry()` and
 * `autoretryFor` are applied in the child) and answers `done`. Errors cross as
 * {@link SerializedError}s and become errors with the same `name`, `message`, `stack`,
 * Python `args` and `excModule` on the worker's side. Hard limits and terminate kill the
 * child (`terminate()` / SIGKILL); an exit while running is a `WorkerLostError`.
 *
 * @module
 */
import type { TaskRequest } from '@celeriac/client';
import { TaskRejectError } from '@celeriac/protocol';
import { TaskRetry } from './task-context.ts';
import {
  type CeleryNamedError,
  MaxRetriesExceededError,
  SoftTimeLimitExceededError,
  TaskRevokedError,
  TimeLimitExceededError,
} from './worker-errors.ts';

/** Run a task in the child. */
export interface RunMessage {
  readonly t: 'run';
  readonly id: number;
  readonly task: string;
  /** Absolute path or file URL of the module that registers the task. */
  readonly module: string;
  /** The bound arguments (after the context). */
  readonly args: readonly unknown[];
  readonly request: TaskRequest;
}

/** Abort a run's signal. */
export interface AbortMessage {
  readonly t: 'abort';
  readonly id: number;
  readonly reason: SerializedError;
}

/** A run ended. */
export type DoneMessage =
  | { readonly t: 'done'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly t: 'done'; readonly id: number; readonly ok: false; readonly error: SerializedError };

/** Worker → child. */
export type ParentMessage = RunMessage | AbortMessage;
/** Child → worker. */
export type ChildMessage = DoneMessage;

/** An error as it crosses the pool boundary. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string | undefined;
  /** Python args (`exc_message`), when the error has its own. */
  readonly args?: readonly unknown[] | undefined;
  /** Python module, when the error names one. */
  readonly excModule?: string | undefined;
  /** Set for a retry: when, why, and replacement arguments. */
  readonly retry?: {
    readonly countdown?: number | undefined;
    readonly eta?: Date | undefined;
    readonly exc?: SerializedError | undefined;
    readonly args?: readonly unknown[] | undefined;
    readonly kwargs?: Readonly<Record<string, unknown>> | undefined;
  };
  /** Set for a reject. */
  readonly reject?: { readonly requeue: boolean };
  /** Not an `Error` at all: its Python-ish repr. */
  readonly thrownValue?: boolean;
}

/**
 * @param error - anything thrown
 * @returns its serializable form
 */
export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) {
    return { name: 'Exception', message: typeof error === 'string' ? error : String(error), thrownValue: true };
  }
  const own = error as Error & { args?: unknown; excModule?: unknown };
  const base = {
    name: error.name,
    message: error.message,
    stack: error.stack,
    args: Array.isArray(own.args) ? cloneable(own.args) : undefined,
    excModule: typeof own.excModule === 'string' ? own.excModule : undefined,
  };
  if (error instanceof TaskRetry) {
    return {
      ...base,
      retry: {
        countdown: error.countdown,
        eta: error.eta,
        exc: error.exc === undefined ? undefined : serializeError(error.exc),
        args: error.retryArgs,
        kwargs: error.retryKwargs,
      },
    };
  }
  if (error instanceof TaskRejectError) return { ...base, reject: { requeue: error.requeue } };
  return base;
}

/**
 * @param data - a serialized error
 * @returns an error with the same identity (retry and reject errors become the real classes)
 */
export function deserializeError(data: SerializedError): Error {
  if (data.retry !== undefined) {
    const r = data.retry;
    return withStack(
      new TaskRetry(data.message, {
        countdown: r.countdown,
        eta: r.eta,
        exc: r.exc === undefined ? undefined : deserializeError(r.exc),
        args: r.args,
        kwargs: r.kwargs,
      }),
      data.stack,
    );
  }
  if (data.reject !== undefined) return withStack(new TaskRejectError(data.message, { requeue: data.reject.requeue }), data.stack);
  const known = knownError(data);
  if (known !== undefined) {
    known.message = data.message;
    return withStack(known, data.stack);
  }
  const error = new Error(data.message) as Error & { args?: unknown[]; excModule?: string };
  error.name = data.name;
  if (data.args !== undefined) error.args = [...data.args];
  if (data.excModule !== undefined) error.excModule = data.excModule;
  return withStack(error, data.stack);
}

function knownError(data: SerializedError): CeleryNamedError | undefined {
  const first = data.args?.[0];
  switch (data.name) {
    case 'SoftTimeLimitExceeded':
      return new SoftTimeLimitExceededError(Number.NaN);
    case 'TimeLimitExceeded':
      return new TimeLimitExceededError(typeof first === 'number' ? first : Number.NaN);
    case 'MaxRetriesExceededError':
      return new MaxRetriesExceededError(typeof first === 'string' ? first : data.message);
    case 'TaskRevokedError':
      return first === 'expired' || first === 'terminated' || first === 'revoked' ? new TaskRevokedError(first) : undefined;
    default:
      return undefined;
  }
}

function withStack<T extends Error>(error: T, stack: string | undefined): T {
  if (stack !== undefined) error.stack = stack;
  return error;
}

function cloneable(values: unknown[]): unknown[] {
  return values.map((v) => (typeof v === 'function' || typeof v === 'symbol' ? String(v) : v));
}

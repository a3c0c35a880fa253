/**
 * What a running task gets (its {@link TaskContext}) and how one invocation ends, shared by
 * the in-loop pool and the pool children so that `ctx.retry()`, `autoretryFor` and the
 * backoff behave the same everywhere.
 *
 * @see celery-wire.md §5.5
 * @module
 */
import type { RetryCallOptions, TaskContext, TaskDefinition, TaskOptions, TaskRequest } from '@celeriac/client';
import { argsRepr, kwargsRepr, pyRepr, TaskRejectError, TaskRetryError } from '@celeriac/protocol';
import { MaxRetriesExceededError } from './worker-errors.ts';

/** Celery's `max_retries` default. */
export const DEFAULT_MAX_RETRIES = 3;
/** Celery's `default_retry_delay` (seconds). */
export const DEFAULT_RETRY_DELAY = 180;
/** Celery's `retry_backoff_max` default (seconds). */
export const DEFAULT_BACKOFF_MAX = 600;

/**
 * The error `ctx.retry()` builds: Celery's `Retry`, plus what the retry message should carry
 * when the task replaced its arguments.
 */
export class TaskRetry extends TaskRetryError {
  /** Replacement positional args for the retry, if any. */
  readonly retryArgs: readonly unknown[] | undefined;
  /** Replacement keyword args for the retry, if any. */
  readonly retryKwargs: Readonly<Record<string, unknown>> | undefined;

  /**
   * @param message - `Retry in <n>s[: <exc repr>]`
   * @param options - when, why, and replacement arguments
   */
  constructor(
    message: string,
    options: { countdown?: number; eta?: Date; exc?: unknown; args?: readonly unknown[]; kwargs?: Readonly<Record<string, unknown>> },
  ) {
    super(message, { countdown: options.countdown, eta: options.eta, exc: options.exc });
    this.retryArgs = options.args;
    this.retryKwargs = options.kwargs;
  }
}

/**
 * Celery's `self.retry()`: the error to throw. When the retries ran out it is the given
 * `exc` (or a {@link MaxRetriesExceededError}) instead, so throwing it fails the task.
 *
 * @param request - the running request (its `retries`)
 * @param options - the task's options (`maxRetries`, `defaultRetryDelay`)
 * @param call - the arguments of `ctx.retry()`
 * @returns a {@link TaskRetry}, or the error to fail with
 */
export function buildRetryError(request: TaskRequest, options: TaskOptions, call: RetryCallOptions = {}): Error {
  const max = call.maxRetries !== undefined ? call.maxRetries : options.maxRetries === undefined ? DEFAULT_MAX_RETRIES : options.maxRetries;
  if (max !== null && request.retries >= max) {
    if (call.exc !== undefined) return call.exc instanceof Error ? call.exc : new Error(typeof call.exc === 'string' ? call.exc : pyRepr(call.exc));
    return new MaxRetriesExceededError(
      `Can't retry ${request.task}[${request.id}] args:${argsRepr(request.args)} kwargs:${kwargsRepr(request.kwargs)}`,
    );
  }
  const countdown = call.eta !== undefined ? undefined : (call.countdown ?? options.defaultRetryDelay ?? DEFAULT_RETRY_DELAY);
  const when = call.eta !== undefined ? `at ${call.eta.toISOString()}` : `in ${String(countdown)}s`;
  const why = call.exc === undefined ? '' : `: ${describeError(call.exc)}`;
  return new TaskRetry(`Retry ${when}${why}`, {
    countdown,
    eta: call.eta,
    exc: call.exc,
    args: call.args,
    kwargs: call.kwargs,
  });
}

/**
 * Celery's `get_exponential_backoff_interval`: `min(max, base × 2^retries)`, then with full
 * jitter a whole number of seconds drawn uniformly from `0..that`.
 *
 * @param retries - how many retries happened so far
 * @param options - `retryBackoff` (`true` = 1 s), `retryBackoffMax`, `retryJitter` (default true)
 * @param random - a uniform [0, 1) source
 * @returns the countdown in seconds
 */
export function backoffDelay(retries: number, options: TaskOptions, random: () => number = Math.random): number {
  const base = options.retryBackoff === true ? 1 : typeof options.retryBackoff === 'number' ? options.retryBackoff : 0;
  const max = options.retryBackoffMax ?? DEFAULT_BACKOFF_MAX;
  const countdown = Math.min(max, base * 2 ** retries);
  if (options.retryJitter === false) return Math.max(0, countdown);
  return Math.max(0, Math.floor(random() * (Math.floor(countdown) + 1)));
}

/**
 * @param error - what the task threw
 * @param list - `autoretryFor`: error names or classes
 * @returns whether it retries automatically
 */
export function matchesAutoretry(error: unknown, list: TaskOptions['autoretryFor']): boolean {
  if (list === undefined || list.length === 0) return false;
  for (const entry of list) {
    if (typeof entry === 'string') {
      if (error instanceof Error && (error.name === entry || error.constructor.name === entry)) return true;
      if (entry === 'Error' || entry === 'Exception') return true;
    } else if (error instanceof entry) {
      return true;
    }
  }
  return false;
}

/**
 * The context a task function gets.
 *
 * @param request - the request
 * @param options - the task's options
 * @param signal - aborts at the soft limit, on terminate, at a cold shutdown
 * @returns the context
 */
export function createTaskContext(request: TaskRequest, options: TaskOptions, signal: AbortSignal): TaskContext {
  return {
    request,
    signal,
    retry: (call?: RetryCallOptions) => buildRetryError(request, options, call),
  };
}

/** How one invocation ended, before the worker turns it into a state. */
export type InvocationResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * Runs a task function once: binds the context, awaits it, and applies `autoretryFor` (a
 * matching error becomes a retry with the backoff, or the error itself when retries ran out).
 *
 * @param definition - the task (its `run` and `options`)
 * @param args - the bound arguments
 * @param request - the request
 * @param signal - the abort signal
 * @param random - a uniform [0, 1) source for the jitter
 * @returns the value, or what was thrown
 */
export async function invokeTask(
  definition: Pick<TaskDefinition, 'run' | 'options' | 'name'>,
  args: readonly unknown[],
  request: TaskRequest,
  signal: AbortSignal,
  random: () => number = Math.random,
): Promise<InvocationResult> {
  const run = definition.run;
  if (run === undefined) return { ok: false, error: new Error(`Task ${definition.name} has no function in this process`) };
  const options = definition.options;
  const ctx = createTaskContext(request, options, signal);
  try {
    return { ok: true, value: await run(ctx, ...args) };
  } catch (error) {
    if (error instanceof TaskRetryError || error instanceof TaskRejectError) return { ok: false, error };
    if (signal.aborted && error === signal.reason) return { ok: false, error };
    // A task that passed ctx.signal on (fetch, timers/promises) gets an AbortError whose
    // cause is the reason: fail with the reason's identity (SoftTimeLimitExceeded).
    if (signal.aborted && error instanceof Error && error.name === 'AbortError' && error.cause === signal.reason) {
      return { ok: false, error: signal.reason };
    }
    if (matchesAutoretry(error, options.autoretryFor)) {
      const countdown = options.retryBackoff === undefined || options.retryBackoff === false
        ? undefined
        : backoffDelay(request.retries, options, random);
      return { ok: false, error: buildRetryError(request, options, { exc: error, countdown }) };
    }
    return { ok: false, error };
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}(${pyRepr(error.message)})`;
  return pyRepr(error);
}

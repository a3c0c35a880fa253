/**
 * The task contract shared by the producer and the worker: how a task is declared (its
 * options, its function) and what it receives when it runs. The producer needs only the
 * name and the options; the worker (`@celeriac/worker`) also runs `run` and implements
 * {@link TaskContext}.
 *
 * @module
 */
import type { WireValue } from '@celeriac/protocol';

/** Where a task runs in the worker. */
export type TaskPool =
  /** In the worker's event loop (I/O-bound tasks, the default). */
  | 'async'
  /** In a pool of worker threads (CPU-bound tasks; the function must live in a module file). */
  | 'thread'
  /** In a pool of child processes (CPU-bound or crash-prone tasks). */
  | 'process';

/** Per-task options, Celery's task attributes camelCased. */
export interface TaskOptions {
  /** Ack after the task returns instead of when it starts (`acks_late`). */
  readonly acksLate?: boolean;
  /** With acksLate: requeue when the pool child dies instead of failing (`reject_on_worker_lost`). */
  readonly rejectOnWorkerLost?: boolean;
  /** Do not store SUCCESS (failures are still stored, as Celery). */
  readonly ignoreResult?: boolean;
  /** Store a STARTED state when it starts (`track_started`). */
  readonly trackStarted?: boolean;
  /** Most retries (`max_retries`, default 3; `null` = unlimited). */
  readonly maxRetries?: number | null;
  /** Seconds before a retry when none is given (`default_retry_delay`, default 180). */
  readonly defaultRetryDelay?: number;
  /** Error names (the thrown error's `name`) or classes that retry automatically (`autoretry_for`). */
  readonly autoretryFor?: readonly (string | (abstract new (...args: never[]) => Error))[];
  /** Exponential backoff for autoretry: `true` = 1 s base, or the base in seconds (`retry_backoff`). */
  readonly retryBackoff?: boolean | number;
  /** Cap of the backoff in seconds (`retry_backoff_max`, default 600). */
  readonly retryBackoffMax?: number;
  /** Randomize the backoff, full jitter (`retry_jitter`, default true). */
  readonly retryJitter?: boolean;
  /** Hard time limit in seconds: the task is ended and fails with TimeLimitExceeded. */
  readonly timeLimit?: number;
  /** Soft time limit in seconds: the task's `signal` aborts (SoftTimeLimitExceeded). */
  readonly softTimeLimit?: number;
  /** Rate limit per worker: `"10/s"`, `"100/m"`, `"1000/h"`. */
  readonly rateLimit?: string;
  /** Where it runs in the worker (default `async`). */
  readonly pool?: TaskPool;
  /** The default queue to send it to. */
  readonly queue?: string;
  /** The default serializer for its messages (`json`, `msgpack`). */
  readonly serializer?: string;
  /** Default priority 0..9. */
  readonly priority?: number;
  /** Default `expires` in seconds. */
  readonly expires?: number;
}

/** Every key of {@link TaskOptions}, for checking options given at run time. */
export const TASK_OPTION_NAMES = [
  'acksLate',
  'rejectOnWorkerLost',
  'ignoreResult',
  'trackStarted',
  'maxRetries',
  'defaultRetryDelay',
  'autoretryFor',
  'retryBackoff',
  'retryBackoffMax',
  'retryJitter',
  'timeLimit',
  'softTimeLimit',
  'rateLimit',
  'pool',
  'queue',
  'serializer',
  'priority',
  'expires',
] as const satisfies readonly (keyof TaskOptions)[];

// Compile-time check that the list above names every option (a missing one fails here).
type AssertNever<T extends never> = T;
type _EveryTaskOptionListed = AssertNever<Exclude<keyof TaskOptions, (typeof TASK_OPTION_NAMES)[number]>>;

/** What the running task knows about its request (Celery's `self.request`). */
export interface TaskRequest {
  readonly id: string;
  readonly task: string;
  readonly args: readonly WireValue[];
  readonly kwargs: Readonly<Record<string, WireValue>>;
  readonly retries: number;
  readonly eta: Date | null;
  readonly expires: Date | null;
  readonly rootId: string | null;
  readonly parentId: string | null;
  readonly groupId: string | null;
  readonly groupIndex: number | null;
  readonly deliveryInfo: { readonly exchange: string; readonly routingKey: string; readonly priority: number };
  readonly hostname: string;
  readonly headers: Readonly<Record<string, WireValue | undefined>>;
  readonly origin: string | null;
  readonly redelivered: boolean;
}

/** Options of {@link TaskContext.retry}. */
export interface RetryCallOptions {
  /** Seconds until the retry (default: the task's `defaultRetryDelay`). */
  readonly countdown?: number;
  readonly eta?: Date;
  /** The error that caused it (stored in the RETRY meta, raised when retries run out). */
  readonly exc?: unknown;
  /** Override `maxRetries` for this call. */
  readonly maxRetries?: number | null;
  /** Replace the arguments of the retry. */
  readonly args?: readonly unknown[];
  readonly kwargs?: Readonly<Record<string, unknown>>;
}

/** The first argument every task function receives. */
export interface TaskContext {
  readonly request: TaskRequest;
  /** Aborts at the soft time limit, on revoke with terminate, and at a cold shutdown. */
  readonly signal: AbortSignal;
  /**
   * Builds the error that retries this task (`throw ctx.retry({ countdown: 5 })`), as
   * Celery's `self.retry()`; when the retries ran out it returns the error to fail with
   * (`exc`, or MaxRetriesExceededError) instead.
   */
  retry(options?: RetryCallOptions): Error;
}

/** A task's function: the context first, then the positional arguments. */
export type TaskFunction<TArgs extends unknown[] = unknown[], TResult = unknown> = (
  context: TaskContext,
  ...args: TArgs
) => TResult | Promise<TResult>;

/** A declared task: its name, options and (for the worker) its function. */
export interface TaskDefinition<TArgs extends unknown[] = unknown[], TResult = unknown> {
  readonly name: string;
  readonly options: TaskOptions;
  /**
   * The function, when this process can run it. Absent for tasks declared by name only
   * (implemented in Python or elsewhere). For `thread` / `process` pools, `module` says
   * where the worker loads it from.
   */
  readonly run?: TaskFunction<TArgs, TResult>;
  /** Absolute path or URL of the module that registers the task (for thread/process pools). */
  readonly module?: string;
  /**
   * Names of the positional parameters, so keyword arguments bind to them as in Python
   * (`params: ['seconds', 'value']` makes `sleep(value=2)` call `run(ctx, undefined, 2)`).
   * A keyword that matches no name is an error (TypeError in Python) unless `acceptsKwargs`.
   */
  readonly params?: readonly string[];
  /** `**kwargs`: the function gets the keywords no param took as one last argument (an object). */
  readonly acceptsKwargs?: boolean;
}

/** Read-only view of an app's tasks, which the worker consumes. */
export interface TaskRegistry {
  get(name: string): TaskDefinition | undefined;
  has(name: string): boolean;
  names(): string[];
}

/**
 * A typed task handle: `delay` / `applyAsync` checked against the task function's
 * parameters (after the context), result handles typed with its return value, and plain
 * Celery signatures (`s`, `si`, `signature`) for `link` / `linkError`.
 *
 * @module
 */
import type { SignatureDict } from '@celeriac/protocol';
import type { SendOptions } from './send-options.ts';
import type { SentResult } from './sent-result.ts';
import { createSignature } from './signature.ts';
import type { TaskDefinition, TaskOptions } from './task-definition.ts';

/**
 * The argument lists a partial signature (`s()`) may hold: any tail of the parameters, since
 * a linked callback gets the parent's result before them (`add.s(10)` runs `add(result, 10)`).
 */
export type ArgsSuffix<TArgs extends unknown[]> =
  | TArgs
  | (TArgs extends [unknown, ...infer Rest] ? ArgsSuffix<Rest> : never);

/** What {@link Task} sends through: the app. */
export interface TaskSender {
  /**
   * Sends a task message.
   *
   * @param name - the task name
   * @param args - positional arguments
   * @param kwargs - keyword arguments
   * @param options - the call's options
   * @param task - the task's own options (defaults for the call), when sent through a task
   * @returns the result handle
   */
  send(
    name: string,
    args: readonly unknown[],
    kwargs: Readonly<Record<string, unknown>>,
    options: SendOptions,
    task: TaskOptions | undefined,
  ): SentResult<unknown>;
}

/** {@link Task.signature}'s options: send options plus immutability. */
export interface TaskSignatureOptions extends SendOptions {
  /** The signature ignores the parent's result (`si()`). */
  readonly immutable?: boolean;
}

/**
 * A task: `app.task(name, fn)` makes one that this process can also run (a worker does),
 * `app.taskRef(name)` one that lives elsewhere (Python), typed by hand.
 *
 * @typeParam TArgs - the positional parameters after the context
 * @typeParam TResult - what the function returns (awaited for the handle)
 *
 * @example
 * ```ts
 * const add = app.task('tasks.add', (ctx, x: number, y: number) => x + y);
 * const sum = await add.delay(2, 3); // 5; add.delay('2') does not compile
 * ```
 */
export class Task<TArgs extends unknown[] = unknown[], TResult = unknown> {
  /** The task name, as on the wire (`headers.task`). */
  readonly name: string;
  /** The declaration: name, options and (for local tasks) the function. */
  readonly definition: TaskDefinition<TArgs, TResult>;
  readonly #sender: TaskSender;

  /**
   * @param definition - the declaration
   * @param sender - the app that sends its messages
   */
  constructor(definition: TaskDefinition<TArgs, TResult>, sender: TaskSender) {
    this.name = definition.name;
    this.definition = definition;
    this.#sender = sender;
  }

  /**
   * Sends the task with positional arguments (Celery's `delay`).
   *
   * @param args - the arguments, checked against the function's parameters
   * @returns the result handle (returned at once; `await` it for the result, `await handle.sent` for the publish)
   * @throws `EncodeError` for an argument the serializer cannot represent, `ConnectionClosedError`
   *   after `app.close()`, `CeleriacError` `INVALID_CONFIG` when no broker is configured
   */
  delay(...args: TArgs): SentResult<Awaited<TResult>> {
    return this.applyAsync(args);
  }

  /**
   * Sends the task with arguments and per-call options (Celery's `apply_async`).
   *
   * @param args - the positional arguments (with `kwargs`, any leading part of them)
   * @param kwargs - keyword arguments (bound to the function's `params` by a worker)
   * @param options - countdown, eta, expires, priority, queue, headers, serializer, link, …
   * @returns the result handle
   * @throws as {@link Task.delay}, and `InvalidMessageError` for contradictory options
   */
  applyAsync(args: TArgs, kwargs?: Readonly<Record<string, unknown>>, options?: SendOptions): SentResult<Awaited<TResult>>;
  applyAsync(args: Partial<TArgs>, kwargs: Readonly<Record<string, unknown>>, options?: SendOptions): SentResult<Awaited<TResult>>;
  applyAsync(
    args: Partial<TArgs>,
    kwargs: Readonly<Record<string, unknown>> = {},
    options: SendOptions = {},
  ): SentResult<Awaited<TResult>> {
    return this.#sender.send(this.name, args, kwargs, options, this.definition.options) as SentResult<Awaited<TResult>>;
  }

  /**
   * A partial signature (Celery's `s()`): as a `link`, the parent's result is passed first.
   *
   * @param args - the trailing arguments
   * @returns the signature dict
   */
  s(...args: ArgsSuffix<TArgs>): SignatureDict {
    return createSignature(this.name, args);
  }

  /**
   * An immutable signature (Celery's `si()`): as a `link`, it runs with exactly these arguments.
   *
   * @param args - all arguments
   * @returns the signature dict
   */
  si(...args: TArgs): SignatureDict {
    return createSignature(this.name, args, {}, { immutable: true });
  }

  /**
   * A signature with keyword arguments and send options (Celery's `signature()`).
   *
   * @param args - positional arguments (a tail, unless immutable)
   * @param kwargs - keyword arguments
   * @param options - send options (`taskId`, `queue`, …) and `immutable`
   * @returns the signature dict
   */
  signature(
    args: ArgsSuffix<TArgs> | readonly [] = [],
    kwargs: Readonly<Record<string, unknown>> = {},
    options: TaskSignatureOptions = {},
  ): SignatureDict {
    const { immutable, ...sendOptions } = options;
    return createSignature(this.name, args, kwargs, { options: sendOptions, immutable: immutable ?? false });
  }

  /** @returns `<@task: name>`, as Celery prints tasks */
  toString(): string {
    return `<@task: ${this.name}>`;
  }
}

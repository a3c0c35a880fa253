/**
 * The Celeriac app: a resolved Celery configuration, the task registry, and sending.
 *
 * The concrete broker and result backend are chosen from their URLs here and nowhere else
 * (`@celeriac/broker-redis`, `@celeriac/backend-redis`), or injected. Both are made on first
 * use; sending never subscribes to anything (result handles subscribe when awaited).
 *
 * @see celery-wire.md §1 (messages), §3.4 (configuration), §4.7 (waiting for results)
 * @module
 */
import { AsyncResult, createRedisBackend, type RedisResultBackend } from '@celeriac/backend-redis';
import { createRedisBroker, KombuKeys } from '@celeriac/broker-redis';
import {
  AcceptContent,
  CeleriacError,
  ConnectionClosedError,
  createSerializerRegistry,
  encodeTaskMessage,
  ErrorCode,
  silentLogger,
  type Broker,
  type Logger,
  type SignatureDict,
  type SerializerRegistry,
  type WireObject,
  type WireValue,
} from '@celeriac/protocol';
import { resolveConfig, type CeleryConfigInput } from './config.ts';
import { DisabledBackend } from './disabled-backend.ts';
import { closestName } from './edit-distance.ts';
import { completeRetryPolicy, DEFAULT_RETRY_POLICY, publishWithRetry } from './publish-retry.ts';
import { createRouter, type Router } from './routes.ts';
import { fromWireOptions, SEND_OPTION_NAMES, toSignatureList, toWireOptions, type RetryPolicy, type SendOptions } from './send-options.ts';
import { SentGroupResult } from './sent-group-result.ts';
import { SentResult } from './sent-result.ts';
import { leafIds, planSignature, type GroupSignature, type ResultNode } from './canvas.ts';
import type { CeleryConfig } from './settings.ts';
import { createSignature } from './signature.ts';
import { TASK_OPTION_NAMES, type TaskDefinition, type TaskFunction, type TaskOptions, type TaskRegistry } from './task-definition.ts';
import { Task, type TaskSender } from './task.ts';

/** Options of {@link createApp}. */
export interface CreateAppOptions {
  /** Where `CELERY_BROKER_URL` / `CELERY_RESULT_BACKEND` are read; `process.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the app, its broker and its backend log; silent by default. */
  readonly logger?: Logger;
  /** The app's name (Celery's `main`), e.g. for worker node names and logs. */
  readonly main?: string;
  /** Django-style settings prefix, e.g. `'CELERY'` for `CELERY_BROKER_URL` (see {@link CeleryConfigInput}). */
  readonly namespace?: string;
  /** A broker to use instead of one made from `broker_url`; the app does not close it. */
  readonly broker?: Broker;
  /** A result backend to use instead of one made from `result_backend`; the app does not close it. */
  readonly backend?: RedisResultBackend;
  /** The serializers (json and msgpack by default); register custom ones here or on `app.serializers`. */
  readonly serializers?: SerializerRegistry;
}

/** What `app.task()` takes besides the function: the task options plus how keywords bind. */
export interface TaskDeclaration extends TaskOptions {
  /** Names of the positional parameters, so keyword arguments bind to them (see {@link TaskDefinition.params}). */
  readonly params?: readonly string[];
  /** The function takes the keywords no param took as one last argument (`**kwargs`). */
  readonly acceptsKwargs?: boolean;
  /** Where a thread or process pool loads the function from (see {@link TaskDefinition.module}). */
  readonly module?: string;
}

const DECLARATION_NAMES: ReadonlySet<string> = new Set([...TASK_OPTION_NAMES, 'params', 'acceptsKwargs', 'module']);

function invalid(message: string): CeleriacError {
  return new CeleriacError(ErrorCode.INVALID_CONFIG, message);
}

function isPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The registry behind `app.tasks`. */
class AppTaskRegistry implements TaskRegistry {
  readonly #tasks = new Map<string, TaskDefinition>();

  get(name: string): TaskDefinition | undefined {
    return this.#tasks.get(name);
  }

  has(name: string): boolean {
    return this.#tasks.has(name);
  }

  names(): string[] {
    return [...this.#tasks.keys()];
  }

  add(definition: TaskDefinition): void {
    const existing = this.#tasks.get(definition.name);
    if (existing !== undefined && existing !== definition) {
      throw invalid(`Task ${JSON.stringify(definition.name)} is already registered; task names must be unique per app`);
    }
    this.#tasks.set(definition.name, definition);
  }
}

/**
 * A Celeriac app (Celery's `Celery` object, producer side): create it with {@link createApp}.
 *
 * @example
 * ```ts
 * const app = createApp({ broker_url: 'redis://localhost:6379/0', result_backend: 'redis://localhost:6379/0' });
 * const add = app.task('tasks.add', (ctx, x: number, y: number) => x + y);
 * console.log(await add.delay(2, 3)); // 5, once a worker (Python or Celeriac) ran it
 * await app.close();
 * ```
 */
export class App implements TaskSender {
  /** The resolved configuration: every Celery setting under its Celery 4+ name, defaults filled in. */
  readonly conf: Readonly<CeleryConfig>;
  /** The app's name (Celery's `main`), if given. */
  readonly main: string | undefined;
  /** Where the app logs. */
  readonly logger: Logger;
  /** The serializers messages and results are encoded with (json and msgpack, and any you register). */
  readonly serializers: SerializerRegistry;
  /** `accept_content`: what a worker of this app decodes. */
  readonly accept: AcceptContent;
  /** `result_accept_content` (or `accept_content` when null): what results are decoded from. */
  readonly resultAccept: AcceptContent;
  /** The tasks this app can run (registered with {@link App.task} or {@link App.register}). */
  readonly tasks: TaskRegistry;
  readonly #registry: AppTaskRegistry;
  readonly #router: Router;
  readonly #retryPolicy: Required<RetryPolicy>;
  readonly #injectedBroker: Broker | undefined;
  readonly #injectedBackend: RedisResultBackend | undefined;
  readonly #disabled = new DisabledBackend();
  readonly #inFlight = new Set<Promise<void>>();
  #broker: Broker | undefined;
  #backend: RedisResultBackend | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;

  /**
   * @param config - Celery settings (any naming style; see {@link CeleryConfigInput})
   * @param options - env, logger, main, namespace, injected broker / backend / serializers
   * @throws {@link CeleriacError} `INVALID_CONFIG` for an unknown setting (naming the closest
   *   known one), a wrong type, mixed old and new names, an unsupported URL scheme, a
   *   serializer that is not registered, or bad broker transport options
   */
  constructor(config: CeleryConfigInput = {}, options: CreateAppOptions = {}) {
    this.conf = resolveConfig(config, { env: options.env, namespace: options.namespace });
    this.main = options.main;
    this.logger = options.logger ?? silentLogger;
    this.serializers = options.serializers ?? createSerializerRegistry();
    for (const setting of ['task_serializer', 'result_serializer'] as const) {
      const name = this.conf[setting];
      if (this.serializers.find(name) === undefined) {
        throw invalid(`Setting '${setting}' names serializer ${JSON.stringify(name)}, which is not registered (registered: ${this.serializers.names().join(', ')})`);
      }
    }
    this.accept = new AcceptContent(this.conf.accept_content, this.serializers);
    this.resultAccept = new AcceptContent(this.conf.result_accept_content ?? this.conf.accept_content, this.serializers);
    this.#router = createRouter(this.conf.task_routes);
    const policy = this.conf.task_publish_retry_policy;
    this.#retryPolicy = completeRetryPolicy(
      {
        maxRetries: policy.max_retries,
        intervalStart: policy.interval_start,
        intervalStep: policy.interval_step,
        intervalMax: policy.interval_max,
      },
      DEFAULT_RETRY_POLICY,
    );
    this.#injectedBroker = options.broker;
    this.#injectedBackend = options.backend;
    // Fail at creation, not at the first send, on transport options kombu would not take.
    if (options.broker === undefined) new KombuKeys(this.conf.broker_transport_options, 0);
    this.#registry = new AppTaskRegistry();
    this.tasks = this.#registry;
  }

  /**
   * The broker: the injected one, or a Redis broker made from `broker_url` on first use
   * (`broker_transport_options` as kombu's transport options).
   *
   * @throws {@link CeleriacError} `INVALID_CONFIG` when no broker URL is configured;
   *   `ConnectionClosedError` after {@link App.close}
   */
  get broker(): Broker {
    if (this.#injectedBroker !== undefined) return this.#injectedBroker;
    if (this.#broker !== undefined) return this.#broker;
    if (this.#closing !== undefined) throw new ConnectionClosedError('The app is closed: no broker is made any more');
    const url = this.conf.broker_url;
    if (url === null) {
      throw invalid("No broker is configured: set broker_url (e.g. 'redis://localhost:6379/0') or the CELERY_BROKER_URL environment variable");
    }
    this.#broker = createRedisBroker(url, { transportOptions: this.conf.broker_transport_options, logger: this.logger });
    return this.#broker;
  }

  /**
   * The result backend: the injected one, or a Redis backend made from `result_backend` on
   * first use (`result_serializer`, `result_accept_content`, `result_expires`,
   * `result_extended`); `undefined` when no backend is configured.
   *
   * @throws `ConnectionClosedError` when first asked for after {@link App.close}
   */
  get backend(): RedisResultBackend | undefined {
    if (this.#injectedBackend !== undefined) return this.#injectedBackend;
    if (this.#backend !== undefined) return this.#backend;
    const url = this.conf.result_backend;
    if (url === null) return undefined;
    if (this.#closing !== undefined) throw new ConnectionClosedError('The app is closed: no result backend is made any more');
    this.#backend = createRedisBackend(url, {
      resultSerializer: this.conf.result_serializer,
      serializers: this.serializers,
      accept: this.resultAccept,
      resultExpires: this.conf.result_expires,
      resultExtended: this.conf.result_extended,
      transportOptions: this.conf.result_backend_transport_options,
      logger: this.logger,
    });
    return this.#backend;
  }

  /** Whether {@link App.close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Declares a task this process can run, and returns its typed handle.
   *
   * @param name - the task name (as Python would name it, e.g. `tasks.add`)
   * @param run - the function: the context first, then the arguments
   * @returns the task
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a name already registered or bad options
   */
  task<TArgs extends unknown[], TResult>(name: string, run: TaskFunction<TArgs, TResult>): Task<TArgs, TResult>;
  /**
   * @param name - the task name
   * @param options - the task's options (queue, priority, serializer, time limits, retries, …) and `params`
   * @param run - the function
   */
  task<TArgs extends unknown[], TResult>(name: string, options: TaskDeclaration, run: TaskFunction<TArgs, TResult>): Task<TArgs, TResult>;
  task<TArgs extends unknown[], TResult>(
    name: string,
    optionsOrRun: TaskDeclaration | TaskFunction<TArgs, TResult>,
    maybeRun?: TaskFunction<TArgs, TResult>,
  ): Task<TArgs, TResult> {
    const declaration = typeof optionsOrRun === 'function' ? {} : optionsOrRun;
    const run = typeof optionsOrRun === 'function' ? optionsOrRun : maybeRun;
    if (typeof run !== 'function') throw invalid(`app.task(${JSON.stringify(name)}): expected a task function, got ${typeof run}`);
    if (!isPlainObject(declaration)) throw invalid(`app.task(${JSON.stringify(name)}): expected an options object`);
    for (const key of Object.keys(declaration)) {
      if (!DECLARATION_NAMES.has(key)) {
        throw invalid(`app.task(${JSON.stringify(name)}): unknown task option '${key}'; did you mean '${closestName(key, DECLARATION_NAMES) ?? ''}'?`);
      }
    }
    const { params, acceptsKwargs, module, ...options } = declaration;
    return this.register<TArgs, TResult>({
      name,
      options,
      run,
      ...(params === undefined ? {} : { params }),
      ...(acceptsKwargs === undefined ? {} : { acceptsKwargs }),
      ...(module === undefined ? {} : { module }),
    });
  }

  /**
   * Registers a task definition (the worker runs what is registered) and returns its handle.
   *
   * @param definition - name, options, function (absent: declared by name only)
   * @returns the task
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a name already registered or bad options
   */
  register<TArgs extends unknown[] = unknown[], TResult = unknown>(definition: TaskDefinition<TArgs, TResult>): Task<TArgs, TResult> {
    this.#checkDefinition(definition.name, definition.options);
    if (definition.run !== undefined && typeof definition.run !== 'function') {
      throw invalid(`Task ${JSON.stringify(definition.name)}: run must be a function`);
    }
    const frozen = Object.freeze({ ...definition, options: Object.freeze({ ...definition.options }) });
    this.#registry.add(frozen as unknown as TaskDefinition);
    return new Task<TArgs, TResult>(frozen, this);
  }

  /**
   * Declares a task that lives elsewhere (a Python worker), typed by hand and not registered
   * (a Celeriac worker of this app does not run it).
   *
   * @param name - the task name, e.g. `tasks.add`
   * @param options - its options (defaults for sends: queue, priority, serializer, …)
   * @returns the task
   * @example
   * ```ts
   * const add = app.taskRef<[x: number, y: number], number>('tasks.add');
   * ```
   */
  taskRef<TArgs extends unknown[] = unknown[], TResult = unknown>(name: string, options: TaskOptions = {}): Task<TArgs, TResult> {
    this.#checkDefinition(name, options);
    return new Task<TArgs, TResult>(Object.freeze({ name, options: Object.freeze({ ...options }) }), this);
  }

  /**
   * Sends a task by name (Celery's `send_task`), for tasks this process does not declare.
   * As in Celery, the task-level defaults (`task_ignore_result`, `task_default_priority`)
   * do not apply; routes and `task_default_queue` do.
   *
   * @param name - the task name
   * @param args - positional arguments
   * @param kwargs - keyword arguments
   * @param options - per-call options
   * @returns the result handle
   * @throws as {@link Task.delay}
   */
  sendTask<TResult = unknown>(
    name: string,
    args: readonly unknown[] = [],
    kwargs: Readonly<Record<string, unknown>> = {},
    options: SendOptions = {},
  ): SentResult<TResult> {
    return this.send(name, args, kwargs, options, undefined) as SentResult<TResult>;
  }

  /**
   * A signature by task name (Celery's `app.signature`), for `link` / `linkError`.
   *
   * @param name - the task name
   * @param args - positional arguments
   * @param kwargs - keyword arguments
   * @param options - send options; `immutable` to ignore the parent's result
   * @returns the signature dict
   */
  signature(
    name: string,
    args: readonly unknown[] = [],
    kwargs: Readonly<Record<string, unknown>> = {},
    options: SendOptions & { readonly immutable?: boolean } = {},
  ): SignatureDict {
    const { immutable, ...sendOptions } = options;
    return createSignature(name, args, kwargs, { options: sendOptions, immutable: immutable ?? false });
  }

  /**
   * A handle on any task's result (Celery's `app.AsyncResult(id)`); nothing is subscribed
   * until it is awaited.
   *
   * @param taskId - the task id
   * @returns the handle (without a backend, its reads reject with `INVALID_CONFIG`)
   */
  asyncResult<TResult = unknown>(taskId: string): AsyncResult<TResult> {
    const backend = this.backend;
    return backend === undefined ? new AsyncResult<TResult>(taskId, this.#disabled) : backend.asyncResult<TResult>(taskId);
  }

  /**
   * Sends a task message: route, encode, publish (with the publish retry policy) in the
   * background; {@link Task} and {@link App.sendTask} call this.
   *
   * Resolution, as Celery: the call's options, then the task's options (and for tasks the
   * `task_*` defaults), then the route from `task_routes`, then `task_default_queue`.
   *
   * @param name - the task name
   * @param args - positional arguments
   * @param kwargs - keyword arguments
   * @param options - the call's options
   * @param task - the task's options, when sent through a task
   * @returns the handle, at once
   * @throws synchronously: `EncodeError`, `InvalidMessageError`, `UNKNOWN_SERIALIZER`,
   *   `INVALID_CONFIG` (unknown option, no broker), `ConnectionClosedError` (app closed)
   */
  send(
    name: string,
    args: readonly unknown[],
    kwargs: Readonly<Record<string, unknown>>,
    options: SendOptions,
    task: TaskOptions | undefined,
  ): SentResult<unknown> {
    if (this.#closing !== undefined) throw new ConnectionClosedError(`Cannot send ${name}: the app is closed`);
    if (!isPlainObject(options)) throw invalid(`Send options of ${name} must be an object`);
    for (const key of Object.keys(options)) {
      if (!SEND_OPTION_NAMES.has(key)) {
        throw invalid(`Unknown send option '${key}' (task ${name}); did you mean '${closestName(key, SEND_OPTION_NAMES) ?? ''}'?`);
      }
    }
    const conf = this.conf;
    const route = this.#router(name, args, kwargs, options as Readonly<Record<string, unknown>>);
    if (options.queue !== undefined && options.routingKey !== undefined && options.queue !== options.routingKey) {
      throw invalid(
        `Task ${name}: queue ${JSON.stringify(options.queue)} and routingKey ${JSON.stringify(options.routingKey)} differ; ` +
          'on Redis (default exchange) the routing key is the queue: pass one of them',
      );
    }
    const queue = options.queue ?? options.routingKey ?? task?.queue ?? route?.queue ?? conf.task_default_queue;
    const priority =
      options.priority ?? task?.priority ?? (task === undefined ? undefined : (conf.task_default_priority ?? undefined)) ?? route?.priority;
    const serializerName =
      options.serializer ?? task?.serializer ?? (task === undefined ? route?.serializer : undefined) ?? conf.task_serializer;
    const serializer = this.serializers.get(serializerName);
    const ignoreResult = options.ignoreResult ?? task?.ignoreResult ?? (task === undefined ? false : conf.task_ignore_result);
    const compression = options.compression === undefined ? conf.task_compression : options.compression;

    const encoded = encodeTaskMessage(
      {
        task: name,
        id: options.taskId,
        args,
        kwargs,
        countdown: options.countdown,
        eta: options.eta,
        expires: options.expires ?? task?.expires,
        priority,
        queue,
        retries: options.retries,
        timeLimit: options.timeLimit ?? task?.timeLimit,
        softTimeLimit: options.softTimeLimit ?? task?.softTimeLimit,
        shadow: options.shadow,
        group: options.groupId,
        groupIndex: options.groupIndex,
        rootId: options.rootId,
        parentId: options.parentId,
        ignoreResult,
        headers: options.headers,
        callbacks: toSignatureList(options.link),
        errbacks: toSignatureList(options.linkError),
        chain: options.chain === undefined ? undefined : [...options.chain],
        chord: options.chord,
        compression,
      },
      { serializer },
    );
    const broker = this.broker;
    const backend = this.backend ?? this.#disabled;
    const policy = options.retryPolicy === undefined ? this.#retryPolicy : completeRetryPolicy(options.retryPolicy, this.#retryPolicy);
    const what = `${name}[${encoded.taskId}] to queue ${JSON.stringify(queue)}`;
    const sent = publishWithRetry(broker, encoded, {
      retry: options.retry ?? conf.task_publish_retry,
      policy,
      logger: this.logger,
      what,
      stopped: () => this.#closed,
    });
    this.#inFlight.add(sent);
    // The error reaches whoever awaits the handle or `sent`; a send nobody awaits must not
    // crash the process with an unhandled rejection, so it is logged instead.
    sent.then(
      () => this.#inFlight.delete(sent),
      (error: unknown) => {
        this.#inFlight.delete(sent);
        this.logger.error('publish failed', { what, error: error instanceof Error ? error.message : String(error) });
      },
    );
    return new SentResult(encoded.taskId, backend, { sent, task: name, ignored: ignoreResult });
  }

  /**
   * Applies a signature: a task, or a canvas built with {@link chain}, {@link group} and
   * {@link chord} (Celery's `sig.apply_async()`). Every task id is fixed before anything is
   * sent, so the handle is returned at once; `sent` settles when every message is published.
   * A chord first sets its size in the result backend, then sends its header.
   *
   * @param signature - the signature dict (from `task.s()`, `app.signature()`, or a canvas)
   * @param args - partial args, prepended to the (first) task's args unless immutable
   * @param kwargs - partial kwargs, merged into a task's kwargs (tasks only; Celery ignores
   *   them for canvases too)
   * @param options - call options, merged over the signature's own
   * @returns a group's {@link SentGroupResult}; for a chain, its last step's handle; for a
   *   chord, its body's handle; for a task, its handle
   * @throws synchronously: `INVALID_MESSAGE` for a malformed canvas, `INVALID_CONFIG` for a
   *   chord without a result backend or unknown options, `ConnectionClosedError` (app closed)
   */
  applyAsync<TResult = unknown>(signature: GroupSignature, args?: readonly unknown[], kwargs?: Readonly<Record<string, unknown>>, options?: SendOptions): SentGroupResult<TResult>;
  applyAsync<TResult = unknown>(signature: SignatureDict, args?: readonly unknown[], kwargs?: Readonly<Record<string, unknown>>, options?: SendOptions): SentResult<TResult>;
  applyAsync(
    signature: SignatureDict,
    args: readonly unknown[] = [],
    kwargs: Readonly<Record<string, unknown>> = {},
    options: SendOptions = {},
  ): SentResult<unknown> | SentGroupResult<unknown> {
    if (this.#closing !== undefined) throw new ConnectionClosedError(`Cannot apply ${signature.task}: the app is closed`);
    if (!isPlainObject(options)) throw invalid(`Send options of ${signature.task} must be an object`);
    for (const key of Object.keys(options)) {
      if (!SEND_OPTION_NAMES.has(key)) {
        throw invalid(`Unknown send option '${key}' (${signature.task}); did you mean '${closestName(key, SEND_OPTION_NAMES) ?? ''}'?`);
      }
    }
    const merged: SignatureDict =
      Object.keys(kwargs).length === 0 || (signature.subtask_type ?? null) !== null || signature.immutable
        ? signature
        : { ...signature, kwargs: { ...signature.kwargs, ...(kwargs as WireObject) } };
    const plan = planSignature(merged, args as WireValue[], toWireOptions(options));
    const backend = this.backend;
    if (plan.chordSizes.length > 0 && backend === undefined) {
      throw invalid(`A chord needs a result backend to count its header down: set result_backend (${signature.task})`);
    }
    const sent = (async () => {
      // The size first: a header task that finishes before it is set would never fire the body.
      for (const { groupId, size } of plan.chordSizes) await backend?.setChordSize(groupId, size);
      const handles = plan.messages.map((message) =>
        this.send(message.task, message.args, message.kwargs, fromWireOptions(message.options), this.tasks.get(message.task)?.options),
      );
      await Promise.all(handles.map((h) => h.sent));
    })();
    this.#inFlight.add(sent);
    sent.then(
      () => this.#inFlight.delete(sent),
      (error: unknown) => {
        this.#inFlight.delete(sent);
        this.logger.error('applying a signature failed', { task: signature.task, error: error instanceof Error ? error.message : String(error) });
      },
    );
    const handleBackend = backend ?? this.#disabled;
    const handle = (node: ResultNode): SentResult<unknown> => {
      const id = node.kind === 'task' ? node.id : (leafIds(node).at(-1) ?? node.id);
      return new SentResult(id, handleBackend, { sent, task: signature.task, ignored: false });
    };
    const result = plan.result;
    if (result.kind === 'group') return new SentGroupResult(result.id, result.results.map(handle), handleBackend, sent);
    return handle(result);
  }

  /**
   * Waits for the publishes in flight, then closes the broker and result backend this app
   * made (injected ones are left open). Later sends throw `ConnectionClosedError`. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
      this.#closed = true;
      const closing: Promise<void>[] = [];
      if (this.#broker !== undefined) closing.push(this.#broker.close());
      if (this.#backend !== undefined) closing.push(this.#backend.close());
      const results = await Promise.allSettled(closing);
      for (const result of results) {
        if (result.status === 'rejected') this.logger.warn('closing a connection failed', { error: String(result.reason) });
      }
    })();
    return this.#closing;
  }

  /** `await using app = createApp(…)` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkDefinition(name: string, options: TaskOptions): void {
    if (typeof name !== 'string' || name === '') throw invalid(`A task name must be a non-empty string, got ${JSON.stringify(name)}`);
    if (!isPlainObject(options)) throw invalid(`Task ${JSON.stringify(name)}: options must be an object`);
    const where = `Task ${JSON.stringify(name)}`;
    if (options.queue !== undefined && (typeof options.queue !== 'string' || options.queue === '')) {
      throw invalid(`${where}: queue must be a non-empty string, got ${JSON.stringify(options.queue)}`);
    }
    if (options.serializer !== undefined && this.serializers.find(options.serializer) === undefined) {
      throw invalid(`${where}: serializer ${JSON.stringify(options.serializer)} is not registered (registered: ${this.serializers.names().join(', ')})`);
    }
    if (options.priority !== undefined && (!Number.isInteger(options.priority) || options.priority < 0 || options.priority > 255)) {
      throw invalid(`${where}: priority must be an integer 0..255, got ${String(options.priority)}`);
    }
    for (const key of ['expires', 'timeLimit', 'softTimeLimit', 'defaultRetryDelay', 'retryBackoffMax'] as const) {
      const value = options[key];
      if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
        throw invalid(`${where}: ${key} must be a number of seconds >= 0, got ${String(value)}`);
      }
    }
  }
}

/**
 * Creates an app from Celery-style configuration (Celery's `Celery(main, config_source=…)`).
 *
 * @param config - Celery settings: Celery 4+ names (`broker_url`), Celery 3 names
 *   (`BROKER_URL`, not mixed with new ones), or Django-style names with `namespace`
 * @param options - `env` (for `CELERY_BROKER_URL` / `CELERY_RESULT_BACKEND`), `logger`,
 *   `main`, `namespace`, and an injected `broker`, `backend` or `serializers`
 * @returns the app; it connects on first send (broker) and first wait (backend)
 * @throws {@link CeleriacError} `INVALID_CONFIG`: "Unknown setting 'task_serialiser'; did you
 *   mean 'task_serializer'?", wrong types, mixed names, unsupported URL schemes
 * @see celery-wire.md §3.4
 */
export function createApp(config?: CeleryConfigInput, options?: CreateAppOptions): App {
  return new App(config, options);
}

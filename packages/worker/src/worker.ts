/**
 * The Celeriac worker: consumes task messages, runs them under a concurrency limit, acks
 * (early or late), retries, stores states, and shuts down without losing messages. Wire
 * behaviour follows Celery 5.2 (celery-wire §5); where it differs on purpose (refused or
 * undecodable messages get a FAILURE and a dead-letter entry instead of vanishing) the
 * README says so.
 *
 * Life of a message: received (decoded with the app's accept list; unknown task →
 * NotRegistered; refused/undecodable → dead letter) → held until its ETA (a timer, no slot
 * taken) → queued → running (early ack, STARTED, pool, time limits) → stored (SUCCESS,
 * FAILURE, RETRY + republish, REVOKED) → late ack.
 *
 * @see celery-wire.md §5
 * @module
 */
import { EventEmitter } from 'node:events';
import { availableParallelism, hostname as osHostname } from 'node:os';
import {
  freezeSignature,
  group,
  leafIds,
  planSignature,
  resultTupleOf,
  type ResultNode,
  type TaskDefinition,
  type TaskPool,
  type TaskRequest,
} from '@celeriac/client';
import {
  CeleriacError,
  decodeException,
  createResultMeta,
  decodeTaskMessage,
  encodeException,
  encodeTaskMessage,
  ErrorCode,
  PROPAGATE_STATES,
  formatCeleryDatetime,
  jsonSerializer,
  parseEnvelope,
  pyRepr,
  readTaskId,
  silentLogger,
  TaskRejectError,
  TaskRetryError,
  TaskState,
  type Consumer,
  type Delivery,
  type DecodeLimits,
  type ExceptionInfo,
  type KombuEnvelope,
  type EncodedTaskMessage,
  type Logger,
  type ResultMeta,
  type SignatureDict,
  type TaskMessage,
  type WireObject,
  type WireValue,
} from '@celeriac/protocol';
import { bindArguments } from './bind-arguments.ts';
import { encodeSignature, isSignatureDict, safeRouter, type SignatureSendContext } from './canvas.ts';
import { brokerDeadLetterSink, DEAD_LETTER_QUEUE, encodeRaw, type DeadLetterSink } from './dead-letter.ts';
import { TaskRetry } from './task-context.ts';
import { AsyncPool, ChildPool, defaultChildEntry, type PoolRun, type RunOutcome, type TaskPoolRunner } from './task-pool.ts';
import { parseRateLimit, RateLimiter } from './rate-limit.ts';
import { buildTaskRequest } from './task-request.ts';
import { formatTraceback } from './traceback.ts';
import { exceptionRepr } from './remote-control.ts';
import type { WorkerApp } from './worker-app.ts';
import type { TaskEventBase, WorkerEvents } from './worker-events.ts';
import {
  ChordError,
  NotRegisteredError,
  SoftTimeLimitExceededError,
  TaskRevokedError,
  TimeLimitExceededError,
} from './worker-errors.ts';

/** A task that may complete a chord's header: its ids, the body, and how to send the body. */
interface ChordMember {
  readonly taskId: string;
  readonly groupId: string | null;
  readonly groupIndex: number | null;
  readonly body: SignatureDict | null;
  /** How to send the body (built only when a chord completes). */
  readonly ctx: () => SignatureSendContext;
}

/** Options of {@link Worker}. */
export interface WorkerOptions {
  /** Queues to consume; default `[conf.task_default_queue ?? 'celery']`. */
  readonly queues?: readonly string[];
  /** Tasks at once; default `conf.worker_concurrency`, else the number of CPUs. */
  readonly concurrency?: number;
  /** Prefetch = concurrency × this; default `conf.worker_prefetch_multiplier`, else 4 (0: no limit). */
  readonly prefetchMultiplier?: number;
  /**
   * The node name; `%h` = host name, `%n` = its first label, `%d` = its domain. Default
   * `conf.worker_hostname`, else `celeriac@<host>`.
   */
  readonly hostname?: string;
  /** The pool of tasks that name none in their options; default `async`. */
  readonly pool?: TaskPool;
  /** Milliseconds a warm shutdown waits for running tasks before it turns cold; default 30 000. */
  readonly shutdownTimeout?: number;
  /** Where the worker logs; silent by default. */
  readonly logger?: Logger;
  /** Where refused and undecodable messages go; default the `celeriac.dead-letter` list via the broker. */
  readonly deadLetter?: DeadLetterSink;
  /** Install SIGTERM/SIGINT handlers on start (first: warm shutdown, second: cold); default false. */
  readonly handleSignals?: boolean;
  /**
   * The module thread/process pool children load a task from when its definition names no
   * `module`: the app's module (the CLI passes its `-A` module). It must export the app.
   */
  readonly appModule?: string;
  /** The pool child script; default `pool-child.js` of this package. */
  readonly poolChildEntry?: string;
  /** Uniform [0, 1) source for retry jitter (tests pin it). */
  readonly random?: () => number;
  /** How many revoked ids are remembered (Celery: 50 000). */
  readonly maxRevoked?: number;
  /**
   * Size and nesting limits for message bodies, checked before decoding; default the
   * protocol's (64 MiB, depth 128). A body over them is refused (FAILURE + dead letter).
   */
  readonly decodeLimits?: DecodeLimits;
}

/** Options of {@link Worker.stop}. */
export interface WorkerStopOptions {
  /** Cold: abort running tasks and hand back everything unacked at once. */
  readonly cold?: boolean;
}

/** Options of {@link Worker.revoke}. */
export interface RevokeOptions {
  /** Also end it if it is running (abort its signal; kill its pool child). */
  readonly terminate?: boolean;
  /** The signal name reported in the `task-revoked` event; default `SIGTERM`. */
  readonly signal?: string;
}

/** One running or reserved request, as Celery's `inspect active` / `reserved` report it. */
export interface ActiveRequest {
  readonly id: string;
  readonly name: string;
  readonly args: WireValue[];
  readonly kwargs: Record<string, WireValue>;
  readonly type: string;
  readonly hostname: string;
  /** Unix seconds when it started, or null when not started. */
  readonly time_start: number | null;
  readonly acknowledged: boolean;
  readonly delivery_info: { readonly exchange: string; readonly routing_key: string; readonly priority: number; readonly redelivered: boolean };
  readonly worker_pid: number | null;
}

/** A held ETA request, as Celery's `inspect scheduled` reports it. */
export interface ScheduledRequest {
  readonly eta: string;
  readonly priority: number;
  readonly request: ActiveRequest;
}

/** Celery's `inspect stats` reply for this worker (Celery's keys). */
export interface WorkerStats {
  readonly hostname: string;
  readonly pid: number;
  /** Seconds since start. */
  readonly uptime: number;
  /** Tasks started, per task name. */
  readonly total: Record<string, number>;
  readonly prefetch_count: number;
  readonly pool: {
    readonly 'max-concurrency': number;
    readonly processes: number[];
    readonly implementation: string;
    readonly 'put-guarded-by-semaphore': boolean;
    readonly timeouts: [number, number];
  };
  /** Queues consumed. */
  readonly queues: string[];
  /** Requests running, held (ETA) and queued now. */
  readonly active: number;
  readonly scheduled: number;
  readonly reserved: number;
  readonly rusage: { readonly utime: number; readonly stime: number; readonly maxrss: number };
}

/** `held`: waiting for its ETA; `limited`: waiting for a rate-limit token; `queued`: for a slot. */
type JobState = 'held' | 'limited' | 'queued' | 'running' | 'done';

/** How a running job ended, from the worker's point of view. */
type Final =
  | { readonly kind: 'outcome'; readonly outcome: RunOutcome }
  | { readonly kind: 'time-limit'; readonly limit: number }
  | { readonly kind: 'terminated'; readonly signal: string }
  | { readonly kind: 'cancelled' };

interface Job {
  readonly id: string;
  readonly name: string;
  readonly delivery: Delivery;
  readonly message: TaskMessage;
  readonly definition: TaskDefinition;
  readonly request: TaskRequest;
  readonly acksLate: boolean;
  readonly rejectOnWorkerLost: boolean;
  readonly pool: TaskPool;
  readonly hardLimit: number | null;
  readonly softLimit: number | null;
  state: JobState;
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
  startedAt: number | undefined;
  run: PoolRun | undefined;
  finish: ((final: Final) => void) | undefined;
  /** Its outcome is being stored and acked: a cold shutdown lets that finish. */
  completing: boolean;
  /** Held (for its ETA or a rate-limit token) with the consumer's prefetch raised by one for it. */
  prefetchRaised: boolean;
}

/** A consumer whose prefetch limit can move (`RedisConsumer` can; kombu's `qos.increment_eventually`). */
interface AdjustableConsumer extends Consumer {
  adjustPrefetch?(delta: number): number;
}

const DEFAULT_SHUTDOWN_TIMEOUT = 30_000;
const MAX_TIMER_MS = 2_147_483_647;
/** Headers encodeTaskMessage writes itself (a retry copies only the others). */
const STANDARD_HEADERS = new Set([
  'lang', 'task', 'id', 'shadow', 'eta', 'expires', 'group', 'group_index', 'retries', 'timelimit', 'root_id',
  'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result', 'compression', 'redelivered',
]);

function nowSeconds(): number {
  return Date.now() / 1000;
}

function limit(...values: (number | null | undefined)[]): number | null {
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  return null;
}

/**
 * @param template - `-n` value: `%h` host, `%n` first label, `%d` domain
 * @returns the node name
 */
export function expandHostname(template: string | undefined): string {
  const host = osHostname();
  const [first = host, ...rest] = host.split('.');
  const name = template ?? 'celeriac@%h';
  const expanded = name.replaceAll('%h', host).replaceAll('%n', first).replaceAll('%d', rest.join('.'));
  return expanded.includes('@') ? expanded : `${expanded}@${host}`;
}

function isEncodeFailure(error: unknown): boolean {
  return error instanceof CeleriacError && (error.code === ErrorCode.ENCODE_FAILED || error.code === ErrorCode.LIMIT_EXCEEDED);
}

/**
 * A worker for an app's tasks.
 *
 * @example
 * ```ts
 * const worker = createWorker(app, { queues: ['celery'], concurrency: 4 });
 * worker.on('task-failed', (event) => console.error(event.uuid, event.exception));
 * await worker.start();
 * // … later
 * await worker.stop(); // warm: running tasks finish, the rest goes back to the queue
 * ```
 */
export class Worker extends EventEmitter<WorkerEvents> {
  /** The node name (`celeriac@host`, or `-n`). */
  readonly hostname: string;
  /** Tasks at once. */
  readonly concurrency: number;
  /** Most unacked messages held (0: no limit). */
  readonly prefetch: number;
  /** The queues consumed. */
  readonly queues: readonly string[];
  readonly #app: WorkerApp;
  readonly #logger: Logger;
  readonly #defaultPool: TaskPool;
  readonly #shutdownTimeout: number;
  readonly #deadLetter: DeadLetterSink;
  readonly #handleSignals: boolean;
  readonly #childEntry: string | undefined;
  readonly #appModule: string | undefined;
  readonly #random: () => number;
  readonly #maxRevoked: number;
  readonly #limits: DecodeLimits | undefined;
  readonly #router: ReturnType<typeof safeRouter>;
  readonly #pools = new Map<TaskPool, TaskPoolRunner>();
  readonly #jobs = new Set<Job>();
  readonly #ready: Job[] = [];
  /** `gen<pid>@<host>`, the origin of messages this worker sends (os.hostname() is a syscall). */
  readonly #origin = `gen${process.pid}@${osHostname()}`;
  /** Per-task token buckets (Celery's `rate_limit`); held jobs wait here, off-slot. */
  readonly #limiter = new RateLimiter<Job>({
    onError: (error) => this.#logger.error('releasing a rate-limited task failed', { error: String(error) }),
  });
  /** Parsed `rateLimit` per task name (`null`: none); filled at start and on demand. */
  readonly #rateLimits = new Map<string, number | null>();
  readonly #running = new Set<Job>();
  readonly #revoked = new Map<string, number>();
  readonly #total = new Map<string, number>();
  readonly #pending = new Set<Promise<unknown>>();
  #consumer: AdjustableConsumer | undefined;
  #loop: Promise<void> | undefined;
  #startedAt = 0;
  #accepting = false;
  #stopping: Promise<void> | undefined;
  #cold = false;
  #wakeCold: (() => void) | undefined;
  /** Called when the last running task finished (a warm shutdown waits for it). */
  #onIdle: (() => void) | undefined;
  #removeSignals: (() => void) | undefined;
  #resolveDone!: () => void;
  /** Resolves when the worker has stopped (after {@link Worker.stop}). */
  readonly done: Promise<void>;

  /**
   * @param app - the app whose tasks it runs (see {@link WorkerApp})
   * @param options - queues, concurrency, hostname, pool, shutdown, logger
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a bad concurrency or queue list
   */
  constructor(app: WorkerApp, options: WorkerOptions = {}) {
    super();
    this.#app = app;
    const conf = app.conf;
    this.hostname = expandHostname(options.hostname ?? conf.worker_hostname ?? undefined);
    const concurrency = options.concurrency ?? conf.worker_concurrency ?? availableParallelism();
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `concurrency must be an integer >= 1, got ${String(concurrency)}`);
    }
    this.concurrency = concurrency;
    const multiplier = options.prefetchMultiplier ?? conf.worker_prefetch_multiplier ?? 4;
    if (!Number.isInteger(multiplier) || multiplier < 0) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `prefetch multiplier must be an integer >= 0, got ${String(multiplier)}`);
    }
    this.prefetch = concurrency * multiplier;
    const queues = options.queues ?? [conf.task_default_queue ?? 'celery'];
    if (queues.length === 0 || queues.some((q) => typeof q !== 'string' || q === '')) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `queues must be non-empty names, got ${JSON.stringify(queues)}`);
    }
    if (queues.includes(DEAD_LETTER_QUEUE)) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `${DEAD_LETTER_QUEUE} holds dead letters, not task messages: it cannot be consumed`);
    }
    this.queues = [...queues];
    this.#logger = options.logger ?? silentLogger;
    this.#defaultPool = options.pool ?? 'async';
    this.#shutdownTimeout = options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT;
    this.#deadLetter = options.deadLetter ?? brokerDeadLetterSink(app.broker);
    this.#handleSignals = options.handleSignals ?? false;
    this.#childEntry = options.poolChildEntry;
    this.#appModule = options.appModule;
    this.#random = options.random ?? Math.random;
    this.#maxRevoked = options.maxRevoked ?? 50_000;
    this.#limits = options.decodeLimits;
    this.#router = safeRouter((conf as { task_routes?: unknown }).task_routes);
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  /** Whether it is consuming (started and not stopping). */
  get running(): boolean {
    return this.#accepting;
  }

  /**
   * Starts consuming. Resolves once the consumer is set up; tasks then run in the background.
   *
   * @throws {@link CeleriacError} when already started, or what the broker throws
   */
  async start(): Promise<void> {
    if (this.#consumer !== undefined || this.#stopping !== undefined) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `Worker ${this.hostname} was started already`);
    }
    // A bad rateLimit is a configuration error: refuse to start rather than run unlimited.
    for (const name of this.#app.tasks.names()) this.#rateLimitOf(name);
    this.#startedAt = Date.now();
    this.#consumer = this.#app.broker.consume({ queues: this.queues, prefetch: this.prefetch });
    this.#accepting = true;
    this.#loop = this.#consume(this.#consumer);
    if (this.#handleSignals) this.#removeSignals = this.installSignalHandlers();
    this.#logger.info('worker ready', {
      hostname: this.hostname,
      queues: this.queues,
      concurrency: this.concurrency,
      prefetch: this.prefetch,
      tasks: this.#app.tasks.names(),
    });
    this.#emit('worker-online', { hostname: this.hostname, timestamp: nowSeconds() });
    await Promise.resolve();
  }

  /**
   * SIGTERM / SIGINT: the first starts a warm shutdown, the second turns it cold.
   *
   * @returns a function that removes the handlers
   */
  installSignalHandlers(): () => void {
    const handler = (signal: NodeJS.Signals): void => {
      if (this.#stopping === undefined) {
        this.#logger.info('warm shutdown (press Ctrl+C again or send another signal for a cold one)', { signal });
        void this.stop();
      } else {
        this.#logger.warn('cold shutdown', { signal });
        void this.stop({ cold: true });
      }
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
    return () => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    };
  }

  /**
   * Stops. Warm (default): stop fetching, hand back held (ETA) and queued messages, let
   * running tasks finish for up to `shutdownTimeout`, then turn cold. Cold (or a second
   * call with `cold`): abort running tasks' signals, kill pool children, hand back every
   * message this worker holds unacked. Idempotent; resolves when stopped.
   *
   * @param options - `cold`
   */
  stop(options: WorkerStopOptions = {}): Promise<void> {
    if (options.cold === true) {
      this.#cold = true;
      this.#wakeCold?.();
    }
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  /** {@link Worker.stop}, for `await using worker = createWorker(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * Revokes task ids: a held or queued one is discarded now (REVOKED `["revoked"]`), a later
   * message with the id when it is about to run; with `terminate` a running one is ended (its
   * signal aborts, its pool child is killed) and stored REVOKED `["terminated"]`.
   *
   * @param ids - one id or many
   * @param options - `terminate`, `signal`
   * @returns the ids that were held, queued or running here
   */
  revoke(ids: string | readonly string[], options: RevokeOptions = {}): string[] {
    const list = typeof ids === 'string' ? [ids] : [...ids];
    const now = Date.now();
    for (const id of list) {
      this.#revoked.delete(id);
      this.#revoked.set(id, now);
    }
    while (this.#revoked.size > this.#maxRevoked) {
      const oldest = this.#revoked.keys().next().value;
      if (oldest === undefined) break;
      this.#revoked.delete(oldest);
    }
    const wanted = new Set(list);
    const found: string[] = [];
    for (const job of [...this.#jobs]) {
      if (!wanted.has(job.id)) continue;
      found.push(job.id);
      if (job.state === 'held' || job.state === 'limited' || job.state === 'queued') {
        this.#track(this.#revokeJob(job, 'revoked'));
      } else if (job.state === 'running' && options.terminate === true) {
        const reason = new TaskRevokedError('terminated');
        job.run?.abort(reason);
        job.finish?.({ kind: 'terminated', signal: options.signal ?? 'SIGTERM' });
        job.run?.kill();
      }
    }
    return found;
  }

  /** @returns the revoked ids remembered (oldest first) */
  revokedIds(): string[] {
    return [...this.#revoked.keys()];
  }

  /** @returns whether the id was revoked here */
  isRevoked(id: string): boolean {
    return this.#revoked.has(id);
  }

  /** @returns the running requests, as Celery's `inspect active` reports them */
  active(): ActiveRequest[] {
    return [...this.#running].map((job) => this.#describe(job));
  }

  /** @returns the held ETA requests, as Celery's `inspect scheduled` reports them */
  scheduled(): ScheduledRequest[] {
    return [...this.#jobs]
      .filter((job) => job.state === 'held')
      .map((job) => ({
        eta: job.message.eta === null ? '' : formatCeleryDatetime(job.message.eta),
        priority: job.request.deliveryInfo.priority,
        request: this.#describe(job),
      }));
  }

  /** @returns the requests received and waiting for a slot, as Celery's `inspect reserved` reports them */
  reserved(): ActiveRequest[] {
    // Celery counts rate-limited requests as reserved too.
    return [...this.#jobs].filter((job) => job.state === 'queued' || job.state === 'limited').map((job) => this.#describe(job));
  }

  /** @returns Celery's `inspect stats` for this worker */
  stats(): WorkerStats {
    const usage = process.resourceUsage();
    const pids = [...this.#pools.values()].flatMap((p) => p.pids());
    let held = 0;
    for (const job of this.#jobs) if (job.state === 'held') held += 1;
    return {
      hostname: this.hostname,
      pid: process.pid,
      uptime: this.#startedAt === 0 ? 0 : Math.floor((Date.now() - this.#startedAt) / 1000),
      total: Object.fromEntries(this.#total),
      prefetch_count: this.prefetch,
      pool: {
        'max-concurrency': this.concurrency,
        processes: pids.length === 0 ? [process.pid] : pids,
        implementation: `celeriac:${this.#defaultPool}`,
        'put-guarded-by-semaphore': false,
        timeouts: [this.#app.conf.task_soft_time_limit ?? 0, this.#app.conf.task_time_limit ?? 0],
      },
      queues: [...this.queues],
      active: this.#running.size,
      scheduled: held,
      reserved: this.#ready.length + this.#limiter.held(),
      rusage: { utime: usage.userCPUTime / 1e6, stime: usage.systemCPUTime / 1e6, maxrss: usage.maxRSS },
    };
  }

  #describe(job: Job): ActiveRequest {
    const info = job.request.deliveryInfo;
    return {
      id: job.id,
      name: job.name,
      args: [...job.message.args],
      kwargs: { ...job.message.kwargs },
      type: job.name,
      hostname: this.hostname,
      time_start: job.startedAt === undefined ? null : job.startedAt / 1000,
      acknowledged: job.settled,
      delivery_info: { exchange: info.exchange, routing_key: info.routingKey, priority: info.priority, redelivered: job.request.redelivered },
      worker_pid: job.run?.pid ?? null,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Receiving

  async #consume(consumer: Consumer): Promise<void> {
    try {
      for await (const delivery of consumer) {
        this.#track(this.#receive(delivery));
      }
    } catch (error) {
      this.#logger.error('consumer failed; the worker stops fetching', { error: String(error) });
    }
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error: unknown) => {
      this.#logger.error('internal error while handling a message', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    });
    this.#pending.add(tracked);
    void tracked.finally(() => this.#pending.delete(tracked));
  }

  async #receive(delivery: Delivery): Promise<void> {
    const receivedAt = new Date();
    let envelope: KombuEnvelope | undefined;
    let message: TaskMessage;
    try {
      // The envelope with the protocol's limits (so the task id can still be read), the body
      // with the worker's.
      envelope = parseEnvelope(delivery.raw);
      message = decodeTaskMessage(envelope, {
        accept: this.#app.accept,
        serializers: this.#app.serializers,
        ...(this.#limits === undefined ? {} : { limits: this.#limits }),
      });
    } catch (error) {
      await this.#invalid(delivery, error, envelope, receivedAt);
      return;
    }
    const h = message.headers;
    const definition = this.#app.tasks.get(h.task);
    if (definition === undefined || (definition.run === undefined && definition.module === undefined)) {
      await this.#unknown(delivery, message);
      return;
    }
    if (!this.#accepting) {
      // Handed out while the consumer was closing: give it straight back.
      await this.#restoreDeliveries([delivery]);
      return;
    }
    const options = definition.options;
    const conf = this.#app.conf;
    const acksLate = options.acksLate ?? conf.task_acks_late ?? false;
    const [hardHeader, softHeader] = h.timelimit;
    const job: Job = {
      id: h.id,
      name: h.task,
      delivery,
      message,
      definition,
      request: buildTaskRequest(message, delivery, this.hostname),
      acksLate,
      rejectOnWorkerLost: acksLate && (options.rejectOnWorkerLost ?? conf.task_reject_on_worker_lost ?? false),
      pool: options.pool ?? this.#defaultPool,
      hardLimit: limit(hardHeader, options.timeLimit, conf.task_time_limit),
      softLimit: limit(softHeader, options.softTimeLimit, conf.task_soft_time_limit),
      state: 'queued',
      settled: false,
      timer: undefined,
      startedAt: undefined,
      run: undefined,
      finish: undefined,
      completing: false,
      prefetchRaised: false,
    };
    this.#jobs.add(job);
    this.#logger.info('task received', { id: job.id, name: job.name, eta: h.eta, redelivered: job.request.redelivered });
    // Event payloads (a repr of args and results) cost more than running a small task: they
    // are built only when somebody listens (the events service, a test).
    if (this.listenerCount('task-received') > 0) this.#emit('task-received', {
      ...this.#eventBase(job),
      type: 'task-received',
      name: job.name,
      args: h.argsrepr ?? pyRepr(message.args, undefined, true),
      kwargs: h.kwargsrepr ?? pyRepr(message.kwargs),
      root_id: h.root_id,
      parent_id: h.parent_id,
      retries: h.retries,
      eta: h.eta,
      expires: h.expires,
    });
    if (this.#revoked.has(job.id)) {
      await this.#revokeJob(job, 'revoked');
      return;
    }
    if (message.expires !== null && message.expires.getTime() <= Date.now()) {
      await this.#revokeJob(job, 'expired');
      return;
    }
    const eta = message.eta?.getTime();
    if (eta !== undefined && eta > Date.now()) {
      job.state = 'held';
      this.#raisePrefetch(job);
      this.#hold(job, eta);
      return;
    }
    this.#enqueue(job);
  }

  #hold(job: Job, eta: number): void {
    const wait = eta - Date.now();
    job.timer = setTimeout(
      () => {
        job.timer = undefined;
        if (job.state !== 'held') return;
        if (eta - Date.now() > 0) this.#hold(job, eta);
        else this.#enqueue(job);
      },
      Math.min(Math.max(wait, 0), MAX_TIMER_MS),
    );
  }

  /** kombu's `qos.increment_eventually`: a held ETA message does not take a prefetch slot. */
  #raisePrefetch(job: Job): void {
    const consumer = this.#consumer;
    if (this.prefetch === 0 || typeof consumer?.adjustPrefetch !== 'function') return;
    try {
      consumer.adjustPrefetch(1);
      job.prefetchRaised = true;
    } catch (error) {
      this.#logger.warn('could not raise the prefetch limit for a held ETA message', { id: job.id, error: String(error) });
    }
  }

  /** kombu's `qos.decrement_eventually`: the held message is released (to run, revoked, handed back). */
  #lowerPrefetch(job: Job): void {
    if (!job.prefetchRaised) return;
    job.prefetchRaised = false;
    try {
      this.#consumer?.adjustPrefetch?.(-1);
    } catch (error) {
      this.#logger.warn('could not lower the prefetch limit', { id: job.id, error: String(error) });
    }
  }

  #enqueue(job: Job): void {
    this.#lowerPrefetch(job);
    const limit = this.#rateLimitOf(job.name);
    if (limit !== null && this.#limiter.submit(job.name, limit, job, (released) => this.#released(released)) === 'held') {
      // Celery's `_limit_task`: held in the bucket, off-slot, so other tasks keep running;
      // and, unlike Celery, it does not take a prefetch slot either (as a held ETA message).
      job.state = 'limited';
      this.#raisePrefetch(job);
      return;
    }
    job.state = 'queued';
    this.#ready.push(job);
    this.#pump();
  }

  /** A rate-limited job got its token. */
  #released(job: Job): void {
    if (job.state !== 'limited') return;
    this.#lowerPrefetch(job);
    job.state = 'queued';
    this.#ready.push(job);
    this.#pump();
  }

  /**
   * The task's rate limit in tokens per second: its `rateLimit` option, else
   * `task_default_rate_limit`; `null` with `worker_disable_rate_limits` or none set.
   *
   * @throws CeleriacError `INVALID_CONFIG` for a rate that does not parse
   */
  #rateLimitOf(name: string): number | null {
    const known = this.#rateLimits.get(name);
    if (known !== undefined) return known;
    const conf = this.#app.conf;
    let limit: number | null = null;
    if (conf.worker_disable_rate_limits !== true) {
      const raw = this.#app.tasks.get(name)?.options.rateLimit ?? conf.task_default_rate_limit ?? null;
      try {
        limit = parseRateLimit(raw);
      } catch (error) {
        throw new CeleriacError(ErrorCode.INVALID_CONFIG, `Task ${name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    }
    this.#rateLimits.set(name, limit);
    return limit;
  }

  /**
   * Changes a task's rate limit on this worker (Celery's `rate_limit` control command): a new
   * bucket; requests already waiting keep their order; `null` / `0` / `''` lifts the limit.
   *
   * @param name - a registered task name
   * @param rate - `"10/s"`, `"100/m"`, `"1000/h"`, a number per second, or nothing
   * @throws CeleriacError `INVALID_CONFIG` for an unknown task or a rate that does not parse
   */
  setRateLimit(name: string, rate: string | number | null): void {
    if (!this.#app.tasks.has(name)) throw new CeleriacError(ErrorCode.INVALID_CONFIG, `Cannot rate-limit ${name}: no such task is registered on this worker`);
    const limit = parseRateLimit(rate);
    this.#rateLimits.set(name, limit);
    this.#limiter.setLimit(name, limit);
    this.#logger.info(limit === null ? 'rate limit disabled' : 'new rate limit', { name, rate });
  }

  #pump(): void {
    while (this.#accepting && this.#running.size < this.concurrency && this.#ready.length > 0) {
      const job = this.#ready.shift();
      if (job === undefined || job.state !== 'queued') continue;
      this.#track(this.#execute(job));
    }
  }

  /** A message that does not decode, or is refused: FAILURE where the id is known, dead letter, ack. */
  async #invalid(delivery: Delivery, error: unknown, envelope: KombuEnvelope | undefined, receivedAt: Date): Promise<void> {
    const code = error instanceof CeleriacError ? error.code : ErrorCode.DECODE_FAILED;
    const own = (error as { taskId?: unknown }).taskId;
    const taskId = typeof own === 'string' ? own : envelope === undefined ? undefined : readTaskId(envelope);
    const reason = error instanceof Error ? error.message : String(error);
    const info: ExceptionInfo =
      code === ErrorCode.CONTENT_DISALLOWED
        ? { exc_type: 'ContentDisallowed', exc_message: [reason], exc_module: 'kombu.exceptions' }
        : code === ErrorCode.INVALID_MESSAGE
          ? { exc_type: 'InvalidTaskError', exc_message: [reason], exc_module: 'celery.exceptions' }
          : { exc_type: 'DecodeError', exc_message: [reason], exc_module: 'kombu.exceptions' };
    this.#logger.error('refused a message: stored FAILURE (when its task id is known) and dead-lettered it', {
      queue: delivery.queue,
      taskId,
      code,
      reason,
    });
    if (taskId !== undefined) {
      await this.#storeMeta(createResultMeta({ taskId, status: TaskState.FAILURE, result: info, traceback: null }));
    }
    const entry = {
      reason,
      code,
      queue: delivery.queue,
      taskId: taskId ?? null,
      receivedAt: receivedAt.toISOString(),
      ...encodeRaw(delivery.raw),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#deadLetter.push(entry);
        break;
      } catch (pushError) {
        if (attempt >= 3) {
          // Never drop it: leave it unacked; the visibility timeout (or our shutdown) puts it back.
          this.#logger.error('could not dead-letter a refused message; it stays unacked', { queue: delivery.queue, taskId, error: String(pushError) });
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
    await this.#settleDelivery(delivery, 'ack');
    if (taskId !== undefined) {
      this.#emit('task-rejected', { uuid: taskId, hostname: this.hostname, timestamp: nowSeconds(), pid: process.pid, type: 'task-rejected', requeue: false });
    }
  }

  /** Celery's `on_unknown_task`: FAILURE NotRegistered, message rejected (dropped). */
  async #unknown(delivery: Delivery, message: TaskMessage): Promise<void> {
    const id = message.headers.id;
    const name = message.headers.task;
    this.#logger.error('received unregistered task', { id, name, queue: delivery.queue });
    const error = new NotRegisteredError(name);
    await this.#storeMeta(
      createResultMeta({
        taskId: id,
        status: TaskState.FAILURE,
        result: error,
        traceback: null,
        groupId: message.headers.group,
        parentId: message.headers.parent_id,
      }),
    );
    await this.#chordPartReturn(this.#chordMember(message), TaskState.FAILURE, error);
    await this.#settleDelivery(delivery, 'reject');
    this.#emit('task-failed', {
      uuid: id,
      hostname: this.hostname,
      timestamp: nowSeconds(),
      pid: process.pid,
      type: 'task-failed',
      exception: exceptionRepr(error),
      traceback: null,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Running

  #poolFor(kind: TaskPool): TaskPoolRunner {
    let pool = this.#pools.get(kind);
    if (pool === undefined) {
      pool = kind === 'async' ? new AsyncPool(this.#random) : new ChildPool(kind, this.#childEntry ?? defaultChildEntry(), this.#logger, this.#appModule);
      this.#pools.set(kind, pool);
    }
    return pool;
  }

  async #execute(job: Job): Promise<void> {
    job.state = 'running';
    this.#running.add(job);
    try {
      if (this.#revoked.has(job.id)) {
        await this.#revokeJob(job, 'revoked');
        return;
      }
      if (job.message.expires !== null && job.message.expires.getTime() <= Date.now()) {
        await this.#revokeJob(job, 'expired');
        return;
      }
      job.startedAt = Date.now();
      this.#total.set(job.name, (this.#total.get(job.name) ?? 0) + 1);
      // Early ack, as Celery's (when the pool accepts the task), but not waited for: the task
      // starts at once instead of a round trip later. Either way a crash after the ack loses
      // the message and one before it redelivers it; a failed ack is logged and the
      // visibility timeout restores the message.
      if (!job.acksLate) this.#track(this.#settle(job, 'ack'));
      const final = await this.#invoke(job);
      job.completing = final.kind !== 'cancelled';
      await this.#complete(job, final);
    } finally {
      job.state = 'done';
      this.#running.delete(job);
      this.#jobs.delete(job);
      if (this.#running.size === 0) this.#onIdle?.();
      this.#pump();
    }
  }

  async #invoke(job: Job): Promise<Final> {
    let args: unknown[];
    try {
      args = bindArguments(job.definition, job.message.args, job.message.kwargs);
    } catch (error) {
      return { kind: 'outcome', outcome: { kind: 'threw', error } };
    }
    let run: PoolRun;
    try {
      run = this.#poolFor(job.pool).run({ definition: job.definition, args, request: job.request });
    } catch (error) {
      return { kind: 'outcome', outcome: { kind: 'threw', error } };
    }
    job.run = run;
    this.#logger.debug('task started', { id: job.id, name: job.name, pool: job.pool, pid: run.pid });
    if (this.listenerCount('task-started') > 0) this.#emit('task-started', { ...this.#eventBase(job), type: 'task-started' });
    if (job.definition.options.trackStarted ?? this.#app.conf.task_track_started ?? false) {
      await this.#storeMeta(this.#meta(job, TaskState.STARTED, { pid: run.pid, hostname: this.hostname }));
    }
    let soft: NodeJS.Timeout | undefined;
    let hard: NodeJS.Timeout | undefined;
    const final = await new Promise<Final>((resolve) => {
      let done = false;
      const finish = (value: Final): void => {
        if (done) return;
        done = true;
        resolve(value);
      };
      job.finish = finish;
      void run.outcome.then((outcome) => finish({ kind: 'outcome', outcome }));
      if (job.softLimit !== null) {
        const seconds = job.softLimit;
        soft = setTimeout(() => {
          this.#logger.warn('soft time limit exceeded', { id: job.id, name: job.name, limit: seconds });
          run.abort(new SoftTimeLimitExceededError(seconds));
        }, seconds * 1000);
      }
      if (job.hardLimit !== null) {
        const seconds = job.hardLimit;
        hard = setTimeout(() => {
          this.#logger.error('hard time limit exceeded; the task is ended', { id: job.id, name: job.name, limit: seconds, pool: job.pool });
          run.abort(new TimeLimitExceededError(seconds));
          finish({ kind: 'time-limit', limit: seconds });
          run.kill();
        }, seconds * 1000);
      }
      if (this.#cold) finish({ kind: 'cancelled' });
    });
    clearTimeout(soft);
    clearTimeout(hard);
    job.finish = undefined;
    return final;
  }

  async #complete(job: Job, final: Final): Promise<void> {
    const runtime = job.startedAt === undefined ? 0 : (Date.now() - job.startedAt) / 1000;
    switch (final.kind) {
      case 'cancelled':
        // Cold shutdown: the message (if still unacked) is handed back by the shutdown.
        return;
      case 'terminated': {
        this.#logger.warn('task terminated', { id: job.id, name: job.name, signal: final.signal });
        await this.#storeMeta(this.#meta(job, TaskState.REVOKED, new TaskRevokedError('terminated')));
        await this.#settle(job, 'ack');
        this.#emit('task-revoked', { ...this.#eventBase(job), type: 'task-revoked', terminated: true, signum: final.signal, expired: false });
        return;
      }
      case 'time-limit': {
        const error = new TimeLimitExceededError(final.limit);
        await this.#fail(job, error, null);
        return;
      }
      case 'outcome':
        break;
    }
    const outcome = final.outcome;
    if (outcome.kind === 'returned') {
      await this.#succeed(job, outcome.value, runtime);
      return;
    }
    if (outcome.kind === 'lost') {
      if (job.rejectOnWorkerLost && !job.settled) {
        this.#logger.warn('pool child died; requeued (reject_on_worker_lost)', { id: job.id, name: job.name });
        await this.#settle(job, 'requeue');
        this.#emit('task-rejected', { ...this.#eventBase(job), type: 'task-rejected', requeue: true });
        return;
      }
      await this.#fail(job, outcome.error, null);
      return;
    }
    const error = outcome.error;
    if (error instanceof TaskRetryError) {
      await this.#retry(job, error);
      return;
    }
    if (error instanceof TaskRejectError) {
      this.#logger.warn('task rejected its message', { id: job.id, name: job.name, requeue: error.requeue });
      await this.#settle(job, error.requeue ? 'requeue' : 'reject');
      this.#emit('task-rejected', { ...this.#eventBase(job), type: 'task-rejected', requeue: error.requeue });
      return;
    }
    await this.#fail(job, error, formatTraceback(error));
  }

  async #succeed(job: Job, value: unknown, runtime: number): Promise<void> {
    const ignore =
      job.definition.options.ignoreResult ?? this.#app.conf.task_ignore_result ?? false;
    // Celery's trace: callbacks, then the next task of the chain, are sent before the result
    // is stored, so that its `children` lists them.
    let children: WireValue[];
    try {
      children = await this.#sendFollowers(job, (value === undefined ? null : value) as WireValue);
    } catch (error) {
      this.#logger.error('could not send the callbacks or the next task of the chain; the task fails', { id: job.id, name: job.name, error: String(error) });
      await this.#fail(job, error, formatTraceback(error));
      return;
    }
    if (!ignore && !job.message.headers.ignore_result) {
      const meta = this.#meta(job, TaskState.SUCCESS, value === undefined ? null : value, null, children.length === 0 ? undefined : children);
      try {
        await this.#app.backend?.store(meta);
      } catch (error) {
        if (!isEncodeFailure(error)) {
          this.#logger.error('could not store the result', { id: job.id, name: job.name, error: String(error) });
        } else {
          const reason = error instanceof Error ? error.message : String(error);
          const info: ExceptionInfo = { exc_type: 'EncodeError', exc_message: [reason], exc_module: 'kombu.exceptions' };
          await this.#fail(job, info, null, `EncodeError(${pyRepr(reason)})`);
          return;
        }
      }
    }
    await this.#chordPartReturn(this.#chordMember(job.message), TaskState.SUCCESS, value === undefined ? null : value);
    this.#logger.info('task succeeded', { id: job.id, name: job.name, runtime });
    await this.#settle(job, 'ack');
    if (this.listenerCount('task-succeeded') > 0) {
      this.#emit('task-succeeded', { ...this.#eventBase(job), type: 'task-succeeded', result: pyRepr(value === undefined ? null : value), runtime });
    }
  }

  /**
   * Stores FAILURE, acks, emits. Failures are stored even for a task with ignoreResult (Celery
   * skips them then, unless store_errors_even_if_ignored): a caller always learns of one.
   */
  async #fail(job: Job, error: unknown, traceback: string | null, repr?: string): Promise<void> {
    this.#logger.error('task failed', { id: job.id, name: job.name, error: repr ?? exceptionRepr(error) });
    const meta = this.#meta(job, TaskState.FAILURE, error, traceback);
    await this.#storeMeta(meta);
    await this.#chordPartReturn(this.#chordMember(job.message), TaskState.FAILURE, error);
    await this.#failChain(job, error, traceback);
    await this.#sendErrbacks(job);
    await this.#settle(job, 'ack');
    this.#emit('task-failed', { ...this.#eventBase(job), type: 'task-failed', exception: repr ?? exceptionRepr(error), traceback });
  }

  /**
   * Celery's retry: publish a new message with the same id, retries + 1, an ETA, parent_id
   * = own id, same root/args/kwargs/queue/priority; store RETRY; ack the original.
   */
  async #retry(job: Job, error: TaskRetryError): Promise<void> {
    const m = job.message;
    const h = m.headers;
    const conf = this.#app.conf;
    const delay = error.eta === undefined ? (error.countdown ?? job.definition.options.defaultRetryDelay ?? conf.task_default_retry_delay ?? 180) : undefined;
    const custom: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(h)) if (!STANDARD_HEADERS.has(key) && value !== undefined) custom[key] = value;
    const retryArgs = error instanceof TaskRetry ? error.retryArgs : undefined;
    const retryKwargs = error instanceof TaskRetry ? error.retryKwargs : undefined;
    try {
      const encoded = encodeTaskMessage(
        {
          task: h.task,
          id: h.id,
          args: retryArgs ?? m.args,
          kwargs: retryKwargs ?? m.kwargs,
          ...(error.eta === undefined ? { countdown: delay } : { eta: error.eta }),
          ...(m.expires === null ? {} : { expires: m.expires }),
          priority: typeof m.properties.priority === 'number' ? m.properties.priority : 0,
          queue: job.delivery.queue,
          exchange: m.properties.delivery_info.exchange,
          retries: h.retries + 1,
          timeLimit: h.timelimit[0],
          softTimeLimit: h.timelimit[1],
          shadow: h.shadow,
          group: h.group,
          groupIndex: h.group_index,
          rootId: h.root_id ?? h.id,
          parentId: h.id,
          ignoreResult: h.ignore_result,
          headers: custom,
          callbacks: m.embed.callbacks,
          errbacks: m.embed.errbacks,
          chain: m.embed.chain,
          chord: m.embed.chord,
          origin: this.#origin,
        },
        { serializer: this.#app.serializers.find(m.contentType) ?? jsonSerializer },
      );
      await this.#app.broker.publish(encoded);
    } catch (publishError) {
      this.#logger.error('could not publish the retry; the task fails', { id: job.id, name: job.name, error: String(publishError) });
      await this.#fail(job, publishError, formatTraceback(publishError));
      return;
    }
    const exc = error.exc;
    const result: ExceptionInfo = exc !== undefined
      ? encodeException(exc)
      : { exc_type: 'Retry', exc_message: [error.message], exc_module: 'celery.exceptions' };
    const traceback = formatTraceback(exc ?? error);
    this.#logger.info('task retry', { id: job.id, name: job.name, retries: h.retries + 1, countdown: delay, eta: error.eta?.toISOString() });
    await this.#storeMeta(this.#meta(job, TaskState.RETRY, result, traceback, [[[h.id, null], null]]));
    await this.#settle(job, 'ack');
    this.#emit('task-retried', { ...this.#eventBase(job), type: 'task-retried', exception: exceptionRepr(exc ?? error), traceback });
  }

  // -------------------------------------------------------------------------------------------
  // Callbacks, errbacks, chains

  #signatureContext(message: TaskMessage): SignatureSendContext {
    const h = message.headers;
    const conf = this.#app.conf;
    const parentSerializer = this.#app.serializers.find(message.contentType) ?? jsonSerializer;
    return {
      parentId: h.id,
      rootId: h.root_id ?? h.id,
      origin: this.#origin,
      serializer: (name) => (name === undefined ? undefined : this.#app.serializers.find(name)) ?? parentSerializer,
      queueFor: (task, args, kwargs) =>
        this.#app.tasks.get(task)?.options.queue ?? this.#router(task, args, kwargs, {})?.queue ?? conf.task_default_queue ?? 'celery',
    };
  }

  /**
   * Applies a signature from a message (a callback, an errback, the next step of a chain, a
   * chord body) as Celery's `signature(...).apply_async(partial, ...)`: any canvas is planned
   * with the client's `planSignature`, chord sizes are set, then each message is published.
   *
   * @returns what was sent, for the parent's `children`
   */
  async #applySignature(sig: SignatureDict, partial: WireValue[], ctx: SignatureSendContext, options: WireObject = {}): Promise<ResultNode> {
    const plan = planSignature(sig, partial, options);
    const backend = this.#app.backend;
    for (const { groupId, size } of plan.chordSizes) {
      if (backend?.setChordSize === undefined) {
        throw new CeleriacError(ErrorCode.INVALID_CONFIG, `Cannot start chord ${groupId}: the worker has no result backend with chord support`);
      }
      await backend.setChordSize(groupId, size);
    }
    // Encode all first (an encode error sends nothing), then one pipelined publish.
    const encoded = plan.messages.map((message) => encodeSignature(message, [], ctx));
    if (encoded.length === 1) await this.#app.broker.publish(encoded[0] as EncodedTaskMessage);
    else if (encoded.length > 1) await this.#app.broker.publishMany(encoded);
    return plan.result;
  }

  /**
   * Sends `embed.callbacks` (args `[retval] + sig args`) and the next step of `embed.chain`
   * (its last element, carrying the rest), as Celery's trace does on success: one callback
   * is applied alone; several are applied as one group (group callbacks each on their own).
   *
   * @returns the children of the stored meta (Celery's result tuples of what was sent)
   */
  async #sendFollowers(job: Job, retval: WireValue): Promise<WireValue[]> {
    const { callbacks, chain } = job.message.embed;
    if ((callbacks === null || callbacks.length === 0) && (chain === null || chain.length === 0)) return [];
    const ctx = this.#signatureContext(job.message);
    const sent: WireValue[] = [];
    const list = callbacks ?? [];
    const batches = list.length <= 1
      ? list
      : [...list.filter((sig) => sig.subtask_type === 'group'), ...(list.some((sig) => sig.subtask_type !== 'group') ? [group(list.filter((sig) => sig.subtask_type !== 'group'))] : [])];
    for (const sig of batches) {
      const node = await this.#applySignature(sig, [retval], ctx);
      this.#logger.info('sent a link callback', { id: job.id, callback: node.id, task: sig.task });
      sent.push(resultTupleOf(node));
    }
    if (chain !== null && chain.length > 0) {
      const rest: SignatureDict[] = [...chain];
      const next = rest.pop() as SignatureDict;
      const node = await this.#applySignature(next, [retval], ctx, rest.length === 0 ? {} : { chain: rest as unknown as WireValue });
      this.#logger.info('sent the next step of the chain', { id: job.id, next: node.id, task: next.task, remaining: rest.length });
      sent.push(resultTupleOf(node));
    }
    return sent;
  }

  /**
   * Celery's `mark_as_failure`: the remaining steps of the chain that have a fixed id are
   * stored FAILURE with the same exception (so waiting on the chain's last result ends), and
   * a step that belongs to a chord counts as a failed header part (so the chord ends too).
   */
  async #failChain(job: Job, error: unknown, traceback: string | null): Promise<void> {
    for (const sig of job.message.embed.chain ?? []) {
      const options = sig.options as Record<string, WireValue> | null | undefined;
      const id = options?.['task_id'];
      if (typeof id !== 'string' || id === '') continue;
      const group = options?.['group_id'];
      await this.#storeMeta(
        createResultMeta({ taskId: id, status: TaskState.FAILURE, result: error, traceback, groupId: typeof group === 'string' ? group : null }),
      );
      const body = options?.['chord'];
      if (typeof group === 'string' && isSignatureDict(body)) {
        const index = options?.['group_index'];
        await this.#chordPartReturn(
          { taskId: id, groupId: group, groupIndex: typeof index === 'number' ? index : null, body, ctx: () => this.#signatureContext(job.message) },
          TaskState.FAILURE,
          error,
        );
      }
    }
  }

  /**
   * Celery's `_call_task_errbacks` for errbacks sent by name: each `embed.errbacks`
   * signature is sent with args `[failed task id] + sig args` (sig args alone when
   * immutable), parent_id = the failed task, same root. Errors are logged, not raised.
   */
  async #sendErrbacks(job: Job): Promise<void> {
    await this.#callErrbacks(job.message.embed.errbacks ?? [], job.id, this.#signatureContext(job.message));
  }

  async #callErrbacks(errbacks: readonly SignatureDict[], failedId: string, ctx: SignatureSendContext): Promise<void> {
    for (const sig of errbacks) {
      try {
        const node = await this.#applySignature(sig, [failedId], ctx);
        this.#logger.info('sent an errback', { id: failedId, errback: node.id, task: sig.task });
      } catch (error) {
        this.#logger.error('could not send an errback', { id: failedId, task: sig.task, error: String(error) });
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Chords

  /** What a finished task needs to count down its chord, from its message. */
  #chordMember(message: TaskMessage): ChordMember {
    const h = message.headers;
    return { taskId: h.id, groupId: h.group, groupIndex: h.group_index, body: message.embed.chord, ctx: () => this.#signatureContext(message) };
  }

  /**
   * Celery's Redis `on_chord_part_return`: a header task (`group` header and `embed.chord`)
   * that reached a final state adds itself to `<gid>.j`; the one that completes the count
   * reads every part in header order and sends the body with `[results]` (parent = itself),
   * or, when a part failed, stores the body's FAILURE with a `ChordError` and calls the
   * body's errbacks; then it deletes the counters. Never throws: errors are logged.
   */
  async #chordPartReturn(member: ChordMember, state: string, result: unknown): Promise<void> {
    const { groupId, body } = member;
    if (groupId === null || groupId === '' || body === null) return;
    const backend = this.#app.backend;
    if (backend?.chordPartDone === undefined || backend.chordResults === undefined || backend.chordCleanup === undefined) {
      this.#logger.error('a chord header task finished but the worker has no result backend with chord support: the body will not run', { id: member.taskId, group: groupId });
      return;
    }
    let complete: boolean;
    try {
      complete = (await backend.chordPartDone(groupId, member.groupIndex, member.taskId, state, result)).complete;
    } catch (error) {
      this.#logger.error('could not count a chord header task; the chord body will not run', { id: member.taskId, group: groupId, error: String(error) });
      return;
    }
    if (!complete) return;
    try {
      let values: WireValue[];
      try {
        const parts = await backend.chordResults(groupId);
        const failed = parts.find((part) => PROPAGATE_STATES.has(part.state));
        if (failed !== undefined) {
          throw new ChordError(`Dependency ${failed.taskId} raised ${exceptionRepr(decodeException(failed.result, { taskId: failed.taskId, state: failed.state }))}`);
        }
        values = parts.map((part) => part.result);
      } catch (error) {
        await this.#chordFailed(body, error instanceof ChordError ? error : new ChordError(`Join error: ${exceptionRepr(error)}`), member);
        return;
      }
      try {
        const node = await this.#applySignature(body, [values], member.ctx());
        this.#logger.info('chord complete: sent its body', { group: groupId, body: node.id, task: body.task, parts: values.length });
      } catch (error) {
        await this.#chordFailed(body, new ChordError(`Callback error: ${exceptionRepr(error)}`), member);
      }
    } finally {
      await backend.chordCleanup(groupId).catch((error: unknown) => {
        this.#logger.warn('could not delete the chord counters (they expire with result_expires)', { group: groupId, error: String(error) });
      });
    }
  }

  /** Celery's `chord_error_from_stack`: the body's FAILURE (a ChordError), then its errbacks. */
  async #chordFailed(body: SignatureDict, error: ChordError, member: ChordMember): Promise<void> {
    let ids: string[];
    try {
      ids = leafIds(freezeSignature(body).result);
    } catch {
      ids = [];
    }
    this.#logger.error('chord failed: its body will not run', { group: member.groupId, body: ids, error: error.message });
    for (const id of ids) {
      await this.#storeMeta(createResultMeta({ taskId: id, status: TaskState.FAILURE, result: error, traceback: formatTraceback(error), parentId: member.taskId }));
    }
    const errbacks = (Array.isArray(body.options['link_error']) ? body.options['link_error'] : []).filter(isSignatureDict);
    const failedId = ids.at(-1);
    if (failedId !== undefined) await this.#callErrbacks(errbacks, failedId, member.ctx());
  }

  async #revokeJob(job: Job, reason: 'revoked' | 'expired'): Promise<void> {
    clearTimeout(job.timer);
    job.timer = undefined;
    this.#lowerPrefetch(job);
    const queued = this.#ready.indexOf(job);
    if (queued !== -1) this.#ready.splice(queued, 1);
    if (job.state === 'limited') this.#limiter.remove((held) => held === job);
    job.state = 'done';
    this.#jobs.delete(job);
    this.#logger.info(reason === 'expired' ? 'task expired' : 'task revoked', { id: job.id, name: job.name });
    const revoked = new TaskRevokedError(reason);
    await this.#storeMeta(this.#meta(job, TaskState.REVOKED, revoked));
    await this.#chordPartReturn(this.#chordMember(job.message), TaskState.REVOKED, revoked);
    await this.#settle(job, 'ack');
    this.#emit('task-revoked', { ...this.#eventBase(job), type: 'task-revoked', terminated: false, signum: null, expired: reason === 'expired' });
  }

  // -------------------------------------------------------------------------------------------
  // Results, acks, events

  #meta(job: Job, status: string, result: unknown, traceback: string | null = null, children?: WireValue[]): ResultMeta {
    const h = job.message.headers;
    return createResultMeta({
      taskId: job.id,
      status,
      result,
      traceback,
      ...(children === undefined ? {} : { children }),
      groupId: h.group,
      parentId: h.parent_id,
      ...(this.#app.conf.result_extended === true
        ? {
            extended: {
              name: job.name,
              args: job.message.args,
              kwargs: job.message.kwargs,
              worker: this.hostname,
              retries: h.retries,
              queue: job.delivery.queue,
            },
          }
        : {}),
    });
  }

  async #storeMeta(meta: ResultMeta): Promise<void> {
    try {
      // The app's backend getter may throw (closed app): inside the try, as the store.
      const backend = this.#app.backend;
      if (backend === undefined) return;
      await backend.store(meta);
    } catch (error) {
      this.#logger.error('could not store a task state', { id: meta.task_id, status: meta.status, error: String(error) });
    }
  }

  async #settle(job: Job, how: 'ack' | 'reject' | 'requeue'): Promise<void> {
    if (job.settled) return;
    job.settled = true;
    await this.#settleDelivery(job.delivery, how);
  }

  async #settleDelivery(delivery: Delivery, how: 'ack' | 'reject' | 'requeue'): Promise<void> {
    try {
      if (how === 'ack') await delivery.ack();
      else await delivery.reject({ requeue: how === 'requeue' });
    } catch (error) {
      this.#logger.error(`could not ${how} a message; the visibility timeout will restore it`, {
        queue: delivery.queue,
        tag: delivery.deliveryTag,
        error: String(error),
      });
    }
  }

  /** Hands deliveries back to the front of their queues (kombu's restore), by tag when the broker can. */
  async #restoreDeliveries(deliveries: Delivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    const broker = this.#app.broker;
    try {
      if (typeof broker.restoreUnacked === 'function') {
        const tags = deliveries.map((d) => {
          const tag = (d as { unackedTag?: unknown }).unackedTag;
          return typeof tag === 'string' && tag !== '' ? tag : d.deliveryTag;
        });
        await broker.restoreUnacked(tags);
      } else {
        await Promise.all(deliveries.map((d) => d.reject({ requeue: true })));
      }
      this.#logger.info('restored unacknowledged messages', { count: deliveries.length });
    } catch (error) {
      this.#logger.error('could not restore unacknowledged messages; the visibility timeout will', { count: deliveries.length, error: String(error) });
    }
  }

  #eventBase(job: Job): TaskEventBase {
    return { uuid: job.id, hostname: this.hostname, timestamp: nowSeconds(), pid: process.pid };
  }

  #emit<K extends keyof WorkerEvents>(event: K, ...args: WorkerEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: WorkerEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.#logger.error('a worker event listener threw', { event, error: String(error) });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Shutdown

  async #shutdown(): Promise<void> {
    this.#emit('worker-shutdown', { hostname: this.hostname, cold: this.#cold });
    this.#logger.info('worker shutting down', { hostname: this.hostname, cold: this.#cold, running: this.#running.size });
    this.#accepting = false;
    try {
      await this.#consumer?.close();
    } catch (error) {
      this.#logger.error('consumer did not close cleanly', { error: String(error) });
    }
    await this.#loop;
    // Prefetched and held (ETA) messages go back now.
    this.#limiter.drain();
    const waiting = [...this.#jobs].filter((job) => job.state === 'held' || job.state === 'limited' || job.state === 'queued');
    for (const job of waiting) {
      clearTimeout(job.timer);
      job.timer = undefined;
      job.prefetchRaised = false;
      job.state = 'done';
      job.settled = true;
      this.#jobs.delete(job);
    }
    this.#ready.length = 0;
    await this.#restoreDeliveries(waiting.map((job) => job.delivery));
    if (this.#running.size > 0 && !this.#cold) {
      this.#logger.info('waiting for running tasks', { running: this.#running.size, timeoutMs: this.#shutdownTimeout });
      const allDone = new Promise<void>((resolve) => {
        this.#onIdle = resolve;
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        allDone,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.#shutdownTimeout);
          this.#wakeCold = resolve;
        }),
      ]);
      clearTimeout(timer);
    }
    if (this.#running.size > 0) await this.#coldStop();
    await Promise.allSettled([...this.#pending]);
    await Promise.allSettled([...this.#pools.values()].map((pool) => pool.close()));
    this.#removeSignals?.();
    this.#logger.info('worker stopped', { hostname: this.hostname });
    this.#emit('worker-offline', { hostname: this.hostname, timestamp: nowSeconds() });
    this.#resolveDone();
  }

  async #coldStop(): Promise<void> {
    this.#cold = true;
    const running = [...this.#running];
    this.#logger.warn('cold shutdown: aborting running tasks', { running: running.length });
    const handBack: Delivery[] = [];
    for (const job of running) {
      // Its result is being stored: let it ack rather than run it twice.
      if (job.completing) continue;
      const reason = new CeleriacError(ErrorCode.CONNECTION_CLOSED, `Worker ${this.hostname} is shutting down (cold)`);
      job.run?.abort(reason);
      job.finish?.({ kind: 'cancelled' });
      if (job.pool !== 'async') job.run?.kill();
      if (!job.settled) {
        job.settled = true;
        handBack.push(job.delivery);
      } else {
        this.#logger.warn('task was acked early and is lost by the cold shutdown', { id: job.id, name: job.name });
      }
    }
    await this.#restoreDeliveries(handBack);
    await Promise.allSettled([...this.#pools.values()].map((pool) => pool.close()));
  }
}

/**
 * Creates a {@link Worker}; call `start()` on it.
 *
 * @param app - the app whose tasks it runs
 * @param options - queues, concurrency, hostname, pool, shutdown, logger
 * @returns the worker
 */
export function createWorker(app: WorkerApp, options: WorkerOptions = {}): Worker {
  return new Worker(app, options);
}

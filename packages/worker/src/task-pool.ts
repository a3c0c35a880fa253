/**
 * Where tasks run: the `async` pool (the worker's event loop) and the `thread` / `process`
 * pools of children running `pool-child.js` (protocol in pool-protocol.ts). The worker's
 * concurrency limit applies across all of them; a child pool keeps at most that many
 * children, each running one task at a time, and re-uses idle ones.
 *
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker as ThreadWorker } from 'node:worker_threads';
import type { TaskDefinition, TaskPool as PoolKind, TaskRequest } from '@celeriac/client';
import { CeleriacError, ErrorCode, type Logger } from '@celeriac/protocol';
import { deserializeError, serializeError, type ChildMessage, type ParentMessage } from './pool-protocol.ts';
import { invokeTask } from './task-context.ts';
import { WorkerLostError } from './worker-errors.ts';

/** How a run ended. */
export type RunOutcome =
  | { readonly kind: 'returned'; readonly value: unknown }
  | { readonly kind: 'threw'; readonly error: unknown }
  /** The child running it died (exit, crash, kill by someone else). */
  | { readonly kind: 'lost'; readonly error: WorkerLostError };

/** One task handed to a pool. */
export interface PoolJob {
  readonly definition: TaskDefinition;
  /** The arguments after the context, bound. */
  readonly args: readonly unknown[];
  readonly request: TaskRequest;
}

/** A task running in a pool. */
export interface PoolRun {
  /** Settles once with how it ended; never rejects. */
  readonly outcome: Promise<RunOutcome>;
  /** The process id running it (the worker's own for async and thread). */
  readonly pid: number;
  /** Aborts the task's `ctx.signal` with `reason`. */
  abort(reason: Error): void;
  /** Ends it at once: a child is killed; an async task is aborted and left behind. */
  kill(): void;
}

/** A pool. */
export interface TaskPoolRunner {
  run(job: PoolJob): PoolRun;
  /** Pids of its children (empty for async). */
  pids(): number[];
  /** Ends every child. */
  close(): Promise<void>;
}

/** The in-loop pool: the task is an async function call in the worker's event loop. */
export class AsyncPool implements TaskPoolRunner {
  readonly #random: () => number;

  /**
   * @param random - the jitter source
   */
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  run(job: PoolJob): PoolRun {
    const controller = new AbortController();
    const outcome = invokeTask(job.definition, job.args, job.request, controller.signal, this.#random).then(
      (result): RunOutcome => (result.ok ? { kind: 'returned', value: result.value } : { kind: 'threw', error: result.error }),
      (error: unknown): RunOutcome => ({ kind: 'threw', error }),
    );
    return {
      outcome,
      pid: process.pid,
      abort: (reason) => controller.abort(reason),
      kill: () => controller.abort(new CeleriacError(ErrorCode.TASK_FAILED, 'The task was ended by the worker')),
    };
  }

  pids(): number[] {
    return [];
  }

  async close(): Promise<void> {
    // Nothing to end: an abandoned async task has had its signal aborted already.
  }
}

/** A child of a thread or process pool. */
interface Child {
  readonly pid: number;
  send(message: ParentMessage): void;
  kill(): void;
  /** Set while it runs a task. */
  current: { id: number; resolve: (outcome: RunOutcome) => void } | undefined;
  dead: boolean;
}

let runIds = 0;

/**
 * Where the pool child script is: `pool-child.js` beside the running module (the built
 * package), or the package's `dist/` when the worker runs from source (tests).
 *
 * @returns the path
 * @throws {@link CeleriacError} `INVALID_CONFIG` when it was never built
 */
export function defaultChildEntry(): string {
  const candidates = [new URL('./pool-child.js', import.meta.url), new URL('../dist/pool-child.js', import.meta.url)];
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate);
    if (existsSync(path)) return path;
  }
  throw new CeleriacError(
    ErrorCode.INVALID_CONFIG,
    `The pool child script was not found (looked for ${candidates.map((c) => fileURLToPath(c)).join(', ')}); build @celeriac/worker first`,
  );
}

/** A pool of `node:worker_threads` threads or `node:child_process` forks. */
export class ChildPool implements TaskPoolRunner {
  readonly kind: Exclude<PoolKind, 'async'>;
  readonly #entry: string;
  readonly #fallbackModule: string | undefined;
  readonly #logger: Logger;
  readonly #idle: Child[] = [];
  readonly #all = new Set<Child>();

  /**
   * @param kind - `thread` or `process`
   * @param entry - the child script (see {@link defaultChildEntry})
   * @param logger - where child exits are logged
   * @param fallbackModule - the module of tasks whose definition names none (the app's, `-A`)
   */
  constructor(kind: Exclude<PoolKind, 'async'>, entry: string, logger: Logger, fallbackModule?: string) {
    this.kind = kind;
    this.#entry = entry;
    this.#logger = logger;
    this.#fallbackModule = fallbackModule;
  }

  pids(): number[] {
    return [...this.#all].map((c) => c.pid);
  }

  run(job: PoolJob): PoolRun {
    const module = job.definition.module ?? this.#fallbackModule;
    if (module === undefined) {
      const error = new CeleriacError(
        ErrorCode.INVALID_CONFIG,
        `Task ${job.definition.name} runs in the ${this.kind} pool but its definition has no module to load it from ` +
          '(declare it with module: import.meta.url, or give the worker appModule)',
      );
      return { outcome: Promise.resolve({ kind: 'threw', error }), pid: process.pid, abort: () => undefined, kill: () => undefined };
    }
    const child = this.#idle.pop() ?? this.#spawn();
    const id = ++runIds;
    const outcome = new Promise<RunOutcome>((resolve) => {
      child.current = { id, resolve };
    });
    child.send({ t: 'run', id, task: job.definition.name, module, args: job.args, request: job.request });
    void outcome.then(() => {
      if (!child.dead) this.#idle.push(child);
    });
    return {
      outcome,
      pid: child.pid,
      abort: (reason) => {
        if (child.current?.id === id && !child.dead) child.send({ t: 'abort', id, reason: serializeError(reason) });
      },
      kill: () => {
        if (child.current?.id === id) child.kill();
      },
    };
  }

  #spawn(): Child {
    const child = this.kind === 'thread' ? this.#spawnThread() : this.#spawnProcess();
    this.#all.add(child);
    return child;
  }

  #onMessage(child: Child, message: ChildMessage): void {
    const current = child.current;
    if (message.t !== 'done' || current === undefined || current.id !== message.id) return;
    child.current = undefined;
    current.resolve(message.ok ? { kind: 'returned', value: message.value } : { kind: 'threw', error: deserializeError(message.error) });
  }

  #onExit(child: Child, detail: string): void {
    child.dead = true;
    this.#all.delete(child);
    const at = this.#idle.indexOf(child);
    if (at !== -1) this.#idle.splice(at, 1);
    const current = child.current;
    child.current = undefined;
    if (current !== undefined) {
      this.#logger.warn('pool child exited while running a task', { pool: this.kind, pid: child.pid, exit: detail });
      current.resolve({ kind: 'lost', error: new WorkerLostError(detail) });
    }
  }

  #spawnThread(): Child {
    // execArgv: [] so a parent's loader flags (a test runner's) are not inherited.
    const thread = new ThreadWorker(this.#entry, { execArgv: [], stdout: false, stderr: false });
    const child: Child = {
      pid: process.pid,
      send: (message) => thread.postMessage(message),
      kill: () => void thread.terminate(),
      current: undefined,
      dead: false,
    };
    thread.on('message', (message: ChildMessage) => this.#onMessage(child, message));
    thread.on('error', (error) => this.#logger.error('pool thread crashed', { error: error.message }));
    thread.on('exit', (code) => this.#onExit(child, `exitcode ${code}`));
    thread.unref();
    return child;
  }

  #spawnProcess(): Child {
    const proc: ChildProcess = fork(this.#entry, [], { serialization: 'advanced', execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const child: Child = {
      pid: proc.pid ?? -1,
      send: (message) => {
        if (proc.connected) proc.send(message);
      },
      kill: () => proc.kill('SIGKILL'),
      current: undefined,
      dead: false,
    };
    proc.on('message', (message: ChildMessage) => this.#onMessage(child, message));
    proc.on('error', (error) => this.#logger.error('pool process error', { error: error.message }));
    proc.on('exit', (code, signal) => this.#onExit(child, signal === null ? `exitcode ${String(code)}` : `signal ${signal}`));
    proc.unref();
    proc.channel?.unref();
    return child;
  }

  async close(): Promise<void> {
    const children = [...this.#all];
    for (const child of children) child.kill();
    const deadline = Date.now() + 5_000;
    while (this.#all.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }
}

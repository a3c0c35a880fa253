/**
 * Child processes of the bench: Node children running child.ts, Python Celery workers and
 * clients, and the peak RSS of a process (`VmHWM` in `/proc/<pid>/status`, the kernel's own
 * high-water mark, so no sampling can miss a peak).
 *
 * @module
 */
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { celeryPython } from '@celeriac/test-utils';
import type { ChildJob, ChildReply, PeerTarget } from './peers.ts';

/** The folder with bench_tasks.py and bench_client.py (next to dist/ and src/). */
export const PYTHON_DIR = fileURLToPath(new URL('../python/', import.meta.url));
const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));

/**
 * @param pid - a live process
 * @returns its peak resident set size in bytes (`VmHWM`), `undefined` when unreadable
 */
export function peakRssBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A forked child.ts, talking over IPC. */
export class NodeChild {
  readonly #child: ChildProcess;
  readonly #queue: ChildReply[] = [];
  readonly #waiters: ((reply: ChildReply) => void)[] = [];
  readonly #exited: Promise<void>;
  #stderr = '';

  /**
   * @param job - what the child does
   * @param execArgv - extra Node flags (`--expose-gc`, `--cpu-prof`, …)
   */
  constructor(job: ChildJob, execArgv: readonly string[] = []) {
    this.#child = fork(CHILD, [], { execArgv: [...execArgv], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    this.#child.on('message', (message) => {
      const waiter = this.#waiters.shift();
      if (waiter === undefined) this.#queue.push(message as ChildReply);
      else waiter(message as ChildReply);
    });
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
    // A send to a child that just exited fails with EPIPE; its exit is what counts.
    this.#child.on('error', () => undefined);
    this.#child.send(job);
  }

  /** The child's pid. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /**
   * @param kind - the reply expected
   * @param ms - how long to wait
   * @returns that reply
   * @throws when the child reports an error, exits first, or the time runs out
   */
  async next<K extends ChildReply['kind']>(kind: K, ms: number): Promise<Extract<ChildReply, { kind: K }>> {
    const got = this.#queue.shift() ?? (await withTimeout(
      Promise.race([
        new Promise<ChildReply>((resolve) => this.#waiters.push(resolve)),
        this.#exited.then((): ChildReply => ({ kind: 'error', message: `child exited (stderr: ${this.#stderr.trim() || 'none'})` })),
      ]),
      ms,
      `child ${kind}`,
    ));
    if (got.kind === 'error') throw new Error(got.message);
    if (got.kind !== kind) throw new Error(`expected ${kind} from the child, got ${got.kind}`);
    return got as Extract<ChildReply, { kind: K }>;
  }

  /** Asks the child to exit (so a CPU profile is written), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    if (this.#child.connected) this.#child.send({ kind: 'stop' }, () => undefined);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

/**
 * @param job - what the child does
 * @param kind - the reply to wait for
 * @param ms - how long to wait
 * @param execArgv - extra Node flags
 * @returns the child's reply; the child has exited
 */
export async function runChild<K extends ChildReply['kind']>(
  job: ChildJob,
  kind: K,
  ms: number,
  execArgv: readonly string[] = [],
): Promise<Extract<ChildReply, { kind: K }>> {
  const child = new NodeChild(job, execArgv);
  try {
    return await child.next(kind, ms);
  } finally {
    await child.stop();
  }
}

/**
 * @param target - broker (and backend) of the bench
 * @param results - whether a result backend is configured
 * @param expect - the worker reports `BENCH_DONE` after this many tasks (0: never)
 * @returns the environment of a Python bench process
 */
function pythonEnv(target: PeerTarget, results: boolean, expect = 0): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BENCH_BROKER_URL: target.url,
    BENCH_RESULT_BACKEND: results ? target.url : '',
    BENCH_QUEUE: target.queue,
    BENCH_EXPECT: String(expect),
    BENCH_PARENT_PID: String(process.pid),
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
  };
  // A pyenv or virtualenv setting would make /usr/bin/python3 import the wrong packages.
  delete env['PYTHONHOME'];
  delete env['PYTHONPATH'];
  return env;
}

/**
 * Runs bench_client.py and parses its JSON line.
 *
 * @param args - its arguments
 * @param target - where it connects
 * @param results - whether a result backend is configured
 * @param ms - how long it may take
 * @returns the parsed JSON
 */
export function runPythonClient<T>(args: readonly string[], target: PeerTarget, results: boolean, ms: number): Promise<T> {
  return withTimeout(
    new Promise<T>((resolve, reject) => {
      const child = spawn(celeryPython(), ['bench_client.py', ...args], { cwd: PYTHON_DIR, env: pythonEnv(target, results), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
      child.on('error', reject);
      child.on('exit', (code) => {
        if (code !== 0) {
          reject(new Error(`bench_client.py ${args.join(' ')} exited with ${String(code)}: ${stderr.trim()}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T);
        } catch (error) {
          reject(new Error(`bench_client.py printed no JSON: ${stdout.slice(-500)} ${String(error)}`));
        }
      });
    }),
    ms,
    `bench_client.py ${args.join(' ')}`,
  );
}

/** The Celery pool a Python worker runs with. */
export type PythonPool = 'solo' | 'threads' | 'prefork';

/** A `celery -A bench_tasks worker` process. */
export class PythonWorker {
  readonly #child: ChildProcess;
  readonly #ready: Promise<void>;
  readonly #done: Promise<{ count: number; seconds: number }>;
  readonly #exited: Promise<void>;
  #stderr = '';

  /**
   * @param target - broker, backend and queue
   * @param options - pool, concurrency, whether results are stored, when to report done
   */
  constructor(target: PeerTarget, options: { pool: PythonPool; concurrency: number; results: boolean; expect: number }) {
    const args = [
      '-m', 'celery', '-A', 'bench_tasks', 'worker', '-Q', target.queue,
      '--pool', options.pool, '-c', String(options.concurrency),
      '--without-mingle', '--without-gossip', '--without-heartbeat', '-l', 'WARNING',
      '-n', `bench-${Math.random().toString(16).slice(2, 10)}@%h`,
    ];
    this.#child = spawn(celeryPython(), args, { cwd: PYTHON_DIR, env: pythonEnv(target, options.results, options.expect), stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
    const failed = this.#exited.then(() => {
      throw new Error(`celery worker exited: ${this.#stderr.trim()}`);
    });
    let stdout = '';
    let onReady: () => void = () => undefined;
    let onDone: (value: { count: number; seconds: number }) => void = () => undefined;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    const done = new Promise<{ count: number; seconds: number }>((resolve) => (onDone = resolve));
    this.#child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      let newline: number;
      while ((newline = stdout.indexOf('\n')) >= 0) {
        const line = stdout.slice(0, newline);
        stdout = stdout.slice(newline + 1);
        if (line === 'BENCH_READY') onReady();
        if (line.startsWith('BENCH_DONE ')) onDone(JSON.parse(line.slice('BENCH_DONE '.length)) as { count: number; seconds: number });
      }
    });
    this.#ready = Promise.race([ready, failed]);
    this.#done = Promise.race([done, failed]);
    this.#ready.catch(() => undefined);
    this.#done.catch(() => undefined);
  }

  /** The worker's pid (the process that runs the tasks: solo and threads pools are one process). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /**
   * @param ms - how long to wait
   * @returns once the worker consumes
   */
  ready(ms: number): Promise<void> {
    return withTimeout(this.#ready, ms, 'celery worker ready');
  }

  /**
   * @param ms - how long to wait
   * @returns the worker's own timing of `expect` tasks
   */
  done(ms: number): Promise<{ count: number; seconds: number }> {
    return withTimeout(this.#done, ms, 'celery worker done');
  }

  /** SIGKILL (the bench's Redis is flushed after each measurement, so no warm shutdown). */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGKILL');
    await this.#exited;
  }
}

/**
 * Helpers for tests that run the built `celeriac` CLI (dist/cli.js) as a separate process:
 * a build check, a worker process handle, and a one-shot command runner.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { newestSourceMtime, trackChild } from '@celeriac/test-utils';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../../..');
/** The built CLI. */
export const CLI = join(ROOT, 'packages/worker/dist/cli.js');
/** The built interop app. */
export const INTEROP_APP = join(ROOT, 'apps/interop/dist/tasks.js');

function buildIfStale(pkgDir: string, outputs: string[]): void {
  const sources = newestSourceMtime(join(pkgDir, 'src'));
  const stale = outputs.some((out) => !existsSync(out) || statSync(out).mtimeMs < sources);
  if (!stale) return;
  execFileSync(join(ROOT, 'node_modules/.bin/tsup'), [], { cwd: pkgDir, stdio: 'ignore', timeout: 120_000 });
}

/**
 * Builds the worker (CLI, pool child) and the interop app when their dist is missing or
 * older than their sources, so a test never runs a stale build. CI builds everything first.
 */
export function ensureBuilt(): void {
  const workerDir = join(ROOT, 'packages/worker');
  buildIfStale(workerDir, [CLI, join(workerDir, 'dist/pool-child.js')]);
  buildIfStale(join(ROOT, 'apps/interop'), [INTEROP_APP]);
}

/** A `celeriac worker` process. */
export interface CliWorker extends AsyncDisposable {
  readonly pid: number;
  /** Resolves with how it exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it wrote to stderr (JSON log lines) so far. */
  logs(): string;
  /** Parsed log lines. */
  lines(): Record<string, unknown>[];
  /** Resolves when a log line matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after `ms`; resolves on exit. */
  stop(ms?: number): Promise<void>;
}

/** Options of {@link startCliWorker}. */
export interface CliWorkerOptions {
  /** The `-A` module. */
  readonly app: string;
  /** More arguments (`-Q q -c 1`). */
  readonly args?: readonly string[];
  /** The environment (e.g. `celeryEnv(...)`). */
  readonly env?: NodeJS.ProcessEnv;
  readonly readyTimeoutMs?: number;
}

/**
 * Starts `node dist/cli.js worker -A <app> …` and resolves once it logged "worker ready".
 *
 * @param options - app, arguments, environment
 * @returns the worker process
 */
export async function startCliWorker(options: CliWorkerOptions): Promise<CliWorker> {
  const child = spawn(process.execPath, [CLI, 'worker', '-A', options.app, '--loglevel', 'debug', ...(options.args ?? [])], {
    cwd: ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const w of [...waiters]) w();
  });
  child.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once('exit', (code, signal) => {
      done({ code, signal });
      for (const w of [...waiters]) w();
    });
  });
  const waitForLog = (pattern: RegExp, timeoutMs = 10_000): Promise<void> =>
    new Promise((resolveWait, reject) => {
      const check = (): void => {
        if (pattern.test(stderr)) {
          cleanup();
          resolveWait();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          cleanup();
          reject(new Error(`celeriac worker exited before logging ${String(pattern)}:\n${stderr.slice(-3000)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`celeriac worker did not log ${String(pattern)} within ${timeoutMs} ms:\n${stderr.slice(-3000)}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  const stop = async (ms = 10_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
  };
  const worker: CliWorker = {
    pid: child.pid ?? -1,
    exited,
    logs: () => stderr,
    lines: () =>
      stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    waitForLog,
    signal: (signal) => child.kill(signal),
    stop,
    [Symbol.asyncDispose]: () => stop(),
  };
  try {
    await waitForLog(/"msg":"worker ready"/, options.readyTimeoutMs ?? 15_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return worker;
}

/** What a one-shot CLI command printed. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node dist/cli.js <args>` to completion.
 *
 * @param args - the arguments
 * @param env - the environment
 * @param input - stdin text
 * @returns exit code and output
 */
export function runCliProcess(args: readonly string[], env: NodeJS.ProcessEnv = process.env, input?: string): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    trackChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.stdin.end(input ?? '');
    child.once('error', reject);
    child.once('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

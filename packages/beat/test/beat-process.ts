/**
 * Beat processes for the multi-process tests: `node test/fixtures/beat-process.mjs` (the
 * built package) as a child, its JSON log lines, and a build check so a test never runs a
 * stale dist/.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { newestSourceMtime, trackChild, waitUntil } from '@celeriac/test-utils';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../../..');
const PACKAGE = join(ROOT, 'packages/beat');
const FIXTURE = join(PACKAGE, 'test/fixtures/beat-process.mjs');
/** The workspace packages the fixture loads through `@celeriac/client`, built. */
const DEPENDENCIES = ['promise', 'protocol', 'redis-connection', 'broker-redis', 'backend-redis', 'client'];

/**
 * Builds the package (tsup) when dist/index.js is missing or older than src/; builds it with
 * its workspace dependencies (turbo) when one of theirs is missing. CI builds everything first.
 */
export function ensureBuilt(): void {
  if (DEPENDENCIES.some((name) => !existsSync(join(ROOT, 'packages', name, 'dist/index.js')))) {
    execFileSync(join(ROOT, 'node_modules/.bin/turbo'), ['run', 'build', '--filter=@celeriac/beat...'], { cwd: ROOT, stdio: 'ignore', timeout: 300_000 });
    return;
  }
  const out = join(PACKAGE, 'dist/index.js');
  if (existsSync(out) && statSync(out).mtimeMs >= newestSourceMtime(join(PACKAGE, 'src'))) return;
  execFileSync(join(ROOT, 'node_modules/.bin/tsup'), [], { cwd: PACKAGE, stdio: 'ignore', timeout: 120_000 });
}

/** One parsed log line of a beat process. */
export interface LogLine {
  readonly time: string;
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A running beat process. */
export interface BeatProcess extends AsyncDisposable {
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its log lines so far. */
  lines(): LogLine[];
  /** The lines with this message. */
  linesWith(msg: string): LogLine[];
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after `ms`; resolves on exit. */
  stop(ms?: number): Promise<void>;
}

/** The environment of a beat process (see the fixture). */
export interface BeatProcessEnv {
  readonly BEAT_REDIS_URL: string;
  readonly BEAT_SCHEDULE: string;
  readonly BEAT_KEY_PREFIX: string;
  readonly BEAT_LOCK_TTL_MS: string;
}

/**
 * Starts a beat process and resolves once it logged "beat: starting".
 *
 * @param env - Redis, schedule, key prefix, lock TTL
 * @returns the process
 */
export async function startBeatProcess(env: BeatProcessEnv): Promise<BeatProcess> {
  const child = spawn(process.execPath, [FIXTURE], { cwd: PACKAGE, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once('exit', (code, signal) => done({ code, signal }));
  });
  const lines = (): LogLine[] =>
    stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  const stop = async (ms = 10_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
  };
  const beat: BeatProcess = {
    pid: child.pid ?? -1,
    exited,
    lines,
    linesWith: (msg) => lines().filter((l) => l.msg === msg),
    kill: (signal) => child.kill(signal),
    stop,
    [Symbol.asyncDispose]: () => stop(),
  };
  const started = (): boolean => stderr.includes('"msg":"beat: starting"');
  try {
    await waitUntil(() => started() || child.exitCode !== null, { timeoutMs: 15_000 });
  } catch {
    // reported below
  }
  if (!started()) {
    child.kill('SIGKILL');
    throw new Error(`beat process ${beat.pid} did not start (exit code ${String(child.exitCode)}):\n${stderr.slice(-3000)}`);
  }
  return beat;
}

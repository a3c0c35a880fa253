import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { KOMBU_SEP } from './celery-keys.ts';
import {
  celeryEnv,
  celeryPython,
  missingModuleHint,
  PYTHON_DIR,
  type CeleryPeerOptions,
} from './celery-peer.ts';
import { signalGroup, trackChild } from './child-processes.ts';
import { randomName } from './random-name.ts';
import { redisUrl } from './redis-url.ts';

/** Options of {@link startCeleryWorker}. */
export interface CeleryWorkerOptions extends CeleryPeerOptions {
  /** The only queue the worker consumes (`-Q`); use a random name per test. */
  readonly queue: string;
  /** `-c`; default 1. */
  readonly concurrency?: number;
  /** `--pool`; default `solo`. Only prefork enforces time limits (celery-wire §5.6). */
  readonly pool?: 'solo' | 'prefork' | 'threads';
  /** More `celery worker` arguments, appended last (e.g. `['-E']`). */
  readonly extraArgs?: readonly string[];
  /** How long to wait for `ready.`; default 20 000 ms. */
  readonly readyTimeoutMs?: number;
}

/** How a worker process ended. */
export interface CeleryWorkerExit {
  /** Exit code, or `null` when ended by a signal. */
  readonly code: number | null;
  /** The ending signal, or `null`. */
  readonly signal: NodeJS.Signals | null;
}

/** A running Python Celery worker. Stop it with `await using`, `stop()` or `kill()`. */
export interface CeleryWorker extends AsyncDisposable {
  /** Process id of the worker's main process. */
  readonly pid: number;
  /** The node name as the worker reported it (`celeriac-test-worker-…@host`). */
  readonly nodename: string;
  /** The queue it consumes. */
  readonly queue: string;
  /** Settles when the process has exited. */
  readonly exited: Promise<CeleryWorkerExit>;
  /**
   * Everything the worker printed so far, stdout and stderr interleaved, one entry a line
   * (the latest 10 000 lines).
   *
   * @returns a copy of the lines
   */
  logs(): string[];
  /**
   * Waits until a log line matches, looking at lines already printed first.
   *
   * @param pattern - a substring or regular expression
   * @param timeoutMs - default 10 000
   * @returns the first matching line
   * @throws when the worker exits or the time is up first (the error shows the log tail)
   */
  waitForLog(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  /**
   * Warm shutdown: SIGTERM, then SIGKILL (whole process group) after `timeoutMs`.
   * Idempotent.
   *
   * @param timeoutMs - default 10 000
   * @returns how it exited
   */
  stop(timeoutMs?: number): Promise<CeleryWorkerExit>;
  /**
   * SIGKILL to the worker and its pool processes (a crash: nothing is acked or restored).
   *
   * @returns how it exited
   */
  kill(): Promise<CeleryWorkerExit>;
}

const MAX_LINES = 10_000;
const TAIL_LINES = 40;

/**
 * Removes a dead worker's member from the shared remote-control binding set. A warm shutdown
 * does this itself (celery-wire §2.7); a killed worker leaves `␆␖␆␖<node>.celery.pidbox`
 * behind in `_kombu.binding.celery.pidbox` forever.
 */
async function forgetPidboxBinding(brokerUrl: string, nodename: string): Promise<void> {
  const client = new Redis(brokerUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  client.on('error', () => {
    // Reported through the failing command.
  });
  try {
    await client.connect();
    await client.srem(
      '_kombu.binding.celery.pidbox',
      `${KOMBU_SEP}${KOMBU_SEP}${nodename}.celery.pidbox`,
    );
  } catch {
    // Best effort: tidying a shared set must not hide why the test stopped its worker
    // (which may be that Redis is unreachable).
  } finally {
    client.disconnect();
  }
}

function matches(line: string, pattern: string | RegExp): boolean {
  return typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line);
}

/**
 * Starts a real Celery 5.2 worker (python/tasks.py) on one queue and waits until it logs
 * `ready.`. Mingle, gossip and heartbeat are off, so it only talks to its own queue (plus
 * remote control). The process is killed when the test process exits, even if never stopped.
 *
 * @param options - the queue, pool and Celery configuration
 * @returns the running worker
 * @throws when the worker exits or is not ready in time (the error shows the log tail)
 */
export async function startCeleryWorker(options: CeleryWorkerOptions): Promise<CeleryWorker> {
  const name = randomName('worker');
  const args = [
    '-m', 'celery', '-A', 'tasks', 'worker',
    '-Q', options.queue,
    '--pool', options.pool ?? 'solo',
    '-c', String(options.concurrency ?? 1),
    '--without-mingle', '--without-gossip', '--without-heartbeat',
    '--loglevel', 'INFO',
    '-n', `${name}@%h`,
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(celeryPython(), args, {
    cwd: PYTHON_DIR,
    env: celeryEnv(options),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  trackChild(child);

  const lines: string[] = [];
  const watchers = new Set<(line: string) => void>();
  const collect = (stream: NodeJS.ReadableStream): void => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > MAX_LINES) lines.shift();
        for (const watch of watchers) watch(line);
      }
    });
  };
  collect(child.stdout);
  collect(child.stderr);

  let spawnError: Error | undefined;
  const exited = new Promise<CeleryWorkerExit>((resolve) => {
    child.on('error', (error) => {
      spawnError = error;
      resolve({ code: null, signal: null });
    });
    // 'close', not 'exit': by then the last log lines have been read too.
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  void exited.then(() => (done = true));

  const describe = (): string =>
    `celery worker ${name} (queue ${options.queue}, pid ${child.pid ?? '-'})`;
  const tail = (): string => lines.slice(-TAIL_LINES).join('\n');

  const waitForLog = (pattern: string | RegExp, timeoutMs = 10_000): Promise<string> => {
    const seen = lines.find((line) => matches(line, pattern));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        watchers.delete(watch);
        clearTimeout(timer);
      };
      const watch = (line: string): void => {
        if (!matches(line, pattern)) return;
        finish();
        resolve(line);
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `${describe()}: no log line matching ${String(pattern)} within ${timeoutMs} ms. ` +
              `Log tail:\n${tail()}`,
          ),
        );
      }, timeoutMs);
      watchers.add(watch);
      void exited.then((exit) => {
        if (!watchers.has(watch)) return;
        finish();
        const why = spawnError
          ? `could not start (${spawnError.message})`
          : `exited (${exit.code ?? exit.signal})`;
        reject(
          new Error(
            `${describe()} ${why} before a log line matched ${String(pattern)}. ` +
              `Log tail:\n${tail()}`,
          ),
        );
      });
    });
  };

  // Celery expands %h to socket.gethostname(); the ready line below confirms it.
  let nodename = `${name}@${hostname()}`;
  let settled: Promise<CeleryWorkerExit> | undefined;
  // Once the process is gone: tidy what only a clean shutdown removes.
  const settle = (): Promise<CeleryWorkerExit> => {
    settled ??= exited.then(async (exit) => {
      if (exit.code !== 0) {
        await forgetPidboxBinding(options.brokerUrl ?? redisUrl(), nodename);
      }
      return exit;
    });
    return settled;
  };
  let stopTimer: NodeJS.Timeout | undefined;
  const stop = (timeoutMs = 10_000): Promise<CeleryWorkerExit> => {
    if (!done && stopTimer === undefined) {
      child.kill('SIGTERM');
      stopTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), timeoutMs);
      void exited.then(() => clearTimeout(stopTimer));
    }
    return settle();
  };
  const kill = (): Promise<CeleryWorkerExit> => {
    signalGroup(child, 'SIGKILL');
    return settle();
  };

  try {
    const ready = await waitForLog(/ ready\.\s*$/, options.readyTimeoutMs ?? 20_000);
    nodename = /(\S+@\S+) ready\./.exec(ready)?.[1] ?? nodename;
  } catch (error) {
    await kill();
    const hint = missingModuleHint(tail());
    throw hint === '' ? error : new Error(`${(error as Error).message}${hint}`, { cause: error });
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${describe()}: no pid after ready`);

  return {
    pid,
    nodename,
    queue: options.queue,
    exited,
    logs: () => [...lines],
    waitForLog,
    stop,
    kill,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { trackChild, signalGroup } from './child-processes.ts';
import { fromPythonJson, toPythonJson, type PythonValue } from './python-json.ts';
import { redisUrl } from './redis-url.ts';

/**
 * The folder with tasks.py, publish.py and get_result.py (the cwd of every Python peer).
 * Found through the package's own name, so it is right also when this module is bundled
 * into an app (the demo).
 */
export const PYTHON_DIR: string = join(dirname(createRequire(import.meta.url).resolve('@celeriac/test-utils/package.json')), 'python');

/** What to install when the Python peer is missing. */
export const INSTALL_HINT =
  "Debian's python3-celery is needed: apt-get install -y python3-celery python3-redis python3-msgpack";

/** A Celery serializer name. */
export type CelerySerializer = 'json' | 'msgpack' | 'yaml' | 'pickle';

/**
 * How the Python peer's Celery app is configured (python/tasks.py reads these from the
 * environment). The same options configure a worker, a publisher and a result reader, so
 * use the same serializers on all three.
 */
export interface CeleryPeerOptions {
  /** Broker URL; default {@link redisUrl}. */
  readonly brokerUrl?: string;
  /** Result backend URL; default the broker URL. */
  readonly resultBackend?: string;
  /** `task_serializer`; default `json`. */
  readonly taskSerializer?: CelerySerializer;
  /** `result_serializer`; default `json`. Reader and worker must agree (celery-wire §3.3). */
  readonly resultSerializer?: CelerySerializer;
  /** `accept_content` and `result_accept_content`; default `['json', 'msgpack']`. */
  readonly acceptContent?: readonly string[];
  /** `task_default_queue`: where calls without `options.queue` go; default `celery`. */
  readonly queue?: string;
  /** `broker_transport_options.visibility_timeout` in seconds; default Celery's 3600. */
  readonly visibilityTimeout?: number;
  /** More Celery settings (new-style names), merged last: `{ task_acks_late: true }`. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Extra environment variables for the Python process. */
  readonly env?: Readonly<Record<string, string>>;
}

/** One task to send with {@link publishWithPython}. */
export interface PythonTaskCall {
  /** Task name, e.g. `tasks.add`. */
  readonly task: string;
  /** Positional arguments. `Uint8Array` → bytes, `bigint` → int. */
  readonly args?: readonly unknown[];
  /** Keyword arguments. */
  readonly kwargs?: Readonly<Record<string, unknown>>;
  /**
   * `apply_async` options: `queue`, `countdown`, `eta` / `expires` (seconds or ISO string),
   * `priority`, `serializer`, `task_id`, `headers`, `ignore_result`, `time_limit`,
   * `soft_time_limit`, `shadow`, … (Celery's names, passed through).
   */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** One entry of {@link getResultsWithPython}. */
export interface PythonTaskResult {
  /** The task id asked for. */
  readonly id: string;
  /** `AsyncResult.state`: `SUCCESS`, `FAILURE`, `REVOKED`, or `PENDING` when timed out. */
  readonly status: string;
  /**
   * The return value; for FAILURE/REVOKED Celery's exception dict
   * `{ exc_type, exc_message, exc_module }`; `null` when timed out.
   */
  readonly result: PythonValue;
  /** The stored Python traceback, or `null`. */
  readonly traceback: string | null;
  /** `true` when the result was not ready before the deadline. */
  readonly timedOut?: boolean;
}

/**
 * The Python that has Celery 5.2 (Debian's `python3-celery`). Not the `python3` on PATH,
 * which may be a pyenv build without Celery.
 *
 * @returns `process.env.CELERY_PYTHON ?? '/usr/bin/python3'`
 */
export function celeryPython(): string {
  return process.env['CELERY_PYTHON'] ?? '/usr/bin/python3';
}

/**
 * The environment of a Python peer: the caller's, plus the variables python/tasks.py reads.
 *
 * @param options - the peer's Celery configuration
 * @returns a complete environment for `spawn`
 */
export function celeryEnv(options: CeleryPeerOptions = {}): NodeJS.ProcessEnv {
  const broker = options.brokerUrl ?? redisUrl();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CELERY_BROKER_URL: broker,
    CELERY_RESULT_BACKEND: options.resultBackend ?? broker,
    CELERY_TASK_SERIALIZER: options.taskSerializer ?? 'json',
    CELERY_RESULT_SERIALIZER: options.resultSerializer ?? 'json',
    CELERY_ACCEPT_CONTENT: (options.acceptContent ?? ['json', 'msgpack']).join(','),
    CELERY_QUEUE: options.queue ?? 'celery',
    CELERIAC_PARENT_PID: String(process.pid),
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    ...options.env,
  };
  // A pyenv or virtualenv setting would make /usr/bin/python3 import the wrong packages.
  delete env['PYTHONHOME'];
  delete env['PYTHONPATH'];
  delete env['CELERY_VISIBILITY_TIMEOUT'];
  delete env['CELERY_CONFIG_JSON'];
  if (options.visibilityTimeout !== undefined) {
    env['CELERY_VISIBILITY_TIMEOUT'] = String(options.visibilityTimeout);
  }
  if (options.config !== undefined) env['CELERY_CONFIG_JSON'] = JSON.stringify(options.config);
  return env;
}

/**
 * The install hint, when Python's output says Celery or one of its modules is missing.
 *
 * @param output - what the Python process printed
 * @returns `"\n" + INSTALL_HINT`, or `''`
 */
export function missingModuleHint(output: string): string {
  return /No module named '?(celery|redis|msgpack|kombu)/.test(output) ? `\n${INSTALL_HINT}` : '';
}

/** What a finished Python script produced. */
interface ScriptOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs one of the python/ scripts to completion.
 *
 * @throws when it exits non-zero or outlives `timeoutMs` (the error shows stderr)
 */
function runPython(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  stdin: string,
  timeoutMs: number,
): Promise<ScriptOutput> {
  const python = celeryPython();
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { cwd: PYTHON_DIR, env, detached: true });
    trackChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      signalGroup(child, 'SIGKILL');
      reject(new Error(`${python} ${args.join(' ')}: no exit after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${python} (${error.message}). ${INSTALL_HINT}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const hint = missingModuleHint(stderr);
      reject(
        new Error(
          `${python} ${args.join(' ')} exited with ${code ?? signal} (cwd ${PYTHON_DIR})\n${stderr}${hint}`,
        ),
      );
    });
    child.stdin.on('error', () => {
      // EPIPE when the script dies before reading stdin; reported through 'close'.
    });
    child.stdin.end(stdin);
  });
}

const checked = new Map<string, Promise<string>>();

/**
 * Fails loudly when the Python Celery peer cannot run. Call it in `beforeAll` of every
 * interop test file: interop tests must fail, never skip, without Celery.
 *
 * @returns the Celery version (e.g. `5.2.6`)
 * @throws Error "Debian's python3-celery is needed: apt-get install -y python3-celery
 *   python3-redis python3-msgpack" when `import celery, redis, msgpack` fails under
 *   {@link celeryPython}
 */
export function assertCeleryAvailable(): Promise<string> {
  const python = celeryPython();
  let check = checked.get(python);
  if (check === undefined) {
    const probe = ['-c', 'import celery, redis, msgpack; print(celery.__version__)'];
    check = runPython(probe, celeryEnv(), '', 30_000).then(
      (out) => out.stdout.trim(),
      (error: unknown) => {
        checked.delete(python);
        throw new Error(`${INSTALL_HINT} (checked with ${python})`, { cause: error });
      },
    );
    checked.set(python, check);
  }
  return check;
}

/**
 * Sends tasks with a real Celery 5.2 client (`app.send_task`, python/publish.py).
 *
 * @param calls - the tasks to send, in order
 * @param options - the client's Celery configuration (serializers, broker, default queue)
 * @returns the task ids, in call order
 * @throws when publish.py fails (the error carries its stderr)
 */
export async function publishWithPython(
  calls: readonly PythonTaskCall[],
  options: CeleryPeerOptions = {},
): Promise<string[]> {
  const out = await runPython(['publish.py'], celeryEnv(options), toPythonJson(calls), 30_000);
  return JSON.parse(out.stdout) as string[];
}

/**
 * Runs a Python script of a test's own (anything beside the test that imports `tasks` from
 * python/) with a real Celery 5.2 client: `input` as JSON on stdin, the last stdout line
 * parsed as JSON.
 *
 * @param script - the script's absolute path
 * @param input - written to stdin as JSON
 * @param options - the client's Celery configuration
 * @param timeoutMs - how long it may run
 * @returns the parsed last line of stdout
 * @throws when the script fails (the error carries its stderr)
 */
export async function runPythonScript<T = unknown>(script: string, input: unknown, options: CeleryPeerOptions = {}, timeoutMs = 30_000): Promise<T> {
  const env = celeryEnv(options);
  env['PYTHONPATH'] = [PYTHON_DIR, env['PYTHONPATH']].filter(Boolean).join(':');
  const out = await runPython([script], env, JSON.stringify(input), timeoutMs);
  return JSON.parse(out.stdout.trim().split('\n').at(-1) ?? 'null') as T;
}

/**
 * Waits for task results with a real Celery 5.2 client
 * (`AsyncResult(id).get(timeout, propagate=False)`, python/get_result.py).
 *
 * @param ids - task ids
 * @param timeoutSeconds - one deadline for all ids together
 * @param options - the reader's Celery configuration; its `resultSerializer` must match the
 *   one the results were stored with
 * @returns one entry per id, in order; ids not ready in time have `timedOut: true`
 * @throws when get_result.py fails (the error carries its stderr)
 */
export async function getResultsWithPython(
  ids: readonly string[],
  timeoutSeconds: number,
  options: CeleryPeerOptions = {},
): Promise<PythonTaskResult[]> {
  if (ids.length === 0) return [];
  const out = await runPython(
    ['get_result.py', '--timeout', String(timeoutSeconds), '--', ...ids],
    celeryEnv(options),
    '',
    (timeoutSeconds + 30) * 1000,
  );
  return fromPythonJson(out.stdout) as unknown as PythonTaskResult[];
}

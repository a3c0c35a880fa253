/**
 * The `celeriac` command line: `worker`, `beat`, `call`, `purge`, `result`, `inspect`. Parsed with
 * `node:util` `parseArgs`; the bin (`cli.ts`) only calls {@link runCli} and exits with its code.
 *
 * Exit codes: 0 ok, 1 task failed or error, 2 usage error, 3 timeout.
 *
 * @module
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createRedisBackend } from '@celeriac/backend-redis';
import { createBeat, type BeatApp } from '@celeriac/beat';
import { createRedisBroker } from '@celeriac/broker-redis';
import {
  AcceptContent,
  CeleriacError,
  createSerializerRegistry,
  encodeTaskMessage,
  ErrorCode,
  errorFromMeta,
  jsonSerializer,
  READY_STATES,
  TaskState,
  type Logger,
  type ResultBackend,
  type ResultMeta,
  type Serializer,
  type WireValue,
} from '@celeriac/protocol';
import { inspect } from './inspect.ts';
import type { RedisTransportOptions } from '@celeriac/redis-connection';
import { createJsonLogger, parseLogLevel } from './json-logger.ts';
import { loadApp } from './load-app.ts';
import { createKombuTable, type KombuTableKeys } from './remote-control.ts';
import type { RestoringBroker, WorkerApp, WorkerConfig } from './worker-app.ts';
import { startWorkerServices } from './worker-services.ts';
import { createWorker } from './worker.ts';

/** Exit codes of the CLI. */
export const ExitCode = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  TIMEOUT: 3,
} as const;

/** Where the CLI reads and writes (the process's streams by default; tests capture them). */
export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

class UsageError extends Error {}

/** The `inspect` methods the CLI offers. */
const INSPECT_METHODS = ['ping', 'active', 'stats', 'reserved', 'scheduled', 'registered', 'revoked'];

const MAIN_HELP = `Usage: celeriac <command> [options]

Commands:
  worker    run a worker for an app's tasks
  beat      send an app's periodic tasks (beat_schedule) when they are due
  call      send a task (and optionally wait for its result)
  purge     delete every message of queues
  result    show (or wait for) a task's result
  inspect   ask running workers: ping | active | stats | reserved | scheduled | registered | revoked

Run "celeriac <command> --help" for a command's options.
Exit codes: 0 ok, 1 task failed / error, 2 usage error, 3 timeout.
`;

const CONNECT_HELP = `  -A, --app <module>      module exporting the app (path or package, "module:attr";
                          default export or "app")
      --broker <url>      broker URL instead of -A (default $CELERY_BROKER_URL)
      --backend <url>     result backend URL instead of -A (default $CELERY_RESULT_BACKEND)
      --result-serializer <json|msgpack>  with --backend (default json)`;

const HELP: Record<string, string> = {
  worker: `Usage: celeriac worker -A <module> [options]

Runs a worker until SIGTERM / SIGINT (warm shutdown; a second signal: cold), with
Celery's remote control (celery inspect / control answer it) and events.

  -A, --app <module>               module exporting the app (required)
  -Q, --queues <q1,q2>             queues to consume (default task_default_queue)
  -c, --concurrency <n>            tasks at once (default worker_concurrency, else CPUs)
  -n, --hostname <name>            node name, %h = host (default celeriac@%h)
  -l, --loglevel <level>           debug | info | warning | error (default info)
  -P, --pool <async|thread|process>  pool of tasks that name none (default async)
      --prefetch-multiplier <n>    prefetch = concurrency x n (default 4)
      --shutdown-timeout <s>       seconds a warm shutdown waits for running tasks (default 30)
  -E, --events                     send task events (default worker_send_task_events)
  -h, --help
`,
  beat: `Usage: celeriac beat -A <module> [options]

Sends the app's periodic tasks (beat_schedule) when they are due, until SIGTERM / SIGINT.
Run it more than once for failover: one beat leads (a lock in the broker's Redis), the
others stand by and take over when it stops or dies; each tick is sent once.

  -A, --app <module>        module exporting the app (required)
  -l, --loglevel <level>    debug | info | warning | error (default info)
      --max-interval <s>    longest sleep between two looks at the schedule
                            (default beat_max_loop_interval, else 300)
  -h, --help
`,
  call: `Usage: celeriac call <task> [options]

Sends a task and prints its id; with --wait prints its result (JSON).

      --args <json>          positional arguments, a JSON array (default [])
      --kwargs <json>        keyword arguments, a JSON object (default {})
  -Q, --queue <name>         queue (default task_default_queue, else celery)
      --countdown <s>        run no sooner than s seconds from now
      --expires <s>          revoke if not started within s seconds
      --priority <0-9>       priority (lower runs first on Redis)
      --serializer <name>    json | msgpack (default task_serializer, else json)
      --wait                 wait for the result
      --timeout <s>          give up waiting after s seconds (exit 3)
${CONNECT_HELP}
  -h, --help
`,
  purge: `Usage: celeriac purge [options]

Deletes every waiting message of the queues.

  -Q, --queues <q1,q2>       queues (default task_default_queue, else celery)
  -f, --force                do not ask
${CONNECT_HELP}
  -h, --help
`,
  result: `Usage: celeriac result <task-id> [options]

Prints a task's state and result (JSON). Exit 1 when it failed or was revoked.

      --timeout <s>          wait up to s seconds for it to be ready (exit 3 if not)
${CONNECT_HELP}
  -h, --help
`,
  inspect: `Usage: celeriac inspect <ping|active|stats|reserved|scheduled|registered|revoked> [options]

Asks running workers and prints their replies by hostname (JSON).

      --timeout <s>          how long to wait for replies (default 1; exit 3 when none came)
  -d, --destination <n1,n2>  only these workers
${CONNECT_HELP}
  -h, --help
`,
};

const CONNECT_OPTIONS = {
  app: { type: 'string', short: 'A' },
  broker: { type: 'string' },
  backend: { type: 'string' },
  'result-serializer': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function seconds(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${what} must be a number of seconds >= 0, got ${JSON.stringify(value)}`);
  return n;
}

function integer(value: string | undefined, what: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${what} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((q) => q.trim()).filter((q) => q !== '');
  return items.length === 0 ? undefined : items;
}

function parseJson(text: string | undefined, what: string, kind: 'array' | 'object'): WireValue {
  if (text === undefined) return kind === 'array' ? [] : {};
  let value: WireValue;
  try {
    // The protocol's decoder keeps integers beyond 2^53 exact (as bigint).
    value = jsonSerializer.decode(Buffer.from(text, 'utf8'));
  } catch (error) {
    throw new UsageError(`${what} must be JSON, got ${JSON.stringify(text)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const ok = kind === 'array' ? Array.isArray(value) : typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && !(value instanceof Date);
  if (!ok) throw new UsageError(`${what} must be a JSON ${kind}, got ${JSON.stringify(text)}`);
  return value;
}

function toJson(value: unknown): string {
  return Buffer.from(jsonSerializer.encode(value)).toString('utf8');
}

/** The connections a client command uses, from `-A` or from URLs. */
interface Connections {
  readonly broker: RestoringBroker;
  /** The broker URL, when known (inspect opens a connection of its own). */
  readonly brokerUrl: string | undefined;
  readonly transportOptions: RedisTransportOptions | undefined;
  readonly backend: ResultBackend | undefined;
  readonly conf: WorkerConfig;
  readonly serializers: ReturnType<typeof createSerializerRegistry>;
  readonly app: WorkerApp | undefined;
  close(): Promise<void>;
}

async function connect(values: { app?: string; broker?: string; backend?: string; 'result-serializer'?: string }, io: CliIo): Promise<Connections> {
  if (values.app !== undefined) {
    const { app } = await loadApp(values.app, io.cwd ?? process.cwd());
    const env = io.env ?? process.env;
    return {
      broker: app.broker,
      brokerUrl: app.conf.broker_url ?? env['CELERY_BROKER_URL'],
      transportOptions: app.conf.broker_transport_options as RedisTransportOptions | undefined,
      backend: app.backend,
      conf: app.conf,
      serializers: app.serializers,
      app,
      close: () => app.close(),
    };
  }
  const env = io.env ?? process.env;
  const brokerUrl = values.broker ?? env['CELERY_BROKER_URL'];
  if (brokerUrl === undefined) throw new UsageError('Give the app (-A <module>) or a broker URL (--broker <url> or $CELERY_BROKER_URL)');
  const backendUrl = values.backend ?? env['CELERY_RESULT_BACKEND'];
  const serializers = createSerializerRegistry();
  const broker = createRedisBroker(brokerUrl);
  const backend = backendUrl === undefined
    ? undefined
    : createRedisBackend(backendUrl, {
        resultSerializer: values['result-serializer'] ?? 'json',
        accept: new AcceptContent(['json', 'msgpack'], serializers),
        serializers,
      });
  return {
    broker,
    brokerUrl,
    transportOptions: undefined,
    backend,
    conf: {},
    serializers,
    app: undefined,
    close: async () => {
      await Promise.allSettled([broker.close(), backend?.close()]);
    },
  };
}

/** Prints a meta; returns the exit code for its state. */
function report(meta: ResultMeta, io: CliIo): number {
  io.stdout.write(`${toJson({ task_id: meta.task_id, status: meta.status, result: meta.result, traceback: meta.traceback, date_done: meta.date_done })}\n`);
  if (meta.status === TaskState.FAILURE || meta.status === TaskState.REVOKED) {
    const error = errorFromMeta(meta);
    io.stderr.write(`celeriac: task ${meta.task_id} ${meta.status}: ${error.message}\n`);
    return ExitCode.FAILED;
  }
  return ExitCode.OK;
}

function isTimeout(error: unknown): boolean {
  return error instanceof CeleriacError && error.code === ErrorCode.TIMEOUT;
}

async function commandWorker(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    app: { type: 'string', short: 'A' },
    queues: { type: 'string', short: 'Q' },
    concurrency: { type: 'string', short: 'c' },
    hostname: { type: 'string', short: 'n' },
    loglevel: { type: 'string', short: 'l' },
    pool: { type: 'string', short: 'P' },
    'prefetch-multiplier': { type: 'string' },
    'shutdown-timeout': { type: 'string' },
    events: { type: 'boolean', short: 'E' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    io.stdout.write(HELP['worker'] ?? '');
    return ExitCode.OK;
  }
  if (values.app === undefined) throw new UsageError('celeriac worker needs the app: -A <module>');
  const level = parseLogLevel(values.loglevel ?? 'info');
  if (level === undefined) throw new UsageError(`--loglevel must be debug, info, warning or error, got ${JSON.stringify(values.loglevel)}`);
  const pool = values.pool;
  if (pool !== undefined && pool !== 'async' && pool !== 'thread' && pool !== 'process') {
    throw new UsageError(`--pool must be async, thread or process, got ${JSON.stringify(pool)}`);
  }
  const concurrency = integer(values.concurrency, '--concurrency', 1);
  const multiplier = integer(values['prefetch-multiplier'], '--prefetch-multiplier', 0);
  const shutdown = seconds(values['shutdown-timeout'], '--shutdown-timeout');
  const { app, url } = await loadApp(values.app, io.cwd ?? process.cwd());
  const logger: Logger = createJsonLogger({ level, stream: io.stderr });
  const worker = createWorker(app, {
    queues: list(values.queues),
    concurrency,
    prefetchMultiplier: multiplier,
    hostname: values.hostname,
    pool,
    shutdownTimeout: shutdown === undefined ? undefined : shutdown * 1000,
    logger,
    handleSignals: true,
    // Thread/process pool children load tasks that name no module from the -A module.
    appModule: url,
  });
  await worker.start();
  const services = await startWorkerServices(worker, app, { logger, taskEvents: values.events === true });
  await worker.done;
  await services.close();
  try {
    await app.close();
  } catch (error) {
    logger.warn('app did not close cleanly', { error: String(error) });
  }
  return ExitCode.OK;
}

async function commandBeat(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    app: { type: 'string', short: 'A' },
    loglevel: { type: 'string', short: 'l' },
    'max-interval': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    io.stdout.write(HELP['beat'] ?? '');
    return ExitCode.OK;
  }
  if (positionals.length > 0) throw new UsageError(`celeriac beat takes no arguments, got ${positionals.join(' ')}`);
  if (values.app === undefined) throw new UsageError('celeriac beat needs the app: -A <module>');
  const level = parseLogLevel(values.loglevel ?? 'info');
  if (level === undefined) throw new UsageError(`--loglevel must be debug, info, warning or error, got ${JSON.stringify(values.loglevel)}`);
  const maxInterval = seconds(values['max-interval'], '--max-interval');
  if (maxInterval === 0) throw new UsageError(`--max-interval must be a number of seconds > 0, got ${JSON.stringify(values['max-interval'])}`);
  const { app } = await loadApp(values.app, io.cwd ?? process.cwd());
  // loadApp checks for a worker's app; the beat sends, so it needs `sendTask` as well.
  if (typeof (app as unknown as Partial<BeatApp>).sendTask !== 'function') {
    throw new CeleriacError(ErrorCode.INVALID_CONFIG, `Expected the app of ${JSON.stringify(values.app)} to have sendTask (an app from createApp() of @celeriac/client)`);
  }
  const logger: Logger = createJsonLogger({ level, stream: io.stderr });
  let beat: ReturnType<typeof createBeat>;
  try {
    beat = createBeat(app as unknown as BeatApp, {
      logger,
      handleSignals: true,
      ...(maxInterval === undefined ? {} : { maxIntervalMs: maxInterval * 1000 }),
    });
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  await beat.start();
  await beat.done;
  try {
    await app.close();
  } catch (error) {
    logger.warn('app did not close cleanly', { error: String(error) });
  }
  return ExitCode.OK;
}

async function commandCall(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    ...CONNECT_OPTIONS,
    args: { type: 'string' },
    kwargs: { type: 'string' },
    queue: { type: 'string', short: 'Q' },
    countdown: { type: 'string' },
    expires: { type: 'string' },
    priority: { type: 'string' },
    serializer: { type: 'string' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  if (values.help === true) {
    io.stdout.write(HELP['call'] ?? '');
    return ExitCode.OK;
  }
  const task = positionals[0];
  if (task === undefined || positionals.length > 1) throw new UsageError('celeriac call needs exactly one task name: celeriac call <task> [options]');
  const taskArgs = parseJson(values.args, '--args', 'array') as WireValue[];
  const kwargs = parseJson(values.kwargs, '--kwargs', 'object') as Record<string, WireValue>;
  const countdown = seconds(values.countdown, '--countdown');
  const expires = seconds(values.expires, '--expires');
  const priority = integer(values.priority, '--priority', 0);
  const timeout = seconds(values.timeout, '--timeout');
  const c = await connect(values, io);
  try {
    const serializerName = values.serializer ?? c.conf.task_serializer ?? 'json';
    let serializer: Serializer;
    try {
      serializer = c.serializers.get(serializerName);
    } catch {
      throw new UsageError(`--serializer must be one of ${c.serializers.names().join(', ')}, got ${JSON.stringify(serializerName)}`);
    }
    const encoded = encodeTaskMessage(
      {
        task,
        args: taskArgs,
        kwargs,
        queue: values.queue ?? c.conf.task_default_queue ?? 'celery',
        ...(countdown === undefined ? {} : { countdown }),
        ...(expires === undefined ? {} : { expires }),
        ...(priority === undefined ? {} : { priority }),
      },
      { serializer },
    );
    await c.broker.publish(encoded);
    io.stdout.write(`${encoded.taskId}\n`);
    if (values.wait !== true) return ExitCode.OK;
    if (c.backend === undefined) throw new UsageError('--wait needs a result backend (the app\'s, or --backend <url>)');
    try {
      const meta = await c.backend.waitFor(encoded.taskId, timeout === undefined ? {} : { timeout: timeout * 1000 });
      return report(meta, io);
    } catch (error) {
      if (isTimeout(error)) {
        io.stderr.write(`celeriac: no result for task ${encoded.taskId} within ${String(timeout)}s\n`);
        return ExitCode.TIMEOUT;
      }
      throw error;
    }
  } finally {
    await c.close();
  }
}

async function commandPurge(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    ...CONNECT_OPTIONS,
    queues: { type: 'string', short: 'Q' },
    force: { type: 'boolean', short: 'f' },
  });
  if (values.help === true) {
    io.stdout.write(HELP['purge'] ?? '');
    return ExitCode.OK;
  }
  if (positionals.length > 0) throw new UsageError(`celeriac purge takes no arguments, got ${positionals.join(' ')}`);
  const c = await connect(values, io);
  try {
    const queues = list(values.queues) ?? [c.conf.task_default_queue ?? 'celery'];
    if (values.force !== true) {
      const stdin = io.stdin ?? process.stdin;
      if (stdin.isTTY !== true) throw new UsageError(`celeriac purge deletes every message of ${queues.join(', ')}: pass -f to confirm`);
      const rl = createInterface({ input: stdin, output: io.stderr as NodeJS.WritableStream });
      const answer = await rl.question(`Delete every message of ${queues.join(', ')}? (yes/NO) `);
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) {
        io.stderr.write('celeriac: nothing purged\n');
        return ExitCode.OK;
      }
    }
    for (const queue of queues) {
      const count = await c.broker.purge(queue);
      io.stdout.write(`Purged ${count} message${count === 1 ? '' : 's'} from ${queue}.\n`);
    }
    return ExitCode.OK;
  } finally {
    await c.close();
  }
}

async function commandResult(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { ...CONNECT_OPTIONS, timeout: { type: 'string' } });
  if (values.help === true) {
    io.stdout.write(HELP['result'] ?? '');
    return ExitCode.OK;
  }
  const id = positionals[0];
  if (id === undefined || positionals.length > 1) throw new UsageError('celeriac result needs exactly one task id: celeriac result <task-id>');
  const timeout = seconds(values.timeout, '--timeout');
  const c = await connect(values, io);
  try {
    if (c.backend === undefined) throw new UsageError('celeriac result needs a result backend (the app\'s, or --backend <url>)');
    let meta: ResultMeta;
    if (timeout === undefined) {
      meta = await c.backend.get(id);
    } else {
      try {
        meta = await c.backend.waitFor(id, { timeout: timeout * 1000 });
      } catch (error) {
        if (!isTimeout(error)) throw error;
        const current = await c.backend.get(id);
        io.stdout.write(`${toJson({ task_id: id, status: current.status, result: current.result, traceback: current.traceback, date_done: current.date_done })}\n`);
        io.stderr.write(`celeriac: task ${id} not ready within ${String(timeout)}s (state ${current.status})\n`);
        return ExitCode.TIMEOUT;
      }
    }
    if (!READY_STATES.has(meta.status) && timeout === undefined) {
      io.stdout.write(`${toJson({ task_id: id, status: meta.status, result: meta.result, traceback: meta.traceback, date_done: meta.date_done })}\n`);
      return ExitCode.OK;
    }
    return report(meta, io);
  } finally {
    await c.close();
  }
}

async function commandInspect(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    ...CONNECT_OPTIONS,
    timeout: { type: 'string' },
    destination: { type: 'string', short: 'd' },
  });
  if (values.help === true) {
    io.stdout.write(HELP['inspect'] ?? '');
    return ExitCode.OK;
  }
  const method = positionals[0];
  if (method === undefined || positionals.length > 1 || !INSPECT_METHODS.includes(method)) {
    throw new UsageError(`celeriac inspect needs one of ${INSPECT_METHODS.join(', ')}, got ${JSON.stringify(positionals.join(' '))}`);
  }
  const timeout = seconds(values.timeout, '--timeout') ?? 1;
  const c = await connect(values, io);
  try {
    const keys = (c.broker as { keys?: KombuTableKeys }).keys;
    if (c.brokerUrl === undefined || keys === undefined) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, 'celeriac inspect needs a Redis broker (broker_url of the app, or --broker <url>)');
    }
    await using table = createKombuTable(c.brokerUrl, { keys, transportOptions: c.transportOptions, name: 'inspect' });
    const destination = list(values.destination);
    const replies = await inspect(c.broker, method, { table, timeout, ...(destination === undefined ? {} : { destination }) });
    io.stdout.write(`${toJson(Object.fromEntries(replies))}\n`);
    if (replies.size === 0) {
      io.stderr.write(`celeriac: no worker replied within ${timeout}s\n`);
      return ExitCode.TIMEOUT;
    }
    return ExitCode.OK;
  } finally {
    await c.close();
  }
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const COMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  worker: commandWorker,
  beat: commandBeat,
  call: commandCall,
  purge: commandPurge,
  result: commandResult,
  inspect: commandInspect,
};

/**
 * Runs one `celeriac` command.
 *
 * @param argv - the arguments after `celeriac`
 * @param io - streams, environment, working directory
 * @returns the exit code ({@link ExitCode})
 */
export async function runCli(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    (command === undefined ? io.stderr : io.stdout).write(MAIN_HELP);
    return command === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  if (command === '--version' || command === '-V') {
    io.stdout.write(`${version()}\n`);
    return ExitCode.OK;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    io.stderr.write(`celeriac: unknown command ${JSON.stringify(command)}\n\n${MAIN_HELP}`);
    return ExitCode.USAGE;
  }
  try {
    return await run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`celeriac ${command}: ${error.message}\nRun "celeriac ${command} --help" for its options.\n`);
      return ExitCode.USAGE;
    }
    if (isTimeout(error)) {
      io.stderr.write(`celeriac ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
      return ExitCode.TIMEOUT;
    }
    io.stderr.write(`celeriac ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
    return ExitCode.FAILED;
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signalGroup, trackChild } from './child-processes.ts';
import { freePort } from './free-port.ts';
import { rawCommand } from './raw-redis.ts';
import {
  MonitorRecorder,
  type MonitorTarget,
  type RedisMonitor,
  type RedisMonitorOptions,
} from './redis-monitor.ts';

/*
 * A private redis-server for tests that stop, kill, restart or pause Redis (the shared
 * server must never be touched that way).
 *
 * Start-up order, the same on every (re)start: the process comes up listening only on a unix
 * socket in its own directory (`--port 0 --unixsocket <dir>/redis.sock`), answers PING there,
 * monitors created with `server.monitor()` attach there, and only then does
 * `CONFIG SET port <port>` open the TCP port. So a monitor sees a reconnecting client's very
 * first command after a restart, and a taken port shows up as a CONFIG SET error rather than
 * a dead process.
 *
 * The process leads its own process group (`detached`) and is tracked by child-processes.ts
 * (SIGKILLed when this process exits or gets SIGTERM/SIGINT/SIGHUP). When util-linux
 * `setpriv` exists it is exec'd in front (`setpriv --pdeathsig KILL`, same pid), so even a
 * SIGKILLed test process takes its servers along.
 */

/** How a {@link startRedisServer} server persists data. */
export type RedisPersistence = 'none' | 'aof' | 'rdb';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /**
   * `none` (default): `--save "" --appendonly no`, a restart loses everything.
   * `aof`: `--appendonly yes --appendfsync always --save ""`, every write survives a
   * restart, a kill and a `SHUTDOWN NOSAVE`.
   * `rdb`: Redis' default save points, `--appendonly no`; data survives `stop()`/`restart()`
   * (SIGTERM saves) and `shutdown({ save: true })`, not `kill()` or `shutdown({ save: false })`.
   */
  readonly persistence?: RedisPersistence;
  /** TCP port on 127.0.0.1; default a free one (retried if taken meanwhile). */
  readonly port?: number;
  /** More `redis-server` arguments, appended last (e.g. `['--maxmemory', '10mb']`). Not `--port`, `--dir`, `--unixsocket`. */
  readonly args?: readonly string[];
  /** How long one start may take until the TCP port answers; default 10 000 ms. */
  readonly startTimeoutMs?: number;
}

/** A private `redis-server` process. Dispose it with `await using`. */
export interface RedisServer extends AsyncDisposable {
  /** TCP port on 127.0.0.1, the same across restarts. */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Process id of the current (or last) process; changes on restart. */
  readonly pid: number;
  /** The server's own directory (`--dir`): AOF and RDB files, the unix socket. */
  readonly dir: string;
  /** The unix socket the server also listens on. */
  readonly socketPath: string;
  /** The persistence it was started with. */
  readonly persistence: RedisPersistence;
  /** Whether the process is running (paused counts as running). */
  readonly running: boolean;
  /** Whether the process is stopped by {@link RedisServer.pause}. */
  readonly paused: boolean;
  /**
   * The latest lines the server logged, across restarts (at most 2 000).
   *
   * @returns a copy
   */
  logs(): string[];
  /**
   * Starts the process again on the same port and directory after `stop()`, `kill()` or
   * `shutdown()`; no-op when running. Resolves once the TCP port answers PING.
   *
   * @throws when it cannot start (the error shows the log tail) or the port was taken
   */
  start(): Promise<void>;
  /**
   * SIGTERM (after SIGCONT when paused) and wait for the exit; SIGKILL after `timeoutMs`.
   * Redis then saves an RDB when save points are configured (`rdb`) and fsyncs the AOF
   * (`aof`). No-op when not running.
   *
   * @param timeoutMs - default 10 000
   */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL (the whole process group, fork children included) and wait for the exit. */
  kill(): Promise<void>;
  /**
   * `stop()` then `start()`: same port, same directory, so `aof`/`rdb` data is back and a
   * `none` server is empty. Resolves once the TCP port answers PING again.
   */
  restart(): Promise<void>;
  /**
   * Sends `SHUTDOWN SAVE` or `SHUTDOWN NOSAVE` (after SIGCONT when paused) and waits for the
   * exit. `start()` brings it back.
   *
   * @param options - `save: true` writes an RDB even without save points
   * @throws when the server refuses (the reply is in the message) or does not exit in 10 s
   */
  shutdown(options: { readonly save: boolean }): Promise<void>;
  /** SIGSTOP: the server accepts TCP connections (kernel backlog) but answers nothing. */
  pause(): void;
  /** SIGCONT: the server answers again, including what queued up while paused. */
  resume(): void;
  /**
   * A MONITOR connection that follows this server across restarts: it re-attaches before
   * the TCP port opens again, so it sees every command of every client.
   *
   * @param options - a filter and a size cap
   * @returns the monitor; stopped on the server's dispose at the latest
   */
  monitor(options?: RedisMonitorOptions): Promise<RedisMonitor>;
}

const MAX_LOG_LINES = 2_000;
const TAIL_LINES = 30;
const PORT_ATTEMPTS = 5;
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path));

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Instance {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<Exit>;
  done: boolean;
}

/** CONFIG SET port failed because the port is taken: pick another (first start) or retry. */
class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function baseArgs(dir: string, socketPath: string, persistence: RedisPersistence): string[] {
  const args = [
    '--port', '0',
    '--bind', '127.0.0.1',
    '--unixsocket', socketPath,
    '--unixsocketperm', '700',
    '--dir', dir,
    '--daemonize', 'no',
    '--logfile', '',
  ];
  if (persistence === 'aof') args.push('--appendonly', 'yes', '--appendfsync', 'always', '--save', '');
  else if (persistence === 'rdb') args.push('--appendonly', 'no');
  else args.push('--appendonly', 'no', '--save', '');
  return args;
}

/**
 * Starts a private `redis-server` on 127.0.0.1 in its own temporary directory and waits
 * until it answers PING. Use it for anything that stops, kills, restarts, pauses or
 * reconfigures Redis; never do that to the shared server.
 *
 * @param options - persistence, port and extra arguments
 * @returns the running server; `await using` stops it and removes its directory
 * @throws when `redis-server` cannot start (the error shows its log tail)
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const persistence = options.persistence ?? 'none';
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const dir = await mkdtemp(join(tmpdir(), 'celeriac-redis-'));
  const socketPath = join(dir, 'redis.sock');
  const args = [...baseArgs(dir, socketPath, persistence), ...(options.args ?? [])];
  const lines: string[] = [];
  const monitors = new Set<MonitorRecorder>();
  let port = options.port ?? 0;
  let instance: Instance | undefined;
  let lastPid = 0;
  let paused = false;
  let disposed = false;
  let starting: Promise<void> | undefined;

  const tail = (): string => lines.slice(-TAIL_LINES).join('\n');
  const describe = (): string => `redis-server (port ${port || '-'}, dir ${dir})`;

  const spawnInstance = (): Instance => {
    const command = SETPRIV ?? 'redis-server';
    const argv = SETPRIV === undefined ? args : ['--pdeathsig', 'KILL', 'redis-server', ...args];
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    trackChild(child);
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        lines.push(...parts);
        if (lines.length > MAX_LOG_LINES) lines.splice(0, lines.length - MAX_LOG_LINES);
      });
    }
    const exited = new Promise<Exit>((resolve) => {
      child.once('error', (error) => {
        lines.push(`spawn failed: ${error.message}`);
        resolve({ code: null, signal: null });
      });
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const started: Instance = { child, pid: child.pid ?? 0, exited, done: false };
    void exited.then(() => {
      started.done = true;
      paused = false;
    });
    return started;
  };

  const monitorTarget = (): MonitorTarget => ({
    connect: { path: socketPath },
    label: `${describe()} unix socket`,
  });

  /** Polls PING on the unix socket until PONG, the exit, or the deadline. */
  const waitForPong = async (current: Instance, deadline: number): Promise<void> => {
    for (;;) {
      if (current.done) {
        const exit = await current.exited;
        throw new Error(
          `${describe()} exited (${exit.code ?? exit.signal ?? 'spawn error'}) before answering PING. ` +
            `Log tail:\n${tail()}`,
        );
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${describe()} did not answer PING in time. Log tail:\n${tail()}`);
      const reply = await rawCommand({ path: socketPath }, ['PING'], Math.min(left, 1_000));
      if (reply.kind === 'line' && reply.line === '+PONG') return;
      await sleep(10); // not listening yet, or -LOADING
    }
  };

  const openPort = async (wanted: number): Promise<void> => {
    const reply = await rawCommand({ path: socketPath }, ['CONFIG', 'SET', 'port', String(wanted)], 5_000);
    if (reply.kind === 'line' && reply.line === '+OK') return;
    const said = reply.kind === 'line' ? reply.line : reply.kind;
    if (said.includes('Unable to listen')) throw new PortInUseError(`port ${wanted} is in use`);
    throw new Error(`${describe()}: CONFIG SET port ${wanted} failed: ${said}. Log tail:\n${tail()}`);
  };

  const waitForTcp = async (deadline: number): Promise<void> => {
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${describe()}: TCP port does not answer PING. Log tail:\n${tail()}`);
      const reply = await rawCommand({ host: '127.0.0.1', port }, ['PING'], Math.min(left, 1_000));
      if (reply.kind === 'line' && reply.line === '+PONG') return;
      await sleep(10);
    }
  };

  const waitForExit = async (current: Instance, timeoutMs: number): Promise<void> => {
    const timer = setTimeout(() => signalGroup(current.child, 'SIGKILL'), timeoutMs);
    await current.exited;
    clearTimeout(timer);
  };

  const startOnce = async (): Promise<void> => {
    const deadline = performance.now() + startTimeoutMs;
    const fixed = options.port !== undefined || port !== 0; // restarts keep the port
    for (let attempt = 1; ; attempt += 1) {
      const current = spawnInstance();
      instance = current;
      lastPid = current.pid;
      try {
        await waitForPong(current, deadline);
        await Promise.all([...monitors].map((monitor) => monitor.attach(monitorTarget())));
        const wanted = fixed ? port : await freePort();
        try {
          await openPort(wanted);
        } catch (error) {
          // A port just freed by our own previous process is bindable (Redis sets
          // SO_REUSEADDR); anything else took it meanwhile: try again, shortly.
          if (!(error instanceof PortInUseError) || attempt >= PORT_ATTEMPTS) throw error;
          signalGroup(current.child, 'SIGKILL');
          await current.exited;
          await sleep(fixed ? 200 : 0);
          continue;
        }
        port = wanted;
        await waitForTcp(deadline);
        return;
      } catch (error) {
        signalGroup(current.child, 'SIGKILL');
        await current.exited;
        throw error instanceof PortInUseError
          ? new Error(`${describe()}: ${error.message} (${attempt} attempts)`, { cause: error })
          : error;
      }
    }
  };

  const isRunning = (): boolean => instance !== undefined && !instance.done;

  const start = (): Promise<void> => {
    if (disposed) return Promise.reject(new Error(`${describe()}: already disposed`));
    if (isRunning() && starting === undefined) return Promise.resolve();
    starting ??= startOnce().finally(() => {
      starting = undefined;
    });
    return starting;
  };

  const resume = (): void => {
    if (!paused || instance === undefined || instance.done) return;
    process.kill(instance.pid, 'SIGCONT');
    paused = false;
  };

  const stop = async (timeoutMs = 10_000): Promise<void> => {
    await starting?.catch(() => {});
    const current = instance;
    if (current === undefined || current.done) return;
    resume();
    current.child.kill('SIGTERM');
    await waitForExit(current, timeoutMs);
  };

  const kill = async (): Promise<void> => {
    await starting?.catch(() => {});
    const current = instance;
    if (current === undefined || current.done) return;
    signalGroup(current.child, 'SIGKILL');
    await current.exited;
  };

  const shutdown = async ({ save }: { readonly save: boolean }): Promise<void> => {
    await starting?.catch(() => {});
    const current = instance;
    if (current === undefined || current.done) return;
    resume();
    const reply = await rawCommand({ path: socketPath }, ['SHUTDOWN', save ? 'SAVE' : 'NOSAVE'], 10_000);
    // Success is a closed connection; a refusal (e.g. the save failed) is an error reply.
    if (reply.kind === 'line') {
      throw new Error(`${describe()}: SHUTDOWN ${save ? 'SAVE' : 'NOSAVE'} refused: ${reply.line}`);
    }
    const exitedInTime = await Promise.race([current.exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!exitedInTime) {
      throw new Error(`${describe()}: still running 10 s after SHUTDOWN. Log tail:\n${tail()}`);
    }
  };

  const server: RedisServer = {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    get pid() {
      return lastPid;
    },
    dir,
    socketPath,
    persistence,
    get running() {
      return isRunning();
    },
    get paused() {
      return paused;
    },
    logs: () => [...lines],
    start,
    stop,
    kill,
    async restart() {
      await stop();
      await start();
    },
    shutdown,
    pause() {
      if (instance === undefined || instance.done) {
        throw new Error(`${describe()}: cannot pause, not running`);
      }
      process.kill(instance.pid, 'SIGSTOP');
      paused = true;
    },
    resume,
    async monitor(monitorOptions = {}) {
      const recorder = new MonitorRecorder(monitorOptions, () => monitors.delete(recorder));
      monitors.add(recorder);
      try {
        // A start in progress attaches it before opening the port, unless already past that.
        await starting?.catch(() => {});
        if (isRunning() && !recorder.connected) await recorder.attach(monitorTarget());
      } catch (error) {
        await recorder.stop();
        throw error;
      }
      return recorder;
    },
    async [Symbol.asyncDispose]() {
      if (disposed) return;
      try {
        await stop();
      } finally {
        disposed = true;
        await Promise.all([...monitors].map((monitor) => monitor.stop()));
        await rm(dir, { recursive: true, force: true });
      }
    },
  };

  try {
    await start();
  } catch (error) {
    disposed = true;
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return server;
}

import { connect, type NetConnectOpts, type Socket } from 'node:net';
import { encodeCommand } from './raw-redis.ts';

/*
 * MONITOR over a bare socket. The server sends one status reply per executed command,
 * `+<sec>.<usec> [<db> <client>] "arg" "arg"…`, each argument escaped like sdscatrepr
 * (`\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`, and `\xHH` for every other byte outside
 * printable ASCII, UTF-8 included). ioredis' own monitor mode splits on `" "` and leaves
 * `\xHH` as is, so a key like `q\x06\x16x` or an argument containing `" "` would come out
 * wrong; this parser returns the exact bytes, decoded as UTF-8.
 */

/** One command line MONITOR reported. */
export interface MonitoredCommand {
  /** When the server ran it, in milliseconds since the epoch (microsecond fraction kept). */
  readonly time: number;
  /** The database it ran against. */
  readonly db: number;
  /** `ip:port` of the client, `lua` for a script's calls, `unix:<path>` for a socket client. */
  readonly client: string;
  /** The command name as sent (any case) and its arguments, exact bytes decoded as UTF-8. */
  readonly args: readonly string[];
}

/** Options of {@link monitorRedis}. */
export interface RedisMonitorOptions {
  /**
   * Keep only the commands this returns `true` for (e.g. those mentioning the test's own
   * prefix). On the shared server every other test's traffic shows up too.
   */
  readonly filter?: (command: MonitoredCommand) => boolean;
  /**
   * Refuse to answer after recording this many commands (counts would be wrong if old ones
   * were dropped); default 200 000. Use {@link RedisMonitorOptions.filter} on a busy server.
   */
  readonly maxCommands?: number;
}

/**
 * A MONITOR connection recording every command run after it started. Dispose it with
 * `await using`, or call `stop()`.
 */
export interface RedisMonitor extends AsyncDisposable {
  /** Whether the MONITOR connection is open (false after `stop()` or a server restart). */
  readonly connected: boolean;
  /**
   * The recorded commands, oldest first.
   *
   * @param predicate - keep only these
   * @returns a new array
   * @throws when more than `maxCommands` were seen
   */
  commands(predicate?: (command: MonitoredCommand) => boolean): MonitoredCommand[];
  /**
   * How many recorded commands have this name (case-insensitive) and match `predicate`.
   *
   * @param commandName - e.g. `'lpush'`, `'SUBSCRIBE'`
   * @param predicate - tested with the arguments after the command name
   * @returns the count
   */
  count(commandName: string, predicate?: (args: readonly string[]) => boolean): number;
  /**
   * How many times `channel` was named by a SUBSCRIBE: a SUBSCRIBE of three channels counts
   * once for each. PSUBSCRIBE and SSUBSCRIBE are not counted.
   *
   * @param channel - the exact channel name
   * @returns the count
   */
  countSubscribes(channel: string): number;
  /**
   * How many times `channel` was named by an UNSUBSCRIBE. An UNSUBSCRIBE without arguments
   * (leave every channel) names none, so it is not counted.
   *
   * @param channel - the exact channel name
   * @returns the count
   */
  countUnsubscribes(channel: string): number;
  /**
   * Resolves with the first recorded command matching `predicate`, looking at the commands
   * already recorded first.
   *
   * @param predicate - the command to wait for
   * @param timeoutMs - default 5 000
   * @returns the matching command
   * @throws when the time is up or the monitor stops first
   */
  waitFor(predicate: (command: MonitoredCommand) => boolean, timeoutMs?: number): Promise<MonitoredCommand>;
  /** Closes the MONITOR connection; recorded commands stay readable. Idempotent. */
  stop(): Promise<void>;
}

/** Where and as whom a monitor connects. */
export interface MonitorTarget {
  readonly connect: NetConnectOpts;
  readonly username?: string;
  readonly password?: string;
  /** For error messages (no password). */
  readonly label: string;
}

const ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, a: 7, b: 8, '\\': 92, '"': 34 };

function parseArgs(text: string): string[] | undefined {
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ') {
      i += 1;
      continue;
    }
    if (text[i] !== '"') return undefined;
    i += 1;
    const bytes: number[] = [];
    for (;;) {
      const c = text[i];
      if (c === undefined) return undefined;
      if (c === '"') {
        i += 1;
        break;
      }
      if (c !== '\\') {
        bytes.push(text.charCodeAt(i));
        i += 1;
        continue;
      }
      const next = text[i + 1];
      if (next === 'x') {
        const code = Number.parseInt(text.slice(i + 2, i + 4), 16);
        if (Number.isNaN(code)) return undefined;
        bytes.push(code);
        i += 4;
        continue;
      }
      const code = next === undefined ? undefined : ESCAPES[next];
      if (code === undefined) return undefined;
      bytes.push(code);
      i += 2;
    }
    args.push(Buffer.from(bytes).toString('utf8'));
  }
  return args;
}

const LINE = /^(\d+)\.(\d+) \[(\d+) ([^\]]*)\] ?(.*)$/s;

/**
 * Parses one MONITOR line (without the leading `+`).
 *
 * @param line - e.g. `1700000000.123456 [0 127.0.0.1:5000] "set" "k\xc3\xa9" "v"`
 * @returns the command, or `undefined` when the line is not a MONITOR line
 */
export function parseMonitorLine(line: string): MonitoredCommand | undefined {
  const match = LINE.exec(line);
  if (match === null) return undefined;
  const [, seconds = '', micros = '', db = '', client = '', rest = ''] = match;
  const args = parseArgs(rest);
  if (args === undefined || args.length === 0) return undefined;
  const time = Number(seconds) * 1000 + Number(micros.padEnd(6, '0').slice(0, 6)) / 1000;
  return { time, db: Number(db), client, args };
}

function namesChannel(command: MonitoredCommand, verb: string, channel: string): number {
  if (command.args[0]?.toLowerCase() !== verb) return 0;
  let n = 0;
  for (let i = 1; i < command.args.length; i += 1) if (command.args[i] === channel) n += 1;
  return n;
}

interface Waiter {
  readonly predicate: (command: MonitoredCommand) => boolean;
  readonly resolve: (command: MonitoredCommand) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The recording side of a monitor; `attach()` (re)connects it, so a monitor owned by a
 * {@link RedisServer} follows the server across restarts.
 */
export class MonitorRecorder implements RedisMonitor {
  readonly #filter: ((command: MonitoredCommand) => boolean) | undefined;
  readonly #max: number;
  readonly #records: MonitoredCommand[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #onStop: (() => void) | undefined;
  #overflowed = false;
  #socket: Socket | undefined;
  #connected = false;
  #stopped = false;
  #label = '(not attached)';

  constructor(options: RedisMonitorOptions = {}, onStop?: () => void) {
    this.#filter = options.filter;
    this.#max = options.maxCommands ?? 200_000;
    this.#onStop = onStop;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Opens a MONITOR connection (closing a previous one) and resolves once the server
   * confirmed it: every command run after that is recorded.
   *
   * @param target - where to connect
   * @throws when the connection or MONITOR (or AUTH) fails
   */
  attach(target: MonitorTarget): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error('RedisMonitor: already stopped'));
    this.#socket?.destroy();
    this.#label = target.label;
    return new Promise((resolve, reject) => {
      const socket = connect(target.connect);
      this.#socket = socket;
      socket.setEncoding('latin1');
      let buffered = '';
      let controlReplies = target.password === undefined ? 1 : 2;
      let ready = false;
      const fail = (why: string): void => {
        socket.destroy();
        reject(new Error(`RedisMonitor: cannot MONITOR ${target.label}: ${why}`));
      };
      socket.on('connect', () => {
        const auth =
          target.password === undefined
            ? []
            : [encodeCommand(target.username ? ['AUTH', target.username, target.password] : ['AUTH', target.password])];
        socket.write(Buffer.concat([...auth, encodeCommand(['MONITOR'])]));
      });
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        let end = buffered.indexOf('\r\n');
        while (end >= 0) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          end = buffered.indexOf('\r\n');
          if (!ready) {
            if (!line.startsWith('+')) return fail(line);
            controlReplies -= 1;
            if (controlReplies === 0) {
              ready = true;
              this.#connected = true;
              resolve();
            }
            continue;
          }
          if (line.startsWith('+')) this.#record(line.slice(1));
        }
      });
      socket.on('error', (error) => {
        if (!ready) fail(error.message);
      });
      socket.on('close', () => {
        if (this.#socket === socket) this.#connected = false;
        if (!ready) fail('the connection closed');
      });
    });
  }

  #record(line: string): void {
    const command = parseMonitorLine(line);
    if (command === undefined) return;
    if (this.#filter !== undefined && !this.#filter(command)) return;
    if (this.#records.length >= this.#max) {
      this.#overflowed = true;
      return;
    }
    this.#records.push(command);
    for (const waiter of this.#waiters) {
      if (waiter.predicate(command)) {
        this.#waiters.delete(waiter);
        waiter.resolve(command);
      }
    }
  }

  #all(): readonly MonitoredCommand[] {
    if (this.#overflowed) {
      throw new Error(
        `RedisMonitor: more than ${this.#max} commands recorded on ${this.#label}; ` +
          'pass a filter (or a larger maxCommands) so counts stay exact',
      );
    }
    return this.#records;
  }

  commands(predicate?: (command: MonitoredCommand) => boolean): MonitoredCommand[] {
    const all = this.#all();
    return predicate === undefined ? [...all] : all.filter(predicate);
  }

  count(commandName: string, predicate?: (args: readonly string[]) => boolean): number {
    const name = commandName.toLowerCase();
    let n = 0;
    for (const command of this.#all()) {
      if (command.args[0]?.toLowerCase() !== name) continue;
      if (predicate === undefined || predicate(command.args.slice(1))) n += 1;
    }
    return n;
  }

  countSubscribes(channel: string): number {
    return this.#all().reduce((n, command) => n + namesChannel(command, 'subscribe', channel), 0);
  }

  countUnsubscribes(channel: string): number {
    return this.#all().reduce((n, command) => n + namesChannel(command, 'unsubscribe', channel), 0);
  }

  waitFor(
    predicate: (command: MonitoredCommand) => boolean,
    timeoutMs = 5_000,
  ): Promise<MonitoredCommand> {
    const seen = this.#all().find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.#stopped) return Promise.reject(new Error('RedisMonitor.waitFor: the monitor is stopped'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new Error(
            `RedisMonitor.waitFor: no matching command on ${this.#label} within ${timeoutMs} ms ` +
              `(${this.#records.length} recorded)`,
          ),
        );
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        resolve: (command) => {
          clearTimeout(timer);
          resolve(command);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#onStop?.();
    for (const waiter of this.#waiters) {
      waiter.reject(new Error('RedisMonitor.waitFor: the monitor was stopped'));
    }
    this.#waiters.clear();
    const socket = this.#socket;
    if (socket === undefined || socket.destroyed) return;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.destroy();
    await closed;
    this.#connected = false;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * The connection details of a `redis://` URL, for a bare socket.
 *
 * @param url - `redis://[[user]:password@]host[:port][/db]`
 * @returns the target
 * @throws TypeError for `rediss://` (TLS is not supported here) or another scheme
 */
export function monitorTargetOf(url: string): MonitorTarget {
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:') {
    throw new TypeError(`monitorRedis: expected a redis:// URL (no TLS), received "${parsed.protocol}//…"`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const password = parsed.password === '' ? undefined : decodeURIComponent(parsed.password);
  const username = parsed.username === '' ? undefined : decodeURIComponent(parsed.username);
  return {
    connect: { host, port },
    ...(password === undefined ? {} : { password }),
    ...(username === undefined ? {} : { username }),
    label: `redis://${parsed.host}`,
  };
}

/**
 * Starts a MONITOR connection and records every command the server runs from the moment
 * this resolves (on every database: MONITOR ignores SELECT). On the shared server other
 * tests' commands appear too: count only names your test made unique, or pass a `filter`.
 * The monitor stops recording if the connection drops (e.g. the server restarts); a monitor
 * that follows restarts is {@link RedisServer.monitor}. AUTH commands are not shown by Redis.
 *
 * @param url - a `redis://` URL (user and password honoured; the database is irrelevant)
 * @param options - a filter and a size cap
 * @returns the running monitor; dispose it with `await using` or `stop()`
 * @throws when the connection or MONITOR fails
 */
export async function monitorRedis(url: string, options: RedisMonitorOptions = {}): Promise<RedisMonitor> {
  const recorder = new MonitorRecorder(options);
  await recorder.attach(monitorTargetOf(url));
  return recorder;
}

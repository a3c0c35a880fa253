/**
 * A small JSON-lines logger for the CLI: one JSON object per line on stderr, with a level
 * threshold. Anything that fits the protocol's `Logger` (pino, console) works as well.
 *
 * @module
 */
import type { LogFields, Logger } from '@celeriac/protocol';

/** Log levels, lowest first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions {
  /** Lowest level written; default `info`. */
  readonly level?: LogLevel;
  /** Where lines go; default `process.stderr`. */
  readonly stream?: { write(line: string): unknown };
  /** Fields written on every line (e.g. `{ hostname }`). */
  readonly base?: LogFields;
}

/**
 * @param level - a name, case-insensitive; `warning` and `critical` (Celery's) are accepted
 * @returns the level, or `undefined` when unknown
 */
export function parseLogLevel(level: string): LogLevel | undefined {
  const name = level.toLowerCase();
  if (name === 'warning') return 'warn';
  if (name === 'critical' || name === 'fatal') return 'error';
  return (LOG_LEVELS as readonly string[]).includes(name) ? (name as LogLevel) : undefined;
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  return value;
}

/**
 * @param options - level, stream, base fields
 * @returns a logger writing `{"time","level","msg",...fields}` lines
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level ?? 'info');
  const stream = options.stream ?? process.stderr;
  const base = options.base ?? {};
  const write = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    let line: string;
    try {
      line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }, replacer);
    } catch {
      line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, fields: '<unserializable>' });
    }
    stream.write(`${line}\n`);
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

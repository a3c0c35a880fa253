/**
 * The logging contract every Celeriac package writes to: structured, levelled, and silent
 * unless the application passes a logger (pino, console, …).
 *
 * @module
 */

/** Key-value fields of a log line. Never put a password or a full URL with credentials here. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A structured logger; `console` fits, and so does pino's. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const noop = (): void => undefined;

/** A logger that drops everything (the default). */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

/**
 * Turns ioredis failures into Celeriac's typed errors, naming what failed and where (the URL
 * always redacted), and strips credentials ioredis attaches to errors: a failed AUTH rejects
 * every queued command with a `ReplyError` whose `command.args` hold the password.
 *
 * @module
 */
import { CeleriacError, ConnectionClosedError, ErrorCode, TimeoutError } from '@celeriac/protocol';

/** Commands whose arguments hold credentials (ioredis puts them on its `ReplyError.command`). */
const SECRET_COMMANDS = new Set(['auth', 'hello', 'migrate']);

/**
 * An ioredis error without the arguments of a credentials command (`err.command.args` of a
 * failed AUTH holds the password).
 *
 * @param error - an ioredis error
 * @returns the error itself, or a copy without `command` when it carried credentials
 */
export function withoutSecrets(error: Error): Error {
  const command = (error as { command?: { name?: unknown } }).command;
  if (command === undefined || !SECRET_COMMANDS.has(String(command.name).toLowerCase())) return error;
  const copy = new Error(error.message);
  copy.name = error.name;
  return copy;
}

/** Where a command ran, for error messages. */
export interface RedisErrorContext {
  /** The URL with the password replaced (`redactedUrl`). */
  readonly url: string;
  /** The command deadline, in milliseconds. */
  readonly timeoutMs: number;
  /**
   * Called when a command timed out: the connection may be half-open (a hung network
   * answers nothing and closes nothing), so its owner drops it and makes a new one.
   */
  readonly onTimeout?: () => void;
}

/**
 * Maps an error of a Redis command to Celeriac's typed errors.
 *
 * - ioredis' `Command timed out` → {@link TimeoutError} (the command may still have run), and
 *   `context.onTimeout` is told;
 * - a closed connection (`Connection is closed.`, an aborted pipeline, a stream that is not
 *   writable) → {@link ConnectionClosedError};
 * - refused credentials (`WRONGPASS`, `NOAUTH`) → {@link CeleriacError} `INVALID_CONFIG`;
 * - anything else (a Redis error reply such as OOM or WRONGTYPE) is returned as it is, minus
 *   any credentials ioredis attached to it.
 *
 * @param error - what ioredis rejected with
 * @param what - the operation, e.g. `publish to queue "celery"`
 * @param context - URL and deadline
 * @returns the error to throw
 */
export function toRedisError(error: unknown, what: string, context: RedisErrorContext): Error {
  if (error instanceof CeleriacError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message === 'Command timed out') {
    context.onTimeout?.();
    return new TimeoutError(
      `${what}: Redis at ${context.url} did not answer within ${context.timeoutMs} ms ` +
        '(the command may or may not have run)',
      context.timeoutMs,
      { cause: error },
    );
  }
  if (
    message.startsWith('Connection is closed') ||
    message.startsWith('Command aborted due to connection close') ||
    message.startsWith("Stream isn't writeable")
  ) {
    return new ConnectionClosedError(
      `${what}: the connection to Redis at ${context.url} closed before a reply ` +
        '(the command may or may not have run)',
      { cause: error },
    );
  }
  if (/^(WRONGPASS|NOAUTH|NOPERM)\b/.test(message)) {
    return new CeleriacError(
      ErrorCode.INVALID_CONFIG,
      `${what}: Redis at ${context.url} refused the connection's credentials: ${message}`,
      { cause: error instanceof Error ? withoutSecrets(error) : undefined },
    );
  }
  return error instanceof Error ? withoutSecrets(error) : new Error(message);
}

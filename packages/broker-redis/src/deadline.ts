/**
 * Client-side deadlines for commands on connections that must never hang: a half-open TCP
 * connection answers nothing and closes nothing, so no error ever comes. (A command in flight
 * when its connection closes is rejected by @celeriac/redis-connection.) Every consumer
 * command therefore races its reply against a timer (the watchdog) and against the
 * connection leaving `ready`.
 *
 * @module
 */
import type { ConnectionState, ConnectionStatus } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';

/** Why a guarded command gave up (internal: the consumer loop recovers from it). */
export class CommandAbortedError extends Error {
  /** `timeout`: no reply in time; `connection`: the connection left `ready` first. */
  readonly reason: 'timeout' | 'connection';

  /**
   * @param message - what gave up and why
   * @param reason - timeout or connection loss
   */
  constructor(message: string, reason: 'timeout' | 'connection') {
    super(message);
    this.name = 'CommandAbortedError';
    this.reason = reason;
  }
}

/** What {@link guard} needs. */
export interface GuardOptions {
  /** The state of the connection the command runs on. */
  readonly state: ConnectionState;
  /** The deadline. */
  readonly timeoutMs: number;
  /** For the error message. */
  readonly what: string;
  /** Called once when the deadline passes (drop the connection, so it is re-created). */
  readonly onTimeout: () => void;
}

/**
 * Races a command against its deadline and against its connection leaving `ready`.
 *
 * @param promise - the command
 * @param options - state, deadline, name, timeout reaction
 * @returns the reply
 * @throws {@link CommandAbortedError} on timeout or connection loss; the command's own error otherwise
 */
export function guard<T>(promise: Promise<T>, options: GuardOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      options.state.off('status', onStatus);
    };
    const onStatus = (status: ConnectionStatus): void => {
      if (done || status === 'ready') return;
      finish();
      reject(new CommandAbortedError(`${options.what}: the connection was lost (${status})`, 'connection'));
    };
    const timer = setTimeout(() => {
      if (done) return;
      finish();
      options.onTimeout();
      reject(new CommandAbortedError(`${options.what}: no reply within ${options.timeoutMs} ms`, 'timeout'));
    }, options.timeoutMs);
    options.state.on('status', onStatus);
    promise.then(
      (value) => {
        if (done) return;
        finish();
        resolve(value);
      },
      (error: unknown) => {
        if (done) return;
        finish();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * Waits until a connection is `ready`, connecting it first if it never was. When the deadline
 * passes while a connection attempt hangs (`connecting`/`connect`: a TCP handshake or a ready
 * check nobody answers), the attempt is dropped so ioredis starts a fresh one.
 *
 * @param redis - the client
 * @param state - its state
 * @param timeoutMs - how long to wait
 * @param what - for the error message
 * @param signal - stops waiting (the owner is closing)
 * @throws {@link CommandAbortedError} (`timeout`) when not ready in time, or (`connection`) when
 *   closed for good or aborted
 */
export function waitForReady(
  redis: Redis,
  state: ConnectionState,
  timeoutMs: number,
  what: string,
  signal?: AbortSignal,
): Promise<void> {
  if (state.isReady) return Promise.resolve();
  if (signal?.aborted === true) return Promise.reject(new CommandAbortedError(`${what}: stopped`, 'connection'));
  if (redis.status === 'wait') redis.connect().catch(() => undefined);
  return new Promise<void>((resolve, reject) => {
    const finish = (): void => {
      clearTimeout(timer);
      state.off('status', onStatus);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      finish();
      reject(new CommandAbortedError(`${what}: stopped`, 'connection'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const onStatus = (status: ConnectionStatus): void => {
      if (status === 'ready') {
        finish();
        resolve();
      } else if (status === 'end') {
        finish();
        reject(new CommandAbortedError(`${what}: the connection is closed`, 'connection'));
      }
    };
    const timer = setTimeout(() => {
      finish();
      if (redis.status === 'connecting' || redis.status === 'connect') redis.disconnect(true);
      reject(new CommandAbortedError(`${what}: not connected within ${timeoutMs} ms (${state.status})`, 'timeout'));
    }, timeoutMs);
    state.on('status', onStatus);
    if (state.status === 'end') onStatus('end');
  });
}

/**
 * A promise that resolves after `ms`, or at once when `signal` aborts.
 *
 * @param ms - milliseconds
 * @param signal - cuts the sleep short
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Quits a client politely, or drops it when it is not connected (QUIT would wait for a
 * reconnect) or does not answer within 1 s.
 *
 * @param redis - the client
 */
export async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)));
  await Promise.race([redis.quit().catch(() => undefined), timeout]);
  clearTimeout(timer);
  const status: string = redis.status;
  if (status !== 'end') redis.disconnect();
}

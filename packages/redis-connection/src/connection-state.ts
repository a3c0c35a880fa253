/**
 * One small, explicit state machine per Redis connection, in the ioredis manner: every
 * status change goes through {@link ConnectionState.setStatus}, which logs it and emits it
 * in one place.
 *
 * ```
 * wait ─▶ connecting ─▶ connect ─▶ ready ─▶ close ─▶ reconnecting ─▶ connecting …
 *                                                 └▶ end (closed for good)
 * ```
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '@celeriac/protocol';
import type { Redis } from 'ioredis';

/** The statuses of a connection (ioredis' own names). */
export type ConnectionStatus = 'wait' | 'connecting' | 'connect' | 'ready' | 'reconnecting' | 'close' | 'end';

/** The events of a {@link ConnectionState}. */
export interface ConnectionStateEvents {
  /** Every change: the new status, the previous one, and why (an error message, or nothing). */
  status: [status: ConnectionStatus, previous: ConnectionStatus, reason: string | undefined];
  /** The connection became ready again after having been ready before (a reconnect). */
  reconnected: [];
}

const STATUSES: readonly ConnectionStatus[] = ['wait', 'connecting', 'connect', 'ready', 'reconnecting', 'close', 'end'];

/**
 * The status of one named connection. Owners (the broker consumer, the result consumer)
 * drive their own recovery from its `reconnected` event, never from ioredis' automatic
 * resubscription or resend.
 */
export class ConnectionState extends EventEmitter<ConnectionStateEvents> {
  #status: ConnectionStatus = 'wait';
  #everReady = false;
  readonly #name: string;
  readonly #logger: Logger;

  /**
   * @param name - what the connection is for (`result-subscriber`, `broker-consumer`), for logs
   * @param logger - where status changes are logged (debug; `end` at info)
   */
  constructor(name: string, logger: Logger = silentLogger) {
    super();
    this.#name = name;
    this.#logger = logger;
  }

  /** The current status. */
  get status(): ConnectionStatus {
    return this.#status;
  }

  /** Whether commands can be sent now. */
  get isReady(): boolean {
    return this.#status === 'ready';
  }

  /**
   * The one place a status changes.
   *
   * @param next - the new status
   * @param reason - why, for the log (never a URL with a password)
   */
  setStatus(next: ConnectionStatus, reason?: string): void {
    const previous = this.#status;
    if (previous === next || previous === 'end') return;
    this.#status = next;
    const fields = { connection: this.#name, from: previous, to: next, ...(reason === undefined ? {} : { reason }) };
    if (next === 'end') this.#logger.info('redis connection closed for good', fields);
    else this.#logger.debug('redis connection status', fields);
    this.emit('status', next, previous, reason);
    if (next === 'ready') {
      if (this.#everReady) this.emit('reconnected');
      this.#everReady = true;
    }
  }

  /**
   * Follows an ioredis client's status events.
   *
   * @param redis - the client to follow
   * @returns a function that stops following
   */
  follow(redis: Redis): () => void {
    const handlers = STATUSES.map((status) => {
      const handler = (arg?: unknown): void => {
        this.setStatus(status, arg instanceof Error ? arg.message : undefined);
      };
      redis.on(status, handler);
      return [status, handler] as const;
    });
    const onError = (err: Error): void => {
      this.#logger.warn('redis connection error', { connection: this.#name, error: err.message });
    };
    redis.on('error', onError);
    this.setStatus(redis.status);
    return () => {
      for (const [status, handler] of handlers) redis.off(status, handler);
      redis.off('error', onError);
    };
  }
}

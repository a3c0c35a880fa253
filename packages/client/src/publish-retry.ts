/**
 * Publishing with Celery's retry policy: a publish that fails on a connection error is
 * tried again after `interval_start`, then `interval_step` more each time up to
 * `interval_max`, at most `max_retries` times (kombu's `Connection.ensure`), then the last
 * error is raised.
 *
 * @see celery/app/amqp.py `send_task_message`; kombu/connection.py `ensure`
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { CeleriacError, ErrorCode, type Broker, type Logger, type OutgoingMessage } from '@celeriac/protocol';
import type { RetryPolicy } from './send-options.ts';

/** Celery's default `task_publish_retry_policy`. */
export const DEFAULT_RETRY_POLICY: Required<RetryPolicy> = Object.freeze({
  maxRetries: 3,
  intervalStart: 0,
  intervalStep: 0.2,
  intervalMax: 1,
});

/** Options of {@link publishWithRetry}. */
export interface PublishWithRetryOptions {
  /** Whether to retry at all (`retry=False` publishes once). */
  readonly retry: boolean;
  /** The policy (seconds). */
  readonly policy: Required<RetryPolicy>;
  /** Told about each retry. */
  readonly logger: Logger;
  /** What is published, for log lines (`tasks.add[<id>] to queue "celery"`). */
  readonly what: string;
  /** Stops retrying once it returns true (the app was closed). */
  readonly stopped?: () => boolean;
  /** Waits `ms` milliseconds; injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Whether a publish error is worth retrying: the connection closed or Redis did not answer
 * in time (kombu's recoverable connection errors). Anything else (a refused password, an
 * OOM reply) is raised at once.
 *
 * @param error - what the broker rejected with
 * @returns whether to retry
 */
export function isRetryablePublishError(error: unknown): boolean {
  return error instanceof CeleriacError && (error.code === ErrorCode.CONNECTION_CLOSED || error.code === ErrorCode.TIMEOUT);
}

/**
 * The wait before retry `n` (0 for the first retry): `interval_start`, growing by
 * `interval_step` per retry, never above `interval_max` (kombu's `fxrange` with
 * `repeatlast`).
 *
 * @param policy - the policy
 * @param n - the retry number, from 0
 * @returns seconds
 */
export function retryInterval(policy: Required<RetryPolicy>, n: number): number {
  return Math.max(0, Math.min(policy.intervalStart + n * policy.intervalStep, policy.intervalMax));
}

/**
 * Checks and completes a retry policy.
 *
 * @param policy - a partial policy
 * @param base - what missing fields default to
 * @returns the complete policy
 * @throws {@link CeleriacError} `INVALID_CONFIG` for a negative or non-numeric field
 */
export function completeRetryPolicy(policy: RetryPolicy | undefined, base: Required<RetryPolicy> = DEFAULT_RETRY_POLICY): Required<RetryPolicy> {
  const out = { ...base, ...Object.fromEntries(Object.entries(policy ?? {}).filter(([, v]) => v !== undefined)) } as Required<RetryPolicy>;
  for (const [key, value] of Object.entries(out)) {
    const ok = typeof value === 'number' && Number.isFinite(value) && value >= 0 && (key !== 'maxRetries' || Number.isInteger(value));
    if (!ok) {
      throw new CeleriacError(
        ErrorCode.INVALID_CONFIG,
        `retryPolicy.${key} must be ${key === 'maxRetries' ? 'an integer >= 0' : 'a number of seconds >= 0'}, got ${String(value)}`,
      );
    }
  }
  return out;
}

/**
 * Publishes a message, retrying connection errors as Celery does.
 *
 * Publishing is at-least-once: a publish that failed with `TIMEOUT` may have reached Redis,
 * so its retry can enqueue the message twice (the same task id), as with Celery.
 *
 * @param broker - where to publish
 * @param message - the encoded message
 * @param options - retry switch, policy, logger
 * @throws the last error once the retries ran out, or the first error that is not retryable
 */
export async function publishWithRetry(broker: Broker, message: OutgoingMessage, options: PublishWithRetryOptions): Promise<void> {
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const maxRetries = options.retry ? options.policy.maxRetries : 0;
  for (let attempt = 0; ; attempt++) {
    try {
      await broker.publish(message);
      return;
    } catch (error) {
      if (attempt >= maxRetries || !isRetryablePublishError(error) || options.stopped?.() === true) throw error;
      const seconds = retryInterval(options.policy, attempt);
      options.logger.warn('publish failed; retrying', {
        what: options.what,
        attempt: attempt + 1,
        retryInSeconds: seconds,
        error: error instanceof Error ? error.message : String(error),
      });
      if (seconds > 0) await sleep(seconds * 1000);
    }
  }
}

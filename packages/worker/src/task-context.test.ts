import type { TaskRequest } from '@celeriac/client';
import { describe, expect, it } from 'vitest';
import { backoffDelay, buildRetryError, invokeTask, matchesAutoretry, TaskRetry } from './task-context.ts';
import { MaxRetriesExceededError } from './worker-errors.ts';

function request(retries: number): TaskRequest {
  return {
    id: 'id-1', task: 't.x', args: [1], kwargs: {}, retries, eta: null, expires: null, rootId: 'id-1', parentId: null,
    groupId: null, groupIndex: null, deliveryInfo: { exchange: '', routingKey: 'celery', priority: 0 }, hostname: 'w@h',
    headers: {}, origin: null, redelivered: false,
  };
}

describe('retry', () => {
  it('builds a Retry with the countdown, the default delay (180 s) or an eta', () => {
    const retry = buildRetryError(request(0), {}, { countdown: 5 });
    expect(retry).toBeInstanceOf(TaskRetry);
    expect(retry).toMatchObject({ countdown: 5, message: 'Retry in 5s', name: 'Retry' });
    expect(buildRetryError(request(0), {})).toMatchObject({ countdown: 180 });
    expect(buildRetryError(request(0), { defaultRetryDelay: 7 })).toMatchObject({ countdown: 7 });
    const eta = new Date(Date.now() + 60_000);
    expect(buildRetryError(request(0), {}, { eta })).toMatchObject({ eta, countdown: undefined });
    expect(buildRetryError(request(0), {}, { exc: new RangeError('x'), countdown: 1 }).message).toBe("Retry in 1s: RangeError('x')");
  });

  it('returns the exc, or MaxRetriesExceededError, once max_retries (default 3) is reached; null is unlimited', () => {
    const exc = new RangeError('too many');
    expect(buildRetryError(request(3), {}, { exc })).toBe(exc);
    expect(buildRetryError(request(3), {})).toBeInstanceOf(MaxRetriesExceededError);
    expect(buildRetryError(request(2), {})).toBeInstanceOf(TaskRetry);
    expect(buildRetryError(request(1), { maxRetries: 1 })).toBeInstanceOf(MaxRetriesExceededError);
    expect(buildRetryError(request(100), { maxRetries: null })).toBeInstanceOf(TaskRetry);
    expect(buildRetryError(request(5), { maxRetries: 1 }, { maxRetries: 10 })).toBeInstanceOf(TaskRetry);
  });

  it('backoff: min(max, base × 2^retries), full jitter in 0..that', () => {
    expect(backoffDelay(0, { retryBackoff: true, retryJitter: false })).toBe(1);
    expect(backoffDelay(3, { retryBackoff: true, retryJitter: false })).toBe(8);
    expect(backoffDelay(4, { retryBackoff: 3, retryJitter: false })).toBe(48);
    expect(backoffDelay(20, { retryBackoff: true, retryJitter: false })).toBe(600);
    expect(backoffDelay(20, { retryBackoff: true, retryBackoffMax: 30, retryJitter: false })).toBe(30);
    for (let retries = 0; retries < 12; retries++) {
      for (const r of [0, 0.3, 0.999999]) {
        const d = backoffDelay(retries, { retryBackoff: 2, retryBackoffMax: 100 }, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(Math.min(100, 2 * 2 ** retries));
        expect(Number.isInteger(d)).toBe(true);
      }
    }
    expect(backoffDelay(3, { retryBackoff: true }, () => 0)).toBe(0);
    expect(backoffDelay(3, { retryBackoff: true }, () => 0.999999)).toBe(8);
  });

  it('autoretryFor matches error names and classes', () => {
    class Flaky extends Error {
      override name = 'Flaky';
    }
    expect(matchesAutoretry(new Flaky('x'), ['Flaky'])).toBe(true);
    expect(matchesAutoretry(new Flaky('x'), [Flaky])).toBe(true);
    expect(matchesAutoretry(new TypeError('x'), [Flaky, 'RangeError'])).toBe(false);
    expect(matchesAutoretry(new TypeError('x'), ['Exception'])).toBe(true);
    expect(matchesAutoretry(new TypeError('x'), undefined)).toBe(false);
  });

  it('invokeTask turns a listed error into a retry with the backoff, and the error itself when retries ran out', async () => {
    const definition = {
      name: 't.x',
      options: { autoretryFor: ['RangeError'], retryBackoff: true, retryJitter: false, maxRetries: 2 },
      run: () => {
        throw new RangeError('flaky');
      },
    };
    const signal = new AbortController().signal;
    const first = await invokeTask(definition, [], request(1), signal);
    expect(first.ok).toBe(false);
    expect((first as { error: unknown }).error).toMatchObject({ name: 'Retry', countdown: 2 });
    const last = await invokeTask(definition, [], request(2), signal);
    expect((last as { error: unknown }).error).toMatchObject({ name: 'RangeError', message: 'flaky' });
  });
});

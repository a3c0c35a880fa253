import { ConnectionClosedError, encodeTaskMessage, silentLogger, TimeoutError } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../test/memory-broker.ts';
import { completeRetryPolicy, DEFAULT_RETRY_POLICY, isRetryablePublishError, publishWithRetry, retryInterval } from './publish-retry.ts';

const message = encodeTaskMessage({ task: 'tasks.add', args: [1, 2] });

function options(sleeps: number[], retry = true) {
  return { retry, policy: DEFAULT_RETRY_POLICY, logger: silentLogger, what: 'tasks.add', sleep: (ms: number) => (sleeps.push(ms), Promise.resolve()) };
}

describe('publishWithRetry', () => {
  it('retries connection errors with the policy delays, then succeeds', async () => {
    const broker = new MemoryBroker();
    broker.failWith = (call) => (call <= 2 ? new ConnectionClosedError(`lost #${call}`) : undefined);
    const sleeps: number[] = [];
    await publishWithRetry(broker, message, options(sleeps));
    expect(broker.calls).toBe(3);
    expect(broker.published).toHaveLength(1);
    expect(sleeps).toEqual([200]); // 0 s (no sleep), then 0.2 s
  });

  it('gives up after maxRetries with the last error', async () => {
    const broker = new MemoryBroker();
    const errors = [1, 2, 3, 4].map((n) => new TimeoutError(`slow #${n}`, 10));
    broker.failWith = (call) => errors[call - 1];
    const sleeps: number[] = [];
    await expect(publishWithRetry(broker, message, options(sleeps))).rejects.toBe(errors[3]);
    expect(broker.calls).toBe(4);
    expect(sleeps.map(Math.round)).toEqual([200, 400]);
  });

  it('does not retry other errors, nor with retry: false', async () => {
    const broker = new MemoryBroker();
    const oom = new Error('OOM command not allowed');
    broker.failWith = () => oom;
    await expect(publishWithRetry(broker, message, options([]))).rejects.toBe(oom);
    expect(broker.calls).toBe(1);
    const closed = new MemoryBroker();
    closed.failWith = () => new ConnectionClosedError('closed');
    await expect(publishWithRetry(closed, message, options([], false))).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(closed.calls).toBe(1);
  });
});

describe('policy', () => {
  it('intervals grow by the step up to the max', () => {
    const policy = completeRetryPolicy({ intervalStart: 0.5, intervalStep: 0.5, intervalMax: 1.2 });
    expect([0, 1, 2, 3].map((n) => retryInterval(policy, n))).toEqual([0.5, 1, 1.2, 1.2]);
    expect(policy.maxRetries).toBe(3);
  });

  it('rejects negative numbers', () => {
    expect(() => completeRetryPolicy({ maxRetries: -1 })).toThrow(/maxRetries must be an integer >= 0/);
  });

  it('only connection errors are retryable', () => {
    expect(isRetryablePublishError(new ConnectionClosedError('x'))).toBe(true);
    expect(isRetryablePublishError(new TimeoutError('x', 1))).toBe(true);
    expect(isRetryablePublishError(new Error('x'))).toBe(false);
  });
});

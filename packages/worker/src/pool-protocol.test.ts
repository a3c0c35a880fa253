import { TaskRejectError } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { deserializeError, serializeError } from './pool-protocol.ts';
import { TaskRetry } from './task-context.ts';
import { SoftTimeLimitExceededError, TimeLimitExceededError } from './worker-errors.ts';

function roundTrip(error: unknown): Error {
  return deserializeError(structuredClone(serializeError(error)));
}

describe('pool protocol errors', () => {
  it('keep name, message, stack, Python args and module across structured clone', () => {
    const error = Object.assign(new Error('boom'), { name: 'InteropError', excModule: 'tasks', args: ['boom', 2n] });
    const back = roundTrip(error) as Error & { excModule?: string; args?: unknown[] };
    expect(back).toMatchObject({ name: 'InteropError', message: 'boom', excModule: 'tasks', args: ['boom', 2n] });
    expect(back.stack).toBe(error.stack);
  });

  it('rebuild retries, rejects and the time-limit errors as their classes', () => {
    const eta = new Date(Date.now() + 1000);
    const retry = roundTrip(new TaskRetry('Retry in 1s', { eta, exc: new RangeError('why'), args: [1], kwargs: { a: 1 } }));
    expect(retry).toBeInstanceOf(TaskRetry);
    expect(retry).toMatchObject({ eta, retryArgs: [1], retryKwargs: { a: 1 } });
    expect((retry as TaskRetry).exc).toMatchObject({ name: 'RangeError', message: 'why' });
    const reject = roundTrip(new TaskRejectError('no', { requeue: true }));
    expect(reject).toBeInstanceOf(TaskRejectError);
    expect(reject).toMatchObject({ requeue: true });
    expect(roundTrip(new SoftTimeLimitExceededError(2))).toBeInstanceOf(SoftTimeLimitExceededError);
    expect(roundTrip(new TimeLimitExceededError(3))).toMatchObject({ args: [3], excModule: 'billiard.exceptions' });
  });

  it('turns a thrown non-error into Exception', () => {
    expect(roundTrip('just a string')).toMatchObject({ name: 'Exception', message: 'just a string' });
  });
});

import { describe, expect, it } from 'vitest';
import { waitUntil } from './wait-until.ts';

describe('waitUntil', () => {
  it('resolves once the predicate turns true, sync or async', async () => {
    let n = 0;
    await waitUntil(() => ++n >= 3, { intervalMs: 1 });
    expect(n).toBe(3);
    await waitUntil(async () => Promise.resolve(true));
  });

  it('throws with the message on timeout, the last error as cause', async () => {
    const failure = new Error('not connected');
    const error: unknown = await waitUntil(
      () => {
        throw failure;
      },
      { timeoutMs: 50, intervalMs: 10, message: 'queue never drained' },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^queue never drained \(waited \d+ ms of 50, \d+ checks\)$/);
    expect((error as Error).cause).toBe(failure);
  });

  it('does not let a hanging check outlive the deadline', async () => {
    const started = performance.now();
    await expect(waitUntil(() => new Promise<boolean>(() => {}), { timeoutMs: 50 })).rejects.toThrow(
      /still pending/,
    );
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

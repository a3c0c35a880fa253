import { describe, it, expect } from 'vitest';
import { collectUntil, settledHeapUsed } from './testing-gc.ts';
import { createPromise, type VinePromise } from './vine-promise.ts';
import { weakMethod } from './weak-method.ts';

const HANDLES = 100_000;
const HEAP_SLACK_BYTES = 4 * 1024 * 1024;

/**
 * Shaped like Celeriac's AsyncResult: the handle owns its on-ready promise, and the
 * promise calls back into the handle through a weak method, forming the cycle
 * handle -> promise -> weak method -> (weakly) handle.
 */
class Handle {
  /** Set only for the `then` shape: the promise the on-ready callback is chained on. */
  readonly source: VinePromise<[number]> | undefined;
  readonly onReadyPromise: VinePromise<[number], [number]>;
  result: number | undefined;

  constructor(viaThen: boolean) {
    if (viaThen) {
      this.source = createPromise<[number]>();
      this.onReadyPromise = this.source.then(weakMethod(this, Handle.prototype.onReady));
    } else {
      this.source = undefined;
      this.onReadyPromise = createPromise(weakMethod(this, Handle.prototype.onReady));
    }
  }

  onReady(value: number): number {
    this.result = value;
    return value;
  }
}

/** Counts handles as they are finalized. */
function finalizationCounter(): { registry: FinalizationRegistry<undefined>; count: () => number } {
  let finalized = 0;
  const registry = new FinalizationRegistry<undefined>(() => {
    finalized += 1;
  });
  return { registry, count: () => finalized };
}

// Kept out of the async tests so that no handle stays reachable from a test's frame.
function makeHandles(
  n: number,
  registry: FinalizationRegistry<undefined>,
  keep?: (p: VinePromise<[number], [number]>) => void,
): Handle[] {
  const handles: Handle[] = [];
  for (let i = 0; i < n; i++) {
    const handle = new Handle(i % 2 === 1);
    registry.register(handle, undefined);
    keep?.(handle.onReadyPromise);
    handles.push(handle);
  }
  return handles;
}

describe('memory', () => {
  it(`collects all ${HANDLES.toLocaleString('en')} handle <-> weak on-ready promise cycles`, async () => {
    const { registry, count } = finalizationCounter();
    const before = await settledHeapUsed();

    const alive = { handles: makeHandles(HANDLES, registry) };
    // The heap does grow while the handles live, so the final comparison means something.
    expect((await settledHeapUsed()) - before).toBeGreaterThan(HEAP_SLACK_BYTES);
    expect(alive.handles).toHaveLength(HANDLES);
    alive.handles = [];

    expect(await collectUntil(() => count() === HANDLES, 30)).toBe(true);
    expect(count()).toBe(HANDLES);
    const after = await settledHeapUsed();
    expect(after - before).toBeLessThan(HEAP_SLACK_BYTES);
  });

  it('collects handles whose on-ready promises a long-lived registry still holds', async () => {
    const { registry, count } = finalizationCounter();
    // Like a result consumer's map of pending task ids: it outlives the handles.
    const pending: VinePromise<[number], [number]>[] = [];

    makeHandles(HANDLES, registry, (p) => pending.push(p));

    expect(await collectUntil(() => count() === HANDLES, 30)).toBe(true);
    // The results arrive after their handles are gone: nothing runs, nothing throws.
    for (const [i, p] of pending.entries()) p.fulfil(i);
    expect(pending.every((p) => p.cancelled)).toBe(true);
  });

  it('detects a leak: a strong callback in that registry keeps its handles alive', async () => {
    const { registry, count } = finalizationCounter();
    const pending: VinePromise<[number], [number]>[] = [];
    const n = 1_000;
    ((): void => {
      for (let i = 0; i < n; i++) {
        const handle = new Handle(false);
        registry.register(handle, undefined);
        pending.push(createPromise((value: number) => handle.onReady(value)));
      }
    })();

    expect(await collectUntil(() => count() > 0, 3)).toBe(false);
    expect(count()).toBe(0);
    expect(pending).toHaveLength(n);
  });
});

/**
 * Test-only helpers for forcing garbage collection. Not exported from the package.
 *
 * @module
 */

/**
 * The `gc()` that `node --expose-gc` installs.
 *
 * @returns `globalThis.gc`
 * @throws Error naming the missing flag when the tests run without `--expose-gc`
 */
export function requireGc(): () => void {
  const gc = globalThis.gc;
  if (typeof gc !== 'function') {
    throw new Error(
      'globalThis.gc is undefined: these tests must run under `node --expose-gc` ' +
        '(the vitest project sets `execArgv: ["--expose-gc"]`; run them through it)',
    );
  }
  return () => {
    gc();
  };
}

/** Waits for one macrotask, so the job that made an object (and its WeakRefs) is over. */
export function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs `gc()` until `done()` holds, up to `maxRounds` times. A WeakRef target is only
 * cleared after the job that created or dereferenced it ends, and finalization callbacks
 * run as tasks after a collection, so each round waits a macrotask before and after.
 *
 * @param done - whether what the test waits for has been collected
 * @param maxRounds - how many collections to try
 * @returns whether `done()` held within `maxRounds`
 */
export async function collectUntil(done: () => boolean, maxRounds = 20): Promise<boolean> {
  const gc = requireGc();
  for (let round = 0; round < maxRounds; round++) {
    await nextMacrotask();
    gc();
    await nextMacrotask();
    if (done()) return true;
  }
  return false;
}

/**
 * The heap in use after a full collection, in bytes.
 *
 * @returns `process.memoryUsage().heapUsed` after `gc()`
 */
export async function settledHeapUsed(): Promise<number> {
  const gc = requireGc();
  await nextMacrotask();
  gc();
  await nextMacrotask();
  gc();
  return process.memoryUsage().heapUsed;
}

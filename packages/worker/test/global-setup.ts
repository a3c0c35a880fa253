import { ensureBuilt } from './cli-worker.ts';

/**
 * Runs once before the worker's test files: the CLI, pool child and interop app must be
 * built (and not older than their sources) for the process and pool tests.
 */
export default function setup(): void {
  ensureBuilt();
}

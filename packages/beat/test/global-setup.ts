import { ensureBuilt } from './beat-process.ts';

/**
 * Runs once before the beat's test files: the multi-process tests run the built package
 * (dist/), so it is built when missing or older than its sources.
 */
export default function setup(): void {
  ensureBuilt();
}

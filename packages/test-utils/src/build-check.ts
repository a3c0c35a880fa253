import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The newest modification time of the TypeScript sources under a folder (tests left out),
 * for tests that run a package's built dist/ and rebuild it when it is older.
 *
 * @param dir - a `src/` folder
 * @returns milliseconds since the epoch; 0 for a folder without sources
 */
export function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) newest = Math.max(newest, stat.mtimeMs);
  }
  return newest;
}

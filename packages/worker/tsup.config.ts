import { defineConfig } from 'tsup';
import base from '../../tooling/tsup/tsup.config.ts';

/**
 * The shared build for the library, plus two ESM-only entries: the `celeriac` bin and the
 * pool child script the thread and process pools run.
 */
export default defineConfig([
  // Each build cleans only its own files: the two run in parallel into one dist/.
  { ...base, shims: true, clean: ['index.*'] },
  {
    ...base,
    entry: ['src/cli.ts', 'src/pool-child.ts'],
    format: ['esm'],
    dts: false,
    clean: ['cli.*', 'pool-child.*'],
  },
]);

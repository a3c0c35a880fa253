import { defineConfig } from 'tsup';

/**
 * The one build config every public package points at: ESM + CJS + `.d.ts` from
 * `src/index.ts`, dependencies left external (tsup never bundles `dependencies` or
 * `peerDependencies`).
 */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  treeshake: true,
});

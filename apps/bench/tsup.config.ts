import { defineConfig } from 'tsup';

// The peers are devDependencies and stay external (tsup would bundle devDependencies);
// @celeriac/test-utils (TypeScript source only) is bundled.
export default defineConfig({
  entry: ['src/index.ts', 'src/child.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  clean: true,
  external: ['bullmq', 'bee-queue', 'celery-node'],
});

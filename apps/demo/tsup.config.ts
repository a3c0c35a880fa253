import { defineConfig } from 'tsup';

// test-utils ships TypeScript sources (it is private, never built): bundle it into the demo.
export default defineConfig({ entry: ['src/index.ts'], format: ['esm'], target: 'node20', platform: 'node', clean: true, noExternal: ['@celeriac/test-utils'] });

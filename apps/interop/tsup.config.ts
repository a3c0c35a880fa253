import { defineConfig } from 'tsup';

export default defineConfig({ entry: ['src/tasks.ts'], format: ['esm'], target: 'node20', platform: 'node', clean: true });

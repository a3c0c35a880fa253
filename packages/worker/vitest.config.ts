import { defineCeleriacProject } from '../../tooling/vitest/project.ts';

// The global setup builds dist/cli.js, dist/pool-child.js and apps/interop when stale.
export default defineCeleriacProject(import.meta.dirname, { globalSetup: ['./test/global-setup.ts'] });

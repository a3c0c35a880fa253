import { defineCeleriacProject } from '../../tooling/vitest/project.ts';

// The global setup builds dist/ when stale: the multi-process tests run it in child processes.
export default defineCeleriacProject(import.meta.dirname, { globalSetup: ['./test/global-setup.ts'] });

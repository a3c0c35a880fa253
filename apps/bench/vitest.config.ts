import { defineCeleriacProject } from '../../tooling/vitest/project.ts';

export default defineCeleriacProject(import.meta.dirname);

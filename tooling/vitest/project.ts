import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

const root = resolve(import.meta.dirname, '../..');

/**
 * Workspace packages resolve to their TypeScript source in tests, so a test never needs a
 * build and never reads another package's `dist/`. The package folder name equals the
 * package name after the scope.
 */
const workspaceAlias = [
  {
    find: /^@celeriac\/([a-z-]+)$/,
    replacement: join(root, 'packages', '$1', 'src', 'index.ts'),
  },
];

/**
 * The vitest project of one package: `src/*.test.ts` are unit tests (no Redis),
 * `test/*.test.ts` are integration tests (Redis, real Celery). Every worker runs with
 * `--expose-gc` so memory tests can force a collection.
 *
 * @param dir - the package folder (`import.meta.dirname` of its vitest config)
 * @param overrides - extra test options for this package
 */
export function defineCeleriacProject(
  dir: string,
  overrides: NonNullable<UserWorkspaceConfig['test']> = {},
): UserWorkspaceConfig {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
  return defineProject({
    resolve: { alias: workspaceAlias },
    test: {
      name: pkg.name ?? basename(dir),
      root: dir,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      environment: 'node',
      pool: 'forks',
      execArgv: ['--expose-gc'],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...overrides,
    },
  });
}

#!/usr/bin/env node
// Checks the module graph of the workspace, the way the layering card asks:
// 1. no import cycles inside any package (madge);
// 2. packages depend only on the layers below them (a strict DAG), with workspace:^ ranges;
// 3. no deep imports into another package's src/ or dist/, and every @celeriac import is declared;
// 4. source file names are kebab-case.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import madge from 'madge';

const root = new URL('..', import.meta.url).pathname;

/** Which workspace packages each package may depend on at run time. */
const ALLOWED = {
  '@celeriac/promise': [],
  '@celeriac/protocol': [],
  '@celeriac/redis-connection': ['@celeriac/protocol'],
  '@celeriac/broker-redis': ['@celeriac/protocol', '@celeriac/redis-connection'],
  '@celeriac/backend-redis': ['@celeriac/protocol', '@celeriac/promise', '@celeriac/redis-connection'],
  '@celeriac/client': ['@celeriac/protocol', '@celeriac/promise', '@celeriac/redis-connection', '@celeriac/broker-redis', '@celeriac/backend-redis'],
  '@celeriac/beat': ['@celeriac/protocol', '@celeriac/redis-connection', '@celeriac/client'],
  '@celeriac/worker': ['@celeriac/protocol', '@celeriac/promise', '@celeriac/redis-connection', '@celeriac/broker-redis', '@celeriac/backend-redis', '@celeriac/client', '@celeriac/beat'],
  '@celeriac/test-utils': [],
  '@celeriac/demo': null, // the demo may use anything
  '@celeriac/interop': null, // the interop tasks app (private) may use anything
  '@celeriac/bench': null, // the benchmarks (private) compare Celeriac with its peers
};

const problems = [];
const dirs = ['packages', 'apps'].flatMap((top) =>
  readdirSync(join(root, top)).map((d) => join(root, top, d)).filter((d) => statSync(d).isDirectory()),
);

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'dist' || name === 'fixtures') return [];
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

for (const dir of dirs) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const name = pkg.name;
  if (!(name in ALLOWED)) {
    problems.push(`${name}: not in the layering table of scripts/check-graph.mjs`);
    continue;
  }
  const allowed = ALLOWED[name];
  const deps = { ...pkg.dependencies, ...pkg.peerDependencies };
  for (const [dep, range] of Object.entries(deps)) {
    if (!dep.startsWith('@celeriac/')) continue;
    if (allowed !== null && !allowed.includes(dep)) problems.push(`${name} depends on ${dep}, a layer it may not use`);
    if (range !== 'workspace:^') problems.push(`${name}: ${dep} should be "workspace:^", got ${JSON.stringify(range)}`);
  }
  const declared = new Set([...Object.keys(deps), ...Object.keys(pkg.devDependencies ?? {})]);
  const files = ['src', 'test'].flatMap((sub) => {
    try {
      return walk(join(dir, sub));
    } catch {
      return [];
    }
  });
  for (const file of files) {
    const rel = relative(root, file);
    const base = file.split('/').pop();
    if (/\.(ts|mts|py)$/.test(base) && !/^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9-]+)*\.(ts|mts|py)$/.test(base) && !base.endsWith('.py')) {
      problems.push(`${rel}: file names are kebab-case`);
    }
    if (!/\.(ts|mts)$/.test(base)) continue;
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"](@celeriac\/[^'"]+)['"]/g)) {
      const spec = match[1];
      const [scope, short, ...rest] = spec.split('/');
      const target = `${scope}/${short}`;
      if (rest.length > 0) problems.push(`${rel}: deep import ${spec}; import ${target} instead`);
      if (target !== name && !declared.has(target)) problems.push(`${rel}: imports ${target} without declaring it in package.json`);
      const isSrc = rel.includes('/src/') && !rel.endsWith('.test.ts');
      if (isSrc && allowed !== null && target !== name && !allowed.includes(target)) {
        problems.push(`${rel}: imports ${target}, a layer ${name} may not use`);
      }
    }
    if (/from\s+['"](\.\.\/)+(packages|apps)\//.test(text)) problems.push(`${rel}: relative import into another package`);
  }

  const src = join(dir, 'src');
  try {
    statSync(src);
  } catch {
    continue;
  }
  const graph = await madge(src, { fileExtensions: ['ts'], tsConfig: join(dir, 'tsconfig.json') });
  for (const cycle of graph.circular()) problems.push(`${name}: import cycle ${cycle.join(' -> ')}`);
}

if (problems.length > 0) {
  console.error(`check-graph: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-graph: ${dirs.length} packages, layering, imports and cycles OK`);

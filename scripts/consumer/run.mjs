#!/usr/bin/env node
// The consumer test: Celeriac's public packages as npm users get them.
//
//  1. builds them (turbo, cached) and `pnpm pack`s each; checks every packed package.json:
//     metadata complete, no `workspace:` range left, @celeriac ranges that the packed versions
//     satisfy, every file that exports / main / types / bin name is in the tarball;
//  2. installs all the tarballs with npm into a temporary project outside the workspace
//     (no workspace links). A local registry that answers 404 stands in for the @celeriac scope,
//     so the install must come from the tarballs alone (third-party packages such as ioredis,
//     @msgpack/msgpack and croner come from the npm registry); then, there:
//     - imports each package from ESM and requires it from CommonJS (same names both ways),
//       and runs the worker's `celeriac` bin;
//     - type-checks a TypeScript consumer (and each README's first TypeScript example) with
//       the workspace's tsc, moduleResolution node16 (ESM and CJS files) and bundler;
//     - sends tasks.add(2, 3) with @celeriac/client to an @celeriac/worker started in the same
//       script, through Redis ($REDIS_URL), and awaits 5 (round-trip.mjs);
//  3. installs @celeriac/client alone (with the tarballs of its @celeriac dependencies) into a
//     second project: @celeriac/worker, @celeriac/beat and croner must be absent; prints the
//     size of both node_modules;
//  4. checks each tarball's types with @arethetypeswrong/core, the engine of the attw CLI (all
//     four resolution modes as its "strict" profile, no rule ignored), and its shape with
//     publint --strict.
//
// Usage: node scripts/consumer/run.mjs [--keep]   (--keep leaves the temporary folder)
import { execFile } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { smokeCjs, smokeEsm, tsConsumerCjs, tsConsumerEsm, tsconfig } from './fixtures.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const keep = process.argv.includes('--keep');
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** A function every public package must export, probed from ESM and CJS. */
const PROBES = {
  '@celeriac/promise': 'createPromise',
  '@celeriac/protocol': 'encodeTaskMessage',
  '@celeriac/redis-connection': 'parseRedisUrl',
  '@celeriac/broker-redis': 'createRedisBroker',
  '@celeriac/backend-redis': 'createRedisBackend',
  '@celeriac/client': 'createApp',
  '@celeriac/beat': 'createBeat',
  '@celeriac/worker': 'createWorker',
};
/** What the producer side never needs: absent from a project that installs the client alone. */
const NOT_WITH_CLIENT = ['@celeriac/worker', '@celeriac/beat', 'croner'];

const timings = [];
const log = (line) => console.log(`consumer: ${line}`);

async function step(name, fn) {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    const seconds = (performance.now() - start) / 1000;
    timings.push([name, seconds]);
    log(`${name} (${seconds.toFixed(1)} s)`);
  }
}

/** Runs a command; rejects with its output when it fails. */
function sh(cmd, args, { cwd = root, env = process.env, timeout = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const detail = [stdout, stderr].filter((s) => s.trim() !== '').join('\n');
        reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message.split('\n')[0]}\n${detail}`));
      } else resolve(stdout);
    });
  });
}

/** The environment for npm in the temporary projects, without what `pnpm run` put in it. */
function npmEnv() {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    const k = key.toLowerCase();
    if (k.startsWith('npm_package_') || k.startsWith('npm_lifecycle_') || k.startsWith('pnpm_')) delete env[key];
    if (['npm_command', 'npm_execpath', 'npm_node_execpath', 'npm_config_local_prefix', 'npm_config_prefix', 'npm_config_global_prefix', 'npm_config_user_agent', 'npm_config_allow_scripts', 'npm_config_verify_deps_before_run'].includes(k)) delete env[key];
  }
  return env;
}

/** pnpm as the workspace pins it: the one on PATH when `pnpm run` started us, else npx. */
async function pnpmCommand() {
  const wanted = rootPkg.packageManager.replace(/^pnpm@/, '').split('+')[0];
  try {
    if ((await sh('pnpm', ['--version'])).trim() === wanted) return ['pnpm', []];
  } catch {
    // not on PATH
  }
  return ['npx', ['-y', `pnpm@${wanted}`]];
}

function fail(message) {
  throw new Error(message);
}

/** Apparent size of a folder (bytes), not following symlinks. */
function sizeOf(dir) {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    total += stat.isDirectory() ? sizeOf(path) : stat.size;
  }
  return total;
}

/** Installed package folders under node_modules (scoped ones too, nested ones too). */
function installedPackages(dir) {
  const found = [];
  const walk = (nm) => {
    if (!existsSync(nm)) return;
    for (const name of readdirSync(nm)) {
      if (name.startsWith('.')) continue;
      const names = name.startsWith('@') ? readdirSync(join(nm, name)).map((n) => `${name}/${n}`) : [name];
      for (const n of names) {
        found.push(n);
        walk(join(nm, n, 'node_modules'));
      }
    }
  };
  walk(join(dir, 'node_modules'));
  return found;
}

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------------

/** Checks one packed package.json and its file list; returns the problems found. */
function checkManifest(pkg, dir, files, packed) {
  const problems = [];
  const where = `${pkg.name ?? dir} (packed)`;
  const need = (ok, what) => ok || problems.push(`${where}: ${what}`);
  need(pkg.name === `@celeriac/${dir}`, `name should be @celeriac/${dir}, got ${JSON.stringify(pkg.name)}`);
  need(/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(pkg.version ?? ''), `version should be x.y.z, got ${JSON.stringify(pkg.version)}`);
  need(pkg.private !== true, 'is private');
  need(typeof pkg.description === 'string' && pkg.description.length > 20, 'description missing or too short');
  need(pkg.license === 'MIT', `license should be MIT, got ${JSON.stringify(pkg.license)}`);
  need(pkg.repository?.type === 'git' && /github\.com/.test(pkg.repository?.url ?? ''), `repository should be { type: git, url }, got ${JSON.stringify(pkg.repository)}`);
  need(pkg.repository?.directory === `packages/${dir}`, `repository.directory should be packages/${dir}, got ${JSON.stringify(pkg.repository?.directory)}`);
  need(typeof pkg.homepage === 'string' && pkg.homepage.startsWith('https://'), 'homepage missing');
  need(typeof (pkg.bugs?.url ?? pkg.bugs) === 'string', 'bugs missing');
  need(Array.isArray(pkg.keywords) && pkg.keywords.length > 0 && pkg.keywords.includes('celeriac') && pkg.keywords.includes('celery'), 'keywords missing (they should include "celeriac" and "celery")');
  need(typeof pkg.engines?.node === 'string', 'engines.node missing');
  need(pkg.sideEffects === false, `sideEffects should be false, got ${JSON.stringify(pkg.sideEffects)}`);
  need(pkg.type === 'module', `type should be "module", got ${JSON.stringify(pkg.type)}`);
  need(JSON.stringify(pkg.files) === '["dist"]', `files should be ["dist"], got ${JSON.stringify(pkg.files)}`);
  need(pkg.publishConfig?.access === 'public', 'publishConfig.access should be "public" (a scoped package is private on npm by default)');
  const dot = pkg.exports?.['.'];
  for (const cond of ['import', 'require']) {
    const branch = dot?.[cond];
    need(branch !== undefined && Object.keys(branch)[0] === 'types' && 'default' in branch, `exports["."].${cond} should be { types, default } with types first, got ${JSON.stringify(branch)}`);
  }
  need(pkg.exports?.['./package.json'] === './package.json', 'exports["./package.json"] missing');
  need(!JSON.stringify(pkg).includes('workspace:'), 'a workspace: range was left in the packed package.json');
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dep, range] of Object.entries(pkg[field] ?? {})) {
      if (!dep.startsWith('@celeriac/')) continue;
      const target = packed.get(dep);
      if (target === undefined) {
        problems.push(`${where}: ${field} names ${dep}, which is not a public package`);
        continue;
      }
      need([target.version, `^${target.version}`, `~${target.version}`].includes(range), `${field}.${dep} is ${JSON.stringify(range)}, not a range of the packed version ${target.version}`);
    }
  }
  // Every file a field points at is in the tarball; nothing but dist/ and the usual files.
  const pointed = [pkg.main, pkg.module, pkg.types, ...Object.values(pkg.bin ?? {})];
  const walkExports = (value) => {
    if (typeof value === 'string') pointed.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(walkExports);
  };
  walkExports(pkg.exports);
  for (const file of pointed.filter(Boolean)) need(files.includes(file.replace(/^\.\//, '')), `${file} is named in package.json but not in the tarball`);
  // CHANGELOG.md stays in the repository: `files` is ["dist"] (STYLE.md), and npm always adds README and LICENSE.
  for (const file of ['README.md', 'package.json']) need(files.includes(file), `${file} is not in the tarball`);
  for (const file of files) {
    need(/^(dist\/|README\.md$|CHANGELOG\.md$|LICENSE$|package\.json$)/.test(file), `unexpected file in the tarball: ${file}`);
    need(!/\.test\.|\.tsbuildinfo$/.test(file), `test or build-info file in the tarball: ${file}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------

const started = performance.now();
const work = mkdtempSync(join(tmpdir(), 'celeriac-consumer-'));
if (!relative(root, work).startsWith('..')) fail(`the temporary folder ${work} is inside the workspace ${root}`);
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);
log(`working in ${work}`);

// A stand-in registry for the @celeriac scope: any request to it means npm went looking for
// a @celeriac package outside the tarballs. It answers 404 (npm does not retry a 404).
const scopeRequests = [];
const scopeRegistry = createServer((req, res) => {
  scopeRequests.push(req.url);
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
});
await new Promise((resolve) => scopeRegistry.listen(0, '127.0.0.1', resolve));
const scopeUrl = `http://127.0.0.1:${scopeRegistry.address().port}/`;

let ok = false;
try {
  // -------------------------------------------------------------------- build and pack
  const publicPkgs = readdirSync(join(root, 'packages'))
    .filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')))
    .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) }))
    .filter(({ pkg }) => pkg.private !== true);
  for (const { pkg } of publicPkgs) if (!(pkg.name in PROBES)) fail(`${pkg.name} is public but has no entry in PROBES of scripts/consumer/run.mjs`);
  for (const name of Object.keys(PROBES)) if (!publicPkgs.some(({ pkg }) => pkg.name === name)) fail(`${name} is in PROBES but not a public package`);
  const names = publicPkgs.map(({ pkg }) => pkg.name);
  for (const dir of readdirSync(join(root, 'apps'))) {
    const file = join(root, 'apps', dir, 'package.json');
    if (existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).private !== true) fail(`apps/${dir} is not "private": true`);
  }

  await step('build (turbo, cached)', () =>
    sh(join(root, 'node_modules', '.bin', 'turbo'), ['run', 'build', '--output-logs=errors-only', ...names.map((n) => `--filter=${n}`)], { timeout: 300_000 }),
  );

  const [pnpm, pnpmArgs] = await pnpmCommand();
  /** name → { dir, version, tarball, files, manifest } */
  const packed = new Map();
  await step(`pack ${names.length} packages (${pnpm})`, async () => {
    await Promise.all(
      publicPkgs.map(async ({ dir }) => {
        const out = await sh(pnpm, [...pnpmArgs, 'pack', '--pack-destination', tarballs, '--json'], { cwd: join(root, 'packages', dir) });
        const info = JSON.parse(out);
        const unpacked = join(work, 'unpacked', dir);
        mkdirSync(unpacked, { recursive: true });
        await sh('tar', ['-xzf', info.filename, '-C', unpacked]);
        const manifest = JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8'));
        packed.set(info.name, { dir, version: info.version, tarball: info.filename, files: info.files.map((f) => f.path), manifest, unpacked: join(unpacked, 'package') });
      }),
    );
    const problems = [...packed.values()].flatMap(({ manifest, dir, files }) => checkManifest(manifest, dir, files, packed));
    if (problems.length > 0) fail(`packed package.json problems:\n  ${problems.join('\n  ')}`);
  });
  for (const [name, p] of packed) log(`  ${name}@${p.version}: ${p.files.length} files, deps ${JSON.stringify(p.manifest.dependencies ?? {})}`);

  const npmrc = [`@celeriac:registry=${scopeUrl}`, 'audit=false', 'fund=false', 'update-notifier=false', 'loglevel=error', ''].join('\n');
  const fileDep = (name, project) => `file:${relative(project, packed.get(name).tarball)}`;
  const npmInstall = (dir) => sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, env: npmEnv(), timeout: 180_000 });

  /** Checks that each @celeriac package in a project came from a tarball, as a real folder. */
  const checkFromTarballs = (dir) => {
    const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (!path.includes('node_modules/@celeriac/')) continue;
      if (!/^file:.*\.tgz$/.test(entry.resolved ?? '')) fail(`${dir}: ${path} was not installed from a tarball (resolved ${JSON.stringify(entry.resolved)})`);
      if (entry.link) fail(`${dir}: ${path} is a link`);
    }
    for (const name of readdirSync(join(dir, 'node_modules', '@celeriac'))) {
      if (lstatSync(join(dir, 'node_modules', '@celeriac', name)).isSymbolicLink()) fail(`${dir}: node_modules/@celeriac/${name} is a symlink`);
    }
  };

  // -------------------------------------------------------------------- the projects
  const full = join(work, 'full');
  const clientOnly = join(work, 'client-only');
  mkdirSync(full);
  mkdirSync(clientOnly);
  writeFileSync(
    join(full, 'package.json'),
    JSON.stringify(
      {
        name: 'celeriac-consumer',
        private: true,
        type: 'module',
        dependencies: {
          ...Object.fromEntries(names.map((n) => [n, fileDep(n, full)])),
          // The round trip deletes its keys with it; the same range as the Redis packages.
          ioredis: packed.get('@celeriac/redis-connection').manifest.dependencies.ioredis,
        },
      },
      null,
      2,
    ),
  );
  const clientClosure = new Set();
  const addWithDeps = (name) => {
    if (clientClosure.has(name)) return;
    clientClosure.add(name);
    for (const dep of Object.keys(packed.get(name).manifest.dependencies ?? {})) if (dep.startsWith('@celeriac/')) addWithDeps(dep);
  };
  addWithDeps('@celeriac/client');
  // The client's tarball and those of its @celeriac dependencies, as direct dependencies: the
  // registry has none of them.
  writeFileSync(
    join(clientOnly, 'package.json'),
    JSON.stringify({ name: 'celeriac-client-only', private: true, type: 'module', dependencies: Object.fromEntries([...clientClosure].map((n) => [n, fileDep(n, clientOnly)])) }, null, 2),
  );
  for (const dir of [full, clientOnly]) writeFileSync(join(dir, '.npmrc'), npmrc);

  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  const typeRoot = join(root, 'node_modules', '@types');
  const probes = JSON.stringify(names.map((name) => ({ name, probe: PROBES[name] })));
  const attwResults = new Map();

  const fullProject = async () => {
    await step('npm install of all tarballs (full project)', () => npmInstall(full));
    checkFromTarballs(full);
    writeFileSync(join(full, 'smoke.mjs'), smokeEsm);
    writeFileSync(join(full, 'smoke.cjs'), smokeCjs);
    writeFileSync(join(full, 'consumer.ts'), tsConsumerEsm);
    writeFileSync(join(full, 'consumer.cts'), tsConsumerCjs);
    // The first TypeScript example of each README, as packed.
    const readmeFiles = [];
    for (const [name, p] of packed) {
      const example = /```ts\n([\s\S]*?)```/.exec(readFileSync(join(p.unpacked, 'README.md'), 'utf8'))?.[1];
      if (example === undefined) continue;
      const file = `readme-${p.dir}.mts`;
      writeFileSync(join(full, file), `// The first TypeScript example of ${name}'s README.\n${example}\nexport {};\n`);
      readmeFiles.push(file);
    }
    writeFileSync(join(full, 'tsconfig.node16.json'), tsconfig('node16', typeRoot, ['consumer.ts', 'consumer.cts', ...readmeFiles]));
    writeFileSync(join(full, 'tsconfig.bundler.json'), tsconfig('bundler', typeRoot, ['consumer.ts', ...readmeFiles]));
    cpSync(join(here, 'round-trip.mjs'), join(full, 'round-trip.mjs'));

    await step('ESM import + CJS require of every package, the celeriac bin', async () => {
      const [esmOut, cjsOut, help] = await Promise.all([
        sh(process.execPath, ['smoke.mjs', probes], { cwd: full }),
        sh(process.execPath, ['smoke.cjs', probes], { cwd: full }),
        sh(join(full, 'node_modules', '.bin', 'celeriac'), ['--help'], { cwd: full }),
      ]);
      const esm = JSON.parse(esmOut);
      const cjs = JSON.parse(cjsOut);
      for (const name of names) {
        const e = esm[name];
        const c = cjs[name];
        if (!e.resolved.startsWith(`file://${full}/node_modules/${name}/dist/`) || !e.resolved.endsWith('/index.js')) fail(`import('${name}') resolved to ${e.resolved}`);
        if (!c.resolved.startsWith(`${full}/node_modules/${name}/dist/`) || !c.resolved.endsWith('/index.cjs')) fail(`require('${name}') resolved to ${c.resolved}`);
        const cjsNames = c.exports.filter((n) => n !== '__esModule');
        const esmNames = e.exports.filter((n) => n !== 'default' && n !== 'module.exports');
        const onlyEsm = esmNames.filter((n) => !cjsNames.includes(n));
        const onlyCjs = cjsNames.filter((n) => !esmNames.includes(n));
        if (onlyEsm.length + onlyCjs.length > 0) fail(`${name}: ESM and CJS export different names (only ESM: ${onlyEsm.join(', ') || '-'}; only CJS: ${onlyCjs.join(', ') || '-'})`);
        log(`  ${name}: ${esmNames.length} exports, import → dist/index.js, require → dist/index.cjs`);
      }
      if (!/worker/.test(help)) fail(`celeriac --help printed no "worker" command:\n${help}`);
    });

    await step(`tsc: a consumer and ${readmeFiles.length} README examples, node16 (ESM + CJS) and bundler`, async () => {
      await Promise.all(['node16', 'bundler'].map((r) => sh(process.execPath, [tsc, '-p', `tsconfig.${r}.json`, '--pretty', 'false'], { cwd: full })));
    });

    await step('round trip through Redis: client sends tasks.add(2, 3), worker runs it', async () => {
      const out = await sh(process.execPath, ['round-trip.mjs'], { cwd: full, timeout: 60_000 });
      process.stdout.write(`${out.trimEnd().replace(/^/gm, '  ')}\n`);
    });
  };

  const clientProject = async () => {
    await step('npm install of @celeriac/client alone', () => npmInstall(clientOnly));
    checkFromTarballs(clientOnly);
    const installed = installedPackages(clientOnly);
    const unwanted = NOT_WITH_CLIENT.filter((n) => installed.includes(n));
    if (unwanted.length > 0) fail(`installing @celeriac/client also installed ${unwanted.join(', ')}`);
    const celeriac = installed.filter((n) => n.startsWith('@celeriac/')).sort();
    log(`  client alone installs ${celeriac.join(', ')} and ${installed.length - celeriac.length} third-party packages; none of ${NOT_WITH_CLIENT.join(', ')}`);
    await sh(process.execPath, ['--input-type=module', '-e', "const { createApp } = await import('@celeriac/client'); const app = createApp({ broker_url: 'redis://127.0.0.1:6379/0' }); await app.close();"], { cwd: clientOnly });
  };

  // @arethetypeswrong/core is the engine of the attw CLI; run in this process it checks the
  // eight tarballs in ~5 s, where eight `attw <tgz>` processes take ~25 s of CPU.
  // Every resolution mode (node10, node16 from CJS, node16 from ESM, bundler: the CLI's
  // "strict" profile) and no rule ignored.
  const typesAndShape = () =>
    step('attw (every resolution mode, no rule ignored) + publint --strict on every tarball', async () => {
      const attw = await import('@arethetypeswrong/core');
      const { publint } = await import('publint');
      const { formatMessage } = await import('publint/utils');
      const problems = [];
      for (const [name, p] of packed) {
        const data = readFileSync(p.tarball);
        const result = await attw.checkPackage(attw.createPackageFromTarballData(new Uint8Array(data)));
        if (result.types === false) {
          problems.push(`attw ${name}: no types found`);
          continue;
        }
        const found = result.problems.map((pr) => [pr.kind, pr.entrypoint, pr.resolutionKind].filter(Boolean).join(' '));
        const resolutions = result.entrypoints['.']?.resolutions ?? {};
        const typesBy = Object.entries(resolutions).map(([kind, r]) => `${kind}→${(r.resolution?.fileName ?? 'none').split('/').pop()}`);
        attwResults.set(name, { problems: found, typesBy });
        if (found.length > 0) problems.push(`attw ${name}: ${found.join(', ')}`);
        const lint = await publint({ pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) }, strict: true });
        for (const message of lint.messages) problems.push(`publint ${name}: ${message.type}: ${formatMessage(message, lint.pkg) ?? message.code}`);
      }
      for (const [name, r] of attwResults) log(`  attw ${name}: ${r.problems.length === 0 ? 'no problems' : r.problems.join(', ')} (${r.typesBy.join(', ')}); publint ok`);
      if (problems.length > 0) fail(problems.join('\n'));
    });

  await Promise.all([fullProject(), clientProject(), typesAndShape()]);

  // npm looks the transitive @celeriac ranges up while it builds its tree; the stand-in answers
  // 404 to each, so the installs above prove the tarballs are enough (and the lock files say
  // every @celeriac package came from one).
  log(`@celeriac look-ups npm made in the registry: ${scopeRequests.length}, each answered 404; installed from the tarballs alone`);

  // -------------------------------------------------------------------- sizes
  const du = async (dir) => (await sh('du', ['-sk', join(dir, 'node_modules')])).split('\t')[0];
  const sizes = {
    client: { apparent: sizeOf(join(clientOnly, 'node_modules')), duKiB: await du(clientOnly), count: installedPackages(clientOnly).length },
    // The full project also holds ioredis as a direct dependency, which the packages install anyway.
    all: { apparent: sizeOf(join(full, 'node_modules')), duKiB: await du(full), count: installedPackages(full).length },
  };
  log(`installed size, @celeriac/client alone: ${mib(sizes.client.apparent)} (du ${sizes.client.duKiB} KiB, ${sizes.client.count} packages)`);
  log(`installed size, all ${names.length} packages: ${mib(sizes.all.apparent)} (du ${sizes.all.duKiB} KiB, ${sizes.all.count} packages)`);
  for (const [name, p] of packed) {
    log(`  ${name}: tarball ${(lstatSync(p.tarball).size / 1024).toFixed(0)} KiB, unpacked ${(sizeOf(p.unpacked) / 1024).toFixed(0)} KiB`);
  }
  ok = true;
} finally {
  scopeRegistry.close();
  const total = ((performance.now() - started) / 1000).toFixed(1);
  const short = (name) => name.replace(/ \(.*$/, '').replace(/:.*$/, '');
  log(`timings: ${timings.map(([name, sec]) => `${short(name)} ${sec.toFixed(1)} s`).join('; ')} (the two installs and attw/publint overlap)`);
  if (ok) {
    log(`all checks passed in ${total} s`);
    if (!keep) rmSync(work, { recursive: true, force: true });
  } else {
    log(`FAILED after ${total} s; the temporary projects are kept in ${work}`);
  }
  if (keep) log(`kept ${work}`);
}

#!/usr/bin/env node
// The changesets gate of CI: every public package whose source changed since <base> is named by
// a changeset added or edited since <base>.
//
// <base> is, in this order:
//   1. `--base <ref>` or $CHANGESET_BASE;
//   2. on a branch other than main: where it left main (`git merge-base main HEAD`);
//   3. on main (CI's checkout): the last release, the newest tag `@celeriac/<name>@<version>`
//      that `changeset publish` made, reachable from HEAD; before the first release, the first
//      commit. `changeset version` deletes the changesets it releases, so on main this asks:
//      does every package changed since the last release have a pending changeset?
// "Source" is packages/<dir>/src/** without tests (*.test.ts); uncommitted and untracked
// files count too, so it can be run before a commit. Private packages are skipped.
//
// It also runs `changeset status --since=<base>`, which validates the changeset files and the
// release plan (but only fails when no changeset at all was added; hence the check per package).
//
// Usage: node scripts/consumer/check-changesets.mjs [--base <ref>]
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const tryGit = (...args) => {
  try {
    return git(...args);
  } catch {
    return undefined;
  }
};
const lines = (text) => (text ?? '').split('\n').filter(Boolean);

// A shallow clone lacks the history the base is looked up in: deepen it when a remote can.
// When none can (a CI checkout made with --depth and no remote), say so loudly and skip rather
// than fail every build for how it was cloned; a full clone (fetch-depth: 0) runs the gate.
if (tryGit('rev-parse', '--is-shallow-repository') === 'true') {
  tryGit('fetch', '--quiet', '--unshallow');
  if (tryGit('rev-parse', '--is-shallow-repository') === 'true') {
    console.error(
      'check-changesets: WARNING: SKIPPED: this clone is shallow and could not be deepened (git fetch --unshallow failed); ' +
        'clone with the full history (fetch-depth: 0) for the changesets gate to run',
    );
    process.exit(0);
  }
}

function findBase() {
  const flag = process.argv.indexOf('--base');
  const explicit = flag >= 0 ? process.argv[flag + 1] : process.env.CHANGESET_BASE;
  if (explicit) return { ref: git('rev-parse', '--verify', `${explicit}^{commit}`), why: `given (${explicit})` };
  const branch = tryGit('symbolic-ref', '--quiet', '--short', 'HEAD');
  const main = ['main', 'origin/main'].find((ref) => tryGit('rev-parse', '--verify', '--quiet', `${ref}^{commit}`));
  if (branch !== 'main' && main !== undefined) {
    const ref = git('merge-base', main, 'HEAD');
    if (ref !== git('rev-parse', 'HEAD')) return { ref, why: `where ${branch ?? 'HEAD'} left ${main}` };
  }
  const tag = tryGit('describe', '--tags', '--abbrev=0', '--match', '@celeriac/*@*', 'HEAD');
  if (tag) return { ref: git('rev-parse', `${tag}^{commit}`), why: `the last release (${tag})` };
  const first = lines(git('rev-list', '--max-parents=0', 'HEAD')).at(-1);
  return { ref: first, why: 'the first commit (nothing released yet)' };
}

const base = findBase();
const changed = [...new Set([...lines(git('diff', '--name-only', '--no-relative', base.ref)), ...lines(git('ls-files', '--others', '--exclude-standard'))])];

const publicDirs = new Map();
for (const dir of readdirSync(join(root, 'packages'))) {
  const file = join(root, 'packages', dir, 'package.json');
  if (!existsSync(file)) continue;
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  if (pkg.private !== true) publicDirs.set(dir, pkg.name);
}

/** name → changed source files */
const sourceChanges = new Map();
for (const file of changed) {
  const match = /^packages\/([^/]+)\/src\/(.+)$/.exec(file);
  if (!match || !publicDirs.has(match[1]) || /\.test\.[cm]?ts$/.test(match[2])) continue;
  const name = publicDirs.get(match[1]);
  sourceChanges.set(name, [...(sourceChanges.get(name) ?? []), file]);
}

/** The packages a changeset names: the keys of its front matter. */
function namedIn(file) {
  const text = readFileSync(join(root, file), 'utf8');
  // The front matter as @changesets/parse finds it; an empty one (`changeset add --empty`) names none.
  const front = /\s*---([^]*?)\n\s*---(\s*(?:\n|$)[^]*)/.exec(text);
  if (!front) throw new Error(`${file}: no front matter (--- "<package>": patch|minor|major ---)`);
  return lines(front[1]).filter((line) => line.trim() !== '').map((line) => {
    const entry = /^\s*["']?([^"':]+)["']?\s*:\s*(major|minor|patch|none)\s*$/.exec(line);
    if (!entry) throw new Error(`${file}: cannot read ${JSON.stringify(line)}; expected "<package>": patch|minor|major`);
    return entry[1];
  });
}

const changesets = changed.filter((f) => /^\.changeset\/[^/]+\.md$/.test(f) && !f.endsWith('/README.md') && existsSync(join(root, f)));
const named = new Map();
for (const file of changesets) for (const name of namedIn(file)) named.set(name, [...(named.get(name) ?? []), file]);

console.log(`check-changesets: base ${base.ref.slice(0, 12)}, ${base.why}`);
console.log(`  packages with source changes: ${[...sourceChanges.keys()].sort().join(', ') || 'none'}`);
console.log(`  changesets added or edited: ${changesets.length === 0 ? 'none' : changesets.map((f) => f.replace('.changeset/', '')).join(', ')}`);

// The official check and release plan (validates every changeset file).
try {
  const changesetBin = join(root, 'node_modules', '.bin', 'changeset');
  const out = execFileSync(changesetBin, ['status', `--since=${base.ref}`], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const bumps = [...out.matchAll(/Packages to be bumped at (\w+)|- (@[\w/-]+)/g)].reduce((acc, [, type, name]) => {
    if (type) acc.push([type, []]);
    else acc.at(-1)?.[1].push(name);
    return acc;
  }, []);
  console.log(`  changeset status --since=${base.ref.slice(0, 12)}: ${bumps.map(([type, names]) => `${type}: ${names.join(', ')}`).join('; ') || 'nothing to release'}`);
} catch (err) {
  console.error(`check-changesets: changeset status --since=${base.ref.slice(0, 12)} failed:\n${[err.stdout, err.stderr].filter(Boolean).join('\n').trimEnd()}`);
  process.exitCode = 1;
}

const missing = [...sourceChanges.keys()].filter((name) => !named.has(name)).sort();
if (missing.length > 0) {
  console.error(`check-changesets: ${missing.length} package(s) changed without a changeset naming them since ${base.ref.slice(0, 12)} (${base.why}):`);
  for (const name of missing) console.error(`  ${name}: ${sourceChanges.get(name).slice(0, 5).join(', ')}${sourceChanges.get(name).length > 5 ? ', …' : ''}`);
  console.error('Add one with `npx -y pnpm@12.4.2 changeset` (one user-facing sentence); for a change users do not see, a changeset with `"<package>": none`.');
  process.exit(1);
}
if (process.exitCode === 1) process.exit(1);
console.log(`check-changesets: OK, every changed package is named by a changeset (${sourceChanges.size} package(s))`);

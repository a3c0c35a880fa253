// A TypeDoc plugin for one program over every package (typedoc.json at the root):
//
// 1. One module per package, named as npm names it, with the package's README on its page.
//    TypeDoc's "packages" strategy does the same, but converts every package in a program of
//    its own (~60 s here against ~20 s for one program) and cannot then link one package's
//    types to another's.
// 2. The `notExported` check per package. TypeDoc's own only looks at types declared in the
//    root package.json's package (celeriac-monorepo), so it never fires in this layout; this one
//    warns about every type a documented declaration uses that is declared in one of our
//    packages but exported by none. With `treatValidationWarningsAsErrors` that fails the run.
//    Known cases wait in the option `celeriacNotExported` (typedoc.json): a list of
//    `{ "symbol": "@celeriac/<pkg>/src/<file>.ts:<Name>", "reason": "…" }`, each with a reason;
//    an entry that no longer matches is a warning too, so the list only shrinks.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Application, Converter, makeRecursiveVisitor, MinimalSourceFile, ParameterType, ReflectionKind } from 'typedoc';

/** The folder of the nearest package.json above `file`. */
function packageDirOf(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new Error(`package-modules: no package.json above ${file}`);
}

/** The types a reflection states directly (its children are reflections of their own). */
function typesOf(reflection) {
  return [reflection.type, reflection.default, ...(reflection.implementedTypes ?? []), ...(reflection.extendedTypes ?? [])].filter(Boolean);
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.options.addDeclaration({
    name: 'celeriacNotExported',
    help: 'Types our packages use in their API but do not export yet: [{ symbol: "@celeriac/<pkg>/src/<file>.ts:<Name>", reason }]',
    type: ParameterType.Mixed,
    defaultValue: [],
    validate(value) {
      const ok = Array.isArray(value) && value.every((e) => typeof e?.symbol === 'string' && e.symbol.includes(':') && typeof e?.reason === 'string' && e.reason.trim() !== '');
      if (!ok) throw new Error('celeriacNotExported: expected [{ "symbol": "<package>/<path>:<Name>", "reason": "<why>" }], every entry with a reason');
    },
  });

  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const mod of context.project.getChildrenByKind(ReflectionKind.Module)) {
      const file = mod.sources?.[0]?.fullFileName;
      if (!file) throw new Error(`package-modules: module ${mod.name} has no source file`);
      const dir = packageDirOf(file);
      mod.name = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name;
      const readme = join(dir, 'README.md');
      if (existsSync(readme)) {
        mod.readme = context.converter.parseRawComment(new MinimalSourceFile(readFileSync(readme, 'utf8'), readme), context.project.files).content;
      }
    }
  });

  app.on(Application.EVENT_VALIDATE_PROJECT, (project) => {
    if (!app.options.getValue('validation').notExported) return;
    const ours = new Set(project.getChildrenByKind(ReflectionKind.Module).map((mod) => mod.name));
    const allowed = app.options.getValue('celeriacNotExported').map(({ symbol }) => {
      const colon = symbol.lastIndexOf(':');
      return [symbol.slice(0, colon), symbol.slice(colon + 1), symbol];
    });
    const used = new Set();
    const warned = new Set();
    for (const owner of Object.values(project.reflections)) {
      const visitor = makeRecursiveVisitor({
        reference(type) {
          if (type.reflection || type.externalUrl || type.isIntentionallyBroken() || !ours.has(type.package)) return;
          if (project.symbolIdHasBeenRemoved(type.symbolId)) return;
          const where = `${type.symbolId.packageName}/${type.symbolId.packagePath}`;
          const known = allowed.find(([file, name]) => name === type.qualifiedName && where === file);
          if (known) {
            used.add(known[2]);
            return;
          }
          const key = type.symbolId.getStableKey();
          if (warned.has(key)) return;
          warned.add(key);
          app.logger.validationWarning(
            `${type.qualifiedName}, defined in ${where}, is used by ${owner.getFriendlyFullName()} but ${type.package} does not export it`,
          );
        },
      });
      for (const type of typesOf(owner)) type.visit(visitor);
    }
    for (const [, , symbol] of allowed) {
      if (!used.has(symbol)) app.logger.validationWarning(`celeriacNotExported: ${symbol} is exported now, or no longer used; remove it from typedoc.json`);
    }
  });
}

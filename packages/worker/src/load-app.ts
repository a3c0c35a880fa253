/**
 * Loads the app a `celeriac … -A <module>` command names: a file path or a package, with an
 * optional `:attr`; the default export or an `app` export.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import type { WorkerApp } from './worker-app.ts';

/** What {@link loadApp} found. */
export interface LoadedApp {
  readonly app: WorkerApp;
  /** The URL the module was imported from. */
  readonly url: string;
}

function looksLikePath(spec: string): boolean {
  return spec.startsWith('.') || isAbsolute(spec) || /\.(c|m)?(j|t)s$/.test(spec) || spec.startsWith('file:');
}

function isApp(value: unknown): value is WorkerApp {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Record<keyof WorkerApp, unknown>>;
  return typeof v.conf === 'object' && typeof (v.tasks as { get?: unknown } | undefined)?.get === 'function' &&
    typeof v.broker === 'object' && v.broker !== null;
}

/**
 * @param spec - `path/to/tasks.js`, `./tasks.js:app`, `my-package`, `my-package:worker`
 * @param cwd - where relative paths and packages are resolved from
 * @returns the app and where it came from
 * @throws {@link CeleriacError} `INVALID_CONFIG` when the module cannot be found or exports no app
 */
export async function loadApp(spec: string, cwd: string = process.cwd()): Promise<LoadedApp> {
  // `C:\x` style drive letters have a colon too; only a colon after the last path part is an attr.
  const colon = spec.lastIndexOf(':');
  const hasAttr = colon > 1 && !spec.slice(colon + 1).includes('/') && !spec.slice(colon + 1).includes('\\') && !spec.startsWith('file:') ;
  const moduleSpec = hasAttr ? spec.slice(0, colon) : spec;
  const attr = hasAttr ? spec.slice(colon + 1) : undefined;
  let url: string;
  if (moduleSpec.startsWith('file:')) {
    url = moduleSpec;
  } else if (looksLikePath(moduleSpec)) {
    url = pathToFileURL(resolve(cwd, moduleSpec)).href;
  } else {
    try {
      url = pathToFileURL(createRequire(resolve(cwd, 'noop.js')).resolve(moduleSpec)).href;
    } catch {
      url = moduleSpec;
    }
  }
  let exports: Record<string, unknown>;
  try {
    exports = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new CeleriacError(
      ErrorCode.INVALID_CONFIG,
      `Cannot load the app module ${JSON.stringify(moduleSpec)} (from ${cwd}): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const candidates = attr !== undefined ? [[attr, exports[attr]]] : [['default', exports['default']], ['app', exports['app']]];
  for (const [, value] of candidates) {
    if (isApp(value)) return { app: value, url };
  }
  const wanted = attr !== undefined ? `an export named ${JSON.stringify(attr)}` : 'a default export or an export named "app"';
  throw new CeleriacError(
    ErrorCode.INVALID_CONFIG,
    `Expected ${JSON.stringify(moduleSpec)} to have ${wanted} that is a Celeriac app (createApp()), ` +
      `got exports: ${Object.keys(exports).join(', ') || 'none'}`,
  );
}

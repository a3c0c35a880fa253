/**
 * Resolving a Celery-style configuration into `app.conf`: Celery 3 upper-case names mapped
 * to Celery 4+ names exactly as Celery 5.2 maps them (mixing refused the same way), the
 * Django-style `namespace` (`CELERY_BROKER_URL`), the environment overrides, and a check of
 * every name and value (an unknown name names the closest known one).
 *
 * @see celery-wire.md §3.4; celery/app/utils.py (`detect_settings`, `Settings`)
 * @module
 */
import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import { closestName } from './edit-distance.ts';
import { createRouter } from './routes.ts';
import {
  defaultConfig,
  OLD_SETTING_NAMES,
  SETTINGS,
  type CeleryConfig,
  type OldSettingName,
  type SettingName,
  type SettingSpec,
} from './settings.ts';

/** Settings under their Celery 4+ names (`broker_url`, `task_acks_late`). */
export type CeleryConfigNew = { readonly [K in SettingName]?: CeleryConfig[K] };

/** Settings under their Celery 3 names (`BROKER_URL`, `CELERYD_PREFETCH_MULTIPLIER`). */
export type CeleryConfigOld = { readonly [K in OldSettingName]?: CeleryConfig[(typeof OLD_SETTING_NAMES)[K]] };

/** Settings Django-style, with `namespace: 'CELERY'` (`CELERY_BROKER_URL`, `CELERY_TASK_ACKS_LATE`). */
export type CeleryConfigNamespaced = { readonly [K in SettingName as `CELERY_${Uppercase<K>}`]?: CeleryConfig[K] };

/**
 * What `createApp` takes: Celery 4+ names, or Celery 3 names (not mixed, as in Celery), or
 * with `namespace: 'CELERY'` the Django-style names. `undefined` values count as not set.
 */
export type CeleryConfigInput = CeleryConfigNew & CeleryConfigOld & CeleryConfigNamespaced;

/** Options of {@link resolveConfig}. */
export interface ResolveConfigOptions {
  /**
   * Where `CELERY_BROKER_URL`, `CELERY_RESULT_BACKEND`, `CELERY_BROKER_READ_URL` and
   * `CELERY_BROKER_WRITE_URL` are read from; `process.env` by default.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Django-style prefix (Celery's `config_from_object(..., namespace='CELERY')`): settings
   * are read as `CELERY_BROKER_URL`, `CELERY_TASK_ACKS_LATE`; plain Celery 4+ and Celery 3
   * names still work with lower precedence, and names without the prefix that are no
   * setting are ignored (a Django settings object holds other things).
   */
  readonly namespace?: string;
}

/** The environment variables that override settings, as in Celery 5.2's `Settings`. */
const ENV_OVERRIDES: readonly (readonly [string, SettingName])[] = [
  ['CELERY_BROKER_URL', 'broker_url'],
  ['CELERY_RESULT_BACKEND', 'result_backend'],
  ['CELERY_BROKER_READ_URL', 'broker_read_url'],
  ['CELERY_BROKER_WRITE_URL', 'broker_write_url'],
];

/** URL schemes the Redis broker and backend understand. */
const REDIS_SCHEMES = ['redis', 'rediss', 'unix', 'redis+socket', 'socket', 'sentinel'] as const;

const NEW_NAMES: readonly SettingName[] = Object.keys(SETTINGS) as SettingName[];
const NEW_TO_OLD = new Map<string, string>(Object.entries(OLD_SETTING_NAMES).map(([o, n]) => [n, o]));
const RETRY_POLICY_KEYS = ['max_retries', 'interval_start', 'interval_step', 'interval_max'] as const;

function isSetting(name: string): name is SettingName {
  return Object.hasOwn(SETTINGS, name);
}

function isOldSetting(name: string): name is OldSettingName {
  return Object.hasOwn(OLD_SETTING_NAMES, name);
}

function invalid(message: string): CeleriacError {
  return new CeleriacError(ErrorCode.INVALID_CONFIG, message);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? `${typeof value} ${value.toString()}` : typeof value;
}

function unknownSetting(key: string, candidates: Iterable<string>, hint = ''): CeleriacError {
  const suggestion = closestName(key, candidates);
  return invalid(
    `Unknown setting '${key}'${suggestion === undefined ? '' : `; did you mean '${suggestion}'?`}${hint}`,
  );
}

/**
 * Checks a broker or result-backend URL's scheme (the URL itself is parsed when the broker or
 * backend is made).
 *
 * @param url - the URL
 * @param setting - the setting it came from, for the error
 * @throws {@link CeleriacError} `INVALID_CONFIG` naming the supported schemes
 */
export function assertRedisUrl(url: string, setting: string): void {
  // Celery allows several broker URLs separated by ';' (failover); sentinel uses that form.
  for (const part of url.split(';')) {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(part.trim())?.[1]?.toLowerCase();
    if (scheme === undefined || !(REDIS_SCHEMES as readonly string[]).includes(scheme)) {
      const shown = scheme === undefined ? 'a value without a scheme' : `scheme '${scheme}://'`;
      throw invalid(
        `${setting}: ${shown} is not supported; Celeriac speaks Redis only ` +
          `(redis://, rediss://, unix://, redis+socket://, sentinel://)`,
      );
    }
  }
}

/**
 * Checks one value against its setting's spec.
 *
 * @param name - the Celery 4+ name
 * @param written - the name as the user wrote it
 * @param value - the value (never `undefined`)
 * @param spec - the setting's spec
 * @throws {@link CeleriacError} `INVALID_CONFIG` saying what was expected and what came
 */
function checkValue(name: SettingName, written: string, value: unknown, spec: SettingSpec): void {
  const label = written === name ? `'${name}'` : `'${written}' (${name})`;
  const fail = (expected: string): never => {
    throw invalid(`Setting ${label} must be ${expected}, got ${describe(value)}`);
  };
  if (value === null) {
    if (!spec.nullable) fail('set (null is not allowed here)');
    return;
  }
  switch (spec.check) {
    case 'any':
      return;
    case 'string':
      if (typeof value !== 'string') fail('a string');
      return;
    case 'url':
      if (typeof value !== 'string' || value === '') fail('a URL string');
      if (name === 'result_backend' && value === 'disabled') return;
      assertRedisUrl(value as string, written);
      return;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) fail('an integer');
      return;
    case 'positiveInt':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) fail('an integer >= 1');
      return;
    case 'nonNegativeInt':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail('an integer >= 0');
      return;
    case 'number':
      if (typeof value !== 'number' || Number.isNaN(value)) fail('a number');
      return;
    case 'positiveNumber':
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail('a number of seconds > 0');
      return;
    case 'nonNegativeNumber':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail('a number of seconds >= 0');
      return;
    case 'bool':
      if (typeof value !== 'boolean') fail('a boolean');
      return;
    case 'dict':
      if (!isPlainObject(value)) fail('an object');
      return;
    case 'stringList':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) fail('an array of strings');
      return;
    case 'priority':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) fail('an integer 0..255');
      return;
    case 'compression':
      if (value !== 'zlib') fail(`'zlib' or null (the only compression Celeriac writes)`);
      return;
    case 'protocol':
      if (value !== 2) fail('2 (Celeriac writes task protocol 2 only; Celery 5 workers read it)');
      return;
    case 'routes':
      try {
        createRouter(value, written);
      } catch (err) {
        if (err instanceof CeleriacError) throw err;
        throw invalid(`Setting ${label} is not valid routes: ${String(err)}`);
      }
      return;
    case 'retryPolicy': {
      if (!isPlainObject(value)) fail('an object ({ max_retries, interval_start, interval_step, interval_max })');
      const policy = value as Record<string, unknown>;
      for (const [key, v] of Object.entries(policy)) {
        if (!(RETRY_POLICY_KEYS as readonly string[]).includes(key)) {
          throw unknownSetting(`${written}.${key}`, RETRY_POLICY_KEYS.map((k) => `${written}.${k}`));
        }
        if (v === undefined) continue;
        if (key === 'max_retries') {
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
            throw invalid(`Setting ${label}.max_retries must be an integer >= 0, got ${describe(v)}`);
          }
        } else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
          throw invalid(`Setting ${label}.${key} must be a number of seconds >= 0, got ${describe(v)}`);
        }
      }
      return;
    }
  }
}

/** Celery's `detect_settings`: which style wins, and the keys of the other style that are not paired. */
function detectStyle(keys: readonly string[]): { style: 'new' | 'old'; leftovers: string[] } {
  const have = new Set(keys);
  const isNew = keys.filter(isSetting);
  const isOld = keys.filter(isOldSetting);
  let style: 'new' | 'old' = 'new';
  if (isNew.length > 0 && isOld.length > isNew.length) style = 'old';
  if (isNew.length === 0 && isOld.length > 0) style = 'old';
  const left = style === 'new' ? isOld : isNew;
  const counterpart = (key: string): string | undefined =>
    style === 'new' ? OLD_SETTING_NAMES[key as OldSettingName] : NEW_TO_OLD.get(key);
  const reallyLeft = left.filter((key) => {
    const other = counterpart(key);
    return other === undefined || !have.has(other);
  });
  if (reallyLeft.length > 0) {
    const renames = reallyLeft
      .sort()
      .map((key) => `${key} -> ${counterpart(key) ?? key}`)
      .join(', ');
    throw invalid(
      style === 'new'
        ? `Cannot mix new and old setting keys; rename these settings to the new format: ${renames}`
        : `Cannot mix new setting names with old setting names; rename these settings to the old format: ${renames} ` +
            '(or change all of the settings to the new format)',
    );
  }
  return { style, leftovers: left };
}

/**
 * Resolves a configuration as Celery 5.2 does, then checks it.
 *
 * Precedence: the environment (`CELERY_BROKER_URL`, `CELERY_RESULT_BACKEND`,
 * `CELERY_BROKER_READ_URL`, `CELERY_BROKER_WRITE_URL`, when non-empty) over the given
 * settings over the defaults. Given both an old and a new name for one setting, the style
 * most keys use wins (Celery's majority rule).
 *
 * @param input - the settings (any style; see {@link CeleryConfigInput})
 * @param options - `env`, `namespace`
 * @returns the resolved configuration, frozen, every setting under its Celery 4+ name
 * @throws {@link CeleriacError} `INVALID_CONFIG` for an unknown name (naming the closest
 *   known one), a value of the wrong type, old and new names mixed, or an unsupported URL
 */
export function resolveConfig(
  input: CeleryConfigInput | Readonly<Record<string, unknown>> = {},
  options: ResolveConfigOptions = {},
): Readonly<CeleryConfig> {
  if (!isPlainObject(input)) throw invalid(`Expected the configuration to be a plain object, got ${describe(input)}`);
  const entries = Object.entries(input).filter(([, v]) => v !== undefined);
  /** Setting → [name as written, value], lowest precedence first, later writes win. */
  const values = new Map<SettingName, readonly [string, unknown]>();
  const put = (list: readonly (readonly [string, unknown])[], nameOf: (key: string) => SettingName): void => {
    for (const [key, value] of list) values.set(nameOf(key), [key, value]);
  };

  if (options.namespace !== undefined) {
    const namespace = options.namespace;
    if (typeof namespace !== 'string' || namespace.replace(/_+$/, '') === '') {
      throw invalid(`namespace must be a non-empty string such as 'CELERY', got ${describe(namespace)}`);
    }
    const prefix = `${namespace.replace(/_+$/, '')}_`;
    const upper = prefix === prefix.toUpperCase();
    const prefixed: (readonly [string, unknown])[] = [];
    const plain: (readonly [string, unknown])[] = [];
    const old: (readonly [string, unknown])[] = [];
    for (const entry of entries) {
      const [key] = entry;
      const rest = key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
      if (rest !== undefined && isSetting(rest.toLowerCase()) && rest === (upper ? rest.toUpperCase() : rest)) prefixed.push(entry);
      else if (isSetting(key)) plain.push(entry);
      else if (isOldSetting(key)) old.push(entry);
      else if (rest !== undefined) {
        const candidates = NEW_NAMES.map((n) => prefix + (upper ? n.toUpperCase() : n));
        throw unknownSetting(key, candidates);
      }
      // Anything else belongs to the host application (Django's settings hold everything).
    }
    put(old, (key) => OLD_SETTING_NAMES[key as OldSettingName]);
    put(plain, (key) => key as SettingName);
    put(prefixed, (key) => key.slice(prefix.length).toLowerCase() as SettingName);
  } else {
    for (const [key] of entries) {
      if (isSetting(key) || isOldSetting(key)) continue;
      const rest = key.startsWith('CELERY_') ? key.slice('CELERY_'.length).toLowerCase() : undefined;
      const hint = rest !== undefined && isSetting(rest) ? ` (Django-style names need the option namespace: 'CELERY')` : '';
      throw unknownSetting(key, [...NEW_NAMES, ...Object.keys(OLD_SETTING_NAMES)], hint);
    }
    const { style, leftovers } = detectStyle(entries.map(([key]) => key));
    const leftoverSet = new Set(leftovers);
    const toNew = (key: string): SettingName => (isSetting(key) ? key : OLD_SETTING_NAMES[key as OldSettingName]);
    // A key given in both styles: the winning style's value wins (Celery looks it up first).
    put(entries.filter(([key]) => leftoverSet.has(key)), toNew);
    put(entries.filter(([key]) => !leftoverSet.has(key) && (style === 'new' ? isSetting(key) : isOldSetting(key))), toNew);
  }

  const env = options.env ?? process.env;
  for (const [variable, name] of ENV_OVERRIDES) {
    const value = env[variable];
    if (typeof value === 'string' && value !== '') values.set(name, [variable, value]);
  }

  const conf = defaultConfig() as unknown as Record<string, unknown>;
  for (const [name, [written, value]] of values) {
    checkValue(name, written, value, SETTINGS[name]);
    conf[name] = value;
  }
  // Celery's conf.broker_url is first('broker_url', 'broker_host').
  if (conf['broker_url'] === null && typeof conf['broker_host'] === 'string' && conf['broker_host'] !== '') {
    assertRedisUrl(conf['broker_host'], 'broker_host');
    conf['broker_url'] = conf['broker_host'];
  }
  if (conf['result_backend'] === 'disabled') conf['result_backend'] = null;
  const policy = conf['task_publish_retry_policy'] as Record<string, unknown>;
  // A partial policy keeps Celery's defaults for the keys it leaves out.
  conf['task_publish_retry_policy'] = Object.freeze({ ...defaultConfig().task_publish_retry_policy, ...policy });
  return Object.freeze(conf) as unknown as Readonly<CeleryConfig>;
}

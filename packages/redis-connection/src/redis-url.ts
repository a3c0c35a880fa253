/**
 * Redis connection URLs as Celery and kombu users write them, turned into ioredis options.
 *
 * | form | example |
 * |---|---|
 * | TCP | `redis://[[user]:password@]host[:port][/db]` |
 * | TLS | `rediss://…?ssl_cert_reqs=required&ssl_ca_certs=/ca.pem&ssl_certfile=…&ssl_keyfile=…` |
 * | unix socket | `unix:///run/redis.sock?db=1`, `redis+socket:///run/redis.sock?virtual_host=1`, `socket://…` |
 * | Sentinel | `sentinel://[:password@]host:26379[/db];sentinel://host2:26379` + `master_name` |
 *
 * The password never leaves this module except inside the ioredis options: use
 * {@link redactRedisUrl} for anything logged or put in an error.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import type { RedisOptions } from 'ioredis';

/** Options a Celery user puts in `broker_transport_options` / `result_backend_transport_options`. */
export interface RedisTransportOptions {
  /** Sentinel: the monitored master's name (kombu's `master_name`). Required for `sentinel://`. */
  readonly master_name?: string;
  /** Sentinel: options for the sentinel connections themselves (`password`, `username`). */
  readonly sentinel_kwargs?: { readonly password?: string; readonly username?: string };
}

/** A parsed URL: what to connect to, and how to name it safely. */
export interface RedisConnectionConfig {
  /** `standalone` (TCP, TLS or socket) or `sentinel`. */
  readonly kind: 'standalone' | 'sentinel';
  /** The database number. */
  readonly db: number;
  /** The URL with any password replaced by `***`. */
  readonly redactedUrl: string;
  /** Options for `new Redis(options)`; hold the password, never log them. */
  readonly options: RedisOptions;
}

const SOCKET_SCHEMES = new Set(['unix:', 'socket:', 'redis+socket:']);

/**
 * @param url - a Celery-style Redis URL
 * @param transport - `master_name` for Sentinel
 * @returns the connection config
 * @throws {@link CeleriacError} `INVALID_CONFIG` naming what is wrong (the password redacted)
 */
export function parseRedisUrl(url: string, transport: RedisTransportOptions = {}): RedisConnectionConfig {
  const redacted = redactRedisUrl(url);
  const fail = (why: string): never => {
    throw new CeleriacError(ErrorCode.INVALID_CONFIG, `Invalid Redis URL ${JSON.stringify(redacted)}: ${why}`);
  };
  if (url.startsWith('sentinel://')) return parseSentinel(url, transport, redacted, fail);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail('expected redis://, rediss://, unix://, redis+socket:// or sentinel://');
  }
  const query = parsed.searchParams;
  const options: RedisOptions = {};
  const auth = credentials(parsed);
  if (auth.username !== undefined) options.username = auth.username;
  if (auth.password !== undefined) options.password = auth.password;
  if (query.has('password')) options.password = query.get('password') ?? undefined;

  let db: number;
  if (SOCKET_SCHEMES.has(parsed.protocol)) {
    const path = decodeURIComponent(parsed.pathname);
    if (path === '' || path === '/') fail('a unix socket URL needs a path (unix:///run/redis.sock)');
    options.path = path;
    db = parseDb(query.get('db') ?? query.get('virtual_host') ?? '0', fail);
  } else if (parsed.protocol === 'redis:' || parsed.protocol === 'rediss:') {
    options.host = parsed.hostname === '' ? '127.0.0.1' : parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    options.port = parsed.port === '' ? 6379 : Number(parsed.port);
    db = parseDb(parsed.pathname.replace(/^\//, '') || query.get('db') || query.get('virtual_host') || '0', fail);
    if (parsed.protocol === 'rediss:') options.tls = tlsOptions(query, fail);
  } else {
    return fail(`unsupported scheme ${parsed.protocol} (expected redis, rediss, unix, redis+socket or sentinel)`);
  }
  options.db = db;
  return { kind: 'standalone', db, redactedUrl: redacted, options };
}

/**
 * Replaces the password of every URL in `url` (several are joined by `;` for Sentinel)
 * with `***`, and any `password=` query parameter too.
 *
 * @param url - a Redis URL
 * @returns the URL, safe to log
 */
export function redactRedisUrl(url: string): string {
  // Something that is not a URL at all may still carry a secret: show none of it.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url.trim())) return '(not a URL)';
  return url
    .split(';')
    .map(redactOne)
    .join(';')
    .replace(/([?&]password=)[^&]*/gi, '$1***');
}

/**
 * One URL: the userinfo ends at the LAST `@` before the query, since a raw password may hold
 * `@` or `/` (`redis://:p@ss@host`). When unsure it hides more, never less.
 */
function redactOne(part: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(part);
  if (m === null) return part;
  const [, scheme = '', rest = ''] = m;
  const queryStart = rest.search(/[?#]/);
  const at = (queryStart === -1 ? rest : rest.slice(0, queryStart)).lastIndexOf('@');
  if (at === -1) return part;
  const userinfo = rest.slice(0, at);
  const after = rest.slice(at);
  const colon = userinfo.indexOf(':');
  if (colon === -1) return `${scheme}${userinfo === '' ? '' : '***'}${after}`;
  return `${scheme}${userinfo.slice(0, colon)}:***${after}`;
}

function parseSentinel(
  url: string,
  transport: RedisTransportOptions,
  redacted: string,
  fail: (why: string) => never,
): RedisConnectionConfig {
  const sentinels: { host: string; port: number }[] = [];
  let password: string | undefined;
  let username: string | undefined;
  let db = 0;
  for (const part of url.split(';').map((p) => p.trim()).filter((p) => p !== '')) {
    let parsed: URL;
    try {
      parsed = new URL(part.replace(/^sentinel:/, 'redis:'));
    } catch {
      return fail('expected sentinel://[:password@]host:port[/db] joined by ";"');
    }
    if (!part.startsWith('sentinel://')) fail('every part of a Sentinel URL starts with sentinel://');
    const auth = credentials(parsed);
    password ??= auth.password;
    username ??= auth.username;
    const path = parsed.pathname.replace(/^\//, '');
    if (path !== '') db = parseDb(path, fail);
    sentinels.push({ host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: parsed.port === '' ? 26379 : Number(parsed.port) });
  }
  if (sentinels.length === 0) fail('no sentinel hosts');
  const name = transport.master_name;
  if (name === undefined || name === '') {
    fail('Sentinel needs the master name: set master_name in broker_transport_options / result_backend_transport_options');
  }
  const options: RedisOptions = { sentinels, name, db, role: 'master' };
  if (password !== undefined) options.password = password;
  if (username !== undefined) options.username = username;
  const sentinelAuth = transport.sentinel_kwargs;
  if (sentinelAuth?.password !== undefined) options.sentinelPassword = sentinelAuth.password;
  if (sentinelAuth?.username !== undefined) options.sentinelUsername = sentinelAuth.username;
  return { kind: 'sentinel', db, redactedUrl: redacted, options };
}

function credentials(url: URL): { username?: string; password?: string } {
  const out: { username?: string; password?: string } = {};
  if (url.username !== '') out.username = decodeURIComponent(url.username);
  if (url.password !== '') out.password = decodeURIComponent(url.password);
  // redis://:password@host: redis-py reads an empty user as "no ACL user".
  return out;
}

function parseDb(text: string, fail: (why: string) => never): number {
  const db = Number(text);
  if (!Number.isInteger(db) || db < 0) fail(`the database must be a non-negative integer, got ${JSON.stringify(text)}`);
  return db;
}

function tlsOptions(query: URLSearchParams, fail: (why: string) => never): NonNullable<RedisOptions['tls']> {
  const reqs = (query.get('ssl_cert_reqs') ?? 'required').toLowerCase().replace(/^cert_/, '');
  if (!['required', 'optional', 'none'].includes(reqs)) fail(`ssl_cert_reqs must be required, optional or none, got ${reqs}`);
  const file = (name: string): Buffer | undefined => {
    const path = query.get(name);
    if (path === null || path === '') return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      return fail(`cannot read ${name}=${path}: ${(err as Error).message}`);
    }
  };
  const tls: NonNullable<RedisOptions['tls']> = { rejectUnauthorized: reqs === 'required' };
  const ca = file('ssl_ca_certs');
  const cert = file('ssl_certfile');
  const key = file('ssl_keyfile');
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  return tls;
}

/**
 * The Redis every test talks to: `REDIS_URL`, or the shared local server.
 *
 * The server is shared with other test runs: never FLUSHALL/FLUSHDB, never stop it; use
 * {@link createTestRedis} for keys that are cleaned up.
 *
 * @returns `process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'`
 */
export function redisUrl(): string {
  return process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
}

/**
 * {@link redisUrl} with its database number replaced.
 *
 * @param db - the Redis database number (`SELECT db`), a non-negative integer
 * @returns the same URL (user, password, host, query kept) with path `/<db>`
 * @throws RangeError when `db` is not a non-negative integer
 */
export function redisUrlWithDb(db: number): string {
  if (!Number.isInteger(db) || db < 0) {
    throw new RangeError(
      `redisUrlWithDb: expected a Redis database number (integer >= 0), received ${String(db)}`,
    );
  }
  const url = new URL(redisUrl());
  url.pathname = `/${db}`;
  return url.toString();
}

/**
 * The database number a Redis URL selects (`redis://host:port/3` → 3; none → 0).
 *
 * @param url - a `redis://` or `rediss://` URL
 * @returns the database number
 * @throws RangeError when the path is not a database number
 */
export function redisDbOf(url: string): number {
  const path = new URL(url).pathname.replace(/^\//, '');
  if (path === '') return 0;
  const db = Number(path);
  if (!Number.isInteger(db) || db < 0) {
    throw new RangeError(`redisDbOf: expected a database number in the URL path, received "${url}"`);
  }
  return db;
}

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { celeryQueueKeys } from './celery-keys.ts';
import { redisDbOf, redisUrl, redisUrlWithDb } from './redis-url.ts';

/*
 * Key layout: every key a test makes through `key(name)` is `celeriac-test:<12 hex>:<name>`,
 * so dispose can find stragglers with `SCAN MATCH celeriac-test:<12 hex>:*`. Keys whose names
 * Celery fixes (`celery-task-meta-<id>`, `_kombu.binding.<queue>`) are recorded with
 * `track()` and deleted by name. Nothing else is ever deleted: the server is shared.
 */

/** Options of {@link createTestRedis}. */
export interface TestRedisOptions {
  /** Database number; default: the one in {@link redisUrl} (0 when it names none). */
  readonly db?: number;
}

/**
 * A Redis connection for one test, with a private key prefix. Everything it names or
 * tracks is deleted on dispose (`await using redis = await createTestRedis()`).
 */
export interface TestRedis extends AsyncDisposable {
  /** The connected ioredis client. Quit on dispose. */
  readonly client: Redis;
  /** The URL the client connected to (hand it to the code under test). */
  readonly url: string;
  /** The database number of {@link TestRedis.url}. */
  readonly db: number;
  /** This test's unique key prefix, `celeriac-test:<random>:`. */
  readonly prefix: string;
  /**
   * A prefixed key name, recorded for cleanup.
   *
   * @param name - the key name after the prefix
   * @returns `prefix + name`
   */
  key(name: string): string;
  /**
   * Records keys with names outside the prefix (`celery-task-meta-<id>`, a queue and its
   * priority lists) so dispose deletes them.
   *
   * @param keys - exact key names
   */
  track(...keys: string[]): void;
  /**
   * A random queue name starting with the prefix; its list, priority lists and
   * `_kombu.binding.<queue>` set are tracked.
   *
   * @param label - readable part of the name; default `q`
   * @returns a queue name like `celeriac-test:<random>:q-1`
   */
  queue(label?: string): string;
  /**
   * Another connection to the same database (e.g. for SUBSCRIBE), quit on dispose.
   *
   * @returns a new ioredis client
   */
  duplicate(): Redis;
  /**
   * Deletes the tracked keys and every `prefix*` key, then quits all connections.
   * Idempotent; `[Symbol.asyncDispose]` calls it.
   */
  close(): Promise<void>;
}

const DEL_BATCH = 500;

/** Escapes the glob characters SCAN MATCH understands. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

async function deleteKeys(client: Redis, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += DEL_BATCH) {
    await client.del(...keys.slice(i, i + DEL_BATCH));
  }
}

async function deleteMatching(client: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await deleteKeys(client, keys);
  } while (cursor !== '0');
}

/** Quits and waits for the socket to close (`quit()` resolves on the reply, before 'end'). */
async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'wait') {
    client.disconnect(); // never connected (lazy duplicate)
    return;
  }
  const ended = new Promise<void>((resolve) => client.once('end', resolve));
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
  const timer = setTimeout(() => client.disconnect(), 2_000);
  await ended;
  clearTimeout(timer);
}

/**
 * Connects to the shared test Redis with a fresh random key prefix.
 *
 * @param options - database selection
 * @returns a connected {@link TestRedis}; dispose it (`await using`, or `close()`)
 * @throws when Redis is unreachable (the error names the URL)
 */
export async function createTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const url = options.db === undefined ? redisUrl() : redisUrlWithDb(options.db);
  // No endless reconnects in tests: an unreachable Redis must fail the test now.
  const connectionOptions = { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null };
  const client = new Redis(url, connectionOptions);
  client.on('error', () => {
    // Reported through the failing command or connect(); an unhandled 'error' would crash.
  });
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new Error(`createTestRedis: cannot connect to Redis at ${url} (set REDIS_URL)`, {
      cause: error,
    });
  }

  const prefix = `celeriac-test:${randomBytes(6).toString('hex')}:`;
  const tracked = new Set<string>();
  const extra: Redis[] = [];
  let closing: Promise<void> | undefined;
  let queues = 0;

  const track = (...keys: string[]): void => {
    for (const key of keys) tracked.add(key);
  };

  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        await deleteKeys(client, [...tracked]);
        await deleteMatching(client, `${escapeGlob(prefix)}*`);
      } finally {
        await Promise.all([...extra, client].map(quit));
      }
    })();
    return closing;
  };

  return {
    client,
    url,
    db: redisDbOf(url),
    prefix,
    key(name) {
      const key = prefix + name;
      tracked.add(key);
      return key;
    },
    track,
    queue(label = 'q') {
      queues += 1;
      const queue = `${prefix}${label}-${queues}`;
      track(...celeryQueueKeys(queue));
      return queue;
    },
    duplicate() {
      const copy = client.duplicate();
      copy.on('error', () => {});
      extra.push(copy);
      return copy;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

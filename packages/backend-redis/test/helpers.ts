/**
 * Small helpers shared by this package's Redis tests.
 */
import { randomUUID } from 'node:crypto';
import { createResultMeta, type ResultMeta } from '@celeriac/protocol';
import { Redis } from 'ioredis';
import { createRedisBackend, taskKey, type RedisBackendOptions, type RedisResultBackend } from '../src/index.ts';

/** A backend closed on dispose. */
export type DisposableBackend = RedisResultBackend & AsyncDisposable;

/**
 * @param url - the Redis URL
 * @param options - backend options
 * @returns a backend that `await using` closes
 */
export function backendFor(url: string, options: RedisBackendOptions = {}): DisposableBackend {
  const backend = createRedisBackend(url, options);
  return Object.assign(backend, { [Symbol.asyncDispose]: () => backend.close() });
}

/** A plain ioredis connection (not in subscriber mode), quit on dispose. */
export type AdminClient = Redis & AsyncDisposable;

/**
 * @param url - the Redis URL
 * @returns a connected admin client
 */
export async function adminFor(url: string): Promise<AdminClient> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null });
  client.on('error', () => {});
  await client.connect();
  return Object.assign(client, {
    [Symbol.asyncDispose]: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  });
}

/**
 * @param count - how many
 * @param label - a readable part
 * @returns fresh task ids
 */
export function taskIds(count: number, label = 't'): string[] {
  return Array.from({ length: count }, (_, i) => `${label}${i}-${randomUUID()}`);
}

/**
 * @param taskId - the task id
 * @param result - the return value
 * @returns a SUCCESS meta
 */
export function success(taskId: string, result: unknown): ResultMeta {
  return createResultMeta({ taskId, status: 'SUCCESS', result });
}

/**
 * @param ids - task ids
 * @returns their result keys
 */
export function keysOf(ids: readonly string[]): string[] {
  return ids.map(taskKey);
}

/**
 * Stores a SUCCESS meta (result = the id's index in `all`) for each id.
 *
 * @param backend - the writer
 * @param ids - the ids to store
 * @param all - the list whose index is the result
 */
export async function storeIndexed(backend: RedisResultBackend, ids: readonly string[], all: readonly string[]): Promise<void> {
  const index = new Map(all.map((id, i) => [id, i]));
  await Promise.all(ids.map((id) => backend.store(success(id, index.get(id)))));
}

/** @returns `globalThis.gc`, or throws a clear error when the test runs without `--expose-gc` */
export function requireGc(): () => void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') {
    throw new Error('globalThis.gc is missing: memory tests need node --expose-gc (the vitest project sets execArgv)');
  }
  return gc;
}

/**
 * @param ms - how long
 * @returns a promise that resolves after `ms`
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

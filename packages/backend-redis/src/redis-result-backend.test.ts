import { AcceptContent, CeleriacError, ErrorCode, msgpackSerializer, type LogFields } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { createRedisBackend, DEFAULT_RESULT_EXPIRES } from './redis-result-backend.ts';

// No connection is opened by the constructor (lazy), so these need no Redis.
const url = 'redis://127.0.0.1:1/0';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof CeleriacError ? err.code : 'not a CeleriacError';
  }
  return undefined;
}

describe('RedisResultBackend options', () => {
  it("defaults to Celery's: json, accept json, one day of expiry, no extended fields", async () => {
    const backend = createRedisBackend(url);
    expect(backend.serializer.name).toBe('json');
    expect(backend.accept.contentTypes).toEqual(['application/json']);
    expect(backend.expires).toBe(DEFAULT_RESULT_EXPIRES);
    expect(backend.resultExtended).toBe(false);
    expect(backend.consumer.stats()).toMatchObject({ mode: 'pubsub', waiting: 0, connection: 'none' });
    await backend.close();
  });

  it('takes serializers by name or instance, accept lists or AcceptContent, and rounds expiry up', async () => {
    const a = createRedisBackend(url, { resultSerializer: 'msgpack', accept: ['msgpack', 'json'], resultExpires: 1.2 });
    const b = createRedisBackend(url, { resultSerializer: msgpackSerializer, accept: new AcceptContent(['application/x-msgpack']), resultExpires: null });
    expect(a.serializer).toBe(msgpackSerializer);
    expect(a.expires).toBe(2);
    expect(b.accept.accepts('application/x-msgpack')).toBe(true);
    expect(b.expires).toBeNull();
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses bad options with typed errors', () => {
    expect(codeOf(() => createRedisBackend(url, { resultSerializer: 'yaml' }))).toBe(ErrorCode.UNKNOWN_SERIALIZER);
    expect(codeOf(() => createRedisBackend(url, { accept: ['nonsense'] }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(codeOf(() => createRedisBackend(url, { resultExpires: -1 }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(codeOf(() => createRedisBackend(url, { resultExpires: Number.NaN }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(codeOf(() => createRedisBackend(url, { pollInterval: 0 }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(codeOf(() => createRedisBackend(url, { commandTimeoutMs: 0 }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(codeOf(() => createRedisBackend(url, { commandTimeoutMs: Number.POSITIVE_INFINITY }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(codeOf(() => createRedisBackend(url, { healthCheckInterval: -1 }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(codeOf(() => createRedisBackend(url, { onDataLoss: 'ignore' as 'wait' }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(codeOf(() => createRedisBackend(url, { healthCheckInterval: 0, onDataLoss: 'wait' }))).toBeUndefined();
    expect(codeOf(() => createRedisBackend('http://nope'))).toBe(ErrorCode.INVALID_CONFIG);
  });

  it('needs master_name for Sentinel URLs, from transportOptions', async () => {
    expect(codeOf(() => createRedisBackend('sentinel://127.0.0.1:26379'))).toBe(ErrorCode.INVALID_CONFIG);
    const backend = createRedisBackend('sentinel://127.0.0.1:26379;sentinel://127.0.0.1:26380', {
      transportOptions: { master_name: 'mymaster' },
    });
    expect(backend.consumer.stats().connection).toBe('none');
    await backend.close();
  });

  it('warns when the result serializer is not accepted (every read would be refused)', async () => {
    const warnings: [string, LogFields | undefined][] = [];
    const logger = { debug: () => {}, info: () => {}, error: () => {}, warn: (m: string, f?: LogFields) => warnings.push([m, f]) };
    const backend = createRedisBackend(url, { resultSerializer: 'msgpack', logger });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.[0]).toContain('not in the result accept list');
    await backend.close();
  });

  it('refuses work after close() with CONNECTION_CLOSED', async () => {
    const backend = createRedisBackend(url);
    await backend.close();
    await expect(backend.get('x')).rejects.toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
    await expect(backend.waitFor('x')).rejects.toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
    await expect(backend.asyncResult('x').get()).rejects.toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
  });
});

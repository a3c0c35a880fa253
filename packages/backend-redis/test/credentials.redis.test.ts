/**
 * Refused credentials: ioredis rejects every command queued behind a failed AUTH with a
 * `ReplyError` whose `command.args` hold the password. The backend maps every command error
 * (`toRedisError`), so what callers get, and what it logs, never carries the password.
 * Uses a redis-server of the test's own (`CONFIG SET requirepass`).
 */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { CeleriacError, ErrorCode, type LogFields, type Logger } from '@celeriac/protocol';
import { startRedisServer } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { adminFor, backendFor, success } from './helpers.ts';

/** Everything an error holds: every own property (non-enumerable ones too), the cause chain included. */
function everything(error: unknown): string {
  const replacer = (_key: string, value: unknown): unknown => {
    if (value instanceof Error) {
      return Object.fromEntries(Object.getOwnPropertyNames(value).map((name) => [name, (value as unknown as Record<string, unknown>)[name]]));
    }
    if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer') {
      return Buffer.from((value as { data: number[] }).data).toString('latin1');
    }
    return value;
  };
  return [JSON.stringify(error, replacer), String(error), inspect(error, { depth: 10, showHidden: true })].join('\n');
}

describe('refused credentials', () => {
  it('get() and store() reject with CeleriacError INVALID_CONFIG that never holds the password', async () => {
    await using server = await startRedisServer();
    await using admin = await adminFor(server.url);
    await admin.config('SET', 'requirepass', `right-${randomUUID()}`);
    const password = `wrong-${randomUUID()}`;
    const logged: string[] = [];
    const record = (level: string) => (message: string, fields?: LogFields): void => {
      logged.push(`${level} ${message} ${inspect(fields, { depth: 10, showHidden: true })}`);
    };
    const logger: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
    await using backend = backendFor(`redis://:${password}@127.0.0.1:${server.port}/0`, { logger, commandTimeoutMs: 3_000 });
    const id = randomUUID();

    const errors = [
      await backend.get(id).catch((error: unknown) => error),
      await backend.store(success(id, 1)).catch((error: unknown) => error),
      await backend.getMany([id, randomUUID()]).catch((error: unknown) => error),
      await backend.saveGroup(randomUUID(), [id]).catch((error: unknown) => error),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(CeleriacError);
      expect(error).toMatchObject({ code: ErrorCode.INVALID_CONFIG });
      expect((error as Error).message).toMatch(/WRONGPASS/);
      expect((error as Error).message).toContain(`127.0.0.1:${server.port}`);
      expect((error as Error).cause).toBeInstanceOf(Error); // the Redis reply, kept …
      const dump = everything(error);
      expect(dump).toContain('WRONGPASS');
      expect(dump).not.toContain(password); // … without the AUTH arguments
    }
    // A wait goes through the subscriber connection, which never gets ready: it times out.
    await expect(backend.asyncResult(id).get({ timeout: 300 })).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    await backend.close();
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('\n')).not.toContain(password);
  });
});

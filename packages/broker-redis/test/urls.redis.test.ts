import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import { startRedisServer } from '@celeriac/test-utils';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createRedisBroker } from '../src/index.ts';
import { message, next, pause, recordingLogger } from './helpers.ts';

const PASSWORD = 'pw-Z3cr3t-7a1f';

/** Everything an error carries that could end up in a log: message, stack, causes, own fields. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    if (current instanceof Error) {
      parts.push(current.message, current.stack ?? '', JSON.stringify(current));
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : JSON.stringify(current));
      current = undefined;
    }
  }
  return parts.join('\n');
}

describe('Celery-style URLs', () => {
  it('works with redis://:password@host:port/db and never shows the password', async () => {
    // test-utils' startRedisServer PINGs without AUTH, so `--requirepass` would never come
    // up: set the password on our private server once it runs.
    await using server = await startRedisServer();
    const setup = new Redis({ port: server.port });
    await setup.config('SET', 'requirepass', PASSWORD);
    setup.disconnect();
    const logger = recordingLogger();
    const url = `redis://:${PASSWORD}@127.0.0.1:${server.port}/3`;
    await using broker = createRedisBroker(url, { logger, name: 'auth' });
    expect(broker.redactedUrl).toBe(`redis://:***@127.0.0.1:${server.port}/3`);
    const sent = message('secured');
    await broker.publish(sent);
    const direct = new Redis({ port: server.port, password: PASSWORD, db: 3 });
    try {
      expect(await direct.llen('secured')).toBe(1);
      const consumer = broker.consume({ queues: ['secured'], prefetch: 1 });
      const delivery = await next(consumer);
      expect(delivery.deliveryTag).toBe(sent.deliveryTag);
      await delivery.ack();
      expect(await direct.hlen('unacked')).toBe(0);
      await consumer.close();
      expect(broker.keys.fanoutChannel('celery.pidbox', '')).toBe('/3.celery.pidbox');
    } finally {
      direct.disconnect();
    }

    // A wrong password: typed errors and log lines, never a password.
    const wrong = 'wr0ng-pw-QQ';
    const badLogger = recordingLogger();
    await using bad = createRedisBroker(`redis://:${wrong}@127.0.0.1:${server.port}/3`, {
      logger: badLogger,
      commandTimeoutMs: 800,
      watchdogTimeoutMs: 800,
    });
    const failure = await bad.publish(message('secured')).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(CeleriacError);
    expect((failure as CeleriacError).code).toBe(ErrorCode.INVALID_CONFIG);
    expect((failure as Error).message).toContain(`redis://:***@127.0.0.1:${server.port}/3`);
    const consumer = bad.consume({ queues: ['secured'], prefetch: 1 });
    await pause(1_500);
    await consumer.close();
    await bad.close();
    const everything = [errorText(failure), ...badLogger.lines, ...logger.lines].join('\n');
    expect(badLogger.lines.length).toBeGreaterThan(0);
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(PASSWORD);
    await expect(bad.publish(message('secured'))).rejects.toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
  }, 20_000);

  it('refuses a bad URL or option with INVALID_CONFIG, password redacted', () => {
    let caught: unknown;
    try {
      createRedisBroker(`redis://:${PASSWORD}@127.0.0.1:6379/notadb`);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: ErrorCode.INVALID_CONFIG });
    expect(errorText(caught)).not.toContain(PASSWORD);
    expect(() => createRedisBroker('redis://127.0.0.1', { transportOptions: { visiblity_timeout: 5 } as never })).toThrow(
      /unknown option "visiblity_timeout"/,
    );
    expect(() => createRedisBroker('sentinel://127.0.0.1:26379')).toThrow(/master_name/);
  });
});

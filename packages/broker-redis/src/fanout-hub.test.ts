import { EventEmitter } from 'node:events';
import { CeleriacError, ErrorCode, type LogFields } from '@celeriac/protocol';
import { ConnectionState, createRedisClient, parseRedisUrl } from '@celeriac/redis-connection';
import type * as RedisConnection from '@celeriac/redis-connection';
import { ReplyError, type Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FanoutHub } from './fanout-hub.ts';
import { KombuKeys } from './kombu-keys.ts';

vi.mock('@celeriac/redis-connection', async (importOriginal) => {
  const actual = await importOriginal<typeof RedisConnection>();
  return { ...actual, createRedisClient: vi.fn() };
});

/** The error reply ioredis rejects with when an ACL denies a channel (ioredis types ReplyError as `any`). */
function refusal(): Error {
  const error: unknown = new ReplyError('NOPERM this user has no permissions to access one of the channels used as arguments');
  if (!(error instanceof Error)) throw new Error('ioredis ReplyError is not an Error');
  return error;
}

/** The part of an ioredis subscriber client FanoutHub uses; PSUBSCRIBE refuses `denied` patterns. */
class FakeSubscriber extends EventEmitter {
  status = 'ready';
  readonly denied = new Set<string>();
  readonly calls: string[][] = [];
  psubscribe = vi.fn((...patterns: string[]): Promise<number> => {
    this.calls.push(patterns);
    if (patterns.some((p) => this.denied.has(p))) {
      return Promise.reject(refusal());
    }
    return Promise.resolve(patterns.length);
  });
  punsubscribe = vi.fn(() => Promise.resolve(0));
  ping = vi.fn(() => Promise.resolve('PONG'));
  quit = vi.fn(() => Promise.resolve('OK'));
  disconnect = vi.fn();
}

function settledWithin<T>(promise: Promise<T>, ms: number): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve({ ok: true, value });
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ ok: false, error });
      },
    );
  });
}

afterEach(() => {
  vi.mocked(createRedisClient).mockReset();
});

describe('FanoutHub resubscription', () => {
  it('rejects the waiters of patterns the server refuses after a reconnect and keeps the others', async () => {
    const fake = new FakeSubscriber();
    const state = new ConnectionState('fake-fanout');
    vi.mocked(createRedisClient).mockReturnValue({ redis: fake as unknown as Redis, state });
    const lines: string[] = [];
    const log = (level: string) => (message: string, fields?: LogFields) => lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
    const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    const keys = new KombuKeys({}, 0);
    const hub = new FanoutHub(parseRedisUrl('redis://127.0.0.1:6379/0'), keys, {
      name: 'fake-fanout',
      logger,
      timeoutMs: 1_000,
      healthCheckMs: 60_000,
    });
    try {
      state.setStatus('ready');
      await hub.subscribe('kept', '', () => undefined);

      // The connection drops; meanwhile two more bindings wait for the resubscription.
      state.setStatus('close');
      state.setStatus('reconnecting');
      const denied = keys.fanoutPattern('denied', '');
      fake.denied.add(denied);
      const refused = hub.subscribe('denied', '', () => undefined);
      const accepted = hub.subscribe('late', '', () => undefined);
      state.setStatus('ready'); // 'reconnected': the hub PSUBSCRIBEs every pattern again

      const refusedOutcome = await settledWithin(refused, 2_000);
      expect(refusedOutcome.ok).toBe(false);
      const error = (refusedOutcome as { error: unknown }).error;
      expect(error).toBeInstanceOf(CeleriacError);
      expect((error as CeleriacError).code).toBe(ErrorCode.INVALID_CONFIG);
      expect((error as Error).message).toContain('NOPERM');
      const acceptedOutcome = await settledWithin(accepted, 2_000);
      expect(acceptedOutcome.ok).toBe(true);

      // The refused pattern is dropped (and logged); the others are subscribed.
      expect(hub.patternCount).toBe(2);
      // (The calls that did not name the refused pattern are the ones the server accepted.)
      const subscribedNow = new Set(fake.calls.slice(1).filter((c) => !c.includes(denied)).flat());
      expect(subscribedNow).toContain(keys.fanoutPattern('kept', ''));
      expect(subscribedNow).toContain(keys.fanoutPattern('late', ''));
      expect(lines.some((l) => l.startsWith('error') && l.includes(denied) && l.includes('NOPERM'))).toBe(true);

      // A later reconnect does not try the dropped pattern again, and nothing hangs.
      state.setStatus('close');
      state.setStatus('reconnecting');
      const again = hub.subscribe('after', '', () => undefined);
      state.setStatus('ready');
      expect((await settledWithin(again, 2_000)).ok).toBe(true);
      expect(fake.calls.at(-1)).not.toContain(denied);
      expect(hub.patternCount).toBe(3);
    } finally {
      await hub.close();
    }
  });
});

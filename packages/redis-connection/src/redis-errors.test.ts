import { CeleriacError, ConnectionClosedError, TimeoutError } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { toRedisError, withoutSecrets } from './redis-errors.ts';

const context = { url: 'redis://:***@h:6379/0', timeoutMs: 1000 };

function replyError(message: string, command: { name: string; args: string[] }): Error {
  return Object.assign(new Error(message), { name: 'ReplyError', command });
}

describe('toRedisError', () => {
  it('never passes on the arguments of a failed AUTH', () => {
    const err = toRedisError(replyError('WRONGPASS invalid username-password pair', { name: 'auth', args: ['SECRET'] }), 'GET k', context);
    expect(err).toBeInstanceOf(CeleriacError);
    expect((err as CeleriacError).code).toBe('INVALID_CONFIG');
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain('SECRET');
    expect(JSON.stringify(err.cause, ['message', 'command', 'args'])).not.toContain('SECRET');
    const other = withoutSecrets(replyError('ERR x', { name: 'auth', args: ['SECRET'] }));
    expect((other as { command?: unknown }).command).toBeUndefined();
  });

  it('maps timeouts and closed connections to typed errors, and tells the owner of a timeout', () => {
    let told = 0;
    const timeout = toRedisError(new Error('Command timed out'), 'GET k', { ...context, onTimeout: () => told++ });
    expect(timeout).toBeInstanceOf(TimeoutError);
    expect(told).toBe(1);
    expect(toRedisError(new Error('Connection is closed.'), 'GET k', context)).toBeInstanceOf(ConnectionClosedError);
  });

  it('returns other errors as they are, and typed errors untouched', () => {
    const wrongType = replyError('WRONGTYPE Operation against a key holding the wrong kind of value', { name: 'get', args: ['k'] });
    expect(toRedisError(wrongType, 'GET k', context)).toBe(wrongType);
    const typed = new ConnectionClosedError('x');
    expect(toRedisError(typed, 'GET k', context)).toBe(typed);
  });
});

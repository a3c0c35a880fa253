import { describe, expect, it } from 'vitest';
import { CeleriacError } from '@celeriac/protocol';
import { parseRedisUrl, redactRedisUrl } from './redis-url.ts';

function invalid(url: string, transport = {}): CeleriacError {
  try {
    parseRedisUrl(url, transport);
  } catch (err) {
    expect(err).toBeInstanceOf(CeleriacError);
    return err as CeleriacError;
  }
  throw new Error(`expected ${url} to be refused`);
}

describe('parseRedisUrl', () => {
  it('reads redis:// with ACL user, password and db', () => {
    const c = parseRedisUrl('redis://alice:s%3Acret@redis.local:6380/3');
    expect(c).toMatchObject({ kind: 'standalone', db: 3, redactedUrl: 'redis://alice:***@redis.local:6380/3' });
    expect(c.options).toMatchObject({ host: 'redis.local', port: 6380, db: 3, username: 'alice', password: 's:cret' });
    expect(c.options.tls).toBeUndefined();
  });

  it('defaults host, port and db, and reads a password-only URL', () => {
    expect(parseRedisUrl('redis://').options).toMatchObject({ host: '127.0.0.1', port: 6379, db: 0 });
    const c = parseRedisUrl('redis://:pw@localhost');
    expect(c.options.password).toBe('pw');
    expect(c.options.username).toBeUndefined();
  });

  it('reads rediss:// with ssl_cert_reqs', () => {
    expect(parseRedisUrl('rediss://h:6390/0?ssl_cert_reqs=required').options.tls).toEqual({ rejectUnauthorized: true });
    expect(parseRedisUrl('rediss://h/0?ssl_cert_reqs=CERT_NONE').options.tls).toEqual({ rejectUnauthorized: false });
    expect(invalid('rediss://h/0?ssl_ca_certs=/nonexistent/ca.pem').message).toContain('ssl_ca_certs');
  });

  it('reads unix sockets in the three spellings Celery users write', () => {
    expect(parseRedisUrl('unix:///run/redis.sock?db=2').options).toMatchObject({ path: '/run/redis.sock', db: 2 });
    expect(parseRedisUrl('redis+socket:///run/redis.sock?virtual_host=4').options).toMatchObject({ path: '/run/redis.sock', db: 4 });
    expect(parseRedisUrl('socket:///tmp/r.sock').options).toMatchObject({ path: '/tmp/r.sock', db: 0 });
  });

  it('reads Sentinel URLs joined by ";" with master_name', () => {
    const c = parseRedisUrl('sentinel://:pw@s1:26379/1;sentinel://s2:26380', { master_name: 'mymaster', sentinel_kwargs: { password: 'spw' } });
    expect(c.kind).toBe('sentinel');
    expect(c.db).toBe(1);
    expect(c.options).toMatchObject({
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }],
      name: 'mymaster', password: 'pw', sentinelPassword: 'spw', role: 'master', db: 1,
    });
    expect(c.redactedUrl).toBe('sentinel://:***@s1:26379/1;sentinel://s2:26380');
  });

  it('refuses what cannot work, without ever echoing the password', () => {
    const cases = [
      ['amqp://guest:secret1@h//', {}],
      ['redis://u:secret2@h/notadb', {}],
      ['sentinel://:secret3@s1:26379', {}],
      ['unix://', {}],
      ['not a url secret4', {}],
    ] as const;
    for (const [url, transport] of cases) {
      const err = invalid(url, transport);
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.message).not.toMatch(/secret[0-9]/);
    }
  });
});

describe('redactRedisUrl', () => {
  it('hides passwords in userinfo and query', () => {
    expect(redactRedisUrl('redis://u:p@h/0')).toBe('redis://u:***@h/0');
    expect(redactRedisUrl('redis://:p@h')).toBe('redis://:***@h');
    expect(redactRedisUrl('redis://tokenonly@h')).toBe('redis://***@h');
    expect(redactRedisUrl('unix:///s.sock?password=p&db=1')).toBe('unix:///s.sock?password=***&db=1');
    expect(redactRedisUrl('redis://h:6379/0')).toBe('redis://h:6379/0');
    expect(redactRedisUrl('host:6379 with pw secret')).toBe('(not a URL)');
    // A raw password holding '@' or '/' is hidden whole.
    expect(redactRedisUrl('redis://:p@ss@host/0')).toBe('redis://:***@host/0');
    expect(redactRedisUrl('redis://:123/456@host/0')).toBe('redis://:***@host/0');
    expect(redactRedisUrl('redis://u:a/b@c@host:6379/2')).toBe('redis://u:***@host:6379/2');
    expect(redactRedisUrl('redis://host/0?client=a@b')).toBe('redis://host/0?client=a@b');
  });
});

describe('parseRedisUrl never echoes a password holding @ or /', () => {
  it('parses and redacts', () => {
    const c = parseRedisUrl('redis://:p@ss@host/0');
    expect(c.options.password).toBe('p@ss');
    expect(c.redactedUrl).not.toContain('p@ss');
    expect(c.redactedUrl).not.toContain('ss@');
    try {
      parseRedisUrl('redis://:123/SECRET@host/x');
    } catch (err) {
      expect((err as Error).message).not.toContain('SECRET');
      return;
    }
    throw new Error('expected a refusal');
  });
});

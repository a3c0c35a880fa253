import { describe, expect, it } from 'vitest';
import { monitorTargetOf, parseMonitorLine } from './redis-monitor.ts';

describe('parseMonitorLine', () => {
  it('reads time, database, client and arguments', () => {
    expect(parseMonitorLine('1700000000.123456 [3 127.0.0.1:51234] "SUBSCRIBE" "a" "b" "c"')).toEqual({
      time: 1700000000123.456,
      db: 3,
      client: '127.0.0.1:51234',
      args: ['SUBSCRIBE', 'a', 'b', 'c'],
    });
  });

  it('unescapes like sdscatrepr: quotes, backslashes, control bytes and UTF-8 as \\xHH', () => {
    const line = String.raw`1.000001 [0 lua] "set" "q\x06\x16x" "caf\xc3\xa9" "a\" \"b" "\\" "\r\n\t\a\b" ""`;
    expect(parseMonitorLine(line)?.args).toEqual(['set', 'q\x06\x16x', 'café', 'a" "b', '\\', '\r\n\t\x07\b', '']);
    expect(parseMonitorLine(line)?.client).toBe('lua');
  });

  it('rejects what is not a MONITOR line', () => {
    expect(parseMonitorLine('OK')).toBeUndefined();
    expect(parseMonitorLine('1.2 [0 x] "unterminated')).toBeUndefined();
  });
});

describe('monitorTargetOf', () => {
  it('takes host, port and credentials from the URL, and refuses TLS', () => {
    expect(monitorTargetOf('redis://u%40x:p%3Aw@10.0.0.1:6380/2')).toMatchObject({
      connect: { host: '10.0.0.1', port: 6380 },
      username: 'u@x',
      password: 'p:w',
    });
    expect(monitorTargetOf('redis://localhost')).toMatchObject({ connect: { host: 'localhost', port: 6379 } });
    expect(() => monitorTargetOf('rediss://localhost')).toThrow(TypeError);
  });
});

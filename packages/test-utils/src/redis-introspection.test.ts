import { describe, expect, it } from 'vitest';
import { parseClientList } from './redis-introspection.ts';

describe('parseClientList', () => {
  it('parses one record per line, splitting each field at its first =', () => {
    const text =
      'id=3 addr=127.0.0.1:50000 name= db=0 sub=2 cmd=client|list\n' +
      'id=4 addr=127.0.0.1:50001 name=a=b db=1 sub=0 cmd=subscribe\n';
    expect(parseClientList(text)).toEqual([
      { id: '3', addr: '127.0.0.1:50000', name: '', db: '0', sub: '2', cmd: 'client|list' },
      { id: '4', addr: '127.0.0.1:50001', name: 'a=b', db: '1', sub: '0', cmd: 'subscribe' },
    ]);
    expect(parseClientList('')).toEqual([]);
  });
});

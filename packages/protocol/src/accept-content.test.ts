import { describe, expect, it } from 'vitest';
import { AcceptContent } from './accept-content.ts';
import { createSerializerRegistry } from './default-serializers.ts';
import { CeleriacError, ContentDisallowedError } from './errors.ts';

describe('AcceptContent', () => {
  it('accepts json only by default', () => {
    const accept = new AcceptContent();
    expect(accept.accepts('application/json')).toBe(true);
    expect(accept.accepts('application/x-msgpack')).toBe(false);
  });

  it('takes names or MIME types, ignoring case and parameters', () => {
    const accept = new AcceptContent(['msgpack', 'application/JSON'], createSerializerRegistry());
    expect(accept.contentTypes).toEqual(['application/x-msgpack', 'application/json']);
    expect(accept.accepts('application/json; charset=utf-8')).toBe(true);
  });

  it('throws ContentDisallowedError with the task id and the accepted list', () => {
    const accept = new AcceptContent(['json']);
    try {
      accept.assert('application/x-python-serialize', 'abc');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ContentDisallowedError);
      expect((err as ContentDisallowedError).taskId).toBe('abc');
      expect((err as Error).message).toContain('application/json');
    }
  });

  it('refuses an unknown serializer name at configuration time', () => {
    expect(() => new AcceptContent(['jsn'])).toThrow(CeleriacError);
    expect(() => new AcceptContent(['jsn'])).toThrow(/jsn/);
  });

  it('an empty list accepts nothing', () => {
    expect(new AcceptContent([]).accepts('application/json')).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { formatTraceback } from './traceback.ts';

describe('formatTraceback', () => {
  it('lists the JS frames oldest first, then module.Type: message, as Python does', () => {
    function inner(): never {
      throw new RangeError('out of range');
    }
    function outer(): never {
      return inner();
    }
    let error: unknown;
    try {
      outer();
    } catch (e) {
      error = e;
    }
    const text = formatTraceback(error);
    expect(text.startsWith('Traceback (most recent call last):\n')).toBe(true);
    expect(text.endsWith('celeriac.RangeError: out of range\n')).toBe(true);
    const frames = text.split('\n').filter((l) => l.startsWith('  File '));
    expect(frames.length).toBeGreaterThan(1);
    const outerAt = frames.findIndex((f) => f.endsWith('in outer'));
    const innerAt = frames.findIndex((f) => f.endsWith('in inner'));
    expect(outerAt).toBeGreaterThanOrEqual(0);
    expect(innerAt).toBe(frames.length - 1);
    expect(outerAt).toBeLessThan(innerAt);
    expect(frames[innerAt]).toMatch(/^ {2}File ".*traceback\.test\.ts", line \d+, in inner$/);
  });

  it('names builtins without a module and formats non-errors', () => {
    expect(formatTraceback(new TypeError('bad'))).toMatch(/\nTypeError: bad\n$/);
    expect(formatTraceback('plain string')).toBe('Traceback (most recent call last):\nException: plain string\n');
  });
});

import { describe, expect, it } from 'vitest';
import { bindArguments } from './bind-arguments.ts';
import { TaskArgumentsError } from './worker-errors.ts';

describe('bindArguments', () => {
  const sleep = { name: 'tasks.sleep', params: ['seconds', 'value'] };

  it('puts keywords at their parameter positions, leaving gaps undefined', () => {
    expect(bindArguments(sleep, [], { value: 'v' })).toEqual([undefined, 'v']);
    expect(bindArguments(sleep, [1.5], { value: null })).toEqual([1.5, null]);
    expect(bindArguments(sleep, [1, 2], {})).toEqual([1, 2]);
  });

  it('is a TypeError for an unexpected or a repeated keyword, as in Python', () => {
    expect(() => bindArguments(sleep, [], { nope: 1 })).toThrow(new TaskArgumentsError("tasks.sleep() got an unexpected keyword argument 'nope'"));
    expect(() => bindArguments(sleep, [1], { seconds: 2 })).toThrow("tasks.sleep() got multiple values for argument 'seconds'");
    const error = (() => {
      try {
        bindArguments({ name: 't' }, [], { a: 1 });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ name: 'TypeError', excModule: 'builtins' });
  });

  it('passes the other keywords as one last object with acceptsKwargs, after the params', () => {
    const echo = { name: 'tasks.echo', acceptsKwargs: true };
    expect(bindArguments(echo, [1, 2], { a: 3 })).toEqual([1, 2, { a: 3 }]);
    const mixed = { name: 't', params: ['x', 'y'], acceptsKwargs: true };
    expect(bindArguments(mixed, [], { y: 2, z: 3 })).toEqual([undefined, 2, { z: 3 }]);
  });

  it('keeps "__proto__" and "constructor" keywords as own data keys', () => {
    const kwargs = JSON.parse('{"__proto__": {"polluted": 1}, "constructor": "c"}') as Record<string, never>;
    const [extra] = bindArguments({ name: 't', acceptsKwargs: true }, [], kwargs) as [Record<string, unknown>];
    expect(Object.keys(extra)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(extra)).toBeNull();
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

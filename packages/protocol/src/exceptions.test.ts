import { describe, expect, it } from 'vitest';
import { CeleriacError } from './errors.ts';
import { decodeException, encodeException, RemoteTaskError } from './exceptions.ts';

describe('encodeException', () => {
  it('maps JS errors named like Python builtins to builtins, others to celeriac', () => {
    expect(encodeException(new TypeError('bad'))).toEqual({ exc_type: 'TypeError', exc_message: ['bad'], exc_module: 'builtins' });
    expect(encodeException(new Error('x'))).toEqual({ exc_type: 'Error', exc_message: ['x'], exc_module: 'celeriac' });
    expect(encodeException(new RangeError('r')).exc_module).toBe('celeriac');
  });

  it('uses an error own args and excModule when present', () => {
    const err = Object.assign(new Error('ignored'), { name: 'InteropError', args: ['a', 1], excModule: 'tasks' });
    expect(encodeException(err)).toEqual({ exc_type: 'InteropError', exc_message: ['a', 1], exc_module: 'tasks' });
  });

  it('keeps a remote failure identity when re-raised', () => {
    const remote = new RemoteTaskError({ excType: 'KeyError', excModule: 'builtins', excMessage: ['k'] });
    expect(encodeException(remote)).toEqual({ exc_type: 'KeyError', exc_message: ['k'], exc_module: 'builtins' });
  });

  it('wraps non-errors as Exception', () => {
    expect(encodeException('plain')).toEqual({ exc_type: 'Exception', exc_message: ['plain'], exc_module: 'builtins' });
    expect(encodeException({ a: 1 }).exc_message).toEqual(["{'a': 1}"]);
  });

  it('never writes an unsafe class name', () => {
    const err = new Error('x');
    err.name = 'os.system("id")';
    expect(encodeException(err).exc_type).toBe('Error');
  });
});

describe('decodeException', () => {
  it('rebuilds the Python class name as the error name', () => {
    const err = decodeException({ exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' }, { taskId: 't', traceback: 'tb' });
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(err).toBeInstanceOf(CeleriacError);
    expect(err.name).toBe('ValueError');
    expect(err.message).toBe('ValueError: bad (task t)');
    expect(err.traceback).toBe('tb');
    expect(err.code).toBe('TASK_FAILED');
  });

  it('gives TASK_REVOKED and NOT_REGISTERED codes', () => {
    expect(decodeException({ exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' }).code).toBe('TASK_REVOKED');
    expect(decodeException({ exc_type: 'X', exc_message: [] }, { state: 'REVOKED' }).code).toBe('TASK_REVOKED');
    expect(decodeException({ exc_type: 'NotRegistered', exc_message: ['n'], exc_module: 'celery.exceptions' }).code).toBe('NOT_REGISTERED');
  });

  it('formats several args as Python str(exc) does', () => {
    expect(decodeException({ exc_type: 'E', exc_message: ['a', 1] }).message).toBe("E: ('a', 1)");
    expect(decodeException({ exc_type: 'TimeLimitExceeded', exc_message: [1] }).message).toBe('TimeLimitExceeded: 1');
  });

  it('turns forged or malformed metas into a plain Exception', () => {
    for (const forged of [null, 'str', [1], { exc_type: 42 }, { exc_type: '__import__("os")' }, { exc_type: 'x'.repeat(500) }]) {
      const err = decodeException(forged);
      expect(err).toBeInstanceOf(RemoteTaskError);
      expect(err.name).toBe('Exception');
    }
    expect(decodeException({ exc_type: 'E', exc_message: 'not a list' }).excMessage).toEqual(['not a list']);
  });
});

import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { AcceptContent } from './accept-content.ts';
import { jsonSerializer, msgpackSerializer } from './default-serializers.ts';
import { CeleriacError, ContentDisallowedError, DecodeError, LimitExceededError } from './errors.ts';
import { RemoteTaskError } from './exceptions.ts';
import {
  createResultMeta,
  decodeResultMeta,
  encodeResultMeta,
  errorFromMeta,
  pendingMeta,
} from './result-meta.ts';

const done = new Date('2026-11-27T18:55:55.217Z');

describe('createResultMeta + encodeResultMeta', () => {
  it('writes a SUCCESS meta exactly as Celery 5.2 does', () => {
    const meta = createResultMeta({ taskId: 'f9ff2838', status: 'SUCCESS', result: 5, dateDone: done });
    expect(Buffer.from(encodeResultMeta(meta)).toString('utf8')).toBe(
      JSON.stringify({ status: 'SUCCESS', result: 5, traceback: null, children: [], date_done: '2026-11-27T18:55:55.217000', task_id: 'f9ff2838' }),
    );
  });

  it('orders group_id, parent_id and the extended fields before task_id', () => {
    const meta = createResultMeta({
      taskId: 't', status: 'SUCCESS', result: 'v', dateDone: done, groupId: 'g', parentId: 'p',
      extended: { name: 'tasks.sleep', args: [1.5, 'v'], kwargs: {}, worker: 'w1@vm', retries: 0, queue: 'celery' },
    });
    expect(Object.keys(meta)).toEqual([
      'status', 'result', 'traceback', 'children', 'date_done', 'group_id', 'parent_id',
      'name', 'args', 'kwargs', 'worker', 'retries', 'queue', 'task_id',
    ]);
  });

  it('encodes the thrown value of a FAILURE as an exception info and leaves date_done null for RETRY', () => {
    class InteropError extends Error {
      override name = 'InteropError';
    }
    const failure = createResultMeta({ taskId: 't', status: 'FAILURE', result: new InteropError('boom ☃'), traceback: 'tb' });
    expect(failure.result).toEqual({ exc_type: 'InteropError', exc_message: ['boom ☃'], exc_module: 'celeriac' });
    expect(failure.date_done).not.toBeNull();
    const retry = createResultMeta({ taskId: 't', status: 'RETRY', result: new TypeError('again') });
    expect(retry.result).toEqual({ exc_type: 'TypeError', exc_message: ['again'], exc_module: 'builtins' });
    expect(retry.date_done).toBeNull();
  });

  it('round-trips through msgpack with bytes and int64', () => {
    const meta = createResultMeta({ taskId: 't', status: 'SUCCESS', result: [new Uint8Array([0, 255]), 2n ** 63n - 1n], dateDone: done });
    const back = decodeResultMeta(encodeResultMeta(meta, msgpackSerializer), { serializer: msgpackSerializer, taskId: 't' });
    expect(back).toEqual(meta);
  });
});

describe('decodeResultMeta', () => {
  it('checks result_accept_content before decoding', () => {
    const bytes = encodeResultMeta(createResultMeta({ taskId: 't', status: 'SUCCESS', result: 1 }), msgpackSerializer);
    const err = (() => {
      try {
        decodeResultMeta(bytes, { serializer: msgpackSerializer, accept: new AcceptContent(['json']), taskId: 't' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ContentDisallowedError);
    expect((err as ContentDisallowedError).taskId).toBe('t');
  });

  it('says so when a json reader meets a msgpack meta (celery-wire §3.3)', () => {
    const bytes = encodeResultMeta(createResultMeta({ taskId: 't', status: 'SUCCESS', result: 1 }), msgpackSerializer);
    expect(() => decodeResultMeta(bytes, { taskId: 't' })).toThrow(DecodeError);
    expect(() => decodeResultMeta(bytes, { taskId: 't' })).toThrow(/result_serializer/);
  });

  it('says so when a msgpack reader meets a json meta', () => {
    const bytes = encodeResultMeta(createResultMeta({ taskId: 't', status: 'SUCCESS', result: 1 }));
    expect(() => decodeResultMeta(bytes, { serializer: msgpackSerializer, taskId: 't' })).toThrow(/look like JSON/);
  });

  it('refuses foreign documents with INVALID_RESULT', () => {
    for (const text of ['[1, 2]', '{"result": 1}', '{"status": "SUCCESS", "task_id": 5}', '{"status": "SUCCESS", "traceback": 1}', '{"status": "SUCCESS", "task_id": "other"}', '"x"']) {
      const err = (() => {
        try {
          decodeResultMeta(text, { taskId: 'mine' });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, text).toBeInstanceOf(CeleriacError);
      expect((err as CeleriacError).code, text).toBe('INVALID_RESULT');
    }
  });

  it('refuses an oversized meta before decoding', () => {
    expect(() => decodeResultMeta('x'.repeat(100), { limits: { maxBytes: 10, maxDepth: 5 } })).toThrow(LimitExceededError);
  });

  it('fills Celery defaults for missing optional fields', () => {
    const meta = decodeResultMeta('{"status": "SUCCESS", "result": 1}', { taskId: 'x' });
    expect(meta).toEqual({ status: 'SUCCESS', result: 1, traceback: null, children: [], date_done: null, task_id: 'x' });
  });

  it('rebuilds a failure by name, never by constructor lookup', () => {
    const forged = JSON.stringify({
      status: 'FAILURE',
      result: { exc_type: 'exec', exc_message: ['rm -rf /'], exc_module: 'child_process' },
      traceback: null, children: [], date_done: null, task_id: 'f',
    });
    const err = errorFromMeta(decodeResultMeta(forged));
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(err.name).toBe('exec');
    expect(err.excModule).toBe('child_process');
    expect(err.code).toBe('TASK_FAILED');
  });

  it('pendingMeta is what Celery reports for a missing key', () => {
    expect(pendingMeta('p')).toEqual({ status: 'PENDING', result: null, traceback: null, children: [], date_done: null, task_id: 'p' });
  });

  it('decodes json metas with jsonSerializer by default', () => {
    expect(decodeResultMeta(encodeResultMeta(createResultMeta({ taskId: 'd', status: 'STARTED', result: { pid: 1 } }), jsonSerializer)).status).toBe('STARTED');
  });
});

import { Buffer } from 'node:buffer';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AcceptContent } from './accept-content.ts';
import { createSerializerRegistry, jsonSerializer, msgpackSerializer } from './default-serializers.ts';
import {
  CeleriacError,
  ContentDisallowedError,
  DecodeError,
  EncodeError,
  InvalidMessageError,
  LimitExceededError,
} from './errors.ts';
import { decodeTaskMessage, encodeTaskMessage, parseEnvelope, type KombuEnvelope } from './task-message.ts';

const now = new Date('2026-11-27T18:54:12.894Z');

function envelopeOf(input: Parameters<typeof encodeTaskMessage>[0] = { task: 'tasks.add', args: [2, 3] }): KombuEnvelope {
  return structuredClone(encodeTaskMessage(input, { now }).envelope);
}

function raw(env: unknown): string {
  return JSON.stringify(env);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('encodeTaskMessage', () => {
  it('writes the canonical header set, all four embed keys and every property', () => {
    const m = encodeTaskMessage({ task: 'tasks.add', args: [2, 3], id: 'tid' }, { now });
    expect(Object.keys(m.envelope.headers)).toEqual([
      'lang', 'task', 'id', 'shadow', 'eta', 'expires', 'group', 'group_index', 'retries', 'timelimit',
      'root_id', 'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result',
    ]);
    expect(m.envelope.headers).toMatchObject({
      lang: 'py', task: 'tasks.add', id: 'tid', root_id: 'tid', retries: 0, timelimit: [null, null],
      argsrepr: '(2, 3)', kwargsrepr: '{}', ignore_result: false,
    });
    expect(m.envelope.headers['origin']).toMatch(/^gen\d+@/);
    expect(Object.keys(m.envelope.properties)).toEqual([
      'correlation_id', 'reply_to', 'delivery_mode', 'delivery_info', 'priority', 'body_encoding', 'delivery_tag',
    ]);
    expect(m.envelope.properties.delivery_tag).toMatch(/^[0-9a-f-]{36}$/);
    expect(m.envelope.properties.delivery_info).toEqual({ exchange: '', routing_key: 'celery' });
    const body = JSON.parse(Buffer.from(m.envelope.body, 'base64').toString('utf8')) as unknown;
    expect(body).toEqual([[2, 3], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]);
    expect(m.envelope['content-type']).toBe('application/json');
    expect(m.envelope['content-encoding']).toBe('utf-8');
  });

  it('writes eta and expires with six fractional digits and an explicit offset', () => {
    const m = encodeTaskMessage({ task: 't', countdown: 10, expires: 60 }, { now });
    expect(m.envelope.headers['eta']).toBe('2026-11-27T18:54:22.894000+00:00');
    expect(m.envelope.headers['expires']).toBe('2026-11-27T18:55:12.894000+00:00');
    expect(m.envelope.properties.expiration).toBe('60000');
    expect(Object.keys(m.envelope.properties)).toContain('expiration');
  });

  it('puts custom headers after the standard ones and refuses to replace a standard one', () => {
    const m = encodeTaskMessage({ task: 't', headers: { 'x-custom': 'v1' } });
    expect(Object.keys(m.envelope.headers).at(-1)).toBe('x-custom');
    const err = thrown(() => encodeTaskMessage({ task: 't', headers: { id: 'forged' } }));
    expect(err).toBeInstanceOf(InvalidMessageError);
  });

  it('refuses contradictory or ill-typed options with InvalidMessageError', () => {
    for (const input of [
      { task: '' },
      { task: 't', countdown: 1, eta: new Date() },
      { task: 't', priority: 1.5 },
      { task: 't', priority: -1 },
      { task: 't', countdown: Number.NaN },
      { task: 't', eta: new Date('nope') },
      { task: 't', args: 'x' as unknown as unknown[] },
      { task: 't', kwargs: [] as unknown as Record<string, unknown> },
    ]) {
      const err = thrown(() => encodeTaskMessage(input));
      expect(err, JSON.stringify(input)).toBeInstanceOf(InvalidMessageError);
      expect((err as InvalidMessageError).code).toBe('INVALID_MESSAGE');
    }
  });

  it('names the argument that json cannot encode and suggests msgpack', () => {
    const err = thrown(() => encodeTaskMessage({ task: 't', id: 'tid', args: [1, new Uint8Array([0, 1])] }));
    expect(err).toBeInstanceOf(EncodeError);
    expect((err as EncodeError).path).toBe('args[1]');
    expect((err as EncodeError).message).toMatch(/msgpack/);
    expect((err as EncodeError).message).toMatch(/tid/);
  });

  it('encodes bytes with msgpack', () => {
    const m = encodeTaskMessage({ task: 't', args: [new Uint8Array([0, 255])] }, { serializer: msgpackSerializer });
    expect(m.envelope['content-type']).toBe('application/x-msgpack');
    expect(m.envelope['content-encoding']).toBe('binary');
    const back = decodeTaskMessage(m.raw, { accept: new AcceptContent(['msgpack']) });
    expect(back.args).toEqual([new Uint8Array([0, 255])]);
  });
});

describe('decodeTaskMessage: what real Celery accepts (celery-wire §1.2)', () => {
  it('a plain-text body without body_encoding', () => {
    const env = envelopeOf();
    env.body = Buffer.from(env.body, 'base64').toString('utf8');
    delete env.properties.body_encoding;
    expect(decodeTaskMessage(raw(env)).args).toEqual([2, 3]);
  });

  it('minimal headers {task, id}, embed {} and minimal properties', () => {
    const env = {
      body: Buffer.from(JSON.stringify([[1, 2], {}, {}])).toString('base64'),
      'content-type': 'application/json',
      'content-encoding': 'utf-8',
      headers: { task: 'tasks.add', id: 'x1' },
      properties: { body_encoding: 'base64', delivery_tag: 'dt', delivery_info: { exchange: '', routing_key: 'celery' } },
    };
    const m = decodeTaskMessage(raw(env));
    expect(m.headers).toMatchObject({ task: 'tasks.add', id: 'x1', retries: 0, timelimit: [null, null], eta: null });
    expect(m.embed).toEqual({ callbacks: null, errbacks: null, chain: null, chord: null });
  });

  it('embed null, content-encoding null, argsrepr null, timelimit null, priority null, lang ts', () => {
    const env = envelopeOf();
    env.body = Buffer.from(JSON.stringify([[1], {}, null])).toString('base64');
    env['content-encoding'] = null;
    Object.assign(env.headers, { argsrepr: null, kwargsrepr: null, timelimit: null, lang: 'ts' });
    env.properties.priority = null;
    const m = decodeTaskMessage(raw(env));
    expect(m.args).toEqual([1]);
    expect(m.headers.timelimit).toEqual([null, null]);
    expect(m.headers.lang).toBe('ts');
  });

  it('a JS-style eta with milliseconds and Z (read as milliseconds, unlike Celery 5.2)', () => {
    const env = envelopeOf();
    env.headers['eta'] = '2026-11-27T18:54:22.123Z';
    expect(decodeTaskMessage(raw(env)).eta?.toISOString()).toBe('2026-11-27T18:54:22.123Z');
  });

  it('a zlib-compressed body', () => {
    const env = envelopeOf();
    env.body = deflateSync(Buffer.from(JSON.stringify([['x'], {}, null]))).toString('base64');
    env.headers['compression'] = 'application/x-gzip';
    expect(decodeTaskMessage(raw(env)).args).toEqual(['x']);
  });

  it('a protocol v1 message, converted to v2', () => {
    const body = {
      task: 'tasks.add', id: 'v1id', args: [11, 11], kwargs: {}, group: null, retries: 0, eta: null,
      expires: null, utc: true, callbacks: null, errbacks: null, timelimit: [null, null], taskset: 'gid', chord: null,
    };
    const env = { ...envelopeOf(), headers: {}, body: Buffer.from(JSON.stringify(body)).toString('base64') };
    const m = decodeTaskMessage(raw(env));
    expect(m.protocol).toBe(1);
    expect(m.headers).toMatchObject({ task: 'tasks.add', id: 'v1id', root_id: 'v1id', group: 'gid' });
    expect(m.args).toEqual([11, 11]);
  });

  it('a hybrid v2 message whose body is a v1-style dict', () => {
    const env = envelopeOf();
    env.body = Buffer.from(JSON.stringify({ args: [1], kwargs: { a: 2 }, callbacks: null })).toString('base64');
    const m = decodeTaskMessage(raw(env));
    expect(m.protocol).toBe(2);
    expect(m.args).toEqual([1]);
    expect(m.kwargs).toEqual({ a: 2 });
  });
});

describe('decodeTaskMessage: bad input gets a typed error, never an untyped one', () => {
  const cases: [string, () => unknown, new (...args: never[]) => CeleriacError, string | undefined][] = [
    ['an envelope that is not JSON', () => decodeTaskMessage('{"body": '), DecodeError, undefined],
    ['an envelope that is a JSON array', () => decodeTaskMessage('[1, 2]'), InvalidMessageError, undefined],
    ['a 2-element body', () => {
      const env = envelopeOf({ task: 't', id: 'two' });
      env.body = Buffer.from('[[1], {}]').toString('base64');
      return decodeTaskMessage(raw(env));
    }, InvalidMessageError, 'two'],
    ['a 4-element body', () => {
      const env = envelopeOf({ task: 't', id: 'four' });
      env.body = Buffer.from('[[1], {}, {}, 1]').toString('base64');
      return decodeTaskMessage(raw(env));
    }, InvalidMessageError, 'four'],
    ['args that are not a list', () => {
      const env = envelopeOf({ task: 't', id: 'args' });
      env.body = Buffer.from('[{"a": 1}, {}, {}]').toString('base64');
      return decodeTaskMessage(raw(env));
    }, InvalidMessageError, 'args'],
    ['a missing delivery_tag', () => {
      const env = envelopeOf({ task: 't', id: 'nodt' });
      delete (env.properties as Partial<typeof env.properties>).delivery_tag;
      return decodeTaskMessage(raw(env));
    }, InvalidMessageError, 'nodt'],
    ['a missing delivery_info', () => {
      const env = envelopeOf({ task: 't', id: 'nodi' });
      delete (env.properties as Partial<typeof env.properties>).delivery_info;
      return decodeTaskMessage(raw(env));
    }, InvalidMessageError, 'nodi'],
    ['delivery_info without exchange', () => {
      const env = envelopeOf({ task: 't', id: 'noex' });
      env.properties.delivery_info = { routing_key: 'celery' } as never;
      return decodeTaskMessage(raw(env));
    }, InvalidMessageError, 'noex'],
    ['bad base64', () => {
      const env = envelopeOf({ task: 't', id: 'b64' });
      env.body = 'W1sy!!!';
      return decodeTaskMessage(raw(env));
    }, DecodeError, 'b64'],
    ['a body that is not JSON', () => {
      const env = envelopeOf({ task: 't', id: 'badjson' });
      env.body = Buffer.from('[[1], {}, {').toString('base64');
      return decodeTaskMessage(raw(env));
    }, DecodeError, 'badjson'],
    ['truncated msgpack', () => {
      const m = encodeTaskMessage({ task: 't', id: 'trunc', args: ['hello world'] }, { serializer: msgpackSerializer });
      const env = structuredClone(m.envelope);
      env.body = Buffer.from(env.body, 'base64').subarray(0, 6).toString('base64');
      return decodeTaskMessage(raw(env), { accept: new AcceptContent(['msgpack']) });
    }, DecodeError, 'trunc'],
    ['an unknown __type__ tag', () => {
      const env = envelopeOf({ task: 't', id: 'tag' });
      env.body = Buffer.from('[[{"__type__": "evil", "__value__": 1}], {}, {}]').toString('base64');
      return decodeTaskMessage(raw(env));
    }, DecodeError, 'tag'],
    ['a bad eta', () => {
      const env = envelopeOf({ task: 't', id: 'eta' });
      env.headers['eta'] = 'tomorrow';
      return decodeTaskMessage(raw(env));
    }, InvalidMessageError, 'eta'],
    ['a retries header that is not an integer', () => {
      const env = envelopeOf({ task: 't', id: 'ret' });
      env.headers['retries'] = 'x';
      return decodeTaskMessage(raw(env));
    }, InvalidMessageError, 'ret'],
    ['an unsupported compression', () => {
      const env = envelopeOf({ task: 't', id: 'bz' });
      env.headers['compression'] = 'application/x-bz2';
      return decodeTaskMessage(raw(env));
    }, DecodeError, 'bz'],
    ['a content type that is accepted but has no serializer', () => {
      const env = envelopeOf({ task: 't', id: 'yaml' });
      env['content-type'] = 'application/x-yaml';
      return decodeTaskMessage(raw(env), { accept: new AcceptContent(['yaml']) });
    }, DecodeError, 'yaml'],
  ];

  for (const [name, run, errorClass, taskId] of cases) {
    it(name, () => {
      const err = thrown(run);
      expect(err).toBeInstanceOf(errorClass);
      expect(err).toBeInstanceOf(CeleriacError);
      expect((err as { taskId?: string }).taskId).toBe(taskId);
      expect((err as Error).message.length).toBeGreaterThan(10);
    });
  }

  it('refuses a content type outside the whitelist before decoding the body', () => {
    const env = envelopeOf({ task: 't', id: 'pk' });
    env['content-type'] = 'application/x-python-serialize';
    env.body = 'not even base64 !!!';
    const err = thrown(() => decodeTaskMessage(raw(env)));
    expect(err).toBeInstanceOf(ContentDisallowedError);
    expect((err as ContentDisallowedError).taskId).toBe('pk');
    expect((err as Error).message).toContain('application/x-python-serialize');
  });

  it('refuses msgpack unless accepted (json only by default)', () => {
    const m = encodeTaskMessage({ task: 't', id: 'mp' }, { serializer: msgpackSerializer });
    expect(() => decodeTaskMessage(m.raw)).toThrow(ContentDisallowedError);
  });

  it('refuses an oversized envelope and body before decoding', () => {
    const big = encodeTaskMessage({ task: 't', id: 'big', args: ['x'.repeat(10_000)] });
    const limits = { maxBytes: 1000, maxDepth: 10 };
    expect(() => decodeTaskMessage(big.raw, { limits })).toThrow(LimitExceededError);
    const env = parseEnvelope(big.raw);
    const err = thrown(() => decodeTaskMessage(env, { limits: { maxBytes: 5000, maxDepth: 10 } }));
    expect(err).toBeInstanceOf(LimitExceededError);
    expect((err as LimitExceededError).taskId).toBe('big');
  });

  it('refuses deeply nested arguments with LimitExceededError, not a stack overflow', () => {
    const env = envelopeOf({ task: 't', id: 'deep' });
    env.body = Buffer.from(`[[${'['.repeat(100_000)}${']'.repeat(100_000)}], {}, {}]`).toString('base64');
    const err = thrown(() => decodeTaskMessage(raw(env)));
    expect(err).toBeInstanceOf(LimitExceededError);
    expect((err as LimitExceededError).taskId).toBe('deep');
  });

  it('keeps __proto__ and constructor kwargs as plain data', () => {
    const env = envelopeOf();
    env.body = Buffer.from('[[], {"__proto__": {"polluted": 1}, "constructor": {"prototype": 2}}, {}]').toString('base64');
    const m = decodeTaskMessage(raw(env));
    expect(Object.keys(m.kwargs)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(m.kwargs)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(m.kwargs, '__proto__')?.value).toEqual({ polluted: 1 });
  });

  it('round-trips every value type with msgpack', () => {
    const registry = createSerializerRegistry();
    const args = ['héllo ☃ 𝄞', new Uint8Array([0, 1, 254, 255]), 9223372036854775807n, -9223372036854775808n, 1.5, null, [1, [2]], { k: true }];
    const m = encodeTaskMessage({ task: 't', args }, { serializer: registry.get('msgpack') });
    expect(decodeTaskMessage(m.raw, { accept: new AcceptContent(['msgpack'], registry) }).args).toEqual(args);
  });

  it('round-trips big ints, NaN and astral text with json', () => {
    const args = [1180591620717411303424n, Number.NaN, Number.POSITIVE_INFINITY, 'h\u00e9llo \u{1d11e}'];
    const m = encodeTaskMessage({ task: 't', args }, { serializer: jsonSerializer });
    expect(decodeTaskMessage(m.raw).args).toEqual(args);
  });
});

/**
 * Golden vectors: every message real Celery 5.2.6 published (celery-captures/publish_raw.json
 * and the task messages in the w_*.log MONITOR captures) decodes to the fields Python
 * decoded, and our encoding of the same calls decodes to the same values.
 */
import { describe, expect, it } from 'vitest';
import {
  AcceptContent,
  ContentDisallowedError,
  createSerializerRegistry,
  decodeResultMeta,
  decodeTaskMessage,
  encodeTaskMessage,
  errorFromMeta,
  jsonSerializer,
  msgpackSerializer,
  READY_STATES,
  type TaskMessage,
  type TaskMessageInput,
} from '../src/index.ts';
import {
  fixture,
  untag,
  type CapturedResultMeta,
  type CapturedTaskMessage,
  type ExpectedPublish,
  type PublishRaw,
} from './fixtures.ts';

const registry = createSerializerRegistry();
const acceptBoth = new AcceptContent(['json', 'msgpack'], registry);
const publishRaw = fixture<PublishRaw>('celery-5.2.6-publish-raw.json');
const expected = fixture<ExpectedPublish[]>('celery-5.2.6-publish-expected.json');
const captured = fixture<CapturedTaskMessage[]>('celery-5.2.6-task-messages.json');
const labelById = new Map(publishRaw.labels.map(([label, id]) => [id, label]));

function rawOf(e: ExpectedPublish): string {
  const item = publishRaw.queues[e.key]?.[e.index];
  if (item === undefined || typeof item === 'string') throw new Error(`fixture ${e.key}[${e.index}] is not a message`);
  return item.raw;
}

/** The Celery call that produced a decoded message, as our encoder's input. */
function inputOf(m: TaskMessage): TaskMessageInput {
  const h = m.headers;
  const custom = Object.fromEntries(
    Object.entries(h).filter(
      ([k]) =>
        ![
          'lang', 'task', 'id', 'shadow', 'eta', 'expires', 'group', 'group_index', 'retries', 'timelimit',
          'root_id', 'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result', 'compression',
        ].includes(k),
    ),
  );
  return {
    task: h.task,
    id: h.id,
    args: m.args,
    kwargs: m.kwargs,
    ...(m.eta === null ? {} : { eta: m.eta }),
    ...(m.expires === null ? {} : { expires: m.expires }),
    priority: m.properties.priority ?? 0,
    queue: m.properties.delivery_info.routing_key,
    retries: h.retries,
    timeLimit: h.timelimit[0],
    softTimeLimit: h.timelimit[1],
    shadow: h.shadow,
    group: h.group,
    groupIndex: h.group_index,
    rootId: h.root_id,
    parentId: h.parent_id,
    ignoreResult: h.ignore_result,
    headers: custom,
    callbacks: m.embed.callbacks,
    errbacks: m.embed.errbacks,
    chain: m.embed.chain,
    chord: m.embed.chord,
    origin: h.origin ?? undefined,
    replyTo: m.properties.reply_to,
    argsrepr: h.argsrepr ?? undefined,
    kwargsrepr: h.kwargsrepr ?? undefined,
    deliveryTag: m.properties.delivery_tag,
    compression: h['compression'] === 'application/x-gzip' ? 'zlib' : null,
  };
}

describe('publish_raw.json (every apply_async variant Celery 5.2.6 sent)', () => {
  it('holds the 26 captured messages', () => {
    expect(expected).toHaveLength(26);
  });

  for (const e of expected) {
    const raw = rawOf(e);
    const id = (JSON.parse(raw) as { headers: { id?: string } }).headers.id;
    const label = (id === undefined ? 'protocol1' : labelById.get(id)) ?? `${e.key}[${e.index}]`;

    if (e.contentType === 'application/x-python-serialize') {
      it(`${label}: pickle is refused before decoding, with the task id`, () => {
        const err = (() => {
          try {
            decodeTaskMessage(raw, { accept: acceptBoth });
          } catch (caught) {
            return caught;
          }
          return undefined;
        })();
        expect(err).toBeInstanceOf(ContentDisallowedError);
        expect((err as ContentDisallowedError).code).toBe('CONTENT_DISALLOWED');
        expect((err as ContentDisallowedError).taskId).toBe(id);
        expect((err as ContentDisallowedError).contentType).toBe('application/x-python-serialize');
      });
      continue;
    }

    it(`${label}: decodes to the values Python decoded`, () => {
      const m = decodeTaskMessage(raw, { accept: acceptBoth });
      const body = untag(e.body) as unknown;
      if (m.protocol === 1) {
        const v1 = body as Record<string, unknown>;
        expect(m.headers.task).toBe(v1['task']);
        expect(m.headers.id).toBe(v1['id']);
        expect(m.args).toEqual(v1['args']);
        expect(m.kwargs).toEqual(v1['kwargs']);
        expect(m.headers.retries).toBe(v1['retries']);
        expect(m.embed).toEqual({ callbacks: null, errbacks: null, chain: null, chord: null });
      } else {
        const [args, kwargs, embed] = body as [unknown, unknown, unknown];
        expect(m.headers.task).toBe(e.task);
        expect(m.args).toEqual(args);
        expect(m.kwargs).toEqual(kwargs);
        expect(m.embed).toEqual(embed);
      }
      expect(m.contentType).toBe(e.contentType);
      expect(m.properties.delivery_info.routing_key).toBe(e.key.split('\x06\x16')[0]);
    });

    if (e.task !== null) {
      it(`${label}: our encoding of the same call decodes to the same values`, () => {
        const original = decodeTaskMessage(raw, { accept: acceptBoth });
        const serializer = original.contentType === 'application/x-msgpack' ? msgpackSerializer : jsonSerializer;
        const ours = encodeTaskMessage(inputOf(original), { serializer });
        const again = decodeTaskMessage(ours.raw, { accept: acceptBoth });
        const pythonEnvelope = JSON.parse(raw) as { headers: Record<string, unknown>; properties: Record<string, unknown> };

        expect(again.args).toEqual(original.args);
        expect(again.kwargs).toEqual(original.kwargs);
        expect(again.embed).toEqual(original.embed);
        const { eta: _e1, expires: _x1, ...ourHeaders } = again.headers;
        const { eta: _e2, expires: _x2, ...theirHeaders } = original.headers;
        expect(ourHeaders).toEqual(theirHeaders);
        // ETA and expires: same instant to the millisecond (JS dates hold ms, Python µs).
        expect(again.eta?.getTime()).toBe(original.eta === null ? undefined : Math.floor(original.eta.getTime()));
        expect(again.expires?.getTime()).toBe(original.expires === null ? undefined : original.expires.getTime());
        // Same header keys in the same order as Python (custom ones after the standard set).
        expect(Object.keys(ours.envelope.headers)).toEqual(Object.keys(pythonEnvelope.headers));
        expect(Object.keys(ours.envelope.properties)).toEqual(Object.keys(pythonEnvelope.properties));
        expect(Object.keys(ours.envelope)).toEqual(['body', 'content-encoding', 'content-type', 'headers', 'properties']);
        const { expiration: ourExpiration, ...ourProps } = again.properties;
        const { expiration: theirExpiration, ...theirProps } = original.properties;
        expect(ourProps).toEqual(theirProps);
        expect(ourExpiration === undefined).toBe(theirExpiration === undefined);
        expect(ours.queue).toBe(e.key.split('\x06\x16')[0]);
      });
    }
  }

  it('canonical add(2, 3) encodes to the very bytes Python wrote, but for the envelope separators', () => {
    const e = expected[0];
    if (e === undefined) throw new Error('no fixture');
    const raw = rawOf(e);
    const original = decodeTaskMessage(raw);
    const ours = encodeTaskMessage(inputOf(original));
    const python = JSON.parse(raw) as Record<string, unknown>;
    const body = (s: string): unknown => JSON.parse(Buffer.from(s, 'base64').toString('utf8'));
    expect(body(ours.envelope.body)).toEqual(body(python['body'] as string));
    expect(JSON.parse(ours.raw.toString('utf8'))).toEqual({ ...python, body: ours.envelope.body });
  });
});

describe('task messages in the w_*.log MONITOR captures', () => {
  it('holds the 42 captured task messages, restored ones included', () => {
    expect(captured).toHaveLength(42);
    expect(captured.filter((c) => c.command === 'RPUSH')).toHaveLength(3);
  });

  for (const [i, c] of captured.entries()) {
    it(`${c.source} #${i} (${c.command} ${JSON.stringify(c.key)})`, () => {
      const env = JSON.parse(c.raw) as { headers: { id: string; task: string; redelivered?: boolean } };
      if (c.raw.includes('"application/x-python-serialize"')) {
        expect(() => decodeTaskMessage(c.raw, { accept: acceptBoth })).toThrow(ContentDisallowedError);
        return;
      }
      const m = decodeTaskMessage(c.raw, { accept: acceptBoth });
      expect(m.headers.id).toBe(env.headers.id);
      expect(m.headers.task).toBe(env.headers.task);
      expect(m.properties.delivery_info.routing_key).toBe(c.key.split('\x06\x16')[0]);
      expect(Array.isArray(m.args)).toBe(true);
      if (c.command === 'RPUSH') {
        // kombu's restore marks the message redelivered in headers and delivery_info.
        expect(m.headers['redelivered']).toBe(true);
        expect(m.properties.delivery_info.redelivered).toBe(true);
      }
      if (c.source === 'w_retry.log' && m.headers.retries > 0) {
        expect(m.headers.parent_id).toBe(m.headers.id);
        expect(m.eta).toBeInstanceOf(Date);
      }
      if (c.source === 'w_chain.log' && m.embed.chain !== null) {
        expect(m.embed.chain.map((s) => s.task)).toEqual(m.embed.chain.map(() => 'tasks.add'));
      }
    });
  }
});

describe('result metas Celery 5.2.6 stored (SETEX celery-task-meta-*)', () => {
  const metas = fixture<CapturedResultMeta[]>('celery-5.2.6-result-metas.json');

  it('holds the 38 captured metas', () => {
    expect(metas).toHaveLength(38);
  });

  for (const [i, c] of metas.entries()) {
    it(`${c.source} #${i}`, () => {
      const taskId = c.key.slice('celery-task-meta-'.length);
      const meta = decodeResultMeta(c.text ?? Buffer.from(c.hex ?? '', 'hex'), {
        taskId,
        serializer: c.text === undefined ? msgpackSerializer : jsonSerializer,
      });
      expect(meta.task_id).toBe(taskId);
      expect(c.ttl).toBe(86400);
      if (READY_STATES.has(meta.status)) expect(meta.date_done).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/);
      else expect(meta.date_done).toBeNull();
      if (meta.status === 'FAILURE' || meta.status === 'REVOKED' || meta.status === 'RETRY') {
        const err = errorFromMeta(meta);
        const info = meta.result as { exc_type: string; exc_module: string };
        expect(err.name).toBe(info.exc_type);
        expect(err.excModule).toBe(info.exc_module);
        expect(err.code).toBe(
          meta.status === 'REVOKED' ? 'TASK_REVOKED' : info.exc_type === 'NotRegistered' ? 'NOT_REGISTERED' : 'TASK_FAILED',
        );
      }
    });
  }

  it('reads big ints and astral text in a stored result losslessly', () => {
    const c = metas.find((m) => m.source === 'w_types.log' && m.text?.includes('1180591620717411303424'));
    const meta = decodeResultMeta(c?.text ?? '');
    const [args] = meta.result as [unknown[]];
    expect(args[0]).toBe('héllo ☃ 𝄞');
    expect(args[2]).toBe(1180591620717411303424n);
    expect(args[4]).toBe(1e300);
  });
});

import { describe, expect, it } from 'vitest';
import { decodeUnackedRecord, markRedelivered } from './redelivered.ts';

const enc = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('markRedelivered', () => {
  it('sets both flags and keeps integers beyond 2^53 and the delivery tag', () => {
    const raw = enc(
      '{"body": "W10=", "content-type": "application/json", "headers": {"id": "t1", "n": 123456789012345678901234567890}, ' +
        '"properties": {"delivery_tag": "tag-1", "delivery_info": {"exchange": "", "routing_key": "celery"}}}',
    );
    const out = JSON.parse(markRedelivered(raw).toString('utf8').replace(/(\d{16,})/g, '"$1"')) as {
      headers: Record<string, unknown>;
      properties: { delivery_tag: string; delivery_info: Record<string, unknown> };
    };
    expect(out.headers).toMatchObject({ id: 't1', redelivered: true, n: '123456789012345678901234567890' });
    expect(out.properties.delivery_info).toEqual({ exchange: '', routing_key: 'celery', redelivered: true });
    expect(out.properties.delivery_tag).toBe('tag-1');
  });

  it('returns anything that is not a JSON object unchanged', () => {
    for (const raw of [enc('not json'), Buffer.from([0xff, 0x00]), enc('[1, 2]'), enc('"s"')]) {
      expect(markRedelivered(raw).equals(raw)).toBe(true);
    }
  });
});

describe('decodeUnackedRecord', () => {
  it('reads kombu records and marks the envelope', () => {
    const record = enc('[{"body": "e30=", "headers": {}, "properties": {"delivery_tag": "x", "delivery_info": {}}}, "", "celery"]');
    const decoded = decodeUnackedRecord(record);
    expect(decoded?.exchange).toBe('');
    expect(decoded?.routingKey).toBe('celery');
    expect(JSON.parse(decoded?.payload.toString('utf8') ?? '')).toMatchObject({
      headers: { redelivered: true },
      properties: { delivery_tag: 'x', delivery_info: { redelivered: true } },
    });
  });

  it('gives back the exact bytes of an element that was not JSON (stored as a Latin-1 string)', () => {
    const bytes = Buffer.from([0x6e, 0x22, 0x00, 0xff, 0xc3, 0xa9]);
    const record = enc(`[${JSON.stringify(bytes.toString('latin1'))}, "", "q"]`);
    expect(decodeUnackedRecord(record)?.payload.equals(bytes)).toBe(true);
  });

  it('refuses what is not [envelope, exchange, routing_key]', () => {
    expect(decodeUnackedRecord(enc('{}'))).toBeUndefined();
    expect(decodeUnackedRecord(enc('[1, 2]'))).toBeUndefined();
    expect(decodeUnackedRecord(enc('[{}, 1, "q"]'))).toBeUndefined();
    expect(decodeUnackedRecord(enc('nope'))).toBeUndefined();
  });
});

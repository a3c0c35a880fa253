import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WireValue } from '../src/index.ts';

const dir = join(import.meta.dirname, 'fixtures');

/** Reads a JSON fixture captured from real Celery 5.2.6. */
export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(dir, name), 'utf8')) as T;
}

/** Turns the tagged JSON written by fixtures/expected-publish.py back into wire values. */
export function untag(value: unknown): WireValue {
  if (Array.isArray(value)) return value.map(untag);
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (typeof obj['$bytes'] === 'string') return Uint8Array.from(Buffer.from(obj['$bytes'], 'hex'));
    if (typeof obj['$bigint'] === 'string') return BigInt(obj['$bigint']);
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, untag(v)]));
  }
  return value as WireValue;
}

export interface PublishRaw {
  labels: [string, string][];
  queues: Record<string, ({ raw: string; decoded_body: string } | string)[]>;
}

export interface ExpectedPublish {
  key: string;
  index: number;
  task: string | null;
  contentType: string;
  body: unknown;
}

export interface CapturedTaskMessage {
  source: string;
  command: 'LPUSH' | 'RPUSH';
  key: string;
  raw: string;
}

export interface CapturedResultMeta {
  source: string;
  key: string;
  ttl: number;
  text?: string;
  hex?: string;
}

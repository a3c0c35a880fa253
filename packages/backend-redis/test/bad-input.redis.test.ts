/**
 * Foreign, broken or refused values under result keys and on result channels (matrix rows
 * 17, 18, 23, 24 from the reader's side): the waiter of that id gets a typed error and the
 * consumer keeps serving every other id.
 */
import { randomUUID } from 'node:crypto';
import {
  CeleriacError,
  ContentDisallowedError,
  createResultMeta,
  DecodeError,
  ErrorCode,
  msgpackSerializer,
  RemoteTaskError,
} from '@celeriac/protocol';
import { celeryResultKey, createTestRedis, pubsubNumsub, waitUntil, type TestRedis } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { taskKey } from '../src/index.ts';
import { backendFor, success } from './helpers.ts';

function newIds(redis: TestRedis, count: number): string[] {
  const ids = Array.from({ length: count }, () => randomUUID());
  redis.track(...ids.map(celeryResultKey));
  return ids;
}

async function waitSubscribed(redis: TestRedis, ids: readonly string[]): Promise<void> {
  await waitUntil(async () => [...(await pubsubNumsub(redis.client, ids.map(taskKey))).values()].every((n) => n === 1));
}

describe('bad input', () => {
  it('a foreign value under a result key rejects its waiter with DecodeError; other ids still resolve', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const [bad, good] = newIds(redis, 2) as [string, string];
    await redis.client.set(taskKey(bad), 'not json');
    const goodWait = backend.asyncResult(good).get({ timeout: 5_000 });
    const error = await backend.asyncResult(bad).get({ timeout: 5_000 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DecodeError);
    expect(error).toMatchObject({ code: ErrorCode.DECODE_FAILED, taskId: bad });
    await expect(backend.get(bad)).rejects.toBeInstanceOf(DecodeError);
    await backend.store(success(good, 'fine'));
    expect(await goodWait).toBe('fine');
  });

  it('garbage published on a waited channel rejects that waiter; the consumer keeps running', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const [bad, notMeta, wrongId, good] = newIds(redis, 4) as [string, string, string, string];
    const waits = [bad, notMeta, wrongId, good].map((id) => backend.asyncResult(id).get({ timeout: 5_000 }).catch((err: unknown) => err));
    await waitSubscribed(redis, [bad, notMeta, wrongId, good]);
    await redis.client.publish(taskKey(bad), Buffer.from([0xff, 0x00, 0x7b]));
    await redis.client.publish(taskKey(notMeta), '[1, 2, 3]');
    await redis.client.publish(taskKey(wrongId), JSON.stringify({ status: 'SUCCESS', result: 1, task_id: 'someone-else' }));
    await backend.store(success(good, 'still served'));
    const [badError, notMetaError, wrongIdError, goodValue] = await Promise.all(waits);
    expect(badError).toBeInstanceOf(DecodeError);
    expect(notMetaError).toBeInstanceOf(CeleriacError);
    expect(notMetaError).toMatchObject({ code: ErrorCode.INVALID_RESULT });
    expect(wrongIdError).toMatchObject({ code: ErrorCode.INVALID_RESULT });
    expect(goodValue).toBe('still served');
    expect(backend.consumer.stats()).toMatchObject({ waiting: 0, reconnects: 0 });
    await waitUntil(() => backend.consumer.stats().subscribed === 0);
  });

  it('a result serializer outside the accept list gives ContentDisallowedError before decoding', async () => {
    await using redis = await createTestRedis();
    await using refusing = backendFor(redis.url, { resultSerializer: 'msgpack' }); // accept stays ['json']
    await using writer = backendFor(redis.url, { resultSerializer: 'msgpack', accept: ['msgpack'] });
    const [id] = newIds(redis, 1) as [string];
    await writer.store(success(id, 1));
    const error = await refusing.asyncResult(id).get({ timeout: 5_000 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ContentDisallowedError);
    expect(error).toMatchObject({ code: ErrorCode.CONTENT_DISALLOWED, contentType: 'application/x-msgpack' });
  });

  it('msgpack read by a json reader is a DecodeError that names the mismatch', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const [id] = newIds(redis, 1) as [string];
    await redis.client.set(taskKey(id), Buffer.from(msgpackSerializer.encode(success(id, 1))));
    const error = await backend.asyncResult(id).get({ timeout: 5_000 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as Error).message).toContain('msgpack');
  });

  it('a forged exception meta becomes a plain RemoteTaskError: nothing is looked up by name', async () => {
    await using redis = await createTestRedis();
    await using backend = backendFor(redis.url);
    const [id, odd] = newIds(redis, 2) as [string, string];
    await backend.store(createResultMeta({
      taskId: id,
      status: 'FAILURE',
      result: { exc_type: 'exec', exc_message: ['rm -rf /'], exc_module: 'child_process' },
    }));
    const error = await backend.asyncResult(id).get().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect(error).toMatchObject({ name: 'exec', excModule: 'child_process', excMessage: ['rm -rf /'] });
    await redis.client.set(taskKey(odd), JSON.stringify({ status: 'FAILURE', result: { exc_type: 'constructor.prototype', exc_message: 'x' }, task_id: odd }));
    const oddError = await backend.asyncResult(odd).get().catch((err: unknown) => err);
    expect(oddError).toBeInstanceOf(RemoteTaskError);
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });
});

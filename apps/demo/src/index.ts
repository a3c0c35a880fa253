/**
 * Celeriac demo (for now: the protocol layer against a real Redis). It publishes Celery
 * task messages exactly as `apply_async` would, pops them back as a worker would, stores
 * and reads result metas as Celery's Redis backend does, and shows the typed refusal of a
 * content type the reader does not accept. It cleans up every key it made.
 *
 * REDIS_URL defaults to redis://127.0.0.1:6379.
 */
import {
  AcceptContent,
  CeleriacError,
  createResultMeta,
  createSerializerRegistry,
  decodeResultMeta,
  decodeTaskMessage,
  encodeResultMeta,
  encodeTaskMessage,
  errorFromMeta,
  type Serializer,
} from '@celeriac/protocol';
import { Redis } from 'ioredis';

const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const registry = createSerializerRegistry();
const rows: [string, string, string][] = [];

function row(step: string, outcome: string, ok: boolean): void {
  rows.push([ok ? 'ok' : 'FAIL', step, outcome]);
  console.log(`${ok ? '  ✔' : '  ✘'} ${step}: ${outcome}`);
}

async function connect(): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (err) {
    console.error(
      `No Redis answers at ${url.replace(/\/\/[^@]*@/, '//***@')} (${(lastError ?? (err as Error)).message}).\n` +
        'Start one, for example `redis-server --daemonize yes --port 6379 --save ""`, ' +
        'or point REDIS_URL at one (redis://host:port/db).',
    );
    process.exit(2);
  }
}

async function roundTrip(redis: Redis, queue: string, serializer: Serializer, args: unknown[]): Promise<void> {
  const accept = new AcceptContent([serializer.name], registry);
  const sent = encodeTaskMessage({ task: 'tasks.echo', args, queue }, { serializer });
  await redis.lpush(queue, sent.raw);
  const popped = await redis.brpopBuffer(queue, 1);
  if (popped === null) throw new Error(`nothing in ${queue}`);
  const message = decodeTaskMessage(popped[1], { accept });
  const same = JSON.stringify(message.args, replacer) === JSON.stringify(args, replacer);
  row(`${serializer.name} task message`, `LPUSH + BRPOP ${sent.raw.byteLength} B, args ${same ? 'identical' : 'DIFFER'}`, same);

  const key = `celery-task-meta-${sent.taskId}`;
  const meta = createResultMeta({ taskId: sent.taskId, status: 'SUCCESS', result: [message.args, message.kwargs] });
  await redis.multi().setex(key, 60, Buffer.from(encodeResultMeta(meta, serializer))).publish(key, 'demo').exec();
  const stored = await redis.getBuffer(key);
  await redis.del(key);
  const back = decodeResultMeta(stored ?? Buffer.alloc(0), { serializer, accept, taskId: sent.taskId });
  const ok = back.status === 'SUCCESS' && JSON.stringify(back.result, replacer) === JSON.stringify(meta.result, replacer);
  row(`${serializer.name} result meta`, `SETEX + GET, status ${back.status}, result ${ok ? 'identical' : 'DIFFERS'}`, ok);
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('hex')}`;
  return value;
}

async function main(): Promise<void> {
  const redis = await connect();
  const queue = `celeriac-demo-${process.pid}-${Date.now()}`;
  console.log(`Celeriac demo against ${url.replace(/\/\/[^@]*@/, '//***@')}, queue ${queue}\n`);
  try {
    await roundTrip(redis, queue, registry.get('json'), ['héllo ☃ 𝄞', 2n ** 70n, { nested: [1, [2, null]] }]);
    await roundTrip(redis, queue, registry.get('msgpack'), [new Uint8Array([0, 1, 254, 255]), 2n ** 63n - 1n, 'binary ok']);

    // A worker that accepts json only meets a msgpack message: a typed refusal, not a crash.
    const refused = encodeTaskMessage({ task: 'tasks.echo', args: [new Uint8Array([1])], queue }, { serializer: registry.get('msgpack') });
    await redis.lpush(queue, refused.raw);
    const popped = await redis.brpopBuffer(queue, 1);
    try {
      decodeTaskMessage(popped?.[1] ?? Buffer.alloc(0));
      row('refused content type', 'decoded although not accepted', false);
    } catch (err) {
      const ok = err instanceof CeleriacError && err.code === 'CONTENT_DISALLOWED';
      row('refused content type', ok ? `${err.name} (${err.code}) for task ${refused.taskId}` : String(err), ok);
    }

    // A stored Python failure comes back as an error named by its exc_type, nothing imported.
    const failure = decodeResultMeta(
      '{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": ["bad"], "exc_module": "builtins"}, "traceback": null, "children": [], "date_done": "2026-11-27T18:55:56.451130", "task_id": "t"}',
    );
    const error = errorFromMeta(failure);
    row('remote failure', `${error.message} (code ${error.code})`, error.name === 'ValueError');
  } finally {
    await redis.del(queue);
    await redis.quit();
  }
  const failed = rows.filter(([status]) => status !== 'ok').length;
  console.log(`\n${rows.length - failed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();

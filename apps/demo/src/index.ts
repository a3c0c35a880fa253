/**
 * Celeriac end to end against Redis: a worker and a producer in one process (two apps, as two
 * services would have), showing what Celeriac is for, with live progress and a summary:
 *
 * 1. binary payloads and results through msgpack, and the clear refusal of a content type the
 *    worker does not accept (the client gets an error, not a hang);
 * 2. 10,000 concurrent sends awaiting results: one subscriber connection, one SUBSCRIBE per
 *    awaited id, no subscription left after;
 * 3. 100,000 fire-and-forget sends with a result backend: the producer's heap stays flat;
 * 4. with Celery under /usr/bin/python3: a Python Celery worker runs tasks sent from
 *    TypeScript and a chord crosses languages; a Python client's tasks run on ours.
 *
 * REDIS_URL defaults to redis://127.0.0.1:6379. Every key the demo makes is deleted at the
 * end (it checks). Exit code 0 when every step passed, 1 otherwise, 2 without Redis.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chord, createApp, type App } from '@celeriac/client';
import { RemoteTaskError } from '@celeriac/protocol';
import {
  assertCeleryAvailable,
  getResultsWithPython,
  publishWithPython,
  startCeleryWorker,
  type CeleryPeerOptions,
  type CeleryWorker,
} from '@celeriac/test-utils';
import { createWorker, type Worker } from '@celeriac/worker';
import { Redis } from 'ioredis';
import { Progress } from './progress.ts';

const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const shownUrl = url.replace(/\/\/[^@]*@/, '//***@');
const run = randomBytes(4).toString('hex');
const prefix = `celeriac-demo-${run}`;
const queues = { main: `${prefix}-main`, binary: `${prefix}-binary`, jsonOnly: `${prefix}-json-only`, burst: `${prefix}-burst`, py: `${prefix}-py`, ts: `${prefix}-ts` };
/** Every result key the demo made, deleted at the end. */
const resultIds = new Set<string>();

interface Row {
  readonly step: string;
  readonly outcome: string;
  readonly ok: boolean | 'skipped';
}
const rows: Row[] = [];

function record(step: string, outcome: string, ok: boolean | 'skipped'): void {
  rows.push({ step, outcome, ok });
  const mark = ok === 'skipped' ? '  –' : ok ? '  ✔' : '  ✘';
  console.log(`${mark} ${step}: ${outcome}`);
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

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
      `No Redis answers at ${shownUrl} (${(lastError ?? (err as Error)).message}).\n` +
        'Start one, for example `redis-server --daemonize yes --port 6379 --save ""` ' +
        '(Debian: `apt-get install -y redis-server`), or point REDIS_URL at one (redis://host:port/db).',
    );
    process.exit(2);
  }
}

/** The tasks our worker runs: the same names as the Python peer's tasks.py. */
function workerApp(config: Record<string, unknown>): App {
  const app = createApp({ broker_url: url, result_backend: url, result_expires: 600, ...config });
  app.task('tasks.add', { params: ['x', 'y'] }, (_ctx, x: number, y: number) => x + y);
  app.task('tasks.tsum', { params: ['values'] }, (_ctx, values: number[]) => values.reduce((a, b) => a + b, 0));
  app.task('demo.digest', { params: ['data'] }, (_ctx, data: Uint8Array) => ({
    sha256: new Uint8Array(createHash('sha256').update(data).digest()),
    reversed: Uint8Array.from(data).reverse(),
  }));
  return app;
}

// ---------------------------------------------------------------------------------------------

async function binaryAndRefusal(binaryProducer: App, producer: App): Promise<void> {
  console.log('\n1. Binary payloads through msgpack, and a refused content type');
  const digest = binaryProducer.taskRef<[Uint8Array], { sha256: Uint8Array; reversed: Uint8Array }>('demo.digest', { serializer: 'msgpack', queue: queues.binary });
  const payloads = Array.from({ length: 20 }, (_, i) => randomBytes(16_384 + i * 4096));
  const progress = new Progress('   msgpack round trips', payloads.length);
  let good = 0;
  await Promise.all(
    payloads.map(async (data) => {
      const handle = digest.delay(new Uint8Array(data));
      resultIds.add(handle.id);
      const result = await handle.get({ timeout: 15_000 });
      const sha = createHash('sha256').update(data).digest();
      if (Buffer.from(result.sha256).equals(sha) && Buffer.from(result.reversed).equals(Buffer.from(data).reverse())) good += 1;
      progress.tick();
    }),
  );
  progress.done();
  const bytes = payloads.reduce((n, p) => n + p.length, 0);
  record('msgpack binary', `${good}/${payloads.length} payloads (${fmt(bytes)} bytes) came back as bytes, digests right`, good === payloads.length);

  // A worker that accepts json only gets a msgpack message: FAILURE ContentDisallowed is
  // stored, so the waiting client gets a typed error at once instead of hanging.
  const started = Date.now();
  const refused = producer.sendTask('tasks.add', [1, 2], {}, { queue: queues.jsonOnly, serializer: 'msgpack' });
  resultIds.add(refused.id);
  const error = await refused.get({ timeout: 10_000 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  const ok = error instanceof RemoteTaskError && error.name === 'ContentDisallowed';
  record(
    'refused content type',
    ok ? `${error.name} (${error.excModule ?? ''}) after ${Date.now() - started} ms: "${error.message.slice(0, 80)}"` : `got ${String(error)}`,
    ok,
  );
}

async function concurrentSends(producer: App): Promise<void> {
  console.log('\n2. 10,000 concurrent sends awaiting their results');
  const add = producer.taskRef<[number, number], number>('tasks.add', { queue: queues.main });
  const backend = producer.backend;
  if (backend === undefined) throw new Error('the producer has no result backend');
  const before = backend.consumer.stats();
  const n = 10_000;
  const progress = new Progress('   results', n);
  const started = performance.now();
  const handles = Array.from({ length: n }, (_, i) => add.delay(i, i));
  for (const h of handles) resultIds.add(h.id);
  let right = 0;
  await Promise.all(
    handles.map(async (h, i) => {
      if ((await h.get({ timeout: 60_000 })) === 2 * i) right += 1;
      progress.tick();
    }),
  );
  progress.done();
  const seconds = (performance.now() - started) / 1000;
  // The last UNSUBSCRIBEs go out in a batch just after the last result: give them a moment.
  for (let i = 0; i < 50 && backend.consumer.stats().subscribed > 0; i++) await new Promise((r) => setTimeout(r, 20));
  const after = backend.consumer.stats();
  const channels = after.channelsSubscribed - before.channelsSubscribed;
  const commands = after.subscribeCommands - before.subscribeCommands;
  record('10,000 awaited sends', `${fmt(right)}/${fmt(n)} right in ${seconds.toFixed(1)} s (${fmt(Math.round(n / seconds))} round trips/s)`, right === n);
  record('one subscriber connection', `${after.reconnects === 0 ? 1 : `1 (+${after.reconnects} reconnects)`} pub/sub connection, status ${after.connection}`, after.reconnects === 0);
  record('SUBSCRIBE per awaited id', `${fmt(channels)} channels for ${fmt(n)} ids, in ${fmt(commands)} SUBSCRIBE commands`, channels === n);
  const probe = new Redis(url);
  try {
    const ids = [...handles.map((h) => h.id)];
    let left = 0;
    for (let i = 0; i < ids.length; i += 1000) {
      const reply = (await probe.call('PUBSUB', 'NUMSUB', ...ids.slice(i, i + 1000).map((id) => `celery-task-meta-${id}`))) as (string | number)[];
      for (let j = 1; j < reply.length; j += 2) left += Number(reply[j]);
    }
    record('subscriptions left', `${left} (PUBSUB NUMSUB over the 10,000 channels); ${after.subscribed} in the consumer`, left === 0 && after.subscribed === 0);
  } finally {
    probe.disconnect();
  }
}

async function fireAndForget(producer: App, redis: Redis): Promise<void> {
  console.log('\n3. 100,000 fire-and-forget sends with a result backend (handles dropped)');
  const add = producer.taskRef<[number, number], number>('tasks.add', { queue: queues.burst });
  const gc = (globalThis as { gc?: () => void }).gc;
  const heap = (): number => {
    gc?.();
    gc?.();
    return process.memoryUsage().heapUsed;
  };
  const readings: number[] = [heap()];
  const total = 100_000;
  const progress = new Progress('   sent', total);
  const started = performance.now();
  for (let batch = 0; batch < 4; batch++) {
    const sent: Promise<void>[] = [];
    for (let i = 0; i < total / 4; i++) sent.push(add.delay(i, i).sent);
    for (const s of sent) {
      await s;
      progress.tick();
    }
    readings.push(heap());
  }
  progress.done();
  const seconds = (performance.now() - started) / 1000;
  const queued = await redis.llen(queues.burst);
  record('100,000 sends', `${fmt(queued)} messages queued in ${seconds.toFixed(1)} s (${fmt(Math.round(total / seconds))}/s; no worker consumes this queue, it is deleted after)`, queued === total);
  const growth = (readings.at(-1) as number) - (readings[0] as number);
  record(
    'producer heap',
    `${readings.map(mb).join(' → ')} at 0/25k/50k/75k/100k (${growth >= 0 ? '+' : ''}${mb(growth)})${gc === undefined ? ' (run with --expose-gc for exact readings)' : ''}`,
    growth < 5 * 1024 * 1024,
  );
  const stats = producer.backend?.consumer.stats();
  record('nothing subscribed for dropped handles', `${stats?.subscribed ?? 0} channels subscribed`, (stats?.subscribed ?? 0) === 0);
}

async function pythonInterop(producer: App): Promise<void> {
  console.log('\n4. Python Celery 5.2 and Celeriac, both ways');
  let version: string;
  try {
    version = await assertCeleryAvailable();
  } catch {
    record('Python interop', 'skipped: no Celery under /usr/bin/python3 (apt-get install -y python3-celery python3-redis python3-msgpack)', 'skipped');
    return;
  }
  const peer: CeleryPeerOptions = { brokerUrl: url, queue: queues.ts };
  let python: CeleryWorker | undefined;
  try {
    const progress = new Progress(`   starting a Celery ${version} worker`, 1);
    python = await startCeleryWorker({ brokerUrl: url, queue: queues.py, pool: 'threads', concurrency: 4 });
    progress.tick();
    progress.done();
    const onPython = producer.sendTask<number>('tasks.add', [2, 3], {}, { queue: queues.py });
    resultIds.add(onPython.id);
    const five = await onPython.get({ timeout: 20_000 });
    record('TypeScript → Python worker', `tasks.add(2, 3) = ${five} on ${python.nodename}`, five === 5);

    const c = producer.applyAsync(
      chord(
        [1, 2, 3, 4].map((i) => producer.signature('tasks.add', [i, i], {}, { queue: queues.py })),
        producer.signature('tasks.tsum', [], {}, { queue: queues.main }),
      ),
    );
    resultIds.add(c.id);
    const sum = await c.get({ timeout: 20_000 });
    record('chord across languages', `header on Python, body on Celeriac: tsum([2, 4, 6, 8]) = ${String(sum)}`, sum === 20);

    const ids = await publishWithPython([{ task: 'tasks.add', args: [20, 22] }, { task: 'tasks.tsum', args: [[1, 2, 3]] }], peer);
    for (const id of ids) resultIds.add(id);
    const results = await getResultsWithPython(ids, 20, peer);
    const values = results.map((r) => r.result);
    record('Python client → Celeriac worker', `AsyncResult.get() = ${JSON.stringify(values)}`, JSON.stringify(values) === '[42,6]');
  } catch (error) {
    record('Python interop', `failed: ${error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error)}`, false);
  } finally {
    await python?.[Symbol.asyncDispose]();
  }
}

// ---------------------------------------------------------------------------------------------

async function cleanUp(redis: Redis): Promise<number> {
  const ids = [...resultIds];
  for (let i = 0; i < ids.length; i += 1000) {
    const keys = ids.slice(i, i + 1000).map((id) => `celery-task-meta-${id}`);
    await redis.del(...keys);
  }
  // Our queues, their priority lists and kombu bindings, and anything else named after this run.
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  // The refused message's dead-letter entry (the list is shared: remove only ours).
  for (const entry of await redis.lrange('celeriac.dead-letter', 0, -1)) {
    if (entry.includes(prefix)) await redis.lrem('celeriac.dead-letter', 1, entry);
  }
  let left = 0;
  for (let i = 0; i < ids.length; i += 1000) left += await redis.exists(...ids.slice(i, i + 1000).map((id) => `celery-task-meta-${id}`));
  const [, remaining] = await redis.scan('0', 'MATCH', `*${prefix}*`, 'COUNT', 100_000);
  return left + remaining.length;
}

function summary(seconds: number): void {
  const width = Math.max(...rows.map((r) => r.step.length));
  console.log(`\nSummary (${seconds.toFixed(1)} s, Redis ${shownUrl})\n`);
  console.log(`  ${'step'.padEnd(width)}  result`);
  console.log(`  ${'-'.repeat(width)}  ${'-'.repeat(6)}`);
  for (const r of rows) console.log(`  ${r.step.padEnd(width)}  ${r.ok === 'skipped' ? 'skipped' : r.ok ? 'ok' : 'FAILED'}`);
  const failed = rows.filter((r) => r.ok === false).length;
  const skipped = rows.filter((r) => r.ok === 'skipped').length;
  console.log(`\n${rows.length - failed - skipped} passed, ${failed} failed, ${skipped} skipped`);
  process.exitCode = failed === 0 ? 0 : 1;
}

async function main(): Promise<void> {
  const redis = await connect();
  const started = performance.now();
  console.log(`Celeriac demo against ${shownUrl} (queues ${prefix}-*)`);
  // The worker service: all json + msgpack; and one that accepts json only.
  const workerMain = workerApp({ task_default_queue: queues.main, accept_content: ['json', 'msgpack'], result_accept_content: ['json', 'msgpack'] });
  // Binary results need msgpack results too (json has no bytes); a Python client reading
  // results expects its own result_serializer, so the other workers keep json.
  const workerBinary = workerApp({ task_default_queue: queues.binary, result_serializer: 'msgpack', accept_content: ['json', 'msgpack'] });
  const workerJson = workerApp({ task_default_queue: queues.jsonOnly, accept_content: ['json'] });
  const producer = createApp({ broker_url: url, result_backend: url, result_expires: 600, task_default_queue: queues.main });
  // As in Celery, a result backend reads the result_serializer it is configured with.
  const binaryProducer = createApp({ broker_url: url, result_backend: url, result_serializer: 'msgpack', accept_content: ['json', 'msgpack'] });
  const workers: Worker[] = [
    createWorker(workerMain, { hostname: `demo-${run}@%h`, queues: [queues.main, queues.ts], concurrency: 64 }),
    createWorker(workerBinary, { hostname: `demo-binary-${run}@%h`, queues: [queues.binary], concurrency: 8 }),
    createWorker(workerJson, { hostname: `demo-json-${run}@%h`, queues: [queues.jsonOnly], concurrency: 1 }),
  ];
  try {
    for (const w of workers) await w.start();
    await binaryAndRefusal(binaryProducer, producer);
    await concurrentSends(producer);
    await fireAndForget(producer, redis);
    await pythonInterop(producer);
  } catch (error) {
    record('demo', `stopped by ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, false);
  } finally {
    for (const w of workers) await w.stop();
    await Promise.all([producer.close(), binaryProducer.close(), workerMain.close(), workerBinary.close(), workerJson.close()]);
    const left = await cleanUp(redis);
    record('nothing left behind', left === 0 ? `every key of this run deleted (${fmt(resultIds.size)} results, the queues)` : `${left} keys left`, left === 0);
    await redis.quit();
  }
  summary((performance.now() - started) / 1000);
}

await main();

// Part of the consumer test (scripts/consumer/run.mjs), copied into the temporary project and
// run there, so '@celeriac/*' resolve to the installed tarballs, never to the workspace.
//
// A producer app of @celeriac/client sends tasks.add(2, 3); a worker of @celeriac/worker on
// its own app, started in this process, runs it; the producer awaits 5. Every broker key is
// under a random global_keyprefix and the queue name is random; at the end this deletes those
// keys and the one result key, and checks that none is left. The shared Redis is never
// flushed, and its shared keys (celeriac-backend-epoch) are left alone.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp } from '@celeriac/client';
import { createWorker } from '@celeriac/worker';
import { Redis } from 'ioredis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const id = randomBytes(6).toString('hex');
const prefix = `celeriac-consumer:${id}:`;
const queue = `consumer-${id}`;
const config = {
  broker_url: url,
  result_backend: url,
  task_default_queue: queue,
  broker_transport_options: { global_keyprefix: prefix },
  worker_enable_remote_control: false,
};

const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
try {
  await redis.connect();
} catch (err) {
  console.error(`round trip: no Redis answers on ${url} (${err.message}); start one (bash scripts/services.sh) or set REDIS_URL`);
  process.exit(1);
}

const producer = createApp(config);
const add = producer.task('tasks.add', { params: ['x', 'y'] }, (_ctx, x, y) => x + y);

const workerApp = createApp(config);
workerApp.task('tasks.add', { params: ['x', 'y'] }, (_ctx, x, y) => x + y);
const worker = createWorker(workerApp, { concurrency: 1, hostname: `consumer-${id}@%h` });

let taskId;
let failure;
const started = performance.now();
try {
  await worker.start();
  const sent = add.delay(2, 3);
  taskId = sent.id;
  const value = await sent.get({ timeout: 15_000 });
  if (value !== 5) throw new Error(`expected tasks.add(2, 3) to give 5, got ${JSON.stringify(value)} (task ${taskId})`);
  console.log(`round trip: tasks.add(2, 3) = ${value} in ${Math.round(performance.now() - started)} ms (task ${taskId}, queue ${queue})`);
} catch (err) {
  failure = err;
} finally {
  await worker.stop();
  await workerApp.close();
  await producer.close();
}

// Clean up: our prefix, our result key; then check nothing of ours is left.
const ours = async () => {
  const keys = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (taskId !== undefined && (await redis.exists(`celery-task-meta-${taskId}`)) === 1) keys.push(`celery-task-meta-${taskId}`);
  return keys;
};
// A stopping worker's last acks may still be in flight on another connection: try twice.
for (let attempt = 0; attempt < 2; attempt++) {
  const keys = await ours();
  if (keys.length > 0) await redis.del(...keys);
  await sleep(50);
}
const left = await ours();
redis.disconnect();
if (left.length > 0) {
  console.error(`round trip: keys left behind: ${left.join(', ')}`);
  process.exitCode = 1;
}
if (failure !== undefined) {
  console.error('round trip failed:', failure);
  process.exitCode = 1;
}

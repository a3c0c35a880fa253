/**
 * One measurement in a child process of its own (so each peer starts from a fresh heap and
 * a worker's RSS is its own). The orchestrator forks this file with IPC and sends one
 * {@link ChildJob}; the child answers with {@link ChildReply} messages:
 *
 * - `enqueue`: warm up, then time `n` sends (all fired, all awaited) or one bulk call.
 * - `worker`: start a worker, answer `ready`, and `done` when the task ran `expect` times,
 *   timed from the first task's start to the last one's (so start-up is not counted).
 * - `roundtrip`: time `n` awaited calls, `inFlight` at a time (each of `inFlight` loops
 *   awaits one call after another), with every call's latency.
 * - `memory` (W4, Celeriac only, needs `--expose-gc`): `n` sends with a result backend,
 *   handles dropped, heap and RSS after `gc()` every `step` sends.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { loadNodePeer } from './node-peer.ts';
import type { ChildJob, ChildReply, MemoryReading } from './peers.ts';

function reply(message: ChildReply): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) {
      process.stdout.write(`${JSON.stringify(message)}\n`);
      resolve();
      return;
    }
    process.send(message, () => resolve());
  });
}

async function enqueue(job: Extract<ChildJob, { kind: 'enqueue' }>): Promise<ChildReply> {
  const peer = await loadNodePeer(job.peer, job.target);
  await peer.warmUp();
  const started = performance.now();
  if (job.bulk) {
    if (peer.sendBulk === undefined) throw new Error(`${job.peer} has no bulk API`);
    await peer.sendBulk(job.n);
  } else {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < job.n; i++) pending.push(peer.sendOne(i));
    await Promise.all(pending);
    await peer.flush();
  }
  const seconds = (performance.now() - started) / 1000;
  await peer.close();
  return { kind: 'enqueued', seconds, count: job.n };
}

async function worker(job: Extract<ChildJob, { kind: 'worker' }>): Promise<void> {
  const peer = await loadNodePeer(job.peer, job.target);
  let count = 0;
  let first = 0;
  const onTask = (): void => {
    count += 1;
    if (count === 1) first = performance.now();
    if (count === job.expect) void reply({ kind: 'done', seconds: (performance.now() - first) / 1000, count });
  };
  await peer.startWorker(job.concurrency, job.results, onTask);
  await reply({ kind: 'ready' });
  // Runs until the orchestrator, having read its peak RSS, says `stop` (or kills it).
}

async function roundtrip(job: Extract<ChildJob, { kind: 'roundtrip' }>): Promise<ChildReply> {
  const peer = await loadNodePeer(job.peer, job.target);
  await peer.call(-1);
  const latenciesMs: number[] = [];
  let next = 0;
  const loop = async (): Promise<void> => {
    while (next < job.n) {
      const i = next++;
      const t0 = performance.now();
      await peer.call(i);
      latenciesMs.push(performance.now() - t0);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: job.inFlight }, loop));
  const seconds = (performance.now() - started) / 1000;
  await peer.close();
  return { kind: 'roundtrip', seconds, count: job.n, latenciesMs };
}

async function memory(job: Extract<ChildJob, { kind: 'memory' }>): Promise<ChildReply> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('W4 needs node --expose-gc');
  // Imported here, not at the top: the other peers' children never load Celeriac.
  const { createApp } = await import('@celeriac/client');
  const { Redis } = await import('ioredis');
  const app = createApp({ broker_url: job.target.url, result_backend: job.target.url, task_default_queue: job.target.queue }, { env: {} });
  const task = app.taskRef<[number], number>('bench.noop');
  const readings: MemoryReading[] = [];
  const read = (sent: number): void => {
    gc();
    const usage = process.memoryUsage();
    readings.push({ sent, heapUsed: usage.heapUsed, rss: usage.rss });
  };
  read(0);
  const chunk = 1_000;
  for (let sent = 0; sent < job.n; ) {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < chunk && sent < job.n; i++, sent++) pending.push(task.delay(sent).sent);
    await Promise.all(pending);
    if (sent % job.step === 0) read(sent);
  }
  // What is still subscribed while the app is open: result channels, patterns, and the
  // connections in pub/sub mode (the server is the bench's own, so all of them are ours).
  const redis = new Redis(job.target.url);
  const channels = ((await redis.pubsub('CHANNELS', '*')) as string[]).length;
  const patterns = Number(await redis.pubsub('NUMPAT'));
  const clients = String(await redis.client('LIST'))
    .split('\n')
    .filter((line) => /\b(sub|psub)=[1-9]/.test(line)).length;
  redis.disconnect();
  await app.close();
  return { kind: 'memory', readings, subscriptions: { channels, patterns, clients } };
}

async function main(): Promise<void> {
  const job = await new Promise<ChildJob>((resolve) => process.once('message', (message) => resolve(message as ChildJob)));
  // A later `stop` ends the process at once; exiting normally (not by a signal) lets
  // `node --cpu-prof` write its profile.
  process.on('message', (message) => {
    if ((message as { kind?: string }).kind === 'stop') process.exit(0);
  });
  switch (job.kind) {
    case 'enqueue':
      await reply(await enqueue(job));
      break;
    case 'worker':
      await worker(job);
      return;
    case 'roundtrip':
      await reply(await roundtrip(job));
      break;
    case 'memory':
      await reply(await memory(job));
      break;
  }
  process.exit(0);
}

main().catch(async (error: unknown) => {
  await reply({ kind: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});

/**
 * The measurements: one variant of one workload for one peer, each in fresh processes
 * against the bench's own redis-server, which is emptied (FLUSHDB) after each.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { percentile } from './stats.ts';
import { isNodePeer, type PeerName, type PeerTarget, type SubscriptionCount, type MemoryReading } from './peers.ts';
import { NodeChild, peakRssBytes, PythonWorker, runChild, runPythonClient, type PythonPool } from './processes.ts';

/** One row group of the table. */
export const VARIANTS = ['w1-one', 'w1-bulk', 'w2-c1', 'w2-c32', 'w3-seq', 'w3-100'] as const;

/** A variant's id. */
export type Variant = (typeof VARIANTS)[number];

/** What one measurement found. */
export interface Sample {
  readonly tasksPerSecond: number;
  /** W2: the worker process's peak RSS. */
  readonly peakRssBytes?: number;
  /** W3: latency percentiles. */
  readonly p50Ms?: number;
  readonly p99Ms?: number;
}

/** Where measurements run and how big they are. */
export interface MeasureContext {
  readonly url: string;
  readonly port: number;
  readonly enqueueTasks: number;
  readonly processTasks: number;
  readonly roundTrips: number;
  /** W1/W2 task count for Python Celery. */
  readonly pythonTasks: number;
  /** Empties the bench's Redis. */
  flush(): Promise<void>;
  /** Extra Node flags for this peer's children (profiling). */
  execArgv(peer: PeerName, label: string): string[];
}

/** Called around the timed phase (MONITOR counting). */
export interface Probe {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const MINUTE = 60_000;

function target(ctx: MeasureContext, label: string): PeerTarget {
  return { url: ctx.url, host: '127.0.0.1', port: ctx.port, queue: `bench-${label}-${randomBytes(4).toString('hex')}` };
}

/**
 * @param variant - what to measure
 * @param peer - who
 * @param ctx - the sizes
 * @returns the number of tasks it involves
 */
export function tasksOf(variant: Variant, peer: PeerName, ctx: Pick<MeasureContext, 'enqueueTasks' | 'processTasks' | 'roundTrips' | 'pythonTasks'>): number {
  if (variant.startsWith('w3')) return ctx.roundTrips;
  if (peer === 'celery-py') return ctx.pythonTasks;
  return variant.startsWith('w1') ? ctx.enqueueTasks : ctx.processTasks;
}

/**
 * @param variant - what to measure
 * @param peer - who
 * @returns whether the peer has what the variant needs (celery-node has no bulk API)
 */
export function applies(variant: Variant, peer: PeerName): boolean {
  return !(variant === 'w1-bulk' && peer === 'celery-node');
}

async function enqueue(peer: PeerName, ctx: MeasureContext, bulk: boolean, probe: Probe | undefined, label: string): Promise<Sample> {
  const t = target(ctx, label);
  const n = tasksOf('w1-one', peer, ctx);
  await probe?.start();
  let seconds: number;
  if (isNodePeer(peer)) {
    seconds = (await runChild({ kind: 'enqueue', peer, target: t, n, bulk }, 'enqueued', 4 * MINUTE, ctx.execArgv(peer, label))).seconds;
  } else {
    seconds = (await runPythonClient<{ seconds: number }>(['enqueue', bulk ? 'pool' : 'loop', String(n)], t, false, 4 * MINUTE)).seconds;
  }
  await probe?.stop();
  return { tasksPerSecond: n / seconds };
}

async function drainBacklog(peer: PeerName, ctx: MeasureContext, concurrency: number, probe: Probe | undefined, label: string): Promise<Sample> {
  const t = target(ctx, label);
  const n = tasksOf('w2-c1', peer, ctx);
  // Pre-fill with the peer's own producer (bulk where it has one). Python Celery's queue is
  // filled by Celeriac's publishMany: the same protocol-2 messages on kombu's layout, in a
  // second instead of the ~20 s Python's producer takes (it is not what W2 measures).
  const producer = isNodePeer(peer) ? peer : 'celeriac';
  await runChild({ kind: 'enqueue', peer: producer, target: t, n, bulk: applies('w1-bulk', producer) }, 'enqueued', 4 * MINUTE);
  await probe?.start();
  let seconds: number;
  let rss: number | undefined;
  if (isNodePeer(peer)) {
    const child = new NodeChild({ kind: 'worker', peer, target: t, concurrency, expect: n, results: false }, ctx.execArgv(peer, label));
    try {
      await child.next('ready', MINUTE);
      seconds = (await child.next('done', 4 * MINUTE)).seconds;
      rss = peakRssBytes(child.pid);
    } finally {
      await child.stop();
    }
  } else {
    const pool: PythonPool = concurrency === 1 ? 'solo' : 'threads';
    const worker = new PythonWorker(t, { pool, concurrency, results: false, expect: n });
    try {
      seconds = (await worker.done(4 * MINUTE)).seconds;
      rss = peakRssBytes(worker.pid);
    } finally {
      await worker.stop();
    }
  }
  await probe?.stop();
  return { tasksPerSecond: n / seconds, ...(rss === undefined ? {} : { peakRssBytes: rss }) };
}

/** Worker concurrency while W3 runs (every peer the same; celery-node has no setting). */
export const ROUND_TRIP_CONCURRENCY = 32;

async function roundTrip(peer: PeerName, ctx: MeasureContext, inFlight: number, probe: Probe | undefined, label: string): Promise<Sample> {
  const t = target(ctx, label);
  const n = ctx.roundTrips;
  let result: { seconds: number; latenciesMs: number[] };
  if (isNodePeer(peer)) {
    const worker = new NodeChild({ kind: 'worker', peer, target: t, concurrency: ROUND_TRIP_CONCURRENCY, expect: 0, results: true }, ctx.execArgv(peer, `${label}-worker`));
    try {
      await worker.next('ready', MINUTE);
      await probe?.start();
      result = await runChild({ kind: 'roundtrip', peer, target: t, n, inFlight }, 'roundtrip', 4 * MINUTE, ctx.execArgv(peer, `${label}-client`));
      await probe?.stop();
    } finally {
      await worker.stop();
    }
  } else {
    const worker = new PythonWorker(t, { pool: 'threads', concurrency: ROUND_TRIP_CONCURRENCY, results: true, expect: 0 });
    try {
      await worker.ready(MINUTE);
      await probe?.start();
      result = await runPythonClient(['roundtrip', String(n), String(inFlight)], t, true, 4 * MINUTE);
      await probe?.stop();
    } finally {
      await worker.stop();
    }
  }
  return {
    tasksPerSecond: n / result.seconds,
    p50Ms: percentile(result.latenciesMs, 50) ?? Number.NaN,
    p99Ms: percentile(result.latenciesMs, 99) ?? Number.NaN,
  };
}

/**
 * Measures one variant for one peer, then empties the bench's Redis.
 *
 * @param variant - what
 * @param peer - who
 * @param ctx - where and how big
 * @param probe - called around the timed phase
 * @returns the sample
 */
export async function measure(variant: Variant, peer: PeerName, ctx: MeasureContext, probe?: Probe): Promise<Sample> {
  try {
    switch (variant) {
      case 'w1-one':
        return await enqueue(peer, ctx, false, probe, variant);
      case 'w1-bulk':
        return await enqueue(peer, ctx, true, probe, variant);
      case 'w2-c1':
        return await drainBacklog(peer, ctx, 1, probe, variant);
      case 'w2-c32':
        return await drainBacklog(peer, ctx, 32, probe, variant);
      case 'w3-seq':
        return await roundTrip(peer, ctx, 1, probe, variant);
      case 'w3-100':
        return await roundTrip(peer, ctx, 100, probe, variant);
    }
  } finally {
    await ctx.flush();
  }
}

/** W4's outcome. */
export interface MemoryResult {
  readonly readings: MemoryReading[];
  readonly subscriptions: SubscriptionCount;
}

/**
 * W4: Celeriac sends with a result backend, handles dropped, in a child with `--expose-gc`.
 *
 * @param ctx - where
 * @param sends - how many
 * @param step - read memory every this many sends
 * @returns the readings and what is subscribed at the end
 */
export async function measureMemory(ctx: MeasureContext, sends: number, step: number): Promise<MemoryResult> {
  try {
    const reply = await runChild({ kind: 'memory', target: target(ctx, 'w4'), n: sends, step }, 'memory', 4 * MINUTE, ['--expose-gc', ...ctx.execArgv('celeriac', 'w4')]);
    return { readings: reply.readings, subscriptions: reply.subscriptions };
  } finally {
    await ctx.flush();
  }
}

/**
 * `pnpm bench`: Celeriac against BullMQ, bee-queue, celery-node and Python Celery 5.2 on one
 * dedicated redis-server (started here, the same binary for every peer, emptied after each
 * measurement), interleaved rounds (A, B, C, A, B, C, …; each round starts one peer later),
 * medians. Prints one table and the goals, writes `bench-results/<timestamp>.json`.
 * See README.md for the workloads and each peer's settings.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { celeryPython, monitorRedis, startRedisServer, type RedisMonitor } from '@celeriac/test-utils';
import { Redis } from 'ioredis';
import { parseOptions, USAGE, type BenchOptions } from './options.ts';
import { PEER_LABELS, type PeerName } from './peers.ts';
import { measureCeiling, type CeilingResult } from './redis-ceiling.ts';
import { evaluateGoals, mediansOf, renderGoals, renderTable, type ReportInput, type Samples } from './report.ts';
import { formatNumber } from './stats.ts';
import { applies, measure, measureMemory, tasksOf, VARIANTS, ROUND_TRIP_CONCURRENCY, type MeasureContext, type MemoryResult, type Probe, type Variant } from './workloads.ts';
import { CELERY_NODE_POLL_MS } from './peer-celery-node.ts';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function pythonCeleryVersion(): string | undefined {
  const out = spawnSync(celeryPython(), ['-c', 'import celery, redis; print(celery.__version__)'], { encoding: 'utf8', env: { ...process.env, PYTHONHOME: '', PYTHONPATH: '' } });
  return out.status === 0 ? out.stdout.trim() : undefined;
}

function versionOf(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function variantsOf(options: BenchOptions): Variant[] {
  return VARIANTS.filter((v) => options.workloads.has(v.slice(0, 2) as 'w1' | 'w2' | 'w3'));
}

/** Per-task Redis command counts from MONITOR, by client commands and Lua-internal calls. */
interface CommandCount {
  readonly perTask: number;
  readonly luaPerTask: number;
  readonly top: string;
}

function monitorProbe(url: string, onResult: (monitor: RedisMonitor) => void): Probe {
  let monitor: RedisMonitor | undefined;
  return {
    async start() {
      monitor = await monitorRedis(url, { maxCommands: 5_000_000 });
    },
    async stop() {
      // MONITOR lines trail the commands: give the last ones a moment to arrive.
      await new Promise((r) => setTimeout(r, 300));
      if (monitor !== undefined) onResult(monitor);
      await monitor?.stop();
    },
  };
}

function countCommands(monitor: RedisMonitor, tasks: number): CommandCount {
  const all = monitor.commands((c) => (c.args[0] ?? '').toLowerCase() !== 'monitor');
  const client = all.filter((c) => c.client !== 'lua');
  const byName = new Map<string, number>();
  for (const c of client) {
    const name = (c.args[0] ?? '').toUpperCase();
    byName.set(name, (byName.get(name) ?? 0) + 1);
  }
  const top = [...byName.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([name, n]) => `${name} ${(n / tasks).toFixed(2)}`)
    .join(', ');
  return { perTask: client.length / tasks, luaPerTask: (all.length - client.length) / tasks, top };
}

async function main(): Promise<void> {
  const parsed = parseOptions(process.argv.slice(2), resolve(PACKAGE_DIR, 'bench-results'));
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const options = parsed;
  const notes: string[] = [];
  let peers = [...options.peers];
  const celeryVersion = peers.includes('celery-py') ? pythonCeleryVersion() : undefined;
  if (peers.includes('celery-py') && celeryVersion === undefined) {
    peers = peers.filter((p) => p !== 'celery-py');
    notes.push(`Python Celery skipped: ${celeryPython()} -c 'import celery, redis' failed (apt-get install -y python3-celery python3-redis)`);
  }
  const started = new Date();
  const server = await startRedisServer({ persistence: 'none' });
  const admin = new Redis(server.url);
  const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
  const cpuProfDir = options.cpuProfDir === undefined ? undefined : resolve(options.cpuProfDir);
  if (cpuProfDir !== undefined) mkdirSync(cpuProfDir, { recursive: true });
  const ctx: MeasureContext = {
    url: server.url,
    port: server.port,
    enqueueTasks: options.enqueueTasks,
    processTasks: options.processTasks,
    roundTrips: options.roundTrips,
    pythonTasks: options.pythonTasks,
    flush: async () => {
      await admin.flushdb();
    },
    execArgv: (peer, label) =>
      peer === 'celeriac' && cpuProfDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${label}-${Date.now()}.cpuprofile`] : [],
  };
  const variants = variantsOf(options);
  const samples: Samples = {};
  const commands: Partial<Record<Variant, Partial<Record<PeerName, CommandCount>>>> = {};
  let ceiling: CeilingResult | undefined;
  let memory: MemoryResult | undefined;
  const failures: string[] = [];
  try {
    if (options.workloads.has('ceiling') && !options.monitor) {
      log('Redis ceiling: redis-benchmark …');
      ceiling = await measureCeiling(server.port, options.quick ? 20_000 : 200_000);
    }
    for (let run = 0; run < options.runs; run++) {
      for (const variant of variants) {
        // Each round starts one peer later, so no peer always runs right after the same one.
        const order = peers.map((_, i) => peers[(i + run) % peers.length] as PeerName);
        for (const peer of order) {
          if (!applies(variant, peer)) continue;
          const t0 = Date.now();
          const tasks = tasksOf(variant, peer, ctx);
          try {
            const probe = options.monitor
              ? monitorProbe(server.url, (monitor) => {
                  (commands[variant] ??= {})[peer] = countCommands(monitor, tasks);
                  if (options.monitorOut !== undefined) {
                    mkdirSync(options.monitorOut, { recursive: true });
                    const lines = monitor.commands().map((c) => JSON.stringify(c));
                    writeFileSync(join(options.monitorOut, `${variant}-${peer}.jsonl`), `${lines.join('\n')}\n`);
                  }
                })
              : undefined;
            const sample = await measure(variant, peer, ctx, probe);
            ((samples[variant] ??= {})[peer] ??= []).push(sample);
            const extra = sample.p50Ms === undefined ? '' : `, p50 ${formatNumber(sample.p50Ms)} ms, p99 ${formatNumber(sample.p99Ms)} ms`;
            const rss = sample.peakRssBytes === undefined ? '' : `, peak RSS ${(sample.peakRssBytes / 2 ** 20).toFixed(1)} MB`;
            log(`[run ${run + 1}/${options.runs}] ${variant} ${PEER_LABELS[peer]}: ${formatNumber(sample.tasksPerSecond)} tasks/s${extra}${rss} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
          } catch (error) {
            const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
            failures.push(`run ${run + 1} ${variant} ${peer}: ${message}`);
            log(`[run ${run + 1}/${options.runs}] ${variant} ${PEER_LABELS[peer]}: FAILED ${message}`);
          }
        }
      }
    }
    if (options.workloads.has('w4') && !options.monitor) {
      log(`W4: ${formatNumber(options.memorySends)} Celeriac sends with a result backend …`);
      try {
        memory = await measureMemory(ctx, options.memorySends, options.memoryStep);
      } catch (error) {
        failures.push(`w4: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  } finally {
    admin.disconnect();
    await server[Symbol.asyncDispose]();
  }

  if (options.monitor) {
    const rows = [['variant', 'peer', 'client cmds/task', 'in Lua/task', 'top client commands per task']];
    for (const variant of variants) {
      for (const peer of peers) {
        const c = commands[variant]?.[peer];
        if (c !== undefined) rows.push([variant, PEER_LABELS[peer], c.perTask.toFixed(2), c.luaPerTask.toFixed(2), c.top]);
      }
    }
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
    process.stdout.write(`Redis commands per task (MONITOR on the bench's own server, ${formatNumber(options.enqueueTasks)} tasks in W1/W2, ${formatNumber(options.roundTrips)} in W3; timings under MONITOR are not comparable)\n\n`);
    process.stdout.write(`${rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n')}\n`);
    for (const f of failures) process.stdout.write(`Failed: ${f}\n`);
    return;
  }

  const medians = mediansOf(samples);
  const versions = {
    node: process.version,
    redis: redisVersion,
    bullmq: versionOf('bullmq'),
    'bee-queue': versionOf('bee-queue'),
    'celery-node': versionOf('celery-node'),
    celery: celeryVersion ?? 'skipped',
  };
  notes.push(
    `W1 runs without a result backend for every peer (pure enqueue); W2 keeps no results where the peer allows (celery-node always SETs one); W3 workers run at concurrency ${ROUND_TRIP_CONCURRENCY} (Celery: threads pool).`,
    `W2 Celery: --pool solo for c=1, --pool threads -c 32 for c=32 (one process, so its RSS is comparable); celery-node has no concurrency setting (the same worker for c=1 and c=32).`,
    `celery-node's AsyncResult.get() polls every ${CELERY_NODE_POLL_MS} ms (its default is 500); Python's 100-in-flight W3 sends waves of 100 and joins each (Celery's result backend is not thread-safe).`,
  );
  const input: ReportInput = {
    peers: peers.filter((p) => variants.some((v) => samples[v]?.[p] !== undefined)),
    medians,
    memory,
    ceiling,
    header:
      `Celeriac bench ${started.toISOString()}: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}, ` +
      `redis-server ${redisVersion} (the bench's own), BullMQ ${versions.bullmq}, bee-queue ${versions['bee-queue']}, celery-node ${versions['celery-node']}, Celery ${versions.celery}\n` +
      `Medians of ${options.runs} interleaved run(s); W1/W2 ${formatNumber(options.enqueueTasks)} tasks (Python Celery ${formatNumber(options.pythonTasks)}: its rate is flat after the first thousand, and 20,000 would take ~40 s per measurement), W3 ${formatNumber(options.roundTrips)} round trips.`,
    notes,
  };
  const goals = evaluateGoals(input);
  process.stdout.write(`${renderTable(input)}\n\nGoals (issue 6):\n${renderGoals(goals)}\n`);
  if (failures.length > 0) process.stdout.write(`\nFailed measurements:\n${failures.map((f) => `  ${f}`).join('\n')}\n`);
  mkdirSync(options.outDir, { recursive: true });
  const file = join(options.outDir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const document = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemBytes: totalmem() },
    versions,
    options: { ...options, workloads: [...options.workloads] },
    ceiling,
    samples,
    medians,
    memory,
    goals,
    failures,
    notes,
  };
  writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
  process.stdout.write(`\nResults written to ${file}\n`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});

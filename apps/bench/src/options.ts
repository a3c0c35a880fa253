/**
 * Command-line options of `pnpm bench`.
 *
 * @module
 */
import { PEERS, type PeerName } from './peers.ts';

/** The workloads, as `--only` names them. */
export const WORKLOADS = ['ceiling', 'w1', 'w2', 'w3', 'w4'] as const;

/** A workload's id. */
export type Workload = (typeof WORKLOADS)[number];

/** What one bench run does. */
export interface BenchOptions {
  readonly quick: boolean;
  /** Interleaved rounds; the table shows medians over them. */
  readonly runs: number;
  readonly workloads: ReadonlySet<Workload>;
  readonly peers: readonly PeerName[];
  /** Tasks per W1 measurement. */
  readonly enqueueTasks: number;
  /** Tasks per W2 measurement. */
  readonly processTasks: number;
  /** Calls per W3 measurement. */
  readonly roundTrips: number;
  /** Tasks per W1 and W2 measurement of Python Celery (it runs 10-20x slower). */
  readonly pythonTasks: number;
  /** Sends in W4, read every `memoryStep`. */
  readonly memorySends: number;
  readonly memoryStep: number;
  /** Instead of timing: count Redis commands per task with MONITOR (one small run). */
  readonly monitor: boolean;
  /** With `monitor`: also write every command seen, as JSON lines, into this folder. */
  readonly monitorOut: string | undefined;
  /** Write `node --cpu-prof` profiles of Celeriac's children into this folder. */
  readonly cpuProfDir: string | undefined;
  /** Where the JSON goes. */
  readonly outDir: string;
}

/** `--help` text. */
export const USAGE = `pnpm bench [-- options]

  --quick              fewer tasks, 1 run (a smoke check)
  --only w1,w2,...     workloads: ${WORKLOADS.join(', ')} (default: all)
  --peers a,b,...      peers: ${PEERS.join(', ')} (default: all; celery-py is skipped
                       with a note when /usr/bin/python3 cannot import celery)
  --runs N             interleaved rounds (default 3; --quick: 1)
  --tasks N            W1 and W2 task count (default 20000; --quick: 2000)
  --round-trips N      W3 calls (default 2000; --quick: 200)
  --python-tasks N     W1 and W2 task count for Python Celery (default 5000, at most --tasks)
  --monitor            count Redis commands per task with MONITOR instead of timing
  --monitor-out DIR    with --monitor: write every command (time, client, args) as JSON lines to DIR
  --cpu-prof DIR       write node --cpu-prof profiles of Celeriac's processes to DIR
  --out DIR            where the JSON results go (default: bench-results/)
`;

function positiveInt(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} expects a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function list<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T[] {
  const items = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new Error(`${name}: unknown ${JSON.stringify(item)}; expected one of ${allowed.join(', ')}`);
  }
  if (items.length === 0) throw new Error(`${name} expects a comma-separated list of ${allowed.join(', ')}`);
  return items as T[];
}

/**
 * @param argv - the arguments after the script (a bare `--`, which pnpm may pass on, is ignored)
 * @param defaultOutDir - where results go without `--out`
 * @returns the options, or `'help'`
 * @throws for an unknown option or a bad value, saying which
 */
export function parseOptions(argv: readonly string[], defaultOutDir: string): BenchOptions | 'help' {
  let quick = false;
  let runs: number | undefined;
  let workloads: Workload[] = [...WORKLOADS];
  let peers: PeerName[] = [...PEERS];
  let tasks: number | undefined;
  let roundTrips: number | undefined;
  let pythonTasks: number | undefined;
  let monitor = false;
  let monitorOut: string | undefined;
  let cpuProfDir: string | undefined;
  let outDir = defaultOutDir;
  const args = argv.filter((a) => a !== '--');
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--quick':
        quick = true;
        break;
      case '--only':
        workloads = list('--only', value(), WORKLOADS);
        break;
      case '--peers':
        peers = list('--peers', value(), PEERS);
        break;
      case '--runs':
        runs = positiveInt('--runs', value());
        break;
      case '--tasks':
        tasks = positiveInt('--tasks', value());
        break;
      case '--round-trips':
        roundTrips = positiveInt('--round-trips', value());
        break;
      case '--python-tasks':
        pythonTasks = positiveInt('--python-tasks', value());
        break;
      case '--monitor':
        monitor = true;
        break;
      case '--monitor-out':
        monitorOut = value();
        monitor = true;
        if (monitorOut === undefined) throw new Error('--monitor-out expects a folder');
        break;
      case '--cpu-prof':
        cpuProfDir = value();
        if (cpuProfDir === undefined) throw new Error('--cpu-prof expects a folder');
        break;
      case '--out':
        outDir = value() ?? outDir;
        break;
      default:
        throw new Error(`Unknown option ${JSON.stringify(arg)}\n\n${USAGE}`);
    }
  }
  const small = quick || monitor;
  const enqueueTasks = tasks ?? (small ? 2_000 : 20_000);
  return {
    quick,
    runs: runs ?? (small ? 1 : 3),
    workloads: new Set(workloads),
    peers: PEERS.filter((p) => peers.includes(p)),
    enqueueTasks,
    processTasks: enqueueTasks,
    pythonTasks: Math.min(enqueueTasks, pythonTasks ?? 5_000),
    roundTrips: roundTrips ?? (small ? 200 : 2_000),
    memorySends: small ? 20_000 : 100_000,
    memoryStep: small ? 5_000 : 25_000,
    monitor,
    monitorOut,
    cpuProfDir,
    outDir,
  };
}

/**
 * The bench's output: one aligned plain-text table (medians, with ratios against the best
 * Node peer and against Python Celery), the goals as PASS/FAIL lines, and the JSON document.
 *
 * @module
 */
import { formatNumber, median } from './stats.ts';
import { PEER_LABELS, type PeerName } from './peers.ts';
import type { CeilingResult } from './redis-ceiling.ts';
import type { MemoryResult, Sample, Variant } from './workloads.ts';

/** Every sample, by variant and peer, in run order. */
export type Samples = Partial<Record<Variant, Partial<Record<PeerName, Sample[]>>>>;

/** The medians the table shows, by variant and peer. */
export interface Medians {
  readonly tasksPerSecond: number | undefined;
  readonly peakRssMb: number | undefined;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  readonly runs: number;
}

type MedianTable = Partial<Record<Variant, Partial<Record<PeerName, Medians>>>>;

/**
 * @param samples - every sample
 * @returns the medians over runs
 */
export function mediansOf(samples: Samples): MedianTable {
  const out: MedianTable = {};
  for (const [variant, byPeer] of Object.entries(samples) as [Variant, Partial<Record<PeerName, Sample[]>>][]) {
    const row: Partial<Record<PeerName, Medians>> = {};
    for (const [peer, list] of Object.entries(byPeer) as [PeerName, Sample[]][]) {
      const pick = (f: (s: Sample) => number | undefined) => median(list.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v)));
      const rss = pick((s) => s.peakRssBytes);
      row[peer] = {
        tasksPerSecond: pick((s) => s.tasksPerSecond),
        peakRssMb: rss === undefined ? undefined : rss / 2 ** 20,
        p50Ms: pick((s) => s.p50Ms),
        p99Ms: pick((s) => s.p99Ms),
        runs: list.length,
      };
    }
    out[variant] = row;
  }
  return out;
}

interface Row {
  readonly label: string;
  readonly unit: string;
  readonly variant: Variant;
  readonly value: (m: Medians) => number | undefined;
  readonly higherIsBetter: boolean;
}

const ROWS: readonly Row[] = [
  { label: 'W1a enqueue, one at a time', unit: 'tasks/s', variant: 'w1-one', value: (m) => m.tasksPerSecond, higherIsBetter: true },
  { label: 'W1b enqueue, bulk API', unit: 'tasks/s', variant: 'w1-bulk', value: (m) => m.tasksPerSecond, higherIsBetter: true },
  { label: 'W2 process, c=1', unit: 'tasks/s', variant: 'w2-c1', value: (m) => m.tasksPerSecond, higherIsBetter: true },
  { label: 'W2 process, c=1 peak RSS', unit: 'MB', variant: 'w2-c1', value: (m) => m.peakRssMb, higherIsBetter: false },
  { label: 'W2 process, c=32', unit: 'tasks/s', variant: 'w2-c32', value: (m) => m.tasksPerSecond, higherIsBetter: true },
  { label: 'W2 process, c=32 peak RSS', unit: 'MB', variant: 'w2-c32', value: (m) => m.peakRssMb, higherIsBetter: false },
  { label: 'W3 round trip, 1 in flight p50', unit: 'ms', variant: 'w3-seq', value: (m) => m.p50Ms, higherIsBetter: false },
  { label: 'W3 round trip, 1 in flight p99', unit: 'ms', variant: 'w3-seq', value: (m) => m.p99Ms, higherIsBetter: false },
  { label: 'W3 round trip, 1 in flight', unit: 'tasks/s', variant: 'w3-seq', value: (m) => m.tasksPerSecond, higherIsBetter: true },
  { label: 'W3 round trip, 100 in flight p50', unit: 'ms', variant: 'w3-100', value: (m) => m.p50Ms, higherIsBetter: false },
  { label: 'W3 round trip, 100 in flight p99', unit: 'ms', variant: 'w3-100', value: (m) => m.p99Ms, higherIsBetter: false },
  { label: 'W3 round trip, 100 in flight', unit: 'tasks/s', variant: 'w3-100', value: (m) => m.tasksPerSecond, higherIsBetter: true },
];

const NODE_PEERS: readonly PeerName[] = ['bullmq', 'bee-queue', 'celery-node'];

/** The best peer figure of a row, among some peers. */
interface Best {
  readonly peer: PeerName;
  readonly value: number;
}

function bestOf(medians: MedianTable, row: Row, among: readonly PeerName[]): Best | undefined {
  let best: Best | undefined;
  for (const peer of among) {
    const m = medians[row.variant]?.[peer];
    const value = m === undefined ? undefined : row.value(m);
    if (value === undefined) continue;
    if (best === undefined || (row.higherIsBetter ? value > best.value : value < best.value)) best = { peer, value };
  }
  return best;
}

function ratio(ours: number | undefined, theirs: number | undefined): number | undefined {
  return ours === undefined || theirs === undefined || theirs === 0 ? undefined : ours / theirs;
}

function ratioText(value: number | undefined, who?: PeerName): string {
  if (value === undefined) return '-';
  const digits = value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)}x${who === undefined ? '' : ` ${PEER_LABELS[who]}`}`;
}

function align(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

/** One goal and whether it was met. */
export interface GoalResult {
  readonly pass: boolean;
  readonly text: string;
}

/** Everything the report needs. */
export interface ReportInput {
  readonly peers: readonly PeerName[];
  readonly medians: MedianTable;
  readonly memory: MemoryResult | undefined;
  readonly ceiling: CeilingResult | undefined;
  readonly header: string;
  readonly notes: readonly string[];
}

/**
 * @param input - the medians and the rest
 * @returns the table and the remarks under it
 */
export function renderTable(input: ReportInput): string {
  const { peers, medians } = input;
  const nodePeers = NODE_PEERS.filter((p) => peers.includes(p));
  const header = ['', 'unit', ...peers.map((p) => PEER_LABELS[p]), 'vs best Node peer', 'vs Celery py'];
  const rows: string[][] = [header];
  for (const row of ROWS) {
    if (medians[row.variant] === undefined) continue;
    const ours = medians[row.variant]?.celeriac;
    const oursValue = ours === undefined ? undefined : row.value(ours);
    const cells = peers.map((peer) => {
      const m = medians[row.variant]?.[peer];
      return formatNumber(m === undefined ? undefined : row.value(m), row.unit === 'ms' ? 2 : 1);
    });
    const best = bestOf(medians, row, nodePeers);
    const py = medians[row.variant]?.['celery-py'];
    rows.push([
      `${row.label} (${row.higherIsBetter ? 'higher' : 'lower'} is better)`,
      row.unit,
      ...cells,
      ratioText(ratio(oursValue, best?.value), best?.peer),
      ratioText(ratio(oursValue, py === undefined ? undefined : row.value(py))),
    ]);
  }
  const parts = [input.header, '', align(rows), '', 'Ratios are Celeriac / peer: above 1 is better for tasks/s, below 1 is better for ms and MB.'];
  const c = input.ceiling;
  if (c !== undefined) {
    parts.push(
      '',
      c.error !== undefined
        ? `Redis ceiling: redis-benchmark failed: ${c.error}`
        : `Redis ceiling (redis-benchmark, 50 clients, same server): LPUSH ${formatNumber(c.lpush)}/s, RPOP ${formatNumber(c.rpop)}/s; ` +
            `pipelined -P 16: LPUSH ${formatNumber(c.lpushPipelined)}/s, RPOP ${formatNumber(c.rpopPipelined)}/s`,
    );
    const share = (label: string, variant: Variant, of: number | undefined, ofLabel: string) => {
      const ours = medians[variant]?.celeriac?.tasksPerSecond;
      if (ours !== undefined && of !== undefined) parts.push(`  Celeriac ${label}: ${formatNumber(ours)}/s = ${((100 * ours) / of).toFixed(0)}% of ${ofLabel}`);
    };
    share('W1a', 'w1-one', c.lpush, 'LPUSH (one command per round trip)');
    share('W1b', 'w1-bulk', c.lpushPipelined, 'LPUSH -P 16');
    share('W2 c=32', 'w2-c32', c.rpop, 'RPOP (one command per round trip)');
  }
  const m = input.memory;
  if (m !== undefined) {
    const table = [
      ['W4 producer memory, after gc()', ...m.readings.map((r) => `${r.sent.toLocaleString('en-US')} sent`)],
      ['heap used MB', ...m.readings.map((r) => (r.heapUsed / 2 ** 20).toFixed(1))],
      ['RSS MB', ...m.readings.map((r) => (r.rss / 2 ** 20).toFixed(1))],
    ];
    parts.push('', align(table));
    parts.push(
      `  subscriptions at the end (app still open): ${m.subscriptions.channels} channels, ${m.subscriptions.patterns} patterns, ` +
        `${m.subscriptions.clients} connections in pub/sub mode`,
    );
  }
  if (input.notes.length > 0) parts.push('', ...input.notes.map((n) => `Note: ${n}`));
  return parts.join('\n');
}

/**
 * @param input - the medians and the rest
 * @returns the goals of issue 6, each PASS or FAIL (a goal whose figures are missing is left out)
 */
export function evaluateGoals(input: ReportInput): GoalResult[] {
  const goals: GoalResult[] = [];
  const { medians, peers } = input;
  const nodePeers = NODE_PEERS.filter((p) => peers.includes(p));
  const throughput = ROWS.filter((r) => r.unit === 'tasks/s' && (r.variant.startsWith('w1') || r.variant.startsWith('w2')));
  for (const row of throughput) {
    const ours = medians[row.variant]?.celeriac?.tasksPerSecond;
    if (ours === undefined) continue;
    const best = bestOf(medians, row, nodePeers);
    if (best !== undefined) {
      const r = ours / best.value;
      goals.push({
        pass: r >= 2,
        text: `${row.label}: ${formatNumber(ours)}/s is ${r.toFixed(2)}x the best Node peer (${PEER_LABELS[best.peer]} ${formatNumber(best.value)}/s); goal >= 2x`,
      });
    }
    const py = medians[row.variant]?.['celery-py']?.tasksPerSecond;
    if (py !== undefined) {
      const r = ours / py;
      goals.push({ pass: r >= 10, text: `${row.label}: ${formatNumber(ours)}/s is ${r.toFixed(1)}x Python Celery (${formatNumber(py)}/s); goal >= 10x` });
    }
  }
  for (const variant of ['w3-seq', 'w3-100'] as const) {
    const row = ROWS.find((r) => r.variant === variant && r.unit === 'ms' && r.label.endsWith('p50'));
    const ours = medians[variant]?.celeriac?.p50Ms;
    if (row === undefined || ours === undefined) continue;
    const best = bestOf(medians, row, [...nodePeers, ...(peers.includes('celery-py') ? (['celery-py'] as const) : [])]);
    if (best === undefined) continue;
    goals.push({
      pass: ours <= best.value,
      text: `${row.label}: ${formatNumber(ours)} ms vs the best peer (${PEER_LABELS[best.peer]} ${formatNumber(best.value)} ms); goal: no worse`,
    });
  }
  const m = input.memory;
  if (m !== undefined && m.readings.length >= 2) {
    const first = m.readings[0];
    const last = m.readings.at(-1);
    if (first !== undefined && last !== undefined) {
      const growth = (last.heapUsed - first.heapUsed) / 2 ** 20;
      goals.push({ pass: growth < 5, text: `W4 heap growth over ${formatNumber(last.sent)} sends: ${growth.toFixed(2)} MB; goal < 5 MB` });
    }
    const subs = m.subscriptions;
    const total = subs.channels + subs.patterns + subs.clients;
    goals.push({ pass: total === 0, text: `W4 subscriptions left: ${subs.channels} channels, ${subs.patterns} patterns, ${subs.clients} pub/sub connections; goal: none` });
  }
  return goals;
}

/**
 * @param goals - evaluated goals
 * @returns one `PASS …` / `FAIL …` line each
 */
export function renderGoals(goals: readonly GoalResult[]): string {
  return goals.map((g) => `${g.pass ? 'PASS' : 'FAIL'}  ${g.text}`).join('\n');
}

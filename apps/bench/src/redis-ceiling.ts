/**
 * The Redis ceiling: `redis-benchmark -t lpush,rpop -n 200000 -q` against the bench's own
 * server, without and with `-P 16` pipelining (50 clients, redis-benchmark's default).
 *
 * @module
 */
import { spawn } from 'node:child_process';

/** Requests per second redis-benchmark measured. */
export interface CeilingResult {
  readonly lpush: number | undefined;
  readonly rpop: number | undefined;
  readonly lpushPipelined: number | undefined;
  readonly rpopPipelined: number | undefined;
  /** Why it could not run, if it could not. */
  readonly error?: string;
}

function runBenchmark(port: number, requests: number, pipeline: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const args = ['-p', String(port), '-t', 'lpush,rpop', '-n', String(requests), '-q', ...(pipeline > 1 ? ['-P', String(pipeline)] : [])];
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`redis-benchmark exited with ${String(code)}: ${out.slice(-500)}`));
        return;
      }
      const found = new Map<string, number>();
      for (const match of out.matchAll(/(LPUSH|RPOP): ([\d.]+) requests per second/g)) found.set(match[1] ?? '', Number(match[2]));
      resolve(found);
    });
  });
}

/**
 * @param port - the bench's redis-server
 * @param requests - per command (200,000 in a full run)
 * @returns the four figures
 */
export async function measureCeiling(port: number, requests: number): Promise<CeilingResult> {
  try {
    const plain = await runBenchmark(port, requests, 1);
    const piped = await runBenchmark(port, requests, 16);
    return { lpush: plain.get('LPUSH'), rpop: plain.get('RPOP'), lpushPipelined: piped.get('LPUSH'), rpopPipelined: piped.get('RPOP') };
  } catch (error) {
    return { lpush: undefined, rpop: undefined, lpushPipelined: undefined, rpopPipelined: undefined, error: error instanceof Error ? error.message : String(error) };
  }
}

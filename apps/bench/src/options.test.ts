import { describe, expect, it } from 'vitest';
import { parseOptions } from './options.ts';

describe('parseOptions', () => {
  it('defaults to every workload and peer, 3 runs of 20,000 tasks', () => {
    const options = parseOptions([], 'out');
    expect(options).toMatchObject({ runs: 3, enqueueTasks: 20_000, roundTrips: 2_000, memorySends: 100_000, outDir: 'out' });
    expect(options !== 'help' && [...options.workloads]).toEqual(['ceiling', 'w1', 'w2', 'w3', 'w4']);
  });

  it('takes --quick, --only and --peers after the -- pnpm passes on', () => {
    const options = parseOptions(['--', '--quick', '--only', 'w1,w3', '--peers=bullmq,celeriac'], 'out');
    expect(options).toMatchObject({ quick: true, runs: 1, enqueueTasks: 2_000, roundTrips: 200, peers: ['celeriac', 'bullmq'] });
    expect(options !== 'help' && [...options.workloads]).toEqual(['w1', 'w3']);
  });

  it('names what it did not understand', () => {
    expect(() => parseOptions(['--only', 'w9'], 'out')).toThrow(/--only: unknown "w9"/);
    expect(() => parseOptions(['--fast'], 'out')).toThrow(/Unknown option "--fast"/);
    expect(() => parseOptions(['--runs', '0'], 'out')).toThrow(/positive integer/);
  });
});

import { createApp } from '@celeriac/client';
import { describe, expect, it } from 'vitest';
import { createBeat, type BeatApp, type BeatConfig } from './beat.ts';
import { crontab } from './crontab-schedule.ts';

function fakeApp(conf: BeatConfig, main?: string): BeatApp {
  return {
    conf,
    main,
    sendTask: () => {
      throw new Error('not in unit tests');
    },
  };
}

describe('createBeat (no Redis)', () => {
  it("merges the app's beat_schedule with entries from code, code winning", () => {
    const app = fakeApp({
      broker_url: 'redis://127.0.0.1:1/0',
      timezone: 'Asia/Tokyo',
      beat_schedule: { a: { task: 'tasks.a', schedule: 10 }, b: { task: 'tasks.b', schedule: '0 9 * * *' } },
    }, 'proj');
    const beat = createBeat(app, { entries: { a: { task: 'tasks.a2', schedule: { every: 500 } } } });
    expect(beat.entries.map((e) => [e.name, e.task, e.schedule.toString()])).toEqual([
      ['a', 'tasks.a2', 'every 500 ms'],
      ['b', 'tasks.b', 'crontab "0 9 * * *" in Asia/Tokyo'],
    ]);
    expect(beat.name).toBe('proj');
    expect(beat.keys).toEqual({ lock: 'celeriac-beat:proj:lock', state: 'celeriac-beat:proj:state' });
    expect(beat.token).toMatch(new RegExp(`:${process.pid}:[0-9a-f-]{36}$`));
    expect(beat.isLeader).toBe(false);
  });

  it("takes an App of @celeriac/client as is: beat_schedule with crontab objects, timezone, main, broker_url", async () => {
    const app = createApp(
      {
        broker_url: 'redis://127.0.0.1:1/3',
        timezone: 'America/New_York',
        beat_max_loop_interval: 5,
        beat_schedule: { nine: { task: 'tasks.report', schedule: crontab({ minute: 0, hour: 9 }), options: { queue: 'reports' } } },
      },
      { env: {}, main: 'proj' },
    );
    const beat = createBeat(app);
    expect(beat.entries.map((e) => [e.name, e.schedule.toString(), e.options])).toEqual([
      ['nine', 'crontab "0 9 * * *" in America/New_York', { queue: 'reports' }],
    ]);
    expect(beat.keys.lock).toBe('celeriac-beat:proj:lock');
    await app.close();
  });

  it('names the schedule "default" without a main, and takes a key prefix', () => {
    expect(createBeat(fakeApp({ broker_url: 'redis://127.0.0.1:1/0' })).keys.lock).toBe('celeriac-beat:default:lock');
    expect(createBeat(fakeApp({}), { redisUrl: 'redis://127.0.0.1:1/0', keyPrefix: 'x:' }).keys.state).toBe('x:state');
  });

  it('refuses bad options with INVALID_CONFIG saying what was expected', () => {
    const app = fakeApp({ broker_url: 'redis://127.0.0.1:1/0' });
    const cases: [() => unknown, RegExp][] = [
      [() => createBeat(fakeApp({})), /no Redis for the beat's lock and state/],
      [() => createBeat(fakeApp({ broker_url: 'amqp://x' })), /Invalid Redis URL/],
      [() => createBeat(app, { lockTtlMs: 10 }), /lockTtlMs must be a number of milliseconds >= 300, got 10/],
      [() => createBeat(app, { maxIntervalMs: 0 }), /maxIntervalMs must be a number of milliseconds >= 1/],
      [() => createBeat(app, { graceMs: -1 }), /graceMs must be a number of milliseconds >= 0/],
      [() => createBeat(app, { missed: 'twice' as 'once' }), /missed must be 'once' or 'skip', got "twice"/],
      [() => createBeat(app, { name: '' }), /name must be a non-empty string/],
      [() => createBeat(fakeApp({ broker_url: 'redis://127.0.0.1:1/0', beat_schedule: { e: { task: 't', schedule: -1 } } })), /beat_schedule\["e"\]/],
    ];
    for (const [make, pattern] of cases) {
      expect(make).toThrow(pattern);
      expect(make).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }
  });

  it('stop() before start() just resolves done; start() after stop() is refused', async () => {
    const beat = createBeat(fakeApp({ broker_url: 'redis://127.0.0.1:1/0' }));
    await beat.stop();
    await beat.done;
    await expect(beat.start()).rejects.toThrow(/the beat is stopped; make a new one/);
  });
});

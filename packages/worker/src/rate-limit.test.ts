import { CeleriacError } from '@celeriac/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseRateLimit, RateLimiter, TokenBucket, type RateLimitDecision } from './rate-limit.ts';

/**
 * A deterministic clock and timer queue. Timers fire in due order (ties in creation order);
 * `lateness` delays each timer past its requested delay, as a busy event loop does.
 */
class FakeScheduler {
  time = 0;
  fired = 0;
  lateness: () => number = () => 0;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();
  #nextId = 1;

  readonly now = (): number => this.time;
  readonly setTimer = (fn: () => void, delayMs: number): number => {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.time + delayMs + this.lateness(), fn });
    return id;
  };
  readonly clearTimer = (handle: unknown): void => {
    this.#timers.delete(handle as number);
  };
  /** A timer that is never late (the test's own arrivals). */
  exact(fn: () => void, delayMs: number): void {
    this.#timers.set(this.#nextId++, { at: this.time + delayMs, fn });
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** Moves the clock forward by `ms`, firing every timer due on the way. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry;
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      this.fired++;
      next[1].fn();
    }
    this.time = end;
  }
}

function setup<TItem = string>(): { clock: FakeScheduler; limiter: RateLimiter<TItem>; log: { item: TItem; at: number }[]; release: (item: TItem) => void } {
  const clock = new FakeScheduler();
  const limiter = new RateLimiter<TItem>({ now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
  const log: { item: TItem; at: number }[] = [];
  return { clock, limiter, log, release: (item) => log.push({ item, at: clock.time }) };
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('parseRateLimit', () => {
  it.each<[string | number | null | undefined, number | null]>([
    [10, 10],
    [0.5, 0.5],
    ['10/s', 10],
    ['100/m', 100 / 60],
    ['1000/h', 1000 / 3600],
    ['10', 10],
    ['0.5/s', 0.5],
    ['.5', 0.5],
    ['1e2/m', 100 / 60],
    ['+3/h', 3 / 3600],
    [' 10 /m', 10 / 60], // Python's float() strips whitespace around the number
    ['10/', 10], // Celery: `modifier or 's'`
    [0, null],
    ['0', null],
    ['0/m', null],
    ['0.0/h', null],
    ['', null],
    [null, null],
    [undefined, null],
  ])('%j → %j', (input, expected) => {
    const got = parseRateLimit(input);
    if (expected === null) expect(got).toBeNull();
    else expect(got).toBeCloseTo(expected, 12);
  });

  it.each<string | number>(['10/x', '-1/s', 'abc', '10/S', '10/ s', '1/s/x', '/s', ' ', 'inf', 'nan', '1_0', '1e400', '-0', -1, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects %j with INVALID_CONFIG saying what was expected',
    (input) => {
      const error = catchError(() => parseRateLimit(input));
      expect(error).toBeInstanceOf(CeleriacError);
      expect(error).toMatchObject({ code: 'INVALID_CONFIG' });
      const message = (error as Error).message;
      expect(message).toContain(typeof input === 'string' ? JSON.stringify(input) : String(input));
      expect(message).toContain('expected');
      expect(message).toContain('"<n>/m"');
    },
  );
});

describe('TokenBucket', () => {
  it('starts full, takes a token, and refills at fillRate per second', () => {
    let now = 1_000;
    const bucket = new TokenBucket(2, { now: () => now });
    expect(bucket.capacity).toBe(1);
    expect(bucket.expectedTime()).toBe(0);
    expect(bucket.canConsume()).toBe(true);
    expect(bucket.canConsume()).toBe(false);
    expect(bucket.expectedTime()).toBeCloseTo(500, 9);
    now += 250;
    expect(bucket.tokens).toBeCloseTo(0.5, 9);
    expect(bucket.expectedTime()).toBeCloseTo(250, 9);
    expect(bucket.canConsume()).toBe(false); // a failed take changes nothing
    expect(bucket.expectedTime()).toBeCloseTo(250, 9);
    now += 250;
    expect(bucket.canConsume()).toBe(true);
    now += 10_000;
    expect(bucket.tokens).toBe(1); // never above capacity
  });

  it('expected_time is kombu’s (tokens − available) / fill_rate, in ms', () => {
    let now = 0;
    const bucket = new TokenBucket(4, { capacity: 3, now: () => now });
    expect(bucket.canConsume(3)).toBe(true);
    expect(bucket.canConsume(1)).toBe(false);
    now += 125; // 0.5 token
    expect(bucket.expectedTime(1)).toBeCloseTo(125, 9);
    expect(bucket.expectedTime(3)).toBeCloseTo(625, 9);
    expect(bucket.canConsume(0)).toBe(true);
    now += 500; // 2.5 tokens
    expect(bucket.canConsume(2)).toBe(true);
    expect(bucket.tokens).toBeCloseTo(0.5, 9);
  });

  it('lets one request through after an idle period, not two (kombu keeps a stale timestamp)', () => {
    let now = 0;
    const bucket = new TokenBucket(1, { now: () => now });
    now = 10_000;
    expect(bucket.canConsume()).toBe(true);
    now = 10_001;
    expect(bucket.canConsume()).toBe(false);
    expect(bucket.expectedTime()).toBeCloseTo(999, 9);
  });

  it('takes a token as of an earlier instant, keeping the refill lost while full', () => {
    let now = 0;
    const bucket = new TokenBucket(10, { now: () => now });
    expect(bucket.canConsume()).toBe(true); // next token due at 100
    now = 130;
    expect(bucket.canConsume(1, 100)).toBe(true);
    expect(bucket.expectedTime()).toBeCloseTo(70, 9); // due at 200, not 230
    now = 150;
    expect(bucket.canConsume(1, 10)).toBe(false); // there was no token at 10
    expect(bucket.canConsume(1, 1e9)).toBe(false); // clamped to now
  });

  it.each([3, 7, 13, 30])('at %s/s a token due at k·1000/rate is there at that instant despite rounding', (rate) => {
    let now = 0;
    const bucket = new TokenBucket(rate, { now: () => now });
    for (let k = 0; k < 50; k++) {
      now = (k * 1000) / rate;
      expect(bucket.canConsume(), `token ${k} at ${now} ms`).toBe(true);
      expect(bucket.canConsume()).toBe(false);
    }
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects fill rate %s', (rate) => {
    expect(() => new TokenBucket(rate)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('expected a positive finite number') }));
  });

  it('rejects a capacity ≤ 0 and token counts it could never hold', () => {
    expect(() => new TokenBucket(1, { capacity: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    const bucket = new TokenBucket(1);
    for (const bad of [2, -1, Number.NaN]) {
      expect(() => bucket.canConsume(bad)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining(String(bad)) }));
      expect(() => bucket.expectedTime(bad)).toThrow(CeleriacError);
    }
  });

  it('uses a monotonic clock by default', () => {
    const bucket = new TokenBucket(0.001);
    expect(bucket.canConsume()).toBe(true);
    expect(bucket.canConsume()).toBe(false);
    expect(bucket.expectedTime()).toBeGreaterThan(999_000);
  });
});

describe('RateLimiter', () => {
  it('runs unlimited tasks and the first limited one now, and holds the rest FIFO', () => {
    const { clock, limiter, log, release } = setup();
    expect(limiter.submit('free', null, 'f1', release)).toBe('now');
    expect(limiter.submit('free', 0, 'f2', release)).toBe('now');
    const decisions = ['a', 'b', 'c', 'd'].map((item) => limiter.submit('slow', 2, item, release));
    expect(decisions).toEqual(['now', 'held', 'held', 'held']);
    expect(limiter.held('slow')).toBe(3);
    expect(clock.pending).toBe(1); // one timer per bucket, not per item

    clock.advance(499);
    expect(log).toEqual([]);
    clock.advance(1);
    expect(log).toEqual([{ item: 'b', at: 500 }]); // one token, one item
    clock.advance(1_000);
    expect(log.map((e) => [e.item, e.at])).toEqual([
      ['b', 500],
      ['c', 1_000],
      ['d', 1_500],
    ]);
    expect(limiter.held()).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('queues a newcomer behind held items even when a token is there', () => {
    const { clock, limiter, log, release } = setup();
    limiter.submit('t', 1, 'a', release);
    // The timer runs late, so at 1 200 the bucket has a token but 'b' has not had it yet.
    clock.lateness = () => 1_000;
    limiter.submit('t', 1, 'b', release);
    clock.advance(1_200);
    expect(limiter.submit('t', 1, 'c', release)).toBe('held');
    clock.advance(10_000);
    expect(log.map((e) => e.item)).toEqual(['b', 'c']);
  });

  it('never delays one task name behind another', () => {
    const { clock, limiter, log, release } = setup();
    limiter.submit('slow', 1 / 60, 's1', release);
    for (let i = 0; i < 5; i++) expect(limiter.submit('slow', 1 / 60, `s${i + 2}`, release)).toBe('held');
    expect(limiter.submit('free', null, 'f', release)).toBe('now');
    expect(limiter.submit('fast', 10, 'x1', release)).toBe('now');
    expect(limiter.submit('fast', 10, 'x2', release)).toBe('held');
    expect(limiter.submit('fast', 10, 'x3', release)).toBe('held');
    clock.advance(200);
    expect(log).toEqual([
      { item: 'x2', at: 100 },
      { item: 'x3', at: 200 },
    ]);
    expect(limiter.held('slow')).toBe(5);
    expect(limiter.held('fast')).toBe(0);
    clock.advance(60_000);
    expect(log.at(-1)).toEqual({ item: 's2', at: 60_000 });
  });

  it('keeps order when a release submits again (re-entrancy)', () => {
    const { clock, limiter, log } = setup();
    const release = (item: string): void => {
      log.push({ item, at: clock.time });
      if (item === 'b') limiter.submit('t', 10, 'b2', release);
    };
    limiter.submit('t', 10, 'a', release);
    limiter.submit('t', 10, 'b', release);
    limiter.submit('t', 10, 'c', release);
    clock.advance(1_000);
    expect(log.map((e) => [e.item, e.at])).toEqual([
      ['b', 100],
      ['c', 200],
      ['b2', 300],
    ]);
  });

  describe('setLimit', () => {
    it('gives the task a new full bucket at the new rate, held items in order', () => {
      const { clock, limiter, log, release } = setup();
      for (const item of ['a', 'b', 'c', 'd']) limiter.submit('t', 1, item, release);
      clock.advance(300);
      limiter.setLimit('t', 10);
      expect(log).toEqual([{ item: 'b', at: 300 }]); // the new bucket starts full
      expect(clock.pending).toBe(1); // the old timer is gone
      clock.advance(200);
      expect(log.map((e) => [e.item, e.at])).toEqual([
        ['b', 300],
        ['c', 400],
        ['d', 500],
      ]);
      // The run-time limit wins over what the worker keeps passing from the task's options.
      clock.advance(100);
      expect(limiter.submit('t', 1, 'e', release)).toBe('now');
      expect(limiter.submit('t', 1, 'f', release)).toBe('held');
      clock.advance(100);
      expect(log.at(-1)).toEqual({ item: 'f', at: 700 });
    });

    it('makes a new full bucket even for the same rate, as Celery’s rate_limit command', () => {
      const { clock, limiter, log, release } = setup();
      for (const item of ['a', 'b', 'c']) limiter.submit('t', 1, item, release);
      clock.advance(300);
      limiter.setLimit('t', 1);
      expect(log).toEqual([{ item: 'b', at: 300 }]);
      clock.advance(1_000);
      expect(log.at(-1)).toEqual({ item: 'c', at: 1_300 });
    });

    it('null releases every held item at once, in order, and lifts the limit', () => {
      const { clock, limiter, log, release } = setup();
      for (const item of ['a', 'b', 'c']) limiter.submit('t', 1, item, release);
      limiter.submit('u', 1, 'u1', release);
      limiter.submit('u', 1, 'u2', release);
      limiter.setLimit('t', null);
      expect(log.map((e) => e.item)).toEqual(['b', 'c']);
      expect(limiter.held('t')).toBe(0);
      expect(limiter.held('u')).toBe(1);
      expect(clock.pending).toBe(1); // only u's
      expect(limiter.submit('t', 1, 'd', release)).toBe('now');
      expect(limiter.submit('t', 1, 'e', release)).toBe('now');
    });

    it('limits a task that had none; a new limit from submit also replaces the bucket', () => {
      const { clock, limiter, log, release } = setup();
      limiter.setLimit('t', 2);
      expect(limiter.submit('t', null, 'a', release)).toBe('now');
      expect(limiter.submit('t', null, 'b', release)).toBe('held');
      clock.advance(500);
      expect(log).toEqual([{ item: 'b', at: 500 }]);

      expect(limiter.submit('v', 1, 'v1', release)).toBe('now');
      expect(limiter.submit('v', 1, 'v2', release)).toBe('held');
      // The task's declared limit changed (no setLimit for v): new bucket, v2 goes first.
      expect(limiter.submit('v', 4, 'v3', release)).toBe('held');
      expect(log.at(-1)).toEqual({ item: 'v2', at: 500 });
      clock.advance(250);
      expect(log.at(-1)).toEqual({ item: 'v3', at: 750 });
    });

    it('rejects a bad limit with INVALID_CONFIG naming the task', () => {
      const { limiter, release } = setup();
      for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => limiter.setLimit('tasks.add', bad)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('"tasks.add"') }));
        expect(() => limiter.submit('tasks.add', bad, 'x', release)).toThrow(CeleriacError);
      }
      expect(limiter.held()).toBe(0);
    });
  });

  it('remove drops held items, keeps the others in order and stops idle timers', () => {
    const { clock, limiter, log, release } = setup();
    for (const item of ['a', 'b', 'c', 'd']) limiter.submit('t', 10, item, release);
    limiter.submit('u', 10, 'u1', release);
    limiter.submit('u', 10, 'u2', release);
    expect(limiter.remove((item) => item === 'c' || item === 'u2')).toEqual(['c', 'u2']);
    expect(limiter.held()).toBe(2);
    expect(clock.pending).toBe(1); // u has nothing left to wait for
    expect(limiter.remove((_item, taskName) => taskName === 'nope')).toEqual([]);
    clock.advance(1_000);
    expect(log.map((e) => [e.item, e.at])).toEqual([
      ['b', 100],
      ['d', 200],
    ]);
  });

  it('drain hands back every held item in arrival order and cancels the timers', () => {
    const { clock, limiter, log, release } = setup();
    limiter.submit('t', 1, 't0', release);
    limiter.submit('u', 1, 'u0', release);
    limiter.submit('t', 1, 't1', release);
    limiter.submit('u', 1, 'u1', release);
    limiter.submit('t', 1, 't2', release);
    expect(limiter.drain()).toEqual(['t1', 'u1', 't2']);
    expect(limiter.held()).toBe(0);
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(log).toEqual([]);
    // Still usable, and the buckets kept their level.
    expect(limiter.submit('t', 1, 't3', release)).toBe('now');
    expect(limiter.submit('t', 1, 't4', release)).toBe('held');
  });

  it('close drains and refuses further work', () => {
    const { clock, limiter, release } = setup();
    limiter.submit('t', 1, 'a', release);
    limiter.submit('t', 1, 'b', release);
    expect(limiter.close()).toEqual(['b']);
    expect(limiter.close()).toEqual([]);
    expect(clock.pending).toBe(0);
    expect(() => limiter.submit('t', null, 'c', release)).toThrow(expect.objectContaining({ code: 'CONNECTION_CLOSED' }));
    expect(() => limiter.setLimit('t', 1)).toThrow(CeleriacError);
  });

  it('a throwing release goes to onError and the others still run', () => {
    const clock = new FakeScheduler();
    const errors: [unknown, string, string][] = [];
    const limiter = new RateLimiter<string>({ now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, onError: (e, item, name) => errors.push([e, item, name]) });
    const released: string[] = [];
    const release = (item: string): void => {
      if (item === 'b') throw new Error('boom');
      released.push(item);
    };
    for (const item of ['a', 'b', 'c', 'd']) limiter.submit('t', 10, item, release);
    clock.advance(100);
    expect(errors).toEqual([[new Error('boom'), 'b', 't']]);
    clock.advance(100);
    expect(released).toEqual(['c']);
    limiter.setLimit('t', null);
    expect(released).toEqual(['c', 'd']);
  });

  describe('accuracy over a simulated 10 seconds', () => {
    /** Counts runs ('now' plus releases) in [0, 10 s] with `offered` submissions per second. */
    function run(rate: number, offered: number, lateness = 0): { runs: number[]; clock: FakeScheduler } {
      const { clock, limiter } = setup<number>();
      clock.lateness = () => lateness;
      const runs: number[] = [];
      const release = (): void => {
        runs.push(clock.time);
      };
      let n = 0;
      const offer = (): void => {
        if (limiter.submit('tasks.limited', rate, n++, release) === 'now') runs.push(clock.time);
      };
      // Arrivals on a timer of their own that is never late, interleaved with the releases.
      const every = 1_000 / offered;
      const arrivals = (): void => {
        offer();
        if (clock.time + every <= 10_000) clock.exact(arrivals, every);
      };
      arrivals();
      clock.advance(10_000);
      return { runs: runs.filter((t) => t <= 10_000), clock };
    }

    const within10 = (count: number, expected: number): void => {
      expect(Math.abs(count - expected)).toBeLessThanOrEqual(expected * 0.1);
    };

    it('10/s under a backlog: 100 ± 10 runs, the burst at start is 1', () => {
      const { runs } = run(10, 200);
      within10(runs.length, 100);
      expect(runs.filter((t) => t === 0)).toHaveLength(1);
      // Evenly spaced: no two runs closer than one interval.
      for (let i = 1; i < runs.length; i++) expect(runs[i]! - runs[i - 1]!).toBeGreaterThanOrEqual(100 - 1e-6);
    });

    it('50/s under a backlog: 500 ± 50 runs', () => {
      within10(run(50, 400).runs.length, 500);
    });

    it('below the limit nothing is held and every offer runs', () => {
      const { runs } = run(10, 5);
      expect(runs.length).toBe(51); // 0, 200, …, 10 000
    });

    it('late timers do not accumulate: 50/s with every timer 3 ms late still makes ~500', () => {
      const { runs } = run(50, 400, 3);
      within10(runs.length, 500);
      // Tighter than the 10 %: a limiter that drifts by 3 ms a token makes ~435.
      expect(runs.length).toBeGreaterThanOrEqual(495);
      for (let i = 1; i < runs.length; i++) expect(runs[i]! - runs[i - 1]!).toBeGreaterThanOrEqual(10);
    });

    it('a long stall releases one item, not a catch-up burst', () => {
      const { clock, limiter, log, release } = setup();
      let stalled = false;
      // The loop is blocked for a second: the first release timer fires 1 s late.
      clock.lateness = () => (stalled ? 0 : ((stalled = true), 1_000));
      for (let i = 0; i < 10; i++) limiter.submit('t', 10, `i${i}`, release);
      clock.advance(1_100);
      expect(log).toEqual([{ item: 'i1', at: 1_100 }]);
      clock.advance(49);
      expect(log).toHaveLength(1);
      clock.advance(1); // half an interval of credit, no more
      expect(log).toHaveLength(2);
    });
  });

  describe('with the default clock and timers', () => {
    afterEach(() => {
      vi.useRealTimers();
      vi.restoreAllMocks();
    });

    it('releases on setTimeout at the bucket’s expected time', () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
      const limiter = new RateLimiter<string>();
      const released: string[] = [];
      const decisions: RateLimitDecision[] = ['a', 'b', 'c'].map((item) => limiter.submit('t', 4, item, (i) => released.push(i)));
      expect(decisions).toEqual(['now', 'held', 'held']);
      vi.advanceTimersByTime(249);
      expect(released).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(released).toEqual(['b']);
      vi.advanceTimersByTime(250);
      expect(released).toEqual(['b', 'c']);
      limiter.submit('t', 4, 'd', (i) => released.push(i));
      expect(limiter.close()).toEqual(['d']);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('rethrows a release error on a microtask by default, after the state is consistent', () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
      const microtasks: (() => void)[] = [];
      vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => void microtasks.push(callback));
      const limiter = new RateLimiter<string>();
      const released: string[] = [];
      limiter.submit('t', 1, 'a', () => undefined);
      limiter.submit('t', 1, 'b', () => {
        throw new Error('release failed');
      });
      limiter.submit('t', 1, 'c', (i) => released.push(i));
      vi.advanceTimersByTime(1_000);
      expect(microtasks).toHaveLength(1);
      expect(() => microtasks[0]!()).toThrow('release failed');
      expect(limiter.held()).toBe(1);
      vi.advanceTimersByTime(1_000);
      expect(released).toEqual(['c']);
    });
  });
});

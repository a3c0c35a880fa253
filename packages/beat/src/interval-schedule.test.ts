import { describe, expect, it } from 'vitest';
import { every, type IntervalSchedule } from './interval-schedule.ts';
import { toSchedule } from './to-schedule.ts';

describe('IntervalSchedule', () => {
  const s = every(1_000);

  it('ticks on the grid of the last tick: last + k × every', () => {
    expect(s.next(5_000, 5_000)).toBe(6_000);
    expect(s.next(5_000, 5_999)).toBe(6_000);
    expect(s.next(5_000, 6_000)).toBe(7_000);
    expect(s.next(5_000, 9_500)).toBe(10_000);
    expect(s.latest(5_000, 5_999)).toBeUndefined();
    expect(s.latest(5_000, 6_000)).toBe(6_000);
    expect(s.latest(5_000, 9_999)).toBe(9_000);
    expect(s.count(5_000, 9_999, 100)).toBe(4);
    expect(s.count(5_000, 9_999, 3)).toBe(3);
    expect(s.count(5_000, 4_000, 100)).toBe(0);
    expect(s.toString()).toBe('every 1000 ms');
  });

  it('is read from seconds (Celery) or { every: ms }, rounded to whole ms', () => {
    expect((toSchedule(10, 'UTC', 'x') as IntervalSchedule).every).toBe(10_000);
    expect((toSchedule(0.5, 'UTC', 'x') as IntervalSchedule).every).toBe(500);
    expect((toSchedule({ every: 250.4 }, 'UTC', 'x') as IntervalSchedule).every).toBe(250);
    const same = every(42);
    expect(toSchedule(same, 'UTC', 'x')).toBe(same);
  });

  it('refuses intervals that are not > 0, saying what came', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => toSchedule(bad, 'UTC', 'beat_schedule["e"]')).toThrow(/beat_schedule\["e"\]: schedule must be a number of seconds > 0/);
    }
    expect(() => every(0.4)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => toSchedule({ every: 'often' }, 'UTC', 'e')).toThrow(/milliseconds >= 1, got often/);
    expect(() => toSchedule(null, 'UTC', 'e')).toThrow(/expected a schedule .* got null/);
    expect(() => toSchedule(true, 'UTC', 'e')).toThrow(/got true/);
  });
});

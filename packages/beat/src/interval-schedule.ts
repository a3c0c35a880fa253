/**
 * Interval schedules: Celery's `schedule(run_every=…)` (a number of seconds or a `timedelta`
 * in `beat_schedule`), on a fixed grid.
 *
 * @module
 */
import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import type { Schedule } from './schedule.ts';

/**
 * Every `every` ms: the ticks after a last tick `last` are `last + k × every`, k ≥ 1.
 *
 * Because a claimed tick becomes the next `last`, the ticks stay on the grid of the entry's
 * first `last` (the time the entry was first seen, as Celery's first `last_run_at`): they do
 * not drift by the time a send takes, as Celery's `last_run_at = now` does.
 */
export class IntervalSchedule implements Schedule {
  readonly kind = 'interval';
  /** Milliseconds between two ticks, a whole number ≥ 1. */
  readonly every: number;

  /**
   * @param every - milliseconds between two ticks (> 0; rounded to whole ms)
   * @param where - what is being read, for the error message
   * @throws {@link CeleriacError} `INVALID_CONFIG` when `every` is not a number > 0
   */
  constructor(every: number, where = 'every()') {
    if (typeof every !== 'number' || !Number.isFinite(every) || Math.round(every) < 1) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `${where}: an interval must be a number of milliseconds >= 1, got ${String(every)}`);
    }
    this.every = Math.round(every);
  }

  next(last: number, after: number): number {
    if (after < last + this.every) return last + this.every;
    return last + (Math.floor((after - last) / this.every) + 1) * this.every;
  }

  latest(last: number, until: number): number | undefined {
    const k = Math.floor((until - last) / this.every);
    return k >= 1 ? last + k * this.every : undefined;
  }

  count(last: number, until: number, cap: number): number {
    return Math.min(Math.max(Math.floor((until - last) / this.every), 0), cap);
  }

  toString(): string {
    return `every ${this.every} ms`;
  }
}

/**
 * An interval schedule (Celery's `schedule(run_every=timedelta(…))`).
 *
 * @param ms - milliseconds between two ticks (`every(60_000)`: each minute)
 * @returns the schedule
 * @throws {@link CeleriacError} `INVALID_CONFIG` when `ms` is not a number > 0
 */
export function every(ms: number): IntervalSchedule {
  return new IntervalSchedule(ms);
}

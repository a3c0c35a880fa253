/**
 * What every schedule answers: the ticks of an entry, relative to its last tick.
 *
 * Every answer is a pure function of the entry's last tick (the scheduled time stored in
 * Redis, ms since the epoch) and a bound, so any number of beat processes compute the same
 * ticks from the same stored state.
 *
 * @module
 */
/**
 * A schedule: the ticks of an entry, relative to its last tick.
 *
 * Ticks are ms since the epoch. An interval's ticks are `last + k × every` (k ≥ 1), so they
 * stay on the grid of the first tick; a crontab's ticks are the crontab's fire times, and
 * `last` only bounds them.
 */
export interface Schedule {
  /** `interval` or `crontab`. */
  readonly kind: 'interval' | 'crontab';
  /**
   * @param last - the entry's last tick
   * @param after - a time at or after `last`
   * @returns the first tick strictly after `after`, or `undefined` when there is none (a
   *   crontab that never fires again)
   */
  next(last: number, after: number): number | undefined;
  /**
   * @param last - the entry's last tick
   * @param until - an upper bound (inclusive)
   * @returns the latest tick `t` with `last < t <= until`, or `undefined` when there is none
   */
  latest(last: number, until: number): number | undefined;
  /**
   * @param last - the entry's last tick
   * @param until - an upper bound (inclusive)
   * @param cap - stop counting here
   * @returns how many ticks `t` have `last < t <= until`, at most `cap`
   */
  count(last: number, until: number, cap: number): number;
  /** For logs: `every 10000 ms`, `crontab "0 9 * * 1-5" in Europe/Berlin`. */
  toString(): string;
}

/**
 * What an entry's `schedule` may be, as in Celery's `beat_schedule`:
 *
 * - a number: seconds between ticks (Celery's `schedule: 10.0` or a `timedelta`);
 * - `{ every: ms }`: milliseconds between ticks;
 * - a string: a crontab expression, 5 fields (`minute hour day-of-month month day-of-week`)
 *   or 6 (seconds first), read in the app's `timezone`;
 * - a schedule object from {@link every} or {@link crontab} (`crontab({ hour: 9, tz: … })`).
 */
export type ScheduleInput = number | string | { readonly every: number } | Schedule;

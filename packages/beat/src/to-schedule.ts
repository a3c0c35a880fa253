/**
 * How an entry's `schedule` value becomes a {@link Schedule}: seconds or `{ every: ms }` (an
 * interval), a crontab string, or a schedule object.
 *
 * @module
 */
import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import { CrontabSchedule } from './crontab-schedule.ts';
import { IntervalSchedule } from './interval-schedule.ts';
import type { Schedule } from './schedule.ts';

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value !== 'object' || value === null) return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Turns an entry's `schedule` into a {@link Schedule}; a crontab without a zone of its own
 * gets `timezone`.
 *
 * @param input - seconds, `{ every: ms }`, a crontab string, or a schedule object
 * @param timezone - the zone of crontabs that name none (the app's `timezone`)
 * @param where - what is being read, for the error message (`beat_schedule["report"]`)
 * @returns the schedule
 * @throws {@link CeleriacError} `INVALID_CONFIG` saying what was expected and what came
 */
export function toSchedule(input: unknown, timezone: string, where: string): Schedule {
  if (input instanceof IntervalSchedule) return input;
  if (input instanceof CrontabSchedule) return input.timezone === undefined ? input.inTimezone(timezone) : input;
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input <= 0) {
      throw new CeleriacError(ErrorCode.INVALID_CONFIG, `${where}: schedule must be a number of seconds > 0, got ${String(input)}`);
    }
    return new IntervalSchedule(input * 1000, where);
  }
  if (typeof input === 'string') return new CrontabSchedule(input, timezone, where);
  if (typeof input === 'object' && input !== null && 'every' in input) {
    return new IntervalSchedule((input).every as number, where);
  }
  throw new CeleriacError(
    ErrorCode.INVALID_CONFIG,
    `${where}: expected a schedule (seconds, { every: ms }, a crontab string or crontab({ … })), got ${describe(input)}`,
  );
}

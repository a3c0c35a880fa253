/**
 * Crontab schedules: Celery's `crontab(minute, hour, day_of_week, day_of_month,
 * month_of_year)` and crontab strings, evaluated by croner in a time zone (croner handles
 * daylight saving time: a fixed time that falls in the spring-forward gap fires at the first
 * valid time after it, one that occurs twice in the autumn fires once).
 *
 * @module
 */
import { Cron } from 'croner';
import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import type { Schedule } from './schedule.ts';

/**
 * One crontab field, as Celery takes it: `'*'`, `'*\/15'`, `'0,30'`, `'1-5'`, `'mon-fri'`, a
 * number, or a list of those.
 */
export type CrontabField = string | number | readonly (string | number)[];

/** The fields of {@link crontab}, Celery's names camelCased; each defaults to `'*'`. */
export interface CrontabFields {
  /** 0-59. */
  readonly minute?: CrontabField;
  /** 0-23. */
  readonly hour?: CrontabField;
  /** 0-6 with Sunday = 0 (7 is Sunday too), or names: `sun`, `mon-fri`, `monday`. */
  readonly dayOfWeek?: CrontabField;
  /** 1-31. */
  readonly dayOfMonth?: CrontabField;
  /** 1-12. */
  readonly monthOfYear?: CrontabField;
  /** The IANA zone the fields are read in; default the app's `timezone` setting (UTC by default). */
  readonly tz?: string;
}

/** Options of a crontab given as a string. */
export interface CrontabOptions {
  /** The IANA zone the expression is read in; default the app's `timezone` setting. */
  readonly tz?: string;
}

function invalid(message: string): CeleriacError {
  return new CeleriacError(ErrorCode.INVALID_CONFIG, message);
}

function checkTimezone(tz: string, where: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw invalid(`${where}: unknown time zone ${JSON.stringify(tz)}; expected an IANA name such as "UTC" or "Europe/Berlin"`);
  }
}

function fieldText(value: unknown, name: string, where: string, weekday: boolean): string {
  if (value === undefined) return '*';
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw invalid(`${where}: ${name} must be an integer >= 0, got ${String(value)}`);
    return String(value);
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '' || /\s/.test(text)) throw invalid(`${where}: ${name} must be one crontab field such as "*", "*/15", "1-5" or "0,30", got ${JSON.stringify(value)}`);
    // Celery reads day names by their first three letters (`monday` is `mon`); croner only
    // knows the three-letter forms.
    return weekday ? text.replace(/[a-z]{4,}/gi, (word) => word.slice(0, 3)) : text;
  }
  if (Array.isArray(value) && value.length > 0) {
    return (value as readonly unknown[]).map((item) => {
      if (Array.isArray(item)) throw invalid(`${where}: ${name} lists must be flat, got ${JSON.stringify(value)}`);
      return fieldText(item, name, where, weekday);
    }).join(',');
  }
  throw invalid(`${where}: ${name} must be a crontab field (string), a number or a non-empty list, got ${JSON.stringify(value)}`);
}

/**
 * A crontab: fires at the times its expression matches, read in {@link timezone}.
 *
 * Day of month and day of week must both match (Celery's rule; Vixie cron fires when either
 * does). Fire times are whole seconds.
 */
export class CrontabSchedule implements Schedule {
  readonly kind = 'crontab';
  /** The expression: 5 fields (`minute hour day-of-month month day-of-week`) or 6 (seconds first). */
  readonly expression: string;
  /** The zone it is read in; `undefined` until the beat gives it the app's `timezone` (UTC meanwhile). */
  readonly timezone: string | undefined;
  readonly #cron: Cron;

  /**
   * @param expression - 5 or 6 fields (see {@link CrontabSchedule.expression})
   * @param timezone - an IANA zone; `undefined`: the app's, once a beat uses it
   * @param where - what is being read, for the error message
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a bad expression or an unknown zone
   */
  constructor(expression: string, timezone?: string, where = 'crontab()') {
    if (typeof expression !== 'string' || expression.trim() === '') {
      throw invalid(`${where}: expected a crontab expression such as "*/5 * * * *", got ${JSON.stringify(expression)}`);
    }
    if (timezone !== undefined) checkTimezone(timezone, where);
    this.expression = expression.trim().replace(/\s+/g, ' ');
    this.timezone = timezone;
    try {
      this.#cron = new Cron(this.expression, {
        paused: true,
        timezone: timezone ?? 'UTC',
        domAndDow: true,
        mode: '5-or-6-parts',
      });
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw invalid(
        `${where}: invalid crontab ${JSON.stringify(this.expression)} (expected 5 fields "minute hour day-of-month month day-of-week", ` +
          `or 6 with seconds first): ${why}`,
      );
    }
  }

  /**
   * @param timezone - an IANA zone
   * @returns this crontab when it has a zone of its own, else the same expression in `timezone`
   * @throws {@link CeleriacError} `INVALID_CONFIG` for an unknown zone
   */
  inTimezone(timezone: string): CrontabSchedule {
    return this.timezone === undefined ? new CrontabSchedule(this.expression, timezone) : this;
  }

  next(last: number, after: number): number | undefined {
    return this.#cron.nextRun(new Date(Math.max(last, after)))?.getTime();
  }

  latest(last: number, until: number): number | undefined {
    if (until <= last) return undefined;
    // previousRuns is strictly before its reference: +1 ms makes `until` itself count.
    const previous = this.#cron.previousRuns(1, new Date(until + 1))[0]?.getTime();
    return previous !== undefined && previous > last ? previous : undefined;
  }

  count(last: number, until: number, cap: number): number {
    let n = 0;
    let at = last;
    while (n < cap) {
      const tick = this.next(last, at);
      if (tick === undefined || tick > until) break;
      n += 1;
      at = tick;
    }
    return n;
  }

  toString(): string {
    return `crontab ${JSON.stringify(this.expression)} in ${this.timezone ?? 'UTC'}`;
  }
}

/**
 * A crontab schedule, as Celery's `crontab()`:
 * `crontab({ minute: 0, hour: 9, dayOfWeek: 'mon-fri', tz: 'Europe/Berlin' })`, or from a
 * string: `crontab('0 9 * * 1-5', { tz: 'Europe/Berlin' })` (5 fields, or 6 with seconds first).
 *
 * @param fields - the fields (each `'*'` when left out) and the zone, or an expression
 * @param options - with an expression: the zone
 * @returns the schedule; without `tz` it runs in the app's `timezone`
 * @throws {@link CeleriacError} `INVALID_CONFIG` for a field out of range, a bad expression
 *   or an unknown zone, naming the input
 * @see https://docs.celeryq.dev/en/v5.2.7/userguide/periodic-tasks.html#crontab-schedules
 */
export function crontab(fields?: CrontabFields): CrontabSchedule;
export function crontab(expression: string, options?: CrontabOptions): CrontabSchedule;
export function crontab(fieldsOrExpression: CrontabFields | string = {}, options: CrontabOptions = {}): CrontabSchedule {
  if (typeof fieldsOrExpression === 'string') return new CrontabSchedule(fieldsOrExpression, options.tz, `crontab(${JSON.stringify(fieldsOrExpression)})`);
  const fields = fieldsOrExpression;
  let where = 'crontab({ … })';
  try {
    where = `crontab(${JSON.stringify(fields)})`;
  } catch {
    // keep the generic name
  }
  const known = new Set(['minute', 'hour', 'dayOfWeek', 'dayOfMonth', 'monthOfYear', 'tz']);
  for (const key of Object.keys(fields)) {
    if (!known.has(key)) throw invalid(`${where}: unknown field '${key}'; expected minute, hour, dayOfWeek, dayOfMonth, monthOfYear or tz`);
  }
  const expression = [
    fieldText(fields.minute, 'minute', where, false),
    fieldText(fields.hour, 'hour', where, false),
    fieldText(fields.dayOfMonth, 'dayOfMonth', where, false),
    fieldText(fields.monthOfYear, 'monthOfYear', where, false),
    fieldText(fields.dayOfWeek, 'dayOfWeek', where, true),
  ].join(' ');
  return new CrontabSchedule(expression, fields.tz, where);
}

import { describe, expect, it } from 'vitest';
import { crontab, CrontabSchedule, type CrontabFields } from './crontab-schedule.ts';
import { toSchedule } from './to-schedule.ts';

const t = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The first `n` ticks after `from`. */
function ticks(schedule: CrontabSchedule, from: string, n: number): string[] {
  const out: string[] = [];
  let at = t(from);
  for (let i = 0; i < n; i += 1) {
    const next = schedule.next(at, at);
    if (next === undefined) break;
    out.push(new Date(next).toISOString());
    at = next;
  }
  return out;
}

describe('crontab()', () => {
  it("builds Celery's field order into a 5-field expression (each field '*' by default)", () => {
    expect(crontab().expression).toBe('* * * * *');
    expect(crontab({ minute: [0, 30], hour: '9-17', dayOfWeek: 'mon-fri' }).expression).toBe('0,30 9-17 * * mon-fri');
    expect(crontab({ minute: 0, hour: 7, dayOfMonth: '1,15', monthOfYear: '*/3' }).expression).toBe('0 7 1,15 */3 *');
    // Celery reads day names by their first three letters.
    expect(crontab({ minute: 0, hour: 0, dayOfWeek: 'monday-friday' }).expression).toBe('0 0 * * mon-fri');
    expect(crontab('  */5   * * * * ').expression).toBe('*/5 * * * *');
  });

  it('fires at the first matching time after a moment, in UTC by default', () => {
    const weekdays = toSchedule(crontab({ minute: 0, hour: 9, dayOfWeek: 'mon-fri' }), 'UTC', 'x') as CrontabSchedule;
    expect(weekdays.timezone).toBe('UTC');
    // 2026-01-02 is a Friday: the next is Monday the 5th.
    expect(ticks(weekdays, '2026-01-02T09:00:00Z', 2)).toEqual(['2026-01-05T09:00:00.000Z', '2026-01-06T09:00:00.000Z']);
    expect(ticks(new CrontabSchedule('*/10 * * * * *'), '2026-01-01T00:00:05Z', 2)).toEqual(['2026-01-01T00:00:10.000Z', '2026-01-01T00:00:20.000Z']);
  });

  it('needs day of month AND day of week to match, as Celery (not the either-or of Vixie cron)', () => {
    const friday13 = crontab({ minute: 0, hour: 0, dayOfMonth: 13, dayOfWeek: 'friday' });
    expect(ticks(friday13, '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-02-13T00:00:00.000Z',
      '2026-03-13T00:00:00.000Z',
      '2026-11-13T00:00:00.000Z',
    ]);
  });

  it("runs in the app's timezone unless it names its own", () => {
    const nine = toSchedule('0 9 * * *', 'America/New_York', 'x') as CrontabSchedule;
    expect(nine.timezone).toBe('America/New_York');
    // New York leaves daylight saving time on 2026-11-01: 09:00 is 13:00Z before, 14:00Z after.
    expect(ticks(nine, '2026-10-31T00:00:00Z', 3)).toEqual([
      '2026-10-31T13:00:00.000Z',
      '2026-11-01T14:00:00.000Z',
      '2026-11-02T14:00:00.000Z',
    ]);
    const tokyo = toSchedule(crontab({ minute: 0, hour: 9, tz: 'Asia/Tokyo' }), 'America/New_York', 'x') as CrontabSchedule;
    expect(tokyo.timezone).toBe('Asia/Tokyo');
    expect(ticks(tokyo, '2026-06-01T00:00:00Z', 1)).toEqual(['2026-06-02T00:00:00.000Z']);
    expect(crontab('0 9 * * *', { tz: 'Asia/Tokyo' }).inTimezone('UTC').timezone).toBe('Asia/Tokyo');
  });

  describe('on daylight saving days (Europe/Berlin, 2026)', () => {
    const twoThirty = crontab({ minute: 30, hour: 2, tz: 'Europe/Berlin' });

    it('spring forward: a fixed time in the skipped hour fires at the first valid time after it', () => {
      // 2026-03-29 02:00 CET jumps to 03:00 CEST (01:00Z): 02:30 does not exist that day.
      expect(ticks(twoThirty, '2026-03-27T12:00:00Z', 3)).toEqual([
        '2026-03-28T01:30:00.000Z', // 02:30 CET
        '2026-03-29T01:00:00.000Z', // 03:00 CEST, the first time after the gap
        '2026-03-30T00:30:00.000Z', // 02:30 CEST
      ]);
    });

    it('fall back: a fixed time that occurs twice fires once', () => {
      // 2026-10-25 03:00 CEST goes back to 02:00 CET (01:00Z): 02:30 happens twice.
      expect(ticks(twoThirty, '2026-10-24T12:00:00Z', 2)).toEqual([
        '2026-10-25T00:30:00.000Z', // 02:30 CEST
        '2026-10-26T01:30:00.000Z', // the next day, 02:30 CET: not 01:30Z on the 25th
      ]);
    });

    it('a repeating crontab fires on both occurrences of the repeated hour and skips the missing one', () => {
      const halfHourly = crontab('*/30 * * * *', { tz: 'Europe/Berlin' });
      expect(ticks(halfHourly, '2026-10-24T23:50:00Z', 5)).toEqual([
        '2026-10-25T00:00:00.000Z', // 02:00 CEST
        '2026-10-25T00:30:00.000Z', // 02:30 CEST
        '2026-10-25T01:00:00.000Z', // 02:00 CET
        '2026-10-25T01:30:00.000Z', // 02:30 CET
        '2026-10-25T02:00:00.000Z', // 03:00 CET
      ]);
      expect(halfHourly.count(t('2026-10-24T23:50:00Z'), t('2026-10-25T02:10:00Z'), 100)).toBe(5);
      expect(ticks(halfHourly, '2026-03-28T23:50:00Z', 4)).toEqual([
        '2026-03-29T00:00:00.000Z', // 01:00 CET
        '2026-03-29T00:30:00.000Z', // 01:30 CET
        '2026-03-29T01:00:00.000Z', // 03:00 CEST: 02:00 and 02:30 do not exist
        '2026-03-29T01:30:00.000Z', // 03:30 CEST
      ]);
    });
  });

  it('latest: the last fire time in (last, until], until included', () => {
    const hourly = crontab('0 * * * *');
    expect(iso(hourly.latest(t('2026-01-01T00:00:00Z'), t('2026-01-01T02:59:59Z')))).toBe('2026-01-01T02:00:00.000Z');
    expect(iso(hourly.latest(t('2026-01-01T00:00:00Z'), t('2026-01-01T03:00:00Z')))).toBe('2026-01-01T03:00:00.000Z');
    expect(hourly.latest(t('2026-01-01T02:00:00Z'), t('2026-01-01T02:30:00Z'))).toBeUndefined();
    expect(hourly.latest(t('2026-01-01T02:00:00Z'), t('2026-01-01T01:00:00Z'))).toBeUndefined();
    expect(hourly.count(t('2026-01-01T00:00:00Z'), t('2026-01-02T00:00:00Z'), 1000)).toBe(24);
  });

  it('a crontab that never fires has no next tick', () => {
    const never = crontab({ minute: 0, hour: 0, dayOfMonth: 30, monthOfYear: 2 });
    expect(never.next(0, t('2026-01-01T00:00:00Z'))).toBeUndefined();
  });

  it('refuses bad fields, expressions and zones with INVALID_CONFIG naming the input', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => crontab({ minute: 61 }), /crontab\(\{"minute":61\}\): invalid crontab "61 \* \* \* \*".*minute/],
      [() => crontab({ minute: 1.5 }), /minute must be an integer >= 0, got 1.5/],
      [() => crontab({ hour: 'nine to five' }), /hour must be one crontab field .* got "nine to five"/],
      [() => crontab({ hour: [] }), /hour must be a crontab field/],
      [() => crontab({ minutes: 5 } as CrontabFields), /unknown field 'minutes'/],
      [() => crontab({ hour: 9, tz: 'Mars/Olympus_Mons' }), /unknown time zone "Mars\/Olympus_Mons"/],
      [() => crontab('* * * * * * *'), /invalid crontab "\* \* \* \* \* \* \*" \(expected 5 fields/],
      [() => crontab('   '), /expected a crontab expression/],
      [() => toSchedule('0 9 * * *', 'Not/AZone', 'beat_schedule["x"]'), /beat_schedule\["x"\]: unknown time zone/],
    ];
    for (const [make, pattern] of cases) {
      expect(make).toThrow(pattern);
      expect(make).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }
  });
});

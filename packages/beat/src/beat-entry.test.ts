import { describe, expect, it } from 'vitest';
import { toBeatEntries, toBeatEntry, toSendOptions } from './beat-entry.ts';
import { crontab, CrontabSchedule } from './crontab-schedule.ts';
import { IntervalSchedule } from './interval-schedule.ts';

describe('beat entries', () => {
  it("reads Celery's beat_schedule shape, options in Celery's names or camelCase", () => {
    const [add, report] = toBeatEntries(
      {
        'add-every-30s': { task: 'tasks.add', schedule: 30, args: [16, 16] },
        report: {
          task: 'tasks.report',
          schedule: '0 7 * * mon-fri',
          kwargs: { fmt: 'pdf' },
          options: { routing_key: 'reports', ignore_result: true, expires: 60, retry_policy: { max_retries: 1, interval_start: 0.5 }, priority: 3 },
        },
      },
      'Europe/Berlin',
    );
    expect(add).toMatchObject({ name: 'add-every-30s', task: 'tasks.add', args: [16, 16], kwargs: {}, options: {} });
    expect(add?.schedule).toBeInstanceOf(IntervalSchedule);
    expect((add?.schedule as IntervalSchedule).every).toBe(30_000);
    expect(report?.options).toEqual({ routingKey: 'reports', ignoreResult: true, expires: 60, retryPolicy: { maxRetries: 1, intervalStart: 0.5 }, priority: 3 });
    expect(report?.schedule).toBeInstanceOf(CrontabSchedule);
    expect((report?.schedule as CrontabSchedule).timezone).toBe('Europe/Berlin');
    expect(Object.isFrozen(report)).toBe(true);
  });

  it('keeps a crontab object with its own zone', () => {
    const entry = toBeatEntry('e', { task: 't', schedule: crontab({ hour: 3, minute: 0, tz: 'Asia/Tokyo' }) }, 'UTC');
    expect((entry.schedule as CrontabSchedule).timezone).toBe('Asia/Tokyo');
  });

  it('refuses what Celery would not send, naming the entry and suggesting the closest name', () => {
    const cases: [unknown, RegExp][] = [
      [{ task: 't', shedule: 5 }, /beat_schedule\["e"\]: unknown key 'shedule'; did you mean 'schedule'\?/],
      [{ task: 't' }, /beat_schedule\["e"\]: schedule is required/],
      [{ schedule: 5 }, /task must be a task name .* got undefined/],
      [{ task: 't', schedule: 5, args: 'x' }, /args must be an array, got "x"/],
      [{ task: 't', schedule: 5, kwargs: [1] }, /kwargs must be an object, got \[1\]/],
      [{ task: 't', schedule: 5, options: { queu: 'q' } }, /unknown send option 'queu'; did you mean 'queue'\?/],
      [{ task: 't', schedule: 5, options: { exchange: 'x' } }, /option 'exchange' is not supported/],
      [{ task: 't', schedule: 5, options: { queue: 'a', routing_key: 'b', routingKey: 'b' } }, /option 'routingKey' is given twice/],
      [{ task: 't', schedule: 5, options: { retry_policy: { max_retry: 1 } } }, /unknown retry_policy key 'max_retry'/],
      [{ task: 't', schedule: 5, options: { headers: 'h' } }, /headers must be an object/],
      ['tasks.add', /expected an object \{ task, schedule/],
    ];
    for (const [input, pattern] of cases) {
      expect(() => toBeatEntry('e', input, 'UTC')).toThrow(pattern);
      expect(() => toBeatEntry('e', input, 'UTC')).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }
  });

  it('passes camelCase send options through', () => {
    expect(toSendOptions({ queue: 'q', softTimeLimit: 5, headers: { a: 1 } }, 'x')).toEqual({ queue: 'q', softTimeLimit: 5, headers: { a: 1 } });
    expect(toSendOptions(undefined, 'x')).toEqual({});
  });
});

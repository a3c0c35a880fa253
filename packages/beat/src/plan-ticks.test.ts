import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crontab } from './crontab-schedule.ts';
import { every } from './interval-schedule.ts';
import { planTicks, type PlanOptions } from './plan-ticks.ts';

const once: PlanOptions = { missed: 'once', graceMs: 60_000, maxSteps: 100 };
const skip: PlanOptions = { ...once, missed: 'skip' };
const second = every(1_000);

describe('planTicks', () => {
  it('nothing before the next tick; one step at it', () => {
    expect(planTicks(second, 0, 999, once)).toEqual({ steps: [], next: 1_000 });
    expect(planTicks(second, 0, 1_000, once)).toEqual({ steps: [{ tick: 1_000, send: true, missed: 0 }], next: 2_000 });
    expect(planTicks(second, 0, 1_999, once)).toEqual({ steps: [{ tick: 1_000, send: true, missed: 0 }], next: 2_000 });
  });

  it('late ticks within the grace are each sent, under both policies', () => {
    for (const options of [once, skip]) {
      const plan = planTicks(second, 0, 5_500, options);
      expect(plan.steps).toEqual([1_000, 2_000, 3_000, 4_000, 5_000].map((tick) => ({ tick, send: true, missed: 0 })));
      expect(plan.next).toBe(6_000);
    }
  });

  it("missed: 'once' collapses ticks older than the grace into one catch-up, then realigns", () => {
    // Down from 0 to 100.5 s with a 60 s grace: ticks 1..40 s are missed (older than 40.5 s).
    const plan = planTicks(second, 0, 100_500, once);
    expect(plan.steps[0]).toEqual({ tick: 40_000, send: true, missed: 40 });
    expect(plan.steps.slice(1).map((s) => s.tick)).toEqual(Array.from({ length: 60 }, (_, i) => 41_000 + i * 1_000));
    expect(plan.steps.slice(1).every((s) => s.send && s.missed === 0)).toBe(true);
    expect(plan.next).toBe(101_000);
  });

  it("missed: 'skip' claims the missed ticks without sending", () => {
    const plan = planTicks(second, 0, 100_500, skip);
    expect(plan.steps[0]).toEqual({ tick: 40_000, send: false, missed: 40 });
    expect(plan.steps.filter((s) => s.send)).toHaveLength(60);
    // With no grace only the tick due right now is sent: everything older was missed.
    const strict = planTicks(second, 0, 100_000, { ...skip, graceMs: 0 });
    expect(strict.steps).toEqual([{ tick: 99_000, send: false, missed: 99 }, { tick: 100_000, send: true, missed: 0 }]);
    expect(strict.next).toBe(101_000);
  });

  it('after downtime, an hourly crontab sends one catch-up for the latest missed hour', () => {
    const hourly = crontab('0 * * * *');
    const last = Date.parse('2026-01-01T00:00:00Z');
    const now = Date.parse('2026-01-01T05:20:00Z');
    expect(planTicks(hourly, last, now, once)).toEqual({
      steps: [{ tick: Date.parse('2026-01-01T05:00:00Z'), send: true, missed: 5 }],
      next: Date.parse('2026-01-01T06:00:00Z'),
    });
    expect(planTicks(hourly, last, now, skip).steps).toEqual([{ tick: Date.parse('2026-01-01T05:00:00Z'), send: false, missed: 5 }]);
  });

  it('stops at maxSteps; the rest is due at once', () => {
    const plan = planTicks(second, 0, 30_000, { ...once, maxSteps: 10 });
    expect(plan.steps).toHaveLength(10);
    expect(plan.next).toBe(11_000);
  });

  it('a schedule that never fires again has no steps and no next tick', () => {
    expect(planTicks(crontab({ minute: 0, hour: 0, dayOfMonth: 31, monthOfYear: 2 }), 0, Date.now(), once)).toEqual({ steps: [], next: undefined });
  });

  it('is deterministic: planning in two goes from the stored tick gives the ticks of one go', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 10_000 }),
        fc.integer({ min: 0, max: 2 ** 42 }),
        fc.integer({ min: 0, max: 50_000 }),
        fc.integer({ min: 0, max: 50_000 }),
        (everyMs, last, d1, d2) => {
          const schedule = every(everyMs);
          const options: PlanOptions = { missed: 'once', graceMs: 2 ** 50, maxSteps: 1_000 };
          const first = planTicks(schedule, last, last + d1, options);
          const stored = first.steps.at(-1)?.tick ?? last;
          const second = planTicks(schedule, stored, last + d1 + d2, options);
          const whole = planTicks(schedule, last, last + d1 + d2, options);
          expect([...first.steps, ...second.steps]).toEqual(whole.steps);
          expect(second.next).toBe(whole.next);
          // Every tick is on the grid of the first stored tick, each exactly once.
          for (const step of whole.steps) expect((step.tick - last) % everyMs).toBe(0);
          expect(new Set(whole.steps.map((s) => s.tick)).size).toBe(whole.steps.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('whatever the grace and policy, claimed ticks rise strictly, stay on the grid and reach the latest due tick', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 10_000 }),
        fc.integer({ min: 0, max: 2 ** 42 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.constantFrom('once' as const, 'skip' as const),
        (everyMs, last, elapsed, graceMs, missed) => {
          const plan = planTicks(every(everyMs), last, last + elapsed, { missed, graceMs, maxSteps: 10_000 });
          const ticks = plan.steps.map((s) => s.tick);
          for (const [i, tick] of ticks.entries()) {
            expect(tick).toBeGreaterThan(i === 0 ? last : (ticks[i - 1] ?? 0));
            expect((tick - last) % everyMs).toBe(0);
          }
          const latestDue = last + Math.floor(elapsed / everyMs) * everyMs;
          expect(ticks.at(-1) ?? last).toBe(latestDue);
          expect(plan.next).toBe(latestDue + everyMs);
          // At most one step stands for missed ticks, and only the first.
          expect(plan.steps.slice(1).every((s) => s.missed === 0 && s.send)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

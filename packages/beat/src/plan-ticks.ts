/**
 * What a beat does for one entry at one moment: a pure function of the schedule, the last
 * tick stored in Redis and the time, so every beat process plans the same ticks.
 *
 * @module
 */
import type { Schedule } from './schedule.ts';

/**
 * What happens to ticks that were missed, i.e. due more than `graceMs` ago (the beat was down,
 * or no process led for a while):
 *
 * - `'once'` (default, as Celery): one catch-up message is sent for the latest missed tick,
 *   then the entry goes on with the schedule's next tick;
 * - `'skip'`: nothing is sent for them; the entry goes on with the schedule's next tick.
 *
 * Ticks that are due but not older than `graceMs` are late, not missed: each is sent on its
 * own under both policies.
 */
export type MissedPolicy = 'once' | 'skip';

/** The beat's policy for due ticks. */
export interface PlanOptions {
  /** See {@link MissedPolicy}. */
  readonly missed: MissedPolicy;
  /** A tick due more than this many ms ago is missed; up to this late it is sent on its own. */
  readonly graceMs: number;
  /** At most this many steps per plan (the rest come in the next plan, at once). */
  readonly maxSteps: number;
}

/** One claim to make: move the entry's last tick to `tick`, and send a message or not. */
export interface TickStep {
  /** The scheduled time of the tick, ms since the epoch (the message's `beat_scheduled_at`). */
  readonly tick: number;
  /** Send a message for it (false: a `skip` of missed ticks). */
  readonly send: boolean;
  /** 0 for a tick on time or late within the grace; else how many missed ticks it stands for (at most 10 000 counted). */
  readonly missed: number;
}

/** The steps for one entry, oldest first, and when it is due next. */
export interface TickPlan {
  readonly steps: readonly TickStep[];
  /** The first tick after the last step (or after `last` when there is none); `undefined`: never. */
  readonly next: number | undefined;
}

const COUNT_CAP = 10_000;

/**
 * Plans the claims for one entry.
 *
 * The due ticks are those in `(last, now]`. The ones older than `now - graceMs` are missed:
 * the latest of them becomes one step (sent under `'once'`, not under `'skip'`), standing for
 * all of them. Every later due tick is a step of its own, sent.
 *
 * @param schedule - the entry's schedule
 * @param last - the entry's last tick (ms since the epoch), as stored
 * @param now - the current time (ms since the epoch)
 * @param options - missed policy, grace, step limit
 * @returns the steps, oldest first, and the next tick after them
 */
export function planTicks(schedule: Schedule, last: number, now: number, options: PlanOptions): TickPlan {
  const steps: TickStep[] = [];
  let cursor = last;
  // Ticks are whole ms: "more than graceMs ago" is "at or before now - graceMs - 1".
  const missedUntil = now - options.graceMs - 1;
  const missed = schedule.latest(cursor, missedUntil);
  if (missed !== undefined) {
    steps.push({ tick: missed, send: options.missed === 'once', missed: schedule.count(cursor, missedUntil, COUNT_CAP) });
    cursor = missed;
  }
  while (steps.length < options.maxSteps) {
    const tick = schedule.next(cursor, cursor);
    if (tick === undefined || tick > now) break;
    steps.push({ tick, send: true, missed: 0 });
    cursor = tick;
  }
  return { steps, next: schedule.next(cursor, cursor) };
}

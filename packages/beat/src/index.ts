/**
 * `@celeriac/beat`: Celery beat for Celeriac. Periodic tasks from an app's `beat_schedule`
 * (intervals and crontabs, time-zone aware), sent with the app's `sendTask`, each tick exactly
 * once by any number of beat processes sharing a Redis lock and per-entry state.
 *
 * @packageDocumentation
 */
export {
  Beat,
  createBeat,
  type BeatApp,
  type BeatConfig,
  type BeatEvents,
  type BeatOptions,
  type BeatSentEvent,
  type BeatSentHandle,
} from './beat.ts';
export {
  toBeatEntries,
  toBeatEntry,
  toSendOptions,
  type BeatEntry,
  type BeatEntryInput,
  type BeatEntryOptions,
} from './beat-entry.ts';
export { BeatStore, type AcquireResult, type ClaimResult } from './beat-store.ts';
export {
  crontab,
  CrontabSchedule,
  type CrontabField,
  type CrontabFields,
  type CrontabOptions,
} from './crontab-schedule.ts';
export { every, IntervalSchedule } from './interval-schedule.ts';
export { planTicks, type MissedPolicy, type PlanOptions, type TickPlan, type TickStep } from './plan-ticks.ts';
export type { Schedule, ScheduleInput } from './schedule.ts';
export { CLAIM_SCRIPT, RELEASE_SCRIPT, RENEW_SCRIPT } from './scripts.ts';
export { toSchedule } from './to-schedule.ts';

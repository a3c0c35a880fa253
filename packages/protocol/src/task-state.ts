/**
 * Task states as Celery stores them.
 *
 * @see celery-wire.md §4.4
 * @module
 */

/** The states Celery defines. Custom states (any other string) are allowed on the wire. */
export const TaskState = {
  /** Unknown to the backend: no result key (yet). Never stored. */
  PENDING: 'PENDING',
  /** Received by a worker (events only; never stored by Celery). */
  RECEIVED: 'RECEIVED',
  /** Started (stored only with `task_track_started`). */
  STARTED: 'STARTED',
  SUCCESS: 'SUCCESS',
  FAILURE: 'FAILURE',
  /** Will be retried; the result holds the exception. */
  RETRY: 'RETRY',
  /** Revoked or expired. */
  REVOKED: 'REVOKED',
} as const;

/** One of the {@link TaskState} values. */
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** States after which nothing changes: SUCCESS, FAILURE, REVOKED. */
export const READY_STATES: ReadonlySet<string> = new Set([TaskState.SUCCESS, TaskState.FAILURE, TaskState.REVOKED]);

/** States whose result is an exception: FAILURE, RETRY, REVOKED. */
export const EXCEPTION_STATES: ReadonlySet<string> = new Set([TaskState.FAILURE, TaskState.RETRY, TaskState.REVOKED]);

/** States that `get()` raises for: FAILURE, REVOKED. */
export const PROPAGATE_STATES: ReadonlySet<string> = new Set([TaskState.FAILURE, TaskState.REVOKED]);

/**
 * The result-backend contract the producer and the worker talk to.
 * `@celeriac/backend-redis` implements it on Celery's Redis layout.
 *
 * @see celery-wire.md §4
 * @module
 */
import type { WireValue } from './serializer.ts';
import type { ResultMeta } from './result-meta.ts';

/** Options for {@link ResultBackend.store}. */
export interface StoreResultOptions {
  /** Seconds until the result expires; `null` keeps it forever. Default: the backend's `result_expires`. */
  readonly expires?: number | null;
}

/** Options for {@link ResultBackend.waitFor}. */
export interface WaitForOptions {
  /** Milliseconds; rejects with `TIMEOUT` after it and drops the subscription. */
  readonly timeout?: number;
  /** Aborting drops the subscription and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** A place where workers store task states and clients wait for them. */
export interface ResultBackend {
  /**
   * Stores (and announces) a state change. A stored SUCCESS is final: later writes for that
   * id are skipped, as Celery does.
   *
   * @returns whether the meta was written
   */
  store(meta: ResultMeta, options?: StoreResultOptions): Promise<boolean>;
  /** The stored meta, or a PENDING one when there is none. */
  get(taskId: string): Promise<ResultMeta>;
  /** {@link get} for many ids in one round trip, in order. */
  getMany(taskIds: readonly string[]): Promise<ResultMeta[]>;
  /** Deletes the stored result and drops any subscription for it. */
  forget(taskId: string): Promise<void>;
  /**
   * Resolves with the first ready meta (SUCCESS, FAILURE, REVOKED) for the id; subscribes
   * only while someone waits.
   */
  waitFor(taskId: string, options?: WaitForOptions): Promise<ResultMeta>;
  /** Saves a group's member ids (`GroupResult.save()`). */
  saveGroup(groupId: string, taskIds: readonly string[]): Promise<void>;
  /** The member ids of a saved group, or `null`. */
  getGroup(groupId: string): Promise<string[] | null>;
  /** Closes every connection; pending waits reject with `CONNECTION_CLOSED`. */
  close(): Promise<void>;
  /**
   * Chords (optional: a backend without them cannot run chords). Sets the header size a
   * chord counts down to (Celery's `set_chord_size`).
   */
  setChordSize?(groupId: string, size: number): Promise<void>;
  /** Records a finished header task and reports how many are done (Celery's `on_chord_part_return`). */
  chordPartDone?(groupId: string, groupIndex: number | null, taskId: string, state: string, result: unknown): Promise<ChordPartProgress>;
  /** The finished header tasks, in header order. */
  chordResults?(groupId: string): Promise<ChordPart[]>;
  /** Deletes the chord's counters once the body was sent. */
  chordCleanup?(groupId: string): Promise<void>;
}

/** What {@link ResultBackend.chordPartDone} reports. */
export interface ChordPartProgress {
  /** Header tasks done so far (this one included). */
  readonly count: number;
  /** Chord size plus extra header tasks; `null` when the size was never set. */
  readonly total: number | null;
  /** `count === total`: this task completed the header and should send the body. */
  readonly complete: boolean;
}

/** One finished header task. */
export interface ChordPart {
  readonly taskId: string;
  readonly state: string;
  /** The return value, or the exception info for an exception state. */
  readonly result: WireValue;
}

/**
 * Celery's `GroupResult`: the results of a group's members, joined natively on Redis (one
 * MGET for what is already stored, then subscriptions for the missing ones only).
 *
 * @see celery/result.py `GroupResult.join_native`; celery-wire.md §4.7, §4.8
 * @module
 */
import { setMaxListeners } from 'node:events';
import {
  pendingMeta,
  PROPAGATE_STATES,
  READY_STATES,
  TimeoutError,
  type RemoteTaskError,
} from '@celeriac/protocol';
import { AsyncResult, outcomeOf, setKnownMeta } from './async-result.ts';
import type { ResultHandleBackend } from './result-handle-backend.ts';

/** Options of {@link GroupResult.join}. */
export interface JoinOptions {
  /** Milliseconds for the whole join; then it rejects with a `TimeoutError` and drops every wait. */
  readonly timeout?: number;
  /** Reject with the first failure (default); with `false`, the error objects take their places. */
  readonly propagate?: boolean;
  /** Aborting rejects with the signal's reason and drops every wait. */
  readonly signal?: AbortSignal;
}

/** {@link JoinOptions} with `propagate: false`. */
export interface JoinNoPropagateOptions extends JoinOptions {
  readonly propagate: false;
}

/**
 * A handle on a group's results, in member order.
 *
 * @typeParam TResult - the members' return type
 *
 * @example
 * ```ts
 * const group = backend.groupResult<number>(groupId, taskIds);
 * await group.save();
 * const sums = await group.join({ timeout: 10_000 });
 * ```
 */
export class GroupResult<TResult = unknown> {
  /** The group id. */
  readonly id: string;
  /** The member handles, in order. */
  readonly results: readonly AsyncResult<TResult>[];
  /** The backend the group reads from. */
  readonly backend: ResultHandleBackend;

  /**
   * @param id - the group id
   * @param results - the member handles, in order
   * @param backend - where the results are stored
   */
  constructor(id: string, results: readonly AsyncResult<TResult>[], backend: ResultHandleBackend) {
    this.id = id;
    this.results = results;
    this.backend = backend;
  }

  /**
   * Reads a group saved with {@link save} (or by Python's `GroupResult.save()`).
   *
   * @param groupId - the group id
   * @param backend - where it is stored
   * @returns the group, or `null` when none is saved
   */
  static async restore<TResult = unknown>(groupId: string, backend: ResultHandleBackend): Promise<GroupResult<TResult> | null> {
    const ids = await backend.getGroup(groupId);
    return ids === null ? null : new GroupResult<TResult>(groupId, ids.map((id) => new AsyncResult<TResult>(id, backend)), backend);
  }

  /** The member ids, in order. */
  get ids(): string[] {
    return this.results.map((r) => r.id);
  }

  /** @returns whether every member's last known state is ready */
  ready(): boolean {
    return this.results.every((r) => r.ready());
  }

  /** @returns whether every member's last known state is SUCCESS */
  successful(): boolean {
    return this.results.every((r) => r.successful());
  }

  /** @returns whether any member's last known state is FAILURE */
  failed(): boolean {
    return this.results.some((r) => r.failed());
  }

  /** @returns how many members are known to have succeeded (Celery's `completed_count()`) */
  completedCount(): number {
    return this.results.filter((r) => r.successful()).length;
  }

  /**
   * Saves the member ids under `celery-taskset-meta-<gid>` (Celery's tuple format).
   */
  save(): Promise<void> {
    return this.backend.saveGroup(this.id, this.ids);
  }

  /** Deletes the saved group. */
  delete(): Promise<void> {
    return this.backend.deleteGroup(this.id);
  }

  /**
   * Reads every member's stored meta with one MGET (batches of 1,000) and remembers them.
   *
   * @returns this group
   */
  async refresh(): Promise<this> {
    const metas = await this.backend.getMany(this.ids);
    metas.forEach((meta, i) => {
      const result = this.results[i];
      if (result !== undefined) setKnownMeta(result, meta);
    });
    return this;
  }

  /**
   * Waits for every member, in order: one MGET for those already stored, then a wait (and a
   * subscription) only for the missing ones.
   *
   * @param options - `timeout` (ms, for the whole join), `propagate` (default true), `signal`
   * @returns the return values in member order (with `propagate: false`, error objects in
   *   place of failures)
   * @throws the first member failure (`RemoteTaskError`) when propagating; `TimeoutError`;
   *   the abort reason; `ConnectionClosedError`; decode errors
   */
  join(options?: JoinOptions & { readonly propagate?: true }): Promise<TResult[]>;
  join(options: JoinNoPropagateOptions): Promise<(TResult | RemoteTaskError)[]>;
  async join(options: JoinOptions = {}): Promise<unknown[]> {
    const propagate = options.propagate ?? true;
    const unknown = this.results.filter((r) => !r.ready());
    if (unknown.length > 0) {
      const metas = await this.backend.getMany(unknown.map((r) => r.id));
      metas.forEach((meta, i) => {
        const result = unknown[i];
        if (result !== undefined && READY_STATES.has(meta.status)) setKnownMeta(result, meta);
      });
    }
    const settled = (r: AsyncResult<TResult>): void => {
      const meta = r.meta;
      if (propagate && meta !== undefined && PROPAGATE_STATES.has(meta.status)) outcomeOf(meta, true);
    };
    this.results.filter((r) => r.ready()).forEach(settled);
    const missing = this.results.filter((r) => !r.ready());
    if (missing.length > 0) await this.#waitAll(missing, options, settled);
    return this.results.map((r) => outcomeOf(r.meta ?? pendingMeta(r.id), propagate));
  }

  async #waitAll(
    missing: readonly AsyncResult<TResult>[],
    options: JoinOptions,
    settled: (r: AsyncResult<TResult>) => void,
  ): Promise<void> {
    // One signal for every member's wait: the consumer adds one abort listener per signal,
    // not per wait (O(1) listeners, no MaxListenersExceededWarning). The join owns the
    // signal and aborts it when done, so a backend that does add one per wait leaks nothing.
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    const outer = options.signal;
    const onOuterAbort = (): void => controller.abort(outer?.reason);
    if (outer?.aborted === true) controller.abort(outer.reason);
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    const timeout = options.timeout;
    const timer = timeout === undefined ? undefined : setTimeout(() => {
      const done = this.results.filter((r) => r.ready()).length;
      controller.abort(new TimeoutError(
        `Group ${this.id}: ${done} of ${this.results.length} results ready within ${timeout} ms`, timeout,
      ));
    }, timeout);
    try {
      await Promise.all(missing.map(async (r) => {
        const meta = await this.backend.waitFor(r.id, { signal: controller.signal });
        setKnownMeta(r, meta);
        settled(r);
      }));
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
      // Drops the waits still pending (after a failure, a timeout or an abort) and with them
      // their subscriptions; a no-op when all are done.
      controller.abort();
    }
  }
}

/**
 * The handle of a group sent by `app.applyAsync(group(...))`: a `GroupResult` whose joins
 * first wait for the publishes.
 *
 * @module
 */
import { GroupResult, type AsyncResult, type JoinNoPropagateOptions, type JoinOptions, type ResultHandleBackend } from '@celeriac/backend-redis';
import type { RemoteTaskError } from '@celeriac/protocol';

/** A group's results, returned at once; `sent` settles when every member is published. */
export class SentGroupResult<TResult = unknown> extends GroupResult<TResult> {
  /** Resolves once every member's message is published (and the chord size set); rejects with the first publish error. */
  readonly sent: Promise<void>;

  /**
   * @param id - the group id
   * @param results - one handle per member, in order
   * @param backend - the result backend
   * @param sent - the publishes
   */
  constructor(id: string, results: readonly AsyncResult<TResult>[], backend: ResultHandleBackend, sent: Promise<void>) {
    super(id, results, backend);
    this.sent = sent;
  }

  override join(options?: JoinOptions & { readonly propagate?: true }): Promise<TResult[]>;
  override join(options: JoinNoPropagateOptions): Promise<(TResult | RemoteTaskError)[]>;
  override async join(options: JoinOptions = {}): Promise<unknown[]> {
    const started = Date.now();
    await this.sent;
    const timeout = options.timeout === undefined ? undefined : Math.max(1, options.timeout - (Date.now() - started));
    return super.join({ ...options, timeout } as JoinOptions & { readonly propagate?: true });
  }
}

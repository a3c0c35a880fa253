import type { ResultBackend } from '@celeriac/protocol';
import type { ResultConsumer } from './result-consumer.ts';

/**
 * What a result handle ({@link AsyncResult}, {@link GroupResult}) needs from its backend:
 * the `ResultBackend` contract plus the consumer's weak registration and last-known state.
 * {@link RedisResultBackend} is one.
 */
export interface ResultHandleBackend extends ResultBackend {
  /** The backend's result consumer (weak on-ready registrations, last non-ready meta). */
  readonly consumer: Pick<ResultConsumer, 'watch' | 'peek'>;
  /** Deletes a saved group. */
  deleteGroup(groupId: string): Promise<void>;
}

/**
 * The result backend of an app without `result_backend` (Celery's `DisabledBackend`): sends
 * still work and return handles (for the task id), but anything that reads or waits for a
 * result rejects at once with a `CeleriacError` `INVALID_CONFIG` saying how to configure one.
 *
 * @module
 */
import type { ResultConsumer, ResultHandleBackend } from '@celeriac/backend-redis';
import { CeleriacError, ErrorCode, type ResultMeta } from '@celeriac/protocol';

/**
 * @param taskId - the task or group id asked about
 * @returns the error every result operation of an app without a backend raises
 */
export function noBackendError(taskId: string): CeleriacError {
  return new CeleriacError(
    ErrorCode.INVALID_CONFIG,
    `No result backend is configured, so the result of ${taskId} cannot be read or awaited: ` +
      "set result_backend (e.g. 'redis://localhost:6379/0') or the CELERY_RESULT_BACKEND environment variable",
  );
}

/** A backend that stores nothing and refuses every read. */
export class DisabledBackend implements ResultHandleBackend {
  /** Watches are refused at once (the on-ready promise is rejected). */
  readonly consumer: Pick<ResultConsumer, 'watch' | 'peek'> = {
    watch: (...[taskId, promise]: Parameters<ResultConsumer['watch']>): void => {
      promise.throw(noBackendError(taskId));
    },
    peek: (): ResultMeta | undefined => undefined,
  };

  /** @throws always: there is nowhere to store */
  store(meta: ResultMeta): Promise<boolean> {
    return Promise.reject(noBackendError(meta.task_id));
  }

  /** @throws always */
  get(taskId: string): Promise<ResultMeta> {
    return Promise.reject(noBackendError(taskId));
  }

  /** @throws always */
  getMany(taskIds: readonly string[]): Promise<ResultMeta[]> {
    return Promise.reject(noBackendError(taskIds.join(', ')));
  }

  /** @throws always */
  forget(taskId: string): Promise<void> {
    return Promise.reject(noBackendError(taskId));
  }

  /** @throws always */
  waitFor(taskId: string): Promise<ResultMeta> {
    return Promise.reject(noBackendError(taskId));
  }

  /** @throws always */
  saveGroup(groupId: string): Promise<void> {
    return Promise.reject(noBackendError(groupId));
  }

  /** @throws always */
  getGroup(groupId: string): Promise<string[] | null> {
    return Promise.reject(noBackendError(groupId));
  }

  /** @throws always */
  deleteGroup(groupId: string): Promise<void> {
    return Promise.reject(noBackendError(groupId));
  }

  /** Nothing to close. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

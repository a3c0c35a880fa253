/**
 * The Redis key layout of Celery's result backend (Celery 5.2 has no key prefix option for
 * it: these names are fixed, and a Python peer reads exactly them).
 *
 * | key | type | content |
 * |---|---|---|
 * | `celery-task-meta-<task_id>` | string | the serialized result meta; also the pub/sub channel its state changes are published on |
 * | `celery-taskset-meta-<group_id>` | string | `{"result": [["<gid>", null], [[["<id1>", null], null], …]]}` (`GroupResult.save()`) |
 * | `celery-taskset-meta-<group_id>.s` | string int | chord size (header length) |
 * | `celery-taskset-meta-<group_id>.j` | zset | encoded `[1, tid, state, result]` of each finished header task, score = `group_index` |
 * | `celery-taskset-meta-<group_id>.t` | string int | extra header tasks added with `add_to_chord` |
 *
 * Every key written carries the backend's `result_expires` TTL (default one day), unless
 * expiry is disabled (`null` / `0`).
 *
 * @see celery-wire.md §4.1, §4.8
 * @module
 */

/** The prefix of every task result key and channel. */
export const TASK_KEY_PREFIX = 'celery-task-meta-';

/** The prefix of every group (taskset) key. */
export const GROUP_KEY_PREFIX = 'celery-taskset-meta-';

/**
 * @param taskId - a task id
 * @returns `celery-task-meta-<taskId>`, the result key and its pub/sub channel
 */
export function taskKey(taskId: string): string {
  return TASK_KEY_PREFIX + taskId;
}

/**
 * @param groupId - a group id
 * @param suffix - `''` for the saved group, `.j` / `.s` / `.t` for the chord counter keys
 * @returns `celery-taskset-meta-<groupId><suffix>`
 */
export function groupKey(groupId: string, suffix: '' | '.j' | '.s' | '.t' = ''): string {
  return GROUP_KEY_PREFIX + groupId + suffix;
}

/**
 * The task id of a result channel name, or `undefined` for any other channel.
 *
 * @param channel - a channel name as received
 * @returns the task id
 */
export function taskIdOfChannel(channel: string): string | undefined {
  return channel.startsWith(TASK_KEY_PREFIX) ? channel.slice(TASK_KEY_PREFIX.length) : undefined;
}

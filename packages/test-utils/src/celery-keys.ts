/**
 * Names of the Redis keys Celery and kombu create, so a test can track and delete the ones
 * its own queues and tasks leave behind.
 *
 * @see ../shared/celery-wire.md §2.4 (priority buckets), §2.2 (bindings), §4.1 (results)
 */

/**
 * kombu's key separator `\x06\x16`: between a queue and its priority step (`Q\x06\x163`) and
 * between the parts of a binding (`routing_key SEP pattern SEP queue`).
 */
export const KOMBU_SEP = '\x06\x16';

/** kombu's default priority steps; step 0 is the queue's own key. */
const PRIORITY_STEPS = [3, 6, 9] as const;

/**
 * Every key kombu may create for one queue: the list itself, its priority lists
 * (`Q\x06\x163`, `…6`, `…9`) and the binding set `_kombu.binding.Q`.
 *
 * @param queue - the queue name
 * @returns the five key names
 */
export function celeryQueueKeys(queue: string): string[] {
  return [
    queue,
    ...PRIORITY_STEPS.map((step) => `${queue}${KOMBU_SEP}${step}`),
    `_kombu.binding.${queue}`,
  ];
}

/**
 * The result backend key of one task (also the pub/sub channel of its state changes).
 *
 * @param taskId - the task id
 * @returns `celery-task-meta-<taskId>`
 */
export function celeryResultKey(taskId: string): string {
  return `celery-task-meta-${taskId}`;
}

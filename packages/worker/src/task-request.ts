/**
 * The request a running task sees (`ctx.request`, Celery's `self.request`), built from a
 * decoded message and its delivery.
 *
 * @module
 */
import type { TaskRequest } from '@celeriac/client';
import type { Delivery, TaskMessage } from '@celeriac/protocol';

/**
 * @param message - the decoded message
 * @param delivery - how it arrived
 * @param hostname - the worker's hostname
 * @returns the request
 */
export function buildTaskRequest(message: TaskMessage, delivery: Pick<Delivery, 'queue' | 'redelivered'>, hostname: string): TaskRequest {
  const h = message.headers;
  const info = message.properties.delivery_info;
  return {
    id: h.id,
    task: h.task,
    args: message.args,
    kwargs: message.kwargs,
    retries: h.retries,
    eta: message.eta,
    expires: message.expires,
    rootId: h.root_id,
    parentId: h.parent_id,
    groupId: h.group,
    groupIndex: h.group_index,
    deliveryInfo: {
      exchange: info.exchange,
      routingKey: info.routing_key === '' ? delivery.queue : info.routing_key,
      priority: typeof message.properties.priority === 'number' ? message.properties.priority : 0,
    },
    hostname,
    headers: h,
    origin: h.origin,
    redelivered: delivery.redelivered || h['redelivered'] === true || info.redelivered === true,
  };
}

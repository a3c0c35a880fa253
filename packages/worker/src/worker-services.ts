/**
 * The services a `celeriac worker` process runs beside the {@link Worker}: Celery's remote
 * control mailbox (so `celery inspect ping` and `celeriac inspect` answer, and `revoke`
 * reaches the worker) and its monitoring events (worker heartbeats; task events with
 * `worker_send_task_events`), sharing one Lamport clock.
 *
 * @module
 */
import { silentLogger, type Logger } from '@celeriac/protocol';
import { EventDispatcher, LamportClock } from './events.ts';
import { createKombuTable, RemoteControl, type KombuTableKeys } from './remote-control.ts';
import type { WorkerApp } from './worker-app.ts';
import type { Worker } from './worker.ts';

/** Options of {@link startWorkerServices}. */
export interface WorkerServicesOptions {
  /** The broker URL; default `conf.broker_url`. Without one (and a Redis broker) nothing starts. */
  readonly brokerUrl?: string;
  /** Send task events even when `worker_send_task_events` is off (Celery's `-E`). */
  readonly taskEvents?: boolean;
  readonly logger?: Logger;
}

/** Running services; close them after the worker stopped. */
export interface WorkerServices {
  /** Whether the remote-control mailbox runs. */
  readonly remoteControl: boolean;
  close(): Promise<void>;
}

/**
 * Starts remote control and events for a started worker.
 *
 * @param worker - the worker
 * @param app - its app
 * @param options - broker URL, task events, logger
 * @returns the services (a no-op when the broker is not a Redis broker with a URL)
 */
export async function startWorkerServices(worker: Worker, app: WorkerApp, options: WorkerServicesOptions = {}): Promise<WorkerServices> {
  const logger = options.logger ?? silentLogger;
  const url = options.brokerUrl ?? app.conf.broker_url ?? undefined;
  const keys = (app.broker as { keys?: KombuTableKeys }).keys;
  if (url === undefined || url === null || keys === undefined) {
    logger.warn('remote control and events are off: the broker is not a Redis broker with a URL');
    return { remoteControl: false, close: () => Promise.resolve() };
  }
  const clock = new LamportClock();
  const events = new EventDispatcher({
    broker: app.broker,
    hostname: worker.hostname,
    enabled: options.taskEvents === true || app.conf.worker_send_task_events === true,
    clock,
    logger,
    state: () => ({
      active: worker.active().length,
      processed: Object.values(worker.stats().total).reduce((a, b) => a + b, 0),
    }),
  });
  const table = createKombuTable(url, {
    keys,
    transportOptions: app.conf.broker_transport_options,
    name: 'worker-control',
    logger,
  });
  const control = new RemoteControl({
    broker: app.broker,
    table,
    hostname: worker.hostname,
    clock,
    brokerUrl: url,
    logger,
    handlers: {
      revoke: (ids, revoke) => worker.revoke(ids, revoke),
      revoked: () => worker.revokedIds(),
      active: () => worker.active(),
      reserved: () => worker.reserved(),
      scheduled: () => worker.scheduled(),
      stats: () => worker.stats(),
      registered: () => app.tasks.names(),
      rateLimit: (name, rate) => worker.setRateLimit(name, rate),
      activeQueues: () => worker.queues.map((name) => ({ name, exchange: { name: '', type: 'direct' }, routing_key: name })),
      shutdown: () => {
        void worker.stop();
      },
      enableEvents: () => events.enableTaskEvents(),
      disableEvents: () => events.disableTaskEvents(),
    },
  });
  const detach = events.attachTo(worker);
  try {
    await control.start();
    await events.start();
  } catch (error) {
    logger.error('remote control or events did not start; the worker runs without them', { error: String(error) });
  }
  return {
    remoteControl: true,
    close: async () => {
      detach();
      await Promise.allSettled([control.close(), events.close()]);
      await table.close();
    },
  };
}

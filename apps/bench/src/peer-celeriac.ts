/**
 * Celeriac as a bench peer: `task.delay()` (W1a), `app.broker.publishMany()` of messages from
 * `encodeTaskMessage` (W1b), `createWorker` with the async pool (W2, W3), `await
 * task.delay()` (W3). Settings: Celery's defaults (json, prefetch multiplier 4, early ack);
 * W2 sends `ignore_result` (`task_ignore_result`) so nothing is stored, W3 stores results.
 *
 * @module
 */
import { createApp, type App, type Task } from '@celeriac/client';
import { encodeTaskMessage } from '@celeriac/protocol';
import { createWorker, type Worker } from '@celeriac/worker';
import type { NodePeer, PeerTarget } from './peers.ts';

const TASK = 'bench.noop';

function makeApp(target: PeerTarget, results: boolean): App {
  return createApp(
    {
      broker_url: target.url,
      ...(results ? { result_backend: target.url } : {}),
      task_default_queue: target.queue,
      task_ignore_result: !results,
    },
    { env: {} },
  );
}

/**
 * @param target - where it connects
 * @returns the peer
 */
export function createCeleriacPeer(target: PeerTarget): NodePeer {
  // W1 sends without a result backend (as every peer), W3 with one.
  let producer: App | undefined;
  let caller: App | undefined;
  let workerApp: App | undefined;
  let worker: Worker | undefined;
  let producerTask: Task<[number], number> | undefined;
  let callerTask: Task<[number], number> | undefined;
  const producerApp = () => (producer ??= makeApp(target, false));
  const send = (i: number) => (producerTask ??= producerApp().taskRef<[number], number>(TASK)).delay(i).sent;
  return {
    warmUp: () => send(-1),
    sendOne: (i) => send(i),
    flush: () => Promise.resolve(),
    sendBulk: async (n) => {
      const app = producerApp();
      const messages = [];
      for (let i = 0; i < n; i++) messages.push(encodeTaskMessage({ task: TASK, args: [i], queue: target.queue, ignoreResult: true }));
      await app.broker.publishMany(messages);
    },
    async startWorker(concurrency, results, onTask) {
      workerApp = makeApp(target, results);
      workerApp.task(TASK, (_ctx, i: number) => {
        onTask();
        return i;
      });
      worker = createWorker(workerApp, { concurrency, queues: [target.queue] });
      await worker.start();
    },
    call: (i) => (callerTask ??= (caller = makeApp(target, true)).taskRef<[number], number>(TASK)).delay(i).get({ timeout: 30_000 }),
    async close() {
      await worker?.stop();
      await Promise.allSettled([producer?.close(), caller?.close(), workerApp?.close()]);
    },
  };
}

/**
 * bee-queue as a bench peer: `createJob().save()` (W1a), `queue.saveAll()` (W1b),
 * `queue.process(concurrency, fn)` (W2, W3), the queue's `job succeeded` event (W3). Settings:
 * producers `isWorker: false`, `getEvents: false` (true for the W3 caller), `storeJobs:
 * false`; workers `removeOnSuccess: true`, `removeOnFailure: true`, `sendEvents` only in W3;
 * `activateDelayedJobs: false`. W3 gives each job its own id (`setId`) and listens to the
 * queue-level `job succeeded` event: the per-job `succeeded` event (`storeJobs: true`) is
 * lost when the worker's PUBLISH arrives before the reply to `save()` (seen 1-2 times in
 * 2,000 calls, which then hang).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import BeeQueue from 'bee-queue';
import type { NodePeer, PeerTarget } from './peers.ts';

/**
 * @param target - where it connects
 * @returns the peer
 */
export function createBeeQueuePeer(target: PeerTarget): NodePeer {
  const redis = { host: target.host, port: target.port };
  let producer: BeeQueue | undefined;
  let caller: BeeQueue | undefined;
  let worker: BeeQueue | undefined;
  const pending = new Map<string, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const p = () =>
    (producer ??= new BeeQueue(target.queue, {
      redis,
      isWorker: false,
      getEvents: false,
      sendEvents: false,
      storeJobs: false,
      activateDelayedJobs: false,
    }));
  return {
    warmUp: async () => {
      await p().ready();
      await p().createJob({ i: -1 }).save();
    },
    sendOne: (i) => p().createJob({ i }).save(),
    flush: () => Promise.resolve(),
    sendBulk: async (n) => {
      const queue = p();
      const jobs = [];
      for (let i = 0; i < n; i++) jobs.push(queue.createJob({ i }));
      const errors = await queue.saveAll(jobs);
      if (errors.size > 0) throw new Error(`bee-queue saveAll: ${errors.size} jobs failed`);
    },
    async startWorker(concurrency, results, onTask) {
      worker = new BeeQueue(target.queue, {
        redis,
        isWorker: true,
        getEvents: false,
        sendEvents: results,
        storeJobs: false,
        removeOnSuccess: true,
        removeOnFailure: true,
        activateDelayedJobs: false,
      });
      worker.process(concurrency, (job: BeeQueue.Job<{ i: number }>) => {
        onTask();
        return Promise.resolve(job.data.i);
      });
      await worker.ready();
    },
    async call(i) {
      if (caller === undefined) {
        caller = new BeeQueue(target.queue, { redis, isWorker: false, getEvents: true, storeJobs: false, activateDelayedJobs: false });
        caller.on('job succeeded', (id: string, result: unknown) => pending.get(id)?.resolve(result));
        caller.on('job failed', (id: string, error: Error) => pending.get(id)?.reject(error));
        await caller.ready();
      }
      const id = randomUUID();
      let timer: NodeJS.Timeout | undefined;
      const done = new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        timer = setTimeout(() => reject(new Error(`bee-queue job ${i}: no 'succeeded' event within 30 s`)), 30_000);
      });
      try {
        await caller.createJob({ i }).setId(id).save();
        return await done;
      } finally {
        clearTimeout(timer);
        pending.delete(id);
      }
    },
    async close() {
      await Promise.allSettled([worker?.close(), caller?.close(), producer?.close()]);
    },
  };
}

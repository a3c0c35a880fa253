/**
 * BullMQ as a bench peer: `queue.add()` (W1a), `queue.addBulk()` (W1b), `Worker` with
 * `concurrency` (W2, W3), `job.waitUntilFinished(queueEvents)` (W3). Settings:
 * `removeOnComplete: true` and `removeOnFail: true` on every job (BullMQ's advice for
 * throughput; otherwise completed jobs pile up in Redis), `maxRetriesPerRequest: null` on the
 * connection (required by workers), everything else BullMQ's defaults. W3 awaits each job
 * through one `QueueEvents` (BullMQ's way to await results from another process): a
 * `completed` listener resolves the job id's promise, registered before the job is added
 * under its own `jobId`. (`job.waitUntilFinished()` does the same per job, but with
 * `removeOnComplete` it throws "Missing key for job" when the job finished, and was
 * removed, before its check runs.)
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents, Worker } from 'bullmq';
import type { NodePeer, PeerTarget } from './peers.ts';

const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: true } as const;

/**
 * @param target - where it connects
 * @returns the peer
 */
export function createBullmqPeer(target: PeerTarget): NodePeer {
  const connection = { host: target.host, port: target.port, maxRetriesPerRequest: null };
  let queue: Queue | undefined;
  let events: QueueEvents | undefined;
  const pending = new Map<string, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let worker: Worker | undefined;
  const q = () => (queue ??= new Queue(target.queue, { connection, defaultJobOptions: JOB_OPTIONS }));
  return {
    warmUp: async () => {
      await q().add('noop', { i: -1 });
    },
    sendOne: (i) => q().add('noop', { i }),
    flush: () => Promise.resolve(),
    sendBulk: async (n) => {
      const jobs = [];
      for (let i = 0; i < n; i++) jobs.push({ name: 'noop', data: { i } });
      await q().addBulk(jobs);
    },
    async startWorker(concurrency, _results, onTask) {
      worker = new Worker(
        target.queue,
        (job) => {
          onTask();
          return Promise.resolve((job.data as { i: number }).i);
        },
        { connection, concurrency },
      );
      await worker.waitUntilReady();
    },
    async call(i) {
      if (events === undefined) {
        events = new QueueEvents(target.queue, { connection });
        events.on('completed', ({ jobId, returnvalue }) => pending.get(jobId)?.resolve(returnvalue));
        events.on('failed', ({ jobId, failedReason }) => pending.get(jobId)?.reject(new Error(failedReason)));
        await events.waitUntilReady();
      }
      const jobId = randomUUID();
      const done = new Promise((resolve, reject) => pending.set(jobId, { resolve, reject }));
      try {
        await q().add('noop', { i }, { jobId });
        return await done;
      } finally {
        pending.delete(jobId);
      }
    },
    async close() {
      await Promise.allSettled([worker?.close(), events?.close(), queue?.close()]);
    },
  };
}

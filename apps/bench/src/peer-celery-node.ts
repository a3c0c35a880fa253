/**
 * celery-node as a bench peer: `client.sendTask()` (W1a; it returns no promise, so the burst
 * is flushed by a PING on the broker connection, which Redis answers after every LPUSH
 * before it), no bulk API, `createWorker().register()` (W2, W3), `AsyncResult.get()` (W3,
 * which polls GET every `interval` ms: 5 here instead of the default 500, else W3 would take
 * half an hour). Its worker has no concurrency setting (one BRPOP loop that does not await
 * the handlers) and always stores results (SET, no expiry); its per-task `console.info` lines
 * are silenced in the child, as no other peer logs per task.
 *
 * @module
 */
import { createClient, createWorker } from 'celery-node';
import type { NodePeer, PeerTarget } from './peers.ts';

const TASK = 'bench.noop';
/** `AsyncResult.get(timeout, interval)`'s polling interval, ms (celery-node's default: 500). */
export const CELERY_NODE_POLL_MS = 5;

type Client = ReturnType<typeof createClient>;

/** celery-node keeps its ioredis client on `client.broker.redis` (not in its types). */
function brokerRedis(client: Client): { ping(): Promise<unknown> } {
  return (client as unknown as { broker: { redis: { ping(): Promise<unknown> } } }).broker.redis;
}

/**
 * @param target - where it connects
 * @returns the peer
 */
export function createCeleryNodePeer(target: PeerTarget): NodePeer {
  let client: Client | undefined;
  const c = () => (client ??= createClient(target.url, target.url, target.queue));
  const flush = async () => {
    await c().isReady();
    // sendTask publishes in a callback of isReady(): let those run, then PING behind them.
    await new Promise((resolve) => setImmediate(resolve));
    await brokerRedis(c()).ping();
  };
  return {
    warmUp: async () => {
      c().sendTask(TASK, [-1], {});
      await flush();
    },
    sendOne: (i) => {
      c().sendTask(TASK, [i], {});
      return Promise.resolve();
    },
    flush,
    sendBulk: undefined,
    async startWorker(_concurrency, _results, onTask) {
      console.info = () => undefined;
      const worker = createWorker(target.url, target.url, target.queue);
      worker.register(TASK, (i: number) => {
        onTask();
        return i;
      });
      await worker.isReady();
      void worker.start();
    },
    call: (i) => c().sendTask(TASK, [i], {}).get(30_000, CELERY_NODE_POLL_MS),
    async close() {
      await client?.disconnect();
    },
  };
}

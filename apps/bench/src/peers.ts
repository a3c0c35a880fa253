/**
 * The peers the bench compares, and what one measurement in a child process is asked to do.
 *
 * @module
 */

/** Every peer, in the order runs interleave them (Celeriac first, Python Celery last). */
export const PEERS = ['celeriac', 'bullmq', 'bee-queue', 'celery-node', 'celery-py'] as const;

/** A peer's id. */
export type PeerName = (typeof PEERS)[number];

/** The peers that run in Node (one library each); `celery-py` runs in `/usr/bin/python3`. */
export type NodePeerName = Exclude<PeerName, 'celery-py'>;

/** How each peer is labelled in the table. */
export const PEER_LABELS: Readonly<Record<PeerName, string>> = {
  celeriac: 'Celeriac',
  bullmq: 'BullMQ',
  'bee-queue': 'bee-queue',
  'celery-node': 'celery-node',
  'celery-py': 'Celery 5.2 (py)',
};

/**
 * @param peer - a peer id
 * @returns whether it runs in a Node child process
 */
export function isNodePeer(peer: PeerName): peer is NodePeerName {
  return peer !== 'celery-py';
}

/** Where a child connects and which queue (or BullMQ / bee-queue queue name) it uses. */
export interface PeerTarget {
  /** `redis://127.0.0.1:<port>` of the bench's own redis-server. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** A fresh random queue name per measurement. */
  readonly queue: string;
}

/** What the orchestrator asks a child process to do (sent as its first IPC message). */
export type ChildJob =
  | { readonly kind: 'enqueue'; readonly peer: NodePeerName; readonly target: PeerTarget; readonly n: number; readonly bulk: boolean }
  | { readonly kind: 'worker'; readonly peer: NodePeerName; readonly target: PeerTarget; readonly concurrency: number; readonly expect: number; readonly results: boolean }
  | { readonly kind: 'roundtrip'; readonly peer: NodePeerName; readonly target: PeerTarget; readonly n: number; readonly inFlight: number }
  | { readonly kind: 'memory'; readonly target: PeerTarget; readonly n: number; readonly step: number };

/** A memory reading of W4. */
export interface MemoryReading {
  /** Sends so far. */
  readonly sent: number;
  /** `process.memoryUsage().heapUsed` after `gc()`, bytes. */
  readonly heapUsed: number;
  /** `process.memoryUsage().rss` after `gc()`, bytes. */
  readonly rss: number;
}

/** What W4 finds subscribed at the end, before the app is closed. */
export interface SubscriptionCount {
  /** `PUBSUB CHANNELS *`: channels with at least one subscriber. */
  readonly channels: number;
  /** `PUBSUB NUMPAT`. */
  readonly patterns: number;
  /** `CLIENT LIST` entries with `sub` or `psub` above 0. */
  readonly clients: number;
}

/** What a child sends back over IPC. */
export type ChildReply =
  | { readonly kind: 'enqueued'; readonly seconds: number; readonly count: number }
  | { readonly kind: 'ready' }
  | { readonly kind: 'done'; readonly seconds: number; readonly count: number }
  | { readonly kind: 'roundtrip'; readonly seconds: number; readonly count: number; readonly latenciesMs: number[] }
  | { readonly kind: 'memory'; readonly readings: MemoryReading[]; readonly subscriptions: SubscriptionCount }
  | { readonly kind: 'error'; readonly message: string };

/** One Node library, connected to the bench's Redis and one queue. */
export interface NodePeer {
  /** Connects (one send whose publish is awaited), so timing does not include the handshake. */
  warmUp(): Promise<void>;
  /**
   * Sends one task through the library's one-at-a-time API.
   *
   * @param i - the task's argument
   * @returns settles when the task is in Redis (or at once, for libraries that do not say)
   */
  sendOne(i: number): Promise<unknown>;
  /** After a burst of {@link NodePeer.sendOne}: resolves once every send is in Redis. */
  flush(): Promise<void>;
  /** Sends `n` tasks through the bulk API, or `undefined` when the library has none. */
  readonly sendBulk: ((n: number) => Promise<void>) | undefined;
  /**
   * Starts a worker on the queue that runs the no-op task.
   *
   * @param concurrency - tasks at a time
   * @param results - whether results are kept (W3) or not (W2)
   * @param onTask - called by the task function, once per task
   */
  startWorker(concurrency: number, results: boolean, onTask: () => void): Promise<void>;
  /**
   * Sends one task and awaits its result (W3).
   *
   * @param i - the task's argument
   */
  call(i: number): Promise<unknown>;
  /** Closes connections (best effort: the orchestrator kills the child anyway). */
  close(): Promise<void>;
}

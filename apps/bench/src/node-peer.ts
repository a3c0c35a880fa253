/**
 * Loads a Node peer ({@link NodePeer}, declared in peers.ts so the peer modules need not
 * import this file). Timing lives in child.ts, the same code for every peer.
 *
 * @module
 */
import type { NodePeer, NodePeerName, PeerTarget } from './peers.ts';

/**
 * Loads the peer's module (only that library is imported into the child).
 *
 * @param name - the peer
 * @param target - where it connects
 * @returns the peer
 */
export async function loadNodePeer(name: NodePeerName, target: PeerTarget): Promise<NodePeer> {
  switch (name) {
    case 'celeriac':
      return (await import('./peer-celeriac.ts')).createCeleriacPeer(target);
    case 'bullmq':
      return (await import('./peer-bullmq.ts')).createBullmqPeer(target);
    case 'bee-queue':
      return (await import('./peer-bee-queue.ts')).createBeeQueuePeer(target);
    case 'celery-node':
      return (await import('./peer-celery-node.ts')).createCeleryNodePeer(target);
  }
}

/**
 * A broker that keeps published messages in memory (for tests that need no Redis), with a
 * hook to make publishes fail.
 */
import { Buffer } from 'node:buffer';
import type { Broker, Consumer, OutgoingMessage, Subscription } from '@celeriac/protocol';

/** A published message, as the broker got it. */
export interface Published {
  readonly queue: string;
  readonly priority: number;
  readonly raw: string;
}

/** An in-memory {@link Broker}: `publish` records, everything else is unsupported. */
export class MemoryBroker implements Broker {
  /** Everything published, in order. */
  readonly published: Published[] = [];
  /** How many times `publish` was called (failed calls included). */
  calls = 0;
  closed = false;
  /** Called before each publish; throw from it to fail that publish. */
  failWith: ((call: number) => Error | undefined) | undefined;

  publish(message: OutgoingMessage): Promise<void> {
    this.calls += 1;
    const error = this.failWith?.(this.calls);
    if (error !== undefined) return Promise.reject(error);
    const raw = typeof message.raw === 'string' ? message.raw : Buffer.from(message.raw).toString('utf8');
    this.published.push({ queue: message.queue, priority: message.priority, raw });
    return Promise.resolve();
  }

  async publishMany(messages: Iterable<OutgoingMessage>): Promise<void> {
    for (const message of messages) await this.publish(message);
  }

  consume(): Consumer {
    throw new Error('MemoryBroker cannot consume');
  }

  purge(): Promise<number> {
    return Promise.resolve(0);
  }

  publishFanout(): Promise<void> {
    return Promise.resolve();
  }

  subscribeFanout(): Promise<Subscription> {
    return Promise.resolve({ unsubscribe: () => Promise.resolve() });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

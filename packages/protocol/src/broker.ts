/**
 * The broker contract the producer and the worker talk to. `@celeriac/broker-redis`
 * implements it on kombu's Redis layout; tests may implement it in memory.
 *
 * @see celery-wire.md §2
 * @module
 */

/** A message ready to publish; an `EncodedTaskMessage` is one. */
export interface OutgoingMessage {
  /** The queue (routing key on the default exchange). */
  readonly queue: string;
  /** 0..255; the transport maps it to its priority buckets. */
  readonly priority: number;
  /** The kombu envelope as UTF-8 JSON. */
  readonly raw: Uint8Array | string;
}

/** One message handed to a consumer, to be acked or rejected exactly once. */
export interface Delivery {
  /** The logical queue it came from (without a priority suffix). */
  readonly queue: string;
  /** `properties.delivery_tag`, the key of its unacked record; empty when the envelope has none. */
  readonly deliveryTag: string;
  /** The envelope exactly as stored. */
  readonly raw: Uint8Array;
  /** Whether it was restored or requeued before. */
  readonly redelivered: boolean;
  /** Done with it: drop the unacked record. */
  ack(): Promise<void>;
  /**
   * Give it up.
   *
   * @param options - `requeue: true` puts it back at the end of its queue; false drops it
   */
  reject(options?: { requeue?: boolean }): Promise<void>;
}

/** Options for {@link Broker.consume}. */
export interface ConsumeOptions {
  /** Queues to consume, in priority order of listing (rotated round-robin, as kombu). */
  readonly queues: readonly string[];
  /** Most deliveries handed out and not yet acked or rejected. */
  readonly prefetch: number;
  /** Skip ack bookkeeping (for reply queues). */
  readonly noAck?: boolean;
}

/** A running consumer: iterate it for deliveries, close it to stop fetching. */
export interface Consumer extends AsyncIterable<Delivery> {
  /** Stops fetching; deliveries handed out stay valid to ack or reject. */
  close(): Promise<void>;
}

/** A broadcast message (remote control, events). */
export interface FanoutMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly raw: Uint8Array;
}

/** A live subscription. */
export interface Subscription {
  unsubscribe(): Promise<void>;
}

/** A message broker as Celery uses one. */
export interface Broker {
  /**
   * @param message - the encoded message and where it goes
   * @throws {@link CeleriacError} `CONNECTION_CLOSED` when closed
   */
  publish(message: OutgoingMessage): Promise<void>;
  /** Publishes many messages at the cost of few round trips. */
  publishMany(messages: Iterable<OutgoingMessage>): Promise<void>;
  /** Starts consuming the given queues. */
  consume(options: ConsumeOptions): Consumer;
  /** Empties a queue (every priority bucket); resolves with the number removed. */
  purge(queue: string): Promise<number>;
  /** Publishes to a fanout exchange (fire-and-forget; lost if nobody listens). */
  publishFanout(exchange: string, routingKey: string, raw: Uint8Array | string): Promise<void>;
  /**
   * @param exchange - the fanout exchange (`celery.pidbox`, `celeryev`)
   * @param bindingKey - a routing-key pattern (`#` and `*` as AMQP); `""` for all
   * @param onMessage - called for each message, never for another binding's
   */
  subscribeFanout(exchange: string, bindingKey: string, onMessage: (message: FanoutMessage) => void): Promise<Subscription>;
  /** Closes every connection; pending operations reject with `CONNECTION_CLOSED`. */
  close(): Promise<void>;
}

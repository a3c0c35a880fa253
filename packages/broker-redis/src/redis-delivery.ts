/**
 * One message handed out by a {@link RedisConsumer}.
 *
 * @module
 */
import type { Delivery } from '@celeriac/protocol';
import type { RecordSet } from './unacked-store.ts';

/** What a delivery reports its outcome to (its consumer). */
export interface DeliveryOwner {
  /**
   * @param delivery - the delivery being settled
   * @param requeue - put it back (LPUSH, marked redelivered) instead of dropping it
   */
  settle(delivery: RedisDelivery, requeue: boolean): Promise<void>;
}

/** Where a delivery came from and how it was recorded. */
export interface RedisDeliveryInit {
  /** The logical queue. */
  readonly queue: string;
  /** The list key it was popped from (a priority key, or the queue's own). */
  readonly listKey: string;
  /** The element. */
  readonly raw: Buffer;
  /** `properties.delivery_tag`, or `''` when the element has none (or is a duplicate). */
  readonly deliveryTag: string;
  /** The hash field of its unacked record; `''` for no-ack deliveries. */
  readonly unackedTag: string;
  /** Where the record is: `unacked` (`kombu`), or Celeriac's keys for a malformed element (`invalid`). */
  readonly recordSet: RecordSet;
  /** The `unacked_index` score written when it was fetched (its ownership token). */
  readonly score: string;
  /** Whether the envelope says it was restored or requeued before. */
  readonly redelivered: boolean;
}

/**
 * A message fetched from Redis. Ack or reject it once; later calls return the first
 * outcome's promise.
 */
export class RedisDelivery implements Delivery {
  /** The logical queue it came from (without a priority suffix). */
  readonly queue: string;
  /** `properties.delivery_tag`; `''` when the element has none. */
  readonly deliveryTag: string;
  /**
   * The hash field of its record: in `unacked`, the delivery tag (or a generated
   * `celeriac-duplicate:<uuid>` for a second copy of a message already in flight); in
   * Celeriac's `celeriac.unacked.invalid`, a generated `celeriac-invalid:<uuid>` for an
   * element without a usable delivery tag; `''` for a no-ack consumer.
   */
  readonly unackedTag: string;
  /** Which keys hold its record: `kombu` (`unacked`) or `invalid` (Celeriac's own). */
  readonly recordSet: RecordSet;
  /** The element exactly as it was in the list. */
  readonly raw: Buffer;
  /** Whether it was restored or requeued before (`headers.redelivered` or `delivery_info.redelivered`). */
  readonly redelivered: boolean;
  /** The list key it was popped from. */
  readonly listKey: string;
  /** The `unacked_index` score written at fetch time: proves the record is still this delivery's. */
  readonly score: string;
  readonly #owner: DeliveryOwner;
  #outcome: Promise<void> | undefined;

  /**
   * @param init - what the fetch returned
   * @param owner - the consumer
   */
  constructor(init: RedisDeliveryInit, owner: DeliveryOwner) {
    this.queue = init.queue;
    this.listKey = init.listKey;
    this.raw = init.raw;
    this.deliveryTag = init.deliveryTag;
    this.unackedTag = init.unackedTag;
    this.recordSet = init.recordSet;
    this.score = init.score;
    this.redelivered = init.redelivered;
    this.#owner = owner;
  }

  /** Whether it was acked, rejected or restored already. */
  get settled(): boolean {
    return this.#outcome !== undefined;
  }

  /**
   * Done with it: `ZREM unacked_index tag; HDEL unacked tag` in one script, only while the
   * record is still this delivery's.
   *
   * @throws {@link TimeoutError} or {@link ConnectionClosedError} when Redis does not confirm
   *   (the record then stays and is restored after the visibility timeout)
   */
  ack(): Promise<void> {
    this.#outcome ??= this.#owner.settle(this, false);
    return this.#outcome;
  }

  /**
   * Gives it up.
   *
   * @param options - `requeue: true` puts it back at the end of its queue (bucket 0, marked
   *   redelivered, same delivery tag), atomically with removing the record; otherwise it is
   *   dropped like an ack
   */
  reject(options: { requeue?: boolean } = {}): Promise<void> {
    this.#outcome ??= this.#owner.settle(this, options.requeue === true);
    return this.#outcome;
  }

  /**
   * Marks it settled by its consumer (restored on close); ack and reject become no-ops.
   *
   * @internal
   * @param outcome - the restore
   */
  settleWith(outcome: Promise<void>): void {
    this.#outcome ??= outcome;
  }
}

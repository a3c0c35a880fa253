/**
 * In-memory stand-ins for the broker, the result backend and the app, for unit tests that
 * need no Redis. Every ack, reject, restore, publish and store is recorded in order.
 */
import type { TaskDefinition, TaskFunction, TaskOptions, TaskRegistry } from '@celeriac/client';
import {
  AcceptContent,
  createSerializerRegistry,
  encodeResultMeta,
  encodeTaskMessage,
  jsonSerializer,
  msgpackSerializer,
  type Consumer,
  type ConsumeOptions,
  type Delivery,
  type OutgoingMessage,
  type ResultBackend,
  type ResultMeta,
  type Serializer,
  type TaskMessageInput,
} from '@celeriac/protocol';
import type { WorkerApp, WorkerConfig } from '../src/worker-app.ts';

/** One thing that happened, in order. */
export interface LogEntry {
  readonly what: string;
  readonly id?: string;
  readonly at: number;
  readonly detail?: unknown;
}

export class FakeDelivery implements Delivery {
  readonly queue: string;
  readonly deliveryTag: string;
  readonly raw: Uint8Array;
  readonly redelivered: boolean;
  outcome: 'ack' | 'reject' | 'requeue' | undefined;
  readonly #log: LogEntry[];
  readonly #id: string | undefined;

  constructor(raw: Uint8Array, queue: string, tag: string, log: LogEntry[], id?: string, redelivered = false) {
    this.raw = raw;
    this.queue = queue;
    this.deliveryTag = tag;
    this.redelivered = redelivered;
    this.#log = log;
    this.#id = id;
  }

  ack(): Promise<void> {
    if (this.outcome === undefined) {
      this.outcome = 'ack';
      this.#log.push({ what: 'ack', id: this.#id, at: Date.now() });
    }
    return Promise.resolve();
  }

  reject(options: { requeue?: boolean } = {}): Promise<void> {
    if (this.outcome === undefined) {
      this.outcome = options.requeue === true ? 'requeue' : 'reject';
      this.#log.push({ what: this.outcome, id: this.#id, at: Date.now() });
    }
    return Promise.resolve();
  }
}

export class FakeConsumer implements Consumer {
  readonly options: ConsumeOptions;
  readonly #buffer: Delivery[] = [];
  readonly #takers: ((r: IteratorResult<Delivery>) => void)[] = [];
  closed = false;
  /** Every adjustPrefetch call's delta, in order. */
  readonly prefetchDeltas: number[] = [];
  prefetch = 0;

  constructor(options: ConsumeOptions) {
    this.options = options;
  }

  adjustPrefetch(delta: number): number {
    this.prefetchDeltas.push(delta);
    this.prefetch += delta;
    return this.prefetch;
  }

  push(delivery: Delivery): void {
    const taker = this.#takers.shift();
    if (taker !== undefined) taker({ done: false, value: delivery });
    else this.#buffer.push(delivery);
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return {
      next: () => {
        const d = this.#buffer.shift();
        if (d !== undefined) return Promise.resolve({ done: false, value: d });
        if (this.closed) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => this.#takers.push(resolve));
      },
    };
  }

  close(): Promise<void> {
    this.closed = true;
    for (const t of this.#takers.splice(0)) t({ done: true, value: undefined });
    return Promise.resolve();
  }
}

export class FakeBroker {
  readonly log: LogEntry[] = [];
  readonly published: OutgoingMessage[] = [];
  readonly restored: string[] = [];
  consumer: FakeConsumer | undefined;
  #tag = 0;

  consume(options: ConsumeOptions): FakeConsumer {
    this.consumer = new FakeConsumer(options);
    return this.consumer;
  }

  publish(message: OutgoingMessage): Promise<void> {
    this.published.push(message);
    this.log.push({ what: 'publish', at: Date.now(), detail: message.queue });
    return Promise.resolve();
  }

  publishMany(messages: Iterable<OutgoingMessage>): Promise<void> {
    for (const m of messages) this.published.push(m);
    return Promise.resolve();
  }

  purge(): Promise<number> {
    return Promise.resolve(0);
  }

  publishFanout(): Promise<void> {
    return Promise.resolve();
  }

  subscribeFanout(): Promise<{ unsubscribe(): Promise<void> }> {
    return Promise.resolve({ unsubscribe: () => Promise.resolve() });
  }

  restoreUnacked(tags: Iterable<string>): Promise<number> {
    const list = [...tags];
    this.restored.push(...list);
    this.log.push({ what: 'restore', at: Date.now(), detail: list });
    return Promise.resolve(list.length);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Hands a raw element to the worker's consumer. */
  deliverRaw(raw: Uint8Array | string, queue = 'celery', id?: string): FakeDelivery {
    const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    const delivery = new FakeDelivery(bytes, queue, `tag-${++this.#tag}`, this.log, id);
    if (this.consumer === undefined) throw new Error('the worker is not consuming');
    this.consumer.push(delivery);
    return delivery;
  }

  /** Encodes and delivers a task message; returns its delivery and id. */
  deliver(input: TaskMessageInput, serializer = jsonSerializer): { delivery: FakeDelivery; id: string } {
    const encoded = encodeTaskMessage(input, { serializer });
    return { delivery: this.deliverRaw(encoded.raw, encoded.queue, encoded.taskId), id: encoded.taskId };
  }
}

export class FakeBackend implements ResultBackend {
  readonly metas: ResultMeta[] = [];
  readonly #log: LogEntry[];
  readonly #serializer: Serializer;

  constructor(log: LogEntry[], serializer: Serializer = jsonSerializer) {
    this.#log = log;
    this.#serializer = serializer;
  }

  store(meta: ResultMeta): Promise<boolean> {
    // Encode as the Redis backend would, so unencodable results fail the same way.
    encodeResultMeta(meta, this.#serializer);
    this.metas.push(meta);
    this.#log.push({ what: `store:${meta.status}`, id: meta.task_id, at: Date.now() });
    return Promise.resolve(true);
  }

  /** Metas stored for an id, in order. */
  of(id: string): ResultMeta[] {
    return this.metas.filter((m) => m.task_id === id);
  }

  last(id: string): ResultMeta | undefined {
    return this.of(id).at(-1);
  }

  get(taskId: string): Promise<ResultMeta> {
    const meta = this.last(taskId);
    return meta === undefined ? Promise.reject(new Error('none')) : Promise.resolve(meta);
  }

  getMany(): Promise<ResultMeta[]> {
    return Promise.resolve([]);
  }

  forget(): Promise<void> {
    return Promise.resolve();
  }

  waitFor(): Promise<ResultMeta> {
    return Promise.reject(new Error('not in the fake'));
  }

  saveGroup(): Promise<void> {
    return Promise.resolve();
  }

  getGroup(): Promise<string[] | null> {
    return Promise.resolve(null);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A task definition for tests. */
export function task(
  name: string,
  run: TaskFunction | undefined,
  options: TaskOptions = {},
  extra: Partial<Pick<TaskDefinition, 'params' | 'acceptsKwargs' | 'module'>> = {},
): TaskDefinition {
  return { name, options, ...(run === undefined ? {} : { run }), ...extra };
}

export interface FakeApp extends WorkerApp {
  readonly broker: FakeBroker;
  readonly backend: FakeBackend;
}

/** An app with the fakes and the given tasks. */
export function fakeApp(
  tasks: TaskDefinition[],
  conf: WorkerConfig & { readonly result_serializer?: string } = {},
  accept: string[] = ['json'],
): FakeApp {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const registry: TaskRegistry = {
    get: (name) => byName.get(name),
    has: (name) => byName.has(name),
    names: () => [...byName.keys()],
  };
  const serializers = createSerializerRegistry();
  const broker = new FakeBroker();
  return {
    conf: { worker_concurrency: 2, ...conf },
    tasks: registry,
    broker,
    backend: new FakeBackend(broker.log, conf.result_serializer === 'msgpack' ? msgpackSerializer : jsonSerializer),
    serializers,
    accept: new AcceptContent(accept, serializers),
    close: () => Promise.resolve(),
  };
}

/**
 * What the worker needs from an app (`createApp` of `@celeriac/client` gives one): the
 * config, the task registry, the broker, the result backend and the serializers. Narrow and
 * structural, so an app from anywhere (or a test's fake) fits.
 *
 * @module
 */
import type { TaskRegistry } from '@celeriac/client';
import type { AcceptContent, Broker, ResultBackend, SerializerRegistry } from '@celeriac/protocol';

/**
 * The Celery settings (snake_case, Celery's names) the worker reads; an app's config has
 * many more, which the worker ignores.
 */
export interface WorkerConfig {
  /** Tasks run at once; default the number of CPUs. */
  readonly worker_concurrency?: number | null;
  /** Prefetch = concurrency × this; default 4. */
  readonly worker_prefetch_multiplier?: number;
  /** Ack after the task instead of when it starts; default false. */
  readonly task_acks_late?: boolean;
  /** With acks_late: requeue when a pool child dies; default false. */
  readonly task_reject_on_worker_lost?: boolean | null;
  /** The queue consumed when none is given; default `celery`. */
  readonly task_default_queue?: string;
  /** Store STARTED when a task starts; default false. */
  readonly task_track_started?: boolean;
  /** Hard time limit in seconds; default none. */
  readonly task_time_limit?: number | null;
  /** Soft time limit in seconds; default none. */
  readonly task_soft_time_limit?: number | null;
  /** Store no SUCCESS for any task; default false. */
  readonly task_ignore_result?: boolean;
  /** Send task events (the `celeriac worker` command's event dispatcher reads it); default false. */
  readonly worker_send_task_events?: boolean;
  /** Store name, args, kwargs, worker, retries, queue in metas; default false. */
  readonly result_extended?: boolean;
  /** Celery's `task_default_retry_delay` (seconds), used when a task sets none. */
  readonly task_default_retry_delay?: number;
  /** The serializer `celeriac call` writes with; default `json`. */
  readonly task_serializer?: string;
  /** The broker URL (the CLI's `inspect` connects to it). */
  readonly broker_url?: string | null;
  /** kombu's transport options. */
  readonly broker_transport_options?: object;
  /** The node name when none is given (`-n`). */
  readonly worker_hostname?: string | null;
  /** The rate limit of tasks that set none (`"10/s"`, `"100/m"`, `"1000/h"`); default none. */
  readonly task_default_rate_limit?: string | null;
  /** Ignore every rate limit. */
  readonly worker_disable_rate_limits?: boolean;
}

/** A broker that can put unacked messages back by delivery tag (`RedisBroker` can). */
export interface RestoringBroker extends Broker {
  restoreUnacked?(tags: Iterable<string>): Promise<number>;
}

/** What the worker uses of an app. */
export interface WorkerApp {
  /** Celery settings, Celery's snake_case names. */
  readonly conf: WorkerConfig;
  /** The tasks this process can run. */
  readonly tasks: TaskRegistry;
  /** Where tasks come from and retries go. */
  readonly broker: RestoringBroker;
  /** Where states are stored; none = results are not stored. */
  readonly backend: ResultBackend | undefined;
  /** Serializers by name and content type (task bodies). */
  readonly serializers: SerializerRegistry;
  /** `accept_content`: checked before a body is decoded. */
  readonly accept: AcceptContent;
  /** Closes the broker and the backend. */
  close(): Promise<void>;
}

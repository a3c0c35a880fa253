/**
 * Every Celery 5.2 setting, by its Celery 4+ name: its type, its default, and the Celery 3
 * upper-case name it replaced (`_TO_NEW_KEY` of `celery/app/defaults.py`, all 169 of them),
 * plus the few Celeriac adds. Settings Celeriac does not act on are accepted, so a Python
 * configuration can be copied as is, and documented as having no effect.
 *
 * @see celery-wire.md §3.4; https://docs.celeryq.dev/en/v5.2.7/userguide/configuration.html
 * @module
 */
import { availableParallelism } from 'node:os';
import type { RedisBackendOptions } from '@celeriac/backend-redis';
import type { RedisBrokerTransportOptions } from '@celeriac/broker-redis';
import type { TaskRoutes } from './routes.ts';

/** kombu's Redis transport options (`broker_transport_options`), kombu's names. */
export type BrokerTransportOptions = RedisBrokerTransportOptions;

/** Options of the result backend's connection (`result_backend_transport_options`). */
export type ResultBackendTransportOptions = NonNullable<RedisBackendOptions['transportOptions']>;

/** Celery's `task_publish_retry_policy`, in seconds. */
export interface PublishRetryPolicyConfig {
  /** Retries after the first attempt; default 3 (so 4 attempts at most). */
  readonly max_retries?: number;
  /** Seconds before the first retry; default 0. */
  readonly interval_start?: number;
  /** Seconds added before each further retry; default 0.2. */
  readonly interval_step?: number;
  /** The longest wait between two attempts; default 1. */
  readonly interval_max?: number;
}

/**
 * The resolved configuration (`app.conf`): every setting under its Celery 4+ name, with
 * Celery 5.2's default where none was given.
 */
export interface CeleryConfig {
  /** Content types (names or MIME types) a worker accepts for task messages; also results when `result_accept_content` is null. Default `["json"]`. */
  readonly accept_content: readonly string[];
  /** Content types accepted when reading results; `null` (default) means `accept_content`. */
  readonly result_accept_content: readonly string[] | null;
  /** Naive datetimes are UTC (Celeriac always writes aware UTC datetimes). Default true. */
  readonly enable_utc: boolean;
  /** Celery's `imports` (accepted; no effect in Celeriac). */
  readonly imports: readonly string[];
  /** Celery's `include` (accepted; no effect in Celeriac). */
  readonly include: readonly string[];
  /** The app time zone (Celery: None, which means UTC). Default `"UTC"`. */
  readonly timezone: string;
  /** Celery's `beat_max_loop_interval`: the longest sleep of `@celeriac/beat` between checks (seconds). */
  readonly beat_max_loop_interval: number;
  /** Celery's `beat_schedule`: the periodic tasks `@celeriac/beat` sends (`celeriac beat -A`). */
  readonly beat_schedule: Readonly<Record<string, unknown>>;
  /** Celery's `beat_scheduler` (accepted; no effect in Celeriac). */
  readonly beat_scheduler: string;
  /** Celery's `beat_schedule_filename` (accepted; no effect in Celeriac). */
  readonly beat_schedule_filename: string;
  /** Celery's `beat_sync_every` (accepted; no effect in Celeriac). */
  readonly beat_sync_every: number;
  /** The broker URL: `redis://`, `rediss://`, `unix://`, `redis+socket://` or `sentinel://`. `CELERY_BROKER_URL` in the environment overrides it. */
  readonly broker_url: string | null;
  /** Celery's separate consuming URL; `CELERY_BROKER_READ_URL` overrides it. Celeriac uses `broker_url` for both (kept for the worker). */
  readonly broker_read_url: string | null;
  /** Celery's separate publishing URL; `CELERY_BROKER_WRITE_URL` overrides it. Celeriac uses `broker_url` for both (kept for the worker). */
  readonly broker_write_url: string | null;
  /** Celery's `broker_transport` (accepted; no effect in Celeriac). */
  readonly broker_transport: string | null;
  /** kombu's Redis transport options: `visibility_timeout` (3600), `priority_steps` ([0, 3, 6, 9]), `sep`, `global_keyprefix`, `unacked_*`, `master_name` for Sentinel. */
  readonly broker_transport_options: BrokerTransportOptions;
  /** Celery's `broker_connection_timeout` (accepted; no effect in Celeriac). */
  readonly broker_connection_timeout: number;
  /** Whether a worker retries a lost broker connection (worker). */
  readonly broker_connection_retry: boolean;
  /** Most retries of a lost broker connection (worker). */
  readonly broker_connection_max_retries: number;
  /** Celery's `broker_failover_strategy` (accepted; no effect in Celeriac). */
  readonly broker_failover_strategy: string | null;
  /** Celery's `broker_heartbeat` (accepted; no effect in Celeriac). */
  readonly broker_heartbeat: number;
  /** Celery's `broker_heartbeat_checkrate` (accepted; no effect in Celeriac). */
  readonly broker_heartbeat_checkrate: number;
  /** Celery's `broker_login_method` (accepted; no effect in Celeriac). */
  readonly broker_login_method: string | null;
  /** Celery's `broker_pool_limit` (accepted; no effect in Celeriac). */
  readonly broker_pool_limit: number;
  /** Celery's `broker_use_ssl` (accepted; no effect in Celeriac). */
  readonly broker_use_ssl: boolean;
  /** Celery 3's broker host; used as the URL when `broker_url` is not set (as Celery does). */
  readonly broker_host: string | null;
  /** Celery's `broker_port` (accepted; no effect in Celeriac). */
  readonly broker_port: number | null;
  /** Celery's `broker_user` (accepted; no effect in Celeriac). */
  readonly broker_user: string | null;
  /** Celery's `broker_password` (accepted; no effect in Celeriac). */
  readonly broker_password: string | null;
  /** Celery's `broker_vhost` (accepted; no effect in Celeriac). */
  readonly broker_vhost: string | null;
  /** Celery's `cache_backend` (accepted; no effect in Celeriac). */
  readonly cache_backend: string | null;
  /** Celery's `cache_backend_options` (accepted; no effect in Celeriac). */
  readonly cache_backend_options: Readonly<Record<string, unknown>>;
  /** Celery's `cassandra_entry_ttl` (accepted; no effect in Celeriac). */
  readonly cassandra_entry_ttl: number | null;
  /** Celery's `cassandra_keyspace` (accepted; no effect in Celeriac). */
  readonly cassandra_keyspace: string | null;
  /** Celery's `cassandra_port` (accepted; no effect in Celeriac). */
  readonly cassandra_port: string | null;
  /** Celery's `cassandra_read_consistency` (accepted; no effect in Celeriac). */
  readonly cassandra_read_consistency: string | null;
  /** Celery's `cassandra_servers` (accepted; no effect in Celeriac). */
  readonly cassandra_servers: readonly string[] | null;
  /** Celery's `cassandra_table` (accepted; no effect in Celeriac). */
  readonly cassandra_table: string | null;
  /** Celery's `cassandra_write_consistency` (accepted; no effect in Celeriac). */
  readonly cassandra_write_consistency: string | null;
  /** Celery's `cassandra_auth_provider` (accepted; no effect in Celeriac). */
  readonly cassandra_auth_provider: string | null;
  /** Celery's `cassandra_auth_kwargs` (accepted; no effect in Celeriac). */
  readonly cassandra_auth_kwargs: string | null;
  /** Celery's `cassandra_options` (accepted; no effect in Celeriac). */
  readonly cassandra_options: Readonly<Record<string, unknown>>;
  /** Celery's `s3_access_key_id` (accepted; no effect in Celeriac). */
  readonly s3_access_key_id: string | null;
  /** Celery's `s3_secret_access_key` (accepted; no effect in Celeriac). */
  readonly s3_secret_access_key: string | null;
  /** Celery's `s3_bucket` (accepted; no effect in Celeriac). */
  readonly s3_bucket: string | null;
  /** Celery's `s3_base_path` (accepted; no effect in Celeriac). */
  readonly s3_base_path: string | null;
  /** Celery's `s3_endpoint_url` (accepted; no effect in Celeriac). */
  readonly s3_endpoint_url: string | null;
  /** Celery's `s3_region` (accepted; no effect in Celeriac). */
  readonly s3_region: string | null;
  /** Celery's `azureblockblob_container_name` (accepted; no effect in Celeriac). */
  readonly azureblockblob_container_name: string;
  /** Celery's `azureblockblob_retry_initial_backoff_sec` (accepted; no effect in Celeriac). */
  readonly azureblockblob_retry_initial_backoff_sec: number;
  /** Celery's `azureblockblob_retry_increment_base` (accepted; no effect in Celeriac). */
  readonly azureblockblob_retry_increment_base: number;
  /** Celery's `azureblockblob_retry_max_attempts` (accepted; no effect in Celeriac). */
  readonly azureblockblob_retry_max_attempts: number;
  /** Celery's `azureblockblob_base_path` (accepted; no effect in Celeriac). */
  readonly azureblockblob_base_path: string;
  /** Celery's `azureblockblob_connection_timeout` (accepted; no effect in Celeriac). */
  readonly azureblockblob_connection_timeout: number;
  /** Celery's `azureblockblob_read_timeout` (accepted; no effect in Celeriac). */
  readonly azureblockblob_read_timeout: number;
  /** Celery's `control_queue_ttl` (accepted; no effect in Celeriac). */
  readonly control_queue_ttl: number;
  /** Celery's `control_queue_expires` (accepted; no effect in Celeriac). */
  readonly control_queue_expires: number;
  /** The remote-control exchange (`celery` → `celery.pidbox`). */
  readonly control_exchange: string;
  /** Celery's `couchbase_backend_settings` (accepted; no effect in Celeriac). */
  readonly couchbase_backend_settings: Readonly<Record<string, unknown>> | null;
  /** Celery's `arangodb_backend_settings` (accepted; no effect in Celeriac). */
  readonly arangodb_backend_settings: Readonly<Record<string, unknown>> | null;
  /** Celery's `mongodb_backend_settings` (accepted; no effect in Celeriac). */
  readonly mongodb_backend_settings: Readonly<Record<string, unknown>> | null;
  /** Celery's `cosmosdbsql_database_name` (accepted; no effect in Celeriac). */
  readonly cosmosdbsql_database_name: string;
  /** Celery's `cosmosdbsql_collection_name` (accepted; no effect in Celeriac). */
  readonly cosmosdbsql_collection_name: string;
  /** Celery's `cosmosdbsql_consistency_level` (accepted; no effect in Celeriac). */
  readonly cosmosdbsql_consistency_level: string;
  /** Celery's `cosmosdbsql_max_retry_attempts` (accepted; no effect in Celeriac). */
  readonly cosmosdbsql_max_retry_attempts: number;
  /** Celery's `cosmosdbsql_max_retry_wait_time` (accepted; no effect in Celeriac). */
  readonly cosmosdbsql_max_retry_wait_time: number;
  /** Celery's `event_queue_expires` (accepted; no effect in Celeriac). */
  readonly event_queue_expires: number;
  /** Celery's `event_queue_ttl` (accepted; no effect in Celeriac). */
  readonly event_queue_ttl: number;
  /** Celery's `event_queue_prefix` (accepted; no effect in Celeriac). */
  readonly event_queue_prefix: string;
  /** The serializer of events. Default `"json"`. */
  readonly event_serializer: string;
  /** The events exchange. Default `"celeryev"`. */
  readonly event_exchange: string;
  /** Celery's `redis_backend_use_ssl` (accepted; no effect in Celeriac). */
  readonly redis_backend_use_ssl: Readonly<Record<string, unknown>> | null;
  /** Celery's `redis_db` (accepted; no effect in Celeriac). */
  readonly redis_db: number | null;
  /** Celery's `redis_host` (accepted; no effect in Celeriac). */
  readonly redis_host: string | null;
  /** Celery's `redis_max_connections` (accepted; no effect in Celeriac). */
  readonly redis_max_connections: number | null;
  /** Celery's `redis_username` (accepted; no effect in Celeriac). */
  readonly redis_username: string | null;
  /** Celery's `redis_password` (accepted; no effect in Celeriac). */
  readonly redis_password: string | null;
  /** Celery's `redis_port` (accepted; no effect in Celeriac). */
  readonly redis_port: number | null;
  /** Celery's `redis_socket_timeout` (accepted; no effect in Celeriac). */
  readonly redis_socket_timeout: number;
  /** Celery's `redis_socket_connect_timeout` (accepted; no effect in Celeriac). */
  readonly redis_socket_connect_timeout: number | null;
  /** Celery's `redis_retry_on_timeout` (accepted; no effect in Celeriac). */
  readonly redis_retry_on_timeout: boolean;
  /** Celery's `redis_socket_keepalive` (accepted; no effect in Celeriac). */
  readonly redis_socket_keepalive: boolean;
  /** The result backend URL (Redis schemes as `broker_url`); `null` or `"disabled"` stores no results. `CELERY_RESULT_BACKEND` in the environment overrides it. */
  readonly result_backend: string | null;
  /** Celery's `result_cache_max` (accepted; no effect in Celeriac). */
  readonly result_cache_max: number;
  /** Celery's result compression; not supported by Celeriac's backend (keep null). */
  readonly result_compression: string | null;
  /** Celery's `result_exchange` (accepted; no effect in Celeriac). */
  readonly result_exchange: string;
  /** Celery's `result_exchange_type` (accepted; no effect in Celeriac). */
  readonly result_exchange_type: string;
  /** Seconds a stored result lives (SETEX); `null` or 0 keeps results forever. Default 86400 (one day). */
  readonly result_expires: number | null;
  /** Celery's `result_persistent` (accepted; no effect in Celeriac). */
  readonly result_persistent: boolean | null;
  /** Store name, args, kwargs, worker, retries and queue with each result. Default false. */
  readonly result_extended: boolean;
  /** The serializer of stored results; reader and writer must agree. Default `"json"`. */
  readonly result_serializer: string;
  /** Options of the result backend's connection: `master_name` for `sentinel://`. */
  readonly result_backend_transport_options: ResultBackendTransportOptions;
  /** Celery's `result_chord_retry_interval` (accepted; no effect in Celeriac). */
  readonly result_chord_retry_interval: number;
  /** Celery's `result_chord_join_timeout` (accepted; no effect in Celeriac). */
  readonly result_chord_join_timeout: number;
  /** Celery's `result_backend_max_sleep_between_retries_ms` (accepted; no effect in Celeriac). */
  readonly result_backend_max_sleep_between_retries_ms: number;
  /** Celery's `result_backend_max_retries` (accepted; no effect in Celeriac). */
  readonly result_backend_max_retries: number;
  /** Celery's `result_backend_base_sleep_between_retries_ms` (accepted; no effect in Celeriac). */
  readonly result_backend_base_sleep_between_retries_ms: number;
  /** Celery's `result_backend_always_retry` (accepted; no effect in Celeriac). */
  readonly result_backend_always_retry: boolean;
  /** Celery's `elasticsearch_retry_on_timeout` (accepted; no effect in Celeriac). */
  readonly elasticsearch_retry_on_timeout: boolean | null;
  /** Celery's `elasticsearch_max_retries` (accepted; no effect in Celeriac). */
  readonly elasticsearch_max_retries: number | null;
  /** Celery's `elasticsearch_timeout` (accepted; no effect in Celeriac). */
  readonly elasticsearch_timeout: number | null;
  /** Celery's `elasticsearch_save_meta_as_text` (accepted; no effect in Celeriac). */
  readonly elasticsearch_save_meta_as_text: boolean;
  /** Celery's `security_certificate` (accepted; no effect in Celeriac). */
  readonly security_certificate: string | null;
  /** Celery's `security_cert_store` (accepted; no effect in Celeriac). */
  readonly security_cert_store: string | null;
  /** Celery's `security_key` (accepted; no effect in Celeriac). */
  readonly security_key: string | null;
  /** Celery's `security_digest` (accepted; no effect in Celeriac). */
  readonly security_digest: string;
  /** Celery's `database_url` (accepted; no effect in Celeriac). */
  readonly database_url: string | null;
  /** Celery's `database_engine_options` (accepted; no effect in Celeriac). */
  readonly database_engine_options: Readonly<Record<string, unknown>> | null;
  /** Celery's `database_short_lived_sessions` (accepted; no effect in Celeriac). */
  readonly database_short_lived_sessions: boolean;
  /** Celery's `database_table_schemas` (accepted; no effect in Celeriac). */
  readonly database_table_schemas: Readonly<Record<string, unknown>> | null;
  /** Celery's `database_table_names` (accepted; no effect in Celeriac). */
  readonly database_table_names: Readonly<Record<string, unknown>> | null;
  /** Ack after the task returns instead of when it starts (worker). Default false. */
  readonly task_acks_late: boolean;
  /** With late acks, ack failed and timed-out tasks too (worker). Default true. */
  readonly task_acks_on_failure_or_timeout: boolean;
  /** Celery's `task_always_eager` (accepted; no effect in Celeriac). */
  readonly task_always_eager: boolean;
  /** Celery's `task_annotations` (accepted; no effect in Celeriac). */
  readonly task_annotations: unknown;
  /** Compress task message bodies (`"zlib"`) unless the call says otherwise. Default null. */
  readonly task_compression: 'zlib' | null;
  /** Celery's `task_create_missing_queues` (accepted; no effect in Celeriac). */
  readonly task_create_missing_queues: boolean;
  /** Celery's `task_inherit_parent_priority` (accepted; no effect in Celeriac). */
  readonly task_inherit_parent_priority: boolean;
  /** Celery's `task_default_delivery_mode` (accepted; no effect in Celeriac). */
  readonly task_default_delivery_mode: number | string;
  /** The queue of tasks with no route and no queue option. Default `"celery"`. */
  readonly task_default_queue: string;
  /** Celery's `task_default_exchange` (accepted; no effect in Celeriac). */
  readonly task_default_exchange: string | null;
  /** Celery's `task_default_exchange_type` (accepted; no effect in Celeriac). */
  readonly task_default_exchange_type: string;
  /** Celery's `task_default_routing_key` (accepted; no effect in Celeriac). */
  readonly task_default_routing_key: string | null;
  /** Rate limit of tasks that set none, e.g. `"100/m"` (worker). */
  readonly task_default_rate_limit: string | null;
  /** Priority (0..255; Redis buckets 0/3/6/9, lower runs first) of tasks that set none. Default null (0 on the wire). */
  readonly task_default_priority: number | null;
  /** Celery's `task_eager_propagates` (accepted; no effect in Celeriac). */
  readonly task_eager_propagates: boolean;
  /** Tasks ignore their results unless their options or the call say otherwise. Default false. */
  readonly task_ignore_result: boolean;
  /** Celery's `task_store_eager_result` (accepted; no effect in Celeriac). */
  readonly task_store_eager_result: boolean;
  /** The task message protocol; Celeriac writes protocol 2 only. Default 2. */
  readonly task_protocol: number;
  /** Retry a publish that failed on a connection error. Default true. */
  readonly task_publish_retry: boolean;
  /** How publishes are retried: `max_retries` (3), `interval_start` (0), `interval_step` (0.2), `interval_max` (1) seconds. */
  readonly task_publish_retry_policy: PublishRetryPolicyConfig;
  /** Celery's `task_queues` (accepted; no effect in Celeriac). */
  readonly task_queues: Readonly<Record<string, unknown>> | null;
  /** Celery's `task_queue_max_priority` (accepted; no effect in Celeriac). */
  readonly task_queue_max_priority: number | null;
  /** With late acks, requeue a task whose pool child died (worker). Default null (false). */
  readonly task_reject_on_worker_lost: boolean | null;
  /** Show remote tracebacks in errors (worker). */
  readonly task_remote_tracebacks: boolean;
  /** Routes: an object (task name or glob such as `tasks.*` → `{ queue }` or a queue name), a function, or a list of those, tried in order. */
  readonly task_routes: TaskRoutes | null;
  /** Send a task-sent event when publishing. Default false. */
  readonly task_send_sent_event: boolean;
  /** The serializer of task messages (`json`, `msgpack`, or one registered). Default `"json"`. */
  readonly task_serializer: string;
  /** Soft time limit of every task in seconds (worker); null for none. */
  readonly task_soft_time_limit: number | null;
  /** Hard time limit of every task in seconds (worker); null for none. */
  readonly task_time_limit: number | null;
  /** Store failures of tasks that ignore results (worker). Default false. */
  readonly task_store_errors_even_if_ignored: boolean;
  /** Store a STARTED state when a task starts (worker). Default false. */
  readonly task_track_started: boolean;
  /** Celery's `worker_agent` (accepted; no effect in Celeriac). */
  readonly worker_agent: string | null;
  /** Celery's `worker_autoscaler` (accepted; no effect in Celeriac). */
  readonly worker_autoscaler: string;
  /** Celery's `worker_cancel_long_running_tasks_on_connection_loss` (accepted; no effect in Celeriac). */
  readonly worker_cancel_long_running_tasks_on_connection_loss: boolean;
  /** Pool size of a worker. Default: the number of CPUs (`os.availableParallelism()`). */
  readonly worker_concurrency: number;
  /** Celery's `worker_consumer` (accepted; no effect in Celeriac). */
  readonly worker_consumer: string;
  /** Celery's `worker_direct` (accepted; no effect in Celeriac). */
  readonly worker_direct: boolean;
  /** Ignore rate limits (worker). Default false. */
  readonly worker_disable_rate_limits: boolean;
  /** Skip redelivered tasks whose SUCCESS is stored (worker). Default false. */
  readonly worker_deduplicate_successful_tasks: boolean;
  /** Answer remote-control commands (worker). Default true. */
  readonly worker_enable_remote_control: boolean;
  /** Celery's `worker_hijack_root_logger` (accepted; no effect in Celeriac). */
  readonly worker_hijack_root_logger: boolean;
  /** Celery's `worker_log_color` (accepted; no effect in Celeriac). */
  readonly worker_log_color: boolean | null;
  /** Celery's `worker_log_format` (accepted; no effect in Celeriac). */
  readonly worker_log_format: string;
  /** Seconds to wait for a lost pool child's result (worker). */
  readonly worker_lost_wait: number;
  /** Resident memory (KiB) after which a pool child is replaced (worker). */
  readonly worker_max_memory_per_child: number | null;
  /** Tasks a pool child runs before it is replaced (worker). */
  readonly worker_max_tasks_per_child: number | null;
  /** Celery's pool name (`prefork`); a Celeriac worker chooses the pool per task (worker). */
  readonly worker_pool: string;
  /** Celery's `worker_pool_putlocks` (accepted; no effect in Celeriac). */
  readonly worker_pool_putlocks: boolean;
  /** Celery's `worker_pool_restarts` (accepted; no effect in Celeriac). */
  readonly worker_pool_restarts: boolean;
  /** Celery's `worker_proc_alive_timeout` (accepted; no effect in Celeriac). */
  readonly worker_proc_alive_timeout: number;
  /** Messages a worker reserves per pool slot (worker). Default 4; 0 = no limit. */
  readonly worker_prefetch_multiplier: number;
  /** Celery's `worker_redirect_stdouts` (accepted; no effect in Celeriac). */
  readonly worker_redirect_stdouts: boolean;
  /** Celery's `worker_redirect_stdouts_level` (accepted; no effect in Celeriac). */
  readonly worker_redirect_stdouts_level: string;
  /** Send task events for monitoring (worker). Default false. */
  readonly worker_send_task_events: boolean;
  /** Celery's `worker_state_db` (accepted; no effect in Celeriac). */
  readonly worker_state_db: string | null;
  /** Celery's `worker_task_log_format` (accepted; no effect in Celeriac). */
  readonly worker_task_log_format: string;
  /** Celery's `worker_timer` (accepted; no effect in Celeriac). */
  readonly worker_timer: string | null;
  /** Celery's `worker_timer_precision` (accepted; no effect in Celeriac). */
  readonly worker_timer_precision: number;
  /** Celeriac: Seconds before a retry when the task gives none (Celery: the task attribute `default_retry_delay`). Default 180. */
  readonly task_default_retry_delay: number;
  /** Celeriac: Most retries of a task that sets none (Celery: the task attribute `max_retries`); null = unlimited. Default 3. */
  readonly task_max_retries: number | null;
  /** Celeriac: Retry the first broker connection at worker start (Celery 5.3 name). Default true. */
  readonly broker_connection_retry_on_startup: boolean;
  /** Celeriac: The worker node name (`celery@<host>` when null). */
  readonly worker_hostname: string | null;
}

/** A setting's name (Celery 4+ style). */
export type SettingName = keyof CeleryConfig;

/** How a setting's value is checked. */
export type SettingCheck =
  | 'string'
  | 'int'
  | 'number'
  | 'bool'
  | 'dict'
  | 'stringList'
  | 'any'
  | 'url'
  | 'routes'
  | 'retryPolicy'
  | 'priority'
  | 'positiveInt'
  | 'nonNegativeInt'
  | 'positiveNumber'
  | 'nonNegativeNumber'
  | 'compression'
  | 'protocol';

/** What is known about one setting. */
export interface SettingSpec {
  /** How its value is checked. */
  readonly check: SettingCheck;
  /** Whether `null` is a valid value. */
  readonly nullable: boolean;
}

/** Every setting: Celery 5.2's and the few Celeriac adds. */
export const SETTINGS: { readonly [K in SettingName]: SettingSpec } = {
  accept_content: { check: 'stringList', nullable: false },
  result_accept_content: { check: 'stringList', nullable: true },
  enable_utc: { check: 'bool', nullable: false },
  imports: { check: 'stringList', nullable: false },
  include: { check: 'stringList', nullable: false },
  timezone: { check: 'string', nullable: false },
  beat_max_loop_interval: { check: 'number', nullable: false },
  beat_schedule: { check: 'dict', nullable: false },
  beat_scheduler: { check: 'string', nullable: false },
  beat_schedule_filename: { check: 'string', nullable: false },
  beat_sync_every: { check: 'int', nullable: false },
  broker_url: { check: 'url', nullable: true },
  broker_read_url: { check: 'string', nullable: true },
  broker_write_url: { check: 'string', nullable: true },
  broker_transport: { check: 'string', nullable: true },
  broker_transport_options: { check: 'dict', nullable: false },
  broker_connection_timeout: { check: 'number', nullable: false },
  broker_connection_retry: { check: 'bool', nullable: false },
  broker_connection_max_retries: { check: 'int', nullable: false },
  broker_failover_strategy: { check: 'string', nullable: true },
  broker_heartbeat: { check: 'int', nullable: false },
  broker_heartbeat_checkrate: { check: 'int', nullable: false },
  broker_login_method: { check: 'string', nullable: true },
  broker_pool_limit: { check: 'int', nullable: false },
  broker_use_ssl: { check: 'bool', nullable: false },
  broker_host: { check: 'string', nullable: true },
  broker_port: { check: 'int', nullable: true },
  broker_user: { check: 'string', nullable: true },
  broker_password: { check: 'string', nullable: true },
  broker_vhost: { check: 'string', nullable: true },
  cache_backend: { check: 'string', nullable: true },
  cache_backend_options: { check: 'dict', nullable: false },
  cassandra_entry_ttl: { check: 'number', nullable: true },
  cassandra_keyspace: { check: 'string', nullable: true },
  cassandra_port: { check: 'string', nullable: true },
  cassandra_read_consistency: { check: 'string', nullable: true },
  cassandra_servers: { check: 'stringList', nullable: true },
  cassandra_table: { check: 'string', nullable: true },
  cassandra_write_consistency: { check: 'string', nullable: true },
  cassandra_auth_provider: { check: 'string', nullable: true },
  cassandra_auth_kwargs: { check: 'string', nullable: true },
  cassandra_options: { check: 'dict', nullable: false },
  s3_access_key_id: { check: 'string', nullable: true },
  s3_secret_access_key: { check: 'string', nullable: true },
  s3_bucket: { check: 'string', nullable: true },
  s3_base_path: { check: 'string', nullable: true },
  s3_endpoint_url: { check: 'string', nullable: true },
  s3_region: { check: 'string', nullable: true },
  azureblockblob_container_name: { check: 'string', nullable: false },
  azureblockblob_retry_initial_backoff_sec: { check: 'int', nullable: false },
  azureblockblob_retry_increment_base: { check: 'int', nullable: false },
  azureblockblob_retry_max_attempts: { check: 'int', nullable: false },
  azureblockblob_base_path: { check: 'string', nullable: false },
  azureblockblob_connection_timeout: { check: 'int', nullable: false },
  azureblockblob_read_timeout: { check: 'int', nullable: false },
  control_queue_ttl: { check: 'number', nullable: false },
  control_queue_expires: { check: 'number', nullable: false },
  control_exchange: { check: 'string', nullable: false },
  couchbase_backend_settings: { check: 'dict', nullable: true },
  arangodb_backend_settings: { check: 'dict', nullable: true },
  mongodb_backend_settings: { check: 'dict', nullable: true },
  cosmosdbsql_database_name: { check: 'string', nullable: false },
  cosmosdbsql_collection_name: { check: 'string', nullable: false },
  cosmosdbsql_consistency_level: { check: 'string', nullable: false },
  cosmosdbsql_max_retry_attempts: { check: 'int', nullable: false },
  cosmosdbsql_max_retry_wait_time: { check: 'int', nullable: false },
  event_queue_expires: { check: 'number', nullable: false },
  event_queue_ttl: { check: 'number', nullable: false },
  event_queue_prefix: { check: 'string', nullable: false },
  event_serializer: { check: 'string', nullable: false },
  event_exchange: { check: 'string', nullable: false },
  redis_backend_use_ssl: { check: 'dict', nullable: true },
  redis_db: { check: 'int', nullable: true },
  redis_host: { check: 'string', nullable: true },
  redis_max_connections: { check: 'int', nullable: true },
  redis_username: { check: 'string', nullable: true },
  redis_password: { check: 'string', nullable: true },
  redis_port: { check: 'int', nullable: true },
  redis_socket_timeout: { check: 'number', nullable: false },
  redis_socket_connect_timeout: { check: 'number', nullable: true },
  redis_retry_on_timeout: { check: 'bool', nullable: false },
  redis_socket_keepalive: { check: 'bool', nullable: false },
  result_backend: { check: 'url', nullable: true },
  result_cache_max: { check: 'int', nullable: false },
  result_compression: { check: 'string', nullable: true },
  result_exchange: { check: 'string', nullable: false },
  result_exchange_type: { check: 'string', nullable: false },
  result_expires: { check: 'nonNegativeNumber', nullable: true },
  result_persistent: { check: 'bool', nullable: true },
  result_extended: { check: 'bool', nullable: false },
  result_serializer: { check: 'string', nullable: false },
  result_backend_transport_options: { check: 'dict', nullable: false },
  result_chord_retry_interval: { check: 'number', nullable: false },
  result_chord_join_timeout: { check: 'number', nullable: false },
  result_backend_max_sleep_between_retries_ms: { check: 'int', nullable: false },
  result_backend_max_retries: { check: 'number', nullable: false },
  result_backend_base_sleep_between_retries_ms: { check: 'int', nullable: false },
  result_backend_always_retry: { check: 'bool', nullable: false },
  elasticsearch_retry_on_timeout: { check: 'bool', nullable: true },
  elasticsearch_max_retries: { check: 'int', nullable: true },
  elasticsearch_timeout: { check: 'number', nullable: true },
  elasticsearch_save_meta_as_text: { check: 'bool', nullable: false },
  security_certificate: { check: 'string', nullable: true },
  security_cert_store: { check: 'string', nullable: true },
  security_key: { check: 'string', nullable: true },
  security_digest: { check: 'string', nullable: false },
  database_url: { check: 'string', nullable: true },
  database_engine_options: { check: 'dict', nullable: true },
  database_short_lived_sessions: { check: 'bool', nullable: false },
  database_table_schemas: { check: 'dict', nullable: true },
  database_table_names: { check: 'dict', nullable: true },
  task_acks_late: { check: 'bool', nullable: false },
  task_acks_on_failure_or_timeout: { check: 'bool', nullable: false },
  task_always_eager: { check: 'bool', nullable: false },
  task_annotations: { check: 'any', nullable: true },
  task_compression: { check: 'compression', nullable: true },
  task_create_missing_queues: { check: 'bool', nullable: false },
  task_inherit_parent_priority: { check: 'bool', nullable: false },
  task_default_delivery_mode: { check: 'any', nullable: false },
  task_default_queue: { check: 'string', nullable: false },
  task_default_exchange: { check: 'string', nullable: true },
  task_default_exchange_type: { check: 'string', nullable: false },
  task_default_routing_key: { check: 'string', nullable: true },
  task_default_rate_limit: { check: 'string', nullable: true },
  task_default_priority: { check: 'priority', nullable: true },
  task_eager_propagates: { check: 'bool', nullable: false },
  task_ignore_result: { check: 'bool', nullable: false },
  task_store_eager_result: { check: 'bool', nullable: false },
  task_protocol: { check: 'protocol', nullable: false },
  task_publish_retry: { check: 'bool', nullable: false },
  task_publish_retry_policy: { check: 'retryPolicy', nullable: false },
  task_queues: { check: 'dict', nullable: true },
  task_queue_max_priority: { check: 'int', nullable: true },
  task_reject_on_worker_lost: { check: 'bool', nullable: true },
  task_remote_tracebacks: { check: 'bool', nullable: false },
  task_routes: { check: 'routes', nullable: true },
  task_send_sent_event: { check: 'bool', nullable: false },
  task_serializer: { check: 'string', nullable: false },
  task_soft_time_limit: { check: 'positiveNumber', nullable: true },
  task_time_limit: { check: 'positiveNumber', nullable: true },
  task_store_errors_even_if_ignored: { check: 'bool', nullable: false },
  task_track_started: { check: 'bool', nullable: false },
  worker_agent: { check: 'string', nullable: true },
  worker_autoscaler: { check: 'string', nullable: false },
  worker_cancel_long_running_tasks_on_connection_loss: { check: 'bool', nullable: false },
  worker_concurrency: { check: 'positiveInt', nullable: false },
  worker_consumer: { check: 'string', nullable: false },
  worker_direct: { check: 'bool', nullable: false },
  worker_disable_rate_limits: { check: 'bool', nullable: false },
  worker_deduplicate_successful_tasks: { check: 'bool', nullable: false },
  worker_enable_remote_control: { check: 'bool', nullable: false },
  worker_hijack_root_logger: { check: 'bool', nullable: false },
  worker_log_color: { check: 'bool', nullable: true },
  worker_log_format: { check: 'string', nullable: false },
  worker_lost_wait: { check: 'number', nullable: false },
  worker_max_memory_per_child: { check: 'int', nullable: true },
  worker_max_tasks_per_child: { check: 'int', nullable: true },
  worker_pool: { check: 'string', nullable: false },
  worker_pool_putlocks: { check: 'bool', nullable: false },
  worker_pool_restarts: { check: 'bool', nullable: false },
  worker_proc_alive_timeout: { check: 'number', nullable: false },
  worker_prefetch_multiplier: { check: 'nonNegativeInt', nullable: false },
  worker_redirect_stdouts: { check: 'bool', nullable: false },
  worker_redirect_stdouts_level: { check: 'string', nullable: false },
  worker_send_task_events: { check: 'bool', nullable: false },
  worker_state_db: { check: 'string', nullable: true },
  worker_task_log_format: { check: 'string', nullable: false },
  worker_timer: { check: 'string', nullable: true },
  worker_timer_precision: { check: 'number', nullable: false },
  task_default_retry_delay: { check: 'nonNegativeNumber', nullable: false },
  task_max_retries: { check: 'nonNegativeInt', nullable: true },
  broker_connection_retry_on_startup: { check: 'bool', nullable: false },
  worker_hostname: { check: 'string', nullable: true },
};

/**
 * Celery 3 upper-case names → Celery 4+ names: Celery 5.2's `_TO_NEW_KEY`, complete.
 * The settings Celeriac adds have no old name.
 */
export const OLD_SETTING_NAMES = {
  AZUREBLOCKBLOB_BASE_PATH: 'azureblockblob_base_path',
  AZUREBLOCKBLOB_CONNECTION_TIMEOUT: 'azureblockblob_connection_timeout',
  AZUREBLOCKBLOB_CONTAINER_NAME: 'azureblockblob_container_name',
  AZUREBLOCKBLOB_READ_TIMEOUT: 'azureblockblob_read_timeout',
  AZUREBLOCKBLOB_RETRY_INCREMENT_BASE: 'azureblockblob_retry_increment_base',
  AZUREBLOCKBLOB_RETRY_INITIAL_BACKOFF_SEC: 'azureblockblob_retry_initial_backoff_sec',
  AZUREBLOCKBLOB_RETRY_MAX_ATTEMPTS: 'azureblockblob_retry_max_attempts',
  BROKER_CONNECTION_MAX_RETRIES: 'broker_connection_max_retries',
  BROKER_CONNECTION_RETRY: 'broker_connection_retry',
  BROKER_CONNECTION_TIMEOUT: 'broker_connection_timeout',
  BROKER_FAILOVER_STRATEGY: 'broker_failover_strategy',
  BROKER_HEARTBEAT: 'broker_heartbeat',
  BROKER_HEARTBEAT_CHECKRATE: 'broker_heartbeat_checkrate',
  BROKER_HOST: 'broker_host',
  BROKER_LOGIN_METHOD: 'broker_login_method',
  BROKER_PASSWORD: 'broker_password',
  BROKER_POOL_LIMIT: 'broker_pool_limit',
  BROKER_PORT: 'broker_port',
  BROKER_READ_URL: 'broker_read_url',
  BROKER_TRANSPORT: 'broker_transport',
  BROKER_TRANSPORT_OPTIONS: 'broker_transport_options',
  BROKER_URL: 'broker_url',
  BROKER_USER: 'broker_user',
  BROKER_USE_SSL: 'broker_use_ssl',
  BROKER_VHOST: 'broker_vhost',
  BROKER_WRITE_URL: 'broker_write_url',
  CASSANDRA_AUTH_KWARGS: 'cassandra_auth_kwargs',
  CASSANDRA_AUTH_PROVIDER: 'cassandra_auth_provider',
  CASSANDRA_ENTRY_TTL: 'cassandra_entry_ttl',
  CASSANDRA_KEYSPACE: 'cassandra_keyspace',
  CASSANDRA_OPTIONS: 'cassandra_options',
  CASSANDRA_PORT: 'cassandra_port',
  CASSANDRA_READ_CONSISTENCY: 'cassandra_read_consistency',
  CASSANDRA_SERVERS: 'cassandra_servers',
  CASSANDRA_TABLE: 'cassandra_table',
  CASSANDRA_WRITE_CONSISTENCY: 'cassandra_write_consistency',
  CELERYBEAT_MAX_LOOP_INTERVAL: 'beat_max_loop_interval',
  CELERYBEAT_SCHEDULE: 'beat_schedule',
  CELERYBEAT_SCHEDULER: 'beat_scheduler',
  CELERYBEAT_SCHEDULE_FILENAME: 'beat_schedule_filename',
  CELERYBEAT_SYNC_EVERY: 'beat_sync_every',
  CELERYD_AGENT: 'worker_agent',
  CELERYD_AUTOSCALER: 'worker_autoscaler',
  CELERYD_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS: 'worker_cancel_long_running_tasks_on_connection_loss',
  CELERYD_CONCURRENCY: 'worker_concurrency',
  CELERYD_CONSUMER: 'worker_consumer',
  CELERYD_DEDUPLICATE_SUCCESSFUL_TASKS: 'worker_deduplicate_successful_tasks',
  CELERYD_HIJACK_ROOT_LOGGER: 'worker_hijack_root_logger',
  CELERYD_LOG_COLOR: 'worker_log_color',
  CELERYD_LOG_FORMAT: 'worker_log_format',
  CELERYD_MAX_MEMORY_PER_CHILD: 'worker_max_memory_per_child',
  CELERYD_MAX_TASKS_PER_CHILD: 'worker_max_tasks_per_child',
  CELERYD_POOL: 'worker_pool',
  CELERYD_POOL_PUTLOCKS: 'worker_pool_putlocks',
  CELERYD_POOL_RESTARTS: 'worker_pool_restarts',
  CELERYD_PREFETCH_MULTIPLIER: 'worker_prefetch_multiplier',
  CELERYD_PROC_ALIVE_TIMEOUT: 'worker_proc_alive_timeout',
  CELERYD_STATE_DB: 'worker_state_db',
  CELERYD_TASK_LOG_FORMAT: 'worker_task_log_format',
  CELERYD_TASK_SOFT_TIME_LIMIT: 'task_soft_time_limit',
  CELERYD_TASK_TIME_LIMIT: 'task_time_limit',
  CELERYD_TIMER: 'worker_timer',
  CELERYD_TIMER_PRECISION: 'worker_timer_precision',
  CELERYD_WORKER_LOST_WAIT: 'worker_lost_wait',
  CELERY_ACCEPT_CONTENT: 'accept_content',
  CELERY_ACKS_LATE: 'task_acks_late',
  CELERY_ACKS_ON_FAILURE_OR_TIMEOUT: 'task_acks_on_failure_or_timeout',
  CELERY_ALWAYS_EAGER: 'task_always_eager',
  CELERY_ANNOTATIONS: 'task_annotations',
  CELERY_ARANGODB_BACKEND_SETTINGS: 'arangodb_backend_settings',
  CELERY_CACHE_BACKEND: 'cache_backend',
  CELERY_CACHE_BACKEND_OPTIONS: 'cache_backend_options',
  CELERY_COUCHBASE_BACKEND_SETTINGS: 'couchbase_backend_settings',
  CELERY_CREATE_MISSING_QUEUES: 'task_create_missing_queues',
  CELERY_DEFAULT_DELIVERY_MODE: 'task_default_delivery_mode',
  CELERY_DEFAULT_EXCHANGE: 'task_default_exchange',
  CELERY_DEFAULT_EXCHANGE_TYPE: 'task_default_exchange_type',
  CELERY_DEFAULT_PRIORITY: 'task_default_priority',
  CELERY_DEFAULT_QUEUE: 'task_default_queue',
  CELERY_DEFAULT_RATE_LIMIT: 'task_default_rate_limit',
  CELERY_DEFAULT_ROUTING_KEY: 'task_default_routing_key',
  CELERY_DISABLE_RATE_LIMITS: 'worker_disable_rate_limits',
  CELERY_EAGER_PROPAGATES_EXCEPTIONS: 'task_eager_propagates',
  CELERY_ELASTICSEARCH_MAX_RETRIES: 'elasticsearch_max_retries',
  CELERY_ELASTICSEARCH_RETRY_ON_TIMEOUT: 'elasticsearch_retry_on_timeout',
  CELERY_ELASTICSEARCH_SAVE_META_AS_TEXT: 'elasticsearch_save_meta_as_text',
  CELERY_ELASTICSEARCH_TIMEOUT: 'elasticsearch_timeout',
  CELERY_ENABLE_REMOTE_CONTROL: 'worker_enable_remote_control',
  CELERY_EVENT_EXCHANGE: 'event_exchange',
  CELERY_EVENT_QUEUE_EXPIRES: 'event_queue_expires',
  CELERY_EVENT_QUEUE_PREFIX: 'event_queue_prefix',
  CELERY_EVENT_QUEUE_TTL: 'event_queue_ttl',
  CELERY_EVENT_SERIALIZER: 'event_serializer',
  CELERY_IGNORE_RESULT: 'task_ignore_result',
  CELERY_IMPORTS: 'imports',
  CELERY_INCLUDE: 'include',
  CELERY_INHERIT_PARENT_PRIORITY: 'task_inherit_parent_priority',
  CELERY_MAX_CACHED_RESULTS: 'result_cache_max',
  CELERY_MESSAGE_COMPRESSION: 'task_compression',
  CELERY_MONGODB_BACKEND_SETTINGS: 'mongodb_backend_settings',
  CELERY_QUEUES: 'task_queues',
  CELERY_QUEUE_MAX_PRIORITY: 'task_queue_max_priority',
  CELERY_REDIRECT_STDOUTS: 'worker_redirect_stdouts',
  CELERY_REDIRECT_STDOUTS_LEVEL: 'worker_redirect_stdouts_level',
  CELERY_REDIS_BACKEND_USE_SSL: 'redis_backend_use_ssl',
  CELERY_REDIS_DB: 'redis_db',
  CELERY_REDIS_HOST: 'redis_host',
  CELERY_REDIS_MAX_CONNECTIONS: 'redis_max_connections',
  CELERY_REDIS_PASSWORD: 'redis_password',
  CELERY_REDIS_PORT: 'redis_port',
  CELERY_REDIS_RETRY_ON_TIMEOUT: 'redis_retry_on_timeout',
  CELERY_REDIS_SOCKET_CONNECT_TIMEOUT: 'redis_socket_connect_timeout',
  CELERY_REDIS_SOCKET_KEEPALIVE: 'redis_socket_keepalive',
  CELERY_REDIS_SOCKET_TIMEOUT: 'redis_socket_timeout',
  CELERY_REDIS_USERNAME: 'redis_username',
  CELERY_REJECT_ON_WORKER_LOST: 'task_reject_on_worker_lost',
  CELERY_REMOTE_TRACEBACKS: 'task_remote_tracebacks',
  CELERY_RESULT_BACKEND: 'result_backend',
  CELERY_RESULT_BACKEND_ALWAYS_RETRY: 'result_backend_always_retry',
  CELERY_RESULT_BACKEND_BASE_SLEEP_BETWEEN_RETRIES_MS: 'result_backend_base_sleep_between_retries_ms',
  CELERY_RESULT_BACKEND_MAX_RETRIES: 'result_backend_max_retries',
  CELERY_RESULT_BACKEND_MAX_SLEEP_BETWEEN_RETRIES_MS: 'result_backend_max_sleep_between_retries_ms',
  CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS: 'result_backend_transport_options',
  CELERY_RESULT_CHORD_JOIN_TIMEOUT: 'result_chord_join_timeout',
  CELERY_RESULT_CHORD_RETRY_INTERVAL: 'result_chord_retry_interval',
  CELERY_RESULT_COMPRESSION: 'result_compression',
  CELERY_RESULT_DBURI: 'database_url',
  CELERY_RESULT_DB_SHORT_LIVED_SESSIONS: 'database_short_lived_sessions',
  CELERY_RESULT_DB_TABLENAMES: 'database_table_names',
  CELERY_RESULT_ENGINE_OPTIONS: 'database_engine_options',
  CELERY_RESULT_EXCHANGE: 'result_exchange',
  CELERY_RESULT_EXCHANGE_TYPE: 'result_exchange_type',
  CELERY_RESULT_EXTENDED: 'result_extended',
  CELERY_RESULT_PERSISTENT: 'result_persistent',
  CELERY_RESULT_SERIALIZER: 'result_serializer',
  CELERY_ROUTES: 'task_routes',
  CELERY_SECURITY_CERTIFICATE: 'security_certificate',
  CELERY_SECURITY_CERT_STORE: 'security_cert_store',
  CELERY_SECURITY_DIGEST: 'security_digest',
  CELERY_SECURITY_KEY: 'security_key',
  CELERY_SEND_EVENTS: 'worker_send_task_events',
  CELERY_SEND_TASK_SENT_EVENT: 'task_send_sent_event',
  CELERY_STORE_EAGER_RESULT: 'task_store_eager_result',
  CELERY_STORE_ERRORS_EVEN_IF_IGNORED: 'task_store_errors_even_if_ignored',
  CELERY_TASK_PROTOCOL: 'task_protocol',
  CELERY_TASK_PUBLISH_RETRY: 'task_publish_retry',
  CELERY_TASK_PUBLISH_RETRY_POLICY: 'task_publish_retry_policy',
  CELERY_TASK_RESULT_EXPIRES: 'result_expires',
  CELERY_TASK_SERIALIZER: 'task_serializer',
  CELERY_TIMEZONE: 'timezone',
  CELERY_TRACK_STARTED: 'task_track_started',
  CELERY_WORKER_DIRECT: 'worker_direct',
  CONTROL_EXCHANGE: 'control_exchange',
  CONTROL_QUEUE_EXPIRES: 'control_queue_expires',
  CONTROL_QUEUE_TTL: 'control_queue_ttl',
  COSMOSDBSQL_COLLECTION_NAME: 'cosmosdbsql_collection_name',
  COSMOSDBSQL_CONSISTENCY_LEVEL: 'cosmosdbsql_consistency_level',
  COSMOSDBSQL_DATABASE_NAME: 'cosmosdbsql_database_name',
  COSMOSDBSQL_MAX_RETRY_ATTEMPTS: 'cosmosdbsql_max_retry_attempts',
  COSMOSDBSQL_MAX_RETRY_WAIT_TIME: 'cosmosdbsql_max_retry_wait_time',
  DATABASE_TABLE_SCHEMAS: 'database_table_schemas',
  ENABLE_UTC: 'enable_utc',
  RESULT_ACCEPT_CONTENT: 'result_accept_content',
  S3_ACCESS_KEY_ID: 's3_access_key_id',
  S3_BASE_PATH: 's3_base_path',
  S3_BUCKET: 's3_bucket',
  S3_ENDPOINT_URL: 's3_endpoint_url',
  S3_REGION: 's3_region',
  S3_SECRET_ACCESS_KEY: 's3_secret_access_key',
} as const satisfies Readonly<Record<string, SettingName>>;

/** A Celery 3 upper-case setting name. */
export type OldSettingName = keyof typeof OLD_SETTING_NAMES;

/**
 * @returns a fresh configuration holding every default (Celery 5.2's, seconds for durations)
 */
export function defaultConfig(): CeleryConfig {
  return {
    accept_content: ['json'],
    result_accept_content: null,
    enable_utc: true,
    imports: [],
    include: [],
    timezone: 'UTC',
    beat_max_loop_interval: 0,
    beat_schedule: {},
    beat_scheduler: 'celery.beat:PersistentScheduler',
    beat_schedule_filename: 'celerybeat-schedule',
    beat_sync_every: 0,
    broker_url: null,
    broker_read_url: null,
    broker_write_url: null,
    broker_transport: null,
    broker_transport_options: {},
    broker_connection_timeout: 4,
    broker_connection_retry: true,
    broker_connection_max_retries: 100,
    broker_failover_strategy: null,
    broker_heartbeat: 120,
    broker_heartbeat_checkrate: 3,
    broker_login_method: null,
    broker_pool_limit: 10,
    broker_use_ssl: false,
    broker_host: null,
    broker_port: null,
    broker_user: null,
    broker_password: null,
    broker_vhost: null,
    cache_backend: null,
    cache_backend_options: {},
    cassandra_entry_ttl: null,
    cassandra_keyspace: null,
    cassandra_port: null,
    cassandra_read_consistency: null,
    cassandra_servers: null,
    cassandra_table: null,
    cassandra_write_consistency: null,
    cassandra_auth_provider: null,
    cassandra_auth_kwargs: null,
    cassandra_options: {},
    s3_access_key_id: null,
    s3_secret_access_key: null,
    s3_bucket: null,
    s3_base_path: null,
    s3_endpoint_url: null,
    s3_region: null,
    azureblockblob_container_name: 'celery',
    azureblockblob_retry_initial_backoff_sec: 2,
    azureblockblob_retry_increment_base: 2,
    azureblockblob_retry_max_attempts: 3,
    azureblockblob_base_path: '',
    azureblockblob_connection_timeout: 20,
    azureblockblob_read_timeout: 120,
    control_queue_ttl: 300,
    control_queue_expires: 10,
    control_exchange: 'celery',
    couchbase_backend_settings: null,
    arangodb_backend_settings: null,
    mongodb_backend_settings: null,
    cosmosdbsql_database_name: 'celerydb',
    cosmosdbsql_collection_name: 'celerycol',
    cosmosdbsql_consistency_level: 'Session',
    cosmosdbsql_max_retry_attempts: 9,
    cosmosdbsql_max_retry_wait_time: 30,
    event_queue_expires: 60,
    event_queue_ttl: 5,
    event_queue_prefix: 'celeryev',
    event_serializer: 'json',
    event_exchange: 'celeryev',
    redis_backend_use_ssl: null,
    redis_db: null,
    redis_host: null,
    redis_max_connections: null,
    redis_username: null,
    redis_password: null,
    redis_port: null,
    redis_socket_timeout: 120,
    redis_socket_connect_timeout: null,
    redis_retry_on_timeout: false,
    redis_socket_keepalive: false,
    result_backend: null,
    result_cache_max: -1,
    result_compression: null,
    result_exchange: 'celeryresults',
    result_exchange_type: 'direct',
    result_expires: 86_400,
    result_persistent: null,
    result_extended: false,
    result_serializer: 'json',
    result_backend_transport_options: {},
    result_chord_retry_interval: 1,
    result_chord_join_timeout: 3,
    result_backend_max_sleep_between_retries_ms: 10000,
    result_backend_max_retries: Number.POSITIVE_INFINITY,
    result_backend_base_sleep_between_retries_ms: 10,
    result_backend_always_retry: false,
    elasticsearch_retry_on_timeout: null,
    elasticsearch_max_retries: null,
    elasticsearch_timeout: null,
    elasticsearch_save_meta_as_text: true,
    security_certificate: null,
    security_cert_store: null,
    security_key: null,
    security_digest: 'sha256',
    database_url: null,
    database_engine_options: null,
    database_short_lived_sessions: false,
    database_table_schemas: null,
    database_table_names: null,
    task_acks_late: false,
    task_acks_on_failure_or_timeout: true,
    task_always_eager: false,
    task_annotations: null,
    task_compression: null,
    task_create_missing_queues: true,
    task_inherit_parent_priority: false,
    task_default_delivery_mode: 2,
    task_default_queue: 'celery',
    task_default_exchange: null,
    task_default_exchange_type: 'direct',
    task_default_routing_key: null,
    task_default_rate_limit: null,
    task_default_priority: null,
    task_eager_propagates: false,
    task_ignore_result: false,
    task_store_eager_result: false,
    task_protocol: 2,
    task_publish_retry: true,
    task_publish_retry_policy: { max_retries: 3, interval_start: 0, interval_max: 1, interval_step: 0.2 },
    task_queues: null,
    task_queue_max_priority: null,
    task_reject_on_worker_lost: null,
    task_remote_tracebacks: false,
    task_routes: null,
    task_send_sent_event: false,
    task_serializer: 'json',
    task_soft_time_limit: null,
    task_time_limit: null,
    task_store_errors_even_if_ignored: false,
    task_track_started: false,
    worker_agent: null,
    worker_autoscaler: 'celery.worker.autoscale:Autoscaler',
    worker_cancel_long_running_tasks_on_connection_loss: false,
    worker_concurrency: availableParallelism(),
    worker_consumer: 'celery.worker.consumer:Consumer',
    worker_direct: false,
    worker_disable_rate_limits: false,
    worker_deduplicate_successful_tasks: false,
    worker_enable_remote_control: true,
    worker_hijack_root_logger: true,
    worker_log_color: null,
    worker_log_format: '[%(asctime)s: %(levelname)s/%(processName)s] %(message)s',
    worker_lost_wait: 10,
    worker_max_memory_per_child: null,
    worker_max_tasks_per_child: null,
    worker_pool: 'prefork',
    worker_pool_putlocks: true,
    worker_pool_restarts: false,
    worker_proc_alive_timeout: 4,
    worker_prefetch_multiplier: 4,
    worker_redirect_stdouts: true,
    worker_redirect_stdouts_level: 'WARNING',
    worker_send_task_events: false,
    worker_state_db: null,
    worker_task_log_format: '[%(asctime)s: %(levelname)s/%(processName)s] %(task_name)s[%(task_id)s]: %(message)s',
    worker_timer: null,
    worker_timer_precision: 1,
    task_default_retry_delay: 180,
    task_max_retries: 3,
    broker_connection_retry_on_startup: true,
    worker_hostname: null,
  };
}

import { availableParallelism } from 'node:os';
import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { assertRedisUrl, resolveConfig } from './config.ts';
import { OLD_SETTING_NAMES, SETTINGS } from './settings.ts';

const noEnv = { env: {} };

function configError(run: () => unknown): CeleriacError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CeleriacError);
    expect((error as CeleriacError).code).toBe(ErrorCode.INVALID_CONFIG);
    return error as CeleriacError;
  }
  throw new Error('expected an INVALID_CONFIG error');
}

describe('defaults', () => {
  it('are Celery 5.2 defaults, durations in seconds', () => {
    const conf = resolveConfig({}, noEnv);
    expect(conf).toMatchObject({
      broker_url: null,
      result_backend: null,
      accept_content: ['json'],
      result_accept_content: null,
      task_serializer: 'json',
      result_serializer: 'json',
      result_expires: 86_400,
      result_extended: false,
      task_default_queue: 'celery',
      task_routes: null,
      task_default_priority: null,
      task_acks_late: false,
      task_ignore_result: false,
      task_track_started: false,
      task_time_limit: null,
      task_soft_time_limit: null,
      task_default_retry_delay: 180,
      task_max_retries: 3,
      task_protocol: 2,
      task_publish_retry: true,
      task_publish_retry_policy: { max_retries: 3, interval_start: 0, interval_step: 0.2, interval_max: 1 },
      worker_prefetch_multiplier: 4,
      worker_concurrency: availableParallelism(),
      worker_send_task_events: false,
      worker_hostname: null,
      broker_connection_retry_on_startup: true,
      broker_transport_options: {},
      result_backend_transport_options: {},
      timezone: 'UTC',
      enable_utc: true,
    });
    expect(Object.isFrozen(conf)).toBe(true);
  });

  it('holds every Celery 5.2 setting (169) plus the 4 Celeriac adds', () => {
    const conf = resolveConfig({}, noEnv);
    expect(Object.keys(conf).sort()).toEqual(Object.keys(SETTINGS).sort());
    expect(Object.keys(OLD_SETTING_NAMES)).toHaveLength(169);
    expect(Object.keys(SETTINGS)).toHaveLength(173);
  });

  it('a resolved configuration resolves to itself (createApp(app.conf) works)', () => {
    const conf = resolveConfig({ broker_url: 'redis://h', task_routes: { 'a.*': 'q' } }, noEnv);
    expect(resolveConfig(conf, noEnv)).toEqual(conf);
  });

  it('fills a partial publish retry policy with the defaults', () => {
    const conf = resolveConfig({ task_publish_retry_policy: { max_retries: 1 } }, noEnv);
    expect(conf.task_publish_retry_policy).toEqual({ max_retries: 1, interval_start: 0, interval_step: 0.2, interval_max: 1 });
  });
});

describe('Celery 3 names', () => {
  it('map to the new names as Celery maps them', () => {
    const conf = resolveConfig(
      {
        BROKER_URL: 'redis://h:6379/1',
        CELERY_RESULT_BACKEND: 'redis://h:6379/2',
        CELERY_TASK_SERIALIZER: 'msgpack',
        CELERY_ACCEPT_CONTENT: ['json', 'msgpack'],
        CELERYD_PREFETCH_MULTIPLIER: 1,
        CELERY_ACKS_LATE: true,
        CELERY_TASK_RESULT_EXPIRES: 60,
        CELERY_DEFAULT_QUEUE: 'jobs',
        CELERY_ROUTES: { 'tasks.*': 'math' },
        CELERYD_TASK_TIME_LIMIT: 30,
        CELERY_SEND_EVENTS: true,
        BROKER_TRANSPORT_OPTIONS: { visibility_timeout: 60 },
      },
      noEnv,
    );
    expect(conf).toMatchObject({
      broker_url: 'redis://h:6379/1',
      result_backend: 'redis://h:6379/2',
      task_serializer: 'msgpack',
      accept_content: ['json', 'msgpack'],
      worker_prefetch_multiplier: 1,
      task_acks_late: true,
      result_expires: 60,
      task_default_queue: 'jobs',
      task_routes: { 'tasks.*': 'math' },
      task_time_limit: 30,
      worker_send_task_events: true,
      broker_transport_options: { visibility_timeout: 60 },
    });
  });

  it('mixing refuses the keys without a counterpart, naming the rename (Celery wording)', () => {
    const error = configError(() => resolveConfig({ broker_url: 'redis://x', task_acks_late: true, CELERY_TASK_SERIALIZER: 'json' }, noEnv));
    expect(error.message).toContain('Cannot mix new and old setting keys');
    expect(error.message).toContain('CELERY_TASK_SERIALIZER -> task_serializer');
    const old = configError(() => resolveConfig({ BROKER_URL: 'redis://x', CELERY_ACKS_LATE: true, task_serializer: 'json' }, noEnv));
    expect(old.message).toContain('Cannot mix new setting names with old setting names');
    expect(old.message).toContain('task_serializer -> CELERY_TASK_SERIALIZER');
  });

  it('a key given in both styles is allowed; the majority style wins', () => {
    const conf = resolveConfig({ result_expires: 10, task_acks_late: true, CELERY_TASK_RESULT_EXPIRES: 99 }, noEnv);
    expect(conf.result_expires).toBe(10);
    const old = resolveConfig({ CELERY_TASK_RESULT_EXPIRES: 99, CELERY_ACKS_LATE: true, result_expires: 10 }, noEnv);
    expect(old.result_expires).toBe(99);
    expect(old.task_acks_late).toBe(true);
  });
});

describe('namespace (Django style)', () => {
  it("reads CELERY_-prefixed new names, then plain names; ignores the host's other settings", () => {
    const conf = resolveConfig(
      {
        CELERY_BROKER_URL: 'redis://a:6379/0',
        CELERY_TASK_ACKS_LATE: true,
        CELERY_RESULT_EXPIRES: 5,
        result_expires: 7,
        task_default_queue: 'plain',
        ...({ DEBUG: true, INSTALLED_APPS: ['x'] } as object),
      },
      { env: {}, namespace: 'CELERY' },
    );
    expect(conf).toMatchObject({
      broker_url: 'redis://a:6379/0',
      task_acks_late: true,
      result_expires: 5,
      task_default_queue: 'plain',
    });
  });

  it('a misspelt prefixed name is an error naming the closest prefixed one', () => {
    const error = configError(() => resolveConfig({ CELERY_TASK_SERIALISER: 'json' }, { env: {}, namespace: 'CELERY' }));
    expect(error.message).toBe("Unknown setting 'CELERY_TASK_SERIALISER'; did you mean 'CELERY_TASK_SERIALIZER'?");
  });

  it('without the option, a Django-style name says which option it needs', () => {
    const error = configError(() => resolveConfig({ CELERY_TASK_ACKS_LATE: true }, noEnv));
    expect(error.message).toContain("namespace: 'CELERY'");
  });
});

describe('environment', () => {
  it('CELERY_BROKER_URL and CELERY_RESULT_BACKEND override the config (empty values do not)', () => {
    const conf = resolveConfig(
      { broker_url: 'redis://config:6379/0', result_backend: 'redis://config:6379/1' },
      { env: { CELERY_BROKER_URL: 'redis://env:6379/3', CELERY_RESULT_BACKEND: '' } },
    );
    expect(conf.broker_url).toBe('redis://env:6379/3');
    expect(conf.result_backend).toBe('redis://config:6379/1');
    const both = resolveConfig({}, { env: { CELERY_RESULT_BACKEND: 'redis://env:6379/4', CELERY_BROKER_READ_URL: 'redis://r' } });
    expect(both.result_backend).toBe('redis://env:6379/4');
    expect(both.broker_read_url).toBe('redis://r');
  });

  it('an env URL with an unsupported scheme names the variable', () => {
    const error = configError(() => resolveConfig({}, { env: { CELERY_BROKER_URL: 'amqp://guest@localhost//' } }));
    expect(error.message).toContain('CELERY_BROKER_URL');
    expect(error.message).toContain("scheme 'amqp://'");
  });
});

describe('errors', () => {
  it('an unknown setting names the closest known one', () => {
    expect(configError(() => resolveConfig({ task_serialiser: 'json' }, noEnv)).message).toBe(
      "Unknown setting 'task_serialiser'; did you mean 'task_serializer'?",
    );
    expect(configError(() => resolveConfig({ broker_ur: 'redis://' }, noEnv)).message).toContain("did you mean 'broker_url'?");
    expect(configError(() => resolveConfig({ CELERYD_PREFETCH_MULTIPLER: 1 }, noEnv)).message).toContain(
      "did you mean 'CELERYD_PREFETCH_MULTIPLIER'?",
    );
  });

  it('wrong types say what was expected and what came', () => {
    expect(configError(() => resolveConfig({ task_acks_late: 'yes' as unknown as boolean }, noEnv)).message).toBe(
      'Setting \'task_acks_late\' must be a boolean, got string "yes"',
    );
    expect(configError(() => resolveConfig({ CELERYD_PREFETCH_MULTIPLIER: 1.5 }, noEnv)).message).toBe(
      "Setting 'CELERYD_PREFETCH_MULTIPLIER' (worker_prefetch_multiplier) must be an integer >= 0, got number 1.5",
    );
    expect(configError(() => resolveConfig({ accept_content: 'json' as unknown as string[] }, noEnv)).message).toContain('an array of strings');
    expect(configError(() => resolveConfig({ task_default_queue: null as unknown as string }, noEnv)).message).toContain('null is not allowed');
    expect(configError(() => resolveConfig({ task_default_priority: 300 }, noEnv)).message).toContain('0..255');
    expect(configError(() => resolveConfig({ task_protocol: 1 }, noEnv)).message).toContain('protocol 2 only');
    expect(configError(() => resolveConfig({ worker_concurrency: 0 }, noEnv)).message).toContain('>= 1');
    expect(configError(() => resolveConfig({ task_routes: { 'tasks.*': { queue: 5 } } as never }, noEnv)).message).toContain(
      'task_routes["tasks.*"].queue: expected a string',
    );
    expect(
      configError(() => resolveConfig({ task_publish_retry_policy: { max_retry: 1 } as never }, noEnv)).message,
    ).toContain("did you mean 'task_publish_retry_policy.max_retries'?");
    expect(configError(() => resolveConfig([] as never, noEnv)).message).toContain('plain object');
  });

  it('unsupported broker and backend schemes list the supported ones', () => {
    const error = configError(() => resolveConfig({ broker_url: 'amqp://guest@localhost//' }, noEnv));
    expect(error.message).toBe(
      "broker_url: scheme 'amqp://' is not supported; Celeriac speaks Redis only (redis://, rediss://, unix://, redis+socket://, sentinel://)",
    );
    expect(configError(() => resolveConfig({ result_backend: 'rpc://' }, noEnv)).message).toContain("result_backend: scheme 'rpc://'");
    expect(configError(() => assertRedisUrl('localhost:6379', 'broker_url')).message).toContain('a value without a scheme');
  });

  it('accepts every Redis scheme, sentinel lists, and result_backend "disabled"', () => {
    for (const url of ['redis://h', 'rediss://h:6380/0', 'unix:///run/r.sock', 'redis+socket:///run/r.sock', 'sentinel://a:26379;sentinel://b:26379']) {
      expect(resolveConfig({ broker_url: url }, noEnv).broker_url).toBe(url);
    }
    expect(resolveConfig({ result_backend: 'disabled' }, noEnv).result_backend).toBeNull();
    expect(resolveConfig({ broker_host: 'redis://legacy:6379/0' }, noEnv).broker_url).toBe('redis://legacy:6379/0');
  });

  it('undefined values count as not set', () => {
    expect(resolveConfig({ broker_url: undefined, task_default_queue: undefined }, noEnv).task_default_queue).toBe('celery');
  });
});

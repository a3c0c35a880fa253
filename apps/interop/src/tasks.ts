/**
 * The interop contract as Celeriac tasks: the same names, arguments and results as the
 * Python peer's `tasks.py` (packages/test-utils/python), so a Python Celery 5.2 client can
 * call them on a Celeriac worker:
 *
 * ```sh
 * celeriac worker -A apps/interop/dist/tasks.js
 * ```
 *
 * | task | does |
 * |---|---|
 * | `tasks.add(x, y)` | `x + y` |
 * | `tasks.echo(*args, **kwargs)` | `[args, kwargs]` |
 * | `tasks.tsum(values)` | `sum(values)` (a chord body) |
 * | `tasks.fail(msg="boom")` | raises `InteropError(msg)` (stored with `exc_module` `tasks`, as Python's) |
 * | `tasks.sleep(seconds=1.0, value=None)` | waits, then `value` (or `seconds` when `value` is null) |
 * | `tasks.retry_once(value="ok", countdown=1)` | retries once after `countdown` s, then `[value, retries]` |
 * | `tasks.types(binary=False)` | one value of each type that crosses (as the Python peer's) |
 *
 * Configured from the environment, with the Python peer's variable names: `CELERY_BROKER_URL`,
 * `CELERY_RESULT_BACKEND`, `CELERY_TASK_SERIALIZER`, `CELERY_RESULT_SERIALIZER` (default
 * `json`), `CELERY_ACCEPT_CONTENT` (default `json,msgpack`, also `result_accept_content`),
 * `CELERY_QUEUE`, `CELERY_VISIBILITY_TIMEOUT`, `CELERY_CONFIG_JSON` (more settings, merged last).
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createApp } from '@celeriac/client';

const env = process.env;

function csv(value: string): string[] {
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

const extra = JSON.parse(env['CELERY_CONFIG_JSON'] ?? '{}') as Record<string, unknown>;
const transport: Record<string, unknown> = {
  ...(env['CELERY_VISIBILITY_TIMEOUT'] ? { visibility_timeout: Number(env['CELERY_VISIBILITY_TIMEOUT']) } : {}),
  ...(extra['broker_transport_options'] as Record<string, unknown> | undefined),
};
delete extra['broker_transport_options'];
const broker = env['CELERY_BROKER_URL'] ?? env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const accept = csv(env['CELERY_ACCEPT_CONTENT'] ?? 'json,msgpack');

/** The app `celeriac worker -A` finds (also the default export). */
export const app = createApp({
  broker_url: broker,
  result_backend: env['CELERY_RESULT_BACKEND'] ?? broker,
  task_serializer: env['CELERY_TASK_SERIALIZER'] ?? 'json',
  result_serializer: env['CELERY_RESULT_SERIALIZER'] ?? 'json',
  accept_content: accept,
  result_accept_content: accept,
  task_default_queue: env['CELERY_QUEUE'] ?? 'celery',
  result_expires: 3600,
  ...(Object.keys(transport).length === 0 ? {} : { broker_transport_options: transport }),
  ...extra,
});

/** What `tasks.fail` raises; stored as `tasks.InteropError`, the Python peer's class. */
export class InteropError extends Error {
  /** The Python module a client rebuilds the class from (the peer's `tasks`). */
  readonly excModule = 'tasks';

  /**
   * @param message - the `msg` argument
   */
  constructor(message: string) {
    super(message);
    this.name = 'InteropError';
  }
}

/** `tasks.add(x, y)`; Python ints beyond 2^53 arrive as bigint and add exactly. */
export const add = app.task('tasks.add', { params: ['x', 'y'] }, (_ctx, x: number | bigint, y: number | bigint) => {
  if (typeof x === 'number' && typeof y === 'number') return x + y;
  if (Number.isInteger(Number(x)) && Number.isInteger(Number(y))) return BigInt(x) + BigInt(y);
  return Number(x) + Number(y);
});

/** `tasks.echo(*args, **kwargs)` → `[args, kwargs]`. */
export const echo = app.task('tasks.echo', { acceptsKwargs: true }, (_ctx, ...all: unknown[]) => {
  const kwargs = all.pop() as Record<string, unknown>;
  return [all, kwargs];
});

/** `tasks.tsum(values)`: a chord body, the sum of the header's results. */
export const tsum = app.task('tasks.tsum', { params: ['values'] }, (_ctx, values: number[]) => values.reduce((a, b) => a + b, 0));

/** `tasks.fail(msg="boom")` raises {@link InteropError}. */
export const fail = app.task('tasks.fail', { params: ['msg'] }, (_ctx, msg: string | undefined): never => {
  throw new InteropError(msg ?? 'boom');
});

/** `tasks.sleep(seconds=1.0, value=None)`. */
export const sleep = app.task(
  'tasks.sleep',
  { params: ['seconds', 'value'] },
  async (ctx, seconds: number | undefined, value: unknown) => {
    const s = seconds ?? 1.0;
    await delay(s * 1000, undefined, { signal: ctx.signal });
    return value === undefined || value === null ? s : value;
  },
);

/** `tasks.retry_once(value="ok", countdown=1)`: the first run retries, the second returns `[value, retries]`. */
export const retryOnce = app.task(
  'tasks.retry_once',
  { params: ['value', 'countdown'] },
  (ctx, value: unknown, countdown: number | undefined) => {
    if (ctx.request.retries === 0) throw ctx.retry({ countdown: countdown ?? 1 });
    return [value ?? 'ok', ctx.request.retries];
  },
);

/** `tasks.types(binary=False)`: one value of each type that crosses, as the Python peer's. */
export const types = app.task('tasks.types', { params: ['binary'] }, (_ctx, binary: boolean | undefined) => {
  const value: Record<string, unknown> = {
    unicode: 'h\u00e9llo \u2603 \u{1d11e}',
    nested: { list: [1, [2, [3, null]]], dict: { a: { b: [] } } },
    none: null,
    int: 42,
    int64_max: 2n ** 63n - 1n,
    negative: -7,
    float: -1.5,
    true: true,
    false: false,
  };
  if (binary === true) value['bytes'] = new Uint8Array([0, 1, 0xfe, 0xff]);
  else value['big_int'] = 2n ** 70n;
  return value;
});

export default app;

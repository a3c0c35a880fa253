// The files the consumer test (scripts/consumer/run.mjs) writes into its temporary project.
// They are strings rather than files here because they import '@celeriac/*' as a user does:
// in the workspace those names would resolve to the packages' sources, and the workspace
// lint and type-check would pick them up.

/**
 * ESM smoke test: imports every package given as JSON in argv[2] (`[{ name, probe }]`) and
 * prints, as JSON, where each resolved and which names it exports.
 */
export const smokeEsm = `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const out = {};
for (const { name, probe } of JSON.parse(process.argv[2])) {
  const mod = await import(name);
  if (typeof mod[probe] !== 'function') throw new Error(\`import('\${name}'): expected a function \${probe}, got \${typeof mod[probe]}\`);
  out[name] = { resolved: import.meta.resolve(name), exports: Object.keys(mod).sort() };
}
// The CJS resolution of the same names, to tell the two builds apart.
for (const name of Object.keys(out)) out[name].requireResolved = require.resolve(name);
console.log(JSON.stringify(out));
`;

/** CommonJS smoke test: the same through require(). */
export const smokeCjs = `'use strict';
const out = {};
for (const { name, probe } of JSON.parse(process.argv[2])) {
  const mod = require(name);
  if (typeof mod[probe] !== 'function') throw new Error(\`require('\${name}'): expected a function \${probe}, got \${typeof mod[probe]}\`);
  out[name] = { resolved: require.resolve(name), exports: Object.keys(mod).sort() };
}
console.log(JSON.stringify(out));
`;

/**
 * A TypeScript consumer of every package, type-checked (never run) with moduleResolution
 * node16 (as ESM here and as CommonJS in {@link tsConsumerCjs}) and bundler. It uses types
 * that cross packages (a client task's SentResult is backend-redis's AsyncResult; errors come
 * from protocol) and checks that a wrong call does not compile.
 */
export const tsConsumerEsm = `import { createBarrier, createPromise, type VinePromise } from '@celeriac/promise';
import { CeleriacError, encodeTaskMessage, ErrorCode, type EncodedTaskMessage, type ResultBackend } from '@celeriac/protocol';
import { parseRedisUrl, redactRedisUrl, type RedisConnectionConfig } from '@celeriac/redis-connection';
import { createRedisBroker, type RedisBroker } from '@celeriac/broker-redis';
import { AsyncResult, createRedisBackend, type RedisResultBackend } from '@celeriac/backend-redis';
import { createApp, type App, type SendOptions, type SentResult, type Task, type TaskContext } from '@celeriac/client';
import { createBeat, crontab, every, type Beat } from '@celeriac/beat';
import { createWorker, type Worker, type WorkerOptions } from '@celeriac/worker';

const url = 'redis://127.0.0.1:6379/0';
const app: App = createApp({ broker_url: url, result_backend: url, task_default_queue: 'consumer' });
const add: Task<[x: number, y: number], number> = app.task('tasks.add', (_ctx: TaskContext, x: number, y: number) => x + y);
const options: SendOptions = { countdown: 1, queue: 'consumer', priority: 3 };
const sent: SentResult<number> = add.applyAsync([2, 3], {}, options);
const handle: AsyncResult<number> = sent; // the client's handle is backend-redis's AsyncResult
// @ts-expect-error delay() is checked against the task function's parameters
add.delay('2', 3);

export async function sum(): Promise<number> {
  try {
    return await handle.get({ timeout: 1_000 });
  } catch (err) {
    if (err instanceof CeleriacError && err.code === ErrorCode.TIMEOUT) return Number.NaN;
    throw err;
  }
}

const worker: Worker = createWorker(app, { concurrency: 2, pool: 'async' } satisfies WorkerOptions);
const beat: Beat = createBeat(app, { entries: { tick: { task: 'tasks.add', schedule: every(1_000), args: [1, 1] }, daily: { task: 'tasks.add', schedule: crontab({ minute: 0, hour: 7 }) } } });

const message: EncodedTaskMessage = encodeTaskMessage({ task: 'tasks.add', args: [1, 2] });
const config: RedisConnectionConfig = parseRedisUrl('redis://:secret@127.0.0.1:6379/1');
const broker: RedisBroker = createRedisBroker(url);
const backend: RedisResultBackend = createRedisBackend(url);
const asBackend: ResultBackend = backend; // backend-redis implements protocol's interface
const doubled: VinePromise = createPromise((x: number) => x * 2);
const barrier = createBarrier([doubled]);

export const used = [worker, beat, message.taskId, config.redactedUrl, redactRedisUrl(url), broker, asBackend, barrier];
`;

/** The CommonJS side of the node16 check: a .cts file resolves the packages' "require" types. */
export const tsConsumerCjs = `import { createApp } from '@celeriac/client';
import { createWorker } from '@celeriac/worker';
import { createBeat } from '@celeriac/beat';
import { createPromise } from '@celeriac/promise';
import { RemoteTaskError } from '@celeriac/protocol';

const app = createApp({ broker_url: 'redis://127.0.0.1:6379/0' });
const add = app.task('tasks.add', (_ctx, x: number, y: number) => x + y);
export const result: Promise<number> = add.delay(2, 3).get({ timeout: 1_000 });
export const failure: Promise<number | RemoteTaskError> = add.delay(2, 3).get({ propagate: false });
export const used = [createWorker(app), createBeat(app), createPromise()];
`;

/**
 * A tsconfig for the consumer. typeRoots points at the workspace's @types so the temporary
 * project holds only what the packages install.
 *
 * @param {'node16' | 'bundler'} resolution
 * @param {string} typeRoot the workspace's node_modules/@types
 * @param {string[]} files
 */
export function tsconfig(resolution, typeRoot, files) {
  return JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023'],
        module: resolution === 'node16' ? 'node16' : 'esnext',
        moduleResolution: resolution,
        types: ['node'],
        typeRoots: [typeRoot],
        strict: true,
        noEmit: true,
        // node16 also checks the packages' .d.ts and .d.cts files themselves (and @types/node
        // with them: ~5 s more); bundler reads the same .d.ts, so it skips that.
        skipLibCheck: resolution === 'bundler',
      },
      files,
    },
    null,
    2,
  );
}

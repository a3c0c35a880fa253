/**
 * The entry of a pool child: a `node:worker_threads` thread or a `node:child_process` fork
 * that runs CPU-bound tasks one at a time, as described in pool-protocol.ts. Built to
 * `dist/pool-child.js`; never imported by the worker itself.
 *
 * @module
 */
import { isMainThread, parentPort } from 'node:worker_threads';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TaskDefinition } from '@celeriac/client';
import { deserializeError, serializeError, type ChildMessage, type ParentMessage } from './pool-protocol.ts';
import { invokeTask } from './task-context.ts';
import { NotRegisteredError } from './worker-errors.ts';

type Send = (message: ChildMessage) => void;

const modules = new Map<string, Promise<Record<string, unknown>>>();
const running = new Map<number, AbortController>();

function send(): Send {
  if (!isMainThread && parentPort !== null) {
    const port = parentPort;
    return (message) => port.postMessage(message);
  }
  return (message) => {
    process.send?.(message);
  };
}

/** A URL as is, an absolute path as a file URL, anything else (a package name) as is. */
function moduleUrl(spec: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec) && !/^[a-z]:[\\/]/i.test(spec)) return spec;
  return isAbsolute(spec) ? pathToFileURL(spec).href : spec;
}

function isTaskDefinition(value: unknown, name: string): value is TaskDefinition {
  return typeof value === 'object' && value !== null && (value as { name?: unknown }).name === name &&
    typeof (value as { run?: unknown }).run === 'function';
}

async function findTask(module: string, name: string): Promise<TaskDefinition> {
  let loading = modules.get(module);
  if (loading === undefined) {
    loading = import(moduleUrl(module)) as Promise<Record<string, unknown>>;
    modules.set(module, loading);
  }
  const exports = await loading;
  const candidates = [exports['default'], exports['app'], ...Object.values(exports)];
  for (const candidate of candidates) {
    if (isTaskDefinition(candidate, name)) return candidate;
    const tasks = (candidate as { tasks?: { get?: unknown } } | null | undefined)?.tasks;
    if (typeof tasks?.get === 'function') {
      const found = (tasks.get as (n: string) => unknown).call(tasks, name);
      if (isTaskDefinition(found, name)) return found;
    }
  }
  throw new NotRegisteredError(name);
}

async function run(message: Extract<ParentMessage, { t: 'run' }>, reply: Send): Promise<void> {
  const controller = new AbortController();
  running.set(message.id, controller);
  try {
    let outcome: ChildMessage;
    try {
      const definition = await findTask(message.module, message.task);
      // The soft limit (or a terminate) may have fired while a fresh child was still loading
      // the module: a task that registered its abort listener now would never hear it.
      if (controller.signal.aborted) throw controller.signal.reason;
      const result = await invokeTask(definition, message.args, message.request, controller.signal);
      outcome = result.ok
        ? { t: 'done', id: message.id, ok: true, value: result.value === undefined ? null : result.value }
        : { t: 'done', id: message.id, ok: false, error: serializeError(result.error) };
    } catch (error) {
      outcome = { t: 'done', id: message.id, ok: false, error: serializeError(error) };
    }
    try {
      reply(outcome);
    } catch (error) {
      // A return value structured clone cannot carry (a function, a class with private state).
      const detail = error instanceof Error ? error.message : String(error);
      reply({
        t: 'done',
        id: message.id,
        ok: false,
        error: { name: 'EncodeError', message: `The return value cannot leave the pool child: ${detail}`, excModule: 'kombu.exceptions' },
      });
    }
  } finally {
    running.delete(message.id);
  }
}

function onMessage(reply: Send, message: ParentMessage): void {
  if (message.t === 'run') {
    void run(message, reply);
  } else if (message.t === 'abort') {
    running.get(message.id)?.abort(deserializeError(message.reason));
  }
}

const reply = send();
if (!isMainThread && parentPort !== null) {
  parentPort.on('message', (message: ParentMessage) => onMessage(reply, message));
} else {
  process.on('message', (message: ParentMessage) => onMessage(reply, message));
  // The worker went away: nothing will ever ask this child again.
  process.on('disconnect', () => process.exit(0));
}

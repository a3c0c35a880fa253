/**
 * Plain Celery signatures, as they travel in `link`, `link_error`, chains and chords:
 * `{"task", "args", "kwargs", "options", "subtask_type", "immutable"}` in that order.
 *
 * @see celery-wire.md §1.1 (signature dict); celery/canvas.py `Signature`
 * @module
 */
import type { SignatureDict, WireObject, WireValue } from '@celeriac/protocol';
import { toWireOptions, type SendOptions } from './send-options.ts';

/** Options of {@link createSignature}. */
export interface SignatureOptions {
  /** Send options applied when the signature is sent (Celery's signature `options`). */
  readonly options?: SendOptions;
  /** An immutable signature ignores the parent's result (`si()`); default false. */
  readonly immutable?: boolean;
}

/**
 * Builds a signature dict as Celery's `Signature` serializes it.
 *
 * @param task - the task name
 * @param args - positional arguments (a linked callback gets the parent's result before them unless immutable)
 * @param kwargs - keyword arguments
 * @param options - send options and immutability
 * @returns the signature dict
 * @throws TypeError for an empty task name or args that are not an array
 */
export function createSignature(
  task: string,
  args: readonly unknown[] = [],
  kwargs: Readonly<Record<string, unknown>> = {},
  options: SignatureOptions = {},
): SignatureDict {
  if (typeof task !== 'string' || task === '') throw new TypeError(`Expected a task name, got ${String(task)}`);
  const list: readonly unknown[] = args;
  if (!Array.isArray(list)) throw new TypeError(`Expected signature args to be an array, got ${typeof list}`);
  return {
    task,
    args: args.slice() as WireValue[],
    kwargs: { ...kwargs } as WireObject,
    options: toWireOptions(options.options ?? {}),
    subtask_type: null,
    immutable: options.immutable ?? false,
  };
}

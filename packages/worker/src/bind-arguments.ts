/**
 * Python's call binding for task arguments: positional args first, then keyword args by the
 * names in `params`, the rest into a `**kwargs` object when the task accepts one.
 *
 * @module
 */
import type { TaskDefinition } from '@celeriac/client';
import type { WireValue } from '@celeriac/protocol';
import { TaskArgumentsError } from './worker-errors.ts';

/**
 * Builds the argument list a task function gets after its context.
 *
 * - each keyword whose name is in `params` fills that position (`params: ['x', 'y']` and
 *   `kwargs {y: 2}` → `[undefined, 2]`);
 * - a keyword for a position already given positionally is a `TypeError` ("got multiple
 *   values for argument"), as in Python;
 * - other keywords go into one last argument, a prototype-free object, when `acceptsKwargs`;
 *   the list is first padded to `params.length` so it lands at a known position;
 * - otherwise they are a `TypeError` ("got an unexpected keyword argument").
 *
 * @param definition - the task (`name`, `params`, `acceptsKwargs`)
 * @param args - positional args from the message
 * @param kwargs - keyword args from the message
 * @returns the arguments after the context
 * @throws {@link TaskArgumentsError} (stored as Python's `TypeError`)
 */
export function bindArguments(
  definition: Pick<TaskDefinition, 'name' | 'params' | 'acceptsKwargs'>,
  args: readonly WireValue[],
  kwargs: Readonly<Record<string, WireValue>>,
): unknown[] {
  const params = definition.params ?? [];
  const out: unknown[] = [...args];
  const extra: Record<string, WireValue> = Object.create(null) as Record<string, WireValue>;
  for (const key of Object.keys(kwargs)) {
    const value = kwargs[key] as WireValue;
    const at = params.indexOf(key);
    if (at === -1) {
      if (definition.acceptsKwargs !== true) {
        throw new TaskArgumentsError(`${definition.name}() got an unexpected keyword argument '${key}'`);
      }
      // defineProperty: a "__proto__" key stays an own data key, never a prototype change.
      Object.defineProperty(extra, key, { value, enumerable: true, writable: true, configurable: true });
      continue;
    }
    if (at < args.length) {
      throw new TaskArgumentsError(`${definition.name}() got multiple values for argument '${key}'`);
    }
    while (out.length < at) out.push(undefined);
    out[at] = value;
  }
  if (definition.acceptsKwargs === true) {
    while (out.length < params.length) out.push(undefined);
    out.push(extra);
  }
  return out;
}

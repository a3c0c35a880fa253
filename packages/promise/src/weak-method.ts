import { WeakMethodError } from './weak-method-error.ts';

/**
 * A callback that holds its receiver weakly, like Python's `weakref.WeakMethod`: it keeps
 * a `WeakRef` to the receiver and the unbound method, and calls
 * `method.call(receiver, ...args)` while the receiver is alive.
 *
 * Called directly, it returns `undefined` once the receiver has been collected. Used as the
 * `fn` of a {@link VinePromise} (or as a `then` or barrier callback), a collected receiver
 * cancels that promise instead (see {@link weakMethod}).
 *
 * @typeParam TArgs - the arguments the method takes
 * @typeParam TResult - what the method returns
 */
export interface WeakMethod<TArgs extends unknown[] = unknown[], TResult = unknown> {
  /**
   * Calls the method on the receiver.
   *
   * @param args - passed to the method
   * @returns what the method returned, or `undefined` if the receiver has been collected
   */
  (...args: TArgs): TResult | undefined;
  /**
   * The receiver, or `undefined` once it has been garbage-collected.
   *
   * @returns the receiver while it is alive
   */
  deref(): object | undefined;
  /** The unbound method, called with the receiver as `this`. */
  readonly method: (...args: TArgs) => TResult;
}

// A private tag rather than a registry (a WeakSet) so that 100,000 weak methods cost
// nothing once collected: no side table that has to shrink again.
const weakMethodTag = Symbol('celeriac.weakMethod');

/**
 * Whether `value` was made by {@link weakMethod}.
 *
 * @param value - anything
 * @returns `true` for a weak method
 */
export function isWeakMethod(value: unknown): value is WeakMethod {
  return typeof value === 'function' && weakMethodTag in value;
}

/**
 * Whether `fn` is the result of `Function.prototype.bind`: its name starts with
 * `"bound "` and, unlike an ordinary function, it has no own `prototype`.
 *
 * @param fn - any function
 * @returns `true` for a bound function
 */
export function isBoundFunction(fn: (...args: never[]) => unknown): boolean {
  return fn.name.startsWith('bound ') && !Object.hasOwn(fn, 'prototype');
}

/**
 * Makes a callback that holds `receiver` weakly and calls `method` on it, so that a
 * long-lived promise (say, one registered with a result consumer) does not keep the
 * receiver alive. This is how a result handle registers "call me when ready" without
 * pinning itself in memory.
 *
 * Pass the receiver and the UNBOUND method (`Class.prototype.method`). A bound function
 * (`obj.method.bind(obj)`) is refused: held strongly it would keep its receiver alive
 * forever, and held weakly it would be collected at once (nothing else references the
 * bound function), which is the very bug Python's `WeakMethod` exists to avoid. An arrow
 * function that mentions `this` has the same problem and cannot be detected: do not pass one.
 *
 * When the receiver has been collected, calling the weak method directly returns
 * `undefined`; a promise whose `fn` is the weak method is **cancelled** instead of being
 * fulfilled (callbacks chained from it never run, awaiting it rejects with a
 * `PromiseCancelledError`), and nothing is thrown. (vine 5 fulfils such a promise with
 * its input arguments instead; that value would not match the promise's type here.)
 *
 * @param receiver - the object the method is called on; held only through a `WeakRef`
 * @param method - the unbound method, called with `this` = receiver
 * @returns a callable {@link WeakMethod}
 * @throws {@link WeakMethodError} when `method` is a bound function or not a function, or
 *   `receiver` is not an object or function
 *
 * @example
 * ```ts
 * class Handle {
 *   readonly onReady = createPromise(weakMethod(this, Handle.prototype.ready));
 *   ready(value: number): number {
 *     return value;
 *   }
 * }
 * ```
 */
export function weakMethod<TReceiver extends object, TArgs extends unknown[], TResult>(
  receiver: TReceiver,
  method: (this: TReceiver, ...args: TArgs) => TResult,
): WeakMethod<TArgs, TResult> {
  if ((typeof receiver !== 'object' || receiver === null) && typeof receiver !== 'function') {
    throw new WeakMethodError(
      `weakMethod() expected an object or function as the receiver, got ${describe(receiver)}: ` +
        'only objects can be held by a WeakRef.',
    );
  }
  if (typeof method !== 'function') {
    throw new WeakMethodError(
      `weakMethod() expected an unbound method as the second argument, got ${describe(method)}.`,
    );
  }
  if (isBoundFunction(method)) {
    throw new WeakMethodError(
      `weakMethod() was given a bound function (${JSON.stringify(method.name)}). A bound ` +
        'function holds its receiver strongly, and a weak reference to it would be collected ' +
        'at once because nothing else refers to it. Pass the receiver and the unbound method ' +
        'instead: weakMethod(obj, Class.prototype.method).',
    );
  }
  return makeWeakMethod(new WeakRef(receiver), method);
}

/**
 * Builds the callable in its own scope so that the closure can only capture the `WeakRef`
 * and the method, never the receiver itself.
 */
function makeWeakMethod<TArgs extends unknown[], TResult>(
  ref: WeakRef<object>,
  method: (...args: TArgs) => TResult,
): WeakMethod<TArgs, TResult> {
  const call = function weakCall(...args: TArgs): TResult | undefined {
    const receiver = ref.deref();
    return receiver === undefined ? undefined : method.apply(receiver, args);
  };
  Object.defineProperties(call, {
    name: { value: `weak ${method.name}` },
    deref: { value: () => ref.deref() },
    method: { value: method },
    [weakMethodTag]: { value: true },
  });
  return call as WeakMethod<TArgs, TResult>;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `function ${JSON.stringify(value.name)}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value;
}

/**
 * Whether `value` is a thenable: an object or function with a callable `then`, the same
 * test `await` and `Promise.resolve` use. Native promises, `VinePromise`s and barriers
 * all are.
 *
 * @param value - anything
 * @returns `true` when `value.then` is a function
 * @throws whatever a `then` getter throws
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    ((typeof value === 'object' && value !== null) || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

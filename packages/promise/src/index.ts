/**
 * `@celeriac/promise`: Celery's `vine` for TypeScript. Synchronous, cancellable promises
 * that can also be awaited, barriers, and weak callbacks that do not keep their receiver
 * alive. Celeriac's result handles are built on it.
 *
 * @packageDocumentation
 */
export {
  VinePromise,
  createPromise,
  type AnyVinePromise,
  type AwaitedValue,
  type ErrorHandler,
  type PromiseOptions,
  type PromiseState,
} from './vine-promise.ts';
export { Barrier, createBarrier, type BarrierCallback, type BarrierPart } from './barrier.ts';
export { weakMethod, isWeakMethod, isBoundFunction, type WeakMethod } from './weak-method.ts';
export { maybePromise, ensurePromise } from './funtools.ts';
export { isThenable } from './thenable.ts';
export { PromiseCancelledError } from './promise-cancelled-error.ts';
export { WeakMethodError } from './weak-method-error.ts';
export { BarrierFullError } from './barrier-full-error.ts';
export { PromiseErrorCode } from './error-codes.ts';

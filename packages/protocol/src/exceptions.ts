/**
 * Exceptions as Celery stores them in result metas (`exc_type`, `exc_message`,
 * `exc_module`), and the error a client gets back for them.
 *
 * Decoding never looks up a constructor or module by a name taken from the payload (the
 * lesson of CVE-2021-23727): every remote failure becomes a {@link RemoteTaskError} whose
 * `name` is the Python class name, kept as data.
 *
 * @see celery-wire.md §4.5
 * @module
 */
import { CeleriacError, ErrorCode } from './errors.ts';
import { pyRepr } from './py-repr.ts';
import type { WireValue } from './serializer.ts';
import { TaskState } from './task-state.ts';
import { describe, isPlainObject, isWireArray } from './util.ts';

/** An exception in a result meta, as Celery writes it for json and msgpack results. */
export interface ExceptionInfo {
  /** The class name (`__qualname__`), e.g. `ValueError` or `InteropError`. */
  exc_type: string;
  /** The exception's `args`. */
  exc_message: WireValue[];
  /** The class's module, e.g. `builtins` or `tasks`. */
  exc_module: string;
}

/** Python's builtin exception names: a JS error with one of these names maps to `builtins`. */
const PYTHON_BUILTINS = new Set([
  'ArithmeticError', 'AssertionError', 'AttributeError', 'BaseException', 'BufferError', 'ConnectionError',
  'EOFError', 'Exception', 'FileExistsError', 'FileNotFoundError', 'FloatingPointError', 'ImportError',
  'IndexError', 'KeyError', 'KeyboardInterrupt', 'LookupError', 'MemoryError', 'ModuleNotFoundError',
  'NameError', 'NotImplementedError', 'OSError', 'OverflowError', 'PermissionError', 'RecursionError',
  'ReferenceError', 'RuntimeError', 'StopIteration', 'SyntaxError', 'SystemError', 'TimeoutError',
  'TypeError', 'UnicodeDecodeError', 'UnicodeEncodeError', 'UnicodeError', 'ValueError', 'ZeroDivisionError',
]);

/** The module a JS-only error class is reported under; Python synthesizes the class there. */
export const CELERIAC_EXC_MODULE = 'celeriac';

const SAFE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const MAX_NAME_LENGTH = 200;

/** Options for {@link RemoteTaskError}. */
export interface RemoteTaskErrorOptions {
  excType: string;
  excModule: string | null;
  excMessage: readonly WireValue[];
  traceback?: string | null;
  taskId?: string | undefined;
  /** The stored state: FAILURE, RETRY or REVOKED. */
  state?: string;
}

/**
 * A task's failure as a client sees it. `name` is the Python exception's class name
 * (`exc_type`), so `err.name === 'ValueError'` works; `code` is `TASK_FAILED`, or
 * `TASK_REVOKED` / `NOT_REGISTERED` for those Celery exceptions.
 */
export class RemoteTaskError extends CeleriacError {
  /** The Python class name, as stored (already checked to be a dotted identifier). */
  readonly excType: string;
  /** The Python module, as stored, or null. Never imported. */
  readonly excModule: string | null;
  /** The exception's args. */
  readonly excMessage: readonly WireValue[];
  /** The remote traceback text, if stored. */
  readonly traceback: string | null;
  readonly taskId: string | undefined;
  /** The stored state (FAILURE, RETRY, REVOKED). */
  readonly state: string;

  constructor(options: RemoteTaskErrorOptions) {
    const code =
      options.state === TaskState.REVOKED || options.excType === 'TaskRevokedError'
        ? ErrorCode.TASK_REVOKED
        : options.excType === 'NotRegistered'
          ? ErrorCode.NOT_REGISTERED
          : ErrorCode.TASK_FAILED;
    const text = exceptionText(options.excMessage);
    const where = options.taskId === undefined ? '' : ` (task ${options.taskId})`;
    super(code, `${options.excType}: ${text}${where}`);
    this.name = options.excType;
    this.excType = options.excType;
    this.excModule = options.excModule;
    this.excMessage = options.excMessage;
    this.traceback = options.traceback ?? null;
    this.taskId = options.taskId;
    this.state = options.state ?? TaskState.FAILURE;
  }
}

/**
 * Encodes a thrown value as Celery does for non-pickle serializers.
 *
 * - a {@link RemoteTaskError} keeps its Python identity (re-raising a remote failure);
 * - an `Error` gives its `name` (a Python builtin name maps to `builtins`, others to
 *   {@link CELERIAC_EXC_MODULE}, or the error's own `excModule` string property) and `[message]`,
 *   or its own `args` array when it has one;
 * - anything else becomes `Exception` with its string form.
 *
 * @param error - what was thrown
 * @returns the exception info for a result meta
 */
export function encodeException(error: unknown): ExceptionInfo {
  if (error instanceof RemoteTaskError) {
    return { exc_type: error.excType, exc_message: [...error.excMessage], exc_module: error.excModule ?? 'builtins' };
  }
  if (error instanceof Error) {
    const name = safeName(error.name) ?? safeName(error.constructor.name) ?? 'Exception';
    const own = error as Error & { excModule?: unknown; args?: unknown };
    const args = Array.isArray(own.args) ? (own.args as WireValue[]) : [error.message];
    const module = typeof own.excModule === 'string' ? own.excModule : PYTHON_BUILTINS.has(name) ? 'builtins' : CELERIAC_EXC_MODULE;
    return { exc_type: name, exc_message: args, exc_module: module };
  }
  return { exc_type: 'Exception', exc_message: [typeof error === 'string' ? error : pyRepr(error)], exc_module: 'builtins' };
}

/**
 * Rebuilds a stored exception as a {@link RemoteTaskError}, by name only. A forged or
 * malformed meta (no `exc_type`, a name that is not an identifier, a non-list message)
 * still gives a plain `RemoteTaskError` (`excType` `Exception`), never a lookup.
 *
 * @param value - the `result` field of a FAILURE / RETRY / REVOKED meta
 * @param context - the traceback, task id and state from the same meta
 * @returns the error to throw or reject with
 */
export function decodeException(
  value: WireValue,
  context: { traceback?: string | null; taskId?: string; state?: string } = {},
): RemoteTaskError {
  if (!isPlainObject(value)) {
    return new RemoteTaskError({ ...context, excType: 'Exception', excModule: null, excMessage: [describe(value)] });
  }
  const rawType = value['exc_type'];
  const excType = typeof rawType === 'string' ? (safeName(rawType) ?? 'Exception') : 'Exception';
  const rawModule = value['exc_module'];
  const excModule = typeof rawModule === 'string' ? rawModule.slice(0, MAX_NAME_LENGTH) : null;
  const rawMessage = value['exc_message'];
  const excMessage =
    rawMessage === undefined || rawMessage === null ? [] : isWireArray(rawMessage) ? [...rawMessage] : [rawMessage];
  return new RemoteTaskError({ ...context, excType, excModule, excMessage });
}

function safeName(name: unknown): string | undefined {
  return typeof name === 'string' && name.length <= MAX_NAME_LENGTH && SAFE_NAME_RE.test(name) ? name : undefined;
}

/** `str(exc)` in Python: the single arg as text, or the repr of the args tuple. */
function exceptionText(args: readonly WireValue[]): string {
  if (args.length === 0) return '';
  if (args.length === 1) return typeof args[0] === 'string' ? args[0] : pyRepr(args[0]);
  return pyRepr(args, undefined, true);
}

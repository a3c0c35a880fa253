/**
 * Celery's result tuples (`AsyncResult.as_tuple()`, `GroupResult.as_tuple()`), the form a
 * saved group takes under `celery-taskset-meta-<gid>`:
 *
 * ```json
 * {"result": [["<gid>", null], [[["<id1>", null], null], [["<id2>", null], null]]]}
 * ```
 *
 * A member is `[[id, parent], null]` for a task, or `[[gid, parent], [members…]]` for a
 * nested group; `parent` is another result tuple or `null`.
 *
 * @see celery-wire.md §4.8; celery/result.py `result_from_tuple`
 * @module
 */
import { CeleriacError, ErrorCode, type WireValue } from '@celeriac/protocol';

/**
 * The document `GroupResult.save()` stores.
 *
 * @param groupId - the group id
 * @param taskIds - the member task ids, in order
 * @returns `{"result": [[gid, null], [[[id, null], null], …]]}`
 */
export function groupDocument(groupId: string, taskIds: readonly string[]): { result: WireValue } {
  return { result: [[groupId, null], taskIds.map((id) => [[id, null], null])] };
}

/**
 * Reads the member ids of a saved group document. A nested group member gives its own id.
 *
 * @param value - the decoded value of `celery-taskset-meta-<gid>`
 * @param groupId - the group id, for the error message
 * @returns the member ids, in order
 * @throws {@link CeleriacError} `INVALID_RESULT` when the document is not a saved group
 */
export function membersOfGroupDocument(value: WireValue, groupId: string): string[] {
  const fail = (what: string): never => {
    throw new CeleriacError(
      ErrorCode.INVALID_RESULT,
      `Expected a saved group {"result": [[gid, parent], [members]]} under celery-taskset-meta-${groupId}: ${what}`,
    );
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array || value instanceof Date) {
    return fail('not a map');
  }
  const tuple = (value as { readonly [key: string]: WireValue })['result'];
  if (!Array.isArray(tuple) || tuple.length !== 2) return fail('result is not a 2-element tuple');
  const nodes = (tuple as readonly WireValue[])[1];
  if (!Array.isArray(nodes)) return fail('the member list is not a list');
  return (nodes as readonly WireValue[]).map((node, i) => idOfResultTuple(node) ?? fail(`member ${i} is not a result tuple`));
}

/**
 * The id of a result tuple: `[[id, parent], nodes]` or the legacy `[id, nodes]`.
 *
 * @param node - a result tuple
 * @returns its id, or `undefined` when it is not one
 */
export function idOfResultTuple(node: WireValue): string | undefined {
  if (!Array.isArray(node) || node.length !== 2) return undefined;
  const head = (node as readonly WireValue[])[0];
  if (typeof head === 'string') return head;
  if (Array.isArray(head) && typeof head[0] === 'string') return head[0];
  return undefined;
}

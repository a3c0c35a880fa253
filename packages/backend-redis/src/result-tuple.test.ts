import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { GROUP_KEY_PREFIX, groupKey, TASK_KEY_PREFIX, taskIdOfChannel, taskKey } from './result-keys.ts';
import { groupDocument, idOfResultTuple, membersOfGroupDocument } from './result-tuple.ts';

describe('result keys', () => {
  it("uses Celery's fixed names", () => {
    expect(taskKey('abc')).toBe('celery-task-meta-abc');
    expect(groupKey('g')).toBe('celery-taskset-meta-g');
    expect(groupKey('g', '.j')).toBe('celery-taskset-meta-g.j');
    expect(TASK_KEY_PREFIX).toBe('celery-task-meta-');
    expect(GROUP_KEY_PREFIX).toBe('celery-taskset-meta-');
    expect(taskIdOfChannel('celery-task-meta-x-1')).toBe('x-1');
    expect(taskIdOfChannel('other')).toBeUndefined();
  });
});

describe('group documents', () => {
  it("writes GroupResult.as_tuple() and reads the member ids back", () => {
    const doc = groupDocument('g', ['a', 'b']);
    expect(doc).toEqual({ result: [['g', null], [[['a', null], null], [['b', null], null]]] });
    expect(membersOfGroupDocument(doc, 'g')).toEqual(['a', 'b']);
  });

  it('reads nested groups and the legacy [id, nodes] form by their ids', () => {
    expect(idOfResultTuple([['g2', null], [[['x', null], null]]])).toBe('g2');
    expect(idOfResultTuple(['legacy', null])).toBe('legacy');
    expect(idOfResultTuple('nope')).toBeUndefined();
    expect(membersOfGroupDocument({ result: [['g', null], [[['g2', null], [[['x', null], null]]], ['y', null]]] }, 'g')).toEqual(['g2', 'y']);
  });

  it('refuses documents that are not saved groups with INVALID_RESULT', () => {
    for (const bad of [null, [], { result: 'x' }, { result: [['g', null], 'x'] }, { result: [['g', null], [42]] }]) {
      expect(() => membersOfGroupDocument(bad, 'g')).toThrow(CeleriacError);
      try {
        membersOfGroupDocument(bad, 'g');
      } catch (err) {
        expect((err as CeleriacError).code).toBe(ErrorCode.INVALID_RESULT);
        expect((err as Error).message).toContain('celery-taskset-meta-g');
      }
    }
  });
});

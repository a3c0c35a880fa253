import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SignatureDict, WireObject } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { chain, chord, chordSizeOf, freezeSignature, group, leafIds, planSignature, resultTupleOf } from './canvas.ts';
import { createSignature } from './signature.ts';

/** Celery 5.2's own serialization of the same canvases (fixtures/canvas-dicts.py). */
const celery = JSON.parse(readFileSync(join(import.meta.dirname, '../test/fixtures/canvas-dicts.json'), 'utf8')) as Record<string, unknown>;

const add = (...args: unknown[]): SignatureDict => createSignature('tasks.add', args);
const tsum = (): SignatureDict => createSignature('tasks.tsum');

function opts(sig: SignatureDict | undefined): WireObject {
  return (sig?.options ?? {});
}

describe('canvas builders serialize as Celery 5.2 does', () => {
  it('chain, group, chord (also with a chain in the header), immutable signature: byte-equal JSON', () => {
    expect(JSON.stringify(chain(add(1, 1), add(2), add(3)))).toBe(JSON.stringify(celery['chain']));
    expect(JSON.stringify(group(add(1, 1), add(2, 2)))).toBe(JSON.stringify(celery['group']));
    expect(JSON.stringify(chord([add(1, 1), add(2, 2)], tsum()))).toBe(JSON.stringify(celery['chord']));
    expect(JSON.stringify(chord([add(1, 1), chain(add(2, 2), add(3))], tsum()))).toBe(JSON.stringify(celery['chord_with_chain']));
    expect(JSON.stringify(createSignature('tasks.add', [5, 6], {}, { immutable: true }))).toBe(JSON.stringify(celery['immutable']));
  });

  it('takes one array as well as rest arguments, and refuses a member that is not a signature', () => {
    expect(chain([add(1), add(2)])).toEqual(chain(add(1), add(2)));
    expect(group([add(1), add(2)])).toEqual(group(add(1), add(2)));
    expect(() => group({ nope: 1 } as never)).toThrow(/Expected a signature dict/);
  });
});

describe('planSignature', () => {
  it('a task: partial args first, immutable keeps its own; a fixed id is kept', () => {
    const plan = planSignature(createSignature('tasks.add', [2], {}, { options: { taskId: 'fixed', queue: 'q' } }), [40]);
    expect(plan.messages).toHaveLength(1);
    expect(plan.messages[0]).toMatchObject({ task: 'tasks.add', args: [40, 2], options: { task_id: 'fixed', queue: 'q' } });
    expect(plan.result).toEqual({ kind: 'task', id: 'fixed' });
    expect(planSignature(createSignature('tasks.add', [5, 6], {}, { immutable: true }), [1]).messages[0]?.args).toEqual([5, 6]);
  });

  it('a chain: the first step carries the rest, last step first, each with its id; the result is the last step', () => {
    const plan = planSignature(chain(add(1, 1), add(2), add(3)), [], { priority: 5 });
    expect(plan.chordSizes).toEqual([]);
    expect(plan.messages).toHaveLength(1);
    const [first] = plan.messages;
    expect(first?.args).toEqual([1, 1]);
    expect(opts(first)['priority']).toBe(5);
    const carried = opts(first)['chain'] as unknown as SignatureDict[];
    expect(carried.map((s) => s.args)).toEqual([[3], [2]]);
    expect(plan.result).toEqual({ kind: 'task', id: opts(carried[0])['task_id'] });
    expect(new Set([opts(first)['task_id'], ...carried.map((s) => opts(s)['task_id'])]).size).toBe(3);
  });

  it('a chain: link goes to the last step, link_error to every step; partial args to the first step', () => {
    const plan = planSignature(chain(add(1), add(2)), [10], { link: [createSignature('tasks.cb')] as never, link_error: [createSignature('tasks.eb')] as never });
    const [first] = plan.messages;
    expect(first?.args).toEqual([10, 1]);
    expect((opts(first)['link_error'] as unknown as SignatureDict[]).map((s) => s.task)).toEqual(['tasks.eb']);
    expect(opts(first)['link']).toBeUndefined();
    const [last] = opts(first)['chain'] as unknown as SignatureDict[];
    expect((opts(last)['link'] as unknown as SignatureDict[]).map((s) => s.task)).toEqual(['tasks.cb']);
    expect((opts(last)['link_error'] as unknown as SignatureDict[]).map((s) => s.task)).toEqual(['tasks.eb']);
  });

  it('an enclosing chain is kept after a chain\'s own rest (the worker pops from the end)', () => {
    const outer = [createSignature('tasks.outer')] as unknown as WireObject[keyof WireObject];
    const plan = planSignature(chain(add(1), add(2)), [], { chain: outer });
    const carried = opts(plan.messages[0])['chain'] as unknown as SignatureDict[];
    expect(carried.map((s) => s.task)).toEqual(['tasks.outer', 'tasks.add']);
  });

  it('a group: every member with the group id, no group_index, no chord size; nested groups unrolled', () => {
    const plan = planSignature(group(add(1), group(add(2), add(3))), [7]);
    expect(plan.chordSizes).toEqual([]);
    expect(plan.messages.map((m) => m.args)).toEqual([[7, 1], [7, 2], [7, 3]]);
    const gid = plan.result.id;
    expect(plan.messages.map((m) => opts(m)['group_id'])).toEqual([gid, gid, gid]);
    expect(plan.messages.map((m) => opts(m)['group_index'])).toEqual([undefined, undefined, undefined]);
    expect(plan.result.kind).toBe('group');
    expect(leafIds(plan.result)).toEqual(plan.messages.map((m) => opts(m)['task_id']));
    expect(resultTupleOf(plan.result)).toEqual([[gid, null], plan.messages.map((m) => [[opts(m)['task_id'], null], null])]);
  });

  it('a group refuses a link (Celery: use a chord)', () => {
    expect(() => planSignature(group(add(1)), [], { link: [createSignature('tasks.cb')] as never })).toThrow(/use a chord/);
  });

  it('a chord: size first, then each header member with group_id, group_index and the frozen body; the result is the body', () => {
    const plan = planSignature(chord([add(1, 1), chain(add(2, 2), add(3)), group(add(4), add(5))], tsum()));
    const bodyId = plan.result.id;
    expect(plan.result.kind).toBe('task');
    // _descend: task 1, chain 1 (its last step), group 2 (unrolled into the header).
    expect(plan.chordSizes).toEqual([{ groupId: expect.any(String), size: 4 }]);
    const gid = plan.chordSizes[0]?.groupId;
    expect(plan.messages.map((m) => m.args)).toEqual([[1, 1], [2, 2], [4], [5]]);
    const [a, b, c, d] = plan.messages;
    for (const [m, index] of [[a, 0], [c, 2], [d, 3]] as const) {
      expect(opts(m)).toMatchObject({ group_id: gid, group_index: index });
      expect((opts(m)['chord'] as unknown as SignatureDict).options['task_id']).toBe(bodyId);
    }
    // The chain's first step is not a header part; its last step is, and carries the chord.
    expect(opts(b)['group_id']).toBeUndefined();
    expect(opts(b)['chord']).toBeUndefined();
    const [lastOfChain] = opts(b)['chain'] as unknown as SignatureDict[];
    expect(opts(lastOfChain)).toMatchObject({ group_id: gid, group_index: 1 });
    expect((opts(lastOfChain)['chord'] as unknown as SignatureDict).options['task_id']).toBe(bodyId);
  });

  it('chordSizeOf follows Celery\'s _descend', () => {
    expect(chordSizeOf(add(1))).toBe(1);
    expect(chordSizeOf(group(add(1), group(add(2), add(3))))).toBe(3);
    expect(chordSizeOf(chain(add(1), group(add(2), add(3))))).toBe(2);
    expect(chordSizeOf(chord([add(1), add(2)], chain(add(3), add(4))))).toBe(1);
  });

  it('a group followed by a step in a chain becomes a chord whose body is that step', () => {
    const plan = planSignature(chain(add(1, 1), group(add(10), add(20)), tsum(), add(100)));
    const [first] = plan.messages;
    const carried = opts(first)['chain'] as unknown as SignatureDict[];
    expect(carried.map((s) => s.subtask_type ?? s.task)).toEqual(['tasks.add', 'chord']);
    const frozenChord = carried[1] as SignatureDict;
    const body = frozenChord.kwargs['body'] as unknown as SignatureDict;
    expect(body.task).toBe('tasks.tsum');
    // The header members are frozen without a group id (Celery applies them under a fresh one).
    const header = frozenChord.kwargs['header'] as unknown as SignatureDict;
    const members = header.kwargs['tasks'] as unknown as SignatureDict[];
    expect(members.map((m) => opts(m)['group_id'])).toEqual([undefined, undefined]);
    expect(members.map((m) => opts(m)['group_index'])).toEqual([0, 1]);
    expect(plan.result).toEqual({ kind: 'task', id: opts(carried[0])['task_id'] });

    // Applying that frozen chord (as the worker does with [retval] and the rest of the chain):
    const next = planSignature(frozenChord, [2], { chain: [carried[0]] as never });
    expect(next.messages.map((m) => m.args)).toEqual([[2, 10], [2, 20]]);
    expect(next.chordSizes).toEqual([{ groupId: opts(header)['task_id'], size: 2 }]);
    expect(next.result.id).toBe(body.options['task_id']);
    const sentBody = opts(next.messages[0])['chord'] as unknown as SignatureDict;
    expect((sentBody.options['chain'] as unknown as SignatureDict[]).map((s) => s.options['task_id'])).toEqual([plan.result.id]);
  });

  it('an empty chord header sends the body at once with []', () => {
    const plan = planSignature(chord([], tsum()));
    expect(plan.chordSizes).toEqual([]);
    expect(plan.messages).toHaveLength(1);
    expect(plan.messages[0]).toMatchObject({ task: 'tasks.tsum', args: [[]] });
  });

  it('reads a chord whose header is a bare list or a group dict, and refuses unknown canvas types', () => {
    const viaGroup = planSignature({ ...chord([add(1)], tsum()), kwargs: { kwargs: {}, header: group(add(1)) as never, body: tsum() as never } });
    expect(viaGroup.chordSizes[0]?.size).toBe(1);
    expect(() => planSignature({ task: 'celery.chunks', args: [], kwargs: {}, options: {}, subtask_type: 'chunks', immutable: false })).toThrow(
      /Celeriac applies tasks, chains, groups and chords/,
    );
    expect(() => planSignature(chain())).toThrow(/empty chain/);
  });
});

describe('freezeSignature', () => {
  it('fixes every id once: freezing a frozen canvas keeps them', () => {
    const once = freezeSignature(chain(add(1), chord([add(2), add(3)], tsum())));
    const twice = freezeSignature(once.signature);
    expect(twice.result).toEqual(once.result);
    expect(JSON.stringify(twice.signature)).toBe(JSON.stringify(once.signature));
    const fresh = freezeSignature(chain(add(1), chord([add(2), add(3)], tsum())));
    expect(fresh.result.id).not.toBe(once.result.id);
  });
});

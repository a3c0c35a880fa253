import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { createRouter, globToRegExp, toRoute } from './routes.ts';

describe('createRouter', () => {
  it('no routes answer nothing', () => {
    expect(createRouter(null)('tasks.add', [], {}, {})).toBeUndefined();
  });

  it('maps exact names first, then globs in order (Celery MapRoute)', () => {
    const route = createRouter({
      'tasks.*': { queue: 'glob', priority: 3 },
      'tasks.add': 'exact',
      'reports.[ab]*': { routing_key: 'reports' },
    });
    expect(route('tasks.add', [], {}, {})).toEqual({ queue: 'exact' });
    expect(route('tasks.mul', [], {}, {})).toEqual({ queue: 'glob', priority: 3 });
    expect(route('reports.annual', [], {}, {})).toEqual({ queue: 'reports' });
    expect(route('reports.zzz', [], {}, {})).toBeUndefined();
    expect(route('other.add', [], {}, {})).toBeUndefined();
  });

  it('a list is tried in order: functions, maps, [pattern, route] pairs with RegExps', () => {
    const seen: unknown[] = [];
    const route = createRouter([
      (name: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>, options: Readonly<Record<string, unknown>>) => {
        seen.push([name, args, kwargs, options]);
        return name === 'tasks.fn' ? 'from-fn' : undefined;
      },
      [[/^tasks\.re/, { queue: 'from-regexp' }]],
      { 'tasks.*': 'from-map' },
    ]);
    expect(route('tasks.fn', [1], { k: 2 }, { countdown: 1 })).toEqual({ queue: 'from-fn' });
    expect(seen[0]).toEqual(['tasks.fn', [1], { k: 2 }, { countdown: 1 }]);
    expect(route('tasks.regexp', [], {}, {})).toEqual({ queue: 'from-regexp' });
    expect(route('tasks.x', [], {}, {})).toEqual({ queue: 'from-map' });
  });

  it('checks static routes up front and function answers when they come', () => {
    expect(() => createRouter({ 'tasks.add': { queue: 'q', colour: 'red' } })).toThrow(/unknown route key "colour"/);
    expect(() => createRouter(42)).toThrow(CeleriacError);
    const bad = createRouter(() => ({ priority: 'high' }) as never);
    try {
      bad('tasks.add', [], {}, {});
      expect.unreachable();
    } catch (error) {
      expect((error as CeleriacError).code).toBe(ErrorCode.INVALID_CONFIG);
      expect((error as Error).message).toContain('the route task_routes returned for tasks.add.priority');
    }
  });
});

describe('globToRegExp (fnmatch)', () => {
  it('translates *, ?, [seq], [!seq] and quotes the rest', () => {
    expect(globToRegExp('tasks.*').test('tasks.add')).toBe(true);
    expect(globToRegExp('tasks.*').test('tasksXadd')).toBe(false);
    expect(globToRegExp('t?.x').test('ta.x')).toBe(true);
    expect(globToRegExp('[!a]*').test('b1')).toBe(true);
    expect(globToRegExp('[!a]*').test('a1')).toBe(false);
    expect(globToRegExp('a[').test('a[')).toBe(true);
  });
});

describe('toRoute', () => {
  it('takes a queue name or a route object', () => {
    expect(toRoute('q', 'here')).toEqual({ queue: 'q' });
    expect(toRoute({ queue: 'q', routing_key: 'r', priority: 0, serializer: 'msgpack' }, 'here')).toEqual({ queue: 'q', priority: 0, serializer: 'msgpack' });
    expect(() => toRoute('', 'here')).toThrow(/empty string/);
    expect(() => toRoute({ exchange: 'topic-x' }, 'here')).toThrow(/needs a queue or routing_key/);
  });
});

import type { AsyncResult } from '@celeriac/backend-redis';
import { type CeleriacError, ErrorCode, type SignatureDict } from '@celeriac/protocol';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { MemoryBroker } from '../test/memory-broker.ts';
import { createApp } from './app.ts';
import type { SentResult } from './sent-result.ts';
import type { Task } from './task.ts';

function testApp() {
  const broker = new MemoryBroker();
  return { app: createApp({}, { broker, env: {} }), broker };
}

describe('typing', () => {
  it('delay and applyAsync are checked against the parameters after the context', () => {
    const { app } = testApp();
    const add = app.task('tasks.add', (_ctx, x: number, y: number) => x + y);
    const greet = app.task('tasks.greet', async (_ctx, name: string, punctuation: string = '!') => Promise.resolve(`hi ${name}${punctuation}`));

    expectTypeOf(add).toEqualTypeOf<Task<[x: number, y: number], number>>();
    expectTypeOf(add.delay(1, 2)).toEqualTypeOf<SentResult<number>>();
    expectTypeOf(add.delay(1, 2)).toExtend<AsyncResult<number>>();
    // A parameter with a default needs its annotation (else TypeScript infers unknown for it).
    expectTypeOf(greet).toEqualTypeOf<Task<[name: string, punctuation?: string], string>>();
    expectTypeOf(greet.delay('ann')).toEqualTypeOf<SentResult<string>>();
    expectTypeOf(greet.delay('ann', '?')).toExtend<PromiseLike<string>>();
    expectTypeOf(add.applyAsync([1, 2], {}, { countdown: 1 })).toEqualTypeOf<SentResult<number>>();
    // With keyword arguments, positional ones may be left out.
    expectTypeOf(add.applyAsync([1], { y: 2 })).toEqualTypeOf<SentResult<number>>();

    // @ts-expect-error a string is not a number
    add.delay('x');
    // @ts-expect-error too few arguments
    add.delay(1);
    // @ts-expect-error too many arguments
    add.delay(1, 2, 3);
    // @ts-expect-error args must match without kwargs
    add.applyAsync(['1', 2]);
    // @ts-expect-error unknown send option (also refused at run time)
    expect(() => add.applyAsync([1, 2], {}, { countDown: 1 })).toThrow("Unknown send option 'countDown' (task tasks.add); did you mean 'countdown'?");
    expect(app.tasks.names()).toEqual(['tasks.add', 'tasks.greet']);
  });

  it('taskRef types a task that lives in Python; sendTask is untyped', () => {
    const { app } = testApp();
    const remoteAdd = app.taskRef<[x: number, y: number], number>('tasks.add');
    expectTypeOf(remoteAdd.delay(2, 3)).toEqualTypeOf<SentResult<number>>();
    // @ts-expect-error wrong type
    remoteAdd.delay(2, '3');
    expectTypeOf(app.sendTask('tasks.add', [2, 3])).toEqualTypeOf<SentResult<unknown>>();
    expectTypeOf(app.sendTask<number>('tasks.add', [2, 3])).toEqualTypeOf<SentResult<number>>();
    expect(app.tasks.has('tasks.add')).toBe(false);
  });

  it('signatures take a tail of the arguments (s), all of them (si)', () => {
    const { app } = testApp();
    const add = app.task('tasks.add', (_ctx, x: number, y: number) => x + y);
    expectTypeOf(add.s(10)).toEqualTypeOf<SignatureDict>();
    add.s();
    add.s(1, 2);
    // @ts-expect-error a string is no tail of [number, number]
    add.s('10');
    // @ts-expect-error si needs every argument
    add.si(1);
    expect(add.si(1, 2).immutable).toBe(true);
  });
});

describe('signatures', () => {
  it('are plain Celery signature dicts, in Celery key order', () => {
    const { app } = testApp();
    const echo = app.task('tasks.echo', (_ctx, ...args: unknown[]) => args);
    expect(Object.keys(echo.s('cb'))).toEqual(['task', 'args', 'kwargs', 'options', 'subtask_type', 'immutable']);
    expect(echo.s('cb')).toEqual({ task: 'tasks.echo', args: ['cb'], kwargs: {}, options: {}, subtask_type: null, immutable: false });
    expect(echo.si('eb')).toEqual({ task: 'tasks.echo', args: ['eb'], kwargs: {}, options: {}, subtask_type: null, immutable: true });
    const eta = new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678));
    expect(
      echo.signature(['x'], { k: 1 }, { taskId: 'cb-1', queue: 'q', countdown: 5, eta, ignoreResult: true, link: echo.s('next'), retryPolicy: { maxRetries: 1 } }),
    ).toEqual({
      task: 'tasks.echo',
      args: ['x'],
      kwargs: { k: 1 },
      options: {
        task_id: 'cb-1',
        queue: 'q',
        countdown: 5,
        eta: '2030-01-02T03:04:05.678000+00:00',
        ignore_result: true,
        link: [{ task: 'tasks.echo', args: ['next'], kwargs: {}, options: {}, subtask_type: null, immutable: false }],
        retry_policy: { max_retries: 1 },
      },
      subtask_type: null,
      immutable: false,
    });
    expect(app.signature('tasks.other', [1], {}, { immutable: true })).toMatchObject({ task: 'tasks.other', immutable: true });
    expect(String(echo)).toBe('<@task: tasks.echo>');
  });
});

describe('registry', () => {
  it('holds definitions with params and options; names are unique', () => {
    const { app } = testApp();
    const sleep = app.task(
      'tasks.sleep',
      { params: ['seconds', 'value'], acceptsKwargs: false, queue: 'slow', timeLimit: 10 },
      (_ctx, seconds: number, value?: string) => value ?? seconds,
    );
    const definition = app.tasks.get('tasks.sleep');
    expect(definition).toBe(sleep.definition);
    expect(definition).toMatchObject({ name: 'tasks.sleep', params: ['seconds', 'value'], acceptsKwargs: false, options: { queue: 'slow', timeLimit: 10 } });
    expect(typeof definition?.run).toBe('function');
    expect(Object.isFrozen(definition)).toBe(true);
    expect(() => app.task('tasks.sleep', () => 1)).toThrow(/already registered/);
    const registered = app.register({ name: 'tasks.byname', options: {} });
    expect(registered.definition.run).toBeUndefined();
    expect(app.tasks.has('tasks.byname')).toBe(true);
  });

  it('refuses bad task options with INVALID_CONFIG', () => {
    const { app } = testApp();
    const cases: [string, () => unknown, RegExp][] = [
      ['unknown option', () => app.task('t1', { queu: 'x' } as never, () => 1), /unknown task option 'queu'; did you mean 'queue'\?/],
      ['serializer', () => app.task('t2', { serializer: 'pickle' }, () => 1), /serializer "pickle" is not registered/],
      ['priority', () => app.taskRef('t3', { priority: 256 }), /priority must be an integer 0..255/],
      ['time limit', () => app.taskRef('t4', { timeLimit: -1 }), /timeLimit must be a number of seconds >= 0/],
      ['name', () => app.taskRef(''), /non-empty string/],
    ];
    for (const [, run, message] of cases) {
      expect(run).toThrow(message);
      try {
        run();
      } catch (error) {
        expect((error as CeleriacError).code).toBe(ErrorCode.INVALID_CONFIG);
      }
    }
  });
});

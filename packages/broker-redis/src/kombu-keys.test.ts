import { CeleriacError, ErrorCode } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { KombuKeys } from './kombu-keys.ts';

describe('KombuKeys', () => {
  const keys = new KombuKeys({}, 1);

  it('buckets priorities as kombu (clamped to 0..9, the largest step not above)', () => {
    const cases: [number, number][] = [
      [0, 0], [1, 0], [2, 0], [3, 3], [5, 3], [6, 6], [8, 6], [9, 9], [10, 9], [255, 9], [-3, 0], [Number.NaN, 0], [4.9, 3],
    ];
    for (const [priority, bucket] of cases) expect([priority, keys.bucket(priority)]).toEqual([priority, bucket]);
    // kombu's steps[bisect(steps, p) - 1]: with no step <= p, the last one.
    expect(new KombuKeys({ priority_steps: [2, 5] }, 0).bucket(1)).toBe(5);
  });

  it('names the keys as kombu does, global_keyprefix included', () => {
    const prefixed = new KombuKeys({ global_keyprefix: 'app:' }, 4);
    expect(keys.queueKeys('celery')).toEqual(['celery', 'celery\x06\x163', 'celery\x06\x166', 'celery\x06\x169']);
    expect(prefixed.queueKey('celery', 6)).toBe('app:celery\x06\x166');
    expect(prefixed.bindingKey('celery')).toBe('app:_kombu.binding.celery');
    expect(prefixed.bindingMember('celery')).toBe('celery\x06\x16\x06\x16celery');
    expect([prefixed.unacked, prefixed.unackedIndex, prefixed.unackedMutex]).toEqual([
      'app:unacked',
      'app:unacked_index',
      'app:unacked_mutex',
    ]);
    // Celeriac's own records of malformed elements, where kombu's restore cannot lose them.
    expect([prefixed.invalidUnacked, prefixed.invalidUnackedIndex]).toEqual([
      'app:celeriac.unacked.invalid',
      'app:celeriac.unacked.invalid_index',
    ]);
    expect(prefixed.fanoutChannel('celeryev', 'worker.heartbeat')).toBe('app:/4.celeryev/worker.heartbeat');
    expect(prefixed.fanoutPattern('celeryev', 'worker.#')).toBe('app:/4.celeryev/worker.*');
    expect(prefixed.fanoutPattern('celery.pidbox', '')).toBe('app:/4.celery.pidbox');
    expect(prefixed.parseFanoutChannel('app:/4.celeryev/task.multi')).toEqual({ exchange: 'celeryev', routingKey: 'task.multi' });
    expect(prefixed.parseFanoutChannel('/4.celeryev')).toBeUndefined();
    expect(keys.parseBinding('celery\x06\x16\x06\x16celery')).toEqual({ routingKey: 'celery', pattern: '', queue: 'celery' });
  });

  it('orders fetch keys for each priority step, for each queue', () => {
    expect(keys.fetchKeys(['qb', 'qa'])).toEqual({
      keys: ['qb', 'qa', 'qb\x06\x163', 'qa\x06\x163', 'qb\x06\x166', 'qa\x06\x166', 'qb\x06\x169', 'qa\x06\x169'],
      queues: ['qb', 'qa', 'qb', 'qa', 'qb', 'qa', 'qb', 'qa'],
    });
  });

  it('refuses options that cannot work and accepts kombu options it ignores', () => {
    expect(() => new KombuKeys({ priority_steps: [0, 6, 3] }, 0)).toThrow(/ascending/);
    expect(() => new KombuKeys({ visibility_timeout: 0 }, 0)).toThrow(/positive/);
    expect(() => new KombuKeys({ sep: '' }, 0)).toThrow(/sep/);
    expect(() => new KombuKeys({ bogus: 1 } as never, 0)).toThrow(/unknown option "bogus"/);
    expect(new KombuKeys({ fanout_prefix: true, max_connections: 10 } as never, 0).visibilityTimeout).toBe(3600);
  });

  it('refuses non-default values of kombu options it does not implement, and accepts their defaults', () => {
    const refused: [string, unknown][] = [
      ['fanout_prefix', false],
      ['fanout_prefix', '/custom.'],
      ['fanout_patterns', false],
      ['queue_order_strategy', 'priority'],
      ['queue_order_strategy', 'sorted'],
      ['queue_order_strategy', 'shuffle'],
    ];
    for (const [name, value] of refused) {
      let caught: unknown;
      try {
        new KombuKeys({ [name]: value }, 0);
      } catch (error) {
        caught = error;
      }
      expect(caught, `${name}: ${JSON.stringify(value)}`).toBeInstanceOf(CeleriacError);
      expect((caught as CeleriacError).code).toBe(ErrorCode.INVALID_CONFIG);
      expect((caught as Error).message).toContain(name);
      expect((caught as Error).message).toMatch(/not supported/);
    }
    const defaults = { fanout_prefix: true, fanout_patterns: true, queue_order_strategy: 'round_robin' };
    expect(new KombuKeys(defaults as never, 0).fanoutPattern('celeryev', 'worker.#')).toBe('/0.celeryev/worker.*');
  });
});

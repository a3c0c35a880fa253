/**
 * Celery's task routing (`task_routes`): maps of task names or glob patterns to routes,
 * router functions, or a list of those tried in order; the first that answers wins.
 *
 * @see celery/app/routes.py (`MapRoute`, `Router`, `prepare`)
 * @module
 */
import { CeleriacError, ErrorCode } from '@celeriac/protocol';

/**
 * Where a task goes: Celery's route dict, with Celery's (snake_case) keys. On Redis the queue
 * is the list the message is pushed to; `exchange`, `exchange_type` and `delivery_mode` are
 * accepted and have no effect there (messages go through the default exchange, as Celery's do).
 */
export interface TaskRoute {
  /** The queue. */
  readonly queue?: string;
  /** The routing key: on the default exchange, the queue (used when `queue` is not given). */
  readonly routing_key?: string;
  /** The priority, 0..255, when the call and the task set none. */
  readonly priority?: number;
  /** The serializer, when the call and the task set none (for tasks sent by name). */
  readonly serializer?: string;
  readonly exchange?: string;
  readonly exchange_type?: string;
  readonly delivery_mode?: number | string;
}

/** What a router answers: a route, a queue name, or nothing (the next router is asked). */
export type RouteAnswer = TaskRoute | string | null | undefined;

/**
 * A router function (Celery's `route_for_task(name, args, kwargs, options, task=None)`).
 *
 * @param name - the task name
 * @param args - the positional arguments
 * @param kwargs - the keyword arguments
 * @param options - the call's send options
 */
export type TaskRouter = (
  name: string,
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
  options: Readonly<Record<string, unknown>>,
) => RouteAnswer;

/**
 * Task names or glob patterns (any name with `*`, matched as Python's `fnmatch`: `*`, `?`,
 * `[seq]`) to routes or queue names. Exact names win over patterns; patterns are tried in
 * insertion order.
 */
export type TaskRouteMap = Readonly<Record<string, TaskRoute | string>>;

/** Pattern–route pairs (Celery's list of tuples); a `RegExp` is matched from the start of the name, as `re.match`. */
export type TaskRoutePairs = readonly (readonly [string | RegExp, TaskRoute | string])[];

/** One router of `task_routes`. */
export type TaskRouterEntry = TaskRouteMap | TaskRoutePairs | TaskRouter;

/** `task_routes`: one router, or a list tried in order. */
export type TaskRoutes = TaskRouteMap | TaskRouter | readonly TaskRouterEntry[];

/** A route as the producer uses it. */
export interface ResolvedRoute {
  readonly queue?: string;
  readonly priority?: number;
  readonly serializer?: string;
}

/** Looks up the route of one call; `undefined` when no router answered. */
export type Router = (
  name: string,
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
  options: Readonly<Record<string, unknown>>,
) => ResolvedRoute | undefined;

const ROUTE_KEYS = new Set(['queue', 'routing_key', 'priority', 'serializer', 'exchange', 'exchange_type', 'delivery_mode']);

function invalid(message: string): CeleriacError {
  return new CeleriacError(ErrorCode.INVALID_CONFIG, message);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  return typeof value === 'object' ? 'an object' : typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? `${typeof value} ${value.toString()}` : typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Checks one route and turns it into the producer's shape.
 *
 * @param value - a route dict or a queue name
 * @param where - where it was found, for the error
 * @returns the route
 * @throws {@link CeleriacError} `INVALID_CONFIG` for anything else
 */
export function toRoute(value: unknown, where: string): ResolvedRoute {
  if (typeof value === 'string') {
    if (value === '') throw invalid(`${where}: expected a queue name or a route object, got an empty string`);
    return { queue: value };
  }
  if (!isPlainObject(value)) throw invalid(`${where}: expected a queue name or a route object ({ queue }), got ${describe(value)}`);
  for (const key of Object.keys(value)) {
    if (!ROUTE_KEYS.has(key)) {
      throw invalid(`${where}: unknown route key ${JSON.stringify(key)} (expected one of: ${[...ROUTE_KEYS].join(', ')})`);
    }
  }
  const { queue, routing_key: routingKey, priority, serializer, exchange } = value;
  for (const [key, v] of Object.entries({ queue, routing_key: routingKey, serializer, exchange })) {
    if (v !== undefined && v !== null && typeof v !== 'string') throw invalid(`${where}.${key}: expected a string, got ${describe(v)}`);
  }
  if (priority !== undefined && priority !== null && (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 255)) {
    throw invalid(`${where}.priority: expected an integer 0..255, got ${describe(priority)}`);
  }
  if (typeof exchange === 'string' && exchange !== '') {
    // Celery publishes to a direct exchange named after the queue, which on Redis lands in
    // the queue's list anyway; a route naming another exchange needs bindings we do not read.
    if (typeof queue !== 'string' && typeof routingKey !== 'string') {
      throw invalid(`${where}: a route with exchange ${JSON.stringify(exchange)} needs a queue or routing_key on Redis`);
    }
  }
  const target = (typeof queue === 'string' && queue !== '' ? queue : undefined) ??
    (typeof routingKey === 'string' && routingKey !== '' ? routingKey : undefined);
  return {
    ...(target === undefined ? {} : { queue: target }),
    ...(typeof priority === 'number' ? { priority } : {}),
    ...(typeof serializer === 'string' ? { serializer } : {}),
  };
}

/**
 * Python's `fnmatch.translate`: `*` any run, `?` one character, `[seq]` / `[!seq]` a set,
 * everything else literal; the whole name must match.
 *
 * @param pattern - the glob
 * @returns the anchored regular expression
 */
export function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) {
        out += '\\[';
      } else {
        let set = pattern.slice(i + 1, j).replace(/\\/g, '\\\\');
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        else if (set.startsWith('^')) set = `\\${set}`;
        out += `[${set}]`;
        i = j;
      }
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${out})$`, 's');
}

type Matcher = (name: string) => ResolvedRoute | undefined;

function mapRouter(entries: Iterable<readonly [string | RegExp, unknown]>, where: string): Matcher {
  const exact = new Map<string, ResolvedRoute>();
  const patterns: [RegExp, ResolvedRoute][] = [];
  for (const [key, value] of entries) {
    const route = toRoute(value, `${where}[${typeof key === 'string' ? JSON.stringify(key) : String(key)}]`);
    if (key instanceof RegExp) patterns.push([new RegExp(key.source.startsWith('^') ? key.source : `^(?:${key.source})`, key.flags), route]);
    else if (key.includes('*')) patterns.push([globToRegExp(key), route]);
    else exact.set(key, route);
  }
  return (name) => exact.get(name) ?? patterns.find(([re]) => re.test(name))?.[1];
}

function isPairs(value: readonly unknown[]): value is TaskRoutePairs {
  return value.every((e) => Array.isArray(e) && e.length === 2 && (typeof e[0] === 'string' || e[0] instanceof RegExp));
}

/**
 * Builds the router of a `task_routes` value, checking every static route up front.
 *
 * @param routes - the setting (`null` for no routes)
 * @param where - the setting's name, for errors
 * @returns the router; it answers `undefined` when no entry matches
 * @throws {@link CeleriacError} `INVALID_CONFIG` for a value that is not routes
 */
export function createRouter(routes: unknown, where = 'task_routes'): Router {
  if (routes === null || routes === undefined) return () => undefined;
  const entries: unknown[] = Array.isArray(routes) && !isPairs(routes) ? routes : [routes];
  const routers = entries.map((entry, i): Router => {
    const at = entries.length === 1 && entry === routes ? where : `${where}[${i}]`;
    if (typeof entry === 'function') {
      const fn = entry as TaskRouter;
      return (name, args, kwargs, options) => {
        const answer = fn(name, args, kwargs, options);
        return answer === null || answer === undefined ? undefined : toRoute(answer, `the route ${at} returned for ${name}`);
      };
    }
    if (Array.isArray(entry)) {
      if (!isPairs(entry)) throw invalid(`${at}: expected [pattern, route] pairs, got an array of something else`);
      const match = mapRouter(entry, at);
      return (name) => match(name);
    }
    if (isPlainObject(entry)) {
      const match = mapRouter(Object.entries(entry), at);
      return (name) => match(name);
    }
    throw invalid(`${at}: expected an object of routes, [pattern, route] pairs or a function, got ${describe(entry)}`);
  });
  return (name, args, kwargs, options) => {
    for (const router of routers) {
      const route = router(name, args, kwargs, options);
      if (route !== undefined) return route;
    }
    return undefined;
  };
}

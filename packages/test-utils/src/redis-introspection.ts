import type { Redis } from 'ioredis';

/*
 * Read-only server introspection for assertions about connections and subscriptions
 * (PUBSUB NUMSUB / CHANNELS, CLIENT LIST). Safe on the shared server: nothing here changes
 * state. On the shared server other tests' clients and channels show up too, so filter by
 * the names your test made unique.
 */

const NUMSUB_BATCH = 1_000;

/**
 * Subscriber counts of channels (`PUBSUB NUMSUB`, sent in batches of 1 000 channels).
 * Pattern subscriptions are not counted (Redis does not).
 *
 * @param client - a connection not in subscriber mode
 * @param channels - exact channel names
 * @returns channel → number of subscribed clients (0 included), one entry per distinct name
 * @throws when Redis answers with something that is not a NUMSUB reply
 */
export async function pubsubNumsub(client: Redis, channels: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < channels.length; i += NUMSUB_BATCH) {
    const reply = await client.call('PUBSUB', ['NUMSUB', ...channels.slice(i, i + NUMSUB_BATCH)]);
    if (!Array.isArray(reply) || reply.length % 2 !== 0) {
      throw new Error(`pubsubNumsub: expected a flat [channel, count, …] array, received ${JSON.stringify(reply)}`);
    }
    for (let j = 0; j < reply.length; j += 2) {
      counts.set(String(reply[j]), Number(reply[j + 1]));
    }
  }
  return counts;
}

/**
 * How many channels with at least one subscriber match a glob (`PUBSUB CHANNELS pattern`).
 *
 * @param client - a connection not in subscriber mode
 * @param pattern - a glob; use your test's unique prefix, e.g. `celery-task-meta-<prefix>*`
 * @returns the number of active channels
 */
export async function pubsubChannelCount(client: Redis, pattern: string): Promise<number> {
  const reply = await client.call('PUBSUB', ['CHANNELS', pattern]);
  if (!Array.isArray(reply)) {
    throw new Error(`pubsubChannelCount: expected an array, received ${JSON.stringify(reply)}`);
  }
  return reply.length;
}

/**
 * Parses the text of `CLIENT LIST`: one record per line, `key=value` fields.
 *
 * @param text - the reply
 * @returns one object per client (`id`, `addr`, `name`, `db`, `sub`, `psub`, `cmd`, `flags`, …)
 */
export function parseClientList(text: string): Record<string, string>[] {
  const clients: Record<string, string>[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    const fields: Record<string, string> = {};
    for (const field of trimmed.split(' ')) {
      const eq = field.indexOf('=');
      if (eq > 0) fields[field.slice(0, eq)] = field.slice(eq + 1);
    }
    clients.push(fields);
  }
  return clients;
}

/**
 * The server's clients (`CLIENT LIST`), parsed. The calling connection is included.
 *
 * @param client - any connection not in subscriber mode
 * @returns one record per client; every value is a string (`sub: '3'`)
 */
export async function clientList(client: Redis): Promise<Record<string, string>[]> {
  const reply = await client.call('CLIENT', ['LIST']);
  if (typeof reply !== 'string') {
    throw new Error(`clientList: expected the CLIENT LIST text, received ${JSON.stringify(reply)}`);
  }
  return parseClientList(reply);
}

/**
 * How many clients in `CLIENT LIST` match `predicate`, e.g.
 * `countClients(admin, (c) => c.name === myName && Number(c.sub) > 0)`.
 *
 * @param client - any connection not in subscriber mode
 * @param predicate - tested on each parsed record
 * @returns the count
 */
export async function countClients(
  client: Redis,
  predicate: (entry: Record<string, string>) => boolean,
): Promise<number> {
  return (await clientList(client)).filter(predicate).length;
}

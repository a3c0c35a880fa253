import type { Redis } from 'ioredis';

/**
 * Closes an ioredis client and waits (at most `graceMs`) until its socket is gone.
 *
 * @param redis - the client
 * @param how - `quit` lets pending commands finish first; `disconnect` closes at once
 * @param graceMs - the longest wait; then the socket is dropped and we return
 */
export async function closeRedis(redis: Redis, how: 'quit' | 'disconnect', graceMs = 2_000): Promise<void> {
  const status = redis.status;
  if (status === 'end') return;
  if (status === 'wait' || status === 'reconnecting' || status === 'close') {
    // No socket to wait for: ioredis would never emit 'end' for these (it only cancels the
    // pending reconnect), so just stop it.
    redis.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const ended = new Promise<void>((resolve) => {
    redis.once('end', resolve);
    timer = setTimeout(() => {
      redis.disconnect();
      resolve();
    }, graceMs);
  });
  try {
    if (how === 'quit' && status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
  await ended;
  clearTimeout(timer);
}

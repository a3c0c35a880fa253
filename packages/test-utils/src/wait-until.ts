/** Options of {@link waitUntil}. */
export interface WaitUntilOptions {
  /** Give up after this long; default 5 000 ms. */
  readonly timeoutMs?: number;
  /** Pause between two checks; default 20 ms. */
  readonly intervalMs?: number;
  /** What was awaited, put at the start of the timeout error's message. */
  readonly message?: string;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `predicate` until it returns (or resolves to) `true`.
 *
 * A check that throws or rejects counts as "not yet" (a Redis call during a reconnect may
 * fail); the last such error becomes the timeout error's `cause`. A check still pending at
 * the deadline does not extend it.
 *
 * @param predicate - the condition; may be async
 * @param options - timeout, poll interval and the message of the timeout error
 * @throws Error when the deadline passes first; the message starts with `options.message`
 *   and says how long it waited and how many checks ran
 */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  options: WaitUntilOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const intervalMs = options.intervalMs ?? 20;
  const started = performance.now();
  const deadline = started + timeoutMs;
  let checks = 0;
  let lastError: unknown;
  let pending = false;
  for (;;) {
    checks += 1;
    const remaining = deadline - performance.now();
    const check = (async () => predicate())();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), Math.max(remaining, 0));
    });
    try {
      const outcome = await Promise.race([check, expired]);
      if (outcome === true) return;
      pending = outcome === 'expired';
      if (pending) check.catch(() => {}); // settles after we gave up; nobody listens
    } catch (error) {
      lastError = error;
    } finally {
      clearTimeout(timer);
    }
    const left = deadline - performance.now();
    if (pending || left <= 0) break;
    await pause(Math.min(intervalMs, left));
  }
  const waited = Math.round(performance.now() - started);
  const what = options.message ?? 'waitUntil: the condition did not become true';
  const detail = pending ? '; the last check was still pending' : '';
  throw new Error(`${what} (waited ${waited} ms of ${timeoutMs}, ${checks} checks${detail})`, {
    cause: lastError,
  });
}

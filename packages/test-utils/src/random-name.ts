import { randomBytes } from 'node:crypto';

/**
 * A short random name, unique across parallel test runs sharing one Redis.
 *
 * @param label - what the name is for (`q`, `worker`); letters, digits and `-`
 * @returns `celeriac-test-<label>-<12 hex digits>`
 */
export function randomName(label = 'x'): string {
  return `celeriac-test-${label}-${randomBytes(6).toString('hex')}`;
}

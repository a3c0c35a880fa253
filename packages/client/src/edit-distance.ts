/**
 * Suggestions for misspelt names ("did you mean 'task_serializer'?").
 *
 * @module
 */

/**
 * The Levenshtein distance (insertions, deletions, substitutions) between two strings.
 *
 * @param a - one string
 * @param b - the other
 * @returns the number of single-character edits from `a` to `b`
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The candidate closest to `name`, compared without regard to case (so `TASK_SERIALISER`
 * finds `task_serializer`). Ties go to the earlier candidate.
 *
 * @param name - the misspelt name
 * @param candidates - the known names, preferred ones first
 * @returns the closest candidate, or `undefined` when there are none
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * Small statistics for the bench: medians over runs, latency percentiles.
 *
 * @module
 */

/**
 * @param values - numbers (not modified)
 * @returns the median, `undefined` for no values
 */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/**
 * Nearest-rank percentile (p99 of 2,000 samples is the 1,980th smallest).
 *
 * @param values - numbers (not modified)
 * @param p - 0..100
 * @returns the percentile, `undefined` for no values
 */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

/**
 * @param value - a number or nothing
 * @param digits - fraction digits below 100 (larger numbers are rounded to integers)
 * @returns it formatted for the table, with thousands separators; `-` for nothing
 */
export function formatNumber(value: number | undefined, digits = 2): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(digits);
}

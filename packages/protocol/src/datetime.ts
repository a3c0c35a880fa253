/**
 * Datetimes as Celery writes and reads them in headers and result metas.
 *
 * @see celery-wire.md §1.4 and §4.3
 * @module
 */

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Formats an instant as Celery 5.2 writes `eta` / `expires`: UTC, six fractional digits and
 * an explicit offset, e.g. `2026-11-27T18:54:22.894000+00:00`.
 *
 * Six digits always (Python omits them when the microseconds are 0): Celery 5.2's parser
 * takes the fraction digits literally as microseconds, so `.5` would be read as 5 µs.
 *
 * @param date - the instant
 * @returns the ISO-8601 string
 */
export function formatCeleryDatetime(date: Date): string {
  return `${isoSeconds(date)}.${microseconds(date)}+00:00`;
}

/**
 * Formats `date_done` as Celery 5.2 stores it: `datetime.utcnow().isoformat()`, naive (no
 * zone), the fraction dropped when it is zero.
 *
 * @param date - the instant
 * @returns e.g. `2026-11-27T18:55:55.217000`
 */
export function formatDateDone(date: Date): string {
  const ms = date.getUTCMilliseconds();
  return ms === 0 ? isoSeconds(date) : `${isoSeconds(date)}.${microseconds(date)}`;
}

/**
 * Parses an ISO-8601 datetime as Celery does (`Z`, `±HH:MM`, `±HHMM` or no zone; a naive
 * value is UTC, Celery's default timezone).
 *
 * Difference from Celery 5.2: the fraction is read as a decimal fraction of a second
 * (`.678` is 678 ms), where Celery's regex reads the digits literally as microseconds (678 µs).
 * Real clients write six digits, where both readings agree.
 *
 * @param text - the string from a header or meta
 * @returns the instant, or `undefined` when the text is not an ISO datetime
 */
export function parseCeleryDatetime(text: string): Date | undefined {
  const m = ISO_RE.exec(text.trim());
  if (m === null) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const ms = frac === '' ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0');
    t -= sign * offsetMinutes * 60_000;
  }
  return Number.isNaN(t) ? undefined : new Date(t);
}

function isoSeconds(date: Date): string {
  return date.toISOString().slice(0, 19);
}

function microseconds(date: Date): string {
  return `${String(date.getUTCMilliseconds()).padStart(3, '0')}000`;
}

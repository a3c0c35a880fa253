import { describe, expect, it } from 'vitest';
import { formatCeleryDatetime, formatDateDone, parseCeleryDatetime } from './datetime.ts';

describe('Celery datetimes', () => {
  it('formats eta/expires with six fractional digits and +00:00', () => {
    expect(formatCeleryDatetime(new Date('2026-11-27T18:54:22.894Z'))).toBe('2026-11-27T18:54:22.894000+00:00');
    expect(formatCeleryDatetime(new Date('2026-11-27T18:54:22Z'))).toBe('2026-11-27T18:54:22.000000+00:00');
  });

  it('formats date_done naive, dropping a zero fraction as isoformat does', () => {
    expect(formatDateDone(new Date('2026-11-27T18:55:55.217Z'))).toBe('2026-11-27T18:55:55.217000');
    expect(formatDateDone(new Date('2026-11-27T18:55:55Z'))).toBe('2026-11-27T18:55:55');
  });

  it('parses what Python writes and what JS writes', () => {
    const cases: [string, string][] = [
      ['2026-11-27T18:54:22.894664+00:00', '2026-11-27T18:54:22.894Z'],
      ['2026-11-27T18:54:22.123Z', '2026-11-27T18:54:22.123Z'],
      ['2026-11-27T18:54:22', '2026-11-27T18:54:22.000Z'],
      ['2026-11-27T20:54:22+02:00', '2026-11-27T18:54:22.000Z'],
      ['2026-11-27T17:24:22-0130', '2026-11-27T18:54:22.000Z'],
      ['2026-11-27 18:54', '2026-11-27T18:54:00.000Z'],
      ['2026-11-27', '2026-11-27T00:00:00.000Z'],
    ];
    for (const [text, iso] of cases) expect(parseCeleryDatetime(text)?.toISOString(), text).toBe(iso);
  });

  it('returns undefined for text that is not a datetime', () => {
    for (const text of ['', 'tomorrow', '2026-13-45Tnope', '12:00']) expect(parseCeleryDatetime(text)).toBeUndefined();
  });

  it('round-trips', () => {
    const d = new Date('2031-01-02T03:04:05.006Z');
    expect(parseCeleryDatetime(formatCeleryDatetime(d))?.getTime()).toBe(d.getTime());
  });
});

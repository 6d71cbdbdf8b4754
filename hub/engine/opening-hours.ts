import type { OpeningHours } from '../../firmware-config/schema.ts';
import { WEEKDAYS } from '../../firmware-config/schema.ts';
import type { TimeZone } from './tz.ts';

// CONTRACT.md "Visits": a party starts only with an `in` inside opening hours.
// No openingHours in the config = always open; a day not listed = closed.

export type OpenAt = (ms: number) => boolean;

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

export function openingHoursCheck(hours: OpeningHours | undefined, tz: TimeZone): OpenAt {
  if (!hours) return () => true;
  const spans = WEEKDAYS.map((d) => {
    const h = hours[d];
    if (!h || h === 'closed') return null;
    const [a, b] = h.split('-') as [string, string];
    return { from: minutes(a), to: minutes(b) };
  });
  return (ms) => {
    const p = tz.parts(ms);
    const span = spans[p.weekday];
    if (!span) return false;
    const m = p.hour * 60 + p.minute + p.second / 60;
    return m >= span.from && m < span.to;
  };
}

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
    const local = tz.localMs(ms);
    const day = Math.floor(local / 86_400_000);
    const span = spans[(((day + 3) % 7) + 7) % 7]; // 1970-01-01 was a Thursday; Monday = 0
    if (!span) return false;
    const m = (local - day * 86_400_000) / 60_000;
    return m >= span.from && m < span.to;
  };
}

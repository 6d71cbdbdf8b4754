import type { OpeningHours } from '../../firmware-config/schema.ts';
import { WEEKDAYS } from '../../firmware-config/schema.ts';
import type { TimeZone } from './tz.ts';

// CONTRACT.md "Visits": a party starts only with an `in` inside opening hours.
// No openingHours in the config = always open; a day not listed = closed. A day may hold
// several ranges, "09:00-12:30, 14:00-18:00" (firmware-config/README.md "Opening hours");
// the loader has checked that each ends after it starts and that they do not overlap.

export type OpenAt = (ms: number) => boolean;

interface Span {
  from: number;
  to: number;
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** `"09:00-12:30, 14:00-18:00"` → minute spans [from, to); `closed` or nothing → none. */
export function parseDayHours(h: string | undefined): Span[] {
  if (!h || h === 'closed') return [];
  return h.split(',').map((range) => {
    const [a, b] = range.trim().split('-') as [string, string];
    return { from: minutes(a), to: minutes(b) };
  });
}

export function openingHoursCheck(hours: OpeningHours | undefined, tz: TimeZone): OpenAt {
  if (!hours) return () => true;
  const days = WEEKDAYS.map((d) => parseDayHours(hours[d]));
  return (ms) => {
    const local = tz.localMs(ms);
    const day = Math.floor(local / 86_400_000);
    const spans = days[(((day + 3) % 7) + 7) % 7]!; // 1970-01-01 was a Thursday; Monday = 0
    const m = (local - day * 86_400_000) / 60_000;
    return spans.some((s) => m >= s.from && m < s.to);
  };
}

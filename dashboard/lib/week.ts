// ISO weeks for the week picker ("2026-W47"), on calendar dates only: the hub turns a week
// into store-local instants; the page only needs to step weeks and name their days.

import { TimeZone } from '../../hub/engine/tz.ts';
import { addWeeks as addIsoWeeks, formatIsoWeek, isoWeekOf, parseIsoWeek, weekRange } from '../../hub/history/iso-week.ts';

const DAY = 86_400_000;
// the hub's own ISO-week rules (hub/history/iso-week.ts), on UTC calendar dates
const UTC = new TimeZone('UTC');

/** the ISO week of a calendar date given as UTC midnight ms */
export const weekOfDate = (utcDateMs: number): string => formatIsoWeek(isoWeekOf(utcDateMs, UTC));

/** the Monday (UTC midnight ms) of "YYYY-Www", or null when it is not a real ISO week */
export function mondayOf(week: string): number | null {
  try {
    return weekRange(parseIsoWeek(week), UTC).fromMs;
  } catch {
    return null;
  }
}

export const isWeek = (s: string): boolean => mondayOf(s) !== null;

export function addWeeks(week: string, n: number): string {
  return formatIsoWeek(addIsoWeeks(parseIsoWeek(week), n));
}

/** the week holding today in `timeZone` (the store's; the browser's when it is not a zone) */
export function currentWeek(timeZone: string, nowMs = Date.now()): string {
  let tz: TimeZone;
  try {
    tz = new TimeZone(timeZone);
  } catch {
    tz = new TimeZone(Intl.DateTimeFormat().resolvedOptions().timeZone);
  }
  return formatIsoWeek(isoWeekOf(nowMs, tz));
}

/** "16–22 Nov 2026", "30 Nov – 6 Dec 2026" */
export function weekSpan(week: string): string {
  const monday = mondayOf(week);
  if (monday === null) return week;
  const a = new Date(monday);
  const b = new Date(monday + 6 * DAY);
  const month = (d: Date) => d.toLocaleDateString('en-GB', { month: 'short', timeZone: 'UTC' });
  if (a.getUTCMonth() === b.getUTCMonth()) return `${a.getUTCDate()}–${b.getUTCDate()} ${month(b)} ${b.getUTCFullYear()}`;
  const yearA = a.getUTCFullYear() === b.getUTCFullYear() ? '' : ` ${a.getUTCFullYear()}`;
  return `${a.getUTCDate()} ${month(a)}${yearA} – ${b.getUTCDate()} ${month(b)} ${b.getUTCFullYear()}`;
}

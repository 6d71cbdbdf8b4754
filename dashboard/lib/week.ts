// ISO weeks for the week picker ("2026-W47"), on calendar dates only: the hub turns a week
// into store-local instants; the page only needs to step weeks and name their days.

const DAY = 86_400_000;
const RE = /^(\d{4})-W(\d{2})$/;

const weekdayOf = (utcDateMs: number) => (new Date(utcDateMs).getUTCDay() + 6) % 7;

function week1Monday(year: number): number {
  const jan4 = Date.UTC(year, 0, 4);
  return jan4 - weekdayOf(jan4) * DAY;
}

/** the ISO week of a calendar date given as UTC midnight ms */
export function weekOfDate(utcDateMs: number): string {
  const thursday = utcDateMs + (3 - weekdayOf(utcDateMs)) * DAY;
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - week1Monday(year)) / (7 * DAY)) + 1;
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** the Monday (UTC midnight ms) of "YYYY-Www", or null when it is not a real ISO week */
export function mondayOf(week: string): number | null {
  const m = RE.exec(week);
  if (!m) return null;
  const year = Number(m[1]);
  const w = Number(m[2]);
  if (year < 1000 || w < 1) return null;
  const monday = week1Monday(year) + (w - 1) * 7 * DAY;
  return weekOfDate(monday) === week ? monday : null;
}

export const isWeek = (s: string): boolean => mondayOf(s) !== null;

export function addWeeks(week: string, n: number): string {
  const monday = mondayOf(week);
  if (monday === null) throw new Error(`not an ISO week: ${week}`);
  return weekOfDate(monday + n * 7 * DAY);
}

/** the week holding today in `timeZone` (the store's) */
export function currentWeek(timeZone: string, nowMs = Date.now()): string {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(nowMs);
  } catch {
    parts = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(nowMs);
  }
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  return weekOfDate(Date.UTC(get('year'), get('month') - 1, get('day')));
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

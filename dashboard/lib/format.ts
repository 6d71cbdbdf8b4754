// Numbers for people: service level as "82 %", times to greet as "12 s" or "1:05", counts
// with thousands separators, "–" where there is no figure. No DOM here: the browser tests
// import these to compare what a page shows with the API's JSON.

export const NONE = '–';

const counts = new Intl.NumberFormat('en');

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? NONE : counts.format(n);
}

/** a fraction 0..1 as a whole percentage: 0.823 → "82 %" */
export function pct(f: number | null | undefined): string {
  return f === null || f === undefined ? NONE : `${Math.round(f * 100)} %`;
}

/** seconds: one decimal under 10 s ("3.4 s"), whole seconds under a minute ("12 s"), then m:ss ("1:05") */
export function secs(s: number | null | undefined): string {
  if (s === null || s === undefined) return NONE;
  if (s < 9.95) return `${(Math.round(s * 10) / 10).toString()} s`;
  const r = Math.round(s);
  if (r < 60) return `${r} s`;
  return `${Math.floor(r / 60)}:${String(r % 60).padStart(2, '0')}`;
}

const minus = (n: number) => (n < 0 ? `−${-n}` : `+${n}`);

/** change in service level, in percentage points of the rounded figures: "+3 pts", "−1 pt", "±0 pts" */
export function ptsDelta(now: number | null, then: number | null): string {
  if (now === null || then === null) return NONE;
  const d = Math.round(now * 100) - Math.round(then * 100);
  if (d === 0) return '±0 pts';
  return `${minus(d)} ${Math.abs(d) === 1 ? 'pt' : 'pts'}`;
}

/** change in a time to greet: "−2 s", "+0.5 s" */
export function secsDelta(now: number | null, then: number | null): string {
  if (now === null || then === null) return NONE;
  const d = Math.abs(now - then) < 10 ? Math.round((now - then) * 10) / 10 : Math.round(now - then);
  if (d === 0) return '±0 s';
  return `${minus(d)} s`;
}

/** change in a count: "+12", "−3" */
export function countDelta(now: number, then: number): string {
  const d = now - then;
  return d === 0 ? '±0' : d < 0 ? `−${counts.format(-d)}` : `+${counts.format(d)}`;
}

/** a node's clock offset: "+41 ms", "−2.3 s" */
export function offset(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return NONE;
  const r = Math.round(ms);
  if (Math.abs(r) < 1000) return r === 0 ? '0 ms' : `${minus(r)} ms`;
  return `${minus(Math.round(r / 100) / 10)} s`;
}

/** how long ago, roughly: "just now", "12 s ago", "5 min ago", "3 h ago", "2 days ago" */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} days ago`;
}

/** "9:00" for an hour of the day */
export const hourLabel = (h: number) => `${h}:00`;

/** a waiting time as the floor shows it: "0:42" */
export function clock(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export const WEEKDAY_SHORT: Record<(typeof WEEKDAYS)[number], string> = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };
export const WEEKDAY_LONG: Record<(typeof WEEKDAYS)[number], string> = {
  mon: 'Monday',
  tue: 'Tuesday',
  wed: 'Wednesday',
  thu: 'Thursday',
  fri: 'Friday',
  sat: 'Saturday',
  sun: 'Sunday',
};

/** "Tue 24 Nov" for a YYYY-MM-DD date (a calendar date: no zone involved) */
export function dayLabel(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' });
}

// errors.ts, not the contract's index: the dashboard's week picker bundles this file
import { ErrorCodes, GwError } from '../../contract/errors.ts';
import type { TimeZone } from '../engine/tz.ts';

// ISO 8601 weeks in store-local time (CONTRACT.md "Metrics over a period": store-local
// time, weeks start Monday 00:00). Calendar dates are done on UTC dates (no zone), then
// turned into instants with the store's TimeZone, so a DST week is 167 or 169 hours.

export interface IsoWeek {
  /** ISO 8601 week-numbering year (2026-W01 begins 2025-12-29) */
  year: number;
  week: number;
}

const DAY = 86_400_000;
const ISO_WEEK_RE = /^(\d{4})-W(\d{2})$/;

/** 0 = Monday … 6 = Sunday of a UTC date */
const weekdayOf = (utcDateMs: number) => (new Date(utcDateMs).getUTCDay() + 6) % 7;

/** the UTC date (ms at 00:00Z) of the Monday of week 1: the week holding 4 January */
function week1Monday(year: number): number {
  const jan4 = Date.UTC(year, 0, 4);
  return jan4 - weekdayOf(jan4) * DAY;
}

/** 52 or 53: a year has 53 ISO weeks when 28 December is in week 53 */
export function weeksInYear(year: number): number {
  return isoWeekOfDate(Date.UTC(year, 11, 28)).week;
}

/** the ISO week of a UTC date: the week-numbering year is that of the week's Thursday */
function isoWeekOfDate(utcDateMs: number): IsoWeek {
  const thursday = utcDateMs + (3 - weekdayOf(utcDateMs)) * DAY;
  const year = new Date(thursday).getUTCFullYear();
  return { year, week: Math.floor((thursday - week1Monday(year)) / (7 * DAY)) + 1 };
}

/** the UTC date (ms at 00:00Z) of the week's Monday */
function mondayOf(w: IsoWeek): number {
  return week1Monday(w.year) + (w.week - 1) * 7 * DAY;
}

function badWeek(s: string, why = ''): GwError {
  // the raw value is quoted (JSON escapes control characters) and cut short: it comes from a URL
  const got = JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
  return new GwError(ErrorCodes.BAD_PARAM, `week: expected YYYY-Www (ISO week, e.g. 2026-W47), got ${got}${why}`);
}

/** "2026-W47" → {year: 2026, week: 47}; BAD_PARAM naming `week` otherwise (CONTRACT.md "HTTP": bad parameters name the parameter) */
export function parseIsoWeek(s: string): IsoWeek {
  const m = ISO_WEEK_RE.exec(s);
  if (!m) throw badWeek(s);
  const year = Number(m[1]);
  const week = Number(m[2]);
  // years below 1000 would hit Date.UTC's two-digit-year rule; no store has data then
  if (year < 1000) throw badWeek(s);
  if (week < 1) throw badWeek(s);
  const max = weeksInYear(year);
  if (week > max) throw badWeek(s, ` (${year} has ${max} ISO weeks)`);
  return { year, week };
}

export function formatIsoWeek(w: IsoWeek): string {
  return `${String(w.year).padStart(4, '0')}-W${String(w.week).padStart(2, '0')}`;
}

/** the store-local ISO week containing instant `ms` */
export function isoWeekOf(ms: number, tz: TimeZone): IsoWeek {
  const local = tz.localMs(ms);
  return isoWeekOfDate(Math.floor(local / DAY) * DAY);
}

export function addWeeks(w: IsoWeek, n: number): IsoWeek {
  return isoWeekOfDate(mondayOf(w) + n * 7 * DAY);
}

export interface WeekDay {
  /** store-local calendar date, YYYY-MM-DD */
  date: string;
  fromMs: number;
  toMs: number;
}

export interface WeekRange {
  fromMs: number;
  toMs: number;
  /** the 7 store-local days, Monday first; together exactly [fromMs, toMs) */
  days: WeekDay[];
}

/** Monday 00:00 store-local to the next Monday 00:00, as instants, and its 7 local days */
export function weekRange(w: IsoWeek, tz: TimeZone): WeekRange {
  const monday = mondayOf(w);
  // local midnights via fromLocal, as tz.startOfDay/startOfWeek (the engine's "today") do
  const starts = Array.from({ length: 8 }, (_, i) => {
    const d = new Date(monday + i * DAY);
    return tz.fromLocal(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
  });
  const days = Array.from({ length: 7 }, (_, i) => ({
    date: new Date(monday + i * DAY).toISOString().slice(0, 10),
    fromMs: starts[i]!,
    toMs: starts[i + 1]!,
  }));
  return { fromMs: starts[0]!, toMs: starts[7]!, days };
}

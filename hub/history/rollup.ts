import { ErrorCodes, GwError, type Visit } from '../../contract/index.ts';
import type { TimeZone } from '../engine/tz.ts';

// Hourly rollups for history reports. A bucket holds counts and integer sums, never
// averages, so any period made of whole buckets gives exactly the figures of CONTRACT.md
// "Metrics over a period" (asgS to the ms, percentiles to the second from the histogram).
// A bucket is one store-local hour, keyed by the instant it begins: a half-hour zone's hour
// starts at :30 UTC, and a fall-back night's repeated hour is two buckets.

export interface HourRollup {
  /** UTC instant the store-local hour begins */
  startMs: number;
  visits: number;
  met: number;
  late: number;
  walkouts: number;
  shortWalkouts: number;
  missed: number;
  /** met + late with a ttgS */
  greeted: number;
  /** sum of Math.round(ttgS * 1000) over greeted: an integer, exact */
  ttgSumMs: number;
  ttgMaxMs: number | null;
  /** whole second of the TTG (floor of the ms value / 1000) → count */
  hist: Map<number, number>;
}

export interface StaffHourRollup {
  startMs: number;
  staff: string;
  greets: number;
  met: number;
  ttgSumMs: number;
}

const HOUR = 3_600_000;
const QUARTER = 15 * 60_000;

/**
 * The UTC instant the store-local hour containing `ms` begins: the local hour's start at
 * the UTC offset of `ms`, or, when that offset began later within the hour (a zone moving
 * by 30 min, e.g. Australia/Lord_Howe), the change itself, which is on a UTC quarter hour
 * (tz.ts). So a fall-back night's repeated hour is two buckets, one per offset.
 */
export function hourStart(ms: number, tz: TimeZone): number {
  if (!Number.isFinite(ms)) return NaN; // the loop below needs a real instant to stop at
  const off = tz.localMs(ms) - ms;
  let t = Math.floor((ms + off) / HOUR) * HOUR - off;
  while (tz.localMs(t) - t !== off) t = Math.min(ms, Math.floor(t / QUARTER) * QUARTER + QUARTER);
  return t;
}

const emptyHour = (startMs: number): HourRollup => ({
  startMs,
  visits: 0,
  met: 0,
  late: 0,
  walkouts: 0,
  shortWalkouts: 0,
  missed: 0,
  greeted: 0,
  ttgSumMs: 0,
  ttgMaxMs: null,
  hist: new Map(),
});

/**
 * Hour and staff rollups of one store's visits. As hub/engine/report.ts counts them: the
 * first record of a party counts and later ones are ignored; pending ones count nowhere;
 * greeted = met/late with a ttgS; staff figures only for greeted visits with a staff id.
 * Sorted by startMs (staff rows then by staff id).
 */
export function rollupVisits(visits: Iterable<Visit>, tz: TimeZone): { hours: HourRollup[]; staff: StaffHourRollup[] } {
  const hours = new Map<number, HourRollup>();
  const staff = new Map<string, StaffHourRollup>();
  const seen = new Set<string>();
  for (const v of visits) {
    const entryMs = Date.parse(v.entryTime);
    // an unreadable entry time is in no period: report.ts skips it without marking the party seen
    if (!Number.isFinite(entryMs) || seen.has(v.party)) continue;
    seen.add(v.party);
    if (v.outcome === 'pending') continue;
    const start = hourStart(entryMs, tz);
    let h = hours.get(start);
    if (!h) hours.set(start, (h = emptyHour(start)));
    switch (v.outcome) {
      case 'met':
        h.met++;
        break;
      case 'late':
        h.late++;
        break;
      case 'walkout':
        h.walkouts++;
        break;
      case 'shortWalkout':
        h.shortWalkouts++;
        break;
      case 'missed':
        h.missed++;
        break;
    }
    h.visits++;
    if ((v.outcome === 'met' || v.outcome === 'late') && v.ttgS !== undefined) {
      const ms = Math.round(v.ttgS * 1000);
      h.greeted++;
      h.ttgSumMs += ms;
      h.ttgMaxMs = h.ttgMaxMs === null ? ms : Math.max(h.ttgMaxMs, ms);
      const s = Math.floor(ms / 1000);
      h.hist.set(s, (h.hist.get(s) ?? 0) + 1);
      if (v.staff !== undefined) {
        const key = `${start} ${v.staff}`;
        let r = staff.get(key);
        if (!r) staff.set(key, (r = { startMs: start, staff: v.staff, greets: 0, met: 0, ttgSumMs: 0 }));
        r.greets++;
        if (v.outcome === 'met') r.met++;
        r.ttgSumMs += ms;
      }
    }
  }
  return {
    hours: [...hours.values()].sort((a, b) => a.startMs - b.startMs),
    staff: [...staff.values()].sort((a, b) => a.startMs - b.startMs || (a.staff < b.staff ? -1 : a.staff > b.staff ? 1 : 0)),
  };
}

/** A period's totals: the sum of its hour rollups (startMs dropped). */
export type RollupTotals = Omit<HourRollup, 'startMs'>;

export function sumRollups(hours: Iterable<HourRollup>): RollupTotals {
  const t: RollupTotals = emptyHour(0);
  for (const h of hours) {
    t.visits += h.visits;
    t.met += h.met;
    t.late += h.late;
    t.walkouts += h.walkouts;
    t.shortWalkouts += h.shortWalkouts;
    t.missed += h.missed;
    t.greeted += h.greeted;
    t.ttgSumMs += h.ttgSumMs;
    if (h.ttgMaxMs !== null) t.ttgMaxMs = t.ttgMaxMs === null ? h.ttgMaxMs : Math.max(t.ttgMaxMs, h.ttgMaxMs);
    for (const [s, n] of h.hist) t.hist.set(s, (t.hist.get(s) ?? 0) + n);
  }
  return t;
}

/**
 * Nearest-rank percentile over a histogram of whole seconds: the whole second of the
 * sample report.ts's nearestRank would pick (flooring is monotone, so the rank is the same).
 */
export function histPercentile(hist: ReadonlyMap<number, number>, p: number): number | null {
  let n = 0;
  for (const c of hist.values()) n += c;
  if (n === 0) return null;
  // the same rank expression as report.ts, so float rounding picks the same rank
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  let seen = 0;
  for (const s of [...hist.keys()].sort((a, b) => a - b)) {
    seen += hist.get(s)!;
    if (seen >= rank) return s;
  }
  return null; // unreachable: seen reaches n ≥ rank
}

/** "12:3,13:1": seconds ascending, "" when empty (the stored form of `hist`) */
export function encodeHist(h: ReadonlyMap<number, number>): string {
  return [...h]
    .filter(([, n]) => n > 0)
    .sort((a, b) => a[0] - b[0])
    .map(([s, n]) => `${s}:${n}`)
    .join(',');
}

const HIST_ITEM = /^(0|[1-9]\d{0,14}):([1-9]\d{0,14})$/;

/** The inverse of encodeHist. Strict: anything encodeHist cannot write is a corrupt store (STORE_IO). */
export function decodeHist(s: string): Map<number, number> {
  const h = new Map<number, number>();
  if (s === '') return h;
  let last = -1;
  for (const item of s.split(',')) {
    const m = HIST_ITEM.exec(item);
    const sec = m ? Number(m[1]) : NaN;
    if (!m || !(sec > last)) {
      throw new GwError(ErrorCodes.STORE_IO, `history: bad TTG histogram ${JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s)}: expected "second:count" pairs, seconds ascending`);
    }
    h.set(sec, Number(m[2]));
    last = sec;
  }
  return h;
}

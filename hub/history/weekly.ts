import type { ChainRanking, DayFigures, GridCell, StaffWeekFigures, TtgDistribution, Visit, WeekFigures, WeeklyReport, WeekSummary } from '../../contract/index.ts';
import { WEEKDAYS } from '../../firmware-config/schema.ts';
import { ReportAccumulator } from '../engine/report.ts';
import type { TimeZone } from '../engine/tz.ts';
import { addWeeks, formatIsoWeek, weekRange, type IsoWeek, type WeekRange } from './iso-week.ts';
import { histPercentile, rollupVisits, sumRollups, type HourRollup, type RollupTotals, type StaffHourRollup } from './rollup.ts';

// The owner's weekly report (CONTRACT.md "Metrics over a period", weeks Monday 00:00
// store-local). From raw visits every figure is the engine's own (ReportAccumulator); from
// hourly rollups counts and sums are exact, asgS is to the ms and p50S/p90S are the whole
// second of the sample (the histogram keeps seconds).

export type PeriodData =
  /** final visits whose entry is in the period (others are ignored) */
  | { kind: 'raw'; visits: readonly Visit[] }
  /** hour rollups of the period (hours starting outside it are ignored) */
  | { kind: 'rollup'; hours: readonly HourRollup[]; staff: readonly StaffHourRollup[] };

export interface WeeklyInput {
  store: string;
  storeName?: string;
  tz: TimeZone;
  /** rules.serviceLevelTarget: a day meets it when its serviceLevel ≥ this */
  targetServiceLevel: number;
  greetWithinS: number;
}

export const TTG_BUCKET_S = 5;

/**
 * Where the open-ended last TTG bucket starts: 4 × greetWithinS rounded up to a bucket
 * (120 s for the 30/30 rule: 24 buckets of 5 s, then "≥ 120 s"). Four times the rule shows
 * the whole late tail at 5 s resolution; beyond that, how late no longer matters.
 */
export function ttgOpenFromS(greetWithinS: number): number {
  const n = Number.isFinite(greetWithinS) ? Math.ceil((greetWithinS * 4) / TTG_BUCKET_S) : 1;
  return Math.max(1, n) * TTG_BUCKET_S;
}

const serviceLevel = (c: { visits: number; met: number; shortWalkouts: number }) => {
  const denom = c.visits - c.shortWalkouts;
  return denom > 0 ? c.met / denom : null;
};
/** mean of integer ms, in seconds to the ms: what report.ts's asgS is at ms-precise data */
const meanS = (sumMs: number, n: number) => (n > 0 ? Math.round(sumMs / n) / 1000 : null);

/** string order by UTF-16 code units, as Array.prototype.sort's default (report.ts sorts byStaff so) */
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** index of the local day of `ms` in the week, −1 outside it */
function dayOf(range: WeekRange, ms: number): number {
  return range.days.findIndex((d) => ms >= d.fromMs && ms < d.toMs);
}

interface Parts {
  summary: WeekSummary;
  days: Omit<DayFigures, 'date' | 'weekday' | 'meetsTarget'>[];
  staff: StaffWeekFigures[];
  /** the week's hour rollups: grid and TTG distribution come from them for both sources */
  hours: HourRollup[];
}

function fromRaw(input: WeeklyInput, range: WeekRange, visits: readonly Visit[]): Parts {
  const week = new ReportAccumulator(input.store, range.fromMs, range.toMs, input.tz);
  const days = range.days.map((d) => new ReportAccumulator(input.store, d.fromMs, d.toMs, input.tz));
  const inWeek: Visit[] = [];
  for (const v of visits) {
    const entryMs = Date.parse(v.entryTime);
    const i = dayOf(range, entryMs);
    if (i < 0) continue;
    inWeek.push(v);
    week.addRecord(v.party, v.outcome, entryMs, v.ttgS, v.staff);
    days[i]!.addRecord(v.party, v.outcome, entryMs, v.ttgS, v.staff);
  }
  const r = week.report();
  // rollups of the same visits count the same parties (first record of each, in the week)
  const hours = rollupVisits(inWeek, input.tz).hours;
  return {
    summary: {
      visits: r.visits,
      met: r.met,
      late: r.late,
      walkouts: r.walkouts,
      shortWalkouts: r.shortWalkouts,
      missed: r.missed,
      serviceLevel: r.serviceLevel,
      serviceLevelStrict: r.serviceLevelStrict,
      asgS: r.asgS,
      p50S: r.p50S,
      p90S: r.p90S,
      maxS: r.maxS,
      greeted: sumRollups(hours).greeted,
    },
    days: days.map((a) => {
      const d = a.report();
      return { visits: d.visits, met: d.met, late: d.late, walkouts: d.walkouts, shortWalkouts: d.shortWalkouts, missed: d.missed, serviceLevel: d.serviceLevel, asgS: d.asgS };
    }),
    // sorted again: an object lists integer-like keys ("7") first, whatever the insertion order
    staff: Object.entries(r.byStaff)
      .map(([staff, s]) => ({ staff, greets: s.greets, met: s.met, asgS: s.asgS }))
      .sort((a, b) => byId(a.staff, b.staff)),
    hours,
  };
}

function counts(t: RollupTotals) {
  return { visits: t.visits, met: t.met, late: t.late, walkouts: t.walkouts, shortWalkouts: t.shortWalkouts, missed: t.missed };
}

function fromRollup(range: WeekRange, allHours: readonly HourRollup[], allStaff: readonly StaffHourRollup[]): Parts {
  // a rollup hour belongs to the local day containing its start
  const perDay: HourRollup[][] = range.days.map(() => []);
  const hours: HourRollup[] = [];
  for (const h of allHours) {
    const i = dayOf(range, h.startMs);
    if (i < 0) continue;
    perDay[i]!.push(h);
    hours.push(h);
  }
  const t = sumRollups(hours);
  const staff = new Map<string, { greets: number; met: number; ttgSumMs: number }>();
  for (const s of allStaff) {
    if (dayOf(range, s.startMs) < 0) continue;
    const a = staff.get(s.staff) ?? { greets: 0, met: 0, ttgSumMs: 0 };
    a.greets += s.greets;
    a.met += s.met;
    a.ttgSumMs += s.ttgSumMs;
    staff.set(s.staff, a);
  }
  return {
    summary: {
      ...counts(t),
      serviceLevel: serviceLevel(t),
      serviceLevelStrict: t.visits > 0 ? t.met / t.visits : null,
      asgS: meanS(t.ttgSumMs, t.greeted),
      p50S: histPercentile(t.hist, 50),
      p90S: histPercentile(t.hist, 90),
      maxS: t.ttgMaxMs === null ? null : t.ttgMaxMs / 1000,
      greeted: t.greeted,
    },
    days: perDay.map((hs) => {
      const d = sumRollups(hs);
      return { ...counts(d), serviceLevel: serviceLevel(d), asgS: meanS(d.ttgSumMs, d.greeted) };
    }),
    staff: [...staff.keys()].sort(byId).map((id) => {
      const s = staff.get(id)!;
      return { staff: id, greets: s.greets, met: s.met, asgS: meanS(s.ttgSumMs, s.greets) };
    }),
    hours,
  };
}

/** weekday × store-local hour; a repeated DST hour adds to its hour, a skipped one stays 0 */
function grid(hours: readonly HourRollup[], tz: TimeZone): GridCell[] {
  const cells = Array.from({ length: 7 * 24 }, () => ({ visits: 0, met: 0, shortWalkouts: 0 }));
  for (const h of hours) {
    const { hour, weekday } = tz.hourWeekday(h.startMs);
    const c = cells[weekday * 24 + hour]!;
    c.visits += h.visits;
    c.met += h.met;
    c.shortWalkouts += h.shortWalkouts;
  }
  return cells.map((c, i) => ({ weekday: WEEKDAYS[Math.floor(i / 24)]!, hour: i % 24, visits: c.visits, serviceLevel: serviceLevel(c) }));
}

function ttg(hours: readonly HourRollup[], greetWithinS: number): TtgDistribution {
  const openFromS = ttgOpenFromS(greetWithinS);
  const n = openFromS / TTG_BUCKET_S + 1;
  const out = new Array<number>(n).fill(0);
  // whole seconds suffice: ⌊⌊t⌋ / 5⌋ = ⌊t / 5⌋
  for (const h of hours) for (const [s, c] of h.hist) out[Math.min(n - 1, Math.floor(s / TTG_BUCKET_S))]! += c;
  return { bucketS: TTG_BUCKET_S, openFromS, counts: out };
}

/** One store's figures for one ISO week, from raw visits or from hour rollups. */
export function weekFigures(input: WeeklyInput, week: IsoWeek, data: PeriodData): WeekFigures {
  const range = weekRange(week, input.tz);
  const p = data.kind === 'raw' ? fromRaw(input, range, data.visits) : fromRollup(range, data.hours, data.staff);
  return {
    week: formatIsoWeek(week),
    from: new Date(range.fromMs).toISOString(),
    to: new Date(range.toMs).toISOString(),
    source: data.kind,
    summary: p.summary,
    days: p.days.map((d, i) => ({
      date: range.days[i]!.date,
      weekday: WEEKDAYS[i]!,
      ...d,
      meetsTarget: d.serviceLevel === null ? null : d.serviceLevel >= input.targetServiceLevel,
    })),
    grid: grid(p.hours, input.tz),
    ttg: ttg(p.hours, input.greetWithinS),
    staff: p.staff,
  };
}

/** The weekly report: this week, with the week before and the week four weeks before to compare (loaded in parallel). */
export async function weeklyReport(input: WeeklyInput, week: IsoWeek, load: (fromMs: number, toMs: number) => Promise<PeriodData>): Promise<WeeklyReport> {
  const weeks = [week, addWeeks(week, -1), addWeeks(week, -4)] as const;
  const [cur, prev, four] = await Promise.all(
    weeks.map(async (w) => {
      const r = weekRange(w, input.tz);
      return weekFigures(input, w, await load(r.fromMs, r.toMs));
    }),
  );
  return {
    store: input.store,
    ...(input.storeName !== undefined ? { name: input.storeName } : {}),
    timeZone: input.tz.name,
    target: { serviceLevel: input.targetServiceLevel, greetWithinS: input.greetWithinS },
    ...cur!,
    compare: { previous: prev!, fourWeeksAgo: four! },
  };
}

/**
 * Stores of a chain for one week: serviceLevel descending (none last), then visits
 * descending, then store id. Ranks are 1-based; equal serviceLevel and visits share one
 * (1, 1, 3).
 */
export function rankStores(week: string, entries: readonly { store: string; figures: WeekFigures }[]): ChainRanking {
  const sl = (e: { figures: WeekFigures }) => e.figures.summary.serviceLevel;
  const sorted = [...entries].sort((a, b) => {
    const x = sl(a);
    const y = sl(b);
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      return y - x;
    }
    return b.figures.summary.visits - a.figures.summary.visits || byId(a.store, b.store);
  });
  const stores: ChainRanking['stores'] = [];
  sorted.forEach((e, i) => {
    const s = e.figures.summary;
    const before = i > 0 ? sorted[i - 1]! : undefined;
    const tied = before !== undefined && sl(before) === s.serviceLevel && before.figures.summary.visits === s.visits;
    stores.push({ rank: tied ? stores[i - 1]!.rank : i + 1, store: e.store, serviceLevel: s.serviceLevel, visits: s.visits, met: s.met, asgS: s.asgS, p50S: s.p50S, p90S: s.p90S });
  });
  return { week, stores };
}

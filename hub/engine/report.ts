import type { Bucket, Report, Visit } from '../../contract/index.ts';
import { WEEKDAYS } from '../../firmware-config/schema.ts';
import type { TimeZone } from './tz.ts';

// CONTRACT.md "Metrics over a period [from, to)": a party belongs to the period of
// its first entry; byHour/byWeekday use store-local time, Monday first.

interface Acc {
  visits: number;
  met: number;
  late: number;
  walkouts: number;
  shortWalkouts: number;
  missed: number;
  ttgSum: number;
  greeted: number;
}

const emptyAcc = (): Acc => ({ visits: 0, met: 0, late: 0, walkouts: 0, shortWalkouts: 0, missed: 0, ttgSum: 0, greeted: 0 });

/** seconds at millisecond precision: the data's own precision */
const sec = (s: number) => Math.round(s * 1000) / 1000;

function add(a: Acc, v: Visit): void {
  switch (v.outcome) {
    case 'met':
      a.met++;
      break;
    case 'late':
      a.late++;
      break;
    case 'walkout':
      a.walkouts++;
      break;
    case 'shortWalkout':
      a.shortWalkouts++;
      break;
    case 'missed':
      a.missed++;
      break;
    case 'pending':
      return;
  }
  a.visits++;
  if ((v.outcome === 'met' || v.outcome === 'late') && v.ttgS !== undefined) {
    a.ttgSum += v.ttgS;
    a.greeted++;
  }
}

function bucket(a: Acc): Bucket {
  const denom = a.visits - a.shortWalkouts;
  return {
    visits: a.visits,
    met: a.met,
    late: a.late,
    walkouts: a.walkouts,
    shortWalkouts: a.shortWalkouts,
    missed: a.missed,
    serviceLevel: denom > 0 ? a.met / denom : null,
    asgS: a.greeted > 0 ? sec(a.ttgSum / a.greeted) : null,
  };
}

/** nearest-rank percentile of an ascending array */
export function nearestRank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export interface ReportInput {
  store: string;
  fromMs: number;
  toMs: number;
  tz: TimeZone;
  /** closed and pending visits; those outside [from, to) are ignored */
  visits: Iterable<Visit>;
  /** times of orphan greets (counted when in [from, to)) */
  orphanTimes?: Iterable<number>;
}

export function buildReport(input: ReportInput): Report {
  const { fromMs, toMs, tz } = input;
  const total = emptyAcc();
  const hours = Array.from({ length: 24 }, emptyAcc);
  const days = Array.from({ length: 7 }, emptyAcc);
  const staff = new Map<string, { greets: number; met: number; ttgSum: number }>();
  const ttgs: number[] = [];
  let pending = 0;
  const seen = new Set<string>();

  for (const v of input.visits) {
    const t = Date.parse(v.entryTime);
    if (!(t >= fromMs && t < toMs) || seen.has(v.party)) continue;
    seen.add(v.party);
    if (v.outcome === 'pending') {
      pending++;
      continue;
    }
    const local = tz.hourWeekday(t);
    add(total, v);
    add(hours[local.hour]!, v);
    add(days[local.weekday]!, v);
    if ((v.outcome === 'met' || v.outcome === 'late') && v.ttgS !== undefined) {
      ttgs.push(v.ttgS);
      if (v.staff !== undefined) {
        const s = staff.get(v.staff) ?? { greets: 0, met: 0, ttgSum: 0 };
        s.greets++;
        if (v.outcome === 'met') s.met++;
        s.ttgSum += v.ttgS;
        staff.set(v.staff, s);
      }
    }
  }
  ttgs.sort((a, b) => a - b);
  let orphanGreets = 0;
  for (const t of input.orphanTimes ?? []) if (t >= fromMs && t < toMs) orphanGreets++;

  const b = bucket(total);
  const byStaff: Report['byStaff'] = {};
  for (const id of [...staff.keys()].sort()) {
    const s = staff.get(id)!;
    byStaff[id] = { greets: s.greets, met: s.met, asgS: s.greets > 0 ? sec(s.ttgSum / s.greets) : null };
  }
  const p50 = nearestRank(ttgs, 50);
  const p90 = nearestRank(ttgs, 90);
  return {
    store: input.store,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    visits: b.visits,
    met: b.met,
    late: b.late,
    walkouts: b.walkouts,
    shortWalkouts: b.shortWalkouts,
    missed: b.missed,
    pending,
    serviceLevel: b.serviceLevel,
    serviceLevelStrict: b.visits > 0 ? b.met / b.visits : null,
    asgS: b.asgS,
    p50S: p50 === null ? null : sec(p50),
    p90S: p90 === null ? null : sec(p90),
    maxS: ttgs.length ? sec(ttgs[ttgs.length - 1]!) : null,
    byHour: hours.map((a, hour) => ({ hour, ...bucket(a) })),
    byWeekday: days.map((a, i) => ({ weekday: WEEKDAYS[i]!, ...bucket(a) })),
    byStaff,
    orphanGreets,
  };
}

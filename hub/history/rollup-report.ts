import type { Bucket, Report } from '../../contract/index.ts';
import { WEEKDAYS } from '../../firmware-config/schema.ts';
import { bucketOf } from '../engine/report.ts';
import type { TimeZone } from '../engine/tz.ts';
import { histPercentile, sumRollups, type HourRollup, type RollupTotals } from './rollup.ts';
import type { PeriodRollups } from '../visit-store.ts';

// The contract's report (CONTRACT.md "Metrics over a period") from hourly rollups, for
// periods older than the raw points are kept: counts exact, asgS to the ms, p50S/p90S/maxS
// as the rollups hold them (whole seconds for the percentiles). A period is the rollup
// hours that start inside it, so its bounds are in effect store-local hours.

const meanS = (sumMs: number, n: number) => (n > 0 ? Math.round(sumMs / n) / 1000 : null);

const bucket = (t: RollupTotals): Bucket => bucketOf(t, meanS(t.ttgSumMs, t.greeted));

export function reportFromRollups(store: string, fromMs: number, toMs: number, tz: TimeZone, r: PeriodRollups): Report {
  const inside = r.hours.filter((h) => h.startMs >= fromMs && h.startMs < toMs);
  const byHour: HourRollup[][] = Array.from({ length: 24 }, () => []);
  const byDay: HourRollup[][] = Array.from({ length: 7 }, () => []);
  for (const h of inside) {
    const { hour, weekday } = tz.hourWeekday(h.startMs);
    byHour[hour]!.push(h);
    byDay[weekday]!.push(h);
  }
  const total = sumRollups(inside);
  const staff = new Map<string, { greets: number; met: number; ttgSumMs: number }>();
  for (const s of r.staff) {
    if (s.startMs < fromMs || s.startMs >= toMs) continue;
    const a = staff.get(s.staff) ?? { greets: 0, met: 0, ttgSumMs: 0 };
    a.greets += s.greets;
    a.met += s.met;
    a.ttgSumMs += s.ttgSumMs;
    staff.set(s.staff, a);
  }
  const byStaff: Report['byStaff'] = {};
  for (const id of [...staff.keys()].sort()) {
    const a = staff.get(id)!;
    byStaff[id] = { greets: a.greets, met: a.met, asgS: meanS(a.ttgSumMs, a.greets) };
  }
  const b = bucket(total);
  return {
    store,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    ...b,
    pending: 0,
    serviceLevelStrict: b.visits > 0 ? b.met / b.visits : null,
    p50S: histPercentile(total.hist, 50),
    p90S: histPercentile(total.hist, 90),
    maxS: total.ttgMaxMs === null ? null : total.ttgMaxMs / 1000,
    byHour: byHour.map((hs, hour) => ({ hour, ...bucket(sumRollups(hs)) })),
    byWeekday: byDay.map((hs, i) => ({ weekday: WEEKDAYS[i]!, ...bucket(sumRollups(hs)) })),
    byStaff,
    // greets no party took are kept as raw greeting points only
    orphanGreets: 0,
  };
}

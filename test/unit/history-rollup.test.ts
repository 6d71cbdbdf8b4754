import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ErrorCodes, GwError, type Visit } from '../../contract/index.ts';
import { buildReport } from '../../hub/engine/report.ts';
import { TimeZone } from '../../hub/engine/tz.ts';
import { weekRange } from '../../hub/history/iso-week.ts';
import { decodeHist, encodeHist, histPercentile, hourStart, rollupVisits, sumRollups, type HourRollup, type StaffHourRollup } from '../../hub/history/rollup.ts';

// Hour rollups hold exactly what a report needs (CONTRACT.md "Metrics over a period"): over
// any whole weeks they give the engine's counts, its asgS to the ms and its percentiles to
// the second, DST weeks included.

const tz = new TimeZone('Europe/Berlin');
const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;

type Outcome = Visit['outcome'];
const outcomes: Outcome[] = ['met', 'met', 'met', 'late', 'walkout', 'shortWalkout', 'missed', 'pending'];

// six Berlin weeks around each DST change of 2026: 2026-W11..W16 (29 March), W41..W46 (25 October)
const seasons = [weekRange({ year: 2026, week: 11 }, tz).fromMs, weekRange({ year: 2026, week: 41 }, tz).fromMs];
const dstChanges = [Date.parse('2026-03-29T01:00:00Z'), Date.parse('2026-10-25T01:00:00Z')];

const recordArb = fc.record({
  // most entries anywhere in the six weeks, some within three hours of the DST change
  entry: fc.oneof(fc.integer({ min: 0, max: 6 * WEEK + 2 * 24 * HOUR }), fc.integer({ min: -3 * HOUR, max: 3 * HOUR }).map((d) => ({ nearDst: d }))),
  outcome: fc.constantFrom(...outcomes),
  // ms-precise TTGs as the engine makes them, and arbitrary doubles
  ttg: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 200_000 }).map((ms) => ms / 1000), fc.double({ min: 0, max: 200, noNaN: true })),
  // a TTG on an outcome that must ignore it
  strayTtg: fc.boolean(),
  staff: fc.constantFrom(undefined, 'anna', 'ben', '7'),
  // a second record of an earlier party (same entry: the id is that of its first `in`)
  dupOf: fc.option(fc.nat(), { freq: 8 }),
});
type Rec = typeof recordArb extends fc.Arbitrary<infer T> ? T : never;

function toVisits(recs: Rec[], season: number): Visit[] {
  const base = seasons[season]!;
  const out: Visit[] = [];
  recs.forEach((r, i) => {
    const dup = r.dupOf !== null && i > 0 ? out[r.dupOf % i]! : undefined;
    const entryMs = typeof r.entry === 'number' ? base - 24 * HOUR + r.entry : dstChanges[season]! + r.entry.nearDst;
    const v: Visit = { store: 's1', party: dup ? dup.party : `p${i}`, outcome: r.outcome, entryTime: dup ? dup.entryTime : new Date(entryMs).toISOString(), size: 1 };
    if (r.ttg !== undefined && (r.outcome === 'met' || r.outcome === 'late' || r.strayTtg)) v.ttgS = r.ttg;
    if (r.staff !== undefined) v.staff = r.staff;
    out.push(v);
  });
  return out;
}

function inRange<T extends { startMs: number }>(rows: readonly T[], fromMs: number, toMs: number): T[] {
  return rows.filter((r) => r.startMs >= fromMs && r.startMs < toMs);
}

function staffTotals(rows: readonly StaffHourRollup[]) {
  const m = new Map<string, { greets: number; met: number; ttgSumMs: number }>();
  for (const r of rows) {
    const a = m.get(r.staff) ?? { greets: 0, met: 0, ttgSumMs: 0 };
    a.greets += r.greets;
    a.met += r.met;
    a.ttgSumMs += r.ttgSumMs;
    m.set(r.staff, a);
  }
  return m;
}

/** the test's own count of greeted parties: first in-range record per party, met/late with a ttgS */
function greetedIn(visits: readonly Visit[], fromMs: number, toMs: number): number {
  const seen = new Set<string>();
  let n = 0;
  for (const v of visits) {
    const t = Date.parse(v.entryTime);
    if (!(t >= fromMs && t < toMs) || seen.has(v.party)) continue;
    seen.add(v.party);
    if ((v.outcome === 'met' || v.outcome === 'late') && v.ttgS !== undefined) n++;
  }
  return n;
}

const meanS = (sumMs: number, n: number) => (n > 0 ? Math.round(sumMs / n) / 1000 : null);

function expectWithinMs(a: number | null, b: number | null): void {
  expect(a === null).toBe(b === null);
  if (a !== null && b !== null) expect(Math.abs(a - b)).toBeLessThanOrEqual(0.001 + 1e-9);
}

describe('hour rollups', () => {
  it('over any whole weeks: the counts, asgS to the ms and percentiles to the second of buildReport', () => {
    fc.assert(
      fc.property(
        fc.array(recordArb, { minLength: 0, maxLength: 150 }),
        fc.integer({ min: 0, max: 1 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        (recs, season, first, len) => {
          const visits = toVisits(recs, season);
          const { hours, staff } = rollupVisits(visits, tz);
          const startWeek = { year: 2026, week: (season === 0 ? 11 : 41) + first };
          const fromMs = weekRange(startWeek, tz).fromMs;
          const toMs = weekRange({ year: 2026, week: startWeek.week + Math.min(len, 6 - first) - 1 }, tz).toMs;

          const rep = buildReport({ store: 's1', fromMs, toMs, tz, visits });
          const t = sumRollups(inRange(hours, fromMs, toMs));
          expect({ visits: t.visits, met: t.met, late: t.late, walkouts: t.walkouts, shortWalkouts: t.shortWalkouts, missed: t.missed }).toEqual({
            visits: rep.visits,
            met: rep.met,
            late: rep.late,
            walkouts: rep.walkouts,
            shortWalkouts: rep.shortWalkouts,
            missed: rep.missed,
          });
          expect(t.greeted).toBe(greetedIn(visits, fromMs, toMs));
          expectWithinMs(meanS(t.ttgSumMs, t.greeted), rep.asgS);
          expect(t.ttgMaxMs === null ? null : t.ttgMaxMs / 1000).toBe(rep.maxS);
          // nearest rank over floored values = floor of nearest rank over exact ones (floor is monotone)
          expect(histPercentile(t.hist, 50)).toBe(rep.p50S === null ? null : Math.floor(rep.p50S));
          expect(histPercentile(t.hist, 90)).toBe(rep.p90S === null ? null : Math.floor(rep.p90S));

          const st = staffTotals(inRange(staff, fromMs, toMs));
          expect([...st.keys()].sort()).toEqual(Object.keys(rep.byStaff).sort());
          for (const [id, s] of st) {
            expect({ greets: s.greets, met: s.met }).toEqual({ greets: rep.byStaff[id]!.greets, met: rep.byStaff[id]!.met });
            expectWithinMs(meanS(s.ttgSumMs, s.greets), rep.byStaff[id]!.asgS);
          }

          // by store-local hour and weekday of each bucket's start: the report's byHour and byWeekday
          const byHour = Array.from({ length: 24 }, () => 0);
          const byDay = Array.from({ length: 7 }, () => 0);
          for (const h of inRange(hours, fromMs, toMs)) {
            const hw = tz.hourWeekday(h.startMs);
            byHour[hw.hour]! += h.visits;
            byDay[hw.weekday]! += h.visits;
          }
          expect(byHour).toEqual(rep.byHour.map((b) => b.visits));
          expect(byDay).toEqual(rep.byWeekday.map((b) => b.visits));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('buckets are store-local hours keyed by their start; a fall-back hour is two buckets', () => {
    const v = (party: string, iso: string, outcome: Outcome, ttgS?: number, staff?: string): Visit => ({
      store: 's1',
      party,
      outcome,
      entryTime: iso,
      size: 1,
      ...(ttgS !== undefined ? { ttgS } : {}),
      ...(staff !== undefined ? { staff } : {}),
    });
    const { hours, staff } = rollupVisits(
      [
        v('a', '2026-10-25T00:10:00Z', 'met', 12.3456, 'anna'), // 02:10 CEST
        v('b', '2026-10-25T00:50:00Z', 'late', 45.0004, 'anna'), // 02:50 CEST
        v('c', '2026-10-25T01:10:00Z', 'met', 0.5, 'ben'), // 02:10 CET
        v('a', '2026-10-25T00:10:00Z', 'walkout'), // a later record of party a: ignored
        v('d', '2026-10-25T01:20:00Z', 'pending'), // pending: nowhere
        v('d', '2026-10-25T01:20:00Z', 'met', 3), // after its pending record: ignored, as report.ts does
        v('e', '2026-10-25T01:30:00Z', 'shortWalkout', 9), // a TTG on a short walkout: not greeted
        v('f', '2026-10-25T01:40:00Z', 'met'), // met without a TTG: not greeted
        v('g', 'not a time', 'met', 1), // in no period, as in report.ts
        v('g', '2026-10-25T01:50:00Z', 'missed'), // so this record of g counts
      ],
      tz,
    );
    expect(hours.map((h) => new Date(h.startMs).toISOString())).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z']);
    expect(hours.map((h) => tz.hourWeekday(h.startMs).hour)).toEqual([2, 2]);
    const [cest, cet] = hours as [HourRollup, HourRollup];
    expect(cest).toEqual({ startMs: cest.startMs, visits: 2, met: 1, late: 1, walkouts: 0, shortWalkouts: 0, missed: 0, greeted: 2, ttgSumMs: 12346 + 45000, ttgMaxMs: 45000, hist: new Map([[12, 1], [45, 1]]) });
    expect(cet).toEqual({ startMs: cet.startMs, visits: 4, met: 2, late: 0, walkouts: 0, shortWalkouts: 1, missed: 1, greeted: 1, ttgSumMs: 500, ttgMaxMs: 500, hist: new Map([[0, 1]]) });
    expect(staff).toEqual([
      { startMs: cest.startMs, staff: 'anna', greets: 2, met: 1, ttgSumMs: 57346 },
      { startMs: cet.startMs, staff: 'ben', greets: 1, met: 1, ttgSumMs: 500 },
    ]);
    expect(hourStart(Date.parse('2026-10-25T00:59:59.999Z'), tz)).toBe(cest.startMs);
    expect(hourStart(Number.NaN, tz)).toBeNaN();
  });

  it('a TTG is floored to the second at ms precision, as the report rounds it', () => {
    // 2.9996 s is 3000 ms: the report says 3 s, so the histogram says 3
    const { hours } = rollupVisits([{ store: 's1', party: 'x', outcome: 'met', entryTime: '2026-01-05T10:00:00Z', size: 1, ttgS: 2.9996 }], tz);
    expect([...hours[0]!.hist]).toEqual([[3, 1]]);
    expect(hours[0]!.ttgSumMs).toBe(3000);
  });

  it('percentiles over a histogram are nearest-rank', () => {
    const h = new Map([
      [1, 2],
      [5, 1],
      [9, 7],
    ]);
    // 10 samples 1,1,5,9…: rank 5 is 9, rank 3 is 5
    expect(histPercentile(h, 50)).toBe(9);
    expect(histPercentile(h, 30)).toBe(5);
    expect(histPercentile(h, 0)).toBe(1);
    expect(histPercentile(h, 100)).toBe(9);
    expect(histPercentile(new Map(), 50)).toBeNull();
  });
});

describe('histogram encoding', () => {
  it('round-trips, seconds ascending', () => {
    expect(encodeHist(new Map([[13, 1], [12, 3]]))).toBe('12:3,13:1');
    expect(encodeHist(new Map())).toBe('');
    expect(decodeHist('')).toEqual(new Map());
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 1, max: 1e9 }))), (pairs) => {
        const h = new Map(pairs);
        expect(decodeHist(encodeHist(h))).toEqual(h);
      }),
    );
  });

  it('refuses anything encodeHist cannot write, as STORE_IO', () => {
    for (const s of ['12', '12:', ':3', '12:0', '12:-1', '-1:2', '1.5:2', '12:3,', ',12:3', '13:1,12:3', '12:3,12:1', '012:3', '12:03', ' 12:3', '12:3 ', 'a:b', '12:3;13:1', '1e3:1', '12:99999999999999999']) {
      let err: unknown;
      try {
        decodeHist(s);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(s)).toBeInstanceOf(GwError);
      expect((err as GwError).code).toBe(ErrorCodes.STORE_IO);
    }
  });
});

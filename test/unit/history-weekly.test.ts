import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Value } from '@sinclair/typebox/value';
import { ChainRanking, WeekFigures, WeeklyReport, type Visit } from '../../contract/index.ts';
import { buildReport } from '../../hub/engine/report.ts';
import { TimeZone } from '../../hub/engine/tz.ts';
import { RANKING_CSV_HEADER, WEEKLY_CSV_HEADER, rankingCsv, weeklyCsv } from '../../hub/history/csv.ts';
import { addWeeks, parseIsoWeek, weekRange, type IsoWeek } from '../../hub/history/iso-week.ts';
import { rollupVisits } from '../../hub/history/rollup.ts';
import { rankStores, ttgOpenFromS, weekFigures, weeklyReport, type PeriodData, type WeeklyInput } from '../../hub/history/weekly.ts';

// The owner's weekly report (CONTRACT.md "Metrics over a period", ISO weeks store-local):
// from raw visits its figures are the engine's; from rollups the same to the ms / second.

const tz = new TimeZone('Europe/Berlin');
const HOUR = 3_600_000;
const input: WeeklyInput = { store: 's1', storeName: 'Main Street', tz, targetServiceLevel: 0.8, greetWithinS: 30 };

function visit(party: string, entryMs: number, outcome: Visit['outcome'], ttgS?: number, staff?: string): Visit {
  return {
    store: 's1',
    party,
    outcome,
    entryTime: new Date(entryMs).toISOString(),
    size: 1,
    ...(ttgS !== undefined ? { ttgS } : {}),
    ...(staff !== undefined ? { staff } : {}),
  };
}

const raw = (visits: Visit[]): PeriodData => ({ kind: 'raw', visits });
const rolled = (visits: Visit[]): PeriodData => ({ kind: 'rollup', ...rollupVisits(visits, tz) });

const SHARED = ['visits', 'met', 'late', 'walkouts', 'shortWalkouts', 'missed', 'serviceLevel', 'serviceLevelStrict', 'asgS', 'p50S', 'p90S', 'maxS'] as const;
const pick = <T extends object, K extends keyof T>(o: T, keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;

const weeks: IsoWeek[] = [parseIsoWeek('2026-W43'), parseIsoWeek('2026-W13'), parseIsoWeek('2026-W47')];
const recordArb = fc.record({
  // from a day before the week to a day after it, some near 02:00 on its Sunday (the DST change)
  at: fc.oneof(fc.double({ min: -1, max: 8, noNaN: true }), fc.double({ min: 6 + 1 / 24, max: 6 + 4 / 24, noNaN: true })),
  outcome: fc.constantFrom<Visit['outcome']>('met', 'met', 'late', 'walkout', 'shortWalkout', 'missed', 'pending'),
  ttg: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 300_000 }).map((ms) => ms / 1000), fc.double({ min: 0, max: 300, noNaN: true })),
  staff: fc.constantFrom(undefined, 'anna', 'ben', '7'),
  dupOf: fc.option(fc.nat(), { freq: 8 }),
});
type Rec = typeof recordArb extends fc.Arbitrary<infer T> ? T : never;
function toVisits(recs: Rec[], w: IsoWeek): Visit[] {
  const from = weekRange(w, tz).fromMs;
  const out: Visit[] = [];
  recs.forEach((r, i) => {
    const dup = r.dupOf !== null && i > 0 ? out[r.dupOf % i]! : undefined;
    const v = visit(dup ? dup.party : `p${i}`, from + Math.floor(r.at * 24 * HOUR), r.outcome, r.outcome === 'met' || r.outcome === 'late' ? r.ttg : undefined, r.staff);
    if (dup) v.entryTime = dup.entryTime;
    out.push(v);
  });
  return out;
}

describe('weekFigures', () => {
  it('from raw visits: the engine report of the week and of each day, exactly; from rollups: the same to the ms and second', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 150 }), fc.constantFrom(...weeks), (recs, w) => {
        const visits = toVisits(recs, w);
        const r = weekRange(w, tz);
        const f = weekFigures(input, w, raw(visits));
        expect(Value.Check(WeekFigures, f)).toBe(true);
        const rep = buildReport({ store: 's1', fromMs: r.fromMs, toMs: r.toMs, tz, visits });
        expect(pick(f.summary, SHARED)).toEqual(pick(rep, SHARED));
        expect(f.staff).toEqual(Object.keys(rep.byStaff).sort().map((staff) => ({ staff, ...rep.byStaff[staff]! })));
        r.days.forEach((d, i) => {
          const day = buildReport({ store: 's1', fromMs: d.fromMs, toMs: d.toMs, tz, visits });
          expect(pick(f.days[i]!, ['visits', 'met', 'late', 'walkouts', 'shortWalkouts', 'missed', 'serviceLevel', 'asgS'])).toEqual(
            pick(day, ['visits', 'met', 'late', 'walkouts', 'shortWalkouts', 'missed', 'serviceLevel', 'asgS']),
          );
          // the grid row of a day is that day's byHour
          expect(f.grid.slice(i * 24, i * 24 + 24).map((c) => [c.visits, c.serviceLevel])).toEqual(day.byHour.map((b) => [b.visits, b.serviceLevel]));
        });
        expect(f.ttg.counts.reduce((a, b) => a + b, 0)).toBe(f.summary.greeted);

        // rollups of the same visits (a store keeps them for every hour, in and out of the week)
        const g = weekFigures(input, w, rolled(visits));
        expect(g.source).toBe('rollup');
        const exact = ['visits', 'met', 'late', 'walkouts', 'shortWalkouts', 'missed', 'serviceLevel', 'serviceLevelStrict', 'maxS', 'greeted'] as const;
        expect(pick(g.summary, exact)).toEqual(pick(f.summary, exact));
        expect(g.summary.p50S).toBe(f.summary.p50S === null ? null : Math.floor(f.summary.p50S));
        expect(g.summary.p90S).toBe(f.summary.p90S === null ? null : Math.floor(f.summary.p90S));
        const near = (a: number | null, b: number | null) => (a === null || b === null ? a === b : Math.abs(a - b) <= 0.001 + 1e-9);
        expect(near(g.summary.asgS, f.summary.asgS)).toBe(true);
        expect(g.days.map((d) => ({ ...d, asgS: null }))).toEqual(f.days.map((d) => ({ ...d, asgS: null })));
        g.days.forEach((d, i) => expect(near(d.asgS, f.days[i]!.asgS)).toBe(true));
        expect(g.grid).toEqual(f.grid);
        expect(g.ttg).toEqual(f.ttg);
        expect(g.staff.map((s) => ({ ...s, asgS: null }))).toEqual(f.staff.map((s) => ({ ...s, asgS: null })));
        g.staff.forEach((s, i) => expect(near(s.asgS, f.staff[i]!.asgS)).toBe(true));
        expect({ ...g, source: 'raw', summary: null, days: null, staff: null }).toEqual({ ...f, summary: null, days: null, staff: null });
      }),
      { numRuns: 300 },
    );
  });

  it('days: service level against the target, null without a denominator', () => {
    const w = parseIsoWeek('2026-W47');
    const [mon, tue, wed, thu] = weekRange(w, tz).days.map((d) => d.fromMs + 10 * HOUR);
    const visits = [
      // Monday: 4 met of 5 = 0.8, meets 0.8 exactly
      ...[0, 1, 2, 3].map((i) => visit(`m${i}`, mon! + i, 'met', 10)),
      visit('m4', mon! + 4, 'late', 40),
      // Tuesday: 3 of 5 plus a short walkout (not in the denominator): 0.6
      ...[0, 1, 2].map((i) => visit(`t${i}`, tue! + i, 'met', 10)),
      visit('t3', tue! + 3, 'walkout'),
      visit('t4', tue! + 4, 'missed'),
      visit('t5', tue! + 5, 'shortWalkout'),
      // Wednesday: only a short walkout; Thursday: only a pending party
      visit('w0', wed!, 'shortWalkout'),
      visit('h0', thu!, 'pending'),
    ];
    for (const data of [raw(visits), rolled(visits)]) {
      const f = weekFigures(input, w, data);
      expect(f.days.map((d) => [d.date, d.weekday, d.serviceLevel, d.meetsTarget])).toEqual([
        ['2026-11-16', 'mon', 0.8, true],
        ['2026-11-17', 'tue', 0.6, false],
        ['2026-11-18', 'wed', null, null],
        ['2026-11-19', 'thu', null, null],
        ['2026-11-20', 'fri', null, null],
        ['2026-11-21', 'sat', null, null],
        ['2026-11-22', 'sun', null, null],
      ]);
      expect(f.days[1]).toMatchObject({ visits: 6, met: 3, walkouts: 1, missed: 1, shortWalkouts: 1, asgS: 10 });
      expect(f.summary).toMatchObject({ visits: 12, met: 7, late: 1, greeted: 8, serviceLevel: 7 / 10, serviceLevelStrict: 7 / 12, asgS: 13.75, maxS: 40 });
      expect(f.week).toBe('2026-W47');
      expect([f.from, f.to]).toEqual(['2026-11-15T23:00:00.000Z', '2026-11-22T23:00:00.000Z']);
    }
  });

  it('grid: 168 cells, weekday × store-local hour; the DST week adds a repeated hour and keeps a skipped one at 0', () => {
    const fall = parseIsoWeek('2026-W43');
    const sunday = weekRange(fall, tz).days[6]!;
    expect(sunday.toMs - sunday.fromMs).toBe(25 * HOUR);
    const visits = [
      visit('a', Date.parse('2026-10-25T00:30:00Z'), 'met', 5), // 02:30 CEST
      visit('b', Date.parse('2026-10-25T01:30:00Z'), 'late', 50), // 02:30 CET
      visit('c', Date.parse('2026-10-25T22:59:59.999Z'), 'met', 1), // Sunday 23:59:59.999 CET
      visit('d', Date.parse('2026-10-25T23:00:00Z'), 'met', 1), // next Monday: not this week
    ];
    for (const data of [raw(visits), rolled(visits)]) {
      const f = weekFigures(input, fall, data);
      expect(f.grid).toHaveLength(168);
      expect(f.grid.slice(0, 3).map((c) => [c.weekday, c.hour])).toEqual([
        ['mon', 0],
        ['mon', 1],
        ['mon', 2],
      ]);
      expect(f.grid.at(-1)).toMatchObject({ weekday: 'sun', hour: 23, visits: 1, serviceLevel: 1 });
      expect(f.grid[6 * 24 + 2]).toEqual({ weekday: 'sun', hour: 2, visits: 2, serviceLevel: 0.5 });
      expect(f.grid.reduce((n, c) => n + c.visits, 0)).toBe(3);
      expect(f.days[6]).toMatchObject({ date: '2026-10-25', weekday: 'sun', visits: 3, met: 2, late: 1 });
    }
    const spring = parseIsoWeek('2026-W13');
    const f = weekFigures(input, spring, raw([visit('a', Date.parse('2026-03-29T00:59:00Z'), 'met', 1), visit('b', Date.parse('2026-03-29T01:00:00Z'), 'met', 1)]));
    expect(f.grid.slice(6 * 24 + 1, 6 * 24 + 4).map((c) => c.visits)).toEqual([1, 0, 1]); // 01:59 CET, no 02:00, 03:00 CEST
    expect(f.grid[6 * 24 + 2]!.serviceLevel).toBeNull();
  });

  it('TTG distribution: 5 s buckets up to 4 × greetWithinS, the last open-ended', () => {
    const w = parseIsoWeek('2026-W47');
    const t0 = weekRange(w, tz).fromMs + 10 * HOUR;
    const ttgs = [0, 4.999, 5, 29.9, 119.999, 120, 500];
    const visits = ttgs.map((s, i) => visit(`p${i}`, t0 + i, i % 2 ? 'late' : 'met', s));
    const f = weekFigures(input, w, raw(visits));
    expect(f.ttg.bucketS).toBe(5);
    expect(f.ttg.openFromS).toBe(120);
    expect(f.ttg.counts).toHaveLength(25);
    const expected = new Array<number>(25).fill(0);
    expected[0] = 2;
    expected[1] = 1;
    expected[5] = 1;
    expected[23] = 1;
    expected[24] = 2;
    expect(f.ttg.counts).toEqual(expected);
    expect(weekFigures({ ...input, greetWithinS: 12 }, w, raw(visits)).ttg).toMatchObject({ openFromS: 50, counts: [2, 1, 0, 0, 0, 1, 0, 0, 0, 0, 3] });
    expect([ttgOpenFromS(30), ttgOpenFromS(12), ttgOpenFromS(0), ttgOpenFromS(Number.NaN)]).toEqual([120, 50, 5, 5]);
  });
});

describe('weeklyReport', () => {
  it('loads this week, the week before and four weeks before, in parallel, each over its own range', async () => {
    const w = parseIsoWeek('2026-W44'); // the week after the DST change: week−1 is 169 h
    const t = weekRange(w, tz).fromMs + 12 * HOUR;
    const byRange = new Map<string, Visit[]>([
      [`${weekRange(w, tz).fromMs}`, [visit('a', t, 'met', 3, 'anna')]],
      [`${weekRange(addWeeks(w, -1), tz).fromMs}`, [visit('b', t - 7 * 24 * HOUR, 'late', 33), visit('c', t - 7 * 24 * HOUR + 1, 'met', 3)]],
    ]);
    const calls: [number, number][] = [];
    const release: (() => void)[] = [];
    const load = (fromMs: number, toMs: number) => {
      calls.push([fromMs, toMs]);
      return new Promise<PeriodData>((resolve) => release.push(() => resolve(raw(byRange.get(`${fromMs}`) ?? []))));
    };
    const p = weeklyReport(input, w, load);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    // all three asked before any answered
    expect(calls).toHaveLength(3);
    const range = (x: IsoWeek) => {
      const r = weekRange(x, tz);
      return [r.fromMs, r.toMs];
    };
    expect(calls).toEqual([range(w), range(parseIsoWeek('2026-W43')), range(parseIsoWeek('2026-W40'))]);
    expect((calls[1]![1] - calls[1]![0]) / HOUR).toBe(169);
    for (const r of release) r();
    const rep = await p;
    expect(Value.Check(WeeklyReport, rep)).toBe(true);
    expect(rep).toMatchObject({ store: 's1', name: 'Main Street', timeZone: 'Europe/Berlin', target: { serviceLevel: 0.8, greetWithinS: 30 }, week: '2026-W44', source: 'raw' });
    expect(rep.summary).toMatchObject({ visits: 1, met: 1, serviceLevel: 1 });
    expect(rep.staff).toEqual([{ staff: 'anna', greets: 1, met: 1, asgS: 3 }]);
    expect(rep.compare.previous).toMatchObject({ week: '2026-W43', summary: { visits: 2, met: 1, late: 1, serviceLevel: 0.5, asgS: 18 } });
    expect(rep.compare.fourWeeksAgo).toMatchObject({ week: '2026-W40', summary: { visits: 0, serviceLevel: null, asgS: null, p50S: null } });
    expect(rep.compare.fourWeeksAgo.days).toHaveLength(7);

    const noName = await weeklyReport({ store: 's1', tz, targetServiceLevel: 0.8, greetWithinS: 30 }, w, async () => ({ kind: 'rollup', hours: [], staff: [] }));
    expect('name' in noName).toBe(false);
    expect(noName.source).toBe('rollup');
  });
});

/** RFC 4180 reader for the checks: fields, quoted or not, records ending CRLF */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let f = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"' && text[i + 1] === '"') {
          f += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else f += text[i++];
      }
    } else while (i < text.length && text[i] !== ',' && text[i] !== '\r') f += text[i++];
    row.push(f);
    if (text[i] === ',') i++;
    else if (text.startsWith('\r\n', i)) {
      rows.push(row);
      row = [];
      i += 2;
    } else throw new Error(`bad CSV at ${i}`);
  }
  return rows;
}

describe('CSV', () => {
  const w = parseIsoWeek('2026-W47');
  const t0 = weekRange(w, tz).fromMs + 10 * HOUR;
  const visits = [visit('a', t0, 'met', 4.5, 'anna'), visit('b', t0 + 1, 'late', 61, 'ben'), visit('c', t0 + 2, 'shortWalkout')];

  it('weekly: one long table, sections per week, RFC 4180', async () => {
    const rep = await weeklyReport(input, w, async (from) => raw(from === weekRange(w, tz).fromMs ? visits : []));
    const csv = weeklyCsv(rep);
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.replaceAll('\r\n', '')).not.toMatch(/[\r\n]/);
    const rows = parseCsv(csv);
    expect(rows[0]).toEqual([...WEEKLY_CSV_HEADER]);
    expect(rows[0]!.join(',')).toBe('week,section,date,weekday,hour,staff,bucket_s,visits,met,late,walkouts,short_walkouts,missed,greets,service_level,asg_s,p50_s,p90_s,max_s');
    for (const r of rows) expect(r).toHaveLength(WEEKLY_CSV_HEADER.length);
    const count = (week: string, section: string) => rows.filter((r) => r[0] === week && r[1] === section).length;
    for (const [week, staff] of [['2026-W47', 2], ['2026-W46', 0], ['2026-W43', 0]] as const) {
      expect([count(week, 'summary'), count(week, 'day'), count(week, 'grid'), count(week, 'ttg'), count(week, 'staff')]).toEqual([1, 7, 168, 25, staff]);
    }
    expect(rows).toHaveLength(1 + 3 * (1 + 7 + 168 + 25) + 2);
    // this week first, then the previous, then four weeks ago
    expect([...new Set(rows.slice(1).map((r) => r[0]))]).toEqual(['2026-W47', '2026-W46', '2026-W43']);
    const col = (r: string[], c: (typeof WEEKLY_CSV_HEADER)[number]) => r[WEEKLY_CSV_HEADER.indexOf(c)];
    const summary = rows.find((r) => r[1] === 'summary')!;
    expect([col(summary, 'visits'), col(summary, 'met'), col(summary, 'greets'), col(summary, 'service_level'), col(summary, 'asg_s'), col(summary, 'max_s'), col(summary, 'date')]).toEqual(['3', '1', '2', '0.5', '32.75', '61', '']);
    const empty = rows.find((r) => r[0] === '2026-W46' && r[1] === 'summary')!;
    expect([col(empty, 'service_level'), col(empty, 'asg_s'), col(empty, 'p50_s')]).toEqual(['', '', '']);
    const cell = rows.find((r) => r[0] === '2026-W47' && r[1] === 'grid' && r[3] === 'mon' && r[4] === '10')!;
    expect([col(cell, 'date'), col(cell, 'visits'), col(cell, 'service_level')]).toEqual(['2026-11-16', '3', '0.5']);
    const ttg = rows.filter((r) => r[0] === '2026-W47' && r[1] === 'ttg');
    expect(ttg.map((r) => col(r, 'bucket_s'))).toEqual(Array.from({ length: 25 }, (_, i) => String(i * 5)));
    expect(ttg.map((r) => col(r, 'greets')).filter((n) => n !== '0')).toEqual(['1', '1']);
    expect(rows.filter((r) => r[1] === 'staff').map((r) => [col(r, 'staff'), col(r, 'greets'), col(r, 'met'), col(r, 'asg_s')])).toEqual([
      ['anna', '1', '1', '4.5'],
      ['ben', '1', '0', '61'],
    ]);
  });

  it('quotes what needs quoting and defuses formulas in text', async () => {
    const rep = await weeklyReport(input, w, async () => raw([]));
    // ids cannot hold these (contract Id pattern), but the CSV must not trust that
    rep.staff = [
      { staff: '=HYPERLINK("x"),y', greets: 1, met: 1, asgS: 1 },
      { staff: '+1', greets: 1, met: -1, asgS: -0.5 },
      { staff: 'a\nb', greets: 1, met: 1, asgS: null },
      { staff: '@x', greets: 1, met: 1, asgS: null },
      { staff: '-x', greets: 1, met: 1, asgS: null },
    ];
    const csv = weeklyCsv(rep);
    expect(csv).toContain(`,"'=HYPERLINK(""x""),y",`);
    // numbers are numbers: -1 and -0.5 stay as they are
    expect(csv).toContain(`,'+1,,,-1,,,,,1,,-0.5,,,\r\n`);
    expect(csv).toContain(`,"a\nb",`);
    const staff = parseCsv(csv).filter((r) => r[1] === 'staff').map((r) => r[5]);
    expect(staff).toEqual([`'=HYPERLINK("x"),y`, `'+1`, 'a\nb', `'@x`, `'-x`]);
  });

  it('ranking', () => {
    const f = weekFigures(input, w, raw(visits));
    const r = rankStores('2026-W47', [
      { store: 's2', figures: f },
      { store: '=s', figures: { ...f, summary: { ...f.summary, serviceLevel: null } } },
    ]);
    expect(Value.Check(ChainRanking, { ...r, stores: r.stores.filter((s) => s.store !== '=s') })).toBe(true);
    const rows = parseCsv(rankingCsv(r));
    expect(rows).toEqual([
      [...RANKING_CSV_HEADER],
      ['2026-W47', '1', 's2', '0.5', '3', '1', '32.75', '4.5', '61'],
      ['2026-W47', '2', `'=s`, '', '3', '1', '32.75', '4.5', '61'],
    ]);
  });
});

describe('rankStores', () => {
  const base = weekFigures(input, parseIsoWeek('2026-W47'), raw([]));
  const fig = (serviceLevel: number | null, visits: number) => ({ ...base, summary: { ...base.summary, serviceLevel, visits, met: serviceLevel === null ? 0 : Math.round(serviceLevel * visits) } });

  it('service level descending, none last; then visits descending, then store id; equal ones share a rank', () => {
    const r = rankStores('2026-W47', [
      { store: 'n10', figures: fig(null, 10) },
      { store: 'b', figures: fig(0.9, 100) },
      { store: 'c50', figures: fig(0.9, 50) },
      { store: 'a', figures: fig(0.9, 100) },
      { store: 'top', figures: fig(0.95, 5) },
      { store: 'n20', figures: fig(null, 20) },
      { store: 'zero', figures: fig(0, 40) },
      { store: 'm20', figures: fig(null, 20) },
    ]);
    expect(r.week).toBe('2026-W47');
    expect(r.stores.map((s) => [s.rank, s.store])).toEqual([
      [1, 'top'],
      [2, 'a'],
      [2, 'b'],
      [4, 'c50'],
      [5, 'zero'],
      [6, 'm20'],
      [6, 'n20'],
      [8, 'n10'],
    ]);
    expect(r.stores[1]).toEqual({ rank: 2, store: 'a', serviceLevel: 0.9, visits: 100, met: 90, asgS: null, p50S: null, p90S: null });
    expect(Value.Check(ChainRanking, r)).toBe(true);
    expect(rankStores('2026-W47', [])).toEqual({ week: '2026-W47', stores: [] });
  });
});

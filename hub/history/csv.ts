import type { ChainRanking, WeekFigures, WeeklyReport } from '../../contract/index.ts';

// CSV exports of history reports: RFC 4180 (CRLF line ends, fields quoted when they hold a
// comma, a quote or a line break). Numbers as JavaScript writes them (service level as a
// fraction), null as an empty field. Text that a spreadsheet would run as a formula
// (starting = + - @, tab or CR) gets a leading single quote.

export const WEEKLY_CSV_HEADER = [
  'week',
  'section',
  'date',
  'weekday',
  'hour',
  'staff',
  'bucket_s',
  'visits',
  'met',
  'late',
  'walkouts',
  'short_walkouts',
  'missed',
  'greets',
  'service_level',
  'asg_s',
  'p50_s',
  'p90_s',
  'max_s',
] as const;

export const RANKING_CSV_HEADER = ['week', 'rank', 'store', 'service_level', 'visits', 'met', 'asg_s', 'p50_s', 'p90_s'] as const;

type Column = (typeof WEEKLY_CSV_HEADER)[number];
type Row = Partial<Record<Column, string | number | null>>;

/** a text cell: defused against formula injection */
export function csvText(s: string): string {
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

function field(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? String(v) : csvText(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function table(header: readonly string[], rows: readonly Record<string, string | number | null | undefined>[]): string {
  const lines = [header.join(','), ...rows.map((r) => header.map((c) => field(r[c])).join(','))];
  return lines.map((l) => `${l}\r\n`).join('');
}

function weekRows(f: WeekFigures): Row[] {
  const rows: Row[] = [];
  const s = f.summary;
  rows.push({
    week: f.week,
    section: 'summary',
    visits: s.visits,
    met: s.met,
    late: s.late,
    walkouts: s.walkouts,
    short_walkouts: s.shortWalkouts,
    missed: s.missed,
    greets: s.greeted,
    service_level: s.serviceLevel,
    asg_s: s.asgS,
    p50_s: s.p50S,
    p90_s: s.p90S,
    max_s: s.maxS,
  });
  for (const d of f.days) {
    rows.push({
      week: f.week,
      section: 'day',
      date: d.date,
      weekday: d.weekday,
      visits: d.visits,
      met: d.met,
      late: d.late,
      walkouts: d.walkouts,
      short_walkouts: d.shortWalkouts,
      missed: d.missed,
      service_level: d.serviceLevel,
      asg_s: d.asgS,
    });
  }
  const dateOf = new Map(f.days.map((d) => [d.weekday, d.date]));
  for (const c of f.grid) {
    rows.push({ week: f.week, section: 'grid', date: dateOf.get(c.weekday), weekday: c.weekday, hour: c.hour, visits: c.visits, service_level: c.serviceLevel });
  }
  f.ttg.counts.forEach((n, i) => rows.push({ week: f.week, section: 'ttg', bucket_s: i * f.ttg.bucketS, greets: n }));
  for (const st of f.staff) rows.push({ week: f.week, section: 'staff', staff: st.staff, met: st.met, greets: st.greets, asg_s: st.asgS });
  return rows;
}

/**
 * The weekly report as one long table: sections summary, day, grid (with the date of its
 * weekday), ttg (bucket_s = the bucket's lower bound, the count in `greets`; the last bucket
 * is open-ended) and staff, for this week, then the previous week, then four weeks ago.
 */
export function weeklyCsv(r: WeeklyReport): string {
  return table(WEEKLY_CSV_HEADER, [...weekRows(r), ...weekRows(r.compare.previous), ...weekRows(r.compare.fourWeeksAgo)]);
}

export function rankingCsv(r: ChainRanking): string {
  return table(
    RANKING_CSV_HEADER,
    r.stores.map((s) => ({ week: r.week, rank: s.rank, store: s.store, service_level: s.serviceLevel, visits: s.visits, met: s.met, asg_s: s.asgS, p50_s: s.p50S, p90_s: s.p90S })),
  );
}

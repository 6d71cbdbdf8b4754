// (h) history: one store's year through the real InfluxDB history store (npx tsx bench/history.ts
// [--quick] [--json <file>] [--runs 20] [--settle <minutes>]; npm run bench runs it as section (h)).
//
// Measures, never asserts:
//   - write throughput of hub/influx-store.ts into a real local influxd (temp dir, free port):
//     raw points/s (visits and their greetings) from the first write() to backlog 0, and the
//     requests made (raw writes, rollup writes, rollup hours recomputed). Two ways: the whole
//     history in one write() (the headline: batches of 5,000 as the store cuts them), and one
//     write() per day, each flushed at once (small batches, as a hub's once-a-second flush
//     writes them; flushed so the bench does not wait out flushMs 365 times);
//   - the reports, repeated: the weekly report of the last complete ISO week from raw points and
//     from rollups (weeklyReport loads three weeks: this one, −1 and −4), and the contract report
//     over the whole history from raw (buildReport over store.query) and from rollups
//     (reportFromRollups over store.rollups). Timed at function level, InfluxDB query included
//     (the headline); once more over real HTTP through a hub on loopback;
//   - raw points per year, InfluxDB's data dir on disk after the writes (nothing forced: what is
//     still in the WAL is counted as WAL; --settle <minutes> waits for influxd to snapshot its
//     cold caches to TSM, 10 min without writes, and measures again), bytes per visit, and the
//     capacity arithmetic for 1,000 stores, extrapolated linearly from this one store.
// The history is built as contract Visit objects (seeded, plausible; the engine is benchmarked in
// (a)); it ends at today's local midnight, so no point is beyond a retention policy's reach
// (the store is opened with raw and rollup retention INF anyway). --quick: 8 weeks instead of a year.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { ulid } from 'ulid';
import type { Report, Visit, WeeklyReport } from '../contract/index.ts';
import { StoreConfig } from '../firmware-config/schema.ts';
import { buildReport } from '../hub/engine/report.ts';
import { TimeZone } from '../hub/engine/tz.ts';
import { startHub } from '../hub/hub.ts';
import { addWeeks, formatIsoWeek, isoWeekOf, weekRange, type IsoWeek } from '../hub/history/iso-week.ts';
import { reportFromRollups } from '../hub/history/rollup-report.ts';
import { rollupVisits } from '../hub/history/rollup.ts';
import { RP_RAW, RP_ROLLUP } from '../hub/history/schema.ts';
import { weeklyReport, type PeriodData, type WeeklyInput } from '../hub/history/weekly.ts';
import { influxVisitStore, type InfluxStoreStats, type InfluxVisitStore } from '../hub/influx-store.ts';
import { findInfluxd, startInfluxd, type ManagedInfluxd } from '../hub/influxd.ts';
import { mulberry32 } from '../scripts/shopper-sim.ts';
import { atExit, runCleanups, stopOnInterrupt } from './procs.ts';

const STORE = 's';
const ZONE = 'Europe/Berlin';
const STAFF = ['anna', 'ben', 'carla', 'dev', 'emil'] as const;
const OPEN_H = 9;
const CLOSE_H = 20;
const HOUR = 3_600_000;
const TARGET_SL = 0.8;
const GREET_WITHIN_S = 30;
/** targets the README names for a store's reports (measured against, never asserted) */
const TARGET_WEEKLY_MS = 50;
const TARGET_YEAR_MS = 200;
const RUNS = 20;
const WARMUPS = 2;
const HTTP_RUNS = 5;
const DB_BULK = 'bench_bulk';
const DB_DAILY = 'bench_daily';
const silent = pino({ level: 'silent' });

// ---------------------------------------------------------------------------
// the history: one store, Mon–Sat 09:00–20:00 Europe/Berlin

export interface GeneratedHistory {
  days: number;
  openDays: number;
  fromMs: number;
  toMs: number;
  /** per open day, entry order */
  byDay: Visit[][];
  visits: Visit[];
  /** visits with a greeting point (greetTime) */
  greetings: number;
  outcomes: Record<Visit['outcome'], number>;
}

/** a closed day besides Sundays (fixed-date public holidays) */
const HOLIDAYS = new Set(['01-01', '05-01', '10-03', '12-25', '12-26']);

/** arrivals per hour, relative: a lunch bump and an after-work peak */
const intensity = (h: number) => 0.6 + 0.5 * Math.exp(-(((h - 12.5) / 1.2) ** 2)) + 0.9 * Math.exp(-(((h - 17.3) / 1.4) ** 2));
const INTENSITY_MAX = 1.6;
const INTENSITY_MEAN = (() => {
  let s = 0;
  for (let i = 0; i < 1100; i++) s += intensity(OPEN_H + (i + 0.5) / 100);
  return s / 1100;
})();

export function generateHistory(days: number, nowMs: number, seed = 2026): GeneratedHistory {
  const rng = mulberry32(seed);
  const tz = new TimeZone(ZONE);
  const gauss = () => {
    const u = Math.max(1e-12, rng());
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
  };
  const today = tz.parts(nowMs);
  const toMs = tz.fromLocal(today.year, today.month, today.day);
  const fromDate = new Date(Date.UTC(today.year, today.month - 1, today.day - days));
  const fromMs = tz.fromLocal(fromDate.getUTCFullYear(), fromDate.getUTCMonth() + 1, fromDate.getUTCDate());
  const byDay: Visit[][] = [];
  const outcomes: Record<Visit['outcome'], number> = { met: 0, late: 0, walkout: 0, shortWalkout: 0, missed: 0, pending: 0 };
  let greetings = 0;
  const iso = (ms: number) => new Date(ms).toISOString();
  for (let i = days; i >= 1; i--) {
    const d = new Date(Date.UTC(today.year, today.month - 1, today.day - i));
    const weekday = (d.getUTCDay() + 6) % 7; // 0 = Monday
    const mmdd = d.toISOString().slice(5, 10);
    if (weekday === 6 || HOLIDAYS.has(mmdd)) continue;
    // Mon–Sat never hold a DST change (Sundays 02:00/03:00): one UTC offset all day
    const dayStart = tz.fromLocal(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
    const month = d.getUTCMonth() + 1;
    const season = month === 12 ? 1.25 : month === 11 ? 1.08 : month === 1 ? 0.9 : month === 7 || month === 8 ? 0.92 : 1;
    const base = [130, 135, 140, 145, 160, 215][weekday]!;
    const n = Math.max(20, Math.round(base * season * (0.85 + 0.3 * rng())));
    // 3–5 on shift, at least 4 on a Saturday
    const shift = [...STAFF].sort(() => rng() - 0.5).slice(0, weekday === 5 ? 4 + Math.floor(rng() * 2) : 3 + Math.floor(rng() * 3));
    const load = n / shift.length;
    const entries: number[] = [];
    while (entries.length < n) {
      const h = OPEN_H + rng() * (CLOSE_H - OPEN_H);
      if (rng() * INTENSITY_MAX <= intensity(h)) entries.push(dayStart + Math.floor(h * HOUR));
    }
    entries.sort((a, b) => a - b);
    const day: Visit[] = [];
    for (const entry of entries) {
      const h = OPEN_H + (entry - dayStart) / HOUR;
      const busy = intensity(h) / INTENSITY_MEAN;
      const r = rng();
      const size = r < 0.72 ? 1 : r < 0.94 ? 2 : 3;
      const v: Visit = { store: STORE, party: ulid(entry, rng), outcome: 'met', entryTime: iso(entry), size };
      const u = rng();
      if (u < 0.03) {
        const mark = entry + 1000 + Math.floor(rng() * 4000); // within shortAbandonS (5 s)
        Object.assign(v, { outcome: 'shortWalkout', markTime: iso(mark), closedTime: iso(mark) });
      } else if (u < 0.065) {
        const mark = entry + 6000 + Math.floor(Math.min(580_000, -Math.log(Math.max(1e-9, rng())) * 70_000));
        Object.assign(v, { outcome: 'walkout', markTime: iso(mark), closedTime: iso(mark) });
        if (rng() < 0.3) v.breachTime = iso(entry + Math.floor((mark - entry) * rng()));
      } else if (u < 0.085) {
        Object.assign(v, { outcome: 'missed', closedTime: iso(entry + 600_000) }); // expireS
        if (rng() < 0.4) v.breachTime = iso(entry + 5000 + Math.floor(rng() * 200_000));
      } else {
        // late more often when each person on shift has more parties, and in the peaks
        const pLate = Math.min(0.4, Math.max(0.04, (0.03 + 0.0035 * load) * busy));
        let ttgMs: number;
        let breach: number | undefined;
        if (rng() < pLate) {
          if (rng() < 0.3) {
            // walked past the steps line first: late even when greeted within 30 s
            ttgMs = 8000 + Math.floor(rng() * 22_000);
            breach = entry + Math.floor(ttgMs * (0.3 + 0.6 * rng()));
          } else ttgMs = 30_001 + Math.floor(rng() ** 1.6 * 60_000); // up to 90 s
          v.outcome = 'late';
        } else {
          ttgMs = Math.round(Math.min(30_000, Math.max(2000, Math.exp(Math.log(10_500) + 0.5 * gauss()))));
        }
        const greet = entry + ttgMs;
        v.greetTime = iso(greet);
        v.ttgS = ttgMs / 1000;
        if (rng() < 0.95) v.staff = shift[Math.floor(rng() * shift.length)]!; // else the counter button
        if (breach !== undefined) v.breachTime = iso(breach);
        v.closedTime = iso(Math.max(entry + 3000, greet)); // groupWindowS
        greetings++;
      }
      outcomes[v.outcome]++;
      day.push(v);
    }
    byDay.push(day);
  }
  const visits = byDay.flat();
  return { days, openDays: byDay.length, fromMs, toMs, byDay, visits, greetings, outcomes };
}

// ---------------------------------------------------------------------------
// helpers

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}
const fmtInt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ms = () => performance.now();

/** allocated (du) and apparent bytes of everything under `dir` */
function diskUsage(dir: string): { bytes: number; apparent: number } {
  let bytes = 0;
  let apparent = 0;
  const walk = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    } else {
      bytes += st.blocks * 512;
      apparent += st.size;
    }
  };
  walk(dir);
  return { bytes, apparent };
}

interface DbDisk {
  /** data/<db>/<rp> (TSM) and wal/<db>/<rp>, allocated bytes */
  raw: { tsm: number; wal: number };
  rollup: { tsm: number; wal: number };
  total: number;
  apparent: number;
}

function dbDisk(influxDir: string, db: string): DbDisk {
  const part = (kind: 'data' | 'wal', rp: string) => diskUsage(path.join(influxDir, kind, db, rp));
  const raw = { tsm: part('data', RP_RAW).bytes, wal: part('wal', RP_RAW).bytes };
  const rollup = { tsm: part('data', RP_ROLLUP).bytes, wal: part('wal', RP_ROLLUP).bytes };
  const all = [diskUsage(path.join(influxDir, 'data', db)), diskUsage(path.join(influxDir, 'wal', db))];
  return { raw, rollup, total: all[0]!.bytes + all[1]!.bytes, apparent: all[0]!.apparent + all[1]!.apparent };
}

export interface Timing {
  runs: number;
  p50Ms: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
  /** rows read from InfluxDB per run (visits, or hour + staff rollup rows) */
  rows: number;
  /** the InfluxDB query's part (p50), when measured apart */
  queryP50Ms?: number;
}

/** `runs` timed calls after `warmups`; fn returns rows read and, optionally, the query's ms */
async function repeat(runs: number, warmups: number, fn: () => Promise<{ rows: number; queryMs?: number }>): Promise<Timing> {
  for (let i = 0; i < warmups; i++) await fn();
  const t: number[] = [];
  const q: number[] = [];
  let rows = 0;
  for (let i = 0; i < runs; i++) {
    const a = ms();
    const r = await fn();
    t.push(ms() - a);
    rows = r.rows;
    if (r.queryMs !== undefined) q.push(r.queryMs);
  }
  t.sort((a, b) => a - b);
  q.sort((a, b) => a - b);
  return { runs, p50Ms: percentile(t, 50), p95Ms: percentile(t, 95), minMs: t[0]!, maxMs: t[t.length - 1]!, rows, ...(q.length ? { queryP50Ms: percentile(q, 50) } : {}) };
}

// ---------------------------------------------------------------------------
// writes

export interface WriteFigures {
  mode: string;
  /** raw points handed to write(): visits + greetings */
  points: number;
  seconds: number;
  pointsPerS: number;
  visitsPerS: number;
  stats: InfluxStoreStats;
  /** raw + rollup writes (each rollup write follows one raw query of its hours) */
  requests: number;
}

async function openStore(url: string, database: string, spoolDir: string): Promise<InfluxVisitStore> {
  return influxVisitStore({ url, database, spoolDir, timeZone: ZONE, retention: { raw: 'INF', rollups: 'INF' }, log: silent });
}

async function untilDrained(store: InfluxVisitStore, timeoutMs = 600_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (store.stats().backlog > 0) {
    if (Date.now() > end) throw new Error(`history bench: backlog still ${store.stats().backlog} after ${timeoutMs / 1000} s`);
    await sleep(20);
  }
}

async function measureWrite(store: InfluxVisitStore, h: GeneratedHistory, mode: 'bulk' | 'daily'): Promise<WriteFigures> {
  const points = h.visits.length + h.greetings;
  const a = ms();
  if (mode === 'bulk') {
    await store.write(h.visits);
  } else {
    // one write per day; flush() sends it now instead of after flushMs
    for (const day of h.byDay) await Promise.all([store.write(day), store.flush()]);
  }
  await store.flush();
  await untilDrained(store);
  const seconds = (ms() - a) / 1000;
  const stats = store.stats();
  return {
    mode: mode === 'bulk' ? 'whole history in one write() (batches of 5,000)' : `one write() per day, flushed (${h.openDays} writes)`,
    points,
    seconds,
    pointsPerS: stats.written / seconds,
    visitsPerS: h.visits.length / seconds,
    stats,
    requests: stats.rawRequests + stats.rollupRequests,
  };
}

// ---------------------------------------------------------------------------
// reports

export interface ReportFigures {
  week: string;
  weeklyRaw: Timing;
  weeklyRollup: Timing;
  periodRaw: Timing;
  periodRollup: Timing;
  /** the same counts from raw and from rollups (a sanity check of what was timed) */
  weeklyAgree: boolean;
  periodAgree: boolean;
}

const countsOf = (r: Pick<Report, 'visits' | 'met' | 'late' | 'walkouts' | 'shortWalkouts' | 'missed' | 'serviceLevel' | 'asgS'>) =>
  JSON.stringify([r.visits, r.met, r.late, r.walkouts, r.shortWalkouts, r.missed, r.serviceLevel, r.asgS]);

async function measureReports(store: InfluxVisitStore, h: GeneratedHistory, week: IsoWeek, runs: number): Promise<ReportFigures> {
  const tz = new TimeZone(ZONE);
  const input: WeeklyInput = { store: STORE, tz, targetServiceLevel: TARGET_SL, greetWithinS: GREET_WITHIN_S };
  let rows = 0;
  const loadRaw = async (fromMs: number, toMs: number): Promise<PeriodData> => {
    const visits = await store.query(STORE, fromMs, toMs);
    rows += visits.length;
    return { kind: 'raw', visits };
  };
  const loadRollup = async (fromMs: number, toMs: number): Promise<PeriodData> => {
    const r = await store.rollups(STORE, fromMs, toMs);
    rows += r.hours.length + r.staff.length;
    return { kind: 'rollup', ...r };
  };
  let wRaw: WeeklyReport | undefined;
  let wRollup: WeeklyReport | undefined;
  const weeklyRaw = await repeat(runs, WARMUPS, async () => {
    rows = 0;
    wRaw = await weeklyReport(input, week, loadRaw);
    return { rows };
  });
  const weeklyRollup = await repeat(runs, WARMUPS, async () => {
    rows = 0;
    wRollup = await weeklyReport(input, week, loadRollup);
    return { rows };
  });
  let pRaw: Report | undefined;
  let pRollup: Report | undefined;
  const periodRaw = await repeat(runs, WARMUPS, async () => {
    const a = ms();
    const visits = await store.query(STORE, h.fromMs, h.toMs);
    const queryMs = ms() - a;
    pRaw = buildReport({ store: STORE, fromMs: h.fromMs, toMs: h.toMs, tz, visits });
    return { rows: visits.length, queryMs };
  });
  const periodRollup = await repeat(runs, WARMUPS, async () => {
    const a = ms();
    const r = await store.rollups(STORE, h.fromMs, h.toMs);
    const queryMs = ms() - a;
    pRollup = reportFromRollups(STORE, h.fromMs, h.toMs, tz, r);
    return { rows: r.hours.length + r.staff.length, queryMs };
  });
  const weekCounts = (w: WeeklyReport | undefined) => (w ? [w.summary, w.compare.previous.summary, w.compare.fourWeeksAgo.summary].map(countsOf).join() : '');
  return {
    week: formatIsoWeek(week),
    weeklyRaw,
    weeklyRollup,
    periodRaw,
    periodRollup,
    weeklyAgree: wRaw !== undefined && weekCounts(wRaw) === weekCounts(wRollup) && wRaw.summary.visits > 0,
    periodAgree: pRaw !== undefined && pRollup !== undefined && countsOf(pRaw) === countsOf(pRollup) && pRaw.visits === h.visits.length,
  };
}

export interface HttpFigures {
  runs: number;
  weeklyRawMs: number;
  weeklyRollupMs: number;
  periodRawMs: number;
  periodRollupMs: number;
  /** JSON bytes of each answer */
  bytes: { weeklyRaw: number; weeklyRollup: number; periodRaw: number; periodRollup: number };
}

/** the same reports through a hub on loopback (fetch, JSON), median of HTTP_RUNS after one warm-up */
async function measureHttp(url: string, database: string, workDir: string, h: GeneratedHistory, week: IsoWeek): Promise<HttpFigures> {
  const dataDir = path.join(workDir, 'hub');
  const store = await openStore(url, database, path.join(workDir, 'spool-hub'));
  const config = Value.Default(StoreConfig, {
    store: { id: STORE, timezone: ZONE, serviceLevelTarget: TARGET_SL },
    hub: { mqtt: { port: 0 }, http: { port: 0 }, influx: { database, retention: { raw: 'INF', rollups: 'INF' } } },
  }) as StoreConfig;
  const hub = await startHub({ config, dataDir, log: silent, store });
  try {
    const base = `${hub.httpUrl}/api/stores/${STORE}`;
    const period = `from=${new Date(h.fromMs).toISOString()}&to=${new Date(h.toMs).toISOString()}`;
    const get = async (q: string): Promise<{ ms: number; bytes: number }> => {
      const a = ms();
      const res = await fetch(base + q);
      const text = await res.text();
      if (res.status !== 200) throw new Error(`history bench: GET ${q} answered ${res.status}: ${text.slice(0, 300)}`);
      return { ms: ms() - a, bytes: Buffer.byteLength(text) };
    };
    const med = async (q: string) => {
      await get(q);
      const t: number[] = [];
      let bytes = 0;
      for (let i = 0; i < HTTP_RUNS; i++) {
        const r = await get(q);
        t.push(r.ms);
        bytes = r.bytes;
      }
      return { ms: percentile(t.sort((a, b) => a - b), 50), bytes };
    };
    const w = formatIsoWeek(week);
    const wr = await med(`/weekly?week=${w}&source=raw`);
    const wu = await med(`/weekly?week=${w}&source=rollup`);
    const pr = await med(`/report?${period}&source=raw`);
    const pu = await med(`/report?${period}&source=rollup`);
    return {
      runs: HTTP_RUNS,
      weeklyRawMs: wr.ms,
      weeklyRollupMs: wu.ms,
      periodRawMs: pr.ms,
      periodRollupMs: pu.ms,
      bytes: { weeklyRaw: wr.bytes, weeklyRollup: wu.bytes, periodRaw: pr.bytes, periodRollup: pu.bytes },
    };
  } finally {
    await hub.stop(); // closes the store too
  }
}

// ---------------------------------------------------------------------------
// (h)

export interface HistoryFigures {
  influxd: string;
  quick: boolean;
  data: {
    days: number;
    openDays: number;
    from: string;
    to: string;
    visits: number;
    greetings: number;
    rawPoints: number;
    rollupPoints: { hourly: number; staffHourly: number };
    outcomes: Record<Visit['outcome'], number>;
    serviceLevel: number;
    generateS: number;
  };
  writes: WriteFigures[];
  disk: {
    bulk: DbDisk;
    daily: DbDisk;
    influxDirBytes: number;
    /** --settle: bench_bulk again after influxd sat idle (its cold caches snapshotted from WAL to TSM) */
    settled?: DbDisk & { afterS: number };
  };
  reports: ReportFigures;
  http: HttpFigures | { error: string };
  capacity: {
    /** one store, scaled to 365 days */
    perStoreYear: { visits: number; rawPoints: number; rollupPoints: number };
    stores: number;
    rawPointsPerOpenDay: number;
    rawPointsPerSOpen: number;
    requestsPerSOpen: number;
    /** from the disk right after the writes; `settled` from the disk after --settle */
    disk: DiskCapacity;
    settled?: DiskCapacity;
  };
  totalS: number;
}

export interface DiskCapacity {
  bytesPerVisit: number;
  bytesPerRawPoint: number;
  /** one store, one year, everything kept */
  perStoreYearBytes: number;
  /** `stores` stores, one year, everything kept */
  perYearBytes: number;
  /** `stores` stores at the default retention: raw 90 days, rollups five years */
  defaultRetentionBytes: number;
}

/** one store's disk scaled to a year (× 365 / days), then × stores: linear */
function diskCapacity(d: DbDisk, visits: number, rawPoints: number, days: number, stores: number): DiskCapacity {
  const scale = 365 / days;
  const raw = d.raw.tsm + d.raw.wal;
  const rollup = d.rollup.tsm + d.rollup.wal;
  return {
    bytesPerVisit: d.total / visits,
    bytesPerRawPoint: raw / rawPoints,
    perStoreYearBytes: d.total * scale,
    perYearBytes: d.total * scale * stores,
    defaultRetentionBytes: (raw * (90 / days) + rollup * scale * 5) * stores,
  };
}

export type HistoryResult = HistoryFigures | { skipped: string };

export interface HistoryOptions {
  /** 8 weeks instead of a year */
  quick?: boolean;
  /** progress lines */
  say?: (line: string) => void;
  /** timed runs per report (default 20) */
  runs?: number;
  /** wait up to this many minutes of idle influxd, then measure the disk again (default 0: off) */
  settleMin?: number;
}

export async function measureHistory(opts: HistoryOptions = {}): Promise<HistoryResult> {
  const say = opts.say ?? (() => {});
  const quick = opts.quick === true;
  const started = ms();
  const bin = findInfluxd();
  if (!bin) return { skipped: 'influxd not found on PATH (install InfluxDB 1.x, e.g. the Debian package "influxdb")' };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-bench-history-'));
  const influxDir = path.join(work, 'influxdb');
  let influxd: ManagedInfluxd | null = null;
  const stores: InfluxVisitStore[] = [];
  const cleanup = async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => {});
    await influxd?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  };
  atExit(cleanup);
  try {
    influxd = await startInfluxd({ dataDir: influxDir, bin, log: silent, supervise: false });
    say(`(h) influxd ${bin} at ${influxd.url}, data in ${influxDir}`);

    const g0 = ms();
    const h = generateHistory(quick ? 56 : 365, Date.now());
    const generateS = (ms() - g0) / 1000;
    const tz = new TimeZone(ZONE);
    const roll = rollupVisits(h.visits, tz);
    const rawPoints = h.visits.length + h.greetings;
    say(`(h) ${fmtInt(h.visits.length)} visits over ${h.openDays} open days (${fmtInt(rawPoints)} raw points); writing…`);

    const bulk = await openStore(influxd.url, DB_BULK, path.join(work, 'spool-bulk'));
    stores.push(bulk);
    const wBulk = await measureWrite(bulk, h, 'bulk');
    say(`(h) one write: ${fmt(wBulk.seconds, 1)} s, ${fmtInt(wBulk.pointsPerS)} points/s`);
    const daily = await openStore(influxd.url, DB_DAILY, path.join(work, 'spool-daily'));
    stores.push(daily);
    const wDaily = await measureWrite(daily, h, 'daily');
    say(`(h) per day: ${fmt(wDaily.seconds, 1)} s, ${fmtInt(wDaily.pointsPerS)} points/s`);
    const disk: HistoryFigures['disk'] = { bulk: dbDisk(influxDir, DB_BULK), daily: dbDisk(influxDir, DB_DAILY), influxDirBytes: diskUsage(influxDir).bytes };
    const writesDone = ms();

    const week = addWeeks(isoWeekOf(Date.now(), tz), -1);
    const oldest = weekRange(addWeeks(week, -4), tz).fromMs;
    if (oldest < h.fromMs) say(`(h) note: week ${formatIsoWeek(addWeeks(week, -4))} starts before the history`);
    say(`(h) reports: ${opts.runs ?? RUNS} runs after ${WARMUPS} warm-ups each…`);
    const reports = await measureReports(bulk, h, week, opts.runs ?? RUNS);

    let http: HttpFigures | { error: string };
    try {
      http = await measureHttp(influxd.url, DB_BULK, work, h, week);
    } catch (err) {
      http = { error: (err as Error).message };
    }

    const settleMs = (opts.settleMin ?? 0) * 60_000;
    if (settleMs > 0) {
      // influxd snapshots a shard's cache to TSM after cache-snapshot-write-cold-duration [10m] without writes
      const walOf = (x: DbDisk) => x.raw.wal + x.rollup.wal;
      say(`(h) waiting up to ${opts.settleMin} min for influxd to move the WAL to TSM…`);
      while (ms() - writesDone < settleMs && walOf(dbDisk(influxDir, DB_BULK)) > walOf(disk.bulk) / 10) await sleep(10_000);
      disk.settled = { ...dbDisk(influxDir, DB_BULK), afterS: (ms() - writesDone) / 1000 };
    }

    // capacity: this store scaled to a year, then × 1,000 (linear)
    const scale = 365 / h.days;
    const stores1k = 1000;
    const openSecondsPerDay = (CLOSE_H - OPEN_H) * 3600;
    const rawPerOpenDay = rawPoints / h.openDays;
    // live, each final visit is its own flush (a party every few minutes per store): one raw write,
    // one rollup query and one rollup write per visit
    const visitsPerSOpen = (h.visits.length / h.openDays / openSecondsPerDay) * stores1k;
    const capacity = {
      perStoreYear: { visits: h.visits.length * scale, rawPoints: rawPoints * scale, rollupPoints: (roll.hours.length + roll.staff.length) * scale },
      stores: stores1k,
      rawPointsPerOpenDay: rawPerOpenDay * stores1k,
      rawPointsPerSOpen: (rawPerOpenDay / openSecondsPerDay) * stores1k,
      requestsPerSOpen: visitsPerSOpen * 3,
      disk: diskCapacity(disk.bulk, h.visits.length, rawPoints, h.days, stores1k),
      ...(disk.settled ? { settled: diskCapacity(disk.settled, h.visits.length, rawPoints, h.days, stores1k) } : {}),
    };
    const met = h.outcomes.met;
    return {
      influxd: bin,
      quick,
      data: {
        days: h.days,
        openDays: h.openDays,
        from: new Date(h.fromMs).toISOString(),
        to: new Date(h.toMs).toISOString(),
        visits: h.visits.length,
        greetings: h.greetings,
        rawPoints,
        rollupPoints: { hourly: roll.hours.length, staffHourly: roll.staff.length },
        outcomes: h.outcomes,
        serviceLevel: met / (h.visits.length - h.outcomes.shortWalkout),
        generateS,
      },
      writes: [wBulk, wDaily],
      disk,
      reports,
      http,
      capacity,
      totalS: (ms() - started) / 1000,
    };
  } finally {
    await cleanup();
  }
}

// ---------------------------------------------------------------------------
// printing

export interface HistoryTable {
  title: string;
  head: string[];
  rows: string[][];
  notes: string[];
}

const MB = 2 ** 20;
const fmtMB = (b: number) => fmt(b / MB, 1);
const fmtGB = (b: number) => fmt(b / 2 ** 30, 1);

const diskRows = (when: string, x: DiskCapacity, stores: number): string[][] => [
  [`disk per year, everything kept, GB (${when})`, fmt(x.perStoreYearBytes / 2 ** 30, 3), fmtGB(x.perYearBytes)],
  [`disk at the default retention, raw 90 d + rollups 5 y, GB (${when})`, fmt(x.defaultRetentionBytes / stores / 2 ** 30, 3), fmtGB(x.defaultRetentionBytes)],
];

export function historyTables(f: HistoryFigures): HistoryTable[] {
  const d = f.data;
  const span = f.quick ? `${d.days} days (--quick)` : `one year (${d.days} days)`;
  const out: HistoryTable[] = [];
  out.push({
    title: `(h) history in a real influxd (${f.influxd}): ${span} of one store, ${fmtInt(d.visits)} visits on ${d.openDays} open days, ${d.from.slice(0, 10)} to ${d.to.slice(0, 10)}`,
    head: ['write', 'raw points', 'seconds', 'points/s', 'visits/s', 'raw writes', 'rollup writes', 'rollup hours', 'dropped', 'failures'],
    rows: f.writes.map((w) => [
      w.mode,
      fmtInt(w.stats.written),
      fmt(w.seconds, 2),
      fmtInt(w.pointsPerS),
      fmtInt(w.visitsPerS),
      fmtInt(w.stats.rawRequests),
      fmtInt(w.stats.rollupRequests),
      fmtInt(w.stats.rollupHours),
      fmtInt(w.stats.dropped),
      fmtInt(w.stats.failures),
    ]),
    notes: [
      `headline: the first row (points/s = raw points InfluxDB acknowledged, first write() to backlog 0, spool fdatasync and rollup recomputation included); each rollup write follows one raw query of its hours`,
      `data: ${fmtInt(d.visits)} visits + ${fmtInt(d.greetings)} greetings = ${fmtInt(d.rawPoints)} raw points; rollups ${fmtInt(d.rollupPoints.hourly)} hour + ${fmtInt(d.rollupPoints.staffHourly)} staff-hour points; ` +
        `met ${fmtInt(d.outcomes.met)}, late ${fmtInt(d.outcomes.late)}, walkout ${fmtInt(d.outcomes.walkout)}, short ${fmtInt(d.outcomes.shortWalkout)}, missed ${fmtInt(d.outcomes.missed)}; service level ${fmt(d.serviceLevel * 100, 1)} %`,
    ],
  });
  const r = f.reports;
  const verdict = (t: Timing, target: number) => (t.p50Ms < target && t.p95Ms < target ? 'pass' : t.p50Ms < target ? 'pass at p50, miss at p95' : 'miss');
  const row = (name: string, t: Timing, target: number): string[] => [name, fmt(t.p50Ms, 1), fmt(t.p95Ms, 1), t.queryP50Ms === undefined ? '' : fmt(t.queryP50Ms, 1), fmtInt(t.rows), `< ${target} ms`, verdict(t, target)];
  const periodName = f.quick ? `${d.days} days` : 'year';
  out.push({
    title: `    reports, function level incl. the InfluxDB query (headline), ${r.periodRaw.runs} runs after ${WARMUPS} warm-ups; weekly = ${r.week} (loads it, −1 and −4)`,
    head: ['report', 'p50 ms', 'p95 ms', 'query p50 ms', 'rows read', 'target', 'verdict'],
    rows: [
      row('weekly from raw', r.weeklyRaw, TARGET_WEEKLY_MS),
      row('weekly from rollups', r.weeklyRollup, TARGET_WEEKLY_MS),
      row(`${periodName} from raw (buildReport)`, r.periodRaw, TARGET_YEAR_MS),
      row(`${periodName} from rollups (reportFromRollups)`, r.periodRollup, TARGET_YEAR_MS),
    ],
    notes: [
      `raw and rollup figures agree: weekly ${r.weeklyAgree ? 'yes' : 'NO'}, ${periodName} ${r.periodAgree ? 'yes' : 'NO'} (visits by outcome, service level, mean TTG)`,
      ...('error' in f.http
        ? [`over HTTP: not measured (${f.http.error})`]
        : [
            `over HTTP (a hub on loopback, fetch + JSON, median of ${f.http.runs}): weekly raw ${fmt(f.http.weeklyRawMs, 1)} ms, weekly rollups ${fmt(f.http.weeklyRollupMs, 1)} ms, ` +
              `${periodName} raw ${fmt(f.http.periodRawMs, 1)} ms (/report?source=raw: the live engine's report), ${periodName} rollups ${fmt(f.http.periodRollupMs, 1)} ms`,
          ]),
    ],
  });
  const c = f.capacity;
  const diskRow = (name: string, x: DbDisk): string[] => [
    name,
    fmtMB(x.raw.tsm),
    fmtMB(x.raw.wal),
    fmtMB(x.rollup.tsm),
    fmtMB(x.rollup.wal),
    fmtMB(x.total),
    fmtInt(x.total / d.visits),
    fmt((x.raw.tsm + x.raw.wal) / d.rawPoints, 1),
  ];
  const st = f.disk.settled;
  out.push({
    title: `    on disk right after the writes (du; nothing forced: what influxd has not yet snapshotted is in the WAL)`,
    head: ['database', 'raw TSM MB', 'raw WAL MB', 'rollup TSM MB', 'rollup WAL MB', 'total MB', 'bytes/visit', 'raw bytes/raw point'],
    rows: [
      diskRow(`${DB_BULK} (one write)`, f.disk.bulk),
      diskRow(`${DB_DAILY} (per day)`, f.disk.daily),
      ...(st ? [diskRow(`${DB_BULK} after ${fmt(st.afterS / 60, 1)} min idle`, st)] : []),
    ],
    notes: [
      `whole influxd dir (both databases, meta, log): ${fmtMB(f.disk.influxDirBytes)} MB` +
        (st ? '' : '; --settle 11 waits for influxd to snapshot its cold caches (10 min without writes) and measures the TSM size too'),
    ],
  });
  const py = c.perStoreYear;
  out.push({
    title: `    capacity for ${fmtInt(c.stores)} stores: an EXTRAPOLATION, ${fmtInt(c.stores)} × this one store${f.quick ? ` scaled from ${d.days} days to 365` : ''}, linear`,
    head: ['figure', 'one store', `${fmtInt(c.stores)} stores`],
    rows: [
      ['visits per year', fmtInt(py.visits), fmtInt(py.visits * c.stores)],
      ['raw points per year (visits + greetings)', fmtInt(py.rawPoints), fmtInt(py.rawPoints * c.stores)],
      ['rollup points per year', fmtInt(py.rollupPoints), fmtInt(py.rollupPoints * c.stores)],
      ['raw points per open day', fmtInt(c.rawPointsPerOpenDay / c.stores), fmtInt(c.rawPointsPerOpenDay)],
      ['raw points/s during opening hours (mean)', fmt(c.rawPointsPerSOpen / c.stores, 4), fmt(c.rawPointsPerSOpen, 1)],
      ['InfluxDB requests/s during opening hours (one flush per visit: raw write, rollup query, rollup write)', fmt(c.requestsPerSOpen / c.stores, 4), fmt(c.requestsPerSOpen, 1)],
      ...diskRows('right after the writes', c.disk, c.stores),
      ...(c.settled && st ? diskRows(`TSM, after ${fmt(st.afterS / 60, 1)} min idle`, c.settled, c.stores) : []),
    ],
    notes: [
      'leaves out raw sensor events (hub.influx.rawEvents, on by default: about 5–6 events per visit in the fixture traces, each a point) and node health samples (one per node every hub.influx.healthEveryS [60]), which this bench does not write',
      "measured on this one store's series; 1,000 stores are 1,000 series per measurement, and shard sizes (7-day shards at INF, 1-day at 90d) change compaction, so the disk figures are an estimate",
    ],
  });
  return out;
}

// ---------------------------------------------------------------------------
// alone: npx tsx bench/history.ts [--quick] [--json <file>] [--runs 20] [--settle <minutes>]

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values: args } = parseArgs({ options: { quick: { type: 'boolean' }, json: { type: 'string' }, runs: { type: 'string' }, settle: { type: 'string' } } });
  stopOnInterrupt();
  const lines: string[] = [];
  let result: HistoryResult;
  try {
    result = await measureHistory({
      quick: args.quick === true,
      say: (l) => process.stderr.write(l + '\n'),
      ...(args.runs ? { runs: Number(args.runs) } : {}),
      ...(args.settle ? { settleMin: Number(args.settle) } : {}),
    });
  } finally {
    await runCleanups();
  }
  if ('skipped' in result) {
    lines.push(`(h) history: SKIPPED, ${result.skipped}`);
  } else {
    for (const t of historyTables(result)) {
      const w = t.head.map((hd, i) => Math.max(hd.length, ...t.rows.map((r) => r[i]!.length)));
      lines.push('', t.title);
      lines.push('  ' + t.head.map((hd, i) => (i === 0 ? hd.padEnd(w[i]!) : hd.padStart(w[i]!))).join('  '));
      lines.push('  ' + w.map((x) => '-'.repeat(x)).join('  '));
      for (const r of t.rows) lines.push('  ' + r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
      for (const n of t.notes) lines.push(`  - ${n}`);
    }
    lines.push('', `total ${fmt(result.totalS, 1)} s`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  const json = JSON.stringify({ history: result }, null, 2) + '\n';
  if (args.json) {
    fs.writeFileSync(args.json, json);
    process.stdout.write(`figures written to ${args.json}\n`);
  } else process.stdout.write('\n' + json);
}

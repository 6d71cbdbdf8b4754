import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { ChainRanking, Report, Visit, WeeklyReport } from '../../contract/index.ts';
import { loadConfig } from '../../firmware-config/load.ts';
import type { StoreConfig } from '../../firmware-config/schema.ts';
import { replayTrace } from '../../hub/engine/replay.ts';
import { TimeZone } from '../../hub/engine/tz.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { influxOptions } from '../../hub/history-setup.ts';
import { weekRange } from '../../hub/history/iso-week.ts';
import { influxVisitStore, type InfluxVisitStore } from '../../hub/influx-store.ts';
import { FIXTURES, STORE_YAML } from '../../scripts/make-fixtures.ts';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.ts';
import { simulateStore } from '../helpers/store-sim.ts';

// Four simulated weeks of the fixture store (Europe/Berlin), the first holding the end of
// daylight-saving time, replayed by the engine, written through the real history store
// into a real influxd, and read back through the hub's weekly, report and chain APIs
// (README "Weekly report"). Raw figures must equal the engine's; rollups give the same
// counts. A second store in the same database makes it a chain.

const WEEKS = ['2026-W43', '2026-W44', '2026-W45', '2026-W46'] as const;
/** the hub's clock: the Friday after the last simulated week */
const NOW = Date.parse('2026-11-20T12:00:00.000Z');

let influxd: TestInfluxd;
let dir: string;
let cfg: StoreConfig;
let lines: string[];
let visits: Visit[];
let hub: Hub;
let other: InfluxVisitStore;
const tz = new TimeZone('Europe/Berlin');

const get = async <T>(p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: T; type: string }> => {
  const res = await fetch(hub.httpUrl + p, { headers });
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, body: (type.startsWith('application/json') ? await res.json() : await res.text()) as T };
};

/** the figures a weekly summary shares with the contract report */
const shared = (r: Pick<Report, 'visits' | 'met' | 'late' | 'walkouts' | 'shortWalkouts' | 'missed' | 'serviceLevel' | 'serviceLevelStrict' | 'asgS' | 'p50S' | 'p90S' | 'maxS'>) => ({
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
});

beforeAll(async () => {
  influxd = await startTestInfluxd();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-weekly-'));
  cfg = loadConfig(STORE_YAML);
  const spec = FIXTURES.find((f) => f.name === 'weekday-morning')!;
  lines = [];
  // Monday 2026-10-19 to Sunday 2026-11-15, one boot per day as nodes restart overnight
  for (let d = 0; d < 28; d++) {
    const day = new Date(Date.UTC(2026, 9, 19 + d)).toISOString().slice(0, 10);
    lines.push(...simulateStore({ ...spec.sim, seed: 900 + d, date: day, store: cfg.store.id, timezone: cfg.store.timezone, rules: cfg.rules }).lines);
  }
  visits = replayTrace(lines, cfg).visits.filter((v) => v.outcome !== 'pending');
  const log = pino({ level: 'silent' });
  const opts = influxOptions({ ...cfg, hub: { ...cfg.hub, influx: { ...cfg.hub.influx, database: 'weekly' } } }, log, dir, influxd.url);
  const store = await influxVisitStore({ ...opts, flushMs: 10 });
  // the history arrives out of order, as a node's outbox flushed after an outage would deliver it
  const late = visits.filter((_, i) => i % 9 === 4);
  await store.write(visits.filter((_, i) => i % 9 !== 4));
  await store.write(late);
  // a second store of the chain, in the same database, one week of it
  other = await influxVisitStore({
    ...opts,
    spoolDir: path.join(dir, 'other-spool'),
    timeZone: 'Europe/Berlin',
    storeInfo: { store: 'north', name: 'North Mall', timezone: 'Europe/Berlin', serviceLevelTarget: 0.8, greetWithinS: 30 },
    flushMs: 10,
  });
  const w46 = weekRange({ year: 2026, week: 46 }, tz);
  await other.write(visits.filter((v) => Date.parse(v.entryTime) >= w46.fromMs && Date.parse(v.entryTime) < w46.toMs && v.outcome !== 'met').map((v) => ({ ...v, store: 'north', party: `n-${v.party}` })));
  hub = await startHub({
    config: { ...cfg, hub: { ...cfg.hub, mqtt: { ...cfg.hub.mqtt, port: 0 }, http: { ...cfg.hub.http, port: 0 } }, nodes: [] },
    dataDir: path.join(dir, 'hub'),
    clock: { now: () => NOW },
    log,
    store,
  });
}, 120_000);

afterAll(async () => {
  await hub?.stop();
  await other?.close();
  await influxd?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('weekly reports from InfluxDB', () => {
  it('equal the engine replay of the same events, week by week and day by day, across the DST change', async () => {
    expect(visits.length).toBeGreaterThan(500);
    for (const week of WEEKS) {
      const { status, body } = await get<WeeklyReport>(`/api/stores/${cfg.store.id}/weekly?week=${week}&source=raw`);
      expect(status).toBe(200);
      expect(body.source).toBe('raw');
      const [y, w] = week.split('-W').map(Number) as [number, number];
      const range = weekRange({ year: y, week: w }, tz);
      expect(Date.parse(body.from)).toBe(range.fromMs);
      expect(Date.parse(body.to)).toBe(range.toMs);
      const replay = replayTrace(lines, cfg, { fromMs: range.fromMs, toMs: range.toMs }).report;
      expect(body.summary).toMatchObject(shared(replay));
      for (const [i, day] of body.days.entries()) {
        const r = replayTrace(lines, cfg, { fromMs: range.days[i]!.fromMs, toMs: range.days[i]!.toMs }).report;
        expect({ date: day.date, visits: day.visits, met: day.met, serviceLevel: day.serviceLevel, asgS: day.asgS }).toEqual({
          date: range.days[i]!.date,
          visits: r.visits,
          met: r.met,
          serviceLevel: r.serviceLevel,
          asgS: r.asgS,
        });
        expect(day.meetsTarget).toBe(day.serviceLevel === null ? null : day.serviceLevel >= cfg.store.serviceLevelTarget);
      }
      expect(body.staff.map((s) => [s.staff, s.greets, s.met])).toEqual(Object.entries(replay.byStaff).map(([id, s]) => [id, s.greets, s.met]));
      expect(body.grid).toHaveLength(168);
      expect(body.grid.reduce((n, c) => n + c.visits, 0)).toBe(replay.visits);
      expect(body.ttg.counts.reduce((a, b) => a + b, 0)).toBe(replay.met + replay.late);
    }
  });

  it('puts the DST week at 169 hours, Monday to Sunday store-local', async () => {
    const { body } = await get<WeeklyReport>(`/api/stores/${cfg.store.id}/weekly?week=2026-W43&source=raw`);
    expect((Date.parse(body.to) - Date.parse(body.from)) / 3_600_000).toBe(169);
    expect(body.days.map((d) => d.date)).toEqual(['2026-10-19', '2026-10-20', '2026-10-21', '2026-10-22', '2026-10-23', '2026-10-24', '2026-10-25']);
  });

  it('gives the same counts from the hourly rollups, percentiles to the second', async () => {
    for (const week of WEEKS) {
      const raw = (await get<WeeklyReport>(`/api/stores/${cfg.store.id}/weekly?week=${week}&source=raw`)).body;
      const roll = (await get<WeeklyReport>(`/api/stores/${cfg.store.id}/weekly?week=${week}&source=rollup`)).body;
      expect(roll.source).toBe('rollup');
      const counts = (s: WeeklyReport['summary']) => [s.visits, s.met, s.late, s.walkouts, s.shortWalkouts, s.missed, s.greeted, s.serviceLevel];
      expect(counts(roll.summary)).toEqual(counts(raw.summary));
      expect(Math.abs(roll.summary.asgS! - raw.summary.asgS!)).toBeLessThanOrEqual(0.001);
      expect(roll.summary.p50S).toBe(Math.floor(raw.summary.p50S!));
      expect(roll.summary.p90S).toBe(Math.floor(raw.summary.p90S!));
      expect(roll.days.map((d) => [d.visits, d.met])).toEqual(raw.days.map((d) => [d.visits, d.met]));
      expect(roll.grid).toEqual(raw.grid);
      expect(roll.ttg).toEqual(raw.ttg);
      expect(roll.staff.map((s) => [s.staff, s.greets, s.met])).toEqual(raw.staff.map((s) => [s.staff, s.greets, s.met]));
    }
  });

  it('compares with the week before and four weeks before', async () => {
    const { body } = await get<WeeklyReport>(`/api/stores/${cfg.store.id}/weekly?week=2026-W47&source=raw`);
    expect(body.week).toBe('2026-W47');
    expect(body.summary.visits).toBe(0); // nothing simulated that week
    expect(body.compare.previous.week).toBe('2026-W46');
    expect(body.compare.fourWeeksAgo.week).toBe('2026-W43');
    const w46 = (await get<WeeklyReport>(`/api/stores/${cfg.store.id}/weekly?week=2026-W46&source=raw`)).body;
    expect(body.compare.previous.summary).toEqual(w46.summary);
  });

  it('answers the contract report over the month from raw points and from rollups with the same counts', async () => {
    const from = encodeURIComponent('2026-10-19');
    const to = encodeURIComponent('2026-11-16');
    const raw = (await get<Report>(`/api/stores/${cfg.store.id}/report?from=${from}&to=${to}&source=raw`)).body;
    const roll = (await get<Report>(`/api/stores/${cfg.store.id}/report?from=${from}&to=${to}&source=rollup`)).body;
    const replay = replayTrace(lines, cfg, { fromMs: tz.fromLocal(2026, 10, 19), toMs: tz.fromLocal(2026, 11, 16) }).report;
    expect(shared(raw)).toEqual(shared(replay));
    const counts = (r: Report) => [r.visits, r.met, r.late, r.walkouts, r.shortWalkouts, r.missed, r.serviceLevel, r.byHour.map((h) => h.visits), r.byWeekday.map((d) => d.met)];
    expect(counts(roll)).toEqual(counts(raw));
    expect(roll.warnings?.[0]).toMatch(/hourly rollups/);
  });

  it('exports the week as CSV (Accept: text/csv or ?format=csv)', async () => {
    const a = await get<string>(`/api/stores/${cfg.store.id}/weekly?week=2026-W44`, { accept: 'text/csv' });
    expect(a.status).toBe(200);
    expect(a.type).toMatch(/^text\/csv/);
    const b = await get<string>(`/api/stores/${cfg.store.id}/weekly?week=2026-W44&format=csv`);
    expect(b.body).toBe(a.body);
    const rows = a.body.split('\r\n').filter((l) => l !== '');
    expect(rows[0]).toBe('week,section,date,weekday,hour,staff,bucket_s,visits,met,late,walkouts,short_walkouts,missed,greets,service_level,asg_s,p50_s,p90_s,max_s');
    const of = (week: string, section: string) => rows.filter((r) => r.startsWith(`${week},${section},`)).length;
    for (const week of ['2026-W44', '2026-W43', '2026-W40']) {
      expect(of(week, 'summary')).toBe(1);
      expect(of(week, 'day')).toBe(7);
      expect(of(week, 'grid')).toBe(168);
    }
    expect(rows.every((r) => r.split(',').length === 19)).toBe(true);
  });

  it('refuses bad parameters with 400 naming them', async () => {
    for (const [q, name] of [
      ['week=2026-47', 'week'],
      ['week=2021-W53', 'week'],
      ['week=2026-W44&source=cache', 'source'],
      ['week=2026-W44&format=xml', 'format'],
    ] as const) {
      const r = await get<{ error: string; message: string }>(`/api/stores/${cfg.store.id}/weekly?${q}`);
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('GW_ERR_BAD_PARAM');
      expect(r.body.message.startsWith(`${name}: `)).toBe(true);
    }
    expect((await get(`/api/stores/nowhere/weekly?week=2026-W44`)).status).toBe(404);
  });
});

describe('a chain sharing one InfluxDB', () => {
  it('lists its stores with their current week', async () => {
    const { body } = await get<{ week: string; stores: Array<{ store: string; name?: string; self: boolean; week: { visits: number } }> }>('/api/stores');
    expect(body.week).toBe('2026-W47');
    expect(body.stores.map((s) => [s.store, s.name, s.self])).toEqual([
      [cfg.store.id, cfg.store.name, true],
      ['north', 'North Mall', false],
    ]);
  });

  it('ranks the stores by service level for a week, in JSON and CSV', async () => {
    const { body } = await get<ChainRanking>('/api/chain/ranking?week=2026-W46');
    expect(body.stores.map((s) => s.store)).toEqual([cfg.store.id, 'north']);
    expect(body.stores[1]).toMatchObject({ rank: 2, serviceLevel: 0, met: 0 });
    const mine = (await get<WeeklyReport>(`/api/stores/${cfg.store.id}/weekly?week=2026-W46`)).body.summary;
    expect(body.stores[0]).toMatchObject({ rank: 1, visits: mine.visits, serviceLevel: mine.serviceLevel });
    const csv = await get<string>('/api/chain/ranking?week=2026-W46&format=csv');
    expect(csv.body.split('\r\n')[0]).toBe('week,rank,store,service_level,visits,met,asg_s,p50_s,p90_s');
    // the other store's own weekly report, read from the shared history
    const north = await get<WeeklyReport>('/api/stores/north/weekly?week=2026-W46');
    expect(north.body).toMatchObject({ store: 'north', name: 'North Mall' });
    // staff names only for the store this hub serves (the store file names them)
    expect(north.body.staffNames).toBeUndefined();
    expect(hub.ctx.runtime.live!.snapshot().staffNames).toEqual({ anna: 'Anna', ben: 'Ben', carla: 'Carla', dev: 'Dev' });
    expect((await get<WeeklyReport>(`/api/stores/${cfg.store.id}/weekly?week=2026-W46`)).body.staffNames).toEqual({ anna: 'Anna', ben: 'Ben', carla: 'Carla', dev: 'Dev' });
    expect(north.body.summary.visits).toBe(body.stores[1]!.visits);
  });
});

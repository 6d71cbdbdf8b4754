import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceOf, type GwEvent, type NodeHealth, type Outcome, type Visit } from '../../contract/index.ts';
import { TimeZone } from '../../hub/engine/tz.ts';
import { influxVisitStore, type InfluxVisitStore } from '../../hub/influx-store.ts';
import { repoRoot } from '../../hub/repo-root.ts';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.ts';

// The Grafana example (examples/grafana, README "Grafana") against a real influxd seeded
// through the real history store: every InfluxQL query of the dashboard (panels, variables,
// annotations), with its template variables replaced as Grafana replaces them, must run
// without an error and give rows. A query broken by a schema change fails here.

const DIR = path.join(repoRoot(), 'examples', 'grafana');
const DB = 'greetwatch';
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** the seeded history ends an hour ago and goes five days back */
const NOW = Math.floor(Date.now() / HOUR) * HOUR;
/** what Grafana sends for "Last 60 days" */
const RANGE = { fromMs: NOW - 60 * DAY, toMs: Date.now() };
const INTERVAL_MS = HOUR;
/** how many days back the day with a lone short walkout is */
const LONE_DAYS = 10;

const STORES = [
  { store: 'demo', timezone: 'Europe/Berlin', serviceLevelTarget: 0.8, greetWithinS: 30, name: 'Demo Store' },
  { store: 'north', timezone: 'America/New_York', serviceLevelTarget: 0.8, greetWithinS: 30 },
] as const;

const OUTCOMES: readonly Outcome[] = ['met', 'met', 'late', 'walkout', 'shortWalkout', 'met', 'missed'];

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; rawQuery?: boolean; query?: string; datasource?: { type: string; uid: string } }>;
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string;
  multi?: boolean;
  includeAll?: boolean;
  datasource?: { type: string; uid: string };
}
interface Dashboard {
  uid: string;
  timezone: string;
  panels: Panel[];
  templating: { list: Variable[] };
  annotations: { list: Array<{ name: string; query?: string; datasource?: { type: string; uid: string } }> };
}

let influxd: TestInfluxd;
const spools: string[] = [];
const stores: InfluxVisitStore[] = [];
const seeded: Visit[] = [];
const dashboard = JSON.parse(fs.readFileSync(path.join(DIR, 'dashboards', 'greetwatch.json'), 'utf8')) as Dashboard;

/** what Grafana's InfluxDB data source does to a variable's value in a regex (`=~ /^$store$/`) */
const regexValue = (values: readonly string[]): string => {
  const esc = (v: string) => v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
  return values.length === 1 ? esc(values[0]!) : `(${values.map(esc).join('|')})`;
};

interface Vars {
  store: readonly string[];
  tz: string;
}

/** Grafana's interpolation for the InfluxDB (InfluxQL) data source: the variables this dashboard uses */
function interpolate(q: string, vars: Vars): string {
  const out = q
    .replaceAll('$timeFilter', `time >= ${RANGE.fromMs}ms and time <= ${RANGE.toMs}ms`)
    .replaceAll('$__interval_ms', String(INTERVAL_MS))
    .replaceAll('$__interval', `${INTERVAL_MS / HOUR}h`)
    .replaceAll('${tz:raw}', vars.tz)
    .replaceAll('$tz', vars.tz)
    .replaceAll('${datasource}', 'greetwatch-influxdb')
    .replaceAll('$datasource', 'greetwatch-influxdb')
    .replaceAll('$store', regexValue(vars.store));
  // anything left would reach InfluxDB as text: a variable this test does not know
  const left = /\$(\{|[A-Za-z_])/.exec(out);
  if (left) throw new Error(`unreplaced template variable at ${JSON.stringify(out.slice(left.index, left.index + 20))} in ${q}`);
  return out;
}

interface Result {
  error?: string;
  series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }>;
}

/** one InfluxQL statement over InfluxDB's HTTP API, as Grafana's data source sends it */
async function influxql(q: string): Promise<Result> {
  const res = await fetch(`${influxd.url}/query?db=${DB}&epoch=ms&q=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { error?: string; results?: Result[] };
  if (!res.ok || body.error) return { error: `HTTP ${res.status}: ${body.error ?? 'no body'}` };
  const results = body.results ?? [];
  if (results.length !== 1) return { error: `expected one result, got ${results.length}` };
  return results[0]!;
}

/** rows with a value besides the time (a fill(null) bucket is no data) */
const rows = (r: Result) => (r.series ?? []).reduce((n, s) => n + s.values.filter((row) => row.slice(1).some((x) => x !== null)).length, 0);

/** the problem with a query's answer, or null when it ran and gave rows */
async function problem(q: string): Promise<string | null> {
  const r = await influxql(q);
  if (r.error) return `error: ${r.error}`;
  if (rows(r) === 0) return 'no rows';
  return null;
}

/** every InfluxQL query the dashboard runs: panel targets (rows included), annotations; not the variables */
function queries(): Array<{ where: string; query: string }> {
  const out: Array<{ where: string; query: string }> = [];
  const walk = (ps: readonly Panel[]) => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, query: t.query ?? '' });
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const a of dashboard.annotations.list) if (a.query !== undefined) out.push({ where: `annotation "${a.name}"`, query: a.query });
  return out;
}

const variable = (name: string): Variable => {
  const v = dashboard.templating.list.find((x) => x.name === name);
  if (!v) throw new Error(`no variable ${name}`);
  return v;
};

/** the values of a query variable, as Grafana reads them (SHOW TAG VALUES and SELECT: the second column) */
async function variableValues(name: string, vars: Vars): Promise<string[]> {
  const r = await influxql(interpolate(variable(name).query, vars));
  if (r.error) throw new Error(`variable ${name}: ${r.error}`);
  const values = (r.series ?? []).flatMap((s) => s.values.map((row) => String(row[1])));
  return [...new Set(values)];
}

function visitsOf(store: string): Visit[] {
  const out: Visit[] = [];
  const iso = (ms: number) => new Date(ms).toISOString();
  // five days, a few visits in each of six hours: every outcome, greeted ones with a staff member
  for (let d = 1; d <= 5; d++) {
    for (let h = 0; h < 6; h++) {
      for (let i = 0; i < 3; i++) {
        const entry = NOW - d * DAY - (h + 1) * HOUR + i * 600_000;
        const n = out.length;
        const outcome = OUTCOMES[(n + d) % OUTCOMES.length]!;
        const v: Visit = { store, party: `${store}-${d}-${h}-${i}`, outcome, entryTime: iso(entry), size: 1 + (n % 3) };
        if (outcome === 'met' || outcome === 'late') {
          const ttgS = outcome === 'met' ? 4 + ((n * 7) % 25) + 0.25 : 31 + ((n * 13) % 60) + 0.5;
          Object.assign(v, { greetTime: iso(entry + ttgS * 1000), ttgS, staff: n % 2 ? 'anna' : 'ben' });
        }
        if (outcome === 'walkout' || outcome === 'shortWalkout') v.markTime = iso(entry + (outcome === 'shortWalkout' ? 5_000 : 40_000));
        v.closedTime = iso(entry + 120_000);
        out.push(v);
      }
    }
  }
  // a day with one short walkout and nothing else: no service level and no mean TTG that day (the
  // contract's null), where InfluxQL alone would divide by zero to 0
  const lone = NOW - LONE_DAYS * DAY;
  out.push({ store, party: `${store}-lone`, outcome: 'shortWalkout', entryTime: iso(lone), size: 1, markTime: iso(lone + 5_000), closedTime: iso(lone + 60_000) });
  return out;
}

const event = (store: string, node: string, seq: number, t: number, type: GwEvent['type'], data: object): GwEvent =>
  ({ specversion: '1.0', id: `${node}-${seq}`, source: sourceOf(store, node), type, time: new Date(t).toISOString(), bootid: 'b1', seq, data }) as GwEvent;

const health = (node: string, i: number): NodeHealth => ({
  node,
  online: i % 5 !== 3,
  lastSeen: null,
  bootid: 'b1',
  fw: 'test',
  offsetMs: -40 + i,
  clockFlag: false,
  events: 100 * i,
  duplicates: i,
  lost: 0,
  tooLate: 0,
  rejected: { GW_ERR_EVENT_DATA: i },
  outbox: i % 4,
  dropped: Math.floor(i / 2),
  faultCount: i > 3 ? 1 : 0,
  configCurrent: true,
});

beforeAll(async () => {
  influxd = await startTestInfluxd();
  const log = pino({ level: 'silent' });
  for (const info of STORES) {
    const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-grafana-'));
    spools.push(spoolDir);
    const store = await influxVisitStore({ url: influxd.url, database: DB, spoolDir, log, timeZone: info.timezone, storeInfo: info, flushMs: 5 });
    stores.push(store);
    const visits = visitsOf(info.store);
    seeded.push(...visits);
    void store.write(visits);
    const items = [];
    for (const node of ['door-1', 'counter-1']) {
      // node health every 20 min over the last 8 hours
      for (let i = 0; i < 24; i++) items.push({ kind: 'health' as const, store: info.store, health: health(node, i), t: NOW - 8 * HOUR + i * 20 * 60_000 });
    }
    items.push({ kind: 'event' as const, store: info.store, event: event(info.store, 'door-1', 1, NOW - 2 * DAY, 'greetwatch.entry.v1', { sensor: 'front-beam', direction: 'in' }), recvMs: NOW - 2 * DAY + 40 });
    items.push({ kind: 'event' as const, store: info.store, event: event(info.store, 'door-1', 2, NOW - 2 * DAY + HOUR, 'greetwatch.fault.v1', { sensor: 'front-beam', kind: 'stuck', detail: 'beam blocked for 60 s' }), recvMs: NOW - 2 * DAY + HOUR + 40 });
    items.push({ kind: 'event' as const, store: info.store, event: event(info.store, 'door-1', 3, NOW - 2 * DAY + 2 * HOUR, 'greetwatch.fault.v1', { sensor: 'front-beam', kind: 'recovered' }), recvMs: NOW - 2 * DAY + 2 * HOUR + 40 });
    void store.record(items);
    await store.flush();
    expect(store.stats().backlog).toBe(0);
    expect(store.stats().dropped).toBe(0);
  }
});

afterAll(async () => {
  for (const s of stores) await s.close();
  await influxd?.stop();
  for (const d of spools) fs.rmSync(d, { recursive: true, force: true });
});

describe('the Grafana dashboard', () => {
  it('is provisioning-ready: a datasource variable of type influxdb, store and tz variables, every query raw InfluxQL through it', () => {
    expect(dashboard.uid).toBe('greetwatch-history');
    expect(dashboard.timezone).toBe('browser');
    const ds = variable('datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'influxdb' });
    expect(variable('store')).toMatchObject({ type: 'query', query: 'SHOW TAG VALUES FROM "rollup"."visit_hourly" WITH KEY = "store"', multi: true, includeAll: true });
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) expect(v.datasource, v.name).toEqual({ type: 'influxdb', uid: '${datasource}' });
    const all: Panel[] = [];
    const walk = (ps: readonly Panel[]) => ps.forEach((p) => (all.push(p), walk(p.panels ?? [])));
    walk(dashboard.panels);
    const withData = all.filter((p) => p.type !== 'row');
    expect(withData.length).toBeGreaterThanOrEqual(12);
    for (const p of withData) {
      expect(p.datasource, p.title).toEqual({ type: 'influxdb', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        expect(t.rawQuery, `${p.title} ${t.refId}`).toBe(true);
        expect(t.query, `${p.title} ${t.refId}`).toMatch(/^(SELECT|SHOW) /);
        // every panel follows the store selection
        expect(t.query, `${p.title} ${t.refId}`).toContain('"store" =~ /^$store$/');
      }
    }
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
  });

  it('has provisioning files that point at the same datasource and a folder for the JSON', () => {
    const dsFile = parseYaml(fs.readFileSync(path.join(DIR, 'provisioning', 'datasources', 'greetwatch.yaml'), 'utf8')) as {
      apiVersion: number;
      datasources: Array<{ uid: string; type: string; url: string; jsonData: { dbName: string } }>;
    };
    expect(dsFile.apiVersion).toBe(1);
    expect(dsFile.datasources[0]).toMatchObject({ uid: 'greetwatch-influxdb', type: 'influxdb', jsonData: { dbName: DB } });
    // the variable's default is the provisioned datasource
    expect((variable('datasource') as unknown as { current: { value: string } }).current.value).toBe(dsFile.datasources[0]!.uid);
    const dash = parseYaml(fs.readFileSync(path.join(DIR, 'provisioning', 'dashboards', 'greetwatch.yaml'), 'utf8')) as {
      apiVersion: number;
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(dash.apiVersion).toBe(1);
    expect(dash.providers[0]).toMatchObject({ type: 'file' });
    expect(dash.providers[0]!.options.path).toMatch(/^\//);
  });

  it('fills its variables from the history: the stores, and the first store zone', async () => {
    expect((await variableValues('store', { store: ['x'], tz: 'UTC' })).sort()).toEqual(['demo', 'north']);
    expect(await variableValues('tz', { store: ['demo'], tz: 'UTC' })).toEqual(['Europe/Berlin']);
    expect((await variableValues('tz', { store: ['demo', 'north'], tz: 'UTC' })).sort()).toEqual(['America/New_York', 'Europe/Berlin']);
  });

  for (const selection of [['demo'], ['demo', 'north']] as const) {
    it(`runs every query without an error and with rows (store: ${selection.join(', ')})`, async () => {
      const tz = (await variableValues('tz', { store: selection, tz: 'UTC' }))[0]!;
      const vars = { store: selection, tz };
      const found: string[] = [];
      const qs = queries();
      expect(qs.length).toBeGreaterThanOrEqual(15);
      for (const { where, query } of qs) {
        const p = await problem(interpolate(query, vars));
        if (p) found.push(`${where}: ${p}\n  ${interpolate(query, vars)}`);
      }
      expect(found).toEqual([]);
    });
  }

  it('gets the figures right: visits and service level over the range, days in the store zone', async () => {
    const vars = { store: ['demo'], tz: 'Europe/Berlin' };
    const panel = (title: string) => {
      const p = dashboard.panels.find((x) => x.title === title);
      if (!p?.targets?.[0]?.query) throw new Error(`no panel ${title}`);
      return interpolate(p.targets[0].query, vars);
    };
    const mine = seeded.filter((v) => v.store === 'demo');
    const count = (o: Outcome) => mine.filter((v) => v.outcome === o).length;
    const visits = (await influxql(panel('Visits'))).series![0]!.values[0]![1];
    expect(visits).toBe(mine.length);
    const sl = (await influxql(panel('Service level'))).series![0]!.values[0]![1] as number;
    expect(sl).toBeCloseTo(count('met') / (mine.length - count('shortWalkout')), 12);
    const mean = (await influxql(panel('Mean time to greet'))).series![0]!.values[0]![1] as number;
    const greeted = mine.filter((v) => v.ttgS !== undefined);
    expect(mean).toBeCloseTo(greeted.reduce((a, v) => a + Math.round(v.ttgS! * 1000), 0) / greeted.length / 1000, 9);
    // daily buckets begin at Berlin midnight
    const tz = new TimeZone('Europe/Berlin');
    const days = (await influxql(panel('Service level per day'))).series![0]!.values.map((r) => r[0] as number);
    expect(days.length).toBeGreaterThanOrEqual(5);
    for (const t of days) expect(tz.startOfDay(t)).toBe(t);
    // the day of the lone short walkout has visits, but neither a service level nor a mean TTG
    const lone = tz.startOfDay(NOW - LONE_DAYS * DAY);
    expect(days).not.toContain(lone);
    const outcomes = (await influxql(panel('Visits by outcome per day'))).series![0]!;
    expect(outcomes.values.find((r) => r[0] === lone)?.[outcomes.columns.indexOf('short walkout')]).toBe(1);
    const ttg = (await influxql(panel('Time to greet per day'))).series![0]!.values.map((r) => r[0] as number);
    expect(ttg.length).toBe(days.length);
    expect(ttg).not.toContain(lone);
  });

  it('fails a broken query: a syntax error, and a measurement that is not there', async () => {
    const vars = { store: ['demo'], tz: 'Europe/Berlin' };
    const q = queries().find((x) => x.where.startsWith('panel "Service level per day"'))!.query;
    expect(await problem(interpolate(q, vars))).toBeNull();
    expect(await problem(interpolate(q.replace('sum("met") AS', 'sum("met" AS'), vars))).toMatch(/^error: /);
    expect(await problem(interpolate(q.replace('"visit_hourly"', '"visits_hourly"'), vars))).toBe('no rows');
    expect(await problem(interpolate(q.replace("tz('${tz:raw}')", "tz('Mars/Olympus')"), vars))).toMatch(/^error: /);
  });
});

// Soak (README "Fuzzing and chaos → Soak"): an accelerated store week through the real hub and a real
// InfluxDB, with the hub's RSS sampled; the slope is reported and must be flat.
//
//   npx tsx bench/soak.ts [--days 7] [--quick] [--busy 1] [--window 64] [--lag-ms 0]
//                         [--sample-every 500] [--seed 7] [--json <file>]
//
// The hub runs in a child process (bench/soak-hub-child.ts) with a clock this driver sets over
// IPC. A week of store days from scripts/store-sim.ts (QoS 1 duplicates and out-of-order
// delivery as on a store LAN) goes to the hub's broker over real MQTT QoS 1, each node with its
// own login; before an event is published the hub's clock is moved to the event's receive
// time, and every simulated hour is stepped through, nights included. Events go as fast as the
// hub acknowledges them, at most `--window` unacknowledged; the clock never runs more than
// `--lag-ms` [0] of hub time past an event still in flight, so by default the hub stamps every
// event exactly when the simulator says it arrived (its trace's `recvtime`; the table checks).
// The child's memory is sampled every simulated hour and every `--sample-every` events. At the
// end the visits InfluxDB holds for the period are counted and compared with the hub's /report
// and with a replay of the hub's own trace (CONTRACT.md "Replay"), and lost events with 0.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import mqtt, { type MqttClient } from 'mqtt';
import { parseSource, topics, type LiveSnapshot, type Report } from '../contract/index.ts';
import { StoreConfig } from '../firmware-config/schema.ts';
import { freePort } from '../hub/influxd.ts';
import { replayTrace } from '../hub/engine/replay.ts';
import { TimeZone } from '../hub/engine/tz.ts';
import { FIXTURES } from '../scripts/make-fixtures.ts';
import { simulateStore, type SimMessage } from '../scripts/store-sim.ts';
import { startTestInfluxd } from '../test/helpers/influxd.ts';
import { apiAuth, loginAs, withLogins } from '../test/helpers/logins.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { atExit, runCleanups, startProc, stopOnInterrupt, type Proc } from './procs.ts';
import type { SoakMemory, SoakReply, SoakRequest } from './soak-hub-child.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const STORE = 'soak';
const ZONE = 'Europe/Berlin';
const DATABASE = 'greetwatch_soak';
const STAFF = ['anna', 'ben', 'carla', 'dev'];
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** what the hub keeps in memory for 48 h of hub time (de-duplication 2 × maxSkewS, recent final visits): RSS may grow until then */
const WARMUP_MS = 48 * HOUR_MS;

const { values: args } = parseArgs({
  options: {
    days: { type: 'string' },
    quick: { type: 'boolean' },
    busy: { type: 'string' },
    window: { type: 'string' },
    'lag-ms': { type: 'string' },
    'sample-every': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'string' },
  },
});
const num = (v: string | undefined, dflt: number, what: string): number => {
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${what} must be a positive number, not ${v}`);
  return n;
};
const days = Math.round(num(args.days, args.quick ? 1 : 7, 'days'));
const busy = num(args.busy, 1, 'busy');
const windowSize = Math.round(num(args.window, 64, 'window'));
// 0 is the default: a lag of zero publishes an event only once every earlier arrival is acknowledged
const lagMs = args['lag-ms'] === undefined || Number(args['lag-ms']) === 0 ? 0 : num(args['lag-ms'], 0, 'lag-ms');
const sampleEvery = Math.round(num(args['sample-every'], 500, 'sample-every'));
const seed = Math.round(num(args.seed, 7, 'seed'));

// ---------------------------------------------------------------------------
// figures

interface Sample {
  kind: 'start' | 'hour' | 'events' | 'end';
  /** hub time (the clock the child reads) */
  simMs: number;
  /** simulated days since the first day's midnight */
  simDay: number;
  published: number;
  acked: number;
  wallS: number;
  found: SoakMemory;
  afterGc: SoakMemory | null;
}

interface Fit {
  /** per unit of x */
  slope: number;
  intercept: number;
  /** residual standard deviation, in y's unit */
  residualSd: number;
  points: number;
}

/** ordinary least squares y = a + b·x */
function fit(xs: readonly number[], ys: readonly number[]): Fit | null {
  const n = xs.length;
  if (n < 3) return null;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const ss = ys.reduce((s, y, i) => s + (y - intercept - slope * xs[i]!) ** 2, 0);
  return { slope, intercept, residualSd: Math.sqrt(ss / Math.max(1, n - 2)), points: n };
}

const MB = 1024 * 1024;
const mb = (b: number) => b / MB;
const fmt = (n: number | null | undefined, d = 1) => (n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(d));
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

// ---------------------------------------------------------------------------
// the week

const tz = new TimeZone(ZONE);
const pad = (n: number) => String(n).padStart(2, '0');
const dateOf = (ms: number) => {
  const p = tz.parts(ms);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
};
// the Monday of last week, store-local: the whole period is within InfluxDB's raw retention (README "History")
const today = tz.parts(Date.now());
const firstMs = tz.fromLocal(today.year, today.month, today.day - today.weekday - 7);
const endMs = (() => {
  const p = tz.parts(firstMs);
  return tz.fromLocal(p.year, p.month, p.day + days);
})();
const firstDate = dateOf(firstMs);
const endDate = dateOf(endMs);

/** the fixture store (test/fixtures/store.yaml): the devices store-sim's events name, open every day */
function storeFile(mqttPort: number, httpPort: number, influxUrl: string): unknown {
  return {
    store: { id: STORE, name: 'Soak Store', timezone: ZONE },
    rules: { greetWithinS: 30, stepsLineZones: ['floor-mid'], reorderS: 120 },
    staff: STAFF.map((id) => ({ id })),
    nodes: [
      {
        id: 'door',
        driver: 'sim',
        sensors: [{ id: 'front-beam', kind: 'beam-pair', outerPin: 17, innerPin: 27 }],
        buttons: [{ id: 'door-pass', kind: 'counter', action: 'staffpass', pin: 23 }],
      },
      {
        id: 'counter',
        driver: 'sim',
        buttons: [{ id: 'counter-btn', kind: 'counter', action: 'greet', pin: 6 }, ...STAFF.map((s) => ({ id: `greet-${s}`, kind: 'fob', action: 'greet', staff: s }))],
      },
      { id: 'floor', driver: 'sim', sensors: [{ id: 'mid-pir', kind: 'pir', zone: 'floor-mid', pin: 5 }] },
    ],
    hub: {
      mqtt: { host: '127.0.0.1', port: mqttPort },
      http: { host: '127.0.0.1', port: httpPort },
      dataDir: 'hub',
      influx: { url: influxUrl, database: DATABASE },
    },
  };
}

/** a busy week: every day like the pre-Christmas Saturday of the fixtures, `--busy` times over */
function storeWeek(cfg: StoreConfig): ReturnType<typeof simulateStore> {
  const rush = FIXTURES.find((f) => f.name === 'saturday-rush');
  if (!rush) throw new Error('the saturday-rush fixture is missing from scripts/make-fixtures.ts');
  return simulateStore({
    ...rush.sim,
    seed,
    days,
    date: firstDate,
    store: STORE,
    timezone: ZONE,
    rules: cfg.rules,
    staff: STAFF,
    rate: rush.sim.rate.map(([h, r]) => [h, r * busy] as const),
    lines: false,
    transport: { duplicates: { p: 0.01, afterMs: [200, 30_000] }, reorder: { p: 0.02, maxMs: 60_000 } },
  });
}

// ---------------------------------------------------------------------------
// the hub child over IPC

type Ask = SoakRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

interface HubChild {
  proc: Proc;
  mqttUrl: string;
  httpUrl: string;
  ask(req: Ask): Promise<SoakReply>;
}

async function startChild(cfgFile: string, clockStart: number, logFile: string): Promise<HubChild> {
  const proc = startProc('soak hub', process.execPath, ['--import', 'tsx', '--expose-gc', path.join(here, 'soak-hub-child.ts'), cfgFile, String(clockStart)], {
    logFile,
    env: { ...process.env, LOG_LEVEL: 'warn', INFLUX_URL: '' },
    cwd: root,
    ipc: true,
  });
  const waiting = new Map<number, { resolve: (r: SoakReply) => void; reject: (e: Error) => void }>();
  let ready: ((r: Extract<SoakReply, { kind: 'ready' }>) => void) | undefined;
  let gone: Error | undefined;
  proc.child.on('message', (m) => {
    const r = m as SoakReply;
    if (r.kind === 'ready') return ready?.(r);
    const w = waiting.get(r.id);
    waiting.delete(r.id);
    w?.resolve(r);
  });
  const up = new Promise<Extract<SoakReply, { kind: 'ready' }>>((resolve, reject) => {
    ready = resolve;
    const t = setTimeout(() => reject(new Error(`the soak hub did not start within 60 s: ${proc.tail()}`)), 60_000);
    proc.child.once('message', () => clearTimeout(t));
    void proc.exited.then(() => {
      clearTimeout(t);
      gone = new Error(`the soak hub exited: ${proc.tail()}`);
      reject(gone);
      for (const w of waiting.values()) w.reject(gone);
      waiting.clear();
    });
  });
  const r = await up;
  let nextId = 1;
  return {
    proc,
    mqttUrl: r.mqttUrl,
    httpUrl: r.httpUrl,
    ask(req) {
      if (gone) return Promise.reject(gone);
      const id = nextId++;
      return new Promise<SoakReply>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        proc.child.send({ ...req, id }, (err) => {
          if (!err) return;
          waiting.delete(id);
          reject(err);
        });
      });
    },
  };
}

// ---------------------------------------------------------------------------
// the run

async function json<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(20_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface InfluxAnswer {
  results: Array<{ error?: string; series?: Array<{ values: Array<[string, number]> }> }>;
}

async function influxVisits(influxUrl: string): Promise<number> {
  const q = `SELECT count("outcome") FROM "raw"."visit" WHERE "store" = '${STORE}' AND time >= '${new Date(firstMs).toISOString()}' AND time < '${new Date(endMs).toISOString()}'`;
  const a = await json<InfluxAnswer>(`${influxUrl}/query?${new URLSearchParams({ db: DATABASE, q }).toString()}`);
  const r = a.results[0];
  if (r?.error) throw new Error(`InfluxDB: ${r.error}`);
  return r?.series?.[0]?.values[0]?.[1] ?? 0;
}

/** the hub's recorded trace (README "Record and replay a day"), its files in day order */
function* traceLines(traceDir: string): Generator<string> {
  for (const f of fs.readdirSync(traceDir).filter((x) => x.endsWith('.jsonl')).sort()) {
    for (const line of fs.readFileSync(path.join(traceDir, f), 'utf8').split('\n')) if (line) yield line;
  }
}

/**
 * How much later the hub stamped each event (its trace's `recvtime`) than the simulator's receive
 * time: the cost of the window (see the head of this file), bounded by --lag-ms.
 */
function stampLag(traceDir: string, msgs: readonly SimMessage[]): { lines: number; laterShare: number; p99Ms: number; maxMs: number; unmatched: number } {
  // a duplicate is the same (source, id) again: its copies are matched in arrival order
  const sent = new Map<string, number[]>();
  for (const m of msgs) {
    const k = `${m.ev.source} ${m.ev.id}`;
    const l = sent.get(k);
    if (l) l.push(m.recvMs);
    else sent.set(k, [m.recvMs]);
  }
  const lags: number[] = [];
  let unmatched = 0;
  for (const line of traceLines(traceDir)) {
    const e = JSON.parse(line) as { source: string; id: string; recvtime: string };
    const sim = sent.get(`${e.source} ${e.id}`)?.shift();
    if (sim === undefined) unmatched++;
    else lags.push(Date.parse(e.recvtime) - sim);
  }
  lags.sort((a, b) => a - b);
  return {
    lines: lags.length + unmatched,
    laterShare: lags.length ? lags.filter((x) => x > 0).length / lags.length : 0,
    p99Ms: lags[Math.min(lags.length - 1, Math.ceil(lags.length * 0.99) - 1)] ?? NaN,
    maxMs: lags[lags.length - 1] ?? NaN,
    unmatched,
  };
}

async function soak() {
  const wall0 = performance.now();
  const wallS = () => (performance.now() - wall0) / 1000;
  const say = (l: string) => process.stderr.write(`[${wallS().toFixed(1).padStart(6)} s] ${l}\n`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-soak-'));
  atExit(async () => fs.rmSync(work, { recursive: true, force: true }));

  const influx = await startTestInfluxd();
  atExit(() => influx.stop());
  say(`influxd at ${influx.url}`);
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const cfg = await withLogins(Value.Default(StoreConfig, storeFile(mqttPort, httpPort, influx.url)) as StoreConfig);
  const cfgFile = path.join(work, 'store.json');
  fs.writeFileSync(cfgFile, JSON.stringify(cfg, null, 2)); // JSON is YAML: loadConfig reads it

  const sim = storeWeek(cfg);
  const msgs: readonly SimMessage[] = sim.messages;
  say(`${days} simulated day(s) from ${firstDate} (${ZONE}): ${fmtInt(msgs.length)} events, ${fmtInt(sim.truth.visits)} parties, ${fmtInt(sim.truth.duplicates)} duplicates, ${fmtInt(sim.truth.reordered)} reordered`);

  const logFile = path.join(work, 'hub.log');
  const hub = await startChild(cfgFile, firstMs, logFile);
  atExit(() => hub.proc.stop());
  say(`hub pid ${hub.proc.pid} up at ${hub.httpUrl} (log ${logFile})`);

  const clients = new Map<string, MqttClient>();
  atExit(async () => {
    await Promise.all([...clients.values()].map((c) => c.endAsync(true)));
  });
  let broken: Error | undefined;
  let wake: (() => void) | undefined;
  const nudge = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  for (const n of cfg.nodes) {
    const c = await mqtt.connectAsync(hub.mqttUrl, { ...loginAs(cfg, n.id), reconnectPeriod: 0, clean: true });
    // a lost connection would lose what it carried: end the run rather than count on luck
    c.on('close', () => {
      broken ??= new Error(`node ${n.id}: MQTT connection closed`);
      nudge();
    });
    clients.set(n.id, c);
  }

  // the window: events published and not yet acknowledged, by index, with their receive time
  const inflight = new Map<number, number>();
  let published = 0;
  let acked = 0;
  let failed = 0;
  const until = async (cond: () => boolean): Promise<void> => {
    for (;;) {
      if (broken) throw broken;
      if (cond()) return;
      await new Promise<void>((r) => (wake = r));
    }
  };
  const oldestInFlight = () => {
    let min = Infinity;
    for (const t of inflight.values()) if (t < min) min = t;
    return min;
  };
  let clockMs = firstMs;
  const advanceTo = async (ms: number) => {
    if (ms <= clockMs) return;
    await until(() => oldestInFlight() >= ms - lagMs);
    const r = await hub.ask({ kind: 'clock', ms });
    if (r.kind !== 'clock') throw new Error(`the hub answered ${r.kind} to a clock request`);
    clockMs = r.ms;
  };
  const publish = (i: number, m: SimMessage) => {
    const src = parseSource(m.ev.source);
    const c = src && clients.get(src.node);
    if (!src || !c) throw new Error(`event ${m.ev.id} from an unknown node: ${m.ev.source}`);
    inflight.set(i, m.recvMs);
    published++;
    c.publish(topics.events(STORE, src.node), JSON.stringify(m.ev), { qos: 1 }, (err) => {
      inflight.delete(i);
      if (err) failed++;
      else acked++;
      nudge();
    });
  };

  const samples: Sample[] = [];
  const sample = async (kind: Sample['kind']) => {
    const r = await hub.ask({ kind: 'sample' });
    if (r.kind !== 'sample') throw new Error(`the hub answered ${r.kind} to a sample request`);
    samples.push({ kind, simMs: r.ms, simDay: (r.ms - firstMs) / DAY_MS, published, acked, wallS: wallS(), found: r.found, afterGc: r.afterGc });
  };

  await sample('start');
  const pub0 = performance.now();
  let nextHour = firstMs + HOUR_MS;
  let nextDay = firstMs + DAY_MS;
  const stepHours = async (toMs: number) => {
    for (; nextHour <= toMs; nextHour += HOUR_MS) {
      await advanceTo(nextHour);
      await sample('hour');
      if (nextHour >= nextDay) {
        const s = samples[samples.length - 1]!;
        say(`day ${Math.round(s.simDay)} done: ${fmtInt(acked)} events acknowledged, RSS ${fmt(mb(s.found.rss))} MB, heap after GC ${fmt(s.afterGc ? mb(s.afterGc.heapUsed) : NaN)} MB`);
        nextDay += DAY_MS;
      }
    }
  };
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    await stepHours(m.recvMs);
    await advanceTo(m.recvMs);
    await until(() => inflight.size < windowSize);
    publish(i, m);
    if ((i + 1) % sampleEvery === 0) await sample('events');
  }
  // the rest of the last day: every party closes and turns final (expireS, reorderS) long before midnight
  await stepHours(endMs);
  await until(() => inflight.size === 0);
  const publishS = (performance.now() - pub0) / 1000;
  say(`all ${fmtInt(published)} events answered in ${fmt(publishS)} s; waiting for InfluxDB to hold the period's visits`);

  // the period's visits in InfluxDB, and what the hub's report says for the same period
  const reportUrl = `${hub.httpUrl}/api/stores/${STORE}/report?from=${firstDate}&to=${endDate}`;
  let report: Report | undefined;
  let live: LiveSnapshot | undefined;
  let inInflux = -1;
  let settled = true;
  try {
    await waitFor(
      async () => {
        [report, live, inInflux] = await Promise.all([json<Report>(reportUrl, apiAuth), json<LiveSnapshot>(`${hub.httpUrl}/api/stores/${STORE}/live`, apiAuth), influxVisits(influx.url)]);
        return report.pending === 0 && live.history.spool === 0 && inInflux === report.visits;
      },
      'the period visits in InfluxDB to match the hub report',
      120_000,
      250,
    );
  } catch (err) {
    settled = false;
    say((err as Error).message);
  }
  await sample('end');
  for (const c of clients.values()) c.removeAllListeners('close');
  await Promise.all([...clients.values()].map((c) => c.endAsync()));
  clients.clear();
  const stopped = await hub.ask({ kind: 'stop' });
  if (stopped.kind !== 'stopped') throw new Error(`the hub answered ${stopped.kind} to stop`);
  await hub.proc.exited;
  const traceDir = path.join(work, cfg.hub.dataDir, 'traces');
  const stamps = stampLag(traceDir, msgs);
  const replayed = replayTrace(traceLines(traceDir), cfg, { fromMs: firstMs, toMs: endMs }).report;

  const nodes = live?.nodes ?? [];
  const sum = (f: (n: LiveSnapshot['nodes'][number]) => number) => nodes.reduce((s, n) => s + f(n), 0);
  const rejected = sum((n) => Object.values(n.rejected).reduce((s, x) => s + x, 0));
  const seqGaps = sum((n) => n.lost);
  const events = {
    simulated: msgs.length,
    published,
    acknowledged: acked,
    failed,
    /** accepted events the hub made durable (its trace journal) */
    journaled: live?.journal?.written ?? null,
    duplicates: sum((n) => n.duplicates),
    tooLate: sum((n) => n.tooLate),
    rejected,
    /** not acknowledged, plus seq gaps the hub counted: must be 0 */
    lost: published - acked + seqGaps,
  };
  const visits = { influx: inInflux, report: report?.visits ?? null, pending: report?.pending ?? null, truth: sim.truth.visits, serviceLevel: report?.serviceLevel ?? null, settled, replay: { visits: replayed.visits, pending: replayed.pending, serviceLevel: replayed.serviceLevel } };

  // the slope after the warm-up (what the hub keeps for 48 h of hub time), else over the second half
  const fromMs = days * DAY_MS >= 2 * WARMUP_MS ? firstMs + WARMUP_MS : firstMs + (days * DAY_MS) / 2;
  const windowName = fromMs === firstMs + WARMUP_MS ? 'after a 48 h warm-up' : 'over the second half';
  const inWindow = samples.filter((s) => s.simMs >= fromMs);
  const byHour = inWindow.filter((s) => s.kind === 'hour');
  const byEvents = inWindow.filter((s) => s.kind === 'events');
  const slopes = (get: (s: Sample) => number | null) => {
    const h = byHour.filter((s) => get(s) !== null);
    const e = byEvents.filter((s) => get(s) !== null);
    const perDay = fit(
      h.map((s) => s.simDay),
      h.map((s) => mb(get(s)!)),
    );
    const perEvent = fit(
      e.map((s) => s.published),
      e.map((s) => get(s)!),
    );
    return { mbPerDay: perDay?.slope ?? null, residualMB: perDay?.residualSd ?? null, bytesPerEvent: perEvent?.slope ?? null, hourSamples: h.length, eventSamples: e.length };
  };
  const series = (get: (s: Sample) => number | null) => {
    const v = samples.map(get).filter((x): x is number => x !== null);
    return { firstMB: v.length ? mb(v[0]!) : null, lastMB: v.length ? mb(v[v.length - 1]!) : null, maxMB: v.length ? mb(Math.max(...v)) : null };
  };
  const rss = { ...series((s) => s.found.rss), ...slopes((s) => s.found.rss) };
  const rssAfterGc = { ...series((s) => s.afterGc?.rss ?? null), ...slopes((s) => s.afterGc?.rss ?? null) };
  const heapAfterGc = { ...series((s) => s.afterGc?.heapUsed ?? null), ...slopes((s) => s.afterGc?.heapUsed ?? null) };
  // flat: the fitted line rises over the window by no more than the samples' own noise (twice their
  // scatter around it: RSS moves in steps as V8 takes and returns pages) or a negligible amount
  // (1 MB, or 2 % of the level); judged only when the window after the warm-up is at least as
  // long as the warm-up
  const judged = days * DAY_MS >= 2 * WARMUP_MS;
  const spanDays = inWindow.length ? (inWindow[inWindow.length - 1]!.simMs - fromMs) / DAY_MS : 0;
  const riseMB = (s: { mbPerDay: number | null }) => (s.mbPerDay === null ? null : s.mbPerDay * spanDays);
  const levelMB = (get: (s: Sample) => number | null) => {
    const v = byHour.map(get).filter((x): x is number => x !== null);
    return v.length ? mb(v.reduce((a, b) => a + b, 0) / v.length) : 0;
  };
  const isFlat = (s: { mbPerDay: number | null; residualMB: number | null }, level: number): boolean | null => {
    const rise = riseMB(s);
    if (!judged || rise === null || s.residualMB === null) return null;
    return rise <= Math.max(2 * s.residualMB, 1, 0.02 * level);
  };
  const flat = { rss: isFlat(rss, levelMB((x) => x.found.rss)), heapAfterGc: isFlat(heapAfterGc, levelMB((x) => x.afterGc?.heapUsed ?? null)) };
  const word = (f: boolean | null) => (f === null ? 'not judged (needs at least 4 simulated days)' : f ? 'flat' : 'NOT FLAT');
  const ok = flat.rss !== false && flat.heapAfterGc !== false && events.lost === 0 && events.failed === 0 && events.rejected === 0 && settled && visits.influx === visits.report;

  const result = {
    soak: {
      store: STORE,
      days,
      from: firstDate,
      to: endDate,
      timezone: ZONE,
      busy,
      window: windowSize,
      lagMs,
      seed,
      fitWindow: { name: windowName, fromSimDay: (fromMs - firstMs) / DAY_MS, spanDays, judged },
      wallS: wallS(),
      publishS,
      eventsPerS: published / publishS,
      events,
      stamps,
      visits,
      rss,
      rssAfterGc,
      heapAfterGc,
      flat,
      ok,
      samples,
    },
  };

  const rows: Array<[string, string]> = [
    ['period (store-local)', `${firstDate} to ${endDate} (${days} day${days === 1 ? '' : 's'}), ${ZONE}`],
    ['wall time', `${fmt(wallS())} s (publishing ${fmt(publishS)} s, ${fmtInt(published / publishS)} events/s)`],
    ['events simulated / published', `${fmtInt(events.simulated)} / ${fmtInt(published)}`],
    ['acknowledged (PUBACK) / failed', `${fmtInt(acked)} / ${fmtInt(failed)}`],
    ['journaled / duplicates / rejected', `${events.journaled === null ? '–' : fmtInt(events.journaled)} / ${fmtInt(events.duplicates)} / ${fmtInt(rejected)}`],
    ['hub stamps later than simulated', `${fmt(stamps.laterShare * 100)} % of ${fmtInt(stamps.lines)} traced, p99 ${fmt(stamps.p99Ms, 0)} ms, max ${fmt(stamps.maxMs, 0)} ms (bound ${lagMs} ms)`],
    ['events lost', `${fmtInt(events.lost)}${events.lost === 0 ? '' : '  <- must be 0'}`],
    ['visits in InfluxDB / hub report', `${fmtInt(inInflux)} / ${visits.report === null ? '–' : fmtInt(visits.report)}${visits.influx === visits.report ? '' : '  <- must be equal'} (simulated parties ${fmtInt(sim.truth.visits)}, service level ${fmt((visits.serviceLevel ?? NaN) * 100)} %)`],
    ['replay of the hub\'s trace', `${fmtInt(replayed.visits)} visits + ${fmtInt(replayed.pending)} pending at its last event, service level ${fmt((replayed.serviceLevel ?? NaN) * 100)} %`],
    ['RSS first / last / max', `${fmt(rss.firstMB)} / ${fmt(rss.lastMB)} / ${fmt(rss.maxMB)} MB`],
    [`RSS slope ${windowName}`, `${fmt(rss.mbPerDay, 2)} MB/day, ${fmt(rss.bytesPerEvent, 1)} bytes/event (rise ${fmt(riseMB(rss), 1)} MB over ${fmt(spanDays, 1)} days, scatter ±${fmt(rss.residualMB, 1)} MB): ${word(flat.rss)}`],
    ['heap after GC first / last / max', `${fmt(heapAfterGc.firstMB)} / ${fmt(heapAfterGc.lastMB)} / ${fmt(heapAfterGc.maxMB)} MB`],
    [`heap slope ${windowName}`, `${fmt(heapAfterGc.mbPerDay, 2)} MB/day, ${fmt(heapAfterGc.bytesPerEvent, 1)} bytes/event (rise ${fmt(riseMB(heapAfterGc), 1)} MB, scatter ±${fmt(heapAfterGc.residualMB, 2)} MB): ${word(flat.heapAfterGc)}`],
    ['samples', `${samples.length} (${rss.hourSamples} hourly and ${rss.eventSamples} every ${sampleEvery} events in the fit window, from simulated day ${fmt((fromMs - firstMs) / DAY_MS, 1)})`],
    ['verdict', (ok ? `OK: nothing lost, InfluxDB holds what the hub reports, RSS and heap ${judged ? 'flat' : 'slopes not judged'}` : 'FAILED (see above)') + (flat.heapAfterGc === false ? '; the heap after GC grows' : '')],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    '',
    `soak: the real hub (child pid ${hub.proc.pid}, sources through tsx) and a real InfluxDB; busy ${busy}×, window ${windowSize}, clock lag ≤ ${lagMs} ms`,
    `      RSS as found at each sample; heap after the full GC the child then runs (--expose-gc)`,
    '',
  ];
  for (const [k, v] of rows) lines.push(`  ${k.padEnd(w)}  ${v}`);
  lines.push('', '  by simulated day (the hourly sample at the end of each 24 h):');
  for (const s of samples.filter((x) => x.kind === 'hour' && (x.simMs - firstMs) % DAY_MS === 0)) {
    lines.push(`    day ${String(Math.round(s.simDay)).padStart(2)}  ${dateOf(s.simMs - 1)}  events ${fmtInt(s.published).padStart(8)}  RSS ${fmt(mb(s.found.rss)).padStart(6)} MB  heap after GC ${fmt(s.afterGc ? mb(s.afterGc.heapUsed) : NaN).padStart(6)} MB`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (args.json) {
    fs.writeFileSync(args.json, JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(`\nfigures written to ${args.json}\n`);
  }
  return ok;
}

stopOnInterrupt();
let ok = false;
try {
  ok = await soak();
} finally {
  await runCleanups();
}
process.exitCode = ok ? 0 : 1;

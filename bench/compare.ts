import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startTestInfluxd } from '../test/helpers/influxd.ts';
import { connectNodes, MIX_TEXT, percentile, runLoad, type LoadConnection } from './load-gen.ts';
import { installPeer, type PeerInstall } from './peer/install.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { atExit, rssOf, runCleanups, sampleRss } from './procs.ts';
import { aedesTarget, greetwatchTarget, peerTarget, STORE, type Running, type Target } from './systems.ts';

// (g) greetwatch against the DIY stack a store owner could wire instead (Mosquitto → Node-RED →
// InfluxDB) and against a bare aedes (the broker ceiling), on the same generated events over the
// same connections. Runs are interleaved (greetwatch, peer, aedes for each load) so that machine
// noise hits all; every system is started fresh for each run. Figures are printed, never asserted.

export interface CompareOptions {
  /** skip the peer; shorter loads */
  quick: boolean;
  steadySeconds: number;
  /** a run that has not finished after this long is reported as not finished, with what landed */
  runTimeoutS: number;
  /** sustained loads (events); default 50k, 100k, 1M (quick: 50k, 100k) */
  sizes?: number[];
  /** events per burst; default 200k (quick: 50k) */
  burst?: number;
  /** only the loads whose key starts with one of these (sustained, burst, steady, sustained-50k…) */
  only?: string[];
  /** mosquitto with its queue limit lifted, a wider in-flight window and Nagle off, instead of its defaults */
  peerTuned?: boolean;
  say: (line: string) => void;
}

type SystemName = Target['name'];

interface RunFigures {
  system: SystemName;
  scenario: string;
  published: number;
  acked: number;
  landed: number;
  lost: number;
  seconds: number;
  eventsPerS: number;
  finished: boolean;
  pubackP50Ms: number;
  pubackP99Ms: number;
  screenP50Ms?: number;
  screenP99Ms?: number;
  screenSamples?: number;
  /** entries published that never showed on the screen, neither as a party of their own nor as one they joined */
  screenMissed?: number;
  /** entries that joined an earlier party (groupWindowS after clock correction): shown as that party */
  screenJoined?: number;
  screenKinds?: Record<string, number>;
  rssIdleMB: number;
  rssPeakMB: number;
  hwmMB: number;
  notes: string[];
}

interface Scenario {
  key: string;
  label: string;
  events: number;
  conns: number;
  window: number;
  ratePerS?: number;
  screen?: boolean;
}

export interface CompareReport {
  options: { quick: boolean; steadySeconds: number; runTimeoutS: number; connections: number; window: number; mix: string; peerTuned: boolean };
  peer: Pick<PeerInstall, 'mosquittoVersion' | 'nodeRedVersion' | 'influxNodeVersion' | 'dir'> | null;
  influxd: string | null;
  runs: RunFigures[];
}

const WINDOW = 16;
const CONNS = 10;
const nodeIds = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);
const fmtInt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fmt = (n: number | undefined, d = 1) => (n !== undefined && Number.isFinite(n) ? n.toFixed(d) : 'n/a');

function scenarios(o: CompareOptions): Scenario[] {
  const sizes = o.sizes ?? (o.quick ? [50_000, 100_000] : [50_000, 100_000, 1_000_000]);
  const burst = o.burst ?? (o.quick ? 50_000 : 200_000);
  const k = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`);
  const all: Scenario[] = [
    ...sizes.map((n) => ({ key: `sustained-${k(n)}`, label: `sustained, ${k(n)} events`, events: n, conns: CONNS, window: WINDOW })),
    ...[10, 50].map((c) => ({ key: `burst-${k(burst)}x${c}`, label: `burst of ${k(burst)} from ${c} connections`, events: burst, conns: c, window: Infinity })),
    { key: 'steady', label: `steady 1,000 events/s for ${o.steadySeconds} s`, events: 1_000 * o.steadySeconds, conns: CONNS, window: Infinity, ratePerS: 1_000, screen: true },
  ];
  const only = o.only;
  return only ? all.filter((sc) => only.some((p) => sc.key.startsWith(p))) : all;
}

/** landed count, polled until it reaches `target`, stops moving for `stallMs`, or `untilMs` (performance.now) passes */
async function waitLanded(sys: Running, bootid: string, target: number, stallMs: number, untilMs: number): Promise<{ landed: number; atMs: number }> {
  let last = -1;
  let lastChange = performance.now();
  let atMs = performance.now();
  const settled = async (): Promise<boolean> => {
    let n = last;
    try {
      n = await sys.landed(bootid);
    } catch {
      // a system too busy to answer: try again until the bounds
    }
    const now = performance.now();
    if (n !== last) {
      if (n > last) atMs = now;
      last = n;
      lastChange = now;
    }
    return n >= target || now - lastChange > stallMs || now > untilMs;
  };
  // the bounds are in `settled`; waitFor's own is only a backstop past them
  await waitFor(settled, 'events to land', Math.max(0, untilMs - performance.now()) + stallMs + 60_000, 100);
  return { landed: Math.max(0, last), atMs };
}

async function runOne(target: Target, sc: Scenario, run: number, o: CompareOptions, baseDir: string): Promise<RunFigures> {
  const runDir = path.join(baseDir, `${String(run).padStart(2, '0')}-${target.name}-${sc.key}`);
  fs.mkdirSync(runDir, { recursive: true });
  const nodes = nodeIds(sc.conns);
  const sys = await target.start(run, nodeIds(50), runDir);
  let conns: LoadConnection[] = [];
  const notes: string[] = [];
  try {
    conns = await connectNodes({ port: sys.mqttPort, store: STORE, nodes, login: (n) => sys.login(n) });
    // "idle" is defined as connected and quiet for a second: a measurement period, not a wait for a state
    await new Promise((r) => setTimeout(r, 1_000));
    const rssIdleMB = sys.pids().reduce((s, p) => s + rssOf(p).rssMB, 0);
    const bootid = `b${run}${crypto.randomBytes(3).toString('hex')}`;
    // entry → screen: published entries waiting to show
    const pending = new Map<string, number>();
    const screenLat: number[] = [];
    const screen = sc.screen && sys.screen ? await sys.screen((party) => {
      const t = pending.get(party);
      if (t === undefined) return;
      screenLat.push(performance.now() - t);
      pending.delete(party);
    }) : undefined;
    let entries = 0;
    const sampler = sampleRss(() => sys.pids());
    const timeoutMs = sc.ratePerS ? (sc.events / sc.ratePerS) * 1000 + 30_000 : o.runTimeoutS * 1000;
    await sys.loopDelay?.(); // starts the window
    // the load generator's own loop: a PUBACK it reads late is timed late, whichever system sent it
    const ownLoop = monitorEventLoopDelay({ resolution: 1 });
    ownLoop.enable();
    const load = await runLoad({
      store: STORE,
      bootid,
      conns,
      total: sc.events,
      window: sc.window,
      ...(sc.ratePerS ? { ratePerS: sc.ratePerS } : {}),
      timeoutMs,
      ...(screen
        ? {
            onEntry: (party: string, at: number) => {
              entries++;
              pending.set(party, at);
            },
          }
        : {}),
    });
    ownLoop.disable();
    notes.push(`load generator's own event loop delay: p99 ${fmt(Math.max(0, ownLoop.percentile(99) / 1e6 - 1), 1)} ms, max ${fmt(Math.max(0, ownLoop.max / 1e6 - 1), 1)} ms (in every PUBACK time it took)`);
    const loop = await sys.loopDelay?.();
    if (loop) notes.push(`event loop delay during the load: p99 ${fmt(loop.p99Ms, 1)} ms, max ${fmt(loop.maxMs, 1)} ms (what the process itself held PUBACKs back by)`);
    // the peer's pipeline runs behind its PUBACKs: wait for InfluxDB, bounded by the run's time
    const deadline = load.startMs + timeoutMs + 30_000;
    const w = await waitLanded(sys, bootid, load.published, sys.ackIsLanded ? 2_000 : 10_000, deadline);
    if (screen) {
      // the last entries reach the screen, or 2 s pass (those left are counted as never shown)
      await waitFor(() => pending.size === 0, 'the last entries on the screen', 2_000).catch(() => undefined);
      screen.close();
    }
    const rssPeakMB = sampler.stop();
    const hwmMB = sys.pids().reduce((s, p) => s + rssOf(p).hwmMB, 0);
    const finished = !load.timedOut && w.landed >= load.published;
    const endMs = sys.ackIsLanded ? load.lastAckMs : Math.max(load.lastAckMs, w.atMs);
    const seconds = (endMs - load.startMs) / 1000;
    if (load.timedOut) notes.push(`did not finish in ${fmt(timeoutMs / 1000, 0)} s: ${fmtInt(load.acked)} of ${fmtInt(sc.events)} acknowledged, ${fmtInt(w.landed)} landed`);
    if (load.dropped) notes.push(`${load.dropped} connection(s) closed by the broker`);
    notes.push(...sys.notes());
    const kinds = screen ? Object.fromEntries(screen.kinds) : undefined;
    return {
      system: target.name,
      scenario: sc.key,
      published: load.published,
      acked: load.acked,
      landed: w.landed,
      lost: Math.max(0, load.published - w.landed),
      seconds,
      eventsPerS: (sys.ackIsLanded ? Math.min(load.acked, w.landed) : w.landed) / seconds,
      finished,
      pubackP50Ms: percentile(load.puback, 50),
      pubackP99Ms: percentile(load.puback, 99),
      ...(screen
        ? screenFigures(screenLat, entries, sys.parties?.(), kinds ?? {})
        : {}),
      rssIdleMB,
      rssPeakMB,
      hwmMB,
      notes,
    };
  } finally {
    await Promise.all(conns.map((c) => c.pub.close()));
    await sys.stop();
    // a 1M-event trace is a few hundred MB: gone once its figures are taken
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

export async function runCompare(o: CompareOptions): Promise<CompareReport> {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-compare-'));
  atExit(async () => fs.rmSync(baseDir, { recursive: true, force: true }));
  let install: PeerInstall | null = null;
  let influxUrl: string | undefined;
  try {
    if (!o.quick) {
      install = await installPeer(o.say);
      const influx = await startTestInfluxd();
      atExit(() => influx.stop());
      influxUrl = influx.url;
    }
    const targets: Target[] = [greetwatchTarget(influxUrl), ...(install && influxUrl ? [peerTarget(install, influxUrl, o.peerTuned === true)] : []), aedesTarget()];
    const runs: RunFigures[] = [];
    let run = 0;
    for (const sc of scenarios(o)) {
      // interleaved: each load on every system before the next load
      for (const t of targets) {
        run++;
        o.say(`(g) ${sc.label}: ${t.name}…`);
        try {
          const r = await runOne(t, sc, run, o, baseDir);
          runs.push(r);
          o.say(`    ${fmtInt(r.eventsPerS)} events/s, ${fmtInt(r.landed)}/${fmtInt(r.published)} landed in ${fmt(r.seconds)} s${r.notes.length ? ' — ' + r.notes.join('; ') : ''}`);
        } catch (err) {
          o.say(`    failed: ${(err as Error).message}`);
          runs.push({
            system: t.name,
            scenario: sc.key,
            published: 0,
            acked: 0,
            landed: 0,
            lost: 0,
            seconds: NaN,
            eventsPerS: NaN,
            finished: false,
            pubackP50Ms: NaN,
            pubackP99Ms: NaN,
            rssIdleMB: NaN,
            rssPeakMB: NaN,
            hwmMB: NaN,
            notes: [`failed: ${(err as Error).message.split('\n')[0]}`],
          });
        }
      }
    }
    return {
      options: { quick: o.quick, steadySeconds: o.steadySeconds, runTimeoutS: o.runTimeoutS, connections: CONNS, window: WINDOW, mix: MIX_TEXT, peerTuned: o.peerTuned === true },
      peer: install ? { mosquittoVersion: install.mosquittoVersion, nodeRedVersion: install.nodeRedVersion, influxNodeVersion: install.influxNodeVersion, dir: install.dir } : null,
      influxd: influxUrl ?? null,
      runs,
    };
  } finally {
    await runCleanups();
  }
}

// ---------------------------------------------------------------------------
// table

/**
 * Entry → screen figures. An entry that joined an earlier party has no party of its own to
 * show: entries − parties of them are not counted as never shown (the system says how many
 * parties it opened; the peer has no parties, so all its entries count).
 */
function screenFigures(lat: number[], entries: number, parties: number | undefined, kinds: Record<string, number>): Partial<RunFigures> {
  const joined = parties === undefined ? 0 : Math.max(0, entries - parties);
  return { screenP50Ms: percentile(lat, 50), screenP99Ms: percentile(lat, 99), screenSamples: lat.length, screenMissed: Math.max(0, entries - joined - lat.length), screenJoined: joined, screenKinds: kinds };
}

export function compareTable(r: CompareReport): { title: string; head: string[]; rows: string[][]; notes: string[] } {
  const get = (sys: SystemName, sc: string) => r.runs.find((x) => x.system === sys && x.scenario === sc);
  const hasPeer = r.peer !== null;
  const scs = [...new Set(r.runs.map((x) => x.scenario))];
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : 'n/a');
  const pctOf = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${Math.round((a / b) * 100)} %` : 'n/a');
  const mark = (x: RunFigures | undefined) => (!x ? '' : !x.finished ? (x.acked < x.published || x.published === 0 ? ' DNF' : ' (lost)') : '');
  const rows: string[][] = [];
  const add = (label: string, sc: string, val: (x: RunFigures) => number | undefined, show: (x: RunFigures | undefined) => string) => {
    const g = get('greetwatch', sc);
    const p = get('peer', sc);
    const a = get('aedes', sc);
    const v = (x: RunFigures | undefined) => (x ? val(x) : undefined);
    // throughput as a share of the broker ceiling; latencies and memory as a factor
    const ofAedes = label.endsWith('events/s') ? pctOf : ratio;
    // a ratio of losses says nothing (0 / n): the counts stand alone
    const lost = label.endsWith('lost');
    rows.push([label, show(g), ...(hasPeer ? [show(p), lost ? '' : ratio(v(g), v(p))] : []), show(a), lost ? '' : ofAedes(v(g), v(a))]);
  };
  for (const sc of scs) {
    const x = get('greetwatch', sc) ?? get('aedes', sc);
    if (!x) continue;
    if (sc.startsWith('sustained') || sc.startsWith('burst')) {
      add(`${sc}: events/s`, sc, (f) => f.eventsPerS, (f) => (f ? fmtInt(f.eventsPerS) + mark(f) : '-'));
      add(`${sc}: lost`, sc, (f) => f.lost, (f) => (f ? fmtInt(f.lost) : '-'));
    } else if (sc === 'steady') {
      add('steady: PUBACK p50 ms', sc, (f) => f.pubackP50Ms, (f) => (f ? fmt(f.pubackP50Ms, 2) : '-'));
      add('steady: PUBACK p99 ms', sc, (f) => f.pubackP99Ms, (f) => (f ? fmt(f.pubackP99Ms, 2) : '-'));
      add('steady: entry → screen p50 ms', sc, (f) => f.screenP50Ms, (f) => (f?.screenP50Ms !== undefined ? fmt(f.screenP50Ms, 1) : '-'));
      add('steady: entry → screen p99 ms', sc, (f) => f.screenP99Ms, (f) => (f?.screenP99Ms !== undefined ? fmt(f.screenP99Ms, 1) : '-'));
      add('steady: lost', sc, (f) => f.lost, (f) => (f ? fmtInt(f.lost) : '-'));
    }
  }
  const idle = (sys: SystemName) => r.runs.find((x) => x.system === sys && Number.isFinite(x.rssIdleMB))?.rssIdleMB;
  const peak = (sys: SystemName) => Math.max(...r.runs.filter((x) => x.system === sys && Number.isFinite(x.rssPeakMB)).map((x) => x.rssPeakMB));
  const mb = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? fmt(n, 0) : '-');
  rows.push(['RSS idle MB', mb(idle('greetwatch')), ...(hasPeer ? [mb(idle('peer')), ratio(idle('greetwatch'), idle('peer'))] : []), mb(idle('aedes')), ratio(idle('greetwatch'), idle('aedes'))]);
  rows.push(['RSS peak MB (any load)', mb(peak('greetwatch')), ...(hasPeer ? [mb(peak('peer')), ratio(peak('greetwatch'), peak('peer'))] : []), mb(peak('aedes')), ratio(peak('greetwatch'), peak('aedes'))]);

  const notes: string[] = [];
  const steadyGw = get('greetwatch', 'steady');
  const steadyPeer = get('peer', 'steady');
  notes.push(
    `screen, greetwatch: the hub's live stream (GET /api/stores/${STORE}/stream): publish → first \`change\` with the party open, or the first \`live\` snapshot listing it` +
      (steadyGw?.screenKinds ? ` (messages seen: ${Object.entries(steadyGw.screenKinds).map(([k, n]) => `${k} ${n}`).join(', ')}; ${fmtInt(steadyGw.screenSamples ?? 0)} entries timed, ${fmtInt(steadyGw.screenJoined ?? 0)} joined an earlier party within groupWindowS and showed as it, ${fmtInt(steadyGw.screenMissed ?? 0)} never shown)` : ''),
  );
  if (hasPeer)
    notes.push(
      `screen, peer: Node-RED's websocket out after the function node: publish → the websocket message for that entry` +
        (steadyPeer?.screenSamples !== undefined ? ` (${fmtInt(steadyPeer.screenSamples)} entries timed, ${fmtInt(steadyPeer.screenMissed ?? 0)} never shown)` : ''),
    );
  notes.push(
    'landed: greetwatch = acknowledged (its PUBACK follows the fdatasync\'ed trace write and the hand-over to the engine; checked against journal.written in /live)' +
      (hasPeer ? '; peer = points counted in InfluxDB (its PUBACK comes from mosquitto on receipt, before Node-RED has the event)' : '') +
      '; bare aedes = acknowledged',
  );
  notes.push('DNF: did not finish within the run time limit (events/s is then what was acknowledged and landed by the limit); (lost): all acknowledged, not all landed');
  for (const x of r.runs) for (const n of x.notes) notes.push(`${x.system}, ${x.scenario}: ${n}`);
  const peerDesc = r.peer ? `; peer: mosquitto ${r.peer.mosquittoVersion}${r.options.peerTuned ? ' (tuned: no queue limit, 100 in flight, no Nagle)' : ' (default settings)'} → Node-RED ${r.peer.nodeRedVersion} (node-red-contrib-influxdb ${r.peer.influxNodeVersion}) → influxd` : '; peer skipped (--quick)';
  return {
    title: `(g) greetwatch hub vs the DIY peer and a bare aedes, all on 127.0.0.1, each system fresh per run, runs interleaved; sustained: ${CONNS} connections × ${WINDOW} in flight; bursts: everything written at once${peerDesc}`,
    head: ['figure', 'greetwatch', ...(hasPeer ? ['peer', 'gw/peer'] : []), 'bare aedes', 'gw/aedes'],
    rows,
    notes,
  };
}

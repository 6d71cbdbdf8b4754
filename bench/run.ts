// npm run bench (tsx bench/run.ts [--json <file>] [--events <n>] [--edge-seconds <n>])
//
// Measures, never asserts:
//   (a) engine throughput on a large simulated trace: GreetEngine.ingest + advance in a
//       replay's loop (parse + engine less parse alone), and the bare VisitMachine.apply;
//       events/s and per-event latency p50/p99 (µs)
//   (b) heap with 10,000 open parties (engine, and the bare machine), MB and bytes/party
//   (c) replay throughput of the fixture traces (replayTrace: JSON parse, validate, engine, report)
//   (d) cost of the live view engine.live(now) with 10,000 open parties (ms per call), and
//       per view after 100 new events with 10k, 100k and 200k events in the reorder buffer,
//       incremental against rebuilt from scratch, with heap per buffered event and per
//       de-duplication entry (bench/engine-live.ts)
//   (e) the hub end to end on loopback: MQTT QoS 1 → validate → trace → engine (bench/hub-ingest.ts)
//   (f) the edge agent on the gpio driver (fake onoff Gpio) and a real broker: input edge →
//       PUBLISH latency p50/p99, agent RSS idle and while a 1 kHz chattering input is muted
//       for --edge-seconds (default 60) (bench/edge-agent.ts)
//   (g) greetwatch against the DIY peer (Mosquitto → Node-RED → InfluxDB, installed into a scratch
//       folder outside the project) and a bare aedes, same events, interleaved runs (bench/compare.ts):
//       sustained events/s, bursts and what they lose, PUBACK and entry → screen latency at a steady
//       1,000 events/s, RSS. --quick skips the peer and shortens the loads; --steady-seconds [180];
//       --run-timeout [300] bounds each run; --sizes 50000,100000 and --burst 200000 change the loads;
//       --scenarios steady,burst runs only those loads (keys: sustained-50k…, burst-…, steady);
//       --peer-tuned lifts mosquitto's queue limit; --no-compare skips (g); --compare-only runs only (g)
//   (h) history: a year of one store's visits through the real InfluxDB store into a real influxd:
//       write points/s, weekly and year reports from raw and from rollups (p50/p95 ms), disk per
//       visit and the 1,000-store arithmetic (bench/history.ts; --quick: 8 weeks; --no-history skips)
//   (i) what-if replay of a chain with the built CLI (`greetwatch replay <folder> --rules … --stats`):
//       4 simulated stores × 90 days, one worker and one per core, events/s and a year of twenty
//       stores at that rate (bench/chain-replay.ts; --quick: 14 days, one round; --no-chain skips)
// Prints a table, then the figures as JSON (to stdout, or to the --json file).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { GwEvent } from '../contract/index.ts';
import { loadConfig } from '../firmware-config/load.ts';
import type { StoreConfig } from '../firmware-config/schema.ts';
import { VisitMachine, type MachineInput } from '../hub/engine/machine.ts';
import { engineFor, replayTrace } from '../hub/engine/replay.ts';
import { FIXTURES } from '../scripts/make-fixtures.ts';
import { simulateStore, type SimMessage } from '../test/helpers/store-sim.ts';
import { measureEdgeLatency, measureEdgeMemory } from './edge-agent.ts';
import { compareTable, runCompare } from './compare.ts';
import { measureHubIngest } from './hub-ingest.ts';
import { measureLiveTick, type LiveTickFigures } from './engine-live.ts';
import { historyTables, measureHistory } from './history.ts';
import { chainReplayTable, measureChainReplay } from './chain-replay.ts';
import { runCleanups, stopOnInterrupt } from './procs.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    json: { type: 'string' },
    events: { type: 'string' },
    'edge-seconds': { type: 'string' },
    quick: { type: 'boolean' },
    'steady-seconds': { type: 'string' },
    'run-timeout': { type: 'string' },
    'no-compare': { type: 'boolean' },
    'compare-only': { type: 'boolean' },
    sizes: { type: 'string' },
    burst: { type: 'string' },
    scenarios: { type: 'string' },
    'peer-tuned': { type: 'boolean' },
    'no-history': { type: 'boolean' },
    'no-chain': { type: 'boolean' },
  },
});
const QUICK = args.quick === true;
const COMPARE_ONLY = args['compare-only'] === true;
stopOnInterrupt();
const TARGET_EVENTS = Number(args.events ?? 200_000);
const OPEN_PARTIES = 10_000;
const started = performance.now();

// ---------------------------------------------------------------------------
// GC: --expose-gc if node was started with it, else the V8 flag set at run time

type GcFn = () => void;
function findGc(): { gc: GcFn | undefined; how: string } {
  const g = (globalThis as { gc?: GcFn }).gc;
  if (typeof g === 'function') return { gc: g, how: 'global.gc (node --expose-gc)' };
  try {
    v8.setFlagsFromString('--expose-gc');
    // a new context sees the flag: its global has gc()
    const fn: unknown = vm.runInNewContext('gc');
    if (typeof fn === 'function') return { gc: fn as GcFn, how: 'gc exposed at run time (v8.setFlagsFromString)' };
  } catch {
    // fall through
  }
  return { gc: undefined, how: 'GC NOT forced (heap figures include garbage)' };
}
const { gc, how: gcHow } = findGc();
const settle = () => {
  if (!gc) return;
  for (let i = 0; i < 3; i++) gc();
};
/** the heap and the typed arrays' stores (de-duplication's ULIDs live there, off the heap) */
const heapUsed = () => {
  settle();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

// ---------------------------------------------------------------------------
// helpers

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}
const now = () => Number(process.hrtime.bigint()) / 1000; // µs
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

function benchConfig(): StoreConfig {
  const cfg = loadConfig(path.join(root, 'test', 'fixtures', 'store.yaml'));
  // always open: the long trace runs over Sundays too
  const { openingHours: _hours, ...store } = cfg.store;
  return { ...cfg, store };
}

// ---------------------------------------------------------------------------
// (a) throughput on a large trace

function largeTrace(cfg: StoreConfig): SimMessage[] {
  const rush = FIXTURES.find((f) => f.name === 'saturday-rush')!;
  const perDay = 2_150; // events of a rush day, roughly
  const days = Math.max(1, Math.ceil(TARGET_EVENTS / perDay));
  const sim = simulateStore({
    ...rush.sim,
    days,
    seed: 777,
    date: '2026-01-05',
    store: cfg.store.id,
    timezone: cfg.store.timezone,
    rules: cfg.rules,
    lines: false,
    transport: { duplicates: { p: 0.01, afterMs: [200, 30_000] }, reorder: { p: 0.02, maxMs: 60_000 } },
  });
  return sim.messages.slice(0, Math.max(TARGET_EVENTS, 1));
}

/**
 * The engine's input, live or in a replay, is what JSON.parse made of a payload or a trace
 * line: objects of one shape with new strings. The simulator's own objects are scattered over
 * its heap (a cache miss per field) and objects reused from an earlier pass carry their
 * strings' hashes, so the engine is fed parsed lines.
 */
function parsedAfresh(lines: readonly { line: string; recvMs: number }[]): SimMessage[] {
  return lines.map(({ line, recvMs }) => ({ ev: JSON.parse(line) as GwEvent, recvMs }));
}

/**
 * A replay's loop: each line parsed, then ingested. With `engine` false only the parsing,
 * so the engine's share is the difference of the two (its garbage collected as a replay's is).
 */
function replayLoop(cfg: StoreConfig, lines: readonly { line: string; recvMs: number }[], engine: boolean): number {
  const eng = engineFor(cfg);
  let sink = 0;
  const t0 = now();
  for (let i = 0; i < lines.length; i++) {
    const { line, recvMs } = lines[i]!;
    const ev = JSON.parse(line) as GwEvent;
    if (!engine) {
      sink += ev.seq;
      continue;
    }
    eng.ingest(ev, recvMs);
    eng.advance(recvMs);
    sink += eng.drainFinal().visits.length;
  }
  eng.finish();
  sink += eng.drainFinal().visits.length;
  if (sink < 0) throw new Error('unreachable: keeps the loop from being optimised away');
  return now() - t0;
}

interface Throughput {
  events: number;
  seconds: number;
  eventsPerS: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

function engineRun(cfg: StoreConfig, msgs: readonly SimMessage[], timed: boolean): { total: number; lat: Float64Array; visits: number } {
  const lat = new Float64Array(timed ? msgs.length : 0);
  const eng = engineFor(cfg);
  let visits = 0;
  const t0 = now();
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    const a = timed ? now() : 0;
    eng.ingest(m.ev, m.recvMs);
    eng.advance(m.recvMs);
    visits += eng.drainFinal().visits.length;
    if (timed) lat[i] = now() - a;
  }
  eng.finish();
  visits += eng.drainFinal().visits.length;
  return { total: now() - t0, lat, visits };
}

function toInputs(msgs: readonly SimMessage[]): MachineInput[] {
  // the machine sees each event once, in true time order: deduplicated, the node clock
  // corrected by its minimum lag (what the engine estimates)
  const lag = new Map<string, number>();
  for (const m of msgs) lag.set(m.ev.source, Math.min(lag.get(m.ev.source) ?? Infinity, m.recvMs - Date.parse(m.ev.time)));
  const seen = new Set<string>();
  const out: MachineInput[] = [];
  for (const m of msgs) {
    const key = `${m.ev.source}/${m.ev.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const input = machineInput(m.ev, Date.parse(m.ev.time) + lag.get(m.ev.source)!, key);
    if (input) out.push(input);
  }
  return out.sort((a, b) => a.t - b.t);
}

function machineInput(ev: GwEvent, t: number, key: string): MachineInput | null {
  switch (ev.type) {
    case 'greetwatch.entry.v1':
      return { kind: 'entry', t, key, direction: ev.data.direction };
    case 'greetwatch.greet.v1':
      return ev.data.staff === undefined ? { kind: 'greet', t, key } : { kind: 'greet', t, key, staff: ev.data.staff };
    case 'greetwatch.staffpass.v1':
      return { kind: 'staffpass', t, key };
    case 'greetwatch.presence.v1':
      return { kind: 'presence', t, key, zone: ev.data.zone, on: ev.data.state === 'on' };
    default:
      return null;
  }
}

function machineRun(cfg: StoreConfig, inputs: readonly MachineInput[], timed: boolean): { total: number; lat: Float64Array } {
  const m = new VisitMachine({ rules: cfg.rules, isOpen: () => true });
  const lat = new Float64Array(timed ? inputs.length : 0);
  const t0 = now();
  for (let i = 0; i < inputs.length; i++) {
    const a = timed ? now() : 0;
    m.apply(inputs[i]!);
    m.drain();
    if (timed) lat[i] = now() - a;
  }
  return { total: now() - t0, lat };
}

function summarizeRun(n: number, totalUs: number, lat: Float64Array): Throughput {
  const s = Float64Array.from(lat).sort();
  return {
    events: n,
    seconds: totalUs / 1e6,
    eventsPerS: n / (totalUs / 1e6),
    p50Us: percentile(s, 50),
    p99Us: percentile(s, 99),
    maxUs: s.length ? s[s.length - 1]! : NaN,
  };
}

// ---------------------------------------------------------------------------
// (b), (d) open parties

function openPartyEvents(n: number): SimMessage[] {
  // ungreeted parties 4 s apart (> groupWindowS: one party each), nobody leaves
  const t0 = Date.parse('2026-01-05T08:00:00.000Z');
  const out: SimMessage[] = [];
  for (let i = 0; i < n; i++) {
    const t = t0 + i * 4_000;
    out.push({
      ev: {
        specversion: '1.0',
        id: `p${i}`,
        source: '/stores/fixture/nodes/door',
        type: 'greetwatch.entry.v1',
        time: new Date(t).toISOString(),
        bootid: 'bench',
        seq: i + 1,
        data: { sensor: 'front-beam', direction: 'in' },
      },
      recvMs: t + 2,
    });
  }
  return out;
}

function openConfig(cfg: StoreConfig): StoreConfig {
  // nobody expires: every party stays open
  return { ...cfg, rules: { ...cfg.rules, expireS: 10 * 86_400 } };
}

// ---------------------------------------------------------------------------
// run

const report: Record<string, unknown> = {};
const cfg = benchConfig();
const cpus = os.cpus();
report.environment = {
  node: process.version,
  v8: process.versions.v8,
  platform: `${os.platform()} ${os.arch()} ${os.release()}`,
  cpu: cpus[0]?.model ?? 'unknown',
  cpus: cpus.length,
  memoryGB: Math.round(os.totalmem() / 2 ** 30),
  gc: gcHow,
  loadAvg1m: os.loadavg()[0],
};

const env = report.environment as Record<string, unknown>;
const out: string[] = [];
const table = (title: string, head: string[], rows: string[][]) => {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  out.push('', title);
  out.push('  ' + head.map((h, i) => (i === 0 ? h.padEnd(w[i]!) : h.padStart(w[i]!))).join('  '));
  out.push('  ' + w.map((x) => '-'.repeat(x)).join('  '));
  for (const r of rows) out.push('  ' + r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
};
out.push(`greetwatch bench — node ${String(env.node)} (V8 ${String(env.v8)}), ${String(env.platform)}`);
out.push(`machine: ${String(env.cpu)} × ${String(env.cpus)}, ${String(env.memoryGB)} GB RAM, load ${fmt(env.loadAvg1m as number)} at start; ${gcHow}`);

/** (a)–(f): the engine, replay, the hub in-process, the edge agent */
async function sectionsAtoF(): Promise<void> {
  out.push('events/s: median of several passes; latency: one pass timing each event (max includes GC pauses)');
  // (a)
  const tSim = performance.now();
  const msgs = largeTrace(cfg);
  const lines = msgs.map((m) => ({ line: JSON.stringify(m.ev), recvMs: m.recvMs }));
  const simS = (performance.now() - tSim) / 1000;
  engineRun(cfg, parsedAfresh(lines.slice(0, 20_000)), false); // warm-up (JIT)
  /** median of `n` untimed passes (the machine is shared: one pass can be unlucky) */
  function medianOf(n: number, run: () => number): number {
    const t: number[] = [];
    for (let i = 0; i < n; i++) {
      settle();
      t.push(run());
    }
    return t.sort((a, b) => a - b)[Math.floor(n / 2)]!;
  }
  // events/s: parse + engine less parse alone, interleaved, each without a forced GC before it
  // (one shrinks the young generation, and the pass after it would pay for growing it again)
  const both: number[] = [];
  const parseAlone: number[] = [];
  replayLoop(cfg, lines, true);
  for (let i = 0; i < 7; i++) {
    both.push(replayLoop(cfg, lines, true));
    parseAlone.push(replayLoop(cfg, lines, false));
  }
  const median = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]!;
  const engTotal = median(both) - median(parseAlone);
  // latency: each event timed in a pass over lines parsed beforehand
  const freshTimed = parsedAfresh(lines);
  settle();
  const engTimed = engineRun(cfg, freshTimed, true);
  const engine = { ...summarizeRun(msgs.length, engTotal, engTimed.lat), visits: engTimed.visits, passes: 7, parseAloneMs: median(parseAlone) / 1000, parseAndEngineMs: median(both) / 1000 };
  const inputs = toInputs(msgs);
  machineRun(cfg, inputs.slice(0, 20_000), false);
  const mTotal = medianOf(5, () => machineRun(cfg, inputs, false).total);
  settle();
  const mTimed = machineRun(cfg, inputs, true);
  const machine = { ...summarizeRun(inputs.length, mTotal, mTimed.lat), passes: 5 };
  report.throughput = {
    trace: { events: msgs.length, simulatedDays: Math.ceil(TARGET_EVENTS / 2_150), simulationS: simS },
    engine,
    machine,
  };

  // (b)
  const openCfg = openConfig(cfg);
  const openMsgs = openPartyEvents(OPEN_PARTIES);
  const inputsOpen = openMsgs.map((m) => machineInput(m.ev, m.recvMs, m.ev.id)!);
  const base1 = heapUsed();
  const eng = engineFor(openCfg);
  for (const m of openMsgs) {
    eng.ingest(m.ev, m.recvMs);
    eng.advance(m.recvMs);
  }
  const engHeap = heapUsed() - base1;
  const open = eng.committedMachine.openCount + eng.bufferedCount;
  const base2 = heapUsed();
  const bare = new VisitMachine({ rules: openCfg.rules, isOpen: () => true });
  for (const i of inputsOpen) bare.apply(i);
  bare.drain();
  const machHeap = heapUsed() - base2;
  report.memory = {
    openParties: { engine: open, committed: eng.committedMachine.openCount, buffered: eng.bufferedCount, machine: bare.openCount },
    engineMB: engHeap / 2 ** 20,
    engineBytesPerParty: engHeap / open,
    machineMB: machHeap / 2 ** 20,
    machineBytesPerParty: machHeap / bare.openCount,
    gcForced: gc !== undefined,
  };

  // (d)
  const liveTimes: number[] = [];
  const liveNow = openMsgs[openMsgs.length - 1]!.recvMs + 1_000;
  let waiting = 0;
  for (let i = 0; i < 3; i++) eng.live(liveNow); // warm-up
  for (let i = 0; i < 30; i++) {
    const a = now();
    waiting = eng.live(liveNow).waiting.length;
    liveTimes.push((now() - a) / 1000);
  }
  const liveSorted = Float64Array.from(liveTimes).sort();
  report.live = {
    openParties: waiting,
    calls: liveTimes.length,
    meanMs: liveTimes.reduce((s, x) => s + x, 0) / liveTimes.length,
    p50Ms: percentile(liveSorted, 50),
    maxMs: liveSorted[liveSorted.length - 1]!,
  };

  const bufferSizes = QUICK ? [10_000, 100_000] : [10_000, 100_000, 200_000];
  report.liveBuffered = bufferSizes.map((n) => measureLiveTick({ rules: cfg.rules, buffered: n, heapUsed }));

  // (c)
  const fixCfg = loadConfig(path.join(root, 'test', 'fixtures', 'store.yaml'));
  const replays: Record<string, unknown>[] = [];
  for (const f of FIXTURES) {
    const file = path.join(root, 'test', 'fixtures', `${f.name}.jsonl`);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const times: number[] = [];
    replayTrace(lines, fixCfg); // warm-up
    let events = 0;
    for (let i = 0; i < 7; i++) {
      const a = now();
      const r = replayTrace(lines, fixCfg);
      times.push(now() - a);
      events = r.events + r.duplicates;
    }
    times.sort((a, b) => a - b);
    const med = times[Math.floor(times.length / 2)]!;
    replays.push({ fixture: f.name, lines: events, bytes: fs.statSync(file).size, medianMs: med / 1000, eventsPerS: events / (med / 1e6) });
  }
  report.replay = replays;

  const tr = report.throughput as { trace: { events: number; simulatedDays: number; simulationS: number } };
  table(
    `(a) throughput, simulated trace of ${fmtInt(tr.trace.events)} events (${tr.trace.simulatedDays} rush days, ${fmt(tr.trace.simulationS, 1)} s to simulate); the engine's events/s in a replay's loop: (parse + engine) − parse alone, ${fmt(engine.parseAndEngineMs, 0)} − ${fmt(engine.parseAloneMs, 0)} ms`,
    ['path', 'events', 'events/s', 'p50 µs', 'p99 µs', 'max µs'],
    [
      ['GreetEngine.ingest+advance', fmtInt(engine.events), fmtInt(engine.eventsPerS), fmt(engine.p50Us), fmt(engine.p99Us), fmt(engine.maxUs, 0)],
      ['VisitMachine.apply', fmtInt(machine.events), fmtInt(machine.eventsPerS), fmt(machine.p50Us), fmt(machine.p99Us), fmt(machine.maxUs, 0)],
    ],
  );
  const mem = report.memory as { openParties: { engine: number; committed: number; buffered: number; machine: number }; engineMB: number; engineBytesPerParty: number; machineMB: number; machineBytesPerParty: number };
  table(
    `(b) heap with ${fmtInt(OPEN_PARTIES)} open parties${gc ? '' : ' (GC NOT forced)'}`,
    ['structure', 'open parties', 'heap MB', 'bytes/party'],
    [
      ['GreetEngine (dedupe, buffer, machine)', fmtInt(mem.openParties.engine), fmt(mem.engineMB), fmtInt(mem.engineBytesPerParty)],
      ['VisitMachine alone', fmtInt(mem.openParties.machine), fmt(mem.machineMB), fmtInt(mem.machineBytesPerParty)],
    ],
  );
  table(
    '(c) replay of the fixture traces (replayTrace: parse, validate, engine, report; median of 7)',
    ['fixture', 'lines', 'KiB', 'ms', 'events/s'],
    replays.map((r) => [String(r.fixture), fmtInt(r.lines as number), fmtInt((r.bytes as number) / 1024), fmt(r.medianMs as number, 1), fmtInt(r.eventsPerS as number)]),
  );
  const lv = report.live as { openParties: number; calls: number; meanMs: number; p50Ms: number; maxMs: number };
  table(
    `(d) live view engine.live(now) with ${fmtInt(lv.openParties)} open parties`,
    ['calls', 'mean ms', 'p50 ms', 'max ms'],
    [[String(lv.calls), fmt(lv.meanMs), fmt(lv.p50Ms), fmt(lv.maxMs)]],
  );
  const lb = report.liveBuffered as LiveTickFigures[];
  table(
    '    per view after 100 new events (8 nodes, a few ms of clock jitter), against the reorder buffer',
    ['buffered', 'incremental p50 ms', 'p99 ms', 'rebuilt p50 ms', 'p99 ms', 'ratio p50', 'B/buffered event', 'B/dedupe entry'],
    lb.map((r) => [fmtInt(r.buffered), fmt(r.incrementalP50Ms, 3), fmt(r.incrementalP99Ms, 3), fmt(r.scratchP50Ms, 1), fmt(r.scratchP99Ms, 1), `${fmt(r.scratchP50Ms / r.incrementalP50Ms, 0)}×`, fmtInt(r.bytesPerBufferedEvent), fmtInt(r.bytesPerDedupeEntry)]),
  );
  const hubFig = await measureHubIngest();
  report.hub = hubFig;
  table(
    `(e) hub on loopback: ${fmtInt(hubFig.events)} QoS 1 events from ${hubFig.clients} node clients, ${hubFig.window} in flight each (clients in-process)`,
    ['events/s', 'PUBACK p50 ms', 'PUBACK p99 ms', 'to engine p50 ms', 'to engine p99 ms', 'bench process RSS MB'],
    [[fmtInt(hubFig.eventsPerS), fmt(hubFig.pubackP50Ms), fmt(hubFig.pubackP99Ms), fmt(hubFig.acceptedP50Ms), fmt(hubFig.acceptedP99Ms), fmt(hubFig.rssMB, 0)]],
  );
  const edgeLat = await measureEdgeLatency();
  const edgeMem = await measureEdgeMemory(Number(args['edge-seconds'] ?? 60));
  report.edge = { latency: edgeLat, memory: edgeMem };
  table(
    `(f) edge agent, gpio driver on a fake onoff Gpio, real broker on loopback: ${fmtInt(edgeLat.presses)} button edges`,
    ['edge → PUBLISH p50 ms', 'p99 ms', 'max ms'],
    [[fmt(edgeLat.p50Ms, 3), fmt(edgeLat.p99Ms, 3), fmt(edgeLat.maxMs, 3)]],
  );
  table(
    `    agent process alone: idle, then a beam chattering at 1 kHz for ${edgeMem.chatterSeconds} s (${fmtInt(edgeMem.chatterEdges)} edges, muted: ${edgeMem.muted ? 'yes' : 'NO'})`,
    ['idle RSS MB', 'RSS first s', 'RSS last s', 'RSS max', 'heap first s', 'heap last s'],
    [[fmt(edgeMem.idleRssMB, 1), fmt(edgeMem.rssStartMB, 1), fmt(edgeMem.rssEndMB, 1), fmt(edgeMem.rssMaxMB, 1), fmt(edgeMem.heapStartMB, 1), fmt(edgeMem.heapEndMB, 1)]],
  );
}

try {
  if (!COMPARE_ONLY) await sectionsAtoF();
  // the hub and the CLI under test run from dist/ (as in a store); a stale build would measure the tsx fallback
  const ensureBuilt = () => {
    const built = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), '--if-needed'], { stdio: 'inherit' });
    if (built.status !== 0) throw new Error('npm run build failed: the comparison and the chain replay need the built hub');
  };
  if (args['no-compare'] !== true) {
    ensureBuilt();
    const steadySeconds = Number(args['steady-seconds'] ?? (QUICK ? 20 : 180));
    const cmp = await runCompare({
      quick: QUICK,
      steadySeconds,
      runTimeoutS: Number(args['run-timeout'] ?? (QUICK ? 120 : 300)),
      ...(args.sizes ? { sizes: args.sizes.split(',').map(Number) } : {}),
      ...(args.burst ? { burst: Number(args.burst) } : {}),
      ...(args.scenarios ? { only: args.scenarios.split(',').map((k) => k.trim()).filter(Boolean) } : {}),
      peerTuned: args['peer-tuned'] === true,
      // progress on stderr: stdout keeps the tables and the JSON
      say: (line) => process.stderr.write(line + '\n'),
    });
    report.compare = cmp;
    const t = compareTable(cmp);
    table(t.title, t.head, t.rows);
    out.push(`  events: ${cmp.options.mix}; valid greetwatch CloudEvents on greetwatch/v1/${'<store>/<node>'}/events, QoS 1, one login and source address per node`);
    for (const n of t.notes) out.push(`  - ${n}`);
  }
  if (!COMPARE_ONLY && args['no-history'] !== true) {
    const hist = await measureHistory({ quick: QUICK, say: (line) => process.stderr.write(line + '\n') });
    report.history = hist;
    if ('skipped' in hist) out.push('', `(h) history: SKIPPED, ${hist.skipped}`);
    else
      for (const t of historyTables(hist)) {
        table(t.title, t.head, t.rows);
        for (const n of t.notes) out.push(`  - ${n}`);
      }
  }
  if (!COMPARE_ONLY && args['no-chain'] !== true) {
    ensureBuilt();
    const chain = measureChainReplay({ quick: QUICK, say: (line) => process.stderr.write(line + '\n') });
    report.chainReplay = chain;
    const t = chainReplayTable(chain);
    table(t.title, t.head, t.rows);
    for (const n of t.notes) out.push(`  - ${n}`);
  }
} finally {
  await runCleanups();
}
report.totalS = (performance.now() - started) / 1000;
out.push('', `total ${fmt(report.totalS as number, 1)} s`);
process.stdout.write(out.join('\n') + '\n');

const json = JSON.stringify(report, null, 2) + '\n';
if (args.json) {
  fs.writeFileSync(args.json, json);
  process.stdout.write(`figures written to ${args.json}\n`);
} else {
  process.stdout.write('\n' + json);
}

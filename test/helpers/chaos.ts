import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { ulid } from 'ulid';
import { InfluxDB } from 'influx';
import { sourceOf, topics, type GwEvent, type LiveSnapshot, type Report, type Visit } from '../../contract/index.ts';
import { createEdgeAgent, type EdgeAgent } from '../../edge/agent.ts';
import { systemClock, type Clock } from '../../edge/io.ts';
import { nodeEffectiveConfig } from '../../firmware-config/hash.ts';
import { loadConfig } from '../../firmware-config/load.ts';
import { StoreConfig, type Rules } from '../../firmware-config/schema.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import type { InfluxVisitStore } from '../../hub/influx-store.ts';
import { fileTraceRecorder, type TraceRecorder } from '../../hub/trace-recorder.ts';
import { createStoreSimulator, type SimProfile, type StoreSimulator } from '../../scripts/shopper-sim.ts';
import { startTestInfluxd, type TestInfluxd } from './influxd.ts';
import { apiAuth, password, urlWithLogin } from './logins.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';
import { waitFor } from './wait.ts';
import { testStore } from './store-config.ts';

// Chaos scenarios (npm run chaos; a short version in test/integration/chaos-short.test.ts).
// Each one runs a real hub and simulated edge nodes on 127.0.0.1, breaks something for a
// bounded time while traffic flows, lets everything drain and settle, then checks the two
// promises of README "Reliability" and CONTRACT.md "Replay":
//   (a) the hub's /report for the period equals `greetwatch replay` of the hub's own trace;
//   (b) no event is lost (every seq 1..max of every bootid a node built is in the trace) and
//       none is counted twice (the engine's per-node event counts equal the distinct ids).
// Figures are measured and returned; the bench prints them, the test asserts on them.
//
// Why the end of a scenario looks the way it does: a live hub's report is its view at *now*,
// a replay's is the view at the trace's last event. They agree only once nothing open can
// change between the two instants. So after traffic stops and every outbox has drained, the
// scenario waits (for a condition, not a time) until no party is pending and every short
// window (groupWindowS, greetLeadS) of the last event has passed, then sends one door event
// (no party logic reads doors) so the trace itself ends after every deadline.

const root = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(root, 'bin/greetwatch.mjs');
const SIM_NODE = path.join(root, 'scripts/sim-node.ts');
const STORE = 'chaos';
const SENTINEL_BOOT = 'chaos-sentinel';
const silent = pino({ level: process.env.GW_TEST_LOG ?? 'silent' });

// ---------------------------------------------------------------------------------------------
// scale and results

export interface ChaosScale {
  /** customer parties per hour per sim-node process (--rate; at ~1 crossing/s a beam pair is saturated) */
  rate: number;
  /** the same for in-process nodes, whose shoppers also leave within seconds (FAST_SHOPPERS): kept
   *  under the beam's capacity, else greets outnumber entries and every party is met at once */
  inProcessRate: number;
  /** simulated nodes (each an entrance with its own beam pair, buttons and PIR) */
  nodes: number;
  /** traffic before the first fault, ms */
  beforeMs: number;
  /** how long each fault lasts (hub down, link cut, InfluxDB down, disk full), ms */
  faultMs: number;
  /** traffic between faults and after the last one, ms */
  betweenMs: number;
  /** how many times the fault happens */
  repeats: number;
}

export const FULL_SCALE: ChaosScale = { rate: 7200, inProcessRate: 1200, nodes: 4, beforeMs: 8000, faultMs: 4000, betweenMs: 6000, repeats: 3 };
export const SHORT_SCALE: ChaosScale = { rate: 3600, inProcessRate: 1200, nodes: 2, beforeMs: 2500, faultMs: 1500, betweenMs: 2000, repeats: 1 };

export interface ChaosResult {
  scenario: string;
  /** seqs the nodes built: Σ over every bootid of its highest seq (seqs are gapless) */
  built: number;
  /** distinct event ids of the nodes in the hub's trace */
  traced: number;
  /** seqs built that never reached the trace */
  lost: number;
  /** events the engine counted more often than there are distinct ids to count */
  doubled: number;
  reportEqual: boolean;
  seconds: number;
  /** report fields where /report and the replay differ */
  diff: string[];
  /** other checks a scenario makes (history caught up, …): empty when all hold */
  problems: string[];
  notes: string[];
}

/** every check of (a) and (b) holds */
export const passed = (r: ChaosResult): boolean => r.lost === 0 && r.doubled === 0 && r.reportEqual && r.problems.length === 0;

// ---------------------------------------------------------------------------------------------
// the store

/**
 * Short deadlines, so a scenario settles within seconds of its last event (a party waits at
 * most expireS; a walkout is confirmed walkoutConfirmS after its mark), and a short group
 * window, so that several busy entrances still make separate parties (with the default 3 s,
 * every `in` of a busy store joins the one before and the whole run is one party). Everything
 * else is the contract's default, reorderS included: every fault here is shorter than it.
 */
const RULES = { greetWithinS: 5, warnAtS: 3, groupWindowS: 0.3, walkoutWindowS: 10, walkoutConfirmS: 3, expireS: 8, stepsLineZones: ['floor'] };
const STAFF = ['anna', 'ben', 'cem'];

/**
 * Shoppers of the in-process nodes, on the time scale of RULES: greeted on time, late or not
 * at all, walking out and leaving within seconds, so a scenario of half a minute has every
 * outcome. (sim-node processes keep the default profile: greets 3–60 s after entry.)
 */
const FAST_SHOPPERS: Partial<SimProfile> = {
  memberGapMs: [100, 250],
  onTimeGreetS: [0.5, 4.5],
  lateGreetS: [5.5, 7.5],
  walkoutAfterS: [1, 6],
  stayS: [2, 12],
  staffPassesPerHour: 360,
  peeksPerHour: 360,
};

const nodeIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `door-${String.fromCharCode(97 + i)}`);

function rawStore(ids: string[], ports: { mqtt: number; http: number }, dataDir: string, extra: WorldOptions) {
  const influxUrl = extra.influxUrl;
  return {
    store: { id: STORE, timezone: 'UTC' },
    rules: { ...RULES, ...extra.rules },
    staff: STAFF.map((id) => ({ id })),
    // each node an entrance of its own with a beam pair, door, PIR and buttons, so a simulator
    // per node (one sim-node process each, one login each) drives a whole store's worth of events
    nodes: ids.map((id, i) => ({
      id,
      driver: 'sim',
      sensors: [
        { id: `${id}-beam`, kind: 'beam-pair', outerPin: 17, innerPin: 27 },
        { id: `${id}-door`, kind: 'door', pin: 22 },
        { id: `${id}-pir`, kind: 'pir', zone: 'floor', pin: 5 },
      ],
      buttons: [
        { id: `${id}-pass`, kind: 'counter', action: 'staffpass', pin: 23 },
        { id: `${id}-greet`, kind: 'counter', action: 'greet', pin: 6 },
        { id: `${id}-fob`, kind: 'fob', action: 'greet', staff: STAFF[i % STAFF.length] },
      ],
      indicator: { pin: 24 },
    })),
    hub: {
      mqtt: { host: '127.0.0.1', port: ports.mqtt },
      http: { host: '127.0.0.1', port: ports.http },
      influx: influxUrl ? { url: influxUrl, database: 'chaos', managed: false } : { managed: false },
      dataDir,
    },
  };
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Traffic flows for a fixed time: the simulator runs, nothing waits for a condition here. */
export const letRun = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// the world of one scenario: a temp dir, a store file, a hub, nodes

interface World {
  name: string;
  dir: string;
  cfgFile: string;
  cfg: StoreConfig;
  hubDir: string;
  edgeDir: string;
  httpUrl: string;
  mqttUrl: string;
  ids: string[];
  children: Set<ChildProcess>;
  /** bootid → highest seq, per node, as seen by the nodes' side (agents, journals) */
  boots: Map<string, Map<string, number>>;
  /** events dropped by a full outbox (journal `drop` lines, agent stats) */
  dropped: number;
  notes: string[];
  cleanups: Array<() => Promise<void>>;
}

interface WorldOptions {
  influxUrl?: string;
  rules?: Partial<Rules>;
}

async function makeWorld(name: string, scale: ChaosScale, opts: WorldOptions): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gw-chaos-${name}-`));
  const ports = { mqtt: await freePort(), http: await freePort() };
  const hubDir = path.join(dir, 'hub');
  const ids = nodeIds(scale.nodes);
  const cfg = await testStore(rawStore(ids, ports, hubDir, opts));
  const cfgFile = path.join(dir, 'store.yaml');
  fs.writeFileSync(cfgFile, JSON.stringify(cfg, null, 2)); // JSON is YAML: the CLI reads the same file
  return {
    name,
    dir,
    cfgFile,
    cfg: loadConfig(cfgFile), // exactly what a hub process and `greetwatch replay` read
    hubDir,
    edgeDir: path.join(dir, 'edge'),
    httpUrl: `http://127.0.0.1:${ports.http}`,
    mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    ids,
    children: new Set(),
    boots: new Map(),
    dropped: 0,
    notes: [],
    cleanups: [],
  };
}

function noteBoot(w: World, node: string, bootid: string, seq: number): void {
  let m = w.boots.get(node);
  if (!m) w.boots.set(node, (m = new Map<string, number>()));
  m.set(bootid, Math.max(m.get(bootid) ?? 0, seq));
}

/** What a node's outbox journal says it built (adds) and gave up (drops); torn last lines are skipped, as the outbox does. */
function scanJournal(w: World, node: string): void {
  const file = path.join(w.edgeDir, node, 'outbox.jsonl');
  if (!fs.existsSync(file)) return;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const l = JSON.parse(line) as { add?: GwEvent; drop?: string };
      if (l.add) noteBoot(w, node, l.add.bootid, l.add.seq);
      if (l.drop !== undefined) w.dropped++;
    } catch {
      // a line torn by SIGKILL: that event was never sent
    }
  }
}

async function spawnChild(w: World, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  w.children.add(child);
  child.once('exit', () => w.children.delete(child));
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000); // the tail is what explains a failure
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return { child, stderr: () => err };
}

async function killChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  await exited;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: apiAuth });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

// ---------------------------------------------------------------------------------------------
// hubs

interface HubHandle {
  start(): Promise<void>;
  /** SIGKILL (a child hub only) */
  kill(): Promise<void>;
  stop(): Promise<void>;
  /** the OS process id of a child hub */
  pid(): number | undefined;
  /** the in-process hub */
  hub(): Hub | undefined;
}

/**
 * A SIGXFSZ listener, loaded before the hub: the kernel raises SIGXFSZ at the file-size limit,
 * and signal-exit (proper-lockfile's, loaded through hub/cli.ts → edge/main.ts) re-raises it
 * with the default action, which kills the process. With a listener of our own it only
 * forwards, and the hub sees what a full disk gives: a short write, then errors (EFBIG).
 */
const SIGXFSZ_HOOK = `data:text/javascript,process.on('SIGXFSZ',()=>{})`;

/** `greetwatch hub --config` as a child process, the way a store runs it */
function childHub(w: World, opts: { surviveFsizeLimit?: boolean } = {}): HubHandle {
  let proc: ChildProcess | undefined;
  const handle: HubHandle = {
    async start() {
      const args = [...(opts.surviveFsizeLimit ? ['--import', SIGXFSZ_HOOK] : []), BIN, 'hub', '--config', w.cfgFile];
      const { child, stderr } = await spawnChild(w, args, { LOG_LEVEL: 'warn', INFLUX_URL: '' });
      proc = child;
      child.once('exit', (code, signal) => {
        if (signal !== 'SIGKILL' && code !== 0) w.notes.push(`the hub exited (${signal ?? code}): ${stderr().trim().split('\n').slice(-3).join(' | ').slice(0, 400)}`);
      });
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`hub exited ${child.exitCode}: ${stderr()}`);
          try {
            return (await fetch(`${w.httpUrl}/healthz`)).ok;
          } catch {
            return false;
          }
        },
        'the hub process up',
        30_000,
        50,
      );
    },
    async kill() {
      if (proc) await killChild(proc, 'SIGKILL');
    },
    async stop() {
      if (proc) await killChild(proc, 'SIGTERM');
    },
    pid: () => proc?.pid,
    hub: () => undefined,
  };
  w.cleanups.push(() => handle.kill());
  return handle;
}

function inProcessHub(w: World, opts: { recorder?: TraceRecorder } = {}): HubHandle {
  let h: Hub | undefined;
  const handle: HubHandle = {
    async start() {
      h = await startHub({ config: w.cfg, dataDir: w.hubDir, log: silent, tickMs: 100, ...(opts.recorder ? { recorder: opts.recorder } : {}) });
    },
    async kill() {
      throw new Error('an in-process hub cannot be killed; use childHub');
    },
    async stop() {
      const x = h;
      h = undefined;
      await x?.stop();
    },
    pid: () => undefined,
    hub: () => h,
  };
  w.cleanups.push(() => handle.stop());
  return handle;
}

// ---------------------------------------------------------------------------------------------
// nodes

interface NodeHandle {
  readonly id: string;
  start(): Promise<void>;
  /** SIGKILL mid-stream (a child node only) */
  kill(): Promise<void>;
  /** no new events from here on; what waits in the outbox is still delivered by drain() */
  stopTraffic(): Promise<void>;
  /** every event of the node acknowledged (an agent on its folder sends what waits), then stopped */
  drain(timeoutMs: number): Promise<void>;
}

/** an agent of the store file's node, on the node's folder (its outbox journal) */
function agentFor(w: World, id: string, mqttUrl: string, clock: Clock = systemClock): EdgeAgent {
  const eff = nodeEffectiveConfig(w.cfg, id);
  return createEdgeAgent({
    store: STORE,
    node: eff.node,
    rules: eff.rules,
    mqttUrl,
    login: { username: id, password: password(id) },
    dataDir: path.join(w.edgeDir, id),
    clock,
    log: silent,
  });
}

async function drainAgent(w: World, agent: EdgeAgent, timeoutMs: number): Promise<void> {
  try {
    await waitFor(() => agent.stats().pending === 0, `${agent.config.id}: outbox drained`, timeoutMs, 50);
  } catch (err) {
    // measured, not thrown: what did not drain shows as lost
    w.notes.push(`${agent.config.id}: ${(err as Error).message} (${agent.stats().pending} pending)`);
  }
  const s = agent.stats();
  noteBoot(w, agent.config.id, agent.bootid, s.events);
  w.dropped += s.dropped;
  await agent.stop();
}

/** scripts/sim-node.ts as a child process: a node with simulated shoppers, logged in through its URL */
function childNode(w: World, id: string, opts: { mqttUrl: string; rate: number; seed: number }): NodeHandle {
  let proc: ChildProcess | undefined;
  let starts = 0;
  const handle: NodeHandle = {
    id,
    async start() {
      const args = ['--import', 'tsx', SIM_NODE, '--config', w.cfgFile, '--node', id, '--mqtt', urlWithLogin(opts.mqttUrl, id), '--data-dir', w.edgeDir];
      // another seed per start: a restarted node does not repeat its shoppers
      args.push('--rate', String(opts.rate), '--seed', String(opts.seed + 1000 * starts++), '--log-level', 'warn');
      const { child, stderr } = await spawnChild(w, args);
      proc = child;
      child.once('exit', (code, signal) => {
        if (code !== 0 && signal === null) w.notes.push(`${id} exited ${code}: ${stderr().trim().split('\n').slice(-2).join(' | ')}`);
      });
    },
    async kill() {
      if (!proc) return;
      await killChild(proc, 'SIGKILL');
      scanJournal(w, id); // what it had built, as its journal holds it at the moment of death
    },
    async stopTraffic() {
      if (!proc) return;
      await killChild(proc, 'SIGTERM'); // stops its simulator and its agent cleanly
      scanJournal(w, id);
    },
    async drain(timeoutMs) {
      // the node started again without shoppers: it sends what its journal holds
      const agent = agentFor(w, id, opts.mqttUrl);
      await agent.start();
      await drainAgent(w, agent, timeoutMs);
      scanJournal(w, id);
    },
  };
  w.cleanups.push(async () => {
    if (proc) await killChild(proc, 'SIGKILL');
  });
  return handle;
}

/** an agent and its simulator in this process: the clock can be injected (NTP steps) */
function inProcessNode(w: World, id: string, opts: { mqttUrl: string; rate: number; seed: number; clock?: Clock }): NodeHandle & { agent(): EdgeAgent | undefined } {
  let agent: EdgeAgent | undefined;
  let sim: StoreSimulator | undefined;
  const handle = {
    id,
    agent: () => agent,
    async start() {
      agent = agentFor(w, id, opts.mqttUrl, opts.clock);
      await agent.start();
      // the shoppers live in real time: only the node's clock is stepped, not the world's
      sim = createStoreSimulator({ agents: [agent], stepsLineZones: w.cfg.rules.stepsLineZones, arrivalsPerHour: opts.rate, seed: opts.seed, profile: FAST_SHOPPERS });
      sim.start();
    },
    async kill() {
      throw new Error('an in-process node cannot be killed; use childNode');
    },
    async stopTraffic() {
      sim?.stop();
    },
    async drain(timeoutMs: number) {
      if (agent) await drainAgent(w, agent, timeoutMs);
      agent = undefined;
    },
  };
  w.cleanups.push(async () => {
    sim?.stop();
    await agent?.stop();
  });
  return handle;
}

// ---------------------------------------------------------------------------------------------
// the end of a scenario: drain, settle, compare

interface TraceLine {
  ev: GwEvent;
  recvMs: number;
}

function traceFiles(w: World): string[] {
  const dir = path.join(w.hubDir, 'traces');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => path.join(dir, f));
}

function readTrace(w: World): { lines: TraceLine[]; torn: number; text: string } {
  const text = traceFiles(w)
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('');
  const lines: TraceLine[] = [];
  let torn = 0;
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    try {
      const ev = JSON.parse(raw) as GwEvent;
      lines.push({ ev, recvMs: Date.parse(ev.recvtime ?? ev.time) });
    } catch {
      torn++; // not JSON: the replay refuses it too, and says so
    }
  }
  return { lines, torn, text };
}

const reportUrl = (w: World, period: Period) => `${w.httpUrl}/api/stores/${STORE}/report?from=${period.from}&to=${period.to}`;

interface Period {
  from: string;
  to: string;
}

async function sendSentinel(w: World): Promise<void> {
  const node = w.ids[0]!;
  // the node's own login on another client id (the node's is reserved for the node itself)
  const c = await mqtt.connectAsync(w.mqttUrl, { username: node, password: password(node), clientId: `chaos-sentinel-${process.pid}`, reconnectPeriod: 0 });
  const ev = {
    specversion: '1.0',
    id: ulid(),
    source: sourceOf(STORE, node),
    type: 'greetwatch.door.v1',
    time: new Date().toISOString(),
    bootid: SENTINEL_BOOT,
    seq: 1,
    datacontenttype: 'application/json',
    data: { sensor: `${node}-door`, state: 'closed' },
  };
  await c.publishAsync(topics.events(STORE, node), JSON.stringify(ev), { qos: 1 }); // resolves on PUBACK: traced
  await c.endAsync();
}

/** where two reports differ, as paths (byStaff.ben.greets: 3 ≠ 4), at most `max` of them */
function reportDiff(a: Report, b: Report, max = 12): string[] {
  const out: string[] = [];
  const show = (v: unknown) => {
    const s = JSON.stringify(v) ?? 'undefined';
    return s.length > 120 ? `${s.slice(0, 120)}…` : s;
  };
  const walk = (x: unknown, y: unknown, at: string): void => {
    if (out.length >= max || isDeepStrictEqual(x, y)) return;
    if (x && y && typeof x === 'object' && typeof y === 'object' && Array.isArray(x) === Array.isArray(y)) {
      const ox = x as Record<string, unknown>;
      const oy = y as Record<string, unknown>;
      for (const k of new Set([...Object.keys(ox), ...Object.keys(oy)])) walk(ox[k], oy[k], at ? `${at}.${k}` : k);
      return;
    }
    out.push(`${at}: report ${show(x)} ≠ replay ${show(y)}`);
  };
  walk(a, b, '');
  return out;
}

interface Ending {
  hub: HubHandle;
  nodes: NodeHandle[];
  period: Period;
  t0: number;
  /** the longest any node may take to deliver its outbox */
  drainMs?: number;
  /** extra checks once the trace is complete (history caught up, …): problems found */
  check?: (replay: { report: Report; visits: Visit[] }) => Promise<string[]>;
}

async function finish(w: World, e: Ending): Promise<ChaosResult> {
  for (const n of e.nodes) await n.stopTraffic();
  await Promise.all(e.nodes.map((n) => n.drain(e.drainMs ?? 30_000)));

  // settle: no party pending, and every window that could still change the last one has passed
  const r = w.cfg.rules;
  const lastRecv = Math.max(0, ...readTrace(w).lines.map((l) => l.recvMs));
  const settleMs = (Math.max(r.groupWindowS, r.greetLeadS) + 1) * 1000;
  const boundMs = (r.expireS + r.walkoutWindowS + r.walkoutConfirmS + 30) * 1000;
  try {
    await waitFor(async () => (await getJson<Report>(reportUrl(w, e.period))).pending === 0 && Date.now() > lastRecv + settleMs, 'no party pending', boundMs, 200);
  } catch (err) {
    w.notes.push((err as Error).message);
  }
  await sendSentinel(w);
  const sentAt = Date.now();

  // (a) the hub's report against a replay of its trace, by the CLI, over the same period
  const live = await getJson<Report>(reportUrl(w, e.period));
  // /live is rebuilt on the hub's tick: take one built after the sentinel went in
  let snap = await getJson<LiveSnapshot>(`${w.httpUrl}/api/stores/${STORE}/live`);
  await waitFor(async () => Date.parse((snap = await getJson<LiveSnapshot>(`${w.httpUrl}/api/stores/${STORE}/live`)).now) > sentAt, 'a /live view after the sentinel', 10_000, 50);
  const trace = readTrace(w);
  const all = path.join(w.dir, 'all.jsonl');
  fs.writeFileSync(all, trace.text);
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, 'replay', all, '--config', w.cfgFile, '--from', e.period.from, '--to', e.period.to, '--visits'], {
    cwd: root,
    maxBuffer: 256 * 1024 * 1024,
  });
  const { visitList, ...replayed } = JSON.parse(stdout) as Report & { visitList: Visit[] };
  const diff = reportDiff(live, replayed);
  const rejectedLines = stderr.split('\n').filter((l) => l.trim()).length;

  // (b) the nodes' side: every seq of every bootid they built, against the trace
  for (const id of w.ids) scanJournal(w, id);
  const seqs = new Map<string, Set<number>>(); // node/bootid → seqs traced
  const ids = new Set<string>();
  let lines = 0;
  for (const { ev } of trace.lines) {
    const node = ev.source.split('/').pop()!;
    if (ev.bootid === SENTINEL_BOOT) continue;
    lines++;
    ids.add(`${ev.source}\u0000${ev.id}`);
    const key = `${node}/${ev.bootid}`;
    let s = seqs.get(key);
    if (!s) seqs.set(key, (s = new Set()));
    s.add(ev.seq);
    noteBoot(w, node, ev.bootid, ev.seq); // a seq the hub has was built, whatever the journal kept
  }
  let built = 0;
  let lost = 0;
  for (const [node, boots] of w.boots) {
    for (const [bootid, max] of boots) {
      built += max;
      const have = seqs.get(`${node}/${bootid}`);
      for (let q = 1; q <= max; q++) if (!have?.has(q)) lost++;
    }
  }
  const sentinels = trace.lines.filter((l) => l.ev.bootid === SENTINEL_BOOT).length;
  const engineEvents = snap.nodes.reduce((s, n) => s + n.events, 0) - sentinels;
  // the engine counts each distinct id once; an acknowledged event missing from the trace
  // (lost) may still have been counted live, so it is not a double
  const doubled = Math.max(0, engineEvents - ids.size - lost);

  const problems = e.check ? await e.check({ report: replayed, visits: visitList }) : [];
  // the hub writes whole lines or none (README "Reliability"): a line the replay refuses is a torn or glued one
  if (rejectedLines) problems.push(`replay refused ${rejectedLines} trace lines: ${stderr.split('\n')[0]!.slice(0, 200)}`);
  const notes = [...w.notes];
  const dupLines = lines - ids.size;
  if (dupLines) notes.push(`${dupLines} re-sent copies in the trace (dropped by id)`);
  if (trace.torn) notes.push(`${trace.torn} trace lines are not JSON`);

  const hubLost = snap.nodes.reduce((s, n) => s + n.lost, 0);
  if (hubLost) notes.push(`the hub itself sees ${hubLost} seq gaps`);
  const tooLate = snap.nodes.reduce((s, n) => s + n.tooLate, 0);
  if (tooLate) notes.push(`${tooLate} events later than reorderS`);
  if (w.dropped) notes.push(`${w.dropped} events dropped by a full outbox`);
  if (engineEvents !== ids.size) notes.push(`engine counted ${engineEvents}, trace has ${ids.size} distinct`);
  const boots = [...w.boots.values()].reduce((s, m) => s + m.size, 0);
  notes.push(`${live.visits} visits (${live.met} met, ${live.late} late, ${live.walkouts + live.shortWalkouts} walkouts, ${live.missed} missed), ${boots} boots`);
  await e.hub.stop();
  return {
    scenario: w.name,
    built,
    traced: ids.size,
    lost,
    doubled,
    reportEqual: diff.length === 0,
    seconds: Math.round((performance.now() - e.t0) / 100) / 10,
    diff,
    problems,
    notes,
  };
}

/** runs a scenario body in a fresh world and always cleans up: children killed by pid, temp dir removed */
/** a listen on a port picked for the world failed: another process took it between the pick and the listen */
const portTaken = (err: unknown): boolean => /EADDRINUSE|already in use/.test(err instanceof Error ? err.message : String(err));

/**
 * A scenario in a world of its own. Its hub must come back on the same ports after a kill, so
 * they are picked before it starts, and a test file running beside it may take one first: then
 * the scenario runs again in a new world (at most 3 times); any other failure is the scenario's.
 */
async function inWorld(name: string, scale: ChaosScale, body: (w: World, t0: number, period: Period) => Promise<ChaosResult>, opts: WorldOptions = {}): Promise<ChaosResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await inOneWorld(name, scale, body, opts);
    } catch (err) {
      if (attempt >= 3 || !portTaken(err)) throw err;
    }
  }
}

async function inOneWorld(name: string, scale: ChaosScale, body: (w: World, t0: number, period: Period) => Promise<ChaosResult>, opts: WorldOptions): Promise<ChaosResult> {
  const t0 = performance.now();
  const w = await makeWorld(name, scale, opts);
  const start = Math.floor(Date.now() / 1000) * 1000 - 60_000;
  const period = { from: new Date(start).toISOString(), to: new Date(start + 6 * 3_600_000).toISOString() };
  try {
    return await body(w, t0, period);
  } catch (err) {
    // the scenario could not finish: say why, with what it noted on the way
    (err as Error).message += w.notes.length ? ` [${w.notes.join('; ')}]` : '';
    throw err;
  } finally {
    for (const c of w.cleanups.reverse()) await c().catch(() => undefined);
    for (const c of w.children) c.kill('SIGKILL');
    if (!process.env.GW_CHAOS_KEEP) fs.rmSync(w.dir, { recursive: true, force: true });
    else process.stderr.write(`kept ${w.dir}\n`);
  }
}

const seedOf = (i: number) => 101 + i * 17;

/** the traffic of a scenario: before, then `repeats` × (fault, between) */
async function phases(scale: ChaosScale, fault: (i: number) => Promise<void>, heal: (i: number) => Promise<void>): Promise<void> {
  await letRun(scale.beforeMs);
  for (let i = 0; i < scale.repeats; i++) {
    await fault(i);
    await letRun(scale.faultMs);
    await heal(i);
    await letRun(scale.betweenMs);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. the hub SIGKILLed under load and restarted on the same data dir

export function hubKill(scale: ChaosScale, opts: { name?: string; rules?: Partial<Rules> } = {}): Promise<ChaosResult> {
  return inWorld(opts.name ?? 'hub-kill', scale, async (w, t0, period) => {
    const hub = childHub(w);
    await hub.start();
    const nodes = w.ids.map((id, i) => childNode(w, id, { mqttUrl: w.mqttUrl, rate: scale.rate, seed: seedOf(i) }));
    await Promise.all(nodes.map((n) => n.start()));
    await phases(
      scale,
      () => hub.kill(),
      () => hub.start(),
    );
    return finish(w, { hub, nodes, period, t0 });
  }, opts.rules ? { rules: opts.rules } : {});
}

/**
 * 1b. the same with the hub down for longer than reorderS: the events the nodes kept arrive
 * later than reorderS and take the engine's "too late, applied at its own time" path, live
 * as in replay (CONTRACT.md "Settled readings")
 */
export function hubKillLate(scale: ChaosScale): Promise<ChaosResult> {
  return hubKill(scale, { name: 'hub-kill-late', rules: { reorderS: Math.max(0.5, scale.faultMs / 2000) } });
}

// 2. a node SIGKILLed mid-stream and restarted on the same folder (test/integration/edge-kill.test.ts)

export function nodeKill(scale: ChaosScale): Promise<ChaosResult> {
  return inWorld('node-kill', scale, async (w, t0, period) => {
    const hub = inProcessHub(w);
    await hub.start();
    // the first node is a process that gets killed; the others keep the store busy in-process
    const victim = childNode(w, w.ids[0]!, { mqttUrl: w.mqttUrl, rate: scale.rate, seed: seedOf(0) });
    const others = w.ids.slice(1).map((id, i) => inProcessNode(w, id, { mqttUrl: w.mqttUrl, rate: scale.inProcessRate, seed: seedOf(i + 1) }));
    const nodes: NodeHandle[] = [victim, ...others];
    await Promise.all(nodes.map((n) => n.start()));
    await phases(
      scale,
      () => victim.kill(),
      // the restarted node waits for the dead one's lock (README: taken over within about 6 s)
      () => victim.start(),
    );
    return finish(w, { hub, nodes, period, t0 });
  });
}

// 3. influxd stopped and restarted while traffic flows: history catches up, report equal

export async function influxOutage(scale: ChaosScale): Promise<ChaosResult> {
  const influxd: TestInfluxd = await startTestInfluxd();
  try {
    return await inWorld(
      'influx-outage',
      scale,
      async (w, t0, period) => {
        const hub = inProcessHub(w); // history from the store file's hub.influx.url
        await hub.start();
        const nodes = w.ids.map((id, i) => inProcessNode(w, id, { mqttUrl: w.mqttUrl, rate: scale.inProcessRate, seed: seedOf(i) }));
        await Promise.all(nodes.map((n) => n.start()));
        await phases(
          scale,
          () => influxd.stopServer(),
          () => influxd.restart(),
        );
        const db = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: 'chaos' });
        const stored = async (): Promise<Set<string>> => {
          const rows = (await db.query(`SELECT party FROM visit WHERE store = '${STORE}'`)) as unknown as Array<{ party: string }>;
          return new Set(rows.map((x) => x.party));
        };
        return finish(w, {
          hub,
          nodes,
          period,
          t0,
          check: async ({ visits }) => {
            // history catches up: every final visit of the replay is in InfluxDB (the store retries with backoff)
            const want = new Set(visits.filter((v) => v.outcome !== 'pending').map((v) => v.party));
            let have = new Set<string>();
            try {
              await waitFor(
                async () => {
                  try {
                    have = await stored();
                  } catch {
                    return false;
                  }
                  return [...want].every((p) => have.has(p));
                },
                'the backlog reaching InfluxDB',
                60_000,
                250,
              );
            } catch {
              // reported below
            }
            const missing = [...want].filter((p) => !have.has(p)).length;
            const extra = [...have].filter((p) => !want.has(p)).length;
            const st = hub.hub()?.ctx.store;
            const failures = st && 'stats' in st ? (st as InfluxVisitStore).stats().failures : '?';
            w.notes.push(`InfluxDB has ${have.size} of ${want.size} final visits; ${failures} history writes failed during the outage`);
            const out: string[] = [];
            if (missing) out.push(`${missing} final visits never reached InfluxDB`);
            if (extra) out.push(`${extra} visits in InfluxDB that the replay does not have`);
            const again = await getJson<Report>(reportUrl(w, period));
            if (again.warnings) out.push(`report still partial: ${again.warnings[0]}`);
            return out;
          },
        });
      },
      // visits are final (and stored) reorderS after they happen: short here, so history has them
      // within the scenario; InfluxDB's outage does not delay events, so none arrives that late
      { influxUrl: influxd.url, rules: { reorderS: 1 } },
    );
  } finally {
    await influxd.stop();
  }
}

// 4. the link between the nodes and the hub cut and restored through a TCP proxy

export function linkCut(scale: ChaosScale): Promise<ChaosResult> {
  return inWorld('link-cut', scale, async (w, t0, period) => {
    const hub = inProcessHub(w);
    await hub.start();
    const proxy: TcpProxy = await startTcpProxy({ port: Number(new URL(w.mqttUrl).port) });
    w.cleanups.push(() => proxy.close());
    const nodes = w.ids.map((id, i) => inProcessNode(w, id, { mqttUrl: proxy.url('mqtt'), rate: scale.inProcessRate, seed: seedOf(i) }));
    await Promise.all(nodes.map((n) => n.start()));
    await phases(
      scale,
      async () => proxy.cut(),
      async () => proxy.restore(),
    );
    const s = proxy.stats();
    w.notes.push(`proxy: ${s.forwarded} connections, ${s.cut} cut, ${s.refused} refused while cut`);
    return finish(w, { hub, nodes, period, t0 });
  });
}

// 5. a node's clock stepped by NTP (+5 s) mid-run

export function clockStep(scale: ChaosScale, stepMs = 5000, name = 'clock-step'): Promise<ChaosResult> {
  return inWorld(name, scale, async (w, t0, period) => {
    const hub = inProcessHub(w);
    await hub.start();
    let skew = 0;
    const stepped: Clock = { now: () => Date.now() + skew };
    const nodes = w.ids.map((id, i) => inProcessNode(w, id, { mqttUrl: w.mqttUrl, rate: scale.inProcessRate, seed: seedOf(i), ...(i === 0 ? { clock: stepped } : {}) }));
    await Promise.all(nodes.map((n) => n.start()));
    await phases(
      scale,
      async () => {
        skew += stepMs; // the step: every later edge time (and senttime) of this node jumps ahead
      },
      async () => undefined,
    );
    const off = hub.hub()?.ctx.runtime.live?.snapshot().nodes.find((n) => n.node === w.ids[0])?.offsetMs;
    w.notes.push(`${w.ids[0]} stepped ${skew > 0 ? '+' : ''}${(skew / 1000).toFixed(0)} s in all; hub offset estimate ${off ?? '?'} ms`);
    return finish(w, { hub, nodes, period, t0 });
  });
}

// 6. the trace disk full: the hub's recorder fails every write for a while

export function traceFull(scale: ChaosScale): Promise<ChaosResult> {
  return inWorld('trace-full', scale, async (w, t0, period) => {
    let failing = false;
    let refused = 0;
    const real = fileTraceRecorder(path.join(w.hubDir, 'traces'), STORE, { keepDays: w.cfg.hub.traceDays });
    const recorder: TraceRecorder = {
      ...real,
      record(ev, recvMs, done, wire) {
        if (!failing) return real.record(ev, recvMs, done, wire);
        refused++;
        done(new Error('ENOSPC: no space left on device, write'));
      },
    };
    const hub = inProcessHub(w, { recorder });
    await hub.start();
    const nodes = w.ids.map((id, i) => inProcessNode(w, id, { mqttUrl: w.mqttUrl, rate: scale.inProcessRate, seed: seedOf(i) }));
    await Promise.all(nodes.map((n) => n.start()));
    await phases(
      scale,
      async () => {
        failing = true;
      },
      async () => {
        failing = false;
      },
    );
    w.notes.push(`${refused} trace writes failed (no PUBACK)`);
    return finish(w, { hub, nodes, period, t0 });
  });
}

// 6b. the trace disk really full: the hub process under RLIMIT_FSIZE (prlimit), so the kernel
// does what a full disk does: the write that reaches the limit is cut short, later ones fail.
// (Before eb2d9e0 the recorder took the short write for a whole one: acknowledged events went
// missing from the trace, the next line glued onto the torn one, /report differed from replay.)

/** prlimit (util-linux) on PATH: it sets and lifts the hub's file-size limit */
export function hasPrlimit(): boolean {
  return spawnSync('prlimit', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function setFsize(pid: number, limit: number | 'unlimited'): Promise<void> {
  await promisify(execFile)('prlimit', ['--pid', String(pid), `--fsize=${limit}:unlimited`]);
}

export function traceShortWrite(scale: ChaosScale): Promise<ChaosResult> {
  return inWorld('trace-short-write', scale, async (w, t0, period) => {
    if (!hasPrlimit()) throw new Error('prlimit (util-linux) not found: needed to give the hub a full disk');
    const hub = childHub(w, { surviveFsizeLimit: true });
    await hub.start();
    const nodes = w.ids.map((id, i) => inProcessNode(w, id, { mqttUrl: w.mqttUrl, rate: scale.inProcessRate, seed: seedOf(i) }));
    await Promise.all(nodes.map((n) => n.start()));
    const size = () => traceFiles(w).reduce((s, f) => s + fs.statSync(f).size, 0);
    const failed = async () => (await getJson<LiveSnapshot>(`${w.httpUrl}/api/stores/${STORE}/live`)).journal?.failed ?? 0;
    let full = 0;
    await phases(
      scale,
      async () => {
        // the disk fills up now: less room than one trace line (~300 bytes) is left, so the next
        // write is cut short inside a line, as a real disk's last free block would cut it
        const before = await failed();
        await setFsize(hub.pid()!, size() + 100);
        await waitFor(async () => (await failed()) > before, 'a trace write failing on the full disk', 20_000, 50);
        full++;
      },
      async () => setFsize(hub.pid()!, 'unlimited'),
    );
    w.notes.push(`the disk was full ${full} times; ${await failed()} trace writes failed (no PUBACK)`);
    return finish(w, { hub, nodes, period, t0 });
  });
}

// ---------------------------------------------------------------------------------------------

export const SCENARIOS = {
  'hub-kill': (s: ChaosScale) => hubKill(s),
  'hub-kill-late': hubKillLate,
  'node-kill': nodeKill,
  'influx-outage': influxOutage,
  'link-cut': linkCut,
  'clock-step': (s: ChaosScale) => clockStep(s),
  // a step back as well as forward (the hub's estimate keeps the old offset for its window)
  'clock-step-back': (s: ChaosScale) => clockStep(s, -5000, 'clock-step-back'),
  'trace-full': traceFull,
  'trace-short-write': traceShortWrite,
} as const satisfies Record<string, (s: ChaosScale) => Promise<ChaosResult>>;
export type ScenarioName = keyof typeof SCENARIOS;

/** the table of the bench: one row per scenario */
export function formatTable(rows: readonly ChaosResult[]): string {
  const head = ['scenario', 'events built', 'events in trace', 'lost', 'doubled', 'report == replay', 'seconds'];
  const body = rows.map((r) => [r.scenario, String(r.built), String(r.traced), String(r.lost), String(r.doubled), r.reportEqual ? 'yes' : 'no', r.seconds.toFixed(1)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((n) => '-'.repeat(n))), ...body.map(line)].join('\n');
}

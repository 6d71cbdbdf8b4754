import { ErrorCodes, parseSource, validateEvent, parseJson, timeMs, type ErrorCode, type GwEvent, type Report, type Visit } from '../../contract/index.ts';
import type { StoreConfig } from '../../firmware-config/schema.ts';
import { GreetEngine } from './engine.ts';
import { buildReport } from './report.ts';
import { closedToVisit, openPartyToVisit } from './visits.ts';

// CONTRACT.md "Replay": the same engine over a trace of CloudEvents in arrival order.
// `recvtime`, where present, is the hub clock at arrival; without it the event's own
// time stands in (offset 0). Time advances to the last event; open parties are pending.

export interface TraceRejection {
  line: number;
  code: ErrorCode;
  reason: string;
}

export interface ReplayResult {
  report: Report;
  visits: Visit[];
  rejected: TraceRejection[];
  events: number;
  duplicates: number;
}

export function engineFor(cfg: StoreConfig): GreetEngine {
  const buttonStaff = new Map<string, string>();
  for (const n of cfg.nodes) for (const b of n.buttons) if (b.staff) buttonStaff.set(b.id, b.staff);
  return new GreetEngine({
    store: cfg.store.id,
    rules: cfg.rules,
    timezone: cfg.store.timezone,
    openingHours: cfg.store.openingHours,
    buttonStaff,
  });
}

/** The one membership rule, live (ingest) and in replay: this store, and a node the config lists (any node when it lists none). */
export function nodeCheck(cfg: StoreConfig): (store: string, node: string) => { code: ErrorCode; reason: string } | null {
  const known = new Set(cfg.nodes.map((n) => n.id));
  // the hub-side node of Zigbee2MQTT buttons is one of the store's nodes (README "Zigbee2MQTT buttons")
  if (known.size > 0 && cfg.integrations.zigbee2mqtt.buttons.length > 0) known.add(cfg.integrations.zigbee2mqtt.node);
  return (store, node) => {
    if (store !== cfg.store.id) return { code: ErrorCodes.UNKNOWN_STORE, reason: `store ${store} is not served here (${cfg.store.id})` };
    if (known.size > 0 && !known.has(node)) return { code: ErrorCodes.UNKNOWN_NODE, reason: `node ${node} is not in the store config` };
    return null;
  };
}

/** Checks that an event's source names this store and, when the config lists nodes, a known node. */
export function storeCheck(cfg: StoreConfig): (source: string) => { code: ErrorCode; reason: string } | null {
  const member = nodeCheck(cfg);
  return (source) => {
    const src = parseSource(source);
    if (!src) return { code: ErrorCodes.EVENT_SOURCE, reason: `source: not /stores/{store}/nodes/{node}: ${source}` };
    return member(src.store, src.node);
  };
}

/**
 * CONTRACT.md "Event envelope": an event whose `time` is more than `maxSkewS` from the hub's
 * clock at arrival is rejected as a time error; it never reaches the engine, so it never feeds
 * the node's clock estimate (one event dated 9999 would otherwise shift every later one).
 */
export function timeCheck(ev: Pick<GwEvent, 'time' | 'senttime'>, recvMs: number, maxSkewS: number): { code: ErrorCode; reason: string } | null {
  // senttime feeds the clock estimate when present: it is held to the same bound as time
  for (const [field, value] of [['time', ev.time], ['senttime', ev.senttime]] as const) {
    if (value === undefined) continue;
    const skewS = (timeMs(value) - recvMs) / 1000;
    if (Math.abs(skewS) <= maxSkewS) continue;
    const how = skewS > 0 ? 'ahead of' : 'behind';
    return { code: ErrorCodes.EVENT_TIME, reason: `${field}: ${value} is ${Math.round(Math.abs(skewS))} s ${how} the hub clock (more than maxSkewS ${maxSkewS} s)` };
  }
  return null;
}

export type TraceLine = { ok: true; event: GwEvent } | { ok: false; code: ErrorCode; reason: string };

/** One line of a trace (CONTRACT.md "Replay"): null for a blank line, else the event or why it is refused. */
export function parseTraceLine(raw: string, check: ReturnType<typeof storeCheck>): TraceLine | null {
  const text = raw.trim();
  if (!text) return null;
  const parsed = parseJson(text);
  const v = parsed.ok ? validateEvent(parsed.value) : parsed;
  if (!v.ok) return { ok: false, code: v.code, reason: v.reason };
  const bad = check(v.value.source);
  return bad ? { ok: false, ...bad } : { ok: true, event: v.value };
}

export type ReplayLine = { ok: true; event: GwEvent; recvMs: number } | { ok: false; code: ErrorCode; reason: string };

/**
 * One trace line as replay and the hub's recovery feed it: the event with the receive time it is
 * judged at (`recvtime`, else its own time), or why it is refused. The live hub records an event
 * refused for its time too (hub/plugins/ingest.ts), so the time rule is applied here, once.
 */
export function replayLine(raw: string, check: ReturnType<typeof storeCheck>, maxSkewS: number): ReplayLine | null {
  const v = parseTraceLine(raw, check);
  if (v === null || !v.ok) return v;
  const recvMs = timeMs(v.event.recvtime ?? v.event.time);
  const late = timeCheck(v.event, recvMs, maxSkewS);
  return late ? { ok: false, ...late } : { ok: true, event: v.event, recvMs };
}

export function replayTrace(lines: Iterable<string>, cfg: StoreConfig, period?: { fromMs?: number; toMs?: number }): ReplayResult {
  const engine = engineFor(cfg);
  const check = storeCheck(cfg);
  const rejected: TraceRejection[] = [];
  const visits: Visit[] = [];
  const orphanTimes: number[] = [];
  let events = 0;
  let duplicates = 0;
  let minT = Infinity;
  let maxT = -Infinity;
  let n = 0;
  const take = () => {
    const out = engine.drainFinal();
    for (const v of out.visits) visits.push(closedToVisit(cfg.store.id, v));
    for (const o of out.orphans) orphanTimes.push(o.t);
  };
  for (const raw of lines) {
    n++;
    const v = replayLine(raw, check, cfg.rules.maxSkewS);
    if (v === null) continue;
    if (!v.ok) {
      rejected.push({ line: n, code: v.code, reason: v.reason });
      continue;
    }
    const ev = v.event;
    const t = timeMs(ev.time);
    const recv = v.recvMs;
    minT = Math.min(minT, t, recv);
    maxT = Math.max(maxT, t, recv);
    if (engine.ingest(ev, recv) === 'duplicate') duplicates++;
    else events++;
    engine.advance(recv);
    take();
  }
  engine.finish();
  take();
  for (const p of engine.committedMachine.parties()) visits.push(openPartyToVisit(cfg.store.id, p));
  const tz = engine.tz;
  const fromMs = period?.fromMs ?? (Number.isFinite(minT) ? tz.startOfDay(minT) : 0);
  const toMs = period?.toMs ?? (Number.isFinite(maxT) ? tz.startOfDay(maxT) + 36 * 3_600_000 : 0);
  // `to` = the start of the local day after the last event (36 h then back to midnight copes with DST)
  const to = period?.toMs ?? (Number.isFinite(maxT) ? tz.startOfDay(toMs) : 0);
  const report = buildReport({ store: cfg.store.id, fromMs, toMs: to, tz, visits, orphanTimes });
  return { report, visits, rejected, events, duplicates };
}

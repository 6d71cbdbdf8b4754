import crypto from 'node:crypto';
import { FieldType, type IPoint, type ISchemaOptions } from 'influx';
import type { GwEvent, NodeHealth, Visit } from '../../contract/index.ts';
import { isoTime, parseSource, timeMs } from '../../contract/index.ts';
import type { HourRollup, StaffHourRollup } from './rollup.ts';
import { encodeHist } from './rollup.ts';

// The InfluxDB 1.x layout of a store's history (README "History"). Only low-cardinality
// tags (store, node, event type, staff in the staff rollup); ids are fields. Every field
// has one fixed type, declared below, so InfluxDB never sees a type conflict. A point's
// identity is its series (measurement + tags) and time: each visit, greeting and event
// gets a time that is the same however often it is written, so a rewrite (recovery,
// retries, a spool replayed after a crash) overwrites it instead of adding a point.

/** raw points (visits, greetings, events, node health), the hourly rollups, and store info (kept forever) */
export const RP_RAW = 'raw';
export const RP_ROLLUP = 'rollup';
export const RP_META = 'meta';

export const M = {
  visit: 'visit',
  greeting: 'greeting',
  event: 'event',
  health: 'node_health',
  hourly: 'visit_hourly',
  staffHourly: 'staff_hourly',
  storeInfo: 'store_info',
} as const;

export const SCHEMA: ISchemaOptions[] = [
  {
    measurement: M.visit,
    tags: ['store'],
    fields: {
      party: FieldType.STRING,
      outcome: FieldType.STRING,
      staff: FieldType.STRING,
      size: FieldType.INTEGER,
      ttg_s: FieldType.FLOAT,
      greet_time: FieldType.STRING,
      mark_time: FieldType.STRING,
      breach_time: FieldType.STRING,
      closed_time: FieldType.STRING,
    },
  },
  {
    measurement: M.greeting,
    tags: ['store'],
    fields: { party: FieldType.STRING, staff: FieldType.STRING, orphan: FieldType.BOOLEAN, ttg_s: FieldType.FLOAT },
  },
  {
    measurement: M.event,
    tags: ['store', 'node', 'type'],
    fields: {
      id: FieldType.STRING,
      seq: FieldType.INTEGER,
      bootid: FieldType.STRING,
      recv_time: FieldType.STRING,
      sensor: FieldType.STRING,
      button: FieldType.STRING,
      staff: FieldType.STRING,
      zone: FieldType.STRING,
      direction: FieldType.STRING,
      state: FieldType.STRING,
      kind: FieldType.STRING,
      detail: FieldType.STRING,
      distance_cm: FieldType.FLOAT,
    },
  },
  {
    measurement: M.health,
    tags: ['store', 'node'],
    fields: {
      online: FieldType.BOOLEAN,
      offset_ms: FieldType.FLOAT,
      clock_flag: FieldType.BOOLEAN,
      outbox: FieldType.INTEGER,
      dropped: FieldType.INTEGER,
      events: FieldType.INTEGER,
      duplicates: FieldType.INTEGER,
      lost: FieldType.INTEGER,
      too_late: FieldType.INTEGER,
      rejected: FieldType.INTEGER,
      faults: FieldType.INTEGER,
      config_current: FieldType.BOOLEAN,
    },
  },
  {
    measurement: M.hourly,
    tags: ['store'],
    fields: {
      visits: FieldType.INTEGER,
      met: FieldType.INTEGER,
      late: FieldType.INTEGER,
      walkouts: FieldType.INTEGER,
      short_walkouts: FieldType.INTEGER,
      missed: FieldType.INTEGER,
      greeted: FieldType.INTEGER,
      ttg_sum_ms: FieldType.INTEGER,
      ttg_max_ms: FieldType.INTEGER,
      ttg_hist: FieldType.STRING,
    },
  },
  {
    measurement: M.staffHourly,
    tags: ['store', 'staff'],
    fields: { greets: FieldType.INTEGER, met: FieldType.INTEGER, ttg_sum_ms: FieldType.INTEGER },
  },
  {
    measurement: M.storeInfo,
    tags: ['store'],
    fields: { name: FieldType.STRING, timezone: FieldType.STRING, service_level_target: FieldType.FLOAT, greet_within_s: FieldType.FLOAT },
  },
];

const NS_PER_MS = 1_000_000n;

// one-shot crypto.hash (Node >= 20.12) is about twice as fast as a Hash object per event, and
// a digest handed back as a 'binary' (latin1) string, one character per byte, costs a third
// of one handed back as a Buffer; the same digest either way, so point identities never
// change with the Node version (test/unit/history-identity.test.ts)
const sha256Latin1: (s: string) => string =
  typeof crypto.hash === 'function' ? (s) => crypto.hash('sha256', s, 'binary') : (s) => crypto.createHash('sha256').update(s, 'utf8').digest('binary');

/**
 * Sub-millisecond part (0..999 999 ns) of a point's time, from its identity (a party id,
 * an event's source and id). Two visits entering in the same millisecond would otherwise be
 * one point; a hash keeps every rewrite of the same thing on the same point.
 */
export function subMsNanos(identity: string): number {
  const h = sha256Latin1(identity);
  // the digest's first 6 bytes, big-endian (48 bits: exact in a double)
  const high = (h.charCodeAt(0) << 16) | (h.charCodeAt(1) << 8) | h.charCodeAt(2);
  const low = (h.charCodeAt(3) << 16) | (h.charCodeAt(4) << 8) | h.charCodeAt(5);
  return (high * 16_777_216 + low) % 1_000_000;
}

/** point time in ns (decimal string, as the line protocol takes it) */
export function pointTimeNs(ms: number, identity: string): string {
  const sub = subMsNanos(identity);
  // from 1 ms on, ms × 10^6 + sub is the digits of ms and then sub's six: no BigInt per point
  if (ms >= 1 && Number.isSafeInteger(ms)) return `${ms}${sub < 100_000 ? String(sub).padStart(6, '0') : sub}`;
  return (BigInt(ms) * NS_PER_MS + BigInt(sub)).toString();
}

export const visitTimeNs = (v: Pick<Visit, 'entryTime' | 'party'>): string => pointTimeNs(Date.parse(v.entryTime), v.party);

const msNs = (ms: number): string => (BigInt(ms) * NS_PER_MS).toString();

type Fields = Record<string, string | number | boolean>;

export function visitPoint(v: Visit): IPoint {
  const fields: Fields = { party: v.party, outcome: v.outcome, size: v.size };
  if (v.staff !== undefined) fields.staff = v.staff;
  if (v.ttgS !== undefined) fields.ttg_s = v.ttgS;
  if (v.greetTime !== undefined) fields.greet_time = v.greetTime;
  if (v.markTime !== undefined) fields.mark_time = v.markTime;
  if (v.breachTime !== undefined) fields.breach_time = v.breachTime;
  if (v.closedTime !== undefined) fields.closed_time = v.closedTime;
  return { measurement: M.visit, tags: { store: v.store }, fields, timestamp: visitTimeNs(v) };
}

/** the greeting a greeted visit holds, at its greet time */
export function greetingPoint(v: Visit): IPoint | null {
  if (v.greetTime === undefined) return null;
  const fields: Fields = { party: v.party, orphan: false };
  if (v.staff !== undefined) fields.staff = v.staff;
  if (v.ttgS !== undefined) fields.ttg_s = v.ttgS;
  return { measurement: M.greeting, tags: { store: v.store }, fields, timestamp: pointTimeNs(Date.parse(v.greetTime), `greet:${v.party}`) };
}

/** a greet no party took (CONTRACT.md "greetLeadS") */
export function orphanPoint(store: string, t: number, staff: string | undefined): IPoint {
  const fields: Fields = { orphan: true };
  if (staff !== undefined) fields.staff = staff;
  return { measurement: M.greeting, tags: { store }, fields, timestamp: pointTimeNs(t, `orphan:${t}:${staff ?? ''}`) };
}

/** short type tag: greetwatch.entry.v1 → entry */
const shortType = (type: string): string => /^greetwatch\.([a-z]+)\.v\d+$/.exec(type)?.[1] ?? 'other';

/** an accepted sensor event, at the node's own time (the trace keeps the same; recv_time is the hub's) */
export function eventPoint(store: string, e: GwEvent, recvMs: number): IPoint | null {
  const node = parseSource(e.source)?.node;
  const ms = timeMs(e.time);
  if (!node || !Number.isFinite(ms)) return null;
  const fields: Fields = { id: e.id, seq: e.seq, bootid: e.bootid, recv_time: isoTime(recvMs) };
  const d = e.data as Record<string, unknown>;
  for (const k of ['sensor', 'button', 'staff', 'zone', 'direction', 'state', 'kind', 'detail'] as const) {
    const x = d[k];
    if (typeof x === 'string') fields[k] = x;
  }
  if (typeof d.distanceCm === 'number' && Number.isFinite(d.distanceCm)) fields.distance_cm = d.distanceCm;
  return { measurement: M.event, tags: { store, node, type: shortType(e.type) }, fields, timestamp: pointTimeNs(ms, `${e.source}\u0000${e.id}`) };
}

/** one node health sample, from the live view's node health */
export function healthPoint(store: string, n: NodeHealth, t: number): IPoint {
  const fields: Fields = {
    online: n.online,
    clock_flag: n.clockFlag,
    events: n.events,
    duplicates: n.duplicates,
    lost: n.lost,
    too_late: n.tooLate,
    rejected: Object.values(n.rejected).reduce((a, b) => a + b, 0),
  };
  if (n.offsetMs !== null) fields.offset_ms = n.offsetMs;
  if (typeof n.outbox === 'number') fields.outbox = n.outbox;
  if (typeof n.dropped === 'number') fields.dropped = n.dropped;
  if (n.faultCount !== undefined) fields.faults = n.faultCount;
  if (typeof n.configCurrent === 'boolean') fields.config_current = n.configCurrent;
  return { measurement: M.health, tags: { store, node: n.node }, fields, timestamp: msNs(t) };
}

export function hourlyPoint(store: string, h: HourRollup): IPoint {
  const fields: Fields = {
    visits: h.visits,
    met: h.met,
    late: h.late,
    walkouts: h.walkouts,
    short_walkouts: h.shortWalkouts,
    missed: h.missed,
    greeted: h.greeted,
    ttg_sum_ms: h.ttgSumMs,
    ttg_hist: encodeHist(h.hist),
  };
  if (h.ttgMaxMs !== null) fields.ttg_max_ms = h.ttgMaxMs;
  return { measurement: M.hourly, tags: { store }, fields, timestamp: msNs(h.startMs) };
}

export function staffHourlyPoint(store: string, s: StaffHourRollup): IPoint {
  return {
    measurement: M.staffHourly,
    tags: { store, staff: s.staff },
    fields: { greets: s.greets, met: s.met, ttg_sum_ms: s.ttgSumMs },
    timestamp: msNs(s.startMs),
  };
}

export interface StoreInfo {
  store: string;
  name?: string;
  timezone: string;
  serviceLevelTarget: number;
  greetWithinS: number;
}

/** one point per store at time 0, rewritten at each start: what the chain view needs of stores it does not run */
export function storeInfoPoint(s: StoreInfo): IPoint {
  const fields: Fields = { timezone: s.timezone, service_level_target: s.serviceLevelTarget, greet_within_s: s.greetWithinS };
  if (s.name !== undefined) fields.name = s.name;
  return { measurement: M.storeInfo, tags: { store: s.store }, fields, timestamp: '0' };
}

/** InfluxDB duration ("90d", "52w", "INF") in ms; Infinity for INF */
export function durationMs(d: string): number {
  if (d === 'INF') return Infinity;
  const m = /^(\d+)([hdw])$/.exec(d);
  if (!m) return NaN;
  return Number(m[1]) * { h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'h' | 'd' | 'w'];
}

import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import pino from 'pino';
import { MAX_JSON_DEPTH, topics } from '../../contract/index.ts';
import { StoreConfig } from '../../firmware-config/schema.ts';
import { startHub } from '../../hub/hub.ts';
import type { GuardOptions } from '../../hub/mqtt-guard.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { loginAs, password } from './logins.ts';
import { waitFor } from './wait.ts';
import { testStore } from './store-config.ts';

// The fuzzer behind `npm run fuzz` (bench/fuzz.ts) and its short CI run
// (test/integration/fuzz-short.test.ts): one code path for both.
//
// The hub runs in a child process (this file, started with CHILD_FLAG), so that a crash is
// seen as a dead process rather than taking the fuzzer down with it, and so that its RSS is
// the hub's alone. The child answers IPC requests for its counters (hub.ctx.metrics, what
// the bus accepted, RSS, heap after GC) and reports every unhandled rejection.
//
// Everything random comes from one seed: connection i, payload i and request i are each a
// pure function of (seed, i), so `--seed S --dump-conn i` shows the bytes again.

export const STORE = 'fz';
/** probe: the real node whose events must keep being accepted; fuzz: publishes the bad payloads; pk: logs in before the mutated packets */
export const NODES = ['probe', 'fuzz', 'pk'] as const;
export const TOKEN = 'fuzz-token-0123456789abcdef';
/** raised so that the packets reach aedes and the ingest instead of stopping at the guard */
export const RAISED_GUARD: Partial<GuardOptions> = { maxConnections: 4096, maxPerAddress: 4096, connectsPerMinute: 1_000_000_000 };
const CHILD_FLAG = '--fuzz-hub-child';
const SELF = fileURLToPath(import.meta.url);

const describeErr = (e: unknown): string => (e instanceof Error ? (e.stack ?? e.message) : String(e));

// ---------------------------------------------------------------------------
// seeded randomness (sfc32): reproducible from (seed, stream, index)

const mix32 = (x: number): number => {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
};

export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  constructor(...keys: number[]) {
    let h = 0x9e3779b9;
    for (const k of keys) h = mix32(h ^ mix32(k >>> 0) ^ mix32(Math.floor(k / 2 ** 32) + 0x632be5ab));
    this.#a = mix32(h ^ 1);
    this.#b = mix32(h ^ 2);
    this.#c = mix32(h ^ 3);
    this.#d = mix32(h ^ 4) | 1;
    for (let i = 0; i < 12; i++) this.u32();
  }
  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }
  float(): number {
    return this.u32() / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  weighted<T>(items: ReadonlyArray<readonly [number, T]>): T {
    let total = 0;
    for (const [w] of items) total += w;
    let x = this.float() * total;
    for (const [w, v] of items) {
      if ((x -= w) < 0) return v;
    }
    return items[items.length - 1]![1];
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  word(): string {
    return this.u32().toString(36);
  }
}

const STREAM = { packets: 1, payloads: 2, http: 3, guard: 4 } as const;

// ---------------------------------------------------------------------------
// MQTT packets, written by hand so that every field can be wrong

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
export function varint(n: number): Buffer {
  const out: number[] = [];
  let x = n;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    out.push(b);
  } while (x > 0);
  return Buffer.from(out);
}
const bin = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
/** an MQTT string: two length bytes (wrapped, so a huge one lies about its length), then the bytes */
const mstr = (s: string | Buffer) => {
  const b = bin(s);
  return Buffer.concat([u16(b.length & 0xffff), b]);
};
export const packet = (first: number, body: Buffer) => Buffer.concat([Buffer.from([first & 0xff]), varint(body.length), body]);

export interface ConnectFields {
  name?: string | Buffer;
  level?: number;
  /** connect flags; default: derived from the fields present (so a given value can contradict them) */
  flags?: number;
  keepalive?: number;
  /** MQTT 5 properties (level 5 only) */
  props?: Buffer;
  clientId: string | Buffer;
  will?: { props?: Buffer; topic: string | Buffer; payload: Buffer };
  username?: string | Buffer;
  password?: string | Buffer;
}

export function connectPacket(f: ConnectFields): Buffer {
  const level = f.level ?? 4;
  const flags = f.flags ?? ((f.username !== undefined ? 0x80 : 0) | (f.password !== undefined ? 0x40 : 0) | (f.will ? 0x0c : 0) | 0x02);
  const parts: Buffer[] = [mstr(f.name ?? 'MQTT'), Buffer.from([level & 0xff, flags & 0xff]), u16(f.keepalive ?? 60)];
  if (level === 5) {
    const props = f.props ?? Buffer.alloc(0);
    parts.push(varint(props.length), props);
  }
  parts.push(mstr(f.clientId));
  if (f.will) {
    if (level === 5) {
      const wp = f.will.props ?? Buffer.alloc(0);
      parts.push(varint(wp.length), wp);
    }
    parts.push(mstr(f.will.topic), mstr(f.will.payload));
  }
  if (f.username !== undefined) parts.push(mstr(f.username));
  if (f.password !== undefined) parts.push(mstr(f.password));
  return packet(0x10, Buffer.concat(parts));
}

export function publishPacket(topic: string | Buffer, payload: Buffer, qos: number, id: number, o: { v5?: boolean; dup?: boolean; retain?: boolean } = {}): Buffer {
  const first = 0x30 | (o.dup ? 8 : 0) | ((qos & 3) << 1) | (o.retain ? 1 : 0);
  const parts: Buffer[] = [mstr(topic)];
  if (qos > 0) parts.push(u16(id));
  if (o.v5) parts.push(varint(0));
  parts.push(payload);
  return packet(first, Buffer.concat(parts));
}

const subscribePacket = (id: number, subs: ReadonlyArray<{ topic: string | Buffer; qos: number }>, v5: boolean, first = 0x82) =>
  packet(first, Buffer.concat([u16(id), ...(v5 ? [varint(0)] : []), ...subs.flatMap((s) => [mstr(s.topic), Buffer.from([s.qos & 0xff])])]));
const unsubscribePacket = (id: number, list: ReadonlyArray<string | Buffer>, v5: boolean) =>
  packet(0xa2, Buffer.concat([u16(id), ...(v5 ? [varint(0)] : []), ...list.map(mstr)]));
const ackPacket = (first: number, id: number) => packet(first, u16(id));
const PINGREQ = Buffer.from([0xc0, 0x00]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);

interface Received {
  type: number;
  flags: number;
  body: Buffer;
}

/** Splits what the broker sends into packets (fixed header, remaining length, body). */
export class PacketReader {
  #buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Received[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: Received[] = [];
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) break;
      let len = 0;
      let mult = 1;
      let i = 1;
      let complete = false;
      while (i < b.length && i <= 4) {
        const x = b[i++]!;
        len += (x & 0x7f) * mult;
        mult *= 128;
        if (!(x & 0x80)) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i > 4) this.#buf = Buffer.alloc(0); // not MQTT: drop it
        break;
      }
      if (b.length < i + len) break;
      out.push({ type: b[0]! >> 4, flags: b[0]! & 0x0f, body: b.subarray(i, i + len) });
      this.#buf = b.subarray(i + len);
    }
    // the broker sends small packets; never hold more than this
    if (this.#buf.length > 1 << 20) this.#buf = Buffer.alloc(0);
    return out;
  }
}

// ---------------------------------------------------------------------------
// JSON text with full control: raw number text, duplicate keys, own `__proto__` keys

class Raw {
  constructor(readonly text: string) {}
}
class Pairs {
  constructor(readonly pairs: ReadonlyArray<readonly [string, unknown]>) {}
}
type Obj = Record<string, unknown>;

function json(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Pairs) return `{${v.pairs.map(([k, x]) => `${JSON.stringify(k)}:${json(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(json).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .map((k) => `${JSON.stringify(k)}:${json((v as Obj)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
/** an object with an own `__proto__` key, as JSON.parse makes it (a plain literal would set the prototype) */
const withOwn = (base: Obj, key: string, value: unknown): Obj => {
  const o: Obj = { ...base };
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
  return o;
};

// ---------------------------------------------------------------------------
// payloads: malformed events, and a share of valid but hostile ones

export interface PayloadCase {
  kind: string;
  bytes: Buffer;
  /** whether the contract (as this hub reads it) accepts it; the run checks the hub agrees */
  good: boolean;
  qos: 0 | 1;
}

const EVENT_TYPES = ['greetwatch.entry.v1', 'greetwatch.door.v1', 'greetwatch.presence.v1', 'greetwatch.greet.v1', 'greetwatch.staffpass.v1', 'greetwatch.fault.v1'] as const;
type EvType = (typeof EVENT_TYPES)[number];

function goodData(r: Rng, type: EvType): Obj {
  switch (type) {
    case 'greetwatch.entry.v1':
      return { sensor: 'beam', direction: r.pick(['in', 'out']) };
    case 'greetwatch.door.v1':
      return { sensor: 'door', state: r.pick(['open', 'closed']) };
    case 'greetwatch.presence.v1':
      return { sensor: 'pir', zone: 'z1', state: r.pick(['on', 'off']), ...(r.chance(0.5) ? { distanceCm: r.int(500) } : {}) };
    case 'greetwatch.greet.v1':
      return { button: 'btn', ...(r.chance(0.5) ? { staff: 'ann' } : {}) };
    case 'greetwatch.staffpass.v1':
      return { button: 'pass' };
    case 'greetwatch.fault.v1':
      return { sensor: r.pick(['beam', 'door', 'pir']), kind: r.pick(['stuck', 'chatter', 'disconnected', 'recovered']), ...(r.chance(0.5) ? { detail: 'fuzz' } : {}) };
  }
}

const BAD_DATA: Record<EvType, Obj[]> = {
  'greetwatch.entry.v1': [
    { sensor: 'beam' },
    { direction: 'in' },
    { sensor: 'beam', direction: 'sideways' },
    { sensor: 'Beam', direction: 'in' },
    { sensor: '', direction: 'in' },
    { sensor: '-beam', direction: 'in' },
    { sensor: 'b'.repeat(33), direction: 'in' },
    { sensor: 1, direction: 'in' },
    { sensor: 'beam', direction: ['in'] },
    { sensor: 'beam', direction: null },
  ],
  'greetwatch.door.v1': [{ sensor: 'door', state: 'ajar' }, { sensor: 'door' }, { state: 'open' }, { sensor: 'door', state: true }, { sensor: 'door/1', state: 'open' }],
  'greetwatch.presence.v1': [
    { sensor: 'pir', zone: 'z1', state: 'on', distanceCm: -1 },
    { sensor: 'pir', zone: 'z1', state: 'on', distanceCm: '5' },
    { sensor: 'pir', zone: 'z1', state: 'on', distanceCm: null },
    { sensor: 'pir', state: 'on' },
    { sensor: 'pir', zone: 'Z!', state: 'on' },
    { sensor: 'pir', zone: 'z1', state: 'maybe' },
  ],
  'greetwatch.greet.v1': [{}, { button: '' }, { button: 'btn', staff: '' }, { button: 'btn', staff: 'Ann' }, { button: 'btn', staff: null }, { staff: 'ann' }],
  'greetwatch.staffpass.v1': [{}, { button: 7 }, { button: 'pass', staff: 'x'.repeat(40) }],
  'greetwatch.fault.v1': [
    { sensor: 'beam', kind: 'exploded' },
    { sensor: 'beam', kind: 'stuck', detail: 'x'.repeat(501) },
    { sensor: 'beam', kind: 'stuck', detail: 5 },
    { kind: 'stuck' },
  ],
};

const WRONG_TYPES: unknown[] = [null, true, false, 0, 1, -1, 1.5, [], {}, ['1.0'], { a: 1 }];
const ENVELOPE_REQUIRED = ['specversion', 'id', 'source', 'type', 'time', 'bootid', 'seq', 'data'] as const;

const iso = (ms: number) => new Date(ms).toISOString();

/** times that a loose parser (Date.parse) takes for a real instant near now, though they are not RFC 3339 dates */
function impossibleTimesNear(now: number): string[] {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const mo = String(d.getUTCMonth() + 1).padStart(2, '0');
  const day = String(d.getUTCDate()).padStart(2, '0');
  const ymd = `${y}-${mo}-${day}`;
  const dim = new Date(Date.UTC(y, d.getUTCMonth() + 1, 0)).getUTCDate();
  const hh = String(d.getUTCHours()).padStart(2, '0');
  return [
    `${ymd}T24:00:00Z`,
    `${y}-${mo}-${dim + 1}T${hh}:00:00Z`,
    `${y}-${mo}-00T${hh}:00:00Z`,
    `${ymd}T25:00:00Z`,
    `${ymd}T${hh}:60:00Z`,
    `${ymd}T${hh}:00:61Z`,
    `${ymd}T${hh}:00:00+24:00`,
    `${ymd}T${hh}:00:00+23:60`,
    `${ymd}t${hh}:00:00z`,
    `${ymd} ${hh}:00:00Z`,
    `${ymd}T${hh}:00:00.1234567890Z`,
    `${ymd}T${hh}:00:00`,
  ];
}

function farTimes(now: number): unknown[] {
  return [
    '0001-01-01T00:00:00Z',
    '0000-01-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z',
    '1970-01-01T00:00:00Z',
    iso(now - 86_400_000 - 60_000),
    iso(now + 86_400_000 + 60_000),
    'NaN',
    'Infinity',
    '-Infinity',
    'Invalid Date',
    'null',
    'now',
    '',
    now,
    null,
    [],
  ];
}

const SEQ_BAD: unknown[] = [
  0,
  -1,
  1.5,
  null,
  true,
  '1',
  '',
  [],
  {},
  'NaN',
  1e308,
  -1e308,
  2 ** 53,
  2 ** 53 + 2,
  1e-7,
  new Raw('9007199254740993'),
  new Raw('-0'),
  new Raw('1e400'),
  new Raw('0x10'),
  new Raw('01'),
  new Raw('NaN'),
];

type Built = { value: unknown; good: boolean } | { text: string | Buffer; good: boolean };

/** payload `i` of a run with `seed`, published as node `node` at time `now` */
export function payloadCase(seed: number, i: number, node: string, now: number): PayloadCase {
  const r = new Rng(seed, STREAM.payloads, i);
  const kind = r.weighted<string>([
    [18, 'wrong-type'],
    [8, 'missing'],
    [4, 'huge'],
    [3, 'deep'],
    [6, 'proto'],
    [9, 'time'],
    [7, 'seq'],
    [5, 'bootid'],
    [3, 'type-mismatch'],
    [9, 'data'],
    [4, 'non-utf8'],
    [2, 'bom'],
    [4, 'dup-keys'],
    [8, 'garbage'],
    [6, 'valid'],
    [4, 'ext-time'],
  ]);
  const qos: 0 | 1 = r.chance(0.5) ? 1 : 0;
  const type: EvType = r.chance(0.9) ? r.pick(['greetwatch.door.v1', 'greetwatch.fault.v1'] as const) : r.pick(EVENT_TYPES);
  let sub = kind;
  const ev: Obj = {
    specversion: '1.0',
    id: '',
    source: `/stores/${STORE}/nodes/${node}`,
    type,
    time: iso(now - r.int(2000)),
    bootid: 'fuzz-boot',
    seq: i + 1,
    ...(r.chance(0.3) ? { datacontenttype: 'application/json' } : {}),
    ...(r.chance(0.3) ? { senttime: iso(now) } : {}),
    data: goodData(r, type),
  };
  const setId = (s: string) => (ev.id = `${s}.${seed}.${i}`);
  const bad = (value: unknown): Built => ({ value, good: false });

  const build = (): Built => {
    switch (kind) {
      case 'wrong-type': {
        const field = r.pick([...ENVELOPE_REQUIRED, 'datacontenttype', 'senttime', 'recvtime']);
        sub = `wrong-type:${field}`;
        setId(sub);
        const pool: unknown[] =
          field === 'specversion'
            ? [...WRONG_TYPES, '1.1', '', '1', '1.0 ', ' 1.0', '1.00', 'v1.0', '0.3']
            : field === 'id'
              ? [null, true, 0, 1, [], {}, '', 'x'.repeat(129)]
              : field === 'source'
                ? [null, 1, [], {}, '', `/stores/${STORE}/nodes/other`, `/stores/other/nodes/${node}`, `/stores/${STORE}/nodes/FUZZ`, `/stores/${STORE}/nodes/${node}/`, `/stores/${STORE}/nodes/${node}\u0000`, `/stores/${STORE}/nodes/../${node}`, `stores/${STORE}/nodes/${node}`, 'x'.repeat(257)]
                : field === 'type'
                  ? [null, 1, [], {}, '', 'greetwatch.bogus.v1', 'greetwatch.entry.v2', 'GREETWATCH.ENTRY.V1', `${type} `, 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'x'.repeat(129)]
                  : field === 'time'
                    ? [...farTimes(now), ...impossibleTimesNear(now)]
                    : field === 'bootid'
                      ? [null, 0, [], {}, '', 'b'.repeat(65)]
                      : field === 'seq'
                        ? SEQ_BAD
                        : field === 'data'
                          ? [null, 0, 'x', true, [], [1], 'door']
                          : field === 'datacontenttype'
                            ? [null, 1, '', 'text/plain', 'application/json; charset=utf-8', 'APPLICATION/JSON', []]
                            : [null, 0, '', 'x', [], ...impossibleTimesNear(now)];
        ev[field] = r.pick(pool);
        return bad(ev);
      }
      case 'missing': {
        const inData = r.chance(0.3);
        if (inData) {
          const data = ev.data as Obj;
          const key = r.pick(Object.keys(data).filter((k) => !['staff', 'distanceCm', 'detail'].includes(k)));
          sub = `missing:data-${key}`;
          setId(sub);
          delete data[key];
        } else {
          const key = r.pick(ENVELOPE_REQUIRED);
          sub = `missing:${key}`;
          setId(sub);
          delete ev[key];
        }
        return bad(ev);
      }
      case 'huge': {
        // a length-limited field far over its limit, up to the 64 KiB packet limit
        const fields: Array<[string, number]> = [
          ['id', 128],
          ['source', 256],
          ['type', 128],
          ['bootid', 64],
          ['time', 0],
          ['specversion', 0],
          ['data-sensor', 32],
          ['data-detail', 500],
        ];
        const [field, limit] = r.pick(fields);
        const n = r.pick([limit + 1, 4096, 30_000, 60_000]);
        // limits count characters; a 3-byte one is capped so that the packet stays under 64 KiB
        const s = r.chance(0.2) ? '€'.repeat(Math.min(n, 20_000)) : 'a'.repeat(n);
        sub = `huge:${field}`;
        setId(sub);
        if (field === 'data-detail') {
          ev.type = 'greetwatch.fault.v1';
          ev.data = { sensor: 'beam', kind: 'stuck', detail: s };
        } else if (field === 'data-sensor') {
          ev.type = 'greetwatch.door.v1';
          ev.data = { sensor: s, state: 'open' };
        } else ev[field] = s;
        return bad(ev);
      }
      case 'deep': {
        // 5,000 levels of `[` or `{"a":` (and more, up to the packet limit), wherever they fit
        const n = r.pick([MAX_JSON_DEPTH + 1, 100, 1000, 5000, 5000, 9000]);
        const arr = r.chance(0.5);
        const deep = arr ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '0' + '}'.repeat(n);
        const where = r.pick(['whole', 'data-extra', 'top-extra', 'seq', 'data', 'unclosed'] as const);
        sub = `deep:${where}`;
        setId(sub);
        if (where === 'whole') return { text: deep, good: false };
        if (where === 'unclosed') return { text: arr ? '['.repeat(n) : '{"a":'.repeat(n), good: false };
        if (where === 'data-extra') ev.data = { ...(ev.data as Obj), x: new Raw(deep) };
        else if (where === 'top-extra') ev.x = new Raw(deep);
        else ev[where] = new Raw(deep);
        return bad(ev);
      }
      case 'proto': {
        // own `__proto__` / `constructor` keys at every level: harmless extras are accepted, and must not pollute anything
        const where = r.pick(['top-extra', 'data-extra', 'ext-nested', 'data-only', 'envelope-only', 'sensor-name', 'constructor-top'] as const);
        sub = `proto:${where}`;
        setId(sub);
        const poison = { polluted: 'yes', toString: 'x', ['valueOf']: 1 };
        switch (where) {
          case 'top-extra':
            return { value: withOwn(ev, '__proto__', poison), good: true };
          case 'data-extra':
            ev.data = withOwn({ ...(ev.data as Obj), constructor: { prototype: poison } }, '__proto__', poison);
            return { value: ev, good: true };
          case 'ext-nested':
            ev.ext = withOwn({ constructor: { prototype: poison } }, '__proto__', withOwn({}, '__proto__', poison));
            return { value: ev, good: true };
          case 'constructor-top':
            return { value: withOwn(ev, 'constructor', { prototype: poison }), good: true };
          case 'sensor-name':
            ev.type = 'greetwatch.door.v1';
            ev.data = { sensor: 'constructor', state: 'open' };
            return { value: ev, good: true };
          case 'data-only':
            ev.data = withOwn({}, '__proto__', ev.data);
            return bad(ev);
          case 'envelope-only':
            return bad(withOwn({}, '__proto__', ev));
        }
        return bad(ev);
      }
      case 'time': {
        sub = 'time';
        setId(sub);
        ev.time = r.pick([...farTimes(now), ...impossibleTimesNear(now)]);
        return bad(ev);
      }
      case 'ext-time': {
        // the extensions carry times too: senttime feeds the clock estimate, so it must be as sane as time
        const field = r.pick(['senttime', 'recvtime'] as const);
        sub = `ext-time:${field}`;
        setId(sub);
        ev[field] = r.pick(field === 'senttime' ? [...farTimes(now), ...impossibleTimesNear(now)] : ['x', 0, '', ...impossibleTimesNear(now)]);
        return bad(ev);
      }
      case 'seq': {
        if (r.chance(0.15)) {
          sub = 'seq-ok';
          setId(sub);
          ev.seq = r.pick([Number.MAX_SAFE_INTEGER, 1e15, 1]);
          return { value: ev, good: true };
        }
        sub = 'seq';
        setId(sub);
        ev.seq = r.pick(SEQ_BAD);
        return bad(ev);
      }
      case 'bootid': {
        if (r.chance(0.8)) {
          // a fresh boot id every time: valid, and each one is state the hub keeps
          sub = 'bootid-new';
          setId(sub);
          ev.bootid = `${r.word()}${r.word()}`;
          return { value: ev, good: true };
        }
        sub = 'bootid-bad';
        setId(sub);
        ev.bootid = r.pick([null, 0, [], {}, '', 'b'.repeat(65)]);
        return bad(ev);
      }
      case 'type-mismatch': {
        sub = 'type-mismatch';
        setId(sub);
        const other = r.pick(EVENT_TYPES.filter((t) => t !== 'greetwatch.greet.v1' && t !== 'greetwatch.staffpass.v1' && t !== type));
        // greet data ({button}) never fits a sensor event, and a sensor event's data never has a button
        ev.data = goodData(r, r.pick(['greetwatch.greet.v1', 'greetwatch.staffpass.v1'] as const));
        ev.type = other;
        return bad(ev);
      }
      case 'data': {
        const t = r.pick(EVENT_TYPES);
        sub = `data:${t.split('.')[1] ?? t}`;
        setId(sub);
        ev.type = t;
        ev.data = r.pick(BAD_DATA[t]);
        return bad(ev);
      }
      case 'non-utf8': {
        sub = 'non-utf8';
        setId(sub);
        const text = json(ev);
        // inside the id, after the kind it names (so that an accepted one still says what it was)
        const at = Buffer.byteLength(text.slice(0, text.indexOf(`"id":"`) + 6 + String(ev.id).length));
        const junk = Buffer.from(r.pick([[0xff], [0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe, 0xff]]));
        const b = Buffer.from(text, 'utf8');
        return { text: Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]), good: false };
      }
      case 'bom': {
        sub = 'bom';
        setId(sub);
        const text = json(ev);
        return { text: r.chance(0.7) ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]) : Buffer.from('\ufeff' + text, 'utf16le'), good: false };
      }
      case 'dup-keys': {
        // JSON.parse keeps the last of duplicate keys: the hub judges (and records) that one
        const field = r.pick(['seq', 'specversion', 'data', 'type', 'time'] as const);
        const badValue = field === 'seq' ? 'x' : field === 'specversion' ? '2.0' : field === 'data' ? {} : field === 'type' ? 'nope' : 'yesterday';
        const lastBad = r.chance(0.7);
        sub = `dup-keys:${lastBad ? 'last-bad' : 'first-bad'}`;
        setId(sub);
        const pairs: Array<[string, unknown]> = Object.entries(ev);
        if (lastBad) pairs.push([field, badValue]);
        else pairs.unshift([field, badValue]);
        return { text: json(new Pairs(pairs)), good: !lastBad };
      }
      case 'garbage': {
        setId('garbage');
        const g = r.int(9);
        sub = `garbage:${g}`;
        const text = json(ev);
        switch (g) {
          case 0:
            return { text: r.bytes(r.int(200)), good: false };
          case 1:
            return { text: r.pick(['1', 'null', 'true', '"x"', '[]', '{}', '""', '-0', '1e999']), good: false };
          case 2:
            return { text: text.slice(0, r.int(text.length)), good: false };
          case 3:
            return { text: text + r.pick(['x', '}', ',{}', ']', '\u0000']), good: false };
          case 4:
            return { text: text + '\n' + text, good: false };
          case 5:
            return { text: text.replace('{', '{/* c */'), good: false };
          case 6:
            return { text: text.replace(/"seq":[^,}]+/, '"seq":NaN'), good: false };
          case 7:
            return { text: text.replace(/"/g, "'"), good: false };
          default:
            return { text: '', good: false };
        }
      }
      default: {
        sub = 'valid';
        setId(sub);
        const t = r.pick(EVENT_TYPES);
        ev.type = t;
        ev.data = goodData(r, t);
        return { value: ev, good: true };
      }
    }
  };
  const b = build();
  const bytes = 'value' in b ? Buffer.from(json(b.value), 'utf8') : Buffer.isBuffer(b.text) ? b.text : Buffer.from(b.text, 'utf8');
  return { kind: sub, bytes, good: b.good, qos };
}

/** the kind a valid event's id names (payloadCase ids are `<kind>.<seed>.<i>`) */
const kindOfId = (id: string) => id.split('.')[0] ?? id;

// ---------------------------------------------------------------------------
// the hub in a child process

interface ChildSpec {
  config: StoreConfig;
  dataDir: string;
  guard?: Partial<GuardOptions>;
}

export interface HubStats {
  rss: number;
  /** highest RSS since the last reset (sampled every 50 ms) */
  rssMax: number;
  heapUsed: number;
  rejected: Record<string, Record<string, number>>;
  refusedConnects: Record<string, number>;
  refusedPublishes: number;
  traceFailures: number;
  /** events the ingest accepted (made durable, then on the bus), per node */
  accepted: Record<string, number>;
  /** accepted events of node `fuzz`, by the kind their id names */
  acceptedKinds: Record<string, number>;
  logLines: number;
  logBytes: number;
  /** lines the hub logged at error level or above, and the first few of their messages */
  logErrors: number;
  logErrorSamples: string[];
  /** event loop delay since the last reset, ms */
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  /** Object.prototype untouched */
  prototypeClean: boolean;
  traceBytes: number;
}

type ToChild = { op: 'stats'; id: number; gc: boolean; resetMax: boolean } | { op: 'stop' };
type FromChild =
  | { op: 'ready'; mqttPort: number; httpPort: number }
  | { op: 'stats'; id: number; stats: HubStats }
  | { op: 'fault'; kind: string; message: string }
  | { op: 'stopped' };

const isFromChild = (m: unknown): m is FromChild => typeof m === 'object' && m !== null && typeof (m as { op?: unknown }).op === 'string';

const dirBytes = (dir: string): number => {
  let n = 0;
  try {
    for (const f of fs.readdirSync(dir)) n += fs.statSync(path.join(dir, f)).size;
  } catch {
    // no traces yet
  }
  return n;
};

async function childMain(specFile: string): Promise<void> {
  const send = (m: FromChild, then?: () => void) => {
    if (process.send) process.send(m, undefined, {}, () => then?.());
    else then?.();
  };
  // a fault is reported, never swallowed: the parent fails the run on it
  process.on('unhandledRejection', (reason) => send({ op: 'fault', kind: 'unhandledRejection', message: describeErr(reason) }));
  process.on('uncaughtException', (err) => {
    send({ op: 'fault', kind: 'uncaughtException', message: describeErr(err) }, () => process.exit(70));
  });
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8')) as ChildSpec;
  let logLines = 0;
  let logBytes = 0;
  let logErrors = 0;
  const logErrorSamples: string[] = [];
  // the hub logs at info as in a store, into a counter: the volume of its log is a figure too
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines++;
      logBytes += chunk.length;
      const level = /"level":(\d+)/.exec(chunk.toString('utf8', 0, 40))?.[1];
      if (Number(level) >= 50) {
        logErrors++;
        if (logErrorSamples.length < 5) logErrorSamples.push(chunk.toString('utf8', 0, 600));
      }
      cb();
    },
  });
  const hub = await startHub({
    config: spec.config,
    dataDir: spec.dataDir,
    log: pino({ level: 'info' }, sink),
    store: memoryVisitStore('fuzz: memory only'),
    ...(spec.guard ? { guard: spec.guard } : {}),
  });
  const accepted = new Map<string, number>();
  const kinds = new Map<string, number>();
  hub.ctx.bus.on('event:accepted', ({ event, node }) => {
    accepted.set(node, (accepted.get(node) ?? 0) + 1);
    if (node === 'fuzz') kinds.set(kindOfId(event.id), (kinds.get(kindOfId(event.id)) ?? 0) + 1);
  });
  let rssMax = process.memoryUsage.rss();
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage.rss())), 50);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).join(',');
  const gc = (globalThis as { gc?: () => void }).gc;
  const traces = path.join(spec.dataDir, 'traces');

  const stats = (): HubStats => {
    const m = hub.ctx.metrics;
    const probe: Record<string, unknown> = {};
    return {
      rss: process.memoryUsage.rss(),
      rssMax,
      heapUsed: process.memoryUsage().heapUsed,
      rejected: Object.fromEntries([...m.rejected].map(([node, codes]) => [node, Object.fromEntries(codes)])),
      refusedConnects: Object.fromEntries(m.refusedConnects),
      refusedPublishes: m.refusedPublishes,
      traceFailures: m.traceFailures,
      accepted: Object.fromEntries(accepted),
      acceptedKinds: Object.fromEntries(kinds),
      logLines,
      logBytes,
      logErrors,
      logErrorSamples: [...logErrorSamples],
      loopDelayMaxMs: loop.max / 1e6,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      prototypeClean: Object.getOwnPropertyNames(Object.prototype).join(',') === protoKeys && probe.polluted === undefined && probe.toString === Object.prototype.toString,
      traceBytes: dirBytes(traces),
    };
  };

  process.on('message', (m: unknown) => {
    const msg = m as ToChild;
    if (msg.op === 'stats') {
      if (msg.gc && gc) for (let i = 0; i < 3; i++) gc();
      const s = stats();
      if (msg.resetMax) {
        rssMax = s.rss;
        loop.reset();
      }
      send({ op: 'stats', id: msg.id, stats: s });
    } else if (msg.op === 'stop') {
      clearInterval(sampler);
      loop.disable();
      hub.stop().then(
        () => send({ op: 'stopped' }, () => process.exit(0)),
        (err: unknown) => send({ op: 'fault', kind: 'stop', message: describeErr(err) }, () => process.exit(1)),
      );
    }
  });
  send({ op: 'ready', mqttPort: hub.ctx.runtime.mqttPort ?? 0, httpPort: hub.ctx.runtime.httpPort ?? 0 });
}

/** The hub under test, in its own process. */
export class HubProcess {
  readonly faults: string[] = [];
  exit: { code: number | null; signal: string | null } | null = null;
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (s: HubStats) => void>();
  #next = 1;
  readonly mqttPort: number;
  readonly httpPort: number;

  private constructor(child: ChildProcess, mqttPort: number, httpPort: number) {
    this.#child = child;
    this.mqttPort = mqttPort;
    this.httpPort = httpPort;
    child.on('message', (m: unknown) => {
      if (!isFromChild(m)) return;
      if (m.op === 'stats') {
        this.#waiting.get(m.id)?.(m.stats);
        this.#waiting.delete(m.id);
      } else if (m.op === 'fault') this.faults.push(`${m.kind}: ${m.message}`);
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }
  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }
  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }

  static async start(spec: ChildSpec, dir: string): Promise<HubProcess> {
    const file = path.join(dir, `hub-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(file, JSON.stringify(spec));
    const child = fork(SELF, [CHILD_FLAG, file], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const faults: string[] = [];
    let exit: { code: number | null; signal: string | null } | null = null;
    const ready = await new Promise<{ mqttPort: number; httpPort: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('hub child did not start within 60 s')), 60_000);
      child.on('message', (m: unknown) => {
        if (!isFromChild(m)) return;
        if (m.op === 'ready') {
          clearTimeout(timer);
          resolve(m);
        } else if (m.op === 'fault') faults.push(`${m.kind}: ${m.message}`);
      });
      child.once('exit', (code, signal) => {
        exit = { code, signal };
        clearTimeout(timer);
        reject(new Error(`hub child exited before it was ready (code ${code}, signal ${signal}): ${faults.join('; ')}`));
      });
    });
    const h = new HubProcess(child, ready.mqttPort, ready.httpPort);
    h.faults.push(...faults);
    h.exit = exit;
    child.on('exit', (code, signal) => (h.exit = { code, signal }));
    return h;
  }

  alive(): boolean {
    return this.exit === null && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** the hub's counters; rejects when it does not answer (dead, or its event loop stuck) */
  stats(o: { gc?: boolean; resetMax?: boolean } = {}, timeoutMs = 15_000): Promise<HubStats> {
    if (!this.alive()) return Promise.reject(new Error(`hub is not running (${JSON.stringify(this.exit)})`));
    const id = this.#next++;
    return new Promise<HubStats>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`hub did not answer a stats request within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      const msg: ToChild = { op: 'stats', id, gc: o.gc ?? false, resetMax: o.resetMax ?? false };
      this.#child.send(msg);
    });
  }

  async stop(): Promise<void> {
    if (!this.alive()) return;
    const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
    const msg: ToChild = { op: 'stop' };
    this.#child.send(msg);
    const t = setTimeout(() => this.#child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  }
}

// only when forked as the hub child (never when imported)
if (process.argv[2] === CHILD_FLAG && pathToFileURL(process.argv[1] ?? '').href === import.meta.url) {
  await childMain(process.argv[3]!);
}

// ---------------------------------------------------------------------------
// watching the hub while it is attacked

export interface LatencyFigures {
  n: number;
  failures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const pct = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const latency = (xs: number[], failures: number): LatencyFigures => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: xs.length + failures, failures, p50Ms: pct(s, 50), p99Ms: pct(s, 99), maxMs: s.length ? s[s.length - 1]! : NaN };
};

/** GET /healthz every 100 ms while a phase runs: measured, never asserted on time */
class HealthMonitor {
  readonly #lat: number[] = [];
  #failures = 0;
  /** the request in flight, if any: a sample every 100 ms, never two at once */
  #inFlight: Promise<void> | undefined;
  readonly #timer: NodeJS.Timeout;
  constructor(url: string) {
    const sample = () => {
      this.#inFlight ??= this.#probe(url).finally(() => (this.#inFlight = undefined));
    };
    sample();
    this.#timer = setInterval(sample, 100);
  }
  async #probe(url: string): Promise<void> {
    const t0 = performance.now();
    try {
      const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
      await r.text();
      if (r.ok) this.#lat.push(performance.now() - t0);
      else this.#failures++;
    } catch {
      this.#failures++;
    }
  }
  async stop(): Promise<LatencyFigures> {
    clearInterval(this.#timer);
    await this.#inFlight;
    return latency(this.#lat, this.#failures);
  }

}

/** A dashboard: the live stream stays open for the whole run (a node's status reaches it), and must keep coming */
class StreamWatcher {
  messages = 0;
  ended = false;
  readonly #abort = new AbortController();
  readonly #loop: Promise<void>;
  constructor(url: string) {
    this.#loop = this.#run(url);
  }
  async #run(url: string): Promise<void> {
    try {
      const r = await fetch(`${url}/api/stores/${STORE}/stream`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: this.#abort.signal });
      const reader = r.body?.getReader();
      if (!r.ok || !reader) return;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.messages += (Buffer.from(value).toString('utf8').match(/event: live/g) ?? []).length;
      }
    } catch {
      // aborted at the end, or the hub went away: `ended` tells
    } finally {
      this.ended = true;
    }
  }
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }
}

async function healthzOnce(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
    const body = (await r.json()) as { ok?: unknown };
    return r.ok && body.ok === true;
  } catch {
    return false;
  }
}

async function liveEvents(url: string, node: string): Promise<number | null> {
  try {
    const r = await fetch(`${url}/api/stores/${STORE}/live`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(10_000) });
    if (!r.ok) return null;
    const body = (await r.json()) as { nodes?: Array<{ node: string; events: number }> };
    return body.nodes?.find((n) => n.node === node)?.events ?? 0;
  } catch {
    return null;
  }
}

export interface ProbeResult {
  ok: boolean;
  ms: number;
  detail: string;
}

/** A real node's login on a plain MQTT client (its reserved client id), connected for the whole run. */
class Probe {
  #client: mqtt.MqttClient;
  #seq = 0;
  disconnects = 0;
  private constructor(
    client: mqtt.MqttClient,
    readonly hub: HubProcess,
    readonly cfg: StoreConfig,
  ) {
    this.#client = client;
    client.on('close', () => this.disconnects++);
  }
  static async connect(hub: HubProcess, cfg: StoreConfig): Promise<Probe> {
    return new Probe(await Probe.#open(hub, cfg), hub, cfg);
  }
  static #open(hub: HubProcess, cfg: StoreConfig): Promise<mqtt.MqttClient> {
    return mqtt.connectAsync(hub.mqttUrl, { ...loginAs(cfg, 'probe'), reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 60 });
  }
  /** publishes one valid event and waits until /live counts it */
  async check(): Promise<ProbeResult> {
    const t0 = performance.now();
    const notes: string[] = [];
    if (!this.#client.connected) {
      notes.push('the probe had been disconnected');
      try {
        this.#client.end(true);
        this.#client = await Probe.#open(this.hub, this.cfg);
        this.#client.on('close', () => this.disconnects++);
      } catch (err) {
        return { ok: false, ms: performance.now() - t0, detail: `${notes.join('; ')}; reconnect failed: ${(err as Error).message}` };
      }
    }
    const before = await liveEvents(this.hub.httpUrl, 'probe');
    if (before === null) return { ok: false, ms: performance.now() - t0, detail: '/live did not answer' };
    const seq = ++this.#seq;
    const now = Date.now();
    const ev = {
      specversion: '1.0',
      id: `probe-${now}-${seq}`,
      source: `/stores/${STORE}/nodes/probe`,
      type: 'greetwatch.door.v1',
      time: iso(now),
      bootid: 'probe-boot',
      seq,
      data: { sensor: 'door', state: seq % 2 ? 'open' : 'closed' },
    };
    try {
      // the PUBACK, or its failure, within 15 s
      const pub: { acked: boolean; err?: Error } = { acked: false };
      this.#client.publishAsync(topics.events(STORE, 'probe'), JSON.stringify(ev), { qos: 1 }).then(
        () => (pub.acked = true),
        (err: Error) => (pub.err = err),
      );
      await waitFor(() => pub.acked || pub.err !== undefined, 'the PUBACK', 15_000);
      if (pub.err) throw pub.err;
    } catch (err) {
      return { ok: false, ms: performance.now() - t0, detail: `publish failed: ${(err as Error).message}` };
    }
    try {
      await waitFor(async () => {
        const n = await liveEvents(this.hub.httpUrl, 'probe');
        return n !== null && n > before;
      }, 'the probe event counted in /live', 15_000, 50);
    } catch {
      return { ok: false, ms: performance.now() - t0, detail: `${notes.join('; ')} event not counted in /live within 15 s`.trim() };
    }
    return { ok: true, ms: performance.now() - t0, detail: notes.join('; ') || 'accepted' };
  }
  async end(): Promise<void> {
    await this.#client.endAsync(true);
  }
}

// ---------------------------------------------------------------------------
// phase 1: packets at the listener, over many short connections

type CloseMode = 'end' | 'reset' | 'wait';
export interface ConnPlan {
  scenario: string;
  first: Buffer;
  /** send `rest` only once the CONNACK came (else pipelined right after `first`) */
  waitConnack: boolean;
  /** `first` is a valid CONNECT with a good login: a CONNACK 0 must come */
  expectAccept: boolean;
  /** `first` is a valid MQTT 5 CONNECT with a good login */
  v5Valid: boolean;
  rest: Buffer[];
  close: CloseMode;
  packets: number;
}

/** one of the broker's packets with one thing wrong (or, sometimes, nothing) */
function mutate(r: Rng, p: Buffer): { bytes: Buffer; how: string } {
  const how = r.weighted<string>([
    [3, 'none'],
    [3, 'flip'],
    [2, 'truncate'],
    [2, 'relen'],
    [1, 'retype'],
    [1, 'reflag'],
    [1, 'append'],
  ]);
  const b = Buffer.from(p);
  switch (how) {
    case 'flip': {
      const n = r.range(1, 4);
      for (let k = 0; k < n; k++) {
        const i = r.int(b.length);
        b[i] = b[i]! ^ r.range(1, 255);
      }
      return { bytes: b, how };
    }
    case 'truncate':
      return { bytes: b.subarray(0, r.int(b.length)), how };
    case 'relen': {
      // a remaining length that lies: off by one, zero, just over the 64 KiB limit, the MQTT maximum, or random
      let i = 1;
      while (i < b.length && i < 5 && b[i]! & 0x80) i++;
      const body = b.subarray(i + 1);
      const len = r.pick([0, 1, body.length - 1, body.length + 1, 65_535, 65_537, 268_435_455, r.int(1 << 21)]);
      const lenBytes = r.chance(0.1) ? Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]) : varint(Math.max(0, len));
      return { bytes: Buffer.concat([b.subarray(0, 1), lenBytes, body]), how };
    }
    case 'retype':
      b[0] = (r.int(16) << 4) | (b[0]! & 0x0f);
      return { bytes: b, how };
    case 'reflag':
      b[0] = (b[0]! & 0xf0) | r.int(16);
      return { bytes: b, how };
    case 'append':
      return { bytes: Buffer.concat([b, r.bytes(r.range(1, 64))]), how };
    default:
      return { bytes: b, how };
  }
}

function randomPacket(r: Rng): Buffer {
  const body = r.bytes(r.pick([0, 1, 2, 5, 16, 100, r.int(2000)]));
  const first = r.int(256);
  return r.chance(0.7) ? packet(first, body) : Buffer.concat([Buffer.from([first]), varint(r.int(1 << 20)), body]);
}

const V5_BAD_PROPS = [
  Buffer.from([0x21, 0x00, 0x00]), // receive maximum 0
  Buffer.from([0x27, 0, 0, 0, 0]), // maximum packet size 0
  Buffer.from([0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2]), // session expiry twice
  Buffer.from([0x15, 0x00, 0x04, 0x78, 0x78, 0x78, 0x78]), // authentication method (enhanced auth)
  Buffer.from([0x22, 0xff, 0xff]), // topic alias maximum 65535
  Buffer.from([0x26, 0x00, 0x01, 0x61, 0x00]), // user property cut short
  Buffer.from([0x7f]),
];

function afterConnectPacket(r: Rng, seed: number, index: number, k: number, v5: boolean): Buffer {
  const id = r.pick([0, 1, r.range(1, 65535)]);
  const kind = r.weighted<string>([
    [10, 'publish-own'],
    [4, 'publish-other'],
    [2, 'publish-status'],
    [5, 'subscribe'],
    [2, 'unsubscribe'],
    [3, 'ping'],
    [3, 'acks'],
    [1, 'connect-again'],
    [1, 'disconnect'],
    [1, 'auth'],
    [1, 'reserved'],
    [2, 'random'],
  ]);
  switch (kind) {
    case 'publish-own': {
      const c = payloadCase(seed, (index * 64 + k) | 0, 'pk', Date.now());
      return publishPacket(topics.events(STORE, 'pk'), c.bytes, r.pick([0, 1, 1, 2, 3]), id, { v5, dup: r.chance(0.1), retain: r.chance(0.1) });
    }
    case 'publish-other': {
      const topic = r.pick<string | Buffer>([
        topics.events(STORE, 'probe'),
        topics.events('other', 'pk'),
        topics.visits(STORE),
        topics.config(STORE, 'pk'),
        '$SYS/broker/x',
        'a/+/b',
        '#',
        '',
        'greetwatch/v1/fz/pk/events\u0000',
        Buffer.from([0x67, 0xff, 0xfe]),
        'a/'.repeat(200),
        'x'.repeat(r.pick([100, 4000])),
      ]);
      return publishPacket(topic, r.bytes(r.int(64)), r.pick([0, 1]), id, { v5 });
    }
    case 'publish-status': {
      const online = { state: 'online', bootid: 'b', fw: 'f', cfghash: 'h', time: iso(Date.now()) };
      const deep = '['.repeat(5000) + ']'.repeat(5000);
      // a status is judged like an event, and parts of it reach /live: a deep extra in `clock` must not get that far
      const text = r.pick(['{"state":"offline"}', '{"state":"online"}', '{', 'null', JSON.stringify(online), json({ ...online, clock: { sync: 'synced', source: 'chrony', x: new Raw(deep) } }), json({ ...online, x: new Raw(deep) })]);
      return publishPacket(topics.status(STORE, 'pk'), Buffer.from(text), r.pick([0, 1]), id, { v5, retain: r.chance(0.5) });
    }
    case 'subscribe': {
      const subs = r.pick<Array<{ topic: string | Buffer; qos: number }>>([
        [],
        [{ topic: topics.config(STORE, 'pk'), qos: 1 }],
        [{ topic: topics.cmd(STORE, 'pk'), qos: 3 }],
        [{ topic: '#', qos: 1 }],
        [{ topic: '$SYS/#', qos: 0 }],
        [{ topic: '$share/g/#', qos: 1 }],
        [{ topic: '', qos: 0 }],
        [{ topic: Buffer.from([0xc3, 0x28]), qos: 0 }],
        Array.from({ length: 100 }, (_, i) => ({ topic: `greetwatch/v1/${STORE}/n${i}/events`, qos: 1 })),
      ]);
      return subscribePacket(id, subs, v5, r.chance(0.1) ? 0x80 : 0x82);
    }
    case 'unsubscribe':
      return unsubscribePacket(id, r.pick([[], ['#'], [topics.config(STORE, 'pk')], ['']]), v5);
    case 'ping':
      return r.chance(0.8) ? PINGREQ : packet(0xc0, r.bytes(r.range(1, 8)));
    case 'acks':
      return ackPacket(r.pick([0x40, 0x50, 0x62, 0x70]), id);
    case 'connect-again':
      return connectPacket({ clientId: `again-${r.word()}`, username: 'pk', password: password('pk') });
    case 'disconnect':
      return r.chance(0.5) ? DISCONNECT : packet(0xe0, r.bytes(r.range(1, 4)));
    case 'auth':
      return packet(0xf0, r.bytes(r.int(8)));
    case 'reserved':
      return packet(0x00, r.bytes(r.int(8)));
    default:
      return randomPacket(r);
  }
}

function oddConnect(r: Rng): { bytes: Buffer; how: string } {
  const v5 = r.chance(0.3);
  const f: ConnectFields = { name: 'MQTT', level: v5 ? 5 : 4, keepalive: 60, clientId: `odd-${r.word()}` };
  const hows: string[] = [];
  const n = r.range(1, 3);
  for (let k = 0; k < n; k++) {
    const how = r.pick(['name', 'level', 'flags', 'keepalive', 'client-id', 'login', 'will', 'props', 'mqisdp']);
    hows.push(how);
    switch (how) {
      case 'name':
        f.name = r.pick<string | Buffer>(['MQIsdp', 'mqtt', 'MQT', 'MQTTT', '', 'MQTT\u0000', 'M'.repeat(r.pick([256, 4096, 30_000])), r.bytes(r.int(16)), Buffer.from([0xff, 0xfe])]);
        break;
      case 'level':
        f.level = r.pick([0, 1, 2, 3, 6, 7, 127, 128, 255, r.int(256)]);
        break;
      case 'flags':
        f.flags = r.chance(0.5) ? r.int(256) : 0x03; // the reserved bit set
        break;
      case 'keepalive':
        f.keepalive = r.pick([0, 1, 301, 65_535]);
        break;
      case 'client-id':
        f.clientId = r.pick<string | Buffer>(['c'.repeat(r.pick([24, 1024, 60_000])), '', Buffer.from([0xff, 0xc0, 0x80]), 'a/b', '#', '+', 'gw-fz-probe', `gw-${STORE}-probe`, '__proto__', 'constructor', 'x\u0000y']);
        if (f.clientId === '') f.flags = 0x00; // an empty id without a clean session
        break;
      case 'login':
        switch (r.int(6)) {
          case 0:
            f.flags = 0x82; // a user name flag, and no user name
            break;
          case 1:
            f.password = 'only-a-password'; // MQTT 3.1.1 forbids a password without a user name
            break;
          case 2:
            f.username = 'u'.repeat(r.pick([65_000, 4000]));
            f.password = 'x';
            break;
          case 3:
            f.username = Buffer.from([0xff, 0xfe, 0x00]);
            f.password = 'x';
            break;
          case 4:
            f.username = 'pk';
            f.password = password('pk');
            f.clientId = `gw-${STORE}-probe`; // the probe's reserved id with another login: refused, must not kick the probe
            break;
          default:
            f.username = 'nobody';
            f.password = 'x';
        }
        break;
      case 'will':
        f.will = { topic: r.pick(['a/+/#', topics.status(STORE, 'probe'), '', '$SYS/x']), payload: r.bytes(r.pick([0, 10, 3000])) };
        f.flags = r.pick([0x1e, 0x3e, 0x06, 0x02 | 0x18]);
        break;
      case 'props':
        f.level = 5;
        f.props = r.chance(0.5) ? r.pick(V5_BAD_PROPS) : r.bytes(r.int(40));
        break;
      case 'mqisdp':
        f.name = 'MQIsdp';
        f.level = 3;
        break;
    }
  }
  return { bytes: connectPacket(f), how: hows.join('+') };
}

/** connection `index` of a run with `seed` */
export function connectionPlan(seed: number, index: number): ConnPlan {
  const r = new Rng(seed, STREAM.packets, index);
  const scenario = r.weighted<string>([
    [8, 'garbage'],
    [10, 'random-packets'],
    [22, 'odd-connect'],
    [10, 'before-connect'],
    [42, 'valid-then-mutated'],
    [3, 'login-refused'],
    [5, 'half-connect'],
  ]);
  const close = r.weighted<CloseMode>([
    [6, 'end'],
    [2, 'reset'],
    [2, 'wait'],
  ]);
  const plan = (name: string, first: Buffer, rest: Buffer[] = [], waitConnack = false, expectAccept = false, v5Valid = false): ConnPlan => ({
    scenario: name,
    first,
    rest,
    waitConnack,
    expectAccept,
    v5Valid,
    close,
    packets: 1 + rest.length,
  });
  switch (scenario) {
    case 'garbage':
      return plan(scenario, r.bytes(r.range(1, r.chance(0.9) ? 256 : 4096)));
    case 'random-packets':
      return plan(scenario, randomPacket(r), Array.from({ length: r.int(6) }, () => randomPacket(r)));
    case 'odd-connect': {
      const c = oddConnect(r);
      const m = r.chance(0.3) ? mutate(r, c.bytes) : { bytes: c.bytes, how: 'none' };
      const rest = Array.from({ length: r.int(4) }, (_, k) => mutate(r, afterConnectPacket(r, seed, index, k, false)).bytes);
      return plan(`${scenario}:${c.how}${m.how === 'none' ? '' : `/${m.how}`}`, m.bytes, rest, r.chance(0.5));
    }
    case 'before-connect': {
      // PUBLISH, SUBSCRIBE with no topics, PINGREQ… before any CONNECT
      const v5 = r.chance(0.3);
      const k = r.int(64);
      const pre = r.pick([
        () => publishPacket(topics.events(STORE, 'pk'), Buffer.from('{}'), 1, 1),
        () => subscribePacket(1, [], v5),
        () => PINGREQ,
        () => DISCONNECT,
        () => ackPacket(0x40, 1),
        () => afterConnectPacket(r, seed, index, k, v5),
      ])();
      return plan(scenario, pre, Array.from({ length: r.int(3) }, (_, j) => afterConnectPacket(r, seed, index, k + j + 1, v5)));
    }
    case 'login-refused': {
      const which = r.weighted<string>([
        [8, 'unknown-user'],
        [1, 'wrong-password'],
        [1, 'reserved-id'],
      ]);
      const f: ConnectFields =
        which === 'unknown-user'
          ? { clientId: `nobody-${r.word()}`, username: `nobody-${r.word()}`, password: 'x' }
          : which === 'wrong-password'
            ? { clientId: `guess-${r.word()}`, username: 'pk', password: r.word() } // costs the hub a scrypt: kept rare
            : { clientId: `gw-${STORE}-probe`, username: 'pk', password: password('pk') };
      return plan(`${scenario}:${which}`, connectPacket(f), r.chance(0.5) ? [publishPacket(topics.events(STORE, 'pk'), Buffer.from('{}'), 0, 0)] : [], true);
    }
    case 'half-connect': {
      const c = connectPacket({ clientId: `half-${r.word()}`, username: 'pk', password: password('pk') });
      return plan(scenario, c.subarray(0, r.range(1, c.length - 1)));
    }
    default: {
      const v5 = r.chance(0.3);
      const first = connectPacket({ level: v5 ? 5 : 4, clientId: `fz-${r.word()}`, username: 'pk', password: password('pk'), keepalive: 60 });
      const n = r.range(1, 15);
      const rest: Buffer[] = [];
      const hows: string[] = [];
      for (let k = 0; k < n; k++) {
        const m = r.chance(0.5) ? mutate(r, afterConnectPacket(r, seed, index, k, v5)) : { bytes: afterConnectPacket(r, seed, index, k, v5), how: 'none' };
        rest.push(m.bytes);
        hows.push(m.how);
      }
      const wait = r.chance(0.7);
      // aedes speaks MQTT 3.1 and 3.1.1 only: a valid MQTT 5 CONNECT is counted apart, not expected to get in
      return plan(`${scenario}${v5 ? ':v5' : ''}`, first, rest, wait, wait && !v5, wait && v5);
    }
  }
}

export interface PacketFigures {
  connections: number;
  packets: number;
  bytes: number;
  /** CONNACK return/reason codes seen */
  connack: Record<string, number>;
  /** connections the hub closed first */
  serverClosed: number;
  resets: number;
  /** connections the hub kept open after our FIN: destroyed by us after 5 s */
  lingered: number;
  /** valid CONNECTs with a good login that got no CONNACK 0 */
  validRefused: number;
  /** valid MQTT 5 CONNECTs with a good login, and the CONNACK codes they got */
  v5Connack: Record<string, number>;
  validRefusedSamples: string[];
  connectMs: LatencyFigures;
  /** how long connections lasted, open to close */
  durationMs: LatencyFigures;
  stoppedAtDeadline: boolean;
  elapsedMs: number;
}

function runPlan(port: number, plan: ConnPlan, f: PacketFigures, connectMs: number[], durations: number[]): Promise<void> {
  return new Promise<void>((resolve) => {
    const opened = performance.now();
    const s = net.connect({ port, host: '127.0.0.1' });
    const reader = new PacketReader();
    let connack: number | undefined;
    let sentRest = false;
    let weClosed = false;
    let t0 = 0;
    const timers: NodeJS.Timeout[] = [];
    const later = (ms: number, fn: () => void) => timers.push(setTimeout(fn, ms));
    const closeOurSide = () => {
      if (weClosed || s.destroyed) return;
      weClosed = true;
      if (plan.close === 'reset') {
        s.resetAndDestroy();
        return;
      }
      s.end();
      later(5000, () => {
        if (!s.destroyed) {
          f.lingered++;
          s.destroy();
        }
      });
    };
    const sendRest = () => {
      if (sentRest || s.destroyed) return;
      sentRest = true;
      for (const b of plan.rest) {
        s.write(b);
        f.bytes += b.length;
      }
      if (plan.close === 'wait') later(300, closeOurSide);
      else if (plan.close === 'reset') s.write(Buffer.alloc(0), () => closeOurSide());
      else closeOurSide();
    };
    s.setNoDelay(true);
    s.on('connect', () => {
      t0 = performance.now();
      s.write(plan.first);
      f.bytes += plan.first.length;
      // a CONNECT that is valid must be answered; an odd one may leave the broker waiting for bytes that never come
      if (plan.waitConnack) later(plan.expectAccept ? 5000 : 500, sendRest);
      else sendRest();
    });
    s.on('data', (d: Buffer) => {
      for (const p of reader.push(d)) {
        if (p.type !== 2 || connack !== undefined) continue;
        connack = p.body[1] ?? -1;
        f.connack[String(connack)] = (f.connack[String(connack)] ?? 0) + 1;
        if (plan.expectAccept && connack === 0) connectMs.push(performance.now() - t0);
        if (plan.v5Valid) f.v5Connack[String(connack)] = (f.v5Connack[String(connack)] ?? 0) + 1;
        if (plan.waitConnack) sendRest();
      }
    });
    s.on('end', () => {
      if (!weClosed) f.serverClosed++;
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') f.resets++;
    });
    s.on('close', () => {
      for (const t of timers) clearTimeout(t);
      durations.push(performance.now() - opened);
      if (plan.expectAccept && connack !== 0) {
        f.validRefused++;
        if (f.validRefusedSamples.length < 5) f.validRefusedSamples.push(`${plan.scenario}: CONNACK ${connack ?? 'none'}`);
      }
      resolve();
    });
  });
}

export async function packetPhase(hub: HubProcess, seed: number, budget: number, deadline: number, lanes = 32): Promise<PacketFigures> {
  const f: PacketFigures = {
    connections: 0,
    packets: 0,
    bytes: 0,
    connack: {},
    serverClosed: 0,
    resets: 0,
    lingered: 0,
    validRefused: 0,
    v5Connack: {},
    validRefusedSamples: [],
    connectMs: latency([], 0),
    durationMs: latency([], 0),
    stoppedAtDeadline: false,
    elapsedMs: 0,
  };
  const connectMs: number[] = [];
  const durations: number[] = [];
  const t0 = performance.now();
  let next = 0;
  const take = (): ConnPlan | null => {
    if (f.packets >= budget) return null;
    if (Date.now() > deadline) {
      f.stoppedAtDeadline = true;
      return null;
    }
    const p = connectionPlan(seed, next++);
    f.connections++;
    f.packets += p.packets;
    return p;
  };
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      for (let p = take(); p && hub.alive(); p = take()) await runPlan(hub.mqttPort, p, f, connectMs, durations);
    }),
  );
  f.connectMs = latency(connectMs, 0);
  f.durationMs = latency(durations, 0);
  f.elapsedMs = performance.now() - t0;
  return f;
}

// ---------------------------------------------------------------------------
// phase 2: malformed payloads from a logged-in node on its own events topic

/** A bare MQTT 3.1.1 publisher: QoS 0 and 1, pipelined; knows which publishes the hub has surely read. */
class RawPublisher {
  readonly #s: net.Socket;
  readonly #reader = new PacketReader();
  readonly #pending = new Map<number, { k: number; good: number; bad: number; resolve: (acked: boolean) => void }>();
  #nextId = 1;
  #k = 0;
  /** publishes sent, good and bad */
  good = 0;
  bad = 0;
  /** of those, how many the hub surely read: everything up to the last acknowledged QoS 1 */
  confirmedGood = 0;
  confirmedBad = 0;
  #confirmedK = 0;
  closed = false;
  readonly #waiters: Array<() => void> = [];

  private constructor(s: net.Socket) {
    this.#s = s;
    s.setNoDelay(true);
    s.on('data', (d: Buffer) => {
      for (const p of this.#reader.push(d)) {
        if (p.type !== 4 || p.body.length < 2) continue;
        const id = p.body.readUInt16BE(0);
        const e = this.#pending.get(id);
        if (!e) continue;
        this.#pending.delete(id);
        // the broker handles a client's packets in order: all before this one were read
        if (e.k > this.#confirmedK) {
          this.#confirmedK = e.k;
          this.confirmedGood = e.good;
          this.confirmedBad = e.bad;
        }
        e.resolve(true);
      }
      this.#wake();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      this.closed = true;
      for (const e of this.#pending.values()) e.resolve(false);
      this.#pending.clear();
      this.#wake();
    });
    s.on('drain', () => this.#wake());
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  static open(port: number, clientId: string, username: string, pw: string): Promise<RawPublisher> {
    return new Promise<RawPublisher>((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      const reader = new PacketReader();
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error('no CONNACK within 10 s'));
      }, 10_000);
      const onData = (d: Buffer) => {
        for (const p of reader.push(d)) {
          if (p.type !== 2) continue;
          clearTimeout(timer);
          s.off('data', onData);
          if (p.body[1] !== 0) {
            s.destroy();
            reject(new Error(`CONNACK ${p.body[1]}`));
          } else resolve(new RawPublisher(s));
          return;
        }
      };
      s.on('data', onData);
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      s.on('connect', () => s.write(connectPacket({ clientId, username, password: pw, keepalive: 120 })));
    });
  }

  get inflight(): number {
    return this.#pending.size;
  }

  publish(topic: string, c: PayloadCase): void {
    const k = ++this.#k;
    if (c.good) this.good++;
    else this.bad++;
    if (c.qos === 0) {
      this.#s.write(publishPacket(topic, c.bytes, 0, 0));
      return;
    }
    let id = this.#nextId;
    while (this.#pending.has(id)) id = (id % 65535) + 1;
    this.#nextId = (id % 65535) + 1;
    this.#pending.set(id, { k, good: this.good, bad: this.bad, resolve: () => undefined });
    this.#s.write(publishPacket(topic, c.bytes, 1, id));
  }

  /** waits until fewer than `n` QoS 1 publishes are unacknowledged and the socket takes more; false on a stall */
  async room(n: number, stallMs: number): Promise<boolean> {
    const deadline = Date.now() + stallMs;
    while (!this.closed && (this.#pending.size >= n || this.#s.writableNeedDrain)) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 1000));
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }

  destroy(): void {
    this.#s.destroy();
  }
  end(): Promise<void> {
    return new Promise<void>((r) => {
      if (this.closed) return r();
      this.#s.once('close', () => r());
      this.#s.end(DISCONNECT);
      setTimeout(() => this.#s.destroy(), 5000).unref();
    });
  }
}

export interface PayloadFigures {
  sent: number;
  good: number;
  bad: number;
  qos1: number;
  /** publishes the hub surely read (QoS 1 acknowledged, or QoS 0 before an acknowledged QoS 1) */
  confirmed: number;
  /** connections that closed while we published (the hub should never close them) */
  closes: number;
  /** QoS 1 publishes left without a PUBACK for 15 s: the connection is dropped and counted here */
  stalls: number;
  byKind: Record<string, number>;
  stoppedAtDeadline: boolean;
  elapsedMs: number;
  /** what the hub counted for node `fuzz` during the phase */
  rejected: Record<string, number>;
  rejectedTotal: number;
  accepted: number;
  /** accepted kinds this run expected to be rejected */
  badAccepted: Record<string, number>;
  /** the rejects and accepts add up to the publishes the hub surely read, and each went the expected way */
  balanced: boolean;
  balanceDetail: string;
}

const sumValues = (o: Record<string, number> | undefined) => Object.values(o ?? {}).reduce((a, b) => a + b, 0);
const diffCounts = (after: Record<string, number> | undefined, before: Record<string, number> | undefined): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after ?? {})) {
    const d = v - (before?.[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
};

export async function payloadPhase(hub: HubProcess, seed: number, budget: number, deadline: number, clients = 4, window = 32): Promise<PayloadFigures> {
  const before = await hub.stats();
  const t0 = performance.now();
  const topic = topics.events(STORE, 'fuzz');
  const byKind: Record<string, number> = {};
  const goodKinds = new Set<string>();
  let next = 0;
  let qos1 = 0;
  let closes = 0;
  let stalls = 0;
  let stoppedAtDeadline = false;
  const totals = { good: 0, bad: 0, confirmedGood: 0, confirmedBad: 0 };
  const settle = (p: RawPublisher) => {
    totals.good += p.good;
    totals.bad += p.bad;
    totals.confirmedGood += p.confirmedGood;
    totals.confirmedBad += p.confirmedBad;
  };
  await Promise.all(
    Array.from({ length: clients }, async (_, lane) => {
      let gen = 0;
      const open = () => RawPublisher.open(hub.mqttPort, `fuzz-${lane}-${gen++}`, 'fuzz', password('fuzz'));
      let pub = await open();
      for (;;) {
        if (next >= budget) break;
        if (Date.now() > deadline) {
          stoppedAtDeadline = true;
          break;
        }
        const i = next++;
        // the last publish of each lane is QoS 1: its PUBACK confirms every QoS 0 before it
        const c = payloadCase(seed, i, 'fuzz', Date.now());
        if (i >= budget - clients) c.qos = 1;
        byKind[c.kind] = (byKind[c.kind] ?? 0) + 1;
        if (c.good) goodKinds.add(c.kind.split(':')[0]!);
        if (c.qos === 1) qos1++;
        pub.publish(topic, c);
        if (!(await pub.room(window, 15_000))) {
          stalls += pub.inflight;
          pub.destroy();
        }
        if (pub.closed) {
          closes++;
          settle(pub);
          if (!hub.alive()) return;
          pub = await open();
        }
      }
      if (!(await pub.room(1, 15_000))) {
        stalls += pub.inflight;
        pub.destroy();
      }
      const wasClosed = pub.closed;
      await pub.end();
      if (wasClosed) closes++;
      settle(pub);
    }),
  );
  const elapsedMs = performance.now() - t0;
  const sent = totals.good + totals.bad;
  const confirmed = totals.confirmedGood + totals.confirmedBad;
  // accepted events are counted once their trace line is durable: give the last ones a moment
  let after = await hub.stats();
  const count = (s: HubStats) => ({ rej: sumValues(s.rejected.fuzz) - sumValues(before.rejected.fuzz), acc: (s.accepted.fuzz ?? 0) - (before.accepted.fuzz ?? 0) });
  try {
    await waitFor(
      async () => {
        after = await hub.stats();
        return count(after).rej + count(after).acc >= confirmed;
      },
      'every confirmed publish counted',
      10_000,
      100,
    );
  } catch {
    // fewer counted than confirmed: the check below says by how many
  }
  const { rej, acc } = count(after);
  const kindsAccepted = diffCounts(after.acceptedKinds, before.acceptedKinds);
  const badAccepted = Object.fromEntries(Object.entries(kindsAccepted).filter(([k]) => !goodKinds.has(k) && !goodKinds.has(k.split(':')[0]!)));
  const exact = confirmed === sent;
  const balanced = exact
    ? rej === totals.bad && acc === totals.good
    : rej >= totals.confirmedBad && rej <= totals.bad && acc >= totals.confirmedGood && acc <= totals.good;
  return {
    sent,
    good: totals.good,
    bad: totals.bad,
    qos1,
    confirmed,
    closes,
    stalls,
    byKind,
    stoppedAtDeadline,
    elapsedMs,
    rejected: diffCounts(after.rejected.fuzz, before.rejected.fuzz),
    rejectedTotal: rej,
    accepted: acc,
    badAccepted,
    balanced,
    balanceDetail: `rejected ${rej} of ${totals.bad} malformed (${totals.confirmedBad} surely read); accepted ${acc} of ${totals.good} valid (${totals.confirmedGood} surely read)`,
  };
}

// ---------------------------------------------------------------------------
// phase 3: bad HTTP parameters and headers

type HttpExpect = 'bad-param' | 'no-auth' | 'not-found' | 'ok' | 'sse' | 'any';
export interface HttpCase {
  kind: string;
  bytes: Buffer;
  expect: HttpExpect;
  /** for bad-param: the parameter the 400 must name */
  param?: 'from' | 'to';
}

const request = (method: string, target: string, headers: ReadonlyArray<readonly [string, string | Buffer]> = [], body?: Buffer): Buffer =>
  Buffer.concat([
    Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`, 'latin1'),
    ...headers.map(([k, v]) => Buffer.concat([Buffer.from(`${k}: `, 'latin1'), typeof v === 'string' ? Buffer.from(v, 'latin1') : v, Buffer.from('\r\n')])),
    Buffer.from(body ? `Content-Length: ${body.length}\r\n\r\n` : '\r\n', 'latin1'),
    ...(body ? [body] : []),
  ]);
const AUTH = ['Authorization', `Bearer ${TOKEN}`] as const;

function badTimeValue(r: Rng): string {
  const raw = r.pick<string | (() => string)>([
    '',
    ' ',
    'x',
    'null',
    'undefined',
    'NaN',
    'Infinity',
    '-1',
    '0',
    '1e309',
    () => '9'.repeat(r.pick([50, 2000, 7000])),
    '2026-13-01',
    '2026-02-30',
    '0000-01-01',
    '0001-01-01',
    '99999-01-01',
    '2026-11-23T25:00',
    '2026-11-23T09:60',
    '2026-11-23T09:00:00+99:99',
    '2026-11-23T09:00:00+24:00',
    () => `2026-11-23T09:00:00.${'9'.repeat(r.pick([20, 3000]))}`,
    '2026-11-23T09:00:00.Z',
    () => r.bytes(r.range(1, 40)).toString('latin1'),
    '\u0000',
    '２０２６-１１-２３',
    '2026-11-23\u202e',
    '<script>alert(1)</script>',
    '../../etc/passwd',
    "'; DROP TABLE visits; --",
  ]);
  return typeof raw === 'function' ? raw() : raw;
}

/** request `i` of a run with `seed` */
export function httpCase(seed: number, i: number): HttpCase {
  const r = new Rng(seed, STREAM.http, i);
  const kind = r.weighted<string>([
    [35, 'bad-param'],
    [8, 'unknown-store'],
    [8, 'traversal'],
    [2, 'big-header'],
    [20, 'bad-token'],
    [10, 'method'],
    [7, 'garbage'],
    [1, 'sse'],
    [9, 'valid'],
  ]);
  const report = `/api/stores/${STORE}/report`;
  switch (kind) {
    case 'bad-param': {
      const which = r.pick(['from', 'to', 'both', 'array', 'order', 'span', 'raw'] as const);
      const good = '2026-11-23';
      const enc = encodeURIComponent;
      let q: string;
      let param: 'from' | 'to' = 'from';
      switch (which) {
        case 'from':
          q = `from=${enc(badTimeValue(r))}&to=${good}`;
          break;
        case 'to':
          q = `from=${good}&to=${enc(badTimeValue(r))}`;
          param = 'to';
          break;
        case 'both':
          q = `from=${enc(badTimeValue(r))}&to=${enc(badTimeValue(r))}`;
          break;
        case 'array':
          q = r.chance(0.5) ? `from=${good}&from=2026-11-24&to=2026-11-25` : `from[]=${good}&to=2026-11-25`;
          break;
        case 'order':
          q = `from=2026-11-24&to=${r.pick(['2026-11-24', '2026-11-23', '2026-11-23T23:59:59Z'])}`;
          param = 'to';
          break;
        case 'span':
          // at most ten years (README "HTTP API")
          q = `from=2016-01-01&to=${r.pick(['2026-02-06', '9999-12-31', '2099-01-01T00:00:00Z'])}`;
          param = 'to';
          break;
        default:
          // escapes that do not decode to UTF-8, or do not decode at all
          q = `from=${r.pick(['%ff%fe', '%', '%zz', '%00', '%c0%ae', '%e2%80'])}&to=${good}`;
      }
      if (which === 'both' || which === 'from') {
        // a bad `from` is reported first
        param = 'from';
      }
      return { kind: `bad-param:${which}`, bytes: request('GET', `${report}?${q}`, [AUTH]), expect: 'bad-param', param };
    }
    case 'unknown-store': {
      const s = r.pick(['other', 'FZ', 'fz%20', 'fz%2f..', '..', '%2e%2e', 'a'.repeat(300), '__proto__', 'constructor', 'fz%00', 'toString']);
      return { kind, bytes: request('GET', `/api/stores/${s}/${r.pick(['live', 'report?from=2026-11-23&to=2026-11-24', 'stream'])}`, [AUTH]), expect: 'not-found' };
    }
    case 'traversal': {
      const p = r.pick([
        '/../../../../etc/passwd',
        '/assets/../../package.json',
        '/assets/..%2f..%2fpackage.json',
        '/%2e%2e/%2e%2e/etc/passwd',
        `/api/stores/${STORE}/../../../etc/passwd`,
        '/floor/../../hub/hub.ts',
        '//etc/passwd',
        '/\\..\\..\\package.json',
        '/assets/floor.js/../../package.json',
        `/api/stores/${STORE}/live/%2e%2e`,
        '/assets/%c0%ae%c0%ae/package.json',
        '/assets/....//....//package.json',
        '/dashboard/floor.ts',
        '/node_modules/.package-lock.json',
      ]);
      return { kind, bytes: request('GET', p, r.chance(0.5) ? [AUTH] : []), expect: 'any' };
    }
    case 'big-header': {
      // a 1 MB header, or a few thousand small ones
      const big = r.chance(0.5);
      const headers: Array<[string, string]> = big ? [['X-Big', 'a'.repeat(1 << 20)]] : Array.from({ length: 3000 }, (_, k) => [`X-H${k}`, 'v']);
      return { kind: `big-header:${big ? '1MB' : 'many'}`, bytes: request('GET', r.pick(['/healthz', `/api/stores/${STORE}/live`]), [AUTH, ...headers]), expect: 'any' };
    }
    case 'bad-token': {
      const target = r.pick([`/api/stores/${STORE}/live`, `${report}?from=2026-11-23&to=2026-11-24`, `/api/stores/${STORE}/stream`]);
      const which = r.int(13);
      const headers: Array<readonly [string, string | Buffer]> = [];
      let t = target;
      let expect: HttpExpect = 'no-auth';
      switch (which) {
        case 0:
          headers.push(['Authorization', Buffer.from(`Bearer tökén✓-${'é'.repeat(r.int(30))}`, 'utf8')]);
          break;
        case 1:
          headers.push(['Authorization', Buffer.concat([Buffer.from('Bearer '), r.bytes(r.range(1, 64)).map((b) => 0x80 | b)])]);
          break;
        case 2:
          headers.push(['Authorization', `Bearer ${'A'.repeat(r.pick([100, 8000]))}`]);
          break;
        case 3:
          headers.push(['Authorization', 'Bearer ']);
          break;
        case 4:
          headers.push(['Authorization', 'Bearer']);
          break;
        case 5:
          headers.push(['Authorization', `bearer ${TOKEN}`]);
          break;
        case 6:
          headers.push(['Authorization', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`]);
          break;
        case 7:
          headers.push(['Authorization', TOKEN]);
          break;
        case 8:
          headers.push(['Authorization', `Bearer ${TOKEN.slice(0, -1)}`]);
          break;
        case 9:
          headers.push(['Authorization', `Bearer ${TOKEN}x`]);
          break;
        case 10:
          t += `${t.includes('?') ? '&' : '?'}token=${r.pick([encodeURIComponent('tökén'), '', `${TOKEN}&token=x`, 'A'.repeat(3000), '%ff'])}`;
          break;
        case 11:
          // a second Authorization header: which one counts is the HTTP parser's business, but the bad one alone never lets in
          headers.push(['Authorization', 'Bearer nope'], ['Authorization', `Bearer ${TOKEN}`]);
          expect = 'any';
          break;
        default:
          headers.push(['Authorization', `Bearer ${TOKEN}\u0000`]);
      }
      if (r.chance(0.1)) return { kind: `bad-token:reload`, bytes: request('POST', '/api/config/reload', headers, Buffer.from('{}')), expect: which === 11 ? 'any' : 'no-auth' };
      return { kind: `bad-token:${which}`, bytes: request('GET', t, headers), expect };
    }
    case 'method': {
      const m = r.pick(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'PROPFIND', 'FOO', 'get', 'G\u0000T', 'A'.repeat(1000), r.bytes(r.range(1, 12)).toString('latin1'), 'PRI']);
      const p = r.pick(['/healthz', `/api/stores/${STORE}/live`, report, '/api/config/reload', '*', '/']);
      return { kind: 'method', bytes: request(m, p, r.chance(0.5) ? [AUTH] : []), expect: 'any' };
    }
    case 'garbage': {
      const g = r.int(6);
      const bytes = [
        () => Buffer.concat([r.bytes(r.range(1, 300)), Buffer.from('\r\n\r\n')]),
        () => Buffer.from('GET /\r\n\r\n'),
        () => Buffer.from('GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n'),
        () => Buffer.from('POST /api/config/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'),
        () => Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'),
        () => request('POST', '/api/config/reload', [['Content-Type', 'application/json']], Buffer.alloc(r.pick([10, 2 << 20]), 0x7b)),
      ][g]!();
      return { kind: `garbage:${g}`, bytes, expect: 'any' };
    }
    case 'sse':
      return { kind, bytes: request('GET', `/api/stores/${STORE}/stream`, [AUTH]), expect: 'sse' };
    default: {
      const p = r.pick(['/healthz', `/api/stores/${STORE}/live`, `${report}?from=2026-11-23&to=2026-11-24`, `${report}?from=2026-11-23T09:00&to=2026-11-23T10:00:00Z`, '/floor', `/api/stores/${STORE}/floor`]);
      return { kind: 'valid', bytes: request('GET', p, [AUTH]), expect: 'ok' };
    }
  }
}

interface HttpAnswer {
  status: number | null;
  body: string;
  timedOut: boolean;
}

function httpRaw(port: number, bytes: Buffer, stopAtBody: boolean, timeoutMs = 15_000): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      s.destroy();
    }, timeoutMs);
    s.on('connect', () => s.write(bytes, () => undefined));
    s.on('data', (d: Buffer) => {
      if (size < 256 * 1024) chunks.push(d);
      size += d.length;
      // an event stream never ends: one message is enough
      if (stopAtBody && Buffer.concat(chunks).includes('\n\n')) s.destroy();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const at = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : null, body: at >= 0 ? text.slice(at + 4) : '', timedOut });
    });
  });
}

export interface HttpFigures {
  requests: number;
  byStatus: Record<string, number>;
  /** 5xx answers: a request made the hub fail */
  serverErrors: number;
  /** no answer within 15 s */
  timeouts: number;
  /** a request with a bad token that got a 2xx */
  authBypass: number;
  /** a bad from/to not answered 400 naming the parameter */
  paramMisses: number;
  /** an unknown store answered other than 404/400 */
  storeMisses: number;
  /** a path that showed a file it should not */
  leaks: number;
  /** a valid request not answered 200 */
  validFailed: number;
  samples: string[];
  latency: LatencyFigures;
  stoppedAtDeadline: boolean;
  elapsedMs: number;
}

export async function httpPhase(hub: HubProcess, seed: number, budget: number, deadline: number, lanes = 16): Promise<HttpFigures> {
  const f: HttpFigures = {
    requests: 0,
    byStatus: {},
    serverErrors: 0,
    timeouts: 0,
    authBypass: 0,
    paramMisses: 0,
    storeMisses: 0,
    leaks: 0,
    validFailed: 0,
    samples: [],
    latency: latency([], 0),
    stoppedAtDeadline: false,
    elapsedMs: 0,
  };
  const lat: number[] = [];
  const t0 = performance.now();
  let next = 0;
  const note = (c: HttpCase, a: HttpAnswer, why: string) => {
    if (f.samples.length < 12) f.samples.push(`${why}: ${c.kind} → ${a.status ?? 'no answer'} ${a.body.slice(0, 160).replace(/\s+/g, ' ')}`);
  };
  const one = async (i: number) => {
    const c = httpCase(seed, i);
    const t = performance.now();
    const a = await httpRaw(hub.httpPort, c.bytes, c.expect === 'sse' || c.kind.startsWith('bad-token'));
    lat.push(performance.now() - t);
    f.requests++;
    const key = a.timedOut ? 'timeout' : String(a.status ?? 'closed');
    f.byStatus[key] = (f.byStatus[key] ?? 0) + 1;
    const st = a.status ?? 0;
    if (a.timedOut) {
      f.timeouts++;
      note(c, a, 'timeout');
    }
    if (st >= 500) {
      f.serverErrors++;
      note(c, a, '5xx');
    }
    if (c.expect === 'no-auth' && st >= 200 && st < 300) {
      f.authBypass++;
      note(c, a, 'auth bypass');
    }
    if (c.expect === 'bad-param') {
      const msg = /"message":"((?:[^"\\]|\\.)*)"/.exec(a.body)?.[1] ?? '';
      if (st !== 400 || !msg.startsWith(`${c.param}:`)) {
        f.paramMisses++;
        note(c, a, `expected 400 naming ${c.param}`);
      }
    }
    // 414: fastify's limit on a path parameter's length
    if (c.expect === 'not-found' && st !== 404 && st !== 400 && st !== 414) {
      f.storeMisses++;
      note(c, a, 'expected 404');
    }
    if (/root:x:0:0|"devDependencies"|startHub\(|"lockfileVersion"/.test(a.body)) {
      f.leaks++;
      note(c, a, 'leak');
    }
    if ((c.expect === 'ok' || c.expect === 'sse') && st !== 200) {
      f.validFailed++;
      note(c, a, 'expected 200');
    }
  };
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < budget && hub.alive()) {
        if (Date.now() > deadline) {
          f.stoppedAtDeadline = true;
          return;
        }
        await one(next++);
      }
    }),
  );
  f.latency = latency(lat, 0);
  f.elapsedMs = performance.now() - t0;
  return f;
}

// ---------------------------------------------------------------------------
// the default guard: a second hub with the limits of a store

export interface GuardFigures {
  /** of 64 simultaneous connections (each a valid CONNECT), how many got CONNACK 0 */
  concurrentAccepted: number;
  concurrentTried: number;
  /** of 160 connections one after another, how many got CONNACK 0 */
  sequentialAccepted: number;
  sequentialTried: number;
  /** minute windows the phase touched (the rate limit counts per clock minute) */
  minutes: number;
  oversizeClosed: boolean;
  refusedConnects: Record<string, number>;
  /** the limits held: at most 32 open per address, at most 120 new per address per minute, an oversized packet cut */
  held: boolean;
  probe: ProbeResult;
  healthz: boolean;
  alive: boolean;
  faults: string[];
}

/** one valid CONNECT; resolves with the CONNACK code, or null if the socket closed first; `hold` keeps it open until released */
function tryConnect(port: number, hold: Promise<void> | null, clientId: string, onClose?: () => void): Promise<number | null> {
  return new Promise<number | null>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const reader = new PacketReader();
    let code: number | null = null;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      resolve(code);
    };
    const timer = setTimeout(() => s.destroy(), 10_000);
    s.on('connect', () => s.write(connectPacket({ clientId, username: 'pk', password: password('pk') })));
    s.on('data', (d: Buffer) => {
      for (const p of reader.push(d)) {
        if (p.type !== 2) continue;
        code = p.body[1] ?? -1;
        done();
        const release = () => {
          clearTimeout(timer);
          s.end(DISCONNECT);
        };
        if (hold) void hold.then(release);
        else release();
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      done();
      onClose?.();
    });
  });
}

export async function guardPhase(cfg: StoreConfig, dir: string, deadline: number): Promise<GuardFigures> {
  const hub = await HubProcess.start({ config: cfg, dataDir: path.join(dir, 'guard') }, dir);
  const minutes = new Set<number>([Math.floor(Date.now() / 60_000)]);
  try {
    const probe = await Probe.connect(hub, cfg);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const concurrentTried = 64;
    let heldClosed = 0;
    const codes = await Promise.all(Array.from({ length: concurrentTried }, (_, i) => tryConnect(hub.mqttPort, held, `g-c${i}`, () => heldClosed++)));
    const concurrentAccepted = codes.filter((c) => c === 0).length;
    release();
    // the sequential tries start once the held connections are gone, not while they close
    await waitFor(() => heldClosed === concurrentTried, 'the held connections closed', 15_000);
    const sequentialTried = 160;
    let sequentialAccepted = 0;
    for (let i = 0; i < sequentialTried && Date.now() < deadline; i++) if ((await tryConnect(hub.mqttPort, null, `g-s${i}`)) === 0) sequentialAccepted++;
    // a header that claims 100 KiB: the connection ends before the payload is read (the probe's own connection still counts)
    const oversizeClosed = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port: hub.mqttPort, host: '127.0.0.1' });
      const timer = setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 10_000);
      s.on('connect', () => s.write(Buffer.concat([Buffer.from([0x30]), varint(100 * 1024)])));
      s.on('error', () => undefined);
      s.on('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    minutes.add(Math.floor(Date.now() / 60_000));
    const stats = await hub.stats();
    const result = await probe.check();
    const healthz = await healthzOnce(hub.httpUrl);
    await probe.end();
    const perMinute = 120 * minutes.size;
    // the probe holds one of the 32; every connect (the probe's too) counts against the 120 a minute
    const held_ = concurrentAccepted <= 31 && concurrentAccepted + sequentialAccepted + 1 <= perMinute && sequentialAccepted < sequentialTried && oversizeClosed;
    return {
      concurrentAccepted,
      concurrentTried,
      sequentialAccepted,
      sequentialTried,
      minutes: minutes.size,
      oversizeClosed,
      refusedConnects: stats.refusedConnects,
      held: held_ && (stats.refusedConnects['too-many-from-address'] ?? 0) >= concurrentTried - 31 && (stats.refusedConnects['connect-rate'] ?? 0) > 0,
      probe: result,
      healthz,
      alive: hub.alive(),
      faults: [...hub.faults],
    };
  } finally {
    await hub.stop();
  }
}

// ---------------------------------------------------------------------------
// the run

export interface Check {
  phase: string;
  name: string;
  ok: boolean;
  detail: string;
}

export interface PhaseReport {
  name: string;
  alive: boolean;
  healthzDuring: LatencyFigures;
  healthzAfter: boolean;
  probe: ProbeResult;
  rssMaxMB: number;
  rssEndMB: number;
  heapAfterGcMB: number;
  loopDelayMaxMs: number;
  /** size of a GET /live answer after the phase (what every dashboard poll costs) */
  liveBytes: number;
  stats: HubStats;
}

export interface FuzzOptions {
  seed: number;
  packets: number;
  payloads: number;
  http: number;
  /** wall-clock bound of each phase; a phase that reaches it stops early and says so */
  phaseSeconds: number;
  guardPhase?: boolean;
  progress?: (line: string) => void;
}

export interface FuzzReport {
  seed: number;
  options: FuzzOptions;
  hubPid: number | undefined;
  start: { rssMB: number; heapAfterGcMB: number };
  end: { rssMB: number; heapAfterGcMB: number };
  rssMaxMB: number;
  packets?: PacketFigures;
  payloads?: PayloadFigures;
  http?: HttpFigures;
  guard?: GuardFigures;
  phases: PhaseReport[];
  final: HubStats;
  faults: string[];
  probeDisconnects: number;
  checks: Check[];
  elapsedS: number;
}

const MB = (n: number) => n / 1048576;

export async function fuzzConfig(): Promise<StoreConfig> {
  return testStore({ store: { id: STORE }, nodes: NODES.map((id) => ({ id })), hub: { tokens: [TOKEN] } });
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const log = o.progress ?? (() => undefined);
  const t0 = performance.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-fuzz-'));
  const cfg = await fuzzConfig();
  const checks: Check[] = [];
  const check = (phase: string, name: string, ok: boolean, detail = '') => checks.push({ phase, name, ok, detail });
  const hub = await HubProcess.start({ config: cfg, dataDir: path.join(dir, 'main'), guard: RAISED_GUARD }, dir);
  let probe: Probe | undefined;
  let stream: StreamWatcher | undefined;
  try {
    const s0 = await hub.stats({ gc: true, resetMax: true });
    let rssMax = s0.rss;
    probe = await Probe.connect(hub, cfg);
    stream = new StreamWatcher(hub.httpUrl);
    const p0 = await probe.check();
    check('start', 'the probe node is accepted', p0.ok, p0.detail);
    const report: FuzzReport = {
      seed: o.seed,
      options: { ...o, progress: undefined },
      hubPid: hub.pid,
      start: { rssMB: MB(s0.rss), heapAfterGcMB: MB(s0.heapUsed) },
      end: { rssMB: 0, heapAfterGcMB: 0 },
      rssMaxMB: 0,
      phases: [],
      final: s0,
      faults: [],
      probeDisconnects: 0,
      checks,
      elapsedS: 0,
    };

    const phase = async (name: string, run: (deadline: number) => Promise<void>) => {
      log(`${name}…`);
      await hub.stats({ resetMax: true });
      const mon = new HealthMonitor(hub.httpUrl);
      const streamed = stream!.messages;
      try {
        await run(Date.now() + o.phaseSeconds * 1000);
      } finally {
        const during = await mon.stop();
        const alive = hub.alive();
        check(name, 'the hub process is alive', alive, alive ? '' : `exited ${JSON.stringify(hub.exit)}`);
        const healthzAfter = alive && (await healthzOnce(hub.httpUrl));
        check(name, '/healthz answers', healthzAfter);
        const pr = alive ? await probe!.check() : { ok: false, ms: 0, detail: 'hub not running' };
        check(name, "the probe node's event is accepted", pr.ok, pr.detail);
        // the stream sends a snapshot every 2 s: wait for one more message, a few seconds at most
        await waitFor(() => stream!.ended || stream!.messages > streamed, 'one more stream message', 5_000, 50).catch(() => undefined);
        check(name, "a dashboard's live stream kept coming", !stream!.ended && stream!.messages > streamed, `${stream!.messages - streamed} messages${stream!.ended ? ', then it ended' : ''}`);
        if (alive) {
          const liveBytes = await fetch(`${hub.httpUrl}/api/stores/${STORE}/live`, { headers: { authorization: `Bearer ${TOKEN}` } }).then(
            async (r) => (await r.arrayBuffer()).byteLength,
            () => NaN,
          );
          const st = await hub.stats({ gc: true, resetMax: true });
          rssMax = Math.max(rssMax, st.rssMax);
          check(name, 'Object.prototype untouched', st.prototypeClean);
          report.phases.push({
            name,
            alive,
            healthzDuring: during,
            healthzAfter,
            probe: pr,
            rssMaxMB: MB(st.rssMax),
            rssEndMB: MB(st.rss),
            heapAfterGcMB: MB(st.heapUsed),
            loopDelayMaxMs: st.loopDelayMaxMs,
            liveBytes,
            stats: st,
          });
        }
        log(`${name}: done`);
      }
    };

    if (o.packets > 0) {
      await phase('packets', async (deadline) => {
        const f = await packetPhase(hub, o.seed, o.packets, deadline);
        report.packets = f;
        check('packets', 'every valid CONNECT with a good login got CONNACK 0', f.validRefused === 0, f.validRefusedSamples.join('; '));
      });
    }
    if (o.payloads > 0) {
      await phase('payloads', async (deadline) => {
        const f = await payloadPhase(hub, o.seed, o.payloads, deadline);
        report.payloads = f;
        check('payloads', 'the reject counts add up to the malformed payloads the hub read', f.balanced, f.balanceDetail);
        check('payloads', 'no malformed kind was accepted', Object.keys(f.badAccepted).length === 0, JSON.stringify(f.badAccepted));
        check('payloads', 'every QoS 1 publish got a PUBACK (no stalls, no closes)', f.stalls === 0 && f.closes === 0, `stalls ${f.stalls}, closes ${f.closes}`);
      });
    }
    if (o.http > 0) {
      await phase('http', async (deadline) => {
        const f = await httpPhase(hub, o.seed, o.http, deadline);
        report.http = f;
        check('http', 'no 5xx', f.serverErrors === 0, f.samples.filter((s) => s.startsWith('5xx')).join('; '));
        check('http', 'no request left unanswered', f.timeouts === 0, f.samples.filter((s) => s.startsWith('timeout')).join('; '));
        check('http', 'no bad token let in', f.authBypass === 0, f.samples.filter((s) => s.startsWith('auth')).join('; '));
        check('http', 'bad from/to answered 400 naming the parameter', f.paramMisses === 0, f.samples.filter((s) => s.startsWith('expected 400')).join('; '));
        check('http', 'unknown stores answered 404', f.storeMisses === 0, f.samples.filter((s) => s.startsWith('expected 404')).join('; '));
        check('http', 'no file shown through a traversal', f.leaks === 0, f.samples.filter((s) => s.startsWith('leak')).join('; '));
        check('http', 'valid requests answered 200', f.validFailed === 0, f.samples.filter((s) => s.startsWith('expected 200')).join('; '));
      });
    }
    if (o.guardPhase !== false) {
      log('default guard…');
      const g = await guardPhase(cfg, dir, Date.now() + o.phaseSeconds * 1000);
      report.guard = g;
      check('guard', 'the default guard held (32 per address, 120 a minute, 64 KiB packets)', g.held, `${g.concurrentAccepted}/${g.concurrentTried} concurrent, ${g.sequentialAccepted}/${g.sequentialTried} sequential in ${g.minutes} minute window(s)`);
      check('guard', 'the hub process is alive', g.alive);
      check('guard', '/healthz answers', g.healthz);
      check('guard', "the probe node's event is accepted", g.probe.ok, g.probe.detail);
      check('guard', 'no faults', g.faults.length === 0, g.faults.join('; '));
    }

    const end = await hub.stats({ gc: true });
    report.final = end;
    report.end = { rssMB: MB(end.rss), heapAfterGcMB: MB(end.heapUsed) };
    report.rssMaxMB = MB(Math.max(rssMax, end.rssMax));
    report.faults = [...hub.faults];
    report.probeDisconnects = probe.disconnects;
    check('end', 'no unhandled rejection or exception in the hub', hub.faults.length === 0, hub.faults.join('\n'));
    check('end', 'the hub logged no error', end.logErrors === 0, `${end.logErrors} error lines, e.g. ${end.logErrorSamples.join(' | ')}`);
    check('end', 'the probe stayed connected all along', probe.disconnects === 0, `${probe.disconnects} disconnects`);
    report.elapsedS = (performance.now() - t0) / 1000;
    return report;
  } finally {
    await probe?.end().catch(() => undefined);
    await stream?.stop();
    await hub.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// the table

const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const counts = (o: Record<string, number> | undefined) =>
  Object.entries(o ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${int(v)}`)
    .join(', ') || '-';

export function formatReport(r: FuzzReport): string {
  const rows: Array<[string, string]> = [];
  const row = (k: string, v: string) => rows.push([k, v]);
  row('seed', String(r.seed));
  row('hub', `child process pid ${r.hubPid ?? '?'}, 127.0.0.1 only, node logins, raised guard for phases 1-3`);
  if (r.packets) {
    const f = r.packets;
    row('packets: sent / connections', `${int(f.packets)} / ${int(f.connections)} in ${fmt(f.elapsedMs / 1000)} s (${int(f.packets / (f.elapsedMs / 1000))}/s)${f.stoppedAtDeadline ? ' STOPPED AT DEADLINE' : ''}`);
    row('packets: bytes', `${fmt(MB(f.bytes))} MB`);
    row('packets: CONNACK codes', counts(f.connack));
    row('packets: closed by hub / resets / lingered', `${int(f.serverClosed)} / ${int(f.resets)} / ${int(f.lingered)}`);
    row('packets: connection lifetime ms', `p50 ${fmt(f.durationMs.p50Ms)}, p99 ${fmt(f.durationMs.p99Ms)}, max ${fmt(f.durationMs.maxMs)}`);
    row('packets: valid MQTT 5 CONNECT → CONNACK codes', counts(f.v5Connack));
    row('packets: valid CONNECT → CONNACK ms', `p50 ${fmt(f.connectMs.p50Ms)}, p99 ${fmt(f.connectMs.p99Ms)}, max ${fmt(f.connectMs.maxMs)} (${int(f.connectMs.n)}); refused ${f.validRefused}`);
  }
  if (r.payloads) {
    const f = r.payloads;
    row('payloads: sent', `${int(f.sent)} (${int(f.bad)} malformed, ${int(f.good)} valid, ${int(f.qos1)} QoS 1) in ${fmt(f.elapsedMs / 1000)} s (${int(f.sent / (f.elapsedMs / 1000))}/s)${f.stoppedAtDeadline ? ' STOPPED AT DEADLINE' : ''}`);
    row('payloads: surely read by the hub', `${int(f.confirmed)}; closes ${f.closes}, stalls ${f.stalls}`);
    row('payloads: rejected (node fuzz)', `${int(f.rejectedTotal)}: ${counts(f.rejected)}`);
    row('payloads: accepted (node fuzz)', int(f.accepted));
    row('payloads: balance', `${f.balanced ? 'ok' : 'MISMATCH'}: ${f.balanceDetail}`);
    if (Object.keys(f.badAccepted).length) row('payloads: malformed but accepted', counts(f.badAccepted));
  }
  if (r.http) {
    const f = r.http;
    row('http: requests', `${int(f.requests)} in ${fmt(f.elapsedMs / 1000)} s; latency p50 ${fmt(f.latency.p50Ms)} ms, p99 ${fmt(f.latency.p99Ms)} ms, max ${fmt(f.latency.maxMs)} ms${f.stoppedAtDeadline ? ' STOPPED AT DEADLINE' : ''}`);
    row('http: statuses', counts(f.byStatus));
    row('http: 5xx / timeouts / auth bypass / param misses / leaks', `${f.serverErrors} / ${f.timeouts} / ${f.authBypass} / ${f.paramMisses} / ${f.leaks}`);
  }
  if (r.guard) {
    const g = r.guard;
    row('guard (default): concurrent', `${g.concurrentAccepted} of ${g.concurrentTried} got CONNACK 0`);
    row('guard (default): sequential', `${g.sequentialAccepted} of ${g.sequentialTried} got CONNACK 0 (${g.minutes} minute window(s))`);
    row('guard (default): refused', counts(g.refusedConnects));
    row('guard (default): held', g.held ? 'yes' : 'NO');
  }
  for (const p of r.phases) {
    row(`${p.name}: /healthz during`, `${p.healthzDuring.n} probes, p50 ${fmt(p.healthzDuring.p50Ms)} ms, p99 ${fmt(p.healthzDuring.p99Ms)} ms, max ${fmt(p.healthzDuring.maxMs)} ms, failed ${p.healthzDuring.failures}`);
    row(`${p.name}: probe event accepted`, `${p.probe.ok ? 'yes' : 'NO'} in ${fmt(p.probe.ms)} ms`);
    row(`${p.name}: hub RSS max / end, heap after GC`, `${fmt(p.rssMaxMB)} / ${fmt(p.rssEndMB)} MB, ${fmt(p.heapAfterGcMB)} MB`);
    row(`${p.name}: event loop delay max`, `${fmt(p.loopDelayMaxMs)} ms`);
    row(`${p.name}: GET /live answer`, `${int(p.liveBytes)} bytes`);
  }
  row('hub RSS start / max / end', `${fmt(r.start.rssMB)} / ${fmt(r.rssMaxMB)} / ${fmt(r.end.rssMB)} MB`);
  row('hub heap after GC start / end', `${fmt(r.start.heapAfterGcMB)} / ${fmt(r.end.heapAfterGcMB)} MB`);
  row('hub trace on disk', `${fmt(MB(r.final.traceBytes))} MB`);
  row('hub log', `${int(r.final.logLines)} lines, ${fmt(MB(r.final.logBytes))} MB, ${int(r.final.logErrors)} at error level`);
  row('metrics.rejected', Object.entries(r.final.rejected).map(([n, c]) => `${n}: {${counts(c)}}`).join('; ') || '-');
  row('metrics.refusedConnects', counts(r.final.refusedConnects));
  row('metrics.refusedPublishes', int(r.final.refusedPublishes));
  row('faults (unhandled rejections, exceptions)', r.faults.length ? r.faults.join(' | ') : 'none');
  row('elapsed', `${fmt(r.elapsedS)} s`);
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    'Figures are measured, not asserted (timings depend on the machine); only the checks below pass or fail.',
    '',
    ...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`),
    '',
    'checks:',
    ...r.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} [${c.phase}] ${c.name}${!c.ok && c.detail ? ` — ${c.detail}` : ''}`),
  ];
  return lines.join('\n');
}

export function dumpConnection(seed: number, i: number): string {
  const p = connectionPlan(seed, i);
  return [`connection ${i} (${p.scenario}, close ${p.close}, wait CONNACK ${p.waitConnack})`, `first: ${p.first.toString('hex')}`, ...p.rest.map((b, k) => `rest[${k}]: ${b.toString('hex')}`)].join('\n');
}
export function dumpPayload(seed: number, i: number): string {
  const c = payloadCase(seed, i, 'fuzz', Date.now());
  return `payload ${i} (${c.kind}, ${c.good ? 'valid' : 'malformed'}, QoS ${c.qos}, ${c.bytes.length} bytes):\n${c.bytes.toString('utf8').slice(0, 2000)}`;
}
export function dumpRequest(seed: number, i: number): string {
  const c = httpCase(seed, i);
  return `request ${i} (${c.kind}, expect ${c.expect}):\n${c.bytes.toString('latin1').slice(0, 2000)}`;
}

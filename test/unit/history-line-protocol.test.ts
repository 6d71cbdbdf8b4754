import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FieldType, InfluxDB, type IPoint } from 'influx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GwEvent, Visit } from '../../contract/index.ts';
import { isLegacyLine, lineEncoder, toLine, visitLineKey } from '../../hub/history/line-protocol.ts';
import { eventPoint, greetingPoint, healthPoint, orphanPoint, SCHEMA, visitPoint } from '../../hub/history/schema.ts';

// The lines the store spools must be exactly what the influx client's writePoints would
// send for the same points: the body writePoints posts is captured by a plain HTTP server
// standing where InfluxDB would, and compared line by line.

let server: http.Server;
let bodies: string[] = [];
beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const influx = () => new InfluxDB({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, database: 'd', schema: SCHEMA });

/** the body writePoints posts: the lines joined by newlines (a newline inside a quoted string is the string's) */
async function sentByClient(points: IPoint[]): Promise<string> {
  bodies = [];
  await influx().writePoints(points, { precision: 'n' });
  expect(bodies).toHaveLength(1);
  return bodies[0]!;
}

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const visit: Visit = { store: 's1', party: '01JDB7Q3ZC8K9V2M4N6P8R0T2W', outcome: 'late', entryTime: iso(T0), size: 2, greetTime: iso(T0 + 41_234), ttgS: 41.234, staff: 'ben-2', breachTime: iso(T0 + 30_001), closedTime: iso(T0 + 161_234) };
const event: GwEvent = {
  specversion: '1.0',
  id: 'e-1',
  source: '/stores/s1/nodes/door-1',
  type: 'greetwatch.greet.v1',
  time: iso(T0 + 5000),
  bootid: 'b1',
  seq: 7,
  datacontenttype: 'application/json',
  // the characters line protocol escapes: quotes and backslashes in strings, spaces, commas and = elsewhere
  data: { button: 'counter "main", left\\side', staff: 'anna', detail: 'a=b c,d\nnext' },
} as GwEvent;

describe('toLine', () => {
  it('encodes every kind of history point exactly as the client would send it', async () => {
    const points: IPoint[] = [
      visitPoint(visit),
      greetingPoint(visit)!,
      orphanPoint('s1', T0 + 9000, 'anna'),
      eventPoint('s1', event, T0 + 5050)!,
      healthPoint('s1', { node: 'door-1', online: true, lastSeen: iso(T0), bootid: 'b1', fw: '1', offsetMs: -12.5, clockFlag: false, events: 7, duplicates: 1, lost: 0, tooLate: 0, rejected: { GW_ERR_EVENT_JSON: 2 }, outbox: 3, dropped: 0 }, T0 + 60_000),
      // tag keys, tag values and field keys that need escaping (not ours, but the encoder must agree)
      { measurement: 'odd', tags: { 'k=1': 'v 1,2=3' }, fields: { 'f x': 'q"\\' }, timestamp: '1' },
    ];
    const db = influx();
    expect(points.map((p) => toLine(db, p)).join('\n')).toBe(await sentByClient(points));
  });

  it('encodes through its fast path exactly as the client would, special characters and odd values included', async () => {
    // a seeded generator over the schema: plain values take the fast path, the rest fall back
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const strs = ['plain', 'ben-2', '', 'with space', 'a,b', 'k=v', 'q"uote', 'back\\slash', "it\\'s", 'line\nbreak', 'ünïcode ✓'];
    const value = (t: FieldType): unknown =>
      t === FieldType.STRING
        ? pick([...strs, 7])
        : t === FieldType.BOOLEAN
          ? rnd() < 0.5
          : pick([0, 1, -3, 2.5, 1e21, 123456789, t === FieldType.INTEGER ? '42' : '4.25', null, undefined]);
    const points: IPoint[] = [];
    for (let i = 0; i < 600; i++) {
      const m = pick(SCHEMA);
      const tags: Record<string, string> = {};
      for (const t of m.tags) if (rnd() < 0.8) tags[t] = pick(strs.filter((x) => x !== ''));
      const fields: Record<string, unknown> = {};
      for (const [k, t] of Object.entries(m.fields)) if (rnd() < 0.6) fields[k] = value(t);
      if (Object.values(fields).every((v) => v === null || v === undefined)) continue; // a point needs a field
      if (rnd() < 0.05) fields.bogus = 1; // not in the schema: refused
      if (rnd() < 0.05) tags.bogus = 'x';
      points.push({ measurement: m.measurement, tags, fields: fields, timestamp: pick(['1795428000000969991', '1', '0']) });
    }
    const ok = points.filter((p) => {
      try {
        toLine(influx(), p);
        return true;
      } catch {
        return false;
      }
    });
    expect(ok.length).toBeGreaterThan(300);
    const enc = lineEncoder(influx(), SCHEMA);
    expect(ok.map(enc).join('\n')).toBe(await sentByClient(ok));
    // and what the client refuses, the encoder refuses
    for (const p of points.filter((x) => !ok.includes(x))) expect(() => enc(p)).toThrow();
  });

  it('escapes a measurement name as line protocol wants (the client leaves it; ours need none)', () => {
    expect(toLine(influx(), { measurement: 'a b,c', fields: { x: 1 }, timestamp: '1' })).toBe('a\\ b\\,c x=1 1');
  });

  it('throws where the schema refuses a field, as writePoints would', () => {
    expect(() => toLine(influx(), { measurement: 'visit', tags: { store: 's1' }, fields: { size: 'two' }, timestamp: '1' })).toThrow();
    expect(() => toLine(influx(), { measurement: 'visit', tags: { nope: 'x' }, fields: { size: 1 }, timestamp: '1' })).toThrow();
  });
});

describe('visitLineKey', () => {
  it('reads the store and the entry millisecond of a visit line, whatever its string fields hold', () => {
    const line = toLine(influx(), visitPoint({ ...visit, staff: 'x 99' }));
    expect(visitLineKey(line)).toEqual({ store: 's1', ms: T0 });
  });

  it('is null for any other measurement', () => {
    const db = influx();
    expect(visitLineKey(toLine(db, greetingPoint(visit)!))).toBeNull();
    expect(visitLineKey(toLine(db, eventPoint('s1', event, T0)!))).toBeNull();
    expect(visitLineKey('visitor,store=s1 x=1 1')).toBeNull();
  });
});

describe('isLegacyLine', () => {
  it('tells a point spooled as JSON from a line', () => {
    expect(isLegacyLine(JSON.stringify(visitPoint(visit)))).toBe(true);
    expect(isLegacyLine(toLine(influx(), visitPoint(visit)))).toBe(false);
  });
});

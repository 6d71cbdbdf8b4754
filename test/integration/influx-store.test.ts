import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { InfluxDB } from 'influx';
import { ErrorCodes, GwError, type Visit } from '../../contract/index.ts';
import { TimeZone } from '../../hub/engine/tz.ts';
import { freePort } from '../../hub/influxd.ts';
import { influxVisitStore, type InfluxStoreOptions, type InfluxVisitStore } from '../../hub/influx-store.ts';
import { rollupVisits } from '../../hub/history/rollup.ts';
import { greetingPoint, subMsNanos, visitPoint } from '../../hub/history/schema.ts';
import { openSpool } from '../../hub/history/spool.ts';
import { startTestInfluxd, waitFor, type TestInfluxd } from '../helpers/influxd.ts';
import { captureLog } from '../helpers/capture-log.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';

// Against a real influxd (test/helpers/influxd.ts). No timed assertions: outages and
// recoveries are observed by polling with a bounded wait. Every store gets its own spool
// folder; `reopen` starts a store on the same spool, as a restarted hub does.

const spools: string[] = [];
afterAll(() => {
  for (const d of spools) fs.rmSync(d, { recursive: true, force: true });
});
function newSpool(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-spool-'));
  spools.push(d);
  return d;
}
const open = (o: Omit<InfluxStoreOptions, 'spoolDir'> & { spoolDir?: string }): Promise<InfluxVisitStore> =>
  influxVisitStore({ flushMs: 5, retryMs: 50, spoolDir: newSpool(), ...o });

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const byParty = (a: Visit, b: Visit) => a.party.localeCompare(b.party);

const metWithStaff: Visit = {
  store: 's1',
  party: '01JDB7Q3ZC8K9V2M4N6P8R0T2W',
  outcome: 'met',
  entryTime: iso(T0 + 1_123),
  size: 2,
  greetTime: iso(T0 + 13_623),
  ttgS: 12.5,
  staff: 'anna',
  closedTime: iso(T0 + 133_623),
};
const late: Visit = {
  store: 's1',
  party: '01JDB7Q3ZC8K9V2M4N6P8R0T3A',
  outcome: 'late',
  entryTime: iso(T0 + 60_000),
  size: 1,
  greetTime: iso(T0 + 101_234),
  ttgS: 41.234,
  staff: 'ben-2',
  breachTime: iso(T0 + 75_001),
  closedTime: iso(T0 + 221_234),
};
const walkout: Visit = {
  store: 's1',
  party: '01JDB7Q3ZC8K9V2M4N6P8R0T3B',
  outcome: 'walkout',
  entryTime: iso(T0 + 120_007),
  size: 3,
  markTime: iso(T0 + 150_007),
  closedTime: iso(T0 + 210_007),
};
const shortWalkout: Visit = {
  store: 's1',
  party: '01JDB7Q3ZC8K9V2M4N6P8R0T3C',
  outcome: 'shortWalkout',
  entryTime: iso(T0 + 180_000),
  size: 1,
  markTime: iso(T0 + 183_000),
  closedTime: iso(T0 + 243_000),
};
const missed: Visit = {
  store: 's1',
  party: '01JDB7Q3ZC8K9V2M4N6P8R0T3D',
  outcome: 'missed',
  entryTime: iso(T0 + 240_999),
  size: 1,
  closedTime: iso(T0 + 840_999),
};
// same store, outcome, no staff and entry millisecond: one series, one ms
const twinA: Visit = { store: 's1', party: '01JDB7Q3ZC8K9V2M4N6P8R0T4A', outcome: 'met', entryTime: iso(T0 + 300_500), size: 1, greetTime: iso(T0 + 305_500), ttgS: 5, closedTime: iso(T0 + 425_500) };
const twinB: Visit = { ...twinA, party: '01JDB7Q3ZC8K9V2M4N6P8R0T4B', size: 2, greetTime: iso(T0 + 307_000), ttgS: 6.5, closedTime: iso(T0 + 427_000) };
const otherStore: Visit = { ...metWithStaff, store: 's2', party: '01JDB7Q3ZC8K9V2M4N6P8R0T5A' };

describe('influxVisitStore against a real influxd', () => {
  let server: TestInfluxd;
  let store: InfluxVisitStore;
  let logs: ReturnType<typeof captureLog>;

  beforeAll(async () => {
    server = await startTestInfluxd();
    logs = captureLog();
    store = await open({ url: server.url, database: 'gw_test', log: logs.log, storeInfo: { store: 's1', name: 'High St', timezone: 'Europe/Berlin', serviceLevelTarget: 0.85, greetWithinS: 30 } });
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('is persistent and names its target', () => {
    expect(store.persistent).toBe(true);
    expect(store.detail).toBe(`history in InfluxDB ${server.url} db gw_test`);
  });

  it('writes visits of every kind and reads them back exactly', async () => {
    expect(subMsNanos(twinA.party)).not.toBe(subMsNanos(twinB.party)); // precondition of the twin case
    const all = [metWithStaff, late, walkout, shortWalkout, missed, twinA, twinB, otherStore];
    await store.write(all);
    expect(store.backlog()).toBe(0);
    expect(store.health()).toEqual({ state: 'up', spool: 0 });
    const got = await store.query('s1', T0, T0 + 3_600_000);
    expect([...got].sort(byParty)).toEqual([metWithStaff, late, walkout, shortWalkout, missed, twinA, twinB].sort(byParty));
    expect(await store.query('s2', T0, T0 + 3_600_000)).toEqual([otherStore]);
    expect(await store.query('s3', T0, T0 + 3_600_000)).toEqual([]);
  });

  it('creates the raw and rollup retention policies (raw the default) and the store info', async () => {
    const db = new InfluxDB({ host: '127.0.0.1', port: server.port, database: 'gw_test' });
    const rps = await db.showRetentionPolicies('gw_test');
    expect(rps.find((r) => r.name === 'raw')).toMatchObject({ duration: '2160h0m0s', default: true });
    expect(rps.find((r) => r.name === 'rollup')).toMatchObject({ duration: '43824h0m0s', default: false });
    expect(await store.stores()).toEqual([{ store: 's1', name: 'High St', timezone: 'Europe/Berlin', serviceLevelTarget: 0.85, greetWithinS: 30 }]);
  });

  it('keeps identity by store and entry time: outcome and staff are fields, the only tag is the store', async () => {
    const db = new InfluxDB({ host: '127.0.0.1', port: server.port, database: 'gw_test' });
    const tags = (await db.query('SHOW TAG KEYS FROM raw.visit')) as unknown as { tagKey: string }[];
    expect(tags.map((t) => t.tagKey)).toEqual(['store']);
    const fields = (await db.query('SHOW FIELD KEYS FROM raw.visit')) as unknown as { fieldKey: string; fieldType: string }[];
    expect(Object.fromEntries(fields.map((f) => [f.fieldKey, f.fieldType]))).toMatchObject({ outcome: 'string', staff: 'string', party: 'string', size: 'integer', ttg_s: 'float' });
    // the greeted visits' greetings, one point each
    const greetings = (await db.query(`SELECT * FROM raw.greeting WHERE store = 's1'`)) as unknown as { party: string; orphan: boolean }[];
    expect(greetings.map((g) => g.party).sort()).toEqual([metWithStaff, late, twinA, twinB].map((v) => v.party).sort());
  });

  it('respects period boundaries [from, to)', async () => {
    const T1 = Date.parse('2026-11-24T00:00:00.000Z');
    const mk = (party: string, ms: number): Visit => ({ store: 'b1', party, outcome: 'missed', entryTime: iso(ms), size: 1, closedTime: iso(ms + 600_000) });
    const atFrom = mk('at-from', T1);
    const justBefore = mk('just-before', T1 - 1);
    const lastMs = mk('last-ms', T1 + 86_400_000 - 1);
    const atTo = mk('at-to', T1 + 86_400_000);
    await store.write([atFrom, justBefore, lastMs, atTo]);
    const day = await store.query('b1', T1, T1 + 86_400_000);
    expect(day.map((v) => v.party).sort()).toEqual(['at-from', 'last-ms']);
    expect(await store.query('b1', T1 + 86_400_000, T1 + 86_400_001)).toEqual([atTo]);
    expect(await store.query('b1', T1 - 1, T1)).toEqual([justBefore]);
    expect(await store.query('b1', T1, T1)).toEqual([]);
  });

  it('does not duplicate a visit written again, in raw points or in rollups', async () => {
    const v: Visit = { ...late, store: 'dup', party: 'dup-1' };
    await store.write([v]);
    await store.write([v, v]);
    await store.write([{ ...v }]);
    expect(await store.query('dup', T0, T0 + 3_600_000)).toEqual([v]);
    const r = await store.rollups('dup', T0 - 3_600_000, T0 + 3_600_000);
    expect(r.hours).toHaveLength(1);
    expect(r.hours[0]).toMatchObject({ visits: 1, late: 1, greeted: 1, ttgSumMs: 41_234 });
  });

  it('keeps hourly rollups equal to the raw points, late visits included (store-local hours)', async () => {
    const day = Date.parse('2026-11-25T06:00:00.000Z');
    const visits: Visit[] = [];
    for (let i = 0; i < 200; i++) {
      const entry = day + i * 97_000;
      const outcome = (['met', 'late', 'walkout', 'shortWalkout', 'missed'] as const)[i % 5]!;
      const greeted = outcome === 'met' || outcome === 'late';
      const ttgS = greeted ? (i % 47) + 0.001 * i : undefined;
      visits.push({
        store: 'ru',
        party: `ru-${i}`,
        outcome,
        entryTime: iso(entry),
        size: 1 + (i % 3),
        ...(greeted ? { greetTime: iso(entry + ttgS! * 1000), ttgS: ttgS!, staff: i % 2 ? 'anna' : 'ben' } : {}),
      });
    }
    // most first, then a late batch for early hours (a node's outbox flushed after an outage)
    await store.write(visits.filter((_, i) => i % 7 !== 0));
    await store.write(visits.filter((_, i) => i % 7 === 0));
    const tz = new TimeZone('Europe/Berlin');
    const want = rollupVisits(visits, tz);
    const got = await store.rollups('ru', day - 3_600_000, day + 86_400_000);
    const byStart = <T extends { startMs: number }>(a: T, b: T) => a.startMs - b.startMs;
    expect(got.hours.sort(byStart)).toEqual(want.hours.sort(byStart));
    const key = (s: { startMs: number; staff: string }) => `${s.startMs}:${s.staff}`;
    expect(got.staff.sort((a, b) => key(a).localeCompare(key(b)))).toEqual(want.staff.sort((a, b) => key(a).localeCompare(key(b))));
    expect(got.hours.reduce((n, h) => n + h.visits, 0)).toBe(200);
  });

  it('batches: 12 000 points go in 3 write requests, not one per point', async () => {
    const s = await open({ url: server.url, database: 'gw_batch', log: pino({ level: 'silent' }), flushMs: 60_000 });
    try {
      const base = Date.parse('2026-11-26T08:00:00.000Z');
      const vs: Visit[] = Array.from({ length: 12_000 }, (_, i) => ({ store: 'bt', party: `bt-${i}`, outcome: 'missed', entryTime: iso(base + i * 1000), size: 1 }));
      await s.write(vs); // 12 000 ≥ batchPoints: flushed at once, not after flushMs
      expect(s.stats()).toMatchObject({ written: 12_000, rawRequests: 3, backlog: 0 });
      expect((await s.query('bt', base, base + 86_400_000)).length).toBe(12_000);
    } finally {
      await s.close();
    }
  });

  it('takes one write larger than the memory bound whole while the spool is healthy', async () => {
    const s = await open({ url: server.url, database: 'gw_big', log: pino({ level: 'silent' }), maxMemoryPoints: 1000 });
    try {
      const base = Date.parse('2026-11-27T08:00:00.000Z');
      const vs: Visit[] = Array.from({ length: 1000 }, (_, i) => ({ ...late, store: 'big', party: `big-${i}`, entryTime: iso(base + i * 1000) }));
      await s.write(vs); // 2000 points: visits and their greetings
      expect(s.stats()).toMatchObject({ dropped: 0, written: 2000, backlog: 0 });
      expect((await s.query('big', base, base + 86_400_000)).length).toBe(1000);
    } finally {
      await s.close();
    }
  });

  it('stores sensor events, orphan greets and node health samples with fixed field types', async () => {
    const ev = { specversion: '1.0', id: 'e-1', source: '/stores/s1/nodes/door-1', type: 'greetwatch.entry.v1', time: iso(T0 + 5000), bootid: 'b1', seq: 7, datacontenttype: 'application/json', data: { sensor: 'beam', direction: 'in' } } as const;
    await store.record([
      { kind: 'event', store: 's1', event: ev, recvMs: T0 + 5050 },
      { kind: 'event', store: 's1', event: ev, recvMs: T0 + 5050 }, // a duplicate is the same point
      { kind: 'orphan', store: 's1', t: T0 + 9000, staff: 'anna' },
      {
        kind: 'health',
        store: 's1',
        t: T0 + 60_000,
        health: { node: 'door-1', online: true, lastSeen: iso(T0), bootid: 'b1', fw: '1', offsetMs: 12.5, clockFlag: false, events: 7, duplicates: 1, lost: 0, tooLate: 0, rejected: { GW_ERR_EVENT_JSON: 2 }, outbox: 0, dropped: 0 },
      },
    ]);
    await store.flush();
    const db = new InfluxDB({ host: '127.0.0.1', port: server.port, database: 'gw_test' });
    const events = (await db.query(`SELECT * FROM raw.event WHERE store = 's1'`)) as unknown as Record<string, unknown>[];
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ node: 'door-1', type: 'entry', id: 'e-1', seq: 7, sensor: 'beam', direction: 'in' });
    const orphans = (await db.query(`SELECT * FROM raw.greeting WHERE orphan = true`)) as unknown as Record<string, unknown>[];
    expect(orphans).toHaveLength(1);
    expect(orphans[0]).toMatchObject({ staff: 'anna' });
    const health = (await db.query(`SELECT * FROM raw.node_health`)) as unknown as Record<string, unknown>[];
    expect(health[0]).toMatchObject({ node: 'door-1', online: true, offset_ms: 12.5, rejected: 2, duplicates: 1 });
  });

  it('drops an unwritable visit with GW_ERR_STORE_IO and keeps the rest flowing', async () => {
    const before = store.stats().dropped;
    const bad: Visit = { ...missed, store: 'inv', party: 'bad', size: 0 };
    const good: Visit = { ...missed, store: 'inv', party: 'good' };
    await expect(store.write([bad, good])).resolves.toBeUndefined();
    expect(store.stats().dropped).toBe(before + 1);
    expect(store.backlog()).toBe(0);
    expect(await store.query('inv', T0, T0 + 3_600_000)).toEqual([good]);
    expect(logs.lines().some((l) => l.code === ErrorCodes.STORE_IO && l.party === 'bad')).toBe(true);
  });

  it('drops a point InfluxDB refuses (field type conflict) without blocking the ones after it', async () => {
    // seed a string `size` into the raw shard of T0's day, so an integer size there is refused (400)
    // influxd sends the status before it runs the statement: the body is its result, read to the end
    const q = async (stmt: string) => {
      const res = await fetch(`${server.url}/query?q=${encodeURIComponent(stmt)}`, { method: 'POST' });
      return `${res.status} ${(await res.text()).includes('"error"') ? 'error' : 'ok'}`;
    };
    expect(await q('CREATE DATABASE gw_conflict')).toBe('200 ok');
    expect(await q('CREATE RETENTION POLICY raw ON gw_conflict DURATION 90d REPLICATION 1 DEFAULT')).toBe('200 ok');
    const seeded = await fetch(`${server.url}/write?db=gw_conflict&rp=raw&precision=ms`, { method: 'POST', body: `visit,store=zz size="big" ${T0}` });
    expect(`${seeded.status} ${await seeded.text()}`).toBe('204 ');
    const logs2 = captureLog();
    const s = await open({ url: server.url, database: 'gw_conflict', log: logs2.log });
    try {
      const nextWeek = T0 + 7 * 86_400_000;
      const okBefore: Visit = { ...missed, party: 'ok-before', entryTime: iso(nextWeek) };
      const refused: Visit = { ...missed, party: 'refused' };
      const okAfter: Visit = { ...late, party: 'ok-after', entryTime: iso(nextWeek + 1000) };
      await s.write([okBefore, refused, okAfter]);
      expect(s.stats()).toMatchObject({ dropped: 1, backlog: 0 });
      expect((await s.query('s1', T0, nextWeek + 60_000)).sort(byParty)).toEqual([okBefore, okAfter].sort(byParty));
      expect(logs2.lines().some((l) => l.code === ErrorCodes.STORE_IO && l.party === 'refused')).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('refuses a store that is not an id instead of building a query from it', async () => {
    await expect(store.query("s1' OR store =~ /.*/ OR store = '", T0, T0 + 1)).rejects.toMatchObject({ code: ErrorCodes.BAD_PARAM });
    await expect(store.rollups("s1' OR 1=1", T0, T0 + 1)).rejects.toMatchObject({ code: ErrorCodes.BAD_PARAM });
    await expect(store.query('s1', Number.NaN, T0)).rejects.toBeInstanceOf(GwError);
  });

  it('drains a spool whose points an earlier version kept as JSON, rollups included', async () => {
    // what the spool held before points were spooled as line-protocol lines
    const spoolDir = newSpool();
    const old = await openSpool({ dir: spoolDir, log: pino({ level: 'silent' }) });
    const legacy: Visit[] = [metWithStaff, missed].map((v) => ({ ...v, store: 'leg' }));
    await old.append(legacy.flatMap((v) => [visitPoint(v), greetingPoint(v)].filter((p) => p !== null).map((p) => JSON.stringify(p))));
    await old.append([JSON.stringify(visitPoint({ ...late, store: 'leg' })), '{"measurement":"visit","tags":{"store":"leg"},"fields":{"size":"two"}']);
    await old.close();
    const s = await open({ url: server.url, database: 'gw_legacy', log: pino({ level: 'silent' }), spoolDir });
    try {
      await waitFor(() => s.backlog() === 0, 'the legacy spool to drain');
      expect((await s.query('leg', T0, T0 + 3_600_000)).sort(byParty)).toEqual([...legacy, { ...late, store: 'leg' }].sort(byParty));
      expect(s.stats()).toMatchObject({ written: 4, dropped: 1 }); // the unreadable JSON point is dropped, said
      const r = await s.rollups('leg', T0, T0 + 3_600_000);
      expect(r.hours.reduce((n, h) => n + h.visits, 0)).toBe(3);
    } finally {
      await s.close();
    }
  });

  it('reaches InfluxDB at an IPv6 address', async () => {
    const proxy = await startTcpProxy({ port: server.port }, { host: '::1' });
    const s = await open({ url: proxy.url('http'), database: 'gw_ipv6', log: pino({ level: 'silent' }) });
    try {
      await s.write([{ ...missed, store: 'v6' }]);
      expect(s.stats()).toMatchObject({ written: 1, failures: 0 });
      expect(await s.query('v6', T0, T0 + 3_600_000)).toEqual([{ ...missed, store: 'v6' }]);
      expect(proxy.stats().forwarded).toBeGreaterThan(0);
    } finally {
      await s.close();
      await proxy.close();
    }
  });
});

describe('influxVisitStore when InfluxDB is down', () => {
  it('spools writes while nothing listens, then drains once a server starts on that port', async () => {
    const port = await freePort();
    const logs = captureLog();
    const store = await open({ url: `http://127.0.0.1:${port}`, database: 'gw_outage', log: logs.log });
    let server: TestInfluxd | null = null;
    try {
      await expect(store.write([metWithStaff, late])).resolves.toBeUndefined();
      await expect(store.write([walkout])).resolves.toBeUndefined();
      expect(store.backlog()).toBe(5); // three visits and the two greetings
      expect(store.health()).toMatchObject({ state: 'down', spool: 5 });
      expect(store.stats().failures).toBeGreaterThan(0);
      expect(logs.lines().some((l) => l.code === ErrorCodes.STORE_IO && l.name === 'hub:influx-store')).toBe(true);
      await expect(store.query('s1', T0, T0 + 3_600_000)).rejects.toMatchObject({ code: ErrorCodes.STORE_IO });

      server = await startTestInfluxd({ httpPort: port });
      await waitFor(() => store.backlog() === 0, 'the spool to drain');
      const got = await store.query('s1', T0, T0 + 3_600_000);
      expect([...got].sort(byParty)).toEqual([metWithStaff, late, walkout].sort(byParty));
      expect(store.stats()).toMatchObject({ written: 5, dropped: 0, backlog: 0 });
      expect(store.health()).toEqual({ state: 'up', spool: 0 });
    } finally {
      await store.close();
      await server?.stop();
    }
  });

  it('survives an influxd restart: writes during the outage arrive, earlier ones persist', async () => {
    const server = await startTestInfluxd();
    const store = await open({ url: server.url, database: 'gw_restart', log: pino({ level: 'silent' }) });
    try {
      await store.write([twinA]);
      expect(store.backlog()).toBe(0);

      await server.stopServer();
      await store.write([twinB]);
      await store.write([missed]);
      expect(store.backlog()).toBe(3); // two visits and twinB's greeting

      await server.restart();
      await waitFor(() => store.backlog() === 0, 'the spool to drain after restart');
      const got = await store.query('s1', T0, T0 + 3_600_000);
      expect([...got].sort(byParty)).toEqual([twinA, twinB, missed].sort(byParty));
    } finally {
      await store.close();
      await server.stop();
    }
  });

  it('keeps what InfluxDB never took across a restart of the hub: the next store on the spool writes it, once', async () => {
    const port = await freePort();
    const spoolDir = newSpool();
    const first = await open({ url: `http://127.0.0.1:${port}`, database: 'gw_spool', log: pino({ level: 'silent' }), spoolDir, closeTimeoutMs: 200 });
    await first.write([metWithStaff, missed]);
    await expect(first.close()).resolves.toBeUndefined();
    expect(first.stats().dropped).toBe(0);

    const server = await startTestInfluxd({ httpPort: port });
    const second = await open({ url: server.url, database: 'gw_spool', log: pino({ level: 'silent' }), spoolDir });
    try {
      await waitFor(() => second.backlog() === 0, 'the spool left by the first store to drain');
      expect((await second.query('s1', T0, T0 + 3_600_000)).sort(byParty)).toEqual([metWithStaff, missed].sort(byParty));
      expect(second.stats().written).toBe(3);
      await second.close();
      // a third start finds nothing left to write
      const third = await open({ url: server.url, database: 'gw_spool', log: pino({ level: 'silent' }), spoolDir });
      expect(third.backlog()).toBe(0);
      await third.close();
    } finally {
      await second.close();
      await server.stop();
    }
  });

  it('bounds the spool, dropping the oldest points with GW_ERR_STORE_IO', async () => {
    const port = await freePort();
    const logs = captureLog();
    const store = await open({ url: `http://127.0.0.1:${port}`, database: 'gw_cap', log: logs.log, spoolMaxBytes: 4096, closeTimeoutMs: 200 });
    try {
      for (let i = 0; i < 40; i++) await store.write([{ ...missed, party: `cap-${i}` }]);
      expect(store.stats().dropped).toBeGreaterThan(0);
      expect(store.backlog()).toBeLessThan(40);
      expect(store.backlog() + store.stats().dropped).toBe(40);
      expect(logs.lines().some((l) => l.code === ErrorCodes.STORE_IO && l.name === 'hub:spool')).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('close() gives up on an unreachable server in bounded time, never rejects, and loses nothing', async () => {
    const port = await freePort();
    const logs = captureLog();
    const store = await open({ url: `http://127.0.0.1:${port}`, database: 'gw_close', log: logs.log, closeTimeoutMs: 500 });
    await store.write([missed]);
    expect(store.backlog()).toBe(1);
    await expect(store.close()).resolves.toBeUndefined();
    expect(store.stats().dropped).toBe(0);
    await expect(store.write([late])).resolves.toBeUndefined();
    expect(logs.lines().some((l) => l.code === ErrorCodes.STORE_IO && l.points === 2)).toBe(true); // written after close: refused, said
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino, type Logger } from 'pino';
import { ErrorCodes, GwError, type Visit } from '../../contract/index.ts';
import { freePort } from '../../hub/influxd.ts';
import { influxVisitStore, subMsNanos, type InfluxVisitStore } from '../../hub/influx-store.ts';
import { startTestInfluxd, waitFor, type TestInfluxd } from '../helpers/influxd.ts';

// Against a real influxd (test/helpers/influxd.ts). No timed assertions: outages and
// recoveries are observed by polling with a bounded wait.

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const byParty = (a: Visit, b: Visit) => a.party.localeCompare(b.party);

/** a pino logger whose JSON lines the test can read */
function captureLog(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void raw.push(s) });
  return { log, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

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
    store = influxVisitStore({ url: server.url, database: 'gw_test', log: logs.log, retryMs: 50 });
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
    const got = await store.query('s1', T0, T0 + 3_600_000);
    expect([...got].sort(byParty)).toEqual([metWithStaff, late, walkout, shortWalkout, missed, twinA, twinB].sort(byParty));
    expect(await store.query('s2', T0, T0 + 3_600_000)).toEqual([otherStore]);
    expect(await store.query('s3', T0, T0 + 3_600_000)).toEqual([]);
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

  it('does not duplicate a visit written again', async () => {
    const v: Visit = { ...late, store: 'dup', party: 'dup-1' };
    await store.write([v]);
    await store.write([v, v]);
    await store.write([{ ...v }]);
    expect(await store.query('dup', T0, T0 + 3_600_000)).toEqual([v]);
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

  it('drops a visit InfluxDB refuses (field type conflict) without blocking the ones after it', async () => {
    // seed a float `size` into the shard of week T0, so an integer size there is refused (400)
    const q = async (stmt: string) => (await fetch(`${server.url}/query?q=${encodeURIComponent(stmt)}`, { method: 'POST' })).status;
    expect(await q('CREATE DATABASE gw_conflict')).toBe(200);
    const seeded = await fetch(`${server.url}/write?db=gw_conflict&precision=ms`, { method: 'POST', body: `visit,store=zz,outcome=met size=1.5 ${T0}` });
    expect(seeded.status).toBe(204);
    const logs2 = captureLog();
    const s = influxVisitStore({ url: server.url, database: 'gw_conflict', log: logs2.log, retryMs: 50 });
    try {
      const nextMonth = T0 + 30 * 86_400_000;
      const okBefore: Visit = { ...missed, party: 'ok-before', entryTime: iso(nextMonth) };
      const refused: Visit = { ...missed, party: 'refused' };
      const okAfter: Visit = { ...late, party: 'ok-after', entryTime: iso(nextMonth + 1000) };
      await s.write([okBefore, refused, okAfter]);
      expect(s.stats()).toMatchObject({ dropped: 1, backlog: 0 });
      expect((await s.query('s1', T0, nextMonth + 60_000)).sort(byParty)).toEqual([okBefore, okAfter].sort(byParty));
      expect(logs2.lines().some((l) => l.code === ErrorCodes.STORE_IO && l.party === 'refused')).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('refuses a store that is not an id instead of building a query from it', async () => {
    await expect(store.query("s1' OR store =~ /.*/ OR store = '", T0, T0 + 1)).rejects.toMatchObject({ code: ErrorCodes.BAD_PARAM });
    await expect(store.query('s1', Number.NaN, T0)).rejects.toBeInstanceOf(GwError);
  });
});

describe('influxVisitStore when InfluxDB is down', () => {
  it('buffers writes while nothing listens, then drains once a server starts on that port', async () => {
    const port = await freePort();
    const logs = captureLog();
    const store = influxVisitStore({ url: `http://127.0.0.1:${port}`, database: 'gw_outage', log: logs.log, retryMs: 50 });
    let server: TestInfluxd | null = null;
    try {
      await expect(store.write([metWithStaff, late])).resolves.toBeUndefined();
      await expect(store.write([walkout])).resolves.toBeUndefined();
      expect(store.backlog()).toBe(3);
      expect(store.stats().failures).toBeGreaterThan(0);
      expect(logs.lines().some((l) => l.code === ErrorCodes.STORE_IO && l.name === 'hub:influx-store')).toBe(true);
      await expect(store.query('s1', T0, T0 + 3_600_000)).rejects.toMatchObject({ code: ErrorCodes.STORE_IO });

      server = await startTestInfluxd({ httpPort: port });
      await waitFor(() => store.backlog() === 0, 'the backlog to drain');
      const got = await store.query('s1', T0, T0 + 3_600_000);
      expect([...got].sort(byParty)).toEqual([metWithStaff, late, walkout].sort(byParty));
      expect(store.stats()).toMatchObject({ written: 3, dropped: 0, backlog: 0 });
    } finally {
      await store.close();
      await server?.stop();
    }
  });

  it('survives an influxd restart: writes during the outage arrive, earlier ones persist', async () => {
    const server = await startTestInfluxd();
    const store = influxVisitStore({ url: server.url, database: 'gw_restart', log: pino({ level: 'silent' }), retryMs: 50 });
    try {
      await store.write([twinA]);
      expect(store.backlog()).toBe(0);

      await server.stopServer();
      await store.write([twinB]);
      await store.write([missed]);
      expect(store.backlog()).toBe(2);

      await server.restart();
      await waitFor(() => store.backlog() === 0, 'the backlog to drain after restart');
      const got = await store.query('s1', T0, T0 + 3_600_000);
      expect([...got].sort(byParty)).toEqual([twinA, twinB, missed].sort(byParty));
    } finally {
      await store.close();
      await server.stop();
    }
  });

  it('caps the backlog, dropping the oldest visits with GW_ERR_STORE_IO', async () => {
    const port = await freePort();
    const logs = captureLog();
    const store = influxVisitStore({ url: `http://127.0.0.1:${port}`, database: 'gw_cap', log: logs.log, retryMs: 50, maxBacklog: 2, closeTimeoutMs: 200 });
    try {
      await store.write([metWithStaff, late, walkout]);
      expect(store.stats()).toMatchObject({ backlog: 2, dropped: 1 });
      expect(logs.lines().some((l) => l.code === ErrorCodes.STORE_IO && l.first === metWithStaff.party)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('close() gives up on an unreachable server in bounded time and never rejects', async () => {
    const port = await freePort();
    const logs = captureLog();
    const store = influxVisitStore({ url: `http://127.0.0.1:${port}`, database: 'gw_close', log: logs.log, retryMs: 50, closeTimeoutMs: 500 });
    await store.write([missed]);
    expect(store.backlog()).toBe(1);
    await expect(store.close()).resolves.toBeUndefined();
    expect(store.stats().dropped).toBe(1);
    await expect(store.write([late])).resolves.toBeUndefined();
    expect(logs.lines().some((l) => l.code === ErrorCodes.STORE_IO && l.lost === 1)).toBe(true);
  });
});

// A full spool disk (README "History"): what the spool already holds still goes to InfluxDB
// once it is up, while new points wait in memory; a failed append is not an InfluxDB outage
// (its backoff would hold the drain back, and the drain is what frees the disk). The "full
// disk" is the spool's file operations (`spoolFs`) refusing writes on demand, as ENOSPC does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Visit } from '../../contract/index.ts';
import { nodeSpoolFs, type SpoolFile, type SpoolFs } from '../../hub/history/spool.ts';
import { influxVisitStore } from '../../hub/influx-store.ts';
import { freePort } from '../../hub/influxd.ts';
import { startTestInfluxd, waitFor, type TestInfluxd } from '../helpers/influxd.ts';

const disk = { full: false };
const base = nodeSpoolFs();
const wrap = (h: SpoolFile): SpoolFile => ({
  write: (buf, off, len) => (disk.full ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })) : h.write(buf, off, len)),
  datasync: () => h.datasync(),
  sync: () => h.sync(),
  truncate: (n) => h.truncate(n),
  close: () => h.close(),
});
const fullableFs: SpoolFs = { ...base, open: async (f, flags) => wrap(await base.open(f, flags)) };

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const visit = (party: string, ms: number): Visit => ({
  store: 's1',
  party,
  outcome: 'missed',
  entryTime: new Date(T0 + ms).toISOString(),
  size: 1,
  closedTime: new Date(T0 + ms + 600_000).toISOString(),
});

describe('history store while the spool disk is full', () => {
  const dirs: string[] = [];
  let server: TestInfluxd | null = null;
  afterEach(async () => {
    disk.full = false;
    await server?.stop();
    server = null;
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('still drains the points already in the spool once InfluxDB is up', async () => {
    const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-spool-fulldrain-'));
    dirs.push(spoolDir);
    const port = await freePort();
    const store = await influxVisitStore({ url: `http://127.0.0.1:${port}`, database: 'gw_fulldrain', spoolDir, flushMs: 5, retryMs: 50, closeTimeoutMs: 300, log: pino({ level: 'silent' }), spoolFs: fullableFs });
    try {
      // InfluxDB down: A goes to the spool (durable)
      const a = visit('01JDB7Q3ZC8K9V2M4N6P8R0TAA', 1_000);
      await store.write([a]);
      expect(store.backlog()).toBe(1);

      // the disk fills up: B stays in memory
      disk.full = true;
      const b = visit('01JDB7Q3ZC8K9V2M4N6P8R0TBB', 2_000);
      await store.write([b]);
      expect(store.backlog()).toBe(2);

      // InfluxDB comes back; the disk is still full. A is on disk and InfluxDB is up: it must get there.
      server = await startTestInfluxd({ httpPort: port });
      const inInflux = async () => (await store.query('s1', T0, T0 + 3_600_000).catch((): Visit[] => [])).map((v) => v.party).sort();
      await waitFor(async () => (await inInflux()).length > 0, 'the spooled visit to reach InfluxDB while the disk is full');
      expect(await inInflux()).toEqual([a.party]);
      // InfluxDB is up; what is wrong is the disk, and /live says so
      expect(store.health()).toEqual({ state: 'up', spool: 1, lastError: expect.stringMatching(/^spool: cannot write .*ENOSPC/) as unknown });

      // room again: B goes to the spool at the next flush, then on to InfluxDB
      disk.full = false;
      await waitFor(async () => (await inInflux()).length === 2, 'the visit kept in memory to reach InfluxDB');
      expect(await inInflux()).toEqual([a.party, b.party].sort());
      await waitFor(() => store.backlog() === 0, 'nothing left to write');
      expect(store.health()).toEqual({ state: 'up', spool: 0 });
    } finally {
      disk.full = false;
      await store.close();
    }
  });
});

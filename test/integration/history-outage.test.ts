import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { InfluxDB } from 'influx';
import pino from 'pino';
import type { Visit } from '../../contract/index.ts';
import { influxVisitStore, type InfluxVisitStore } from '../../hub/influx-store.ts';
import { startTestInfluxd, waitFor, type TestInfluxd } from '../helpers/influxd.ts';
import { startRig, type Rig } from '../helpers/rig.ts';

// README "History": InfluxDB stops while a store is busy, the hub is restarted during the
// outage, InfluxDB comes back. Every final visit reaches InfluxDB exactly once: the points
// waited in the on-disk spool, which the restarted hub found and drained.

let influxd: TestInfluxd | undefined;
const rigs: Rig[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const r of rigs) await r.stop();
  await influxd?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const silent = pino({ level: 'silent' });

/** one party walks in and is greeted; resolves with its final visit */
async function visit(rig: Rig): Promise<Visit> {
  const final = new Promise<Visit>((resolve) => {
    const off = rig.hub.ctx.bus.on('visit:final', ({ visit: v }) => {
      off();
      resolve(v);
    });
  });
  await rig.walkIn();
  await waitFor(() => rig.hub.ctx.runtime.live!.snapshot().open.length === 1, 'the party waiting');
  await rig.greet();
  return final;
}

it('keeps every visit through an InfluxDB outage and a hub restart, and writes each once', async () => {
  influxd = await startTestInfluxd();
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-outage-spool-'));
  dirs.push(spoolDir);
  const open = (): Promise<InfluxVisitStore> => influxVisitStore({ url: influxd!.url, database: 'outage', spoolDir, log: silent, flushMs: 20, retryMs: 50, closeTimeoutMs: 300 });
  const db = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: 'outage' });
  const stored = async (): Promise<string[]> => ((await db.query('SELECT party FROM raw.visit')) as unknown as { party: string }[]).map((r) => r.party).sort();

  const store1 = await open();
  const rig1 = await startRig({ store: store1 });
  rigs.push(rig1);
  const before = [await visit(rig1), await visit(rig1)];
  await waitFor(async () => (await stored()).length === 2, 'two visits in InfluxDB');

  // InfluxDB goes away mid-stream; the store keeps going
  await influxd.stopServer();
  const during = [await visit(rig1), await visit(rig1)];
  await waitFor(() => store1.health().state === 'down' && store1.backlog() >= 2, 'the visits spooled while InfluxDB is down');
  expect(rig1.hub.ctx.runtime.live!.snapshot().history).toMatchObject({ state: 'down' });

  // the hub restarts during the outage: what InfluxDB never took is still in the spool
  await rig1.stop();
  rigs.splice(rigs.indexOf(rig1), 1);
  expect(store1.stats().dropped).toBe(0);
  const store2 = await open();
  expect(store2.backlog()).toBeGreaterThanOrEqual(2);
  const rig2 = await startRig({ store: store2 });
  rigs.push(rig2);
  const after = [await visit(rig2)];

  await influxd.restart();
  const all = [...before, ...during, ...after].map((v) => v.party).sort();
  await waitFor(async () => {
    try {
      return (await stored()).length === all.length && store2.backlog() === 0;
    } catch {
      return false; // influxd still starting
    }
  }, 'every visit in InfluxDB');
  expect(await stored()).toEqual(all);
  const n = (await db.query('SELECT count(party) AS n FROM raw.visit')) as unknown as { n: number }[];
  expect(n[0]?.n).toBe(5); // each once
  expect(store2.health()).toEqual({ state: 'up', spool: 0 });
});

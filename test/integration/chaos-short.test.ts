import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { Value } from '@sinclair/typebox/value';
import { describe, it, type ExpectStatic } from 'vitest';
import { sourceOf, topics, type Report } from '../../contract/index.ts';
import { StoreConfig } from '../../firmware-config/schema.ts';
import { startHub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { SHORT_SCALE, hasPrlimit, hubKill, linkCut, traceFull, traceShortWrite, type ChaosResult } from '../helpers/chaos.ts';
import { apiAuth, password, withLogins } from '../helpers/logins.ts';

// The short CI version of `npm run chaos` (bench/chaos.ts; the scenarios are in
// test/helpers/chaos.ts): a real hub and simulated nodes on 127.0.0.1, a fault while traffic
// flows, then README "Reliability" and CONTRACT.md "Replay" checked end to end: no seq of any
// bootid missing from the hub's trace, no event counted twice, and the hub's /report equal to
// `greetwatch replay` of its own trace. Small rates and short phases; the scenarios are
// independent (own temp dir, ports, processes), so they run side by side.

function expectClean(expect: ExpectStatic, r: ChaosResult): void {
  const why = [...r.diff, ...r.problems, ...r.notes].join('\n');
  expect(r.built, `nothing was sent: ${why}`).toBeGreaterThan(5);
  expect(r.lost, why).toBe(0);
  expect(r.doubled, why).toBe(0);
  expect(r.traced, why).toBe(r.built);
  expect(r.diff, why).toEqual([]);
  expect(r.problems, why).toEqual([]);
}

describe.concurrent('chaos, short', () => {
  it('the hub SIGKILLed under load and restarted on its data dir: nothing lost or doubled, report == replay', async ({ expect }) => {
    expectClean(expect, await hubKill(SHORT_SCALE));
  }, 120_000);

  it('the link between the nodes and the hub cut and restored: nothing lost or doubled, report == replay', async ({ expect }) => {
    expectClean(expect, await linkCut(SHORT_SCALE));
  }, 120_000);

  it('trace writes failing (disk full, as the recorder reports it): the nodes keep their events, nothing lost after', async ({ expect }) => {
    expectClean(expect, await traceFull(SHORT_SCALE));
  }, 120_000);

  // A real full disk, not a wrapped recorder: the hub process runs under RLIMIT_FSIZE (prlimit),
  // so the kernel cuts the write that reaches the limit short and refuses the next ones (EFBIG),
  // as a full disk does. This scenario found the recorder acknowledging such a short write (its
  // bytesWritten ignored: torn line, the next line glued onto it, acknowledged events missing
  // from the trace and /report ≠ replay); fixed in eb2d9e0 (the rest is written or the file is
  // cut back). Kept as the regression check.
  // skipped only where util-linux's prlimit is missing: it sets the hub's file-size limit (a full disk)
  (hasPrlimit() ? it : it.skip)('the trace disk really full (short writes, EFBIG): nothing lost or torn, report == replay', async ({ expect }) => {
    expectClean(expect, await traceShortWrite(SHORT_SCALE));
  }, 120_000);

  // Found by `npm run chaos` (hub-kill-late: TTGs differed): after a quiet spell longer than
  // reorderS, the live hub judged "later than reorderS" against its last tick while replay had
  // moved on with the event's recvtime. The engine now moves hub time with every event it
  // receives, so ticks change nothing. Reproduced with the hub on an injected clock: an entry
  // and an earlier greet arrive together after the gap; CONTRACT.md "Replay" promises the
  // live report and the replay agree.
  it('events later than reorderS after a quiet spell: the live report equals the replay', async ({ expect }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-chaos-late-'));
    const base = Math.floor(Date.now() / 1000) * 1000;
    let offsetMs = 0;
    const cfg = await withLogins(
      Value.Default(StoreConfig, {
        store: { id: 'late', timezone: 'UTC' },
        rules: { reorderS: 2, greetLeadS: 0 },
        staff: [{ id: 'anna' }],
        nodes: [
          { id: 'door', sensors: [{ id: 'beam', kind: 'beam-pair', outerPin: 1, innerPin: 2 }] },
          { id: 'counter', buttons: [{ id: 'fob', kind: 'fob', action: 'greet', staff: 'anna' }] },
        ],
        hub: { mqtt: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, influx: { managed: false } },
      }) as StoreConfig,
    );
    const cfgFile = path.join(dir, 'store.yaml');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    // tickMs long: the one tick is the one at start, so the gap below has no tick in it
    const hub = await startHub({ config: cfg, dataDir: path.join(dir, 'hub'), clock: { now: () => base + offsetMs }, log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), tickMs: 3_600_000 });
    try {
      // 20 s later on the hub's clock (nothing arrived meanwhile), then an entry at +17 s and a greet at +16.5 s
      offsetMs = 20_000;
      const at = (s: number) => new Date(base + s * 1000).toISOString();
      const send = async (node: string, id: string, type: string, timeS: number, data: Record<string, string>) => {
        const c = await mqtt.connectAsync(hub.mqttUrl, { username: node, password: password(node), reconnectPeriod: 0 });
        // sent when it arrives (senttime = hub time): the clock offset estimate stays 0
        const ev = { specversion: '1.0', id, source: sourceOf('late', node), type, time: at(timeS), senttime: at(20), bootid: `${node}-boot`, seq: 1, data };
        await c.publishAsync(topics.events('late', node), JSON.stringify(ev), { qos: 1 });
        await c.endAsync();
      };
      await send('door', 'e1', 'greetwatch.entry.v1', 17, { sensor: 'beam', direction: 'in' });
      await send('counter', 'g1', 'greetwatch.greet.v1', 16.5, { button: 'fob' });
      const q = `from=${at(-3600)}&to=${at(3600)}`;
      const live = (await (await fetch(`${hub.httpUrl}/api/stores/late/report?${q}`, { headers: apiAuth })).json()) as Report;
      const traces = path.join(dir, 'hub', 'traces');
      const all = path.join(dir, 'all.jsonl');
      fs.writeFileSync(all, fs.readdirSync(traces).map((f) => fs.readFileSync(path.join(traces, f), 'utf8')).join(''));
      const bin = path.resolve(import.meta.dirname, '../../bin/greetwatch.mjs');
      const { stdout } = await promisify(execFile)(process.execPath, [bin, 'replay', all, '--config', cfgFile, '--from', at(-3600), '--to', at(3600)]);
      const replayed = JSON.parse(stdout) as Report;
      expect(replayed).toEqual(live);
    } finally {
      await hub.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

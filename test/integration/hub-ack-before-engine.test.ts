import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { sourceOf, topics } from '../../contract/index.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { captureLog } from '../helpers/capture-log.ts';
import { password } from '../helpers/logins.ts';
import { testStore } from '../helpers/store-config.ts';
import { waitFor } from '../helpers/wait.ts';

// An event is acknowledged once it is durable in the trace; what listens on the bus gets it
// after that (hub/plugins/ingest.ts). So a listener that fails can neither hold a PUBACK back
// nor keep the engine from the events of the same commit.

let hub: Hub | undefined;
let dir: string | undefined;
afterAll(async () => {
  await hub?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('acknowledgement before the bus', () => {
  it('a bus listener that throws on every event: every publish acknowledged, the engine has them all, each failure logged', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-ackfirst-'));
    const cfg = await testStore({
      store: { id: 'af', timezone: 'UTC' },
      nodes: [{ id: 'door', sensors: [{ id: 'beam', kind: 'beam-pair', outerPin: 1, innerPin: 2 }] }],
    });
    const { log, lines } = captureLog('error');
    hub = await startHub({ config: cfg, dataDir: dir, log, store: memoryVisitStore('memory') });
    let calls = 0;
    // after the hub's own listeners (the engine's among them), as a faulty plugin's would be
    hub.ctx.bus.on('event:accepted', () => {
      calls++;
      throw new Error('listener fault');
    });
    const c = await mqtt.connectAsync(hub.mqttUrl, { username: 'door', password: password('door'), reconnectPeriod: 0 });
    const n = 50;
    const t0 = Date.now() - 60_000;
    const ev = (seq: number) => ({
      specversion: '1.0',
      id: `e${seq}`,
      source: sourceOf('af', 'door'),
      type: 'greetwatch.entry.v1',
      time: new Date(t0 + seq * 100).toISOString(),
      bootid: 'b',
      seq,
      data: { sensor: 'beam', direction: 'in' },
    });
    // publishAsync resolves on the PUBACK
    await Promise.all(Array.from({ length: n }, (_, i) => c.publishAsync(topics.events('af', 'door'), JSON.stringify(ev(i + 1)), { qos: 1 })));
    await c.endAsync();
    const live = hub.ctx.runtime.live!;
    await waitFor(() => live.nodes().find((x) => x.node === 'door')?.events === n && calls === n, 'every event reached the engine and the faulty listener');
    expect(hub.ctx.recorder.stats()).toMatchObject({ written: n, failed: 0 });
    const failures = lines().filter((l) => l.msg === 'a listener failed on an accepted event');
    expect(failures).toHaveLength(n);
    expect(failures[0]).toMatchObject({ name: 'hub:ingest', node: 'door', err: { message: 'listener fault' } });
  });
});

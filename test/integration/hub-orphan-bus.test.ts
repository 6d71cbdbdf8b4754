import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { Value } from '@sinclair/typebox/value';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveSnapshot, sourceOf, topics } from '../../contract/index.ts';
import type { BusEvents } from '../../hub/bus.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { password } from '../helpers/logins.ts';
import { testStore } from '../helpers/store-config.ts';
import { waitFor } from '../helpers/wait.ts';
import { noonZone } from '../helpers/noon-zone.ts';

// A greet no party took (CONTRACT.md "greetLeadS") goes on the bus as `greet:orphan` once final,
// as a visit goes as `visit:final`; and /live says what history is doing. A real hub and broker
// on an injected clock, so time passes the deadlines without waiting for them.

let hub: Hub | undefined;
let dir: string | undefined;
afterAll(async () => {
  await hub?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('orphan greets on the bus', () => {
  it('emits greet:orphan with the store, time and staff of a greet no party took', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-orphan-'));
    const base = Math.floor(Date.now() / 1000) * 1000;
    let offsetMs = 0;
    const cfg = await testStore({
      store: { id: 'or', timezone: noonZone(base) },
      rules: { reorderS: 1, greetLeadS: 2 },
      staff: [{ id: 'anna' }],
      nodes: [{ id: 'counter', buttons: [{ id: 'btn', debounceMs: 0, holdAction: 'none' }] }],
    });
    hub = await startHub({ config: cfg, dataDir: dir, clock: { now: () => base + offsetMs }, log: pino({ level: 'silent' }), store: memoryVisitStore('memory only'), tickMs: 20 });
    const orphans: Array<BusEvents['greet:orphan']> = [];
    hub.ctx.bus.on('greet:orphan', (o) => orphans.push(o));

    const snap = hub.ctx.runtime.live!.snapshot();
    expect(Value.Check(LiveSnapshot, snap)).toBe(true);
    expect(snap.history).toEqual({ enabled: false, detail: 'memory only', state: 'off', spool: 0 });

    const c = await mqtt.connectAsync(hub.mqttUrl, { username: 'counter', password: password('counter'), reconnectPeriod: 0 });
    const at = new Date(base).toISOString();
    const ev = { specversion: '1.0', id: 'g1', source: sourceOf('or', 'counter'), type: 'greetwatch.greet.v1', time: at, senttime: at, bootid: 'b', seq: 1, data: { button: 'btn', staff: 'anna' } };
    await c.publishAsync(topics.events('or', 'counter'), JSON.stringify(ev), { qos: 1 });
    await c.endAsync();
    await waitFor(() => hub!.ctx.runtime.live!.snapshot().nodes.some((n) => n.node === 'counter' && n.events === 1), 'the greet accepted');
    offsetMs = 10_000; // past greetLeadS, then reorderS: the orphan is final
    await waitFor(() => orphans.length > 0, 'the orphan greet final');
    expect(orphans).toEqual([{ store: 'or', t: base, staff: 'anna' }]);
    expect(hub.ctx.runtime.live!.snapshot().today.orphanGreets).toBe(1);
  });
});

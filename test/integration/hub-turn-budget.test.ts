import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { sourceOf, topics, type GwEvent } from '../../contract/index.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { turnBudget } from '../../hub/turn-budget.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { password } from '../helpers/logins.ts';
import { testStore } from '../helpers/store-config.ts';
import { waitFor } from '../helpers/wait.ts';

// hub/turn-budget.ts wired into a real hub and broker: with a zero budget every publish after
// the first of a turn waits for a later one (at the gate, and again once durable), as they do
// in a burst. Nothing may be lost, doubled or reordered on the way: every event acknowledged,
// in the trace in the order sent, and seen by the engine once.

let hub: Hub | undefined;
let dir: string | undefined;
afterAll(async () => {
  await hub?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('publish handling over several turns of the loop', () => {
  it('a burst handled a task a turn: all acknowledged, traced in order, and counted by the engine once each', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-turn-'));
    const cfg = await testStore({
      store: { id: 'tb', timezone: 'UTC' },
      nodes: [{ id: 'door', sensors: [{ id: 'beam', kind: 'beam-pair', outerPin: 1, innerPin: 2 }] }],
    });
    const errors: unknown[] = [];
    const turn = turnBudget({ budgetMs: 0, onError: (err) => errors.push(err) });
    hub = await startHub({ config: cfg, dataDir: dir, log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), turn });
    const c = await mqtt.connectAsync(hub.mqttUrl, { username: 'door', password: password('door'), reconnectPeriod: 0 });
    const n = 300;
    const t0 = Date.now() - 10 * 60_000;
    const ev = (seq: number) => ({
      specversion: '1.0',
      id: `e${String(seq).padStart(4, '0')}`,
      source: sourceOf('tb', 'door'),
      type: 'greetwatch.entry.v1',
      time: new Date(t0 + seq * 1000).toISOString(),
      bootid: 'b',
      seq,
      data: { sensor: 'beam', direction: 'in' },
    });
    // all written at once: the hub reads many in one turn
    await Promise.all(Array.from({ length: n }, (_, i) => c.publishAsync(topics.events('tb', 'door'), JSON.stringify(ev(i + 1)), { qos: 1 })));
    await c.endAsync();

    const s = turn.stats();
    expect(s.deferred).toBeGreaterThan(0);
    expect(s.yields).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect(hub.ctx.recorder.stats()).toMatchObject({ written: n, failed: 0 });
    const lines = fs.readFileSync(hub.ctx.recorder.files()[0]!, 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as GwEvent).seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const live = hub.ctx.runtime.live!;
    await waitFor(() => live.nodes().find((x) => x.node === 'door')?.events === n, 'the engine has every event');
    expect(live.nodes().find((x) => x.node === 'door')).toMatchObject({ events: n, duplicates: 0 });
    // every PUBACK went before its event reached the engine, and once the engine has them all no task is left
    expect(turn.stats().waiting).toBe(0);
  });
});

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, it } from 'vitest';
import { sourceOf, topics, type Report } from '../../contract/index.ts';
import type { Rules } from '../../firmware-config/schema.ts';
import type { BusEvents } from '../../hub/bus.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { fileTraceRecorder, type TraceRecorder } from '../../hub/trace-recorder.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { apiAuth, password } from '../helpers/logins.ts';
import { testStore } from '../helpers/store-config.ts';
import { waitFor } from '../helpers/wait.ts';

// CONTRACT.md "Replay": the live hub's report equals a replay of its trace. Three ways the live
// hub's own timing could break that, each found by `npm run chaos` (hub-kill-late), each
// reproduced here on an injected clock with a real hub and broker:
//   - after a quiet spell longer than reorderS, the hub judged "later than reorderS" against
//     its last tick while the replay had moved on with the event's recvtime (the engine now
//     moves hub time with every event it receives);
//   - an event moves hub time, and what that made final waited for the next tick to be taken:
//     a report read in between found it neither final nor in the live view;
//   - a tick moved hub time past an event received earlier but still in its trace write, so
//     the engine judged that event against a later hub time than the replay does.

const STORE = 'lr';
const bin = path.resolve(import.meta.dirname, '../../bin/greetwatch.mjs');

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

interface World {
  hub: Hub;
  dir: string;
  cfgFile: string;
  base: number;
  /** sets the hub's clock to base + s seconds */
  setClock(s: number): void;
  /** publishes an event of `node` stamped base + timeS, sent at the hub's clock; resolves on its PUBACK */
  send(node: 'door' | 'counter', id: string, type: string, timeS: number, data: Record<string, string>): Promise<void>;
  /** the hub's report over the hour around base, and the CLI's replay of the trace over the same */
  reports(): Promise<{ live: Report; replayed: Report }>;
}

async function world(rules: Partial<Rules>, opts: { tickMs: number; recorder?: (real: TraceRecorder) => TraceRecorder }): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-live-replay-'));
  const base = Math.floor(Date.now() / 1000) * 1000;
  let offsetMs = 0;
  const cfg = await testStore({
    store: { id: STORE, timezone: 'UTC' },
    rules,
    staff: [{ id: 'anna' }],
    nodes: [
      { id: 'door', sensors: [{ id: 'beam', kind: 'beam-pair', outerPin: 1, innerPin: 2 }] },
      { id: 'counter', buttons: [{ id: 'fob', kind: 'fob', action: 'greet', staff: 'anna' }], indicator: {} },
    ],
  });
  const cfgFile = path.join(dir, 'store.yaml');
  fs.writeFileSync(cfgFile, JSON.stringify(cfg)); // JSON is YAML
  const dataDir = path.join(dir, 'hub');
  const real = fileTraceRecorder(path.join(dataDir, 'traces'), STORE);
  const hub = await startHub({
    config: cfg,
    dataDir,
    clock: { now: () => base + offsetMs },
    log: pino({ level: 'silent' }),
    store: memoryVisitStore('memory'),
    tickMs: opts.tickMs,
    recorder: opts.recorder ? opts.recorder(real) : real,
  });
  const clients = new Map<string, mqtt.MqttClient>();
  cleanup.push(async () => {
    for (const c of clients.values()) await c.endAsync(true);
    await hub.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const seq = new Map<string, number>();
  const at = (s: number) => new Date(base + s * 1000).toISOString();
  return {
    hub,
    dir,
    cfgFile,
    base,
    setClock(s) {
      offsetMs = s * 1000;
    },
    async send(node, id, type, timeS, data) {
      let c = clients.get(node);
      if (!c) clients.set(node, (c = await mqtt.connectAsync(hub.mqttUrl, { username: node, password: password(node), reconnectPeriod: 0 })));
      const n = (seq.get(node) ?? 0) + 1;
      seq.set(node, n);
      // sent as it arrives (senttime = the hub's clock): each node's clock offset estimate stays 0
      const ev = { specversion: '1.0', id, source: sourceOf(STORE, node), type, time: at(timeS), senttime: new Date(base + offsetMs).toISOString(), bootid: `${node}-boot`, seq: n, data };
      await c.publishAsync(topics.events(STORE, node), JSON.stringify(ev), { qos: 1 });
    },
    async reports() {
      const q = `from=${at(-3600)}&to=${at(3600)}`;
      const live = (await (await fetch(`${hub.httpUrl}/api/stores/${STORE}/report?${q}`, { headers: apiAuth })).json()) as Report;
      const traces = path.join(dataDir, 'traces');
      const all = path.join(dir, 'all.jsonl');
      fs.writeFileSync(all, fs.readdirSync(traces).map((f) => fs.readFileSync(path.join(traces, f), 'utf8')).join(''));
      const { stdout } = await promisify(execFile)(process.execPath, [bin, 'replay', all, '--config', cfgFile, '--from', at(-3600), '--to', at(3600)]);
      return { live, replayed: JSON.parse(stdout) as Report };
    },
  };
}

const greet = { button: 'fob' };
const entry = { sensor: 'beam', direction: 'in' };

describe('the live hub finds what a replay of its trace finds', () => {
  it('events later than reorderS after a quiet spell: the report equals the replay', async ({ expect }) => {
    // one tick, at the start: the gap below has no tick in it
    const w = await world({ reorderS: 2, greetLeadS: 0 }, { tickMs: 3_600_000 });
    // 20 s later on the hub's clock, nothing received meanwhile: an entry at 17 s, then a greet at 16.5 s
    w.setClock(20);
    await w.send('door', 'e1', 'greetwatch.entry.v1', 17, entry);
    await w.send('counter', 'g1', 'greetwatch.greet.v1', 16.5, greet);
    const { live, replayed } = await w.reports();
    expect(replayed.visits).toBe(1);
    expect(live).toEqual(replayed);
  });

  it('an orphan greet made final by an event, read before the next tick, is in the report', async ({ expect }) => {
    // one tick, at the start: between events hub time moves only with them
    const w = await world({ reorderS: 2, greetLeadS: 2 }, { tickMs: 3_600_000 });
    w.setClock(1);
    await w.send('counter', 'g1', 'greetwatch.greet.v1', 1, greet);
    // 6 s: past the greet's lead (3 s) by more than reorderS, so this entry makes the greet final, and no party took it
    w.setClock(6);
    await w.send('door', 'e1', 'greetwatch.entry.v1', 6, entry);
    const { live, replayed } = await w.reports();
    expect(live.orphanGreets).toBe(1);
    expect(w.hub.ctx.runtime.live!.snapshot().today.orphanGreets).toBe(1);
    expect(replayed.orphanGreets).toBe(1);
  });

  it('a tick while an event is in its trace write leaves hub time before that event', async ({ expect }) => {
    let hold = false;
    const held: Array<() => void> = [];
    const w = await world(
      { reorderS: 2, greetLeadS: 0, groupWindowS: 0.3, warnAtS: 1.3, greetWithinS: 30 },
      {
        tickMs: 10,
        recorder: (real) => ({
          ...real,
          record(ev, recvMs, done, wire) {
            if (hold) return void held.push(() => real.record(ev, recvMs, done, wire));
            real.record(ev, recvMs, done, wire);
          },
        }),
      },
    );
    const orphans: Array<BusEvents['greet:orphan']> = [];
    w.hub.ctx.bus.on('greet:orphan', (o) => orphans.push(o));
    const levels: string[] = [];
    w.hub.ctx.bus.on('indicator:set', ({ level }) => levels.push(level));

    w.setClock(8.4);
    await w.send('counter', 'g0', 'greetwatch.greet.v1', 8.4, greet);
    // a party that nobody greets: the tick that sees it wait past warnAtS raises the indicator (off until then)
    w.setClock(9);
    await w.send('door', 'e0', 'greetwatch.entry.v1', 9, entry);
    w.setClock(10.05);
    // an entry stamped before the greet, received at 10.05 (within reorderS: the greet is for it), held in its write
    hold = true;
    const sent = w.send('door', 'e1', 'greetwatch.entry.v1', 8.3, entry);
    await waitFor(() => held.length === 1, 'the entry in its trace write');
    // a tick at 10.5 while it is held: the waiting party passes warnAtS; hub time must stay before 10.05,
    // or the greet would be committed (reorderS behind 10.5) with no party before it, an orphan
    w.setClock(10.5);
    await waitFor(() => levels.at(-1) === 'warn', 'a tick at 10.5');
    expect(orphans).toEqual([]);
    hold = false;
    held.shift()!();
    await sent;
    const { live, replayed } = await w.reports();
    expect(replayed.orphanGreets).toBe(0);
    expect(live).toEqual(replayed);
  });
});

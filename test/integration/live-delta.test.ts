import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { Value } from '@sinclair/typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveDelta, sourceOf, topics, type LiveChange } from '../../contract/index.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { password } from '../helpers/logins.ts';
import { testStore } from '../helpers/store-config.ts';
import { waitFor } from '../helpers/wait.ts';

// README "Live stream": why a party leaves the waiting list. A real hub and broker, the hub
// on an injected clock so that time can pass past a deadline without waiting for it.

let hub: Hub | undefined;
let dir: string | undefined;
afterEach(async () => {
  await hub?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  hub = undefined;
});

async function start(opts: { tickMs?: number; lookGapMs?: number } = {}): Promise<{ changes: LiveChange[]; send: (id: string, timeS: number) => Promise<void>; later: (s: number) => void }> {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-delta-'));
  const base = Math.floor(Date.now() / 1000) * 1000;
  let offsetMs = 0;
  const cfg = await testStore({
    store: { id: 'dl', timezone: 'UTC' },
    rules: { expireS: 60, warnAtS: 20, greetWithinS: 30 },
    nodes: [{ id: 'door', sensors: [{ id: 'beam', kind: 'beam-pair', outerPin: 1, innerPin: 2 }] }],
  });
  const h = await startHub({ config: cfg, dataDir: dir, clock: { now: () => base + offsetMs }, log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), tickMs: opts.tickMs ?? 20, ...(opts.lookGapMs !== undefined ? { lookGapMs: opts.lookGapMs } : {}) });
  hub = h;
  const changes: LiveChange[] = [];
  h.ctx.bus.on('live:delta', ({ delta }) => {
    expect(Value.Check(LiveDelta, delta)).toBe(true);
    changes.push(...delta.changes);
  });
  const c = await mqtt.connectAsync(h.mqttUrl, { username: 'door', password: password('door'), reconnectPeriod: 0 });
  const at = (s: number) => new Date(base + s * 1000).toISOString();
  return {
    changes,
    async send(id, timeS) {
      // senttime = hub time at sending: the clock offset estimate stays 0
      const ev = { specversion: '1.0', id, source: sourceOf('dl', 'door'), type: 'greetwatch.entry.v1', time: at(timeS), senttime: at(offsetMs / 1000), bootid: 'b', seq: Number(id.slice(1)), data: { sensor: 'beam', direction: 'in' } };
      await c.publishAsync(topics.events('dl', 'door'), JSON.stringify(ev), { qos: 1 });
    },
    later(s) {
      offsetMs += s * 1000;
    },
  };
}

describe('waiting-list changes', () => {
  it('after a look, the next one waits lookGapMs, however soon events come', async () => {
    // the one tick is the start's: only events lead to looks
    const { send, later } = await start({ tickMs: 3_600_000, lookGapMs: 1_000 });
    const pushedAt = new Map<string, number>();
    hub!.ctx.bus.on('live:delta', ({ delta }) => {
      for (const c of delta.changes) if (c.kind === 'open') pushedAt.set(c.party.party, performance.now());
    });
    await send('e1', 0);
    await waitFor(() => pushedAt.has('door/e1'), 'door/e1 pushed');
    later(10);
    await send('e2', 10);
    await waitFor(() => pushedAt.has('door/e2'), 'door/e2 pushed');
    // a lower bound only, which a slow machine cannot break: the look waits for a timer (Node's
    // timers may run up to 1 ms before their time)
    expect(pushedAt.get('door/e2')! - pushedAt.get('door/e1')!).toBeGreaterThanOrEqual(998);
  });

  it('a party that waits past expireS leaves as closed (missed); one re-read by an earlier entry as withdrawn', async () => {
    const { changes, send, later } = await start();
    await send('e1', 0);
    await waitFor(() => changes.some((x) => x.kind === 'open' && x.party.party === 'door/e1'), 'door/e1 on the list');
    later(61);
    await waitFor(() => changes.some((x) => x.kind === 'gone' && x.party === 'door/e1'), 'door/e1 gone');
    expect(changes.find((x) => x.kind === 'gone' && x.party === 'door/e1')).toEqual({ kind: 'gone', party: 'door/e1', reason: 'closed', outcome: 'missed' });

    // an entry, then one a second earlier arriving late: the earlier one now opens the party
    await send('e3', 60);
    await waitFor(() => changes.some((x) => x.kind === 'open' && x.party.party === 'door/e3'), 'door/e3 on the list');
    await send('e2', 59);
    await waitFor(() => changes.some((x) => x.kind === 'gone' && x.party === 'door/e3'), 'door/e3 gone');
    expect(changes.find((x) => x.kind === 'gone' && x.party === 'door/e3')).toEqual({ kind: 'gone', party: 'door/e3', reason: 'withdrawn' });
    const e2 = changes.find((x) => x.kind === 'open' && x.party.party === 'door/e2');
    expect(e2).toMatchObject({ kind: 'open', party: { party: 'door/e2', size: 2 } });
    // the list as last pushed (what alerts read without building a snapshot) is the snapshot's
    const live = hub!.ctx.runtime.live!;
    await waitFor(() => live.open().length === 1, 'one party pushed');
    const pick = (ps: readonly { party: string; size: number; entryTime: string }[]) => ps.map((p) => [p.party, p.size, p.entryTime]);
    expect(pick(live.open())).toEqual(pick(live.snapshot().open));
    expect(pick(live.open())).toEqual([['door/e2', 2, e2!.kind === 'open' ? e2!.party.entryTime : '']]);
    expect(live.nodes()).toEqual(live.snapshot().nodes);
  });

  it('pushes a waiting party again only when it changes (its level at warnAtS and at greetWithinS), not at every look', async () => {
    const { changes, send, later } = await start();
    const opens = (party: string) => changes.flatMap((x) => (x.kind === 'open' && x.party.party === party ? [x.party] : []));
    await send('e1', 0);
    await waitFor(() => opens('door/e1').length === 1, 'door/e1 on the list');
    // every event and every tick (20 ms) looks at door/e1 again; only its level changes it
    later(5);
    await send('e4', 5);
    await waitFor(() => opens('door/e4').length === 1, 'door/e4 on the list');
    later(16);
    await waitFor(() => opens('door/e1').length === 2, 'door/e1 at warnAtS');
    later(10);
    await waitFor(() => opens('door/e1').length === 3, 'door/e1 at greetWithinS');
    await send('e7', 31);
    await waitFor(() => opens('door/e7').length === 1, 'door/e7 on the list');
    expect(opens('door/e1').map((p) => [p.level, p.waitingS])).toEqual([
      ['ok', 0],
      ['warn', 21],
      ['late', 31],
    ]);
    expect(opens('door/e4').map((p) => p.level)).toEqual(['ok', 'warn']);
  });
});

// An event a node held through an outage longer than maxSkewS (CONTRACT.md "Event envelope"):
// refused as a time error, yet acknowledged, so the node deletes it; the hub's trace must then
// keep it (README "Order, duplicates and clocks"). Refused again on restart and in a replay, it
// changes no result; a replay with a larger maxSkewS takes it (later than reorderS: best effort).
import fs from 'node:fs';
import * as path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, type LiveSnapshot } from '../../contract/index.ts';
import { createEdgeAgent, type EdgeAgent } from '../../edge/agent.ts';
import { createEnvelopeFactory } from '../../edge/envelope.ts';
import { fileOutbox } from '../../edge/outbox.ts';
import { replayTrace } from '../../hub/engine/replay.ts';
import { apiAuth, password } from '../helpers/logins.ts';
import { startRig, type Rig } from '../helpers/rig.ts';
import { waitFor } from '../helpers/wait.ts';

describe('an event held by its node for longer than maxSkewS', () => {
  let rig: Rig | undefined;
  let again: EdgeAgent | undefined;
  afterEach(async () => {
    await again?.stop();
    await rig?.stop();
  });

  it('is refused, acknowledged and kept in the trace; restart and replay refuse it again', async () => {
    rig = await startRig();
    const r = rig;
    const live = async () => (await (await fetch(`${r.hub.httpUrl}/api/stores/${r.cfg.store.id}/live`, { headers: apiAuth })).json()) as LiveSnapshot;
    const node = r.cfg.nodes[0]!;
    const doorEvents = async () => (await live()).nodes.find((n) => n.node === node.id)!.events;
    // one fresh walk-in first: the trace then holds an accepted event too
    await r.walkIn();
    await waitFor(async () => (await doorEvents()) >= 1, 'the walk-in counted');
    await r.door.stop();
    const counted = await doorEvents();
    const dataDir = path.join(r.dir, 'edge', node.id);

    // the node saw someone come in 25 h ago, while the hub was unreachable; the event is in its outbox
    const seen = createEnvelopeFactory({ store: r.cfg.store.id, node: node.id }).build(
      'greetwatch.entry.v1',
      { sensor: 'beam', direction: 'in' },
      Date.now() - 25 * 3600_000,
    );
    const o = fileOutbox(dataDir, { store: r.cfg.store.id, node: node.id });
    o.add(seen);
    o.close();

    // the hub is back: the node (same folder) sends what it kept
    again = createEdgeAgent({
      store: r.cfg.store.id,
      node,
      rules: { greetWithinS: r.cfg.rules.greetWithinS, warnAtS: r.cfg.rules.warnAtS },
      mqttUrl: r.hub.mqttUrl,
      dataDir,
      login: { username: node.id, password: password(node.id) },
      log: pino({ level: 'silent' }),
    });
    await again.start();
    const a = again;
    await waitFor(() => (a.stats().mqtt?.acked ?? 0) >= 1, 'the kept event PUBACKed');
    expect(a.stats().pending).toBe(0);
    expect(r.hub.ctx.metrics.rejectedFor(node.id)).toEqual({ [ErrorCodes.EVENT_TIME]: 1 });
    expect(await doorEvents()).toBe(counted);

    // the only copy left is the hub's trace
    const lines = r.hub.ctx.recorder.files().flatMap((f) => fs.readFileSync(f, 'utf8').split('\n'));
    expect(lines.filter((l) => l.includes(seen.id))).toHaveLength(1);
    const replayed = replayTrace(lines, r.cfg);
    expect(replayed.rejected.map((x) => x.code)).toEqual([ErrorCodes.EVENT_TIME]);
    const wider = replayTrace(lines, { ...r.cfg, rules: { ...r.cfg.rules, maxSkewS: 7 * 86_400 } });
    expect(wider.rejected).toEqual([]);
    expect(wider.events).toBe(replayed.events + 1);

    // a restart replays the trace with the store's rules: refused again, the engine never sees it
    await a.stop();
    again = undefined;
    await r.restartHub();
    await waitFor(async () => (await doorEvents()) === counted, 'the restarted hub counts what the first one did');
    expect((await live()).open).toHaveLength(1);
  });
});

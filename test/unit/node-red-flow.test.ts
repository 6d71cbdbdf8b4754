import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { topics, type Visit } from '../../contract/index.ts';
import { repoRoot } from '../../hub/repo-root.ts';

// examples/node-red/greetwatch-flow.json (README "Node-RED"): an importable flow whose wires
// hold together, whose MQTT inputs are the contract's topics, and whose function node counts a
// day's service level as CONTRACT.md defines it, each party once.

type FlowNode = { id: string; type: string; topic?: string; func?: string; wires?: string[][]; broker?: string };
const flow = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'examples', 'node-red', 'greetwatch-flow.json'), 'utf8')) as FlowNode[];
const byId = new Map(flow.map((n) => [n.id, n]));

describe('the example Node-RED flow', () => {
  it('is a list of nodes whose wires and broker references all resolve', () => {
    expect(flow.length).toBeGreaterThan(5);
    expect(new Set(flow.map((n) => n.id)).size).toBe(flow.length);
    for (const n of flow) {
      for (const out of n.wires ?? []) for (const target of out) expect(byId.has(target), `${n.id} → ${target}`).toBe(true);
      if (n.type === 'mqtt in') expect(byId.get(n.broker ?? '')?.type).toBe('mqtt-broker');
    }
  });

  it('subscribes to the visits and alerts topics, for whichever store the hub serves', () => {
    const inputs = flow.filter((n) => n.type === 'mqtt in').map((n) => n.topic);
    expect(inputs.sort()).toEqual([topics.alerts('+'), topics.visits('+')].sort());
  });

  it('counts service level per store and day, each party once', () => {
    const fn = flow.find((n) => n.type === 'function')!;
    const store = new Map<string, unknown>();
    const context = { get: (k: string) => store.get(k), set: (k: string, v: unknown) => void store.set(k, v) };
    // Node-RED runs a function node's body with `msg` and `context` in scope; so does this test
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the flow's own code, from the repo
    const run = new Function('msg', 'context', fn.func!) as (msg: { payload: unknown; topic?: string }, ctx: typeof context) => { payload: Record<string, unknown> } | null;
    const v = (party: string, outcome: Visit['outcome']): Visit => ({ store: 'demo', party, outcome, entryTime: '2026-11-23T10:00:00.000Z', size: 1 });
    run({ payload: v('a', 'met') }, context);
    expect(run({ payload: v('a', 'met') }, context)).toBeNull(); // the same party again
    run({ payload: v('b', 'late') }, context);
    const out = run({ payload: v('c', 'shortWalkout') }, context);
    expect(out?.payload).toEqual({ store: 'demo', day: '2026-11-23', visits: 3, met: 1, serviceLevel: 0.5 });
    expect(run({ payload: { nonsense: true } }, context)).toBeNull();
  });
});

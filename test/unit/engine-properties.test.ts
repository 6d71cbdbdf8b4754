import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { GwEvent } from '../../contract/index.ts';
import { replayTrace } from '../../hub/engine/replay.ts';
import { T0, testConfig, trace } from '../helpers/trace.ts';

// CONTRACT.md "Replay" and `reorderS`: final outcomes do not depend on arrival order within reorderS nor on
// duplicates. Traces are generated in true time; each node has a skewed clock; each
// event gets a random network/buffer delay below reorderS; arrival = sort by receive time.

type Kind = 'in' | 'out' | 'greet' | 'staffpass' | 'presence';
interface Step {
  gapMs: number;
  kind: Kind;
  staff: 'anna' | 'ben' | undefined;
}
const NODE_OF: Record<Kind, string> = { in: 'door', out: 'door', staffpass: 'door', greet: 'counter', presence: 'floor' };
const NODES = ['door', 'counter', 'floor'];
const cfg = testConfig();
const REORDER_MS = cfg.rules.reorderS * 1000;

const stepArb = fc.record({
  gapMs: fc.oneof(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 4000, max: 90_000 })),
  kind: fc.constantFrom<Kind>('in', 'in', 'in', 'greet', 'greet', 'out', 'presence', 'staffpass'),
  staff: fc.constantFrom('anna', 'ben', undefined),
});

interface Scenario {
  steps: Step[];
  skew: Record<string, number>;
}
const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  steps: fc.array(stepArb, { minLength: 1, maxLength: 60 }),
  skew: fc.record({
    door: fc.integer({ min: -10_000, max: 10_000 }),
    counter: fc.integer({ min: -10_000, max: 10_000 }),
    floor: fc.integer({ min: -10_000, max: 10_000 }),
  }),
});

interface Msg {
  ev: GwEvent;
  trueMs: number;
  /** delivered with no delay: the minimum lag the clock estimator finds */
  prompt?: boolean;
}

/** events in true time with their true times; node times carry the node's skew */
function build(s: Scenario): Msg[] {
  const b = trace();
  const out: Msg[] = [];
  // one prompt message per node first (in real life: its retained `status`) anchors the clock estimate
  for (const node of NODES) {
    const ev = b.add(node, (s.skew[node]! - 1000) / 1000, 'greetwatch.fault.v1', { sensor: 'x', kind: 'recovered' });
    out.push({ ev, trueMs: T0 - 1000, prompt: true });
  }
  let t = 0;
  for (const st of s.steps) {
    t += st.gapMs;
    const node = NODE_OF[st.kind];
    const sec = (t + s.skew[node]!) / 1000;
    const ev =
      st.kind === 'in' ? b.in(sec, node)
      : st.kind === 'out' ? b.out(sec, node)
      : st.kind === 'greet' ? b.greet(sec, st.staff, node)
      : st.kind === 'staffpass' ? b.staffpass(sec, node)
      : b.presence(sec, 'mid', node);
    out.push({ ev, trueMs: T0 + t });
  }
  // a last message two hours on closes every party, so that a late duplicate (which
  // moves the hub clock) cannot change where the trace ends
  const end = t + 2 * 3_600_000;
  out.push({ ev: b.add('door', (end + s.skew.door!) / 1000, 'greetwatch.door.v1', { sensor: 'door', state: 'open' }), trueMs: T0 + end });
  // clock beacons: each node's periodic status, delivered promptly (see edge publisher)
  for (let bt = 0; bt <= end; bt += 60_000) {
    for (const node of NODES) {
      out.push({ ev: b.add(node, (bt + s.skew[node]!) / 1000, 'greetwatch.fault.v1', { sensor: 'beacon', kind: 'recovered' }), trueMs: T0 + bt, prompt: true });
    }
  }
  return out;
}

function arrive(events: Msg[], delays: number[], dups: { i: number; extra: number }[]): string[] {
  const msgs = events.map((e, i) => ({ ev: e.ev, recv: e.trueMs + (e.prompt ? 0 : 1 + (delays[i % delays.length] ?? 0)), order: i }));
  for (const d of dups) {
    const m = msgs[d.i % msgs.length]!;
    msgs.push({ ev: m.ev, recv: m.recv + d.extra, order: msgs.length });
  }
  msgs.sort((a, b) => a.recv - b.recv || a.order - b.order);
  return msgs.map((m) => JSON.stringify({ ...m.ev, recvtime: new Date(m.recv).toISOString() }));
}

function finalResult(lines: string[]) {
  const r = replayTrace(lines, cfg);
  const visits = r.visits.map((v) => JSON.stringify(v)).sort();
  const { from: _f, to: _t, ...report } = r.report;
  return { visits, report };
}

describe('order and duplicates do not change results (property)', () => {
  it('shuffled arrival within reorderS gives the in-order result', () => {
    fc.assert(
      fc.property(scenarioArb, fc.array(fc.integer({ min: 0, max: REORDER_MS - 2000 }), { minLength: 1, maxLength: 80 }), (s, delays) => {
        const evs = build(s);
        const inOrder = finalResult(arrive(evs, [0], []));
        expect(finalResult(arrive(evs, delays, []))).toEqual(inOrder);
      }),
      { numRuns: 150 },
    );
  });

  it('duplicates, arriving any time later, change nothing', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.array(fc.integer({ min: 0, max: REORDER_MS - 2000 }), { minLength: 1, maxLength: 80 }),
        fc.array(fc.record({ i: fc.nat(), extra: fc.integer({ min: 0, max: 3_600_000 }) }), { minLength: 1, maxLength: 40 }),
        (s, delays, dups) => {
          const evs = build(s);
          const inOrder = finalResult(arrive(evs, [0], []));
          expect(finalResult(arrive(evs, delays, dups))).toEqual(inOrder);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('node clocks (README "Order, duplicates and clocks")', () => {
  it('with nodes skewed up to ±10 s and jittery delivery, time to greet is right within 50 ms', () => {
    fc.assert(
      fc.property(
        fc.record({ door: fc.integer({ min: -10_000, max: 10_000 }), counter: fc.integer({ min: -10_000, max: 10_000 }) }),
        fc.array(fc.record({ gap: fc.integer({ min: 40_000, max: 200_000 }), ttg: fc.integer({ min: 0, max: 29_000 }) }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 5, maxLength: 50 }),
        (skew, visits, jitter) => {
          // live traffic only, no anchor message: the estimator must find the offset from events
          const msgs: string[] = [];
          const expected: number[] = [];
          let t = 0;
          let n = 0;
          const b = trace();
          for (const v of visits) {
            t += v.gap;
            const i = b.in((t + skew.door) / 1000, 'door');
            const g = b.greet((t + v.ttg + skew.counter) / 1000, undefined, 'counter');
            msgs.push(JSON.stringify({ ...i, recvtime: new Date(T0 + t + jitter[n++ % jitter.length]!).toISOString() }));
            msgs.push(JSON.stringify({ ...g, recvtime: new Date(T0 + t + v.ttg + jitter[n++ % jitter.length]!).toISOString() }));
            expected.push(v.ttg / 1000);
          }
          const r = replayTrace(msgs, cfg);
          const got = r.visits.sort((a, b) => a.entryTime.localeCompare(b.entryTime)).map((v) => v.ttgS ?? NaN);
          expect(got).toHaveLength(expected.length);
          got.forEach((g, k) => expect(Math.abs(g - expected[k]!)).toBeLessThanOrEqual(0.05));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a crossing sent when the person has passed (senttime after time) does not bias the door clock', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -10_000, max: 10_000 }),
        fc.array(fc.record({ gap: fc.integer({ min: 40_000, max: 200_000 }), ttg: fc.integer({ min: 0, max: 29_000 }), crossMs: fc.integer({ min: 150, max: 1500 }) }), { minLength: 1, maxLength: 20 }),
        (skew, visits) => {
          const msgs: string[] = [];
          let t = 0;
          const b = trace();
          for (const v of visits) {
            t += v.gap;
            // the entry is stamped at the first beam and sent when the crossing completes
            const i = b.in((t + skew) / 1000, 'door');
            const sent = T0 + t + v.crossMs;
            msgs.push(JSON.stringify({ ...i, senttime: new Date(sent + skew).toISOString(), recvtime: new Date(sent + 2).toISOString() }));
            const g = b.greet((t + v.ttg) / 1000, undefined, 'counter');
            msgs.push(JSON.stringify({ ...g, recvtime: new Date(T0 + t + v.ttg + 2).toISOString() }));
          }
          msgs.sort((x, y) => (JSON.parse(x) as { recvtime: string }).recvtime.localeCompare((JSON.parse(y) as { recvtime: string }).recvtime));
          const r = replayTrace(msgs, cfg);
          const got = r.visits.sort((a, b2) => a.entryTime.localeCompare(b2.entryTime)).map((v) => v.ttgS ?? NaN);
          expect(got).toHaveLength(visits.length);
          got.forEach((g2, k) => expect(Math.abs(g2 - visits[k]!.ttg / 1000)).toBeLessThanOrEqual(0.05));
        },
      ),
      { numRuns: 100 },
    );
  });
});

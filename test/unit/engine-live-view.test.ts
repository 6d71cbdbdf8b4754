import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { GwEvent } from '../../contract/index.ts';
import { GreetEngine, type LiveView } from '../../hub/engine/engine.ts';
import { T0, testConfig, trace } from '../helpers/trace.ts';

// The live view is kept incrementally (README "Live view"): it must always equal the view
// rebuilt from scratch (committed state + every buffered event, time moved to now), whatever
// the arrival order, duplicates, events later than reorderS, ticks and checkpoint rewinds.

const cfg = testConfig({ rules: { reorderS: 20, expireS: 60, greetLeadS: 5, walkoutConfirmS: 10 } });
type Kind = 'in' | 'out' | 'greet' | 'staffpass' | 'presence';
const NODE_OF: Record<Kind, string> = { in: 'door', out: 'door', staffpass: 'door', greet: 'counter', presence: 'counter' };

const stepArb = fc.record({
  gapMs: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 3000, max: 40_000 })),
  kind: fc.constantFrom<Kind>('in', 'in', 'in', 'greet', 'greet', 'out', 'presence', 'staffpass'),
  // most arrive within reorderS, some later than it, some at once
  delayMs: fc.oneof(fc.integer({ min: 0, max: 15_000 }), fc.integer({ min: 20_000, max: 40_000 }), fc.constant(0)),
  dup: fc.boolean(),
  look: fc.constantFrom('none', 'live', 'tick', 'both', 'quiet'),
});

type Step = typeof stepArb extends fc.Arbitrary<infer S> ? S : never;

/** the steps' events in arrival order; with `dups`, a copy 500 ms after each step marked dup */
function arrivalsOf(steps: Step[], dups: boolean): { ev: GwEvent; recv: number; look: string }[] {
  const b = trace();
  let t = 0;
  const arrivals: { ev: GwEvent; recv: number; look: string }[] = [];
  for (const st of steps) {
    t += st.gapMs;
    const sec = t / 1000;
    const node = NODE_OF[st.kind];
    const ev =
      st.kind === 'in' ? b.in(sec, node) : st.kind === 'out' ? b.out(sec, node) : st.kind === 'greet' ? b.greet(sec, 'anna', node) : st.kind === 'staffpass' ? b.staffpass(sec, node) : b.presence(sec, 'mid', node);
    arrivals.push({ ev, recv: T0 + t + st.delayMs, look: st.look });
    if (dups && st.dup) arrivals.push({ ev, recv: T0 + t + st.delayMs + 500, look: 'live' });
  }
  return arrivals.sort((x, y) => x.recv - y.recv);
}

/** what a view shows, its lookups included: eachWaiting is read before `waiting` is gathered */
function normal(v: LiveView) {
  const each = eachOf(v);
  const shown = JSON.parse(JSON.stringify({ now: v.now, waiting: v.waiting, greeted: v.greeted, provisional: v.provisional, provisionalOrphans: v.provisionalOrphans })) as unknown;
  const open = [...v.waiting, ...v.greeted].map((p) => v.open(p.id) === p);
  const openClosed = v.provisional.map((cv) => v.open(cv.party) ?? null);
  return { shown, each, eachAgain: eachOf(v), open, openClosed };
}
const eachOf = (v: LiveView): string[] => {
  const ids: string[] = [];
  v.eachWaiting((p) => ids.push(p.id));
  return ids;
};

describe('incremental live view', () => {
  it('equals the view rebuilt from scratch at every step', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 5 }), (steps, every) => {
        const arrivals = arrivalsOf(steps, true);
        const eng = new GreetEngine({ store: cfg.store.id, rules: cfg.rules, liveCheckpointEvery: every });
        let checks = 0;
        // views are asked for at the hub's time or later, never before it
        let hub = -Infinity;
        const check = (now: number) => {
          expect(normal(eng.live(now))).toEqual(normal(eng.liveFromScratch(now)));
          checks++;
        };
        for (const a of arrivals) {
          eng.ingest(a.ev, a.recv);
          hub = Math.max(hub, a.recv);
          if (a.look === 'tick' || a.look === 'both') eng.advance((hub += 250));
          if (a.look === 'live' || a.look === 'both') for (const dt of [0, 7000, 70_000]) check(hub + dt);
          if (a.look === 'quiet') {
            // a view, then time alone commits everything buffered, then views again
            check(hub);
            eng.advance((hub += 30_000));
            for (const dt of [0, 7000, 70_000]) check(hub + dt);
          }
        }
        check(hub + 1);
        return checks > 0 || arrivals.every((x) => x.look === 'none' || x.look === 'tick');
      }),
      { numRuns: 400 },
    );
  });

  it('stays equal over a long run with few checkpoints', () => {
    const eng = new GreetEngine({ store: cfg.store.id, rules: cfg.rules });
    const b = trace();
    for (let i = 0; i < 2000; i++) {
      const ev = i % 3 === 2 ? b.greet(i, 'anna') : b.in(i);
      eng.ingest(ev, T0 + i * 1000);
      const v = eng.live(T0 + i * 1000);
      if (i % 97 === 0) expect(normal(v)).toEqual(normal(eng.liveFromScratch(T0 + i * 1000)));
    }
    expect(eng.bufferedCount).toBeGreaterThan(10);
  });

  it('never changes what becomes final: the same arrivals with and without views give the same visits', () => {
    // a view runs events on clones of the committed machine (its checkpoints too): if one ever
    // changed what the committed machine holds, the final visits would differ here
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 5 }), (steps, every) => {
        const arrivals = arrivalsOf(steps, false);
        const run = (views: boolean) => {
          const eng = new GreetEngine({ store: cfg.store.id, rules: cfg.rules, liveCheckpointEvery: every });
          const out: unknown[] = [];
          for (const a of arrivals) {
            eng.ingest(a.ev, a.recv);
            if (views && a.look !== 'none') for (const dt of [0, 7000]) void eng.live(a.recv + dt).provisional;
            out.push(eng.drainFinal());
          }
          eng.finish();
          out.push(eng.drainFinal());
          return JSON.parse(JSON.stringify(out)) as unknown;
        };
        expect(run(true)).toEqual(run(false));
      }),
      { numRuns: 400 },
    );
  });
});

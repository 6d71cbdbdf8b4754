// The live view's cost against the number of buffered events (npm run bench, section d):
// a store receiving `rate` events/s from `nodes` nodes whose clocks jitter by a few ms
// (so arrivals are often out of order), with the reorder buffer full. Per tick (one view
// after each batch of new events) the incremental GreetEngine.live() is timed against
// liveFromScratch(), the rebuild-everything view it must equal. Also the heap per
// buffered event and per de-duplication entry. Measures, never asserts.

import type { GwEvent } from '../contract/index.ts';
import { sourceOf } from '../contract/index.ts';
import { GreetEngine } from '../hub/engine/engine.ts';
import type { Rules } from '../firmware-config/schema.ts';
import { ulidAt } from '../scripts/store-sim.ts';

export interface LiveTickFigures {
  buffered: number;
  openParties: number;
  /** per view after each batch of `batch` new events, ms */
  incrementalP50Ms: number;
  incrementalP99Ms: number;
  scratchP50Ms: number;
  scratchP99Ms: number;
  /** heap per buffered event, including its de-duplication entry, bytes */
  bytesPerBufferedEvent: number;
  /** heap per de-duplication entry once its event is committed, bytes */
  bytesPerDedupeEntry: number;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

/** events of a busy entrance: ins and outs, greets, some presence, from `nodes` nodes */
function* events(store: string, nodes: number, t0: number, rate: number): Generator<{ ev: GwEvent; recv: number }, never, undefined> {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const seqs = new Array<number>(nodes).fill(0);
  for (let i = 0; ; i++) {
    const node = i % nodes;
    const sent = t0 + (i * 1000) / rate;
    const time = new Date(Math.round(sent - rnd() * 4)).toISOString(); // a few ms of jitter
    const r = rnd();
    const base = { specversion: '1.0' as const, id: ulidAt(sent, rnd), source: sourceOf(store, `n${node}`), time, bootid: 'boot', seq: ++seqs[node]! };
    const ev: GwEvent =
      r < 0.4
        ? { ...base, type: 'greetwatch.entry.v1', data: { sensor: 'beam', direction: r < 0.25 ? 'in' : 'out' } }
        : r < 0.6
          ? { ...base, type: 'greetwatch.greet.v1', data: { button: 'b', staff: 'anna' } }
          : r < 0.7
            ? { ...base, type: 'greetwatch.presence.v1', data: { sensor: 'pir', zone: 'mid', state: 'on' } }
            : { ...base, type: 'greetwatch.door.v1', data: { sensor: 'door', state: r < 0.85 ? 'open' : 'closed' } };
    yield { ev, recv: Math.round(sent) + 1 };
  }
}

export function measureLiveTick(opts: { rules: Rules; buffered: number; ticks?: number; batch?: number; heapUsed: () => number }): LiveTickFigures {
  const reorderMs = opts.rules.reorderS * 1000;
  // rate chosen so the reorder buffer holds `buffered` events (only 70% are visit inputs)
  const rate = opts.buffered / 0.7 / (reorderMs / 1000);
  const eng = new GreetEngine({ store: 'bench', rules: opts.rules });
  const gen = events('bench', 8, Date.parse('2026-11-23T10:00:00Z'), rate);
  const before = opts.heapUsed();
  let last = 0;
  // fill the buffer: one reorder window of events
  const fillUntil = Date.parse('2026-11-23T10:00:00Z') + reorderMs;
  for (;;) {
    const { ev, recv } = gen.next().value;
    eng.ingest(ev, recv);
    last = recv;
    if (recv >= fillUntil) break;
  }
  eng.drainFinal();
  const heap = opts.heapUsed() - before;
  const filled = eng.bufferedCount;
  const bytes = heap / filled;
  eng.live(last); // builds the live machine once
  const inc: number[] = [];
  const scratch: number[] = [];
  const batch = opts.batch ?? 100; // the same number of new events per view at every buffer size
  for (let k = 0; k < (opts.ticks ?? 20); k++) {
    for (let j = 0; j < batch; j++) {
      const { ev, recv } = gen.next().value;
      eng.ingest(ev, recv);
      last = recv;
    }
    let t = performance.now();
    eng.live(last);
    inc.push(performance.now() - t);
    if (k < 5) {
      t = performance.now();
      eng.liveFromScratch(last);
      scratch.push(performance.now() - t);
    }
  }
  // everything committed (hub time past the buffer), the de-duplication entries still held
  const open = eng.live(last).waiting.length + eng.live(last).greeted.length;
  eng.advance(last + reorderMs + 1);
  eng.drainFinal();
  const afterCommit = opts.heapUsed();
  // read after the heap figure: an engine no longer used could be collected before it
  const held = eng.dedupeCount;
  return {
    buffered: filled,
    openParties: open,
    incrementalP50Ms: pct(inc, 50),
    incrementalP99Ms: pct(inc, 99),
    scratchP50Ms: pct(scratch, 50),
    scratchP99Ms: pct(scratch, 99),
    bytesPerBufferedEvent: bytes,
    bytesPerDedupeEntry: (afterCommit - before) / held,
  };
}

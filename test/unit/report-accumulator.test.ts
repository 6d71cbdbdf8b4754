import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Visit } from '../../contract/index.ts';
import { buildReport, ReportAccumulator } from '../../hub/engine/report.ts';
import { TimeZone } from '../../hub/engine/tz.ts';
import { T0 } from '../helpers/trace.ts';

// The live hub keeps today's report as final visits come and merges the provisional ones in
// at each read: that must equal one report over all of them (final records first).

const tz = new TimeZone('Europe/Berlin');
const visitArb = fc.record({
  party: fc.integer({ min: 0, max: 60 }).map((i) => `p${i}`),
  outcome: fc.constantFrom('met', 'late', 'walkout', 'shortWalkout', 'missed', 'pending' as const),
  entry: fc.integer({ min: -3_600_000, max: 30 * 3_600_000 }),
  ttg: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 120_000 })),
  staff: fc.constantFrom(undefined, 'anna', 'ben'),
});
type Gen = typeof visitArb extends fc.Arbitrary<infer T> ? T : never;
function toVisit(x: Gen): Visit {
  const v: Visit = { store: 's1', party: x.party, outcome: x.outcome, entryTime: new Date(T0 + x.entry).toISOString(), size: 1 };
  if ((x.outcome === 'met' || x.outcome === 'late') && x.ttg !== undefined) v.ttgS = x.ttg / 1000;
  if (x.staff !== undefined) v.staff = x.staff;
  return v;
}

describe('ReportAccumulator', () => {
  it('final visits kept, provisional merged at read: equals buildReport over both', () => {
    fc.assert(
      fc.property(fc.array(visitArb, { maxLength: 80 }), fc.array(visitArb, { maxLength: 40 }), fc.array(fc.integer({ min: -3_600_000, max: 30 * 3_600_000 }), { maxLength: 5 }), (fin, prov, orphans) => {
        const from = tz.startOfDay(T0);
        const to = tz.startOfDay(from + 36 * 3_600_000);
        const finals = fin.map(toVisit);
        const extras = prov.map(toVisit);
        const acc = new ReportAccumulator('s1', from, to, tz);
        for (const v of finals) acc.add(v);
        const extraOrphans = orphans.map((o) => T0 + o);
        const merged = acc.report((c) => {
          for (const v of extras) c.add(v);
          for (const t of extraOrphans) c.addOrphan(t);
        });
        expect(merged).toEqual(buildReport({ store: 's1', fromMs: from, toMs: to, tz, visits: [...finals, ...extras], orphanTimes: extraOrphans }));
        // a read changes nothing: the accumulator alone still reports the finals only
        expect(acc.report()).toEqual(buildReport({ store: 's1', fromMs: from, toMs: to, tz, visits: finals }));
      }),
      { numRuns: 500 },
    );
  });
});

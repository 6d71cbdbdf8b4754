import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdQueue } from '../../hub/engine/id-queue.ts';

// IdQueue stands in for an insertion-ordered Map under increasing ids (hub/engine/id-queue.ts):
// it must answer as that Map does, and a clone must share nothing that either side changes.

type Op = { op: 'push'; gap: number; v: number } | { op: 'delete'; pick: number } | { op: 'deleteFirst' } | { op: 'clone' };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('push' as const), gap: fc.integer({ min: 1, max: 3 }), v: fc.integer() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('deleteFirst' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clone' as const) }) },
);

function agree(q: IdQueue<number>, m: Map<number, number>, probe: number[]): void {
  expect(q.size).toBe(m.size);
  expect(q.first()).toBe(m.keys().next().value);
  for (const id of probe) {
    expect(q.get(id)).toBe(m.get(id));
    expect(q.has(id)).toBe(m.has(id));
  }
}

describe('IdQueue', () => {
  it('answers as an insertion-ordered Map, and its clones are independent', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
        const pairs: { q: IdQueue<number>; m: Map<number, number> }[] = [{ q: new IdQueue(), m: new Map() }];
        let next = 0;
        const seen: number[] = [];
        for (const [i, o] of ops.entries()) {
          // every op goes to one of the copies in turn, so each copy changes apart from the others
          const { q, m } = pairs[i % pairs.length]!;
          if (o.op === 'push') {
            next += o.gap;
            q.push(next, o.v);
            m.set(next, o.v);
            seen.push(next);
          } else if (o.op === 'delete') {
            const id = seen.length ? seen[o.pick % seen.length]! : 0;
            expect(q.delete(id)).toBe(m.delete(id));
          } else if (o.op === 'deleteFirst') {
            const id = q.first();
            if (id !== undefined) expect(q.delete(id)).toBe(m.delete(id));
          } else if (pairs.length < 4) {
            pairs.push({ q: q.clone(), m: new Map(m) });
          }
        }
        const probe = [...seen.slice(-50), 0, next + 1];
        for (const { q, m } of pairs) agree(q, m, probe);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps answering over a long stream taken from the front, across its compactions', () => {
    const q = new IdQueue<number>();
    for (let id = 1; id <= 100_000; id++) {
      q.push(id, id);
      if (id > 10) expect(q.delete(id - 10)).toBe(true);
    }
    expect(q.size).toBe(10);
    expect(q.first()).toBe(99_991);
    expect(q.get(99_990)).toBeUndefined();
    expect(q.clone().get(100_000)).toBe(100_000);
  });

  it('refuses an id that is not greater than the last one', () => {
    const q = new IdQueue<number>();
    q.push(5, 1);
    expect(() => q.push(5, 2)).toThrow(RangeError);
    expect(() => q.push(3, 2)).toThrow(RangeError);
  });
});

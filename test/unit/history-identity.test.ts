import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pointTimeNs, subMsNanos } from '../../hub/history/schema.ts';

// A point's sub-millisecond part is its identity's SHA-256 (hub/history/schema.ts): a rewrite of
// the same visit or event must land on the same point whatever Node computes the hash with,
// or history written before an upgrade would be doubled by the same points written after it.

const reference = (identity: string): number => createHash('sha256').update(identity, 'utf8').digest().readUIntBE(0, 6) % 1_000_000;

describe('point identity', () => {
  it('is the SHA-256 of the identity, as a Hash object computes it', () => {
    const ids = ['01JDB7Q3ZC8K9V2M4N6P8R0T2W', 'greet:01JDB7Q3ZC8K9V2M4N6P8R0T2W', 'orphan:1795428009000:anna', '/stores/s1/nodes/door-1\u0000e-1', 'ünïcode ✓', ''];
    for (const id of ids) expect(subMsNanos(id)).toBe(reference(id));
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (id) => {
        expect(subMsNanos(id)).toBe(reference(id));
      }),
      { numRuns: 3000 },
    );
  });

  it('puts the sub-millisecond part after the millisecond, in ns', () => {
    const ms = Date.parse('2026-11-23T10:00:00.000Z');
    expect(pointTimeNs(ms, 'p1')).toBe((BigInt(ms) * 1_000_000n + BigInt(reference('p1'))).toString());
  });

  it('writes ms × 10^6 + the sub-millisecond part, whatever the time', () => {
    const reference_ = (ms: number, id: string) => (BigInt(ms) * 1_000_000n + BigInt(reference(id))).toString();
    let padded = 0;
    fc.assert(
      fc.property(fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }), fc.string({ maxLength: 40 }), (ms, id) => {
        if (ms >= 1 && reference(id) < 100_000) padded++;
        expect(pointTimeNs(ms, id)).toBe(reference_(ms, id));
      }),
      { numRuns: 3000 },
    );
    // a sub-millisecond part of fewer than six digits is padded after the millisecond
    expect(padded).toBeGreaterThan(0);
    for (const ms of [0, 1, -1, 999, Number.MAX_SAFE_INTEGER]) for (const id of ['p1', 'p2', 'p3', '']) expect(pointTimeNs(ms, id), `${ms} ${id}`).toBe(reference_(ms, id));
  });
});

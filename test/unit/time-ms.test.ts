import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { timeMs } from '../../contract/index.ts';

// timeMs reads the canonical form digit by digit and leaves every other form to Date.parse:
// it must agree with Date.parse on whatever the validator lets through.
describe('timeMs', () => {
  it('equals Date.parse on canonical times', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2200, 0, 1) }), (ms) => {
        const s = new Date(ms).toISOString();
        expect(timeMs(s)).toBe(Date.parse(s));
        expect(timeMs(s)).toBe(ms);
      }),
      { numRuns: 5000 },
    );
  });
  it('equals Date.parse on other forms and on nonsense', () => {
    for (const s of ['2026-11-23T10:15:02Z', '2026-11-23T10:15:02.1Z', '2026-11-23T11:15:02.123+01:00', '2026-11-31T10:15:02.123Z', '2026-02-29T10:15:02.123Z', '2026-11-23T24:00:00.000Z', '2026-1a-23T10:15:02.123Z', '2026-11-23 10:15:02.123Z', '']) {
      expect(Object.is(timeMs(s), Date.parse(s))).toBe(true);
    }
  });
});

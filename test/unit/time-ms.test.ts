import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isRealTime, timeMs } from '../../contract/index.ts';

// timeMs reads the canonical form digit by digit and leaves every other form to Date.parse:
// it must agree with Date.parse on whatever the validator lets through.
describe('timeMs', () => {
  it('equals Date.parse on canonical times', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.parse('0000-01-01T00:00:00.000Z'), max: Date.parse('9999-12-31T23:59:59.999Z') }), (ms) => {
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
  it('equals Date.parse on month ends, leap days and any one character changed', () => {
    const samples: string[] = [];
    for (const y of ['1900', '2000', '2024', '2026', '2100']) for (let m = 1; m <= 12; m++) for (const d of ['28', '29', '30', '31', '32', '00']) samples.push(`${y}-${String(m).padStart(2, '0')}-${d}T23:59:59.999Z`);
    const base = '2024-02-29T23:59:59.999Z';
    for (let i = 0; i < base.length; i++) for (const c of ['0', '9', 'x', '/', ':', '-', ' ', '\u0660']) samples.push(base.slice(0, i) + c + base.slice(i + 1));
    for (const s of samples) expect(Object.is(timeMs(s), Date.parse(s)), s).toBe(true);
  });
  it('isRealTime takes a canonical time exactly when it names its own instant', () => {
    const samples: string[] = [];
    for (const y of ['0000', '1900', '2000', '2024', '2026', '2100', '9999']) for (let m = 0; m <= 13; m++) for (const d of ['00', '01', '28', '29', '30', '31', '32']) samples.push(`${y}-${String(m).padStart(2, '0')}-${d}T23:59:59.999Z`);
    const base = '2024-02-29T23:59:59.999Z';
    for (let i = 0; i < base.length; i++) for (const c of ['0', '9', 'x', '/', ':', '-', ' ', '\u0660']) samples.push(base.slice(0, i) + c + base.slice(i + 1));
    samples.push('2026-06-30T23:59:60.000Z', '2026-06-30T24:00:00.000Z', '2026-06-30T23:60:00.000Z');
    for (const s of samples) {
      const ms = Date.parse(s);
      const roundTrip = Number.isFinite(ms) && new Date(ms).toISOString() === s;
      expect(isRealTime(s), s).toBe(roundTrip);
    }
  });
});

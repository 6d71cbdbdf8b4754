import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isoTime, isRealTime, timeMs } from '../../contract/index.ts';

// timeMs reads the canonical form digit by digit and leaves every other form to Date.parse:
// it must agree with Date.parse on whatever the validator lets through. isoTime writes that form
// from digits and must agree with toISOString on every time.
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

describe('isoTime', () => {
  it('equals toISOString on any whole millisecond, and at the edges of its own arithmetic', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.parse('-271821-04-20T00:00:00.000Z'), max: Date.parse('+275760-09-13T00:00:00.000Z') }), (ms) => {
        expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.parse('9999-12-31T23:59:59.999Z') }), (ms) => {
        expect(isoTime(ms)).toBe(new Date(ms).toISOString());
        expect(timeMs(isoTime(ms))).toBe(ms);
      }),
      { numRuns: 20_000 },
    );
    const edges: number[] = [0, 1, 999, 1000, 86_399_999, 86_400_000, Date.parse('9999-12-31T23:59:59.999Z'), Date.parse('+010000-01-01T00:00:00.000Z'), -1, -86_400_001];
    // every month end and leap day of the years the calendar's rules turn on
    for (const y of [1970, 1972, 1999, 2000, 2024, 2026, 2100, 2400, 9996]) {
      for (let m = 0; m < 12; m++) {
        const start = Date.UTC(y, m, 1);
        edges.push(start - 1, start, Date.UTC(y, m + 1, 1) - 1);
      }
    }
    for (const ms of edges) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
  });
  it('leaves what is not a whole millisecond to the Date', () => {
    expect(isoTime(1.7)).toBe(new Date(1.7).toISOString());
    expect(isoTime(-0.5)).toBe(new Date(-0.5).toISOString());
    expect(() => isoTime(NaN)).toThrow(RangeError);
  });
});

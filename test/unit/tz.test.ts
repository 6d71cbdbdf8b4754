import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TimeZone } from '../../hub/engine/tz.ts';

// The cached local-time arithmetic must agree with Intl everywhere, DST changes included.
describe('TimeZone', () => {
  for (const zone of ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/St_Johns']) {
    it(`hour and weekday agree with Intl in ${zone}`, () => {
      const tz = new TimeZone(zone);
      fc.assert(
        fc.property(fc.integer({ min: Date.parse('2020-01-01'), max: Date.parse('2030-01-01') }), (ms) => {
          const p = tz.parts(ms);
          expect(tz.hourWeekday(ms)).toEqual({ hour: p.hour, weekday: p.weekday });
        }),
        { numRuns: 2000 },
      );
    });
  }
  it('steps over a DST change at the right instant', () => {
    const tz = new TimeZone('Europe/Berlin');
    // 2026-03-29 01:00Z: 02:00 CET becomes 03:00 CEST
    expect(tz.hourWeekday(Date.parse('2026-03-29T00:59:59.999Z')).hour).toBe(1);
    expect(tz.hourWeekday(Date.parse('2026-03-29T01:00:00.000Z')).hour).toBe(3);
    expect(tz.startOfDay(Date.parse('2026-03-29T12:00:00Z'))).toBe(Date.parse('2026-03-28T23:00:00Z'));
    expect(tz.startOfWeek(Date.parse('2026-11-26T12:00:00Z'))).toBe(Date.parse('2026-11-22T23:00:00Z'));
  });
});

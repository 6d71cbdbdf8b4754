import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { storeTimeZone } from '../../hub/engine/store-zone.ts';
import { TimeZone, type LocalParts } from '../../hub/engine/tz.ts';

const WEEKDAY: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

/** local parts as Intl formats them: the oracle, apart from how TimeZone gets its offsets */
function intlParts(zone: string): (ms: number) => LocalParts {
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
  return (ms) => {
    const p: Record<string, string> = {};
    for (const { type, value } of fmt.formatToParts(ms)) p[type] = value;
    return { year: Number(p.year), month: Number(p.month), day: Number(p.day), hour: Number(p.hour) % 24, minute: Number(p.minute), second: Number(p.second), weekday: WEEKDAY[p.weekday ?? ''] ?? -1 };
  };
}

// Local parts and the cached hour and weekday must agree with Intl's formatting, DST changes
// included, whether the offsets come from Intl or from the tz database's file.
describe('TimeZone', () => {
  for (const zone of ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/St_Johns']) {
    for (const [source, tz] of [['Intl', new TimeZone(zone)], ['the tz database', storeTimeZone(zone)]] as const) {
      it(`parts, hour and weekday agree with Intl in ${zone}, offsets from ${source}`, () => {
        const want = intlParts(zone);
        fc.assert(
          fc.property(fc.integer({ min: Date.parse('2020-01-01'), max: Date.parse('2030-01-01') }), (ms) => {
            const p = want(ms);
            expect(tz.parts(ms)).toEqual(p);
            expect(tz.hourWeekday(ms)).toEqual({ hour: p.hour, weekday: p.weekday });
          }),
          { numRuns: 2000 },
        );
      });
    }
  }
  it('steps over a DST change at the right instant', () => {
    const tz = new TimeZone('Europe/Berlin');
    // 2026-03-29 01:00Z: 02:00 CET becomes 03:00 CEST
    expect(tz.hourWeekday(Date.parse('2026-03-29T00:59:59.999Z')).hour).toBe(1);
    expect(tz.hourWeekday(Date.parse('2026-03-29T01:00:00.000Z')).hour).toBe(3);
    expect(tz.startOfDay(Date.parse('2026-03-29T12:00:00Z'))).toBe(Date.parse('2026-03-28T23:00:00Z'));
    expect(tz.startOfWeek(Date.parse('2026-11-26T12:00:00Z'))).toBe(Date.parse('2026-11-22T23:00:00Z'));
  });
  it('refuses a zone Intl does not know', () => {
    expect(() => new TimeZone('Europe/Berln')).toThrow(RangeError);
  });
});

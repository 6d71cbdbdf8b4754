import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ErrorCodes, GwError } from '../../contract/index.ts';
import { TimeZone } from '../../hub/engine/tz.ts';
import { addWeeks, formatIsoWeek, isoWeekOf, parseIsoWeek, weekRange, weeksInYear, type IsoWeek } from '../../hub/history/iso-week.ts';
import { hourStart } from '../../hub/history/rollup.ts';

// ISO 8601 weeks in store-local time (CONTRACT.md "Metrics over a period": weeks start
// Monday 00:00 store-local), DST weeks included.

const HOUR = 3_600_000;
const utc = new TimeZone('UTC');
const berlin = new TimeZone('Europe/Berlin');
const newYork = new TimeZone('America/New_York');
const kolkata = new TimeZone('Asia/Kolkata');
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

function badParam(s: string): GwError {
  try {
    parseIsoWeek(s);
  } catch (e) {
    if (e instanceof GwError) return e;
    throw e;
  }
  throw new Error(`parsed ${JSON.stringify(s)}`);
}

describe('ISO weeks', () => {
  it('knows where weeks and week-numbering years begin', () => {
    expect(iso(weekRange(parseIsoWeek('2026-W01'), utc).fromMs)).toBe('2025-12-29T00:00:00.000Z');
    expect(iso(weekRange(parseIsoWeek('2026-W47'), utc).fromMs)).toBe('2026-11-16T00:00:00.000Z');
    expect(iso(weekRange(parseIsoWeek('2020-W53'), utc).fromMs)).toBe('2020-12-28T00:00:00.000Z');
    expect(isoWeekOf(at('2021-01-03T12:00:00Z'), utc)).toEqual({ year: 2020, week: 53 });
    expect(isoWeekOf(at('2024-12-30T12:00:00Z'), utc)).toEqual({ year: 2025, week: 1 });
    expect(isoWeekOf(at('2026-11-22T23:59:59.999Z'), utc)).toEqual({ year: 2026, week: 47 });
    // 1 January 2026 is a Thursday, so 2026 has 53 weeks (2026-W53 runs into 2027)
    expect([2015, 2020, 2021, 2025, 2026, 2027].map(weeksInYear)).toEqual([53, 53, 52, 52, 53, 52]);
    expect(iso(weekRange(parseIsoWeek('2026-W53'), utc).fromMs)).toBe('2026-12-28T00:00:00.000Z');
    expect(isoWeekOf(at('2027-01-03T12:00:00Z'), utc)).toEqual({ year: 2026, week: 53 });
  });

  it('parses and formats YYYY-Www', () => {
    expect(parseIsoWeek('2026-W47')).toEqual({ year: 2026, week: 47 });
    expect(parseIsoWeek('2020-W53')).toEqual({ year: 2020, week: 53 });
    expect(formatIsoWeek({ year: 2026, week: 7 })).toBe('2026-W07');
    expect(formatIsoWeek(parseIsoWeek('2026-W53'))).toBe('2026-W53');
  });

  it('refuses bad weeks with BAD_PARAM naming the parameter', () => {
    for (const s of ['2026-W00', '2026-W54', '2021-W53', '2027-W53', '2026W47', '2026-w47', '2026-W7', '26-W07', ' 2026-W47', '2026-W47 ', '', '0999-W10', '2026-11-16']) {
      const e = badParam(s);
      expect(e.code).toBe(ErrorCodes.BAD_PARAM);
      expect(e.message).toMatch(/^week: expected YYYY-Www \(ISO week, e\.g\. 2026-W47\), got "/);
      expect(e.message).toContain(JSON.stringify(s));
    }
    expect(badParam('2021-W53').message).toContain('2021 has 52 ISO weeks');
    // a long value is cut short in the message
    expect(badParam('x'.repeat(500)).message.length).toBeLessThan(120);
  });

  it('adds weeks across year ends', () => {
    expect(addWeeks({ year: 2026, week: 1 }, -1)).toEqual({ year: 2025, week: 52 });
    expect(addWeeks({ year: 2021, week: 1 }, -1)).toEqual({ year: 2020, week: 53 });
    expect(addWeeks({ year: 2026, week: 53 }, 1)).toEqual({ year: 2027, week: 1 });
    expect(addWeeks({ year: 2026, week: 47 }, -4)).toEqual({ year: 2026, week: 43 });
    expect(addWeeks({ year: 2026, week: 2 }, -4)).toEqual({ year: 2025, week: 50 });
    expect(addWeeks({ year: 2026, week: 47 }, 0)).toEqual({ year: 2026, week: 47 });
  });

  it('Europe/Berlin: the DST-end week is 169 h, the DST-start week 167 h', () => {
    const end = isoWeekOf(at('2026-10-25T12:00:00Z'), berlin);
    expect(formatIsoWeek(end)).toBe('2026-W43');
    const r = weekRange(end, berlin);
    expect(iso(r.fromMs)).toBe('2026-10-18T22:00:00.000Z'); // Monday 00:00 CEST
    expect(iso(r.toMs)).toBe('2026-10-25T23:00:00.000Z'); // next Monday 00:00 CET
    expect((r.toMs - r.fromMs) / HOUR).toBe(169);
    expect(r.days.map((d) => (d.toMs - d.fromMs) / HOUR)).toEqual([24, 24, 24, 24, 24, 24, 25]);
    expect(r.days.map((d) => d.date)).toEqual(['2026-10-19', '2026-10-20', '2026-10-21', '2026-10-22', '2026-10-23', '2026-10-24', '2026-10-25']);

    const start = weekRange(isoWeekOf(at('2026-03-29T12:00:00Z'), berlin), berlin);
    expect(iso(start.fromMs)).toBe('2026-03-22T23:00:00.000Z');
    expect((start.toMs - start.fromMs) / HOUR).toBe(167);
    expect(start.days[6]!.toMs - start.days[6]!.fromMs).toBe(23 * HOUR);
  });

  it('the store-local week, not the UTC one', () => {
    // Monday 2026-01-05 00:30 in Berlin is still Sunday in UTC
    expect(isoWeekOf(at('2026-01-04T23:30:00Z'), berlin)).toEqual({ year: 2026, week: 2 });
    expect(isoWeekOf(at('2026-01-04T23:30:00Z'), utc)).toEqual({ year: 2026, week: 1 });
    // Sunday 2026-01-04 23:30 in New York is Monday in UTC
    expect(isoWeekOf(at('2026-01-05T04:30:00Z'), newYork)).toEqual({ year: 2026, week: 1 });
  });

  it('America/New_York: DST weeks and the repeated 01:00 hour', () => {
    const spring = weekRange(isoWeekOf(at('2026-03-08T12:00:00Z'), newYork), newYork);
    expect(iso(spring.fromMs)).toBe('2026-03-02T05:00:00.000Z');
    expect((spring.toMs - spring.fromMs) / HOUR).toBe(167);
    const fall = weekRange(isoWeekOf(at('2026-11-01T12:00:00Z'), newYork), newYork);
    expect(iso(fall.fromMs)).toBe('2026-10-26T04:00:00.000Z');
    expect((fall.toMs - fall.fromMs) / HOUR).toBe(169);
    // 01:30 EDT and 01:30 EST: the same local hour, two hour buckets
    const first = hourStart(at('2026-11-01T05:30:00Z'), newYork);
    const second = hourStart(at('2026-11-01T06:30:00Z'), newYork);
    expect([iso(first), iso(second)]).toEqual(['2026-11-01T05:00:00.000Z', '2026-11-01T06:00:00.000Z']);
    expect(newYork.hourWeekday(first)).toEqual({ hour: 1, weekday: 6 });
    expect(newYork.hourWeekday(second)).toEqual({ hour: 1, weekday: 6 });
    // spring forward: 02:00 does not exist, 03:00 EDT begins at 07:00Z
    expect(iso(hourStart(at('2026-03-08T07:10:00Z'), newYork))).toBe('2026-03-08T07:00:00.000Z');
    expect(iso(hourStart(at('2026-03-08T06:59:59.999Z'), newYork))).toBe('2026-03-08T06:00:00.000Z');
  });

  it('Asia/Kolkata (+05:30): hours begin at :30 UTC, weeks at 18:30Z on Sunday', () => {
    expect(iso(hourStart(at('2026-01-05T10:00:00Z'), kolkata))).toBe('2026-01-05T09:30:00.000Z');
    expect(iso(hourStart(at('2026-01-05T09:30:00Z'), kolkata))).toBe('2026-01-05T09:30:00.000Z');
    expect(iso(hourStart(at('2026-01-05T10:29:59.999Z'), kolkata))).toBe('2026-01-05T09:30:00.000Z');
    expect(iso(hourStart(at('2026-01-05T10:30:00Z'), kolkata))).toBe('2026-01-05T10:30:00.000Z');
    expect(iso(weekRange({ year: 2026, week: 2 }, kolkata).fromMs)).toBe('2026-01-04T18:30:00.000Z');
  });

  it('Australia/Lord_Howe (30-minute DST): an hour bucket begins where its offset does', () => {
    const lh = new TimeZone('Australia/Lord_Howe');
    // 2026-04-05 02:00 +11 becomes 01:30 +10:30 (15:00Z): the second 01:30–02:00 begins at 15:00Z
    expect(iso(hourStart(at('2026-04-04T15:10:00Z'), lh))).toBe('2026-04-04T15:00:00.000Z');
    expect(iso(hourStart(at('2026-04-04T14:40:00Z'), lh))).toBe('2026-04-04T14:00:00.000Z');
    expect(lh.hourWeekday(at('2026-04-04T15:00:00Z')).hour).toBe(1);
  });

  it('weeks tile time: each instant lies in the range of its own week, in any zone', () => {
    const zones = [utc, berlin, newYork, kolkata, new TimeZone('Australia/Lord_Howe'), new TimeZone('America/St_Johns')];
    fc.assert(
      fc.property(fc.integer({ min: at('2019-01-01'), max: at('2031-01-01') }), fc.constantFrom(...zones), (ms, tz) => {
        const w: IsoWeek = isoWeekOf(ms, tz);
        const r = weekRange(w, tz);
        expect(ms).toBeGreaterThanOrEqual(r.fromMs);
        expect(ms).toBeLessThan(r.toMs);
        expect(parseIsoWeek(formatIsoWeek(w))).toEqual(w);
        expect(weekRange(addWeeks(w, 1), tz).fromMs).toBe(r.toMs);
        expect(r.days[0]!.fromMs).toBe(r.fromMs);
        expect(r.days[6]!.toMs).toBe(r.toMs);
        for (let i = 1; i < 7; i++) expect(r.days[i]!.fromMs).toBe(r.days[i - 1]!.toMs);
        expect(tz.startOfWeek(ms)).toBe(r.fromMs);
        const h = hourStart(ms, tz);
        expect(h).toBeLessThanOrEqual(ms);
        expect(ms - h).toBeLessThan(HOUR);
        expect(tz.hourWeekday(h)).toEqual(tz.hourWeekday(ms));
      }),
      { numRuns: 1000 },
    );
  });
});

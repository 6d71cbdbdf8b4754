import { describe, expect, it } from 'vitest';
import { ago, count, countDelta, offset, pct, ptsDelta, secs, secsDelta } from '../../dashboard/lib/format.ts';
import { addWeeks, currentWeek, mondayOf, weekOfDate, weekSpan } from '../../dashboard/lib/week.ts';
import { safeNext } from '../../dashboard/lib/api.ts';
import { TimeZone } from '../../hub/engine/tz.ts';
import { formatIsoWeek, isoWeekOf } from '../../hub/history/iso-week.ts';

// What the manager and owner pages print, and the week picker's arithmetic (checked
// against the hub's own ISO weeks, which the weekly API answers in).

describe('dashboard numbers', () => {
  it('says service levels as whole percentages and times to greet as seconds or m:ss', () => {
    expect([pct(0.823), pct(1), pct(0), pct(null)]).toEqual(['82 %', '100 %', '0 %', '–']);
    expect([secs(3.44), secs(9.96), secs(12.4), secs(59.6), secs(65), secs(600), secs(null)]).toEqual(['3.4 s', '10 s', '12 s', '1:00', '1:05', '10:00', '–']);
    expect([count(1529), count(0), count(undefined)]).toEqual(['1,529', '0', '–']);
  });

  it('says changes with their sign, in points for service levels', () => {
    expect([ptsDelta(0.72, 0.7), ptsDelta(0.7, 0.71), ptsDelta(0.704, 0.7), ptsDelta(0.5, null)]).toEqual(['+2 pts', '−1 pt', '±0 pts', '–']);
    expect([secsDelta(22, 25.5), secsDelta(51, 40), secsDelta(3, 3)]).toEqual(['−3.5 s', '+11 s', '±0 s']);
    expect([countDelta(1529, 1537), countDelta(100, 98), countDelta(5, 5)]).toEqual(['−8', '+2', '±0']);
  });

  it('says clock offsets and ages in their unit', () => {
    expect([offset(41), offset(-2300), offset(0), offset(null)]).toEqual(['+41 ms', '−2.3 s', '0 ms', '–']);
    expect([ago(500), ago(12_000), ago(5 * 60_000), ago(3 * 3_600_000), ago(3 * 86_400_000)]).toEqual(['just now', '12 s ago', '5 min ago', '3 h ago', '3 days ago']);
  });
});

describe('dashboard weeks', () => {
  it('agree with the hub on every day of ten years', () => {
    const utc = new TimeZone('UTC');
    for (let d = Date.UTC(2020, 0, 1); d < Date.UTC(2030, 0, 1); d += 86_400_000) {
      expect(weekOfDate(d)).toBe(formatIsoWeek(isoWeekOf(d, utc)));
    }
  });

  it('step across year ends, refuse weeks that do not exist, and name their days', () => {
    expect(addWeeks('2026-W53', 1)).toBe('2027-W01');
    expect(addWeeks('2026-W01', -1)).toBe('2025-W52');
    expect(mondayOf('2025-W53')).toBeNull(); // 2025 has 52 ISO weeks
    expect(mondayOf('2026-W00')).toBeNull();
    expect(mondayOf('2026-47')).toBeNull();
    expect(weekSpan('2026-W48')).toBe('23–29 Nov 2026');
    expect(weekSpan('2026-W49')).toBe('30 Nov – 6 Dec 2026');
    expect(weekSpan('2026-W53')).toBe('28 Dec 2026 – 3 Jan 2027');
  });

  it("take this week in the store's zone", () => {
    // Sunday 23:30 UTC is already Monday in Berlin
    const t = Date.parse('2026-11-29T23:30:00Z');
    expect(currentWeek('UTC', t)).toBe('2026-W48');
    expect(currentWeek('Europe/Berlin', t)).toBe('2026-W49');
  });
});

describe('the login page', () => {
  it('goes on only to paths of this site', () => {
    expect(safeNext('/manager')).toBe('/manager');
    expect(safeNext('/owner?week=2026-W47')).toBe('/owner?week=2026-W47');
    for (const bad of [null, '', 'https://evil.example/', '//evil.example/x', '/\\evil.example', 'manager', '/login', '/login?next=/x']) expect(safeNext(bad), String(bad)).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { replayTrace } from '../../hub/engine/replay.ts';
import { T0, testConfig, trace, type TraceBuilder } from '../helpers/trace.ts';
import type { Rules } from '../../firmware-config/schema.ts';

// One small named scenario per rule of CONTRACT.md "Visits and outcomes".

function run(build: (t: TraceBuilder) => void, rules: Partial<Rules> = {}, cfgOver: Parameters<typeof testConfig>[0] = {}) {
  const t = trace();
  build(t);
  const res = replayTrace(t.lines(), testConfig({ ...cfgOver, rules: { ...cfgOver.rules, ...rules } }));
  const visits = [...res.visits].sort((a, b) => Date.parse(a.entryTime) - Date.parse(b.entryTime));
  return {
    ...res,
    out: visits.map((v) => ({
      at: (Date.parse(v.entryTime) - T0) / 1000,
      outcome: v.outcome,
      size: v.size,
      ...(v.ttgS !== undefined ? { ttg: v.ttgS } : {}),
      ...(v.staff ? { staff: v.staff } : {}),
    })),
  };
}

/** a far-away event that moves replay time past every timer */
const settle = (t: TraceBuilder, sec = 2000) => t.add('door', sec, 'greetwatch.door.v1', { sensor: 'door', state: 'open' });

describe('time half of 30/30', () => {
  it('greet within greetWithinS is met, with its time to greet', () => {
    expect(run((t) => (t.in(0), t.greet(10))).out).toEqual([{ at: 0, outcome: 'met', size: 1, ttg: 10 }]);
  });
  it('greet after greetWithinS is late', () => {
    expect(run((t) => (t.in(0), t.greet(31.5))).out).toEqual([{ at: 0, outcome: 'late', size: 1, ttg: 31.5 }]);
  });
  it('greet at exactly greetWithinS is met (boundary is inclusive)', () => {
    expect(run((t) => (t.in(0), t.greet(30))).out[0]?.outcome).toBe('met');
  });
  it('greetWithinS is configurable per store', () => {
    expect(run((t) => (t.in(0), t.greet(20)), { greetWithinS: 15 }).out[0]?.outcome).toBe('late');
  });
});

describe('parties (groupWindowS)', () => {
  it('ins within groupWindowS of the previous in form one party, one greet covers all', () => {
    const r = run((t) => (t.in(0), t.in(2), t.in(4.5), t.greet(10)));
    expect(r.out).toEqual([{ at: 0, outcome: 'met', size: 3, ttg: 10 }]);
  });
  it('an in after groupWindowS starts a new party', () => {
    const r = run((t) => (t.in(0), t.in(3.5), settle(t)));
    expect(r.out.map((o) => o.outcome)).toEqual(['missed', 'missed']);
  });
  it('a member arriving after the greet joins the greeted party', () => {
    expect(run((t) => (t.in(0), t.greet(1), t.in(2.5), settle(t, 100))).out).toEqual([{ at: 0, outcome: 'met', size: 2, ttg: 1 }]);
  });
});

describe('greet assignment', () => {
  it('goes to the oldest ungreeted party', () => {
    const r = run((t) => (t.in(0), t.in(10), t.greet(20), t.greet(25)));
    expect(r.out).toEqual([
      { at: 0, outcome: 'met', size: 1, ttg: 20 },
      { at: 10, outcome: 'met', size: 1, ttg: 15 },
    ]);
  });
  it('prefers parties within greetHorizonS, else the newest ungreeted', () => {
    const r = run((t) => (t.in(0), t.in(50), t.greet(60), t.greet(70)));
    expect(r.out).toEqual([
      { at: 0, outcome: 'late', size: 1, ttg: 70 },
      { at: 50, outcome: 'met', size: 1, ttg: 10 },
    ]);
  });
  it('with no party in the horizon, goes to the newest ungreeted one', () => {
    const r = run((t) => (t.in(0), t.in(10), t.greet(100), settle(t)));
    expect(r.out).toEqual([
      { at: 0, outcome: 'missed', size: 1 },
      { at: 10, outcome: 'late', size: 1, ttg: 90 },
    ]);
  });
  it('a greet up to greetLeadS before an entry counts with time to greet 0', () => {
    const r = run((t) => (t.greet(0, 'anna'), t.in(2)));
    expect(r.out).toEqual([{ at: 2, outcome: 'met', size: 1, ttg: 0, staff: 'anna' }]);
    expect(r.report.orphanGreets).toBe(0);
  });
  it('a greet with no party within greetLeadS is an orphan, not a visit', () => {
    const r = run((t) => (t.greet(0), t.in(2.5), settle(t)));
    expect(r.out).toEqual([{ at: 2.5, outcome: 'missed', size: 1 }]);
    expect(r.report.orphanGreets).toBe(1);
    expect(r.report.visits).toBe(1);
  });
  it('a greet when every ungreeted party is leaving goes to the most recently marked', () => {
    const r = run((t) => (t.in(0), t.in(10), t.out(20), t.out(30), t.greet(40), settle(t)));
    // out@20 marks the party of 10 (most recent), out@30 marks the party of 0
    expect(r.out).toEqual([
      { at: 0, outcome: 'late', size: 1, ttg: 40 },
      { at: 10, outcome: 'walkout', size: 1 },
    ]);
  });
  it('staff comes from the event, or from the fob the config assigns to a staff member', () => {
    const r = run((t) => (t.in(0), t.greet(5, 'ben'), t.in(10), t.greet(12), settle(t, 100)));
    expect(r.out.map((o) => o.staff)).toEqual(['ben', undefined]);
    expect(r.report.byStaff).toEqual({ ben: { greets: 1, met: 1, asgS: 5 } });
  });
});

describe('steps line (the 30 steps half)', () => {
  it('a steps-line presence before the greet makes the party late even at 12 s', () => {
    expect(run((t) => (t.in(0), t.presence(8), t.greet(12))).out[0]).toMatchObject({ outcome: 'late', ttg: 12 });
  });
  it('a presence sooner than minTransitS after entry is not the party', () => {
    expect(run((t) => (t.in(0), t.presence(2), t.greet(12))).out[0]).toMatchObject({ outcome: 'met' });
  });
  it('a presence in a zone that is not on the steps line does nothing', () => {
    expect(run((t) => (t.in(0), t.presence(8, 'back'), t.greet(12))).out[0]).toMatchObject({ outcome: 'met' });
  });
  it('goes to the oldest ungreeted party that entered minTransitS earlier', () => {
    const r = run((t) => (t.in(0), t.in(10), t.presence(12), t.greet(15), t.greet(16)));
    expect(r.out.map((o) => o.outcome)).toEqual(['late', 'met']);
  });
});

describe('walkouts', () => {
  it('an out marks the party; still ungreeted walkoutConfirmS later it is a walkout', () => {
    const r = run((t) => (t.in(0), t.out(20), settle(t)));
    expect(r.out).toEqual([{ at: 0, outcome: 'walkout', size: 1 }]);
    expect(r.visits[0]?.markTime).toBe(new Date(T0 + 20_000).toISOString());
    expect(r.visits[0]?.closedTime).toBe(new Date(T0 + 20_000).toISOString());
  });
  it('a mark within shortAbandonS of entry is a short walkout', () => {
    const r = run((t) => (t.in(0), t.out(4), settle(t)));
    expect(r.out[0]?.outcome).toBe('shortWalkout');
    expect(r.report).toMatchObject({ visits: 1, shortWalkouts: 1, walkouts: 0, serviceLevel: null, serviceLevelStrict: 0 });
  });
  it('a leaving party greeted later loses its mark', () => {
    expect(run((t) => (t.in(0), t.out(10), t.greet(20), settle(t))).out).toEqual([{ at: 0, outcome: 'met', size: 1, ttg: 20 }]);
  });
  it('marks the most recent party (LIFO), not the oldest', () => {
    const r = run((t) => (t.in(0), t.in(10), t.out(20), t.greet(25), settle(t)));
    expect(r.out).toEqual([
      { at: 0, outcome: 'met', size: 1, ttg: 25 },
      { at: 10, outcome: 'walkout', size: 1 },
    ]);
  });
  it('a marked party absorbs size − 1 further outs within groupWindowS', () => {
    const r = run((t) => (t.in(0), t.in(10), t.in(11), t.out(20), t.out(22), t.greet(30), settle(t)));
    expect(r.out).toEqual([
      { at: 0, outcome: 'met', size: 1, ttg: 30 },
      { at: 10, outcome: 'walkout', size: 2 },
    ]);
  });
  it('absorption counts the party as it stands: a member who joins after the mark leaves with it', () => {
    // in@10 marked by out@12 (size 1), in@12.5 joins (size 2), out@13 is absorbed, not a mark on the party of 0
    const r = run((t) => (t.in(0), t.in(10), t.out(12), t.in(12.5), t.out(13), t.greet(30), settle(t)));
    expect(r.out).toEqual([
      { at: 0, outcome: 'met', size: 1, ttg: 30 },
      { at: 10, outcome: 'shortWalkout', size: 2 },
    ]);
  });
  it('absorption goes on when the marked party is greeted inside the window', () => {
    // out@20 marks B (size 2); greet@21 (every ungreeted party marked) goes to B; out@22 is still B's
    const r = run((t) => (t.in(0), t.greet(1), t.in(10), t.in(11), t.out(20), t.greet(21), t.out(22), t.in(60), t.out(61), settle(t)));
    expect(r.out.map((o) => o.outcome)).toEqual(['met', 'met', 'shortWalkout']);
  });
  it('of two marks at the same instant, the one made last is the most recent', () => {
    // both outs at 20 mark: first the party of 10, then the party of 0; the greet goes to the party of 0
    const r = run((t) => (t.in(0), t.in(10), t.out(20), t.out(20), t.greet(25), settle(t)));
    expect(r.out).toEqual([
      { at: 0, outcome: 'met', size: 1, ttg: 25 },
      { at: 10, outcome: 'walkout', size: 1 },
    ]);
  });
  it('an out with no ungreeted party in walkoutWindowS is a greeted customer leaving', () => {
    expect(run((t) => (t.in(0), t.greet(5), t.out(30), settle(t))).out).toEqual([{ at: 0, outcome: 'met', size: 1, ttg: 5 }]);
    expect(run((t) => (t.in(0), t.out(130), settle(t))).out).toEqual([{ at: 0, outcome: 'missed', size: 1 }]);
  });
  it('a marked party is not missed at expireS', () => {
    const r = run((t) => (t.in(0), t.out(50), settle(t)), { expireS: 60, walkoutConfirmS: 100 });
    expect(r.out[0]?.outcome).toBe('walkout');
  });
});

describe('expiry and pending', () => {
  it('ungreeted and unmarked after expireS is missed', () => {
    expect(run((t) => (t.in(0), settle(t, 601))).out[0]?.outcome).toBe('missed');
  });
  it('a deadline at the very last event of a replay has passed', () => {
    expect(run((t) => (t.in(0), settle(t, 600))).out[0]?.outcome).toBe('missed');
    expect(run((t) => (t.in(0), settle(t, 599.999))).out[0]?.outcome).toBe('pending');
  });
  it('a party still open when the trace ends is pending', () => {
    const r = run((t) => (t.in(0), settle(t, 100)));
    expect(r.out[0]?.outcome).toBe('pending');
    expect(r.report).toMatchObject({ visits: 0, pending: 1 });
  });
});

describe('staff crossings', () => {
  it('a crossing within staffPassS after a staffpass is staff, not a customer', () => {
    expect(run((t) => (t.staffpass(0), t.in(5), settle(t))).out).toEqual([]);
  });
  it('a staffpass covers one crossing only', () => {
    expect(run((t) => (t.staffpass(0), t.in(1), t.in(2), settle(t))).out).toEqual([{ at: 2, outcome: 'missed', size: 1 }]);
  });
  it('a staffpass expires after staffPassS', () => {
    expect(run((t) => (t.staffpass(0), t.in(11), settle(t))).out).toHaveLength(1);
  });
  it('a staff out does not mark a party as leaving', () => {
    expect(run((t) => (t.in(0), t.staffpass(10), t.out(12), t.greet(20))).out[0]?.outcome).toBe('met');
  });
});

describe('opening hours (store time zone)', () => {
  const cfg = { timezone: 'Europe/Berlin', openingHours: { mon: '11:00-19:00' } };
  // T0 = 10:00Z = 11:00 in Berlin (CET)
  it('an in before opening starts no party', () => {
    const r = run((t) => (t.in(-1), t.greet(5), settle(t, 100)), {}, cfg);
    expect(r.out).toEqual([]);
    expect(r.report.orphanGreets).toBe(1);
  });
  it('an in at opening time starts a party', () => {
    expect(run((t) => (t.in(0), t.greet(5)), {}, cfg).out).toHaveLength(1);
  });
  it('a closed day starts no party', () => {
    expect(run((t) => (t.in(0), t.greet(5)), {}, { ...cfg, openingHours: { tue: '09:00-18:00' } }).out).toEqual([]);
  });
});

describe('metrics', () => {
  it('service levels, ASG, nearest-rank percentiles', () => {
    const r = run((t) => {
      t.in(0); t.greet(5); // met 5
      t.in(100); t.greet(110); // met 10
      t.in(200); t.greet(240); // late 40
      t.in(300); t.out(302); // short walkout
      t.in(400); t.out(420); // walkout
      t.in(500); // missed
      t.in(600); t.greet(620); // met 20
      settle(t, 3000);
    });
    expect(r.report).toMatchObject({
      visits: 7,
      met: 3,
      late: 1,
      walkouts: 1,
      shortWalkouts: 1,
      missed: 1,
      pending: 0,
      serviceLevel: 3 / 6,
      serviceLevelStrict: 3 / 7,
      asgS: 18.75,
      p50S: 10,
      p90S: 40,
      maxS: 40,
    });
  });
  it('byHour and byWeekday use store-local time, Monday first', () => {
    const r = run((t) => (t.in(0), t.greet(5), t.in(3600 * 24), t.greet(3600 * 24 + 40)), {}, { timezone: 'America/New_York' });
    // 10:00Z Monday = 05:00 New York Monday; +24 h = Tuesday 05:00
    expect(r.report.byHour[5]).toMatchObject({ hour: 5, visits: 2, met: 1, late: 1 });
    expect(r.report.byWeekday.map((d) => d.visits)).toEqual([1, 1, 0, 0, 0, 0, 0]);
    expect(r.report.byWeekday[0]).toMatchObject({ weekday: 'mon', met: 1, serviceLevel: 1 });
  });
  it('rejects bad lines in a trace, counts them, and keeps the rest', () => {
    const t = trace();
    t.in(0);
    t.greet(5);
    const lines = ['{not json', JSON.stringify({ ...t.events[0], id: 'x', type: 'greetwatch.nope.v1' }), ...t.lines()];
    const r = replayTrace(lines, testConfig());
    expect(r.rejected.map((x) => [x.line, x.code])).toEqual([
      [1, 'GW_ERR_EVENT_JSON'],
      [2, 'GW_ERR_EVENT_TYPE'],
    ]);
    expect(r.report.met).toBe(1);
  });
});

describe('events far from the hub clock (CONTRACT.md "Event envelope", maxSkewS)', () => {
  it('an event dated far ahead is rejected as a time error and does not shift the node clock', () => {
    const t = trace();
    t.add('door', 1, 'greetwatch.entry.v1', { sensor: 'beam', direction: 'in' }, { recvSec: 1 });
    // one forged event: the year 9999, arriving now
    const forged = t.add('door', 0, 'greetwatch.door.v1', { sensor: 'door', state: 'open' }, { recvSec: 2 });
    forged.time = '9999-01-01T00:00:00.000Z';
    t.add('door', 60, 'greetwatch.entry.v1', { sensor: 'beam', direction: 'in' }, { recvSec: 60 });
    t.add('counter', 65, 'greetwatch.greet.v1', { button: 'btn' }, { recvSec: 65 });
    t.add('door', 2000, 'greetwatch.door.v1', { sensor: 'door', state: 'open' }, { recvSec: 2000 });
    const res = replayTrace(t.lines(), testConfig());
    expect(res.rejected).toEqual([{ line: 2, code: 'GW_ERR_EVENT_TIME', reason: expect.stringMatching(/^time: 9999-01-01T00:00:00.000Z is \d+ s ahead of the hub clock \(more than maxSkewS 86400 s\)$/) as unknown }]);
    // the walk-in after it keeps its own time: greeted 5 s after it, not lost in the future
    const second = res.visits.find((v) => Date.parse(v.entryTime) === T0 + 60_000);
    expect(second).toMatchObject({ outcome: 'met', ttgS: 5 });
  });

  it('maxSkewS is a store rule; within it an event counts', () => {
    const t = trace();
    t.add('door', 0, 'greetwatch.entry.v1', { sensor: 'beam', direction: 'in' }, { recvSec: 100 });
    t.add('counter', 100, 'greetwatch.greet.v1', { button: 'btn' }, { recvSec: 100 });
    expect(replayTrace(t.lines(), testConfig({ rules: { maxSkewS: 50 } })).rejected.map((r) => r.code)).toEqual(['GW_ERR_EVENT_TIME']);
    expect(replayTrace(t.lines(), testConfig({ rules: { maxSkewS: 150 } })).rejected).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { BootClock } from '../../hub/engine/clock-sync.ts';
import { replayTrace } from '../../hub/engine/replay.ts';
import { T0, testConfig, trace, type TraceBuilder } from '../helpers/trace.ts';

// README "Order, duplicates and clocks": with rules.clockConfirmS, one sample far below a
// node's minimum lag (an event dated ahead, yet within maxSkewS) does not move its offset until
// a second sample agrees; with 0 (the default) the offset is the plain sliding minimum.

const WINDOW = 15 * 60_000;
const HOUR = 3_600_000;

/** lags (recv − node, ms) fed at receive times 1 s apart; the offset after each */
function offsets(confirmMs: number, lags: readonly number[], stepMs = 1_000): (number | undefined)[] {
  const c = new BootClock(WINDOW, 512, confirmMs);
  return lags.map((lag, i) => {
    const recv = T0 + i * stepMs;
    c.observe(recv - lag, recv);
    return c.offset;
  });
}

describe('clock offset: one outlying sample', () => {
  it('moves the plain minimum at once', () => {
    expect(offsets(0, [5, 6, 4, -HOUR, 5])).toEqual([5, 5, 4, -HOUR, -HOUR]);
  });

  it('does not move it with clockConfirmS; a second sample that agrees does, with both', () => {
    expect(offsets(1_000, [5, 6, 4, -HOUR, 5, 6])).toEqual([5, 5, 4, 4, 4, 4]);
    // a clock that really stepped: the second sample within 1 s of the first lets both in
    expect(offsets(1_000, [5, 6, 4, -HOUR, 5, -HOUR + 300, -HOUR + 400])).toEqual([5, 5, 4, 4, 4, -HOUR, -HOUR]);
  });

  it('a second low sample that does not agree, or comes after the window, replaces the first', () => {
    expect(offsets(1_000, [5, -HOUR, -2 * HOUR, 5])).toEqual([5, 5, 5, 5]);
    // 16 min apart: the first one is forgotten, the second waits on its own
    expect(offsets(1_000, [5, -HOUR, -HOUR], 16 * 60_000)).toEqual([5, 5, 5]);
  });

  it('a lag that only rises, or falls by less than the margin, is taken as before', () => {
    expect(offsets(1_000, [50, 80, 20, 900, -500])).toEqual(offsets(0, [50, 80, 20, 900, -500]));
  });
});

describe('clock offset: an event dated an hour ahead in a trace', () => {
  // door and counter 5 ms behind the hub; entries each minute, greets 10 s later
  const day = (t: TraceBuilder, outlier: boolean) => {
    for (let i = 0; i < 6; i++) {
      const at = 60 * i;
      t.add('door', at, 'greetwatch.entry.v1', { sensor: 'beam', direction: 'in' }, { recvSec: at + 0.005 });
      t.add('counter', at + 10, 'greetwatch.greet.v1', { button: 'btn' }, { recvSec: at + 10.005 });
      // the door contact of a node whose clock is wrong for this one event: an hour ahead
      if (outlier && i === 1) t.add('door', at + 20 + 3600, 'greetwatch.door.v1', { sensor: 'door', state: 'open' }, { recvSec: at + 20 });
    }
    t.add('door', 2000, 'greetwatch.door.v1', { sensor: 'door', state: 'closed' }, { recvSec: 2000.005 });
  };
  const visits = (outlier: boolean, clockConfirmS: number) => {
    const t = trace();
    day(t, outlier);
    return replayTrace(t.lines(), testConfig({ rules: { clockConfirmS } })).visits.map((v) => [v.entryTime, v.outcome, v.ttgS]);
  };

  it('poisons the plain minimum: the later entries move an hour back', () => {
    expect(visits(true, 0)).not.toEqual(visits(false, 0));
  });

  it('with clockConfirmS the visits are those of the trace without it', () => {
    const clean = visits(false, 1);
    expect(clean).toHaveLength(6);
    expect(clean.every(([, outcome, ttg]) => outcome === 'met' && ttg === 10)).toBe(true);
    expect(visits(true, 1)).toEqual(clean);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { distanceLevel } from '../../edge/distance.ts';
import { SimDigitalInput, SimDistanceInput } from '../../edge/drivers/sim.ts';
import { condition, type FilterConfig } from '../../edge/filters.ts';
import { systemClock, type Bit } from '../../edge/io.ts';
import { presence } from '../../edge/presence.ts';
import { proximityCfg, recorder } from '../fakes/nodes.ts';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const NONE: FilterConfig = { invert: false, debounceMs: 0, delayedOnMs: 0, delayedOffMs: 0 };

function conditioned(cfg: Partial<FilterConfig>, initial: Bit = 0) {
  const input = new SimDigitalInput('x', initial);
  const seen: Array<[Bit, number]> = [];
  const c = condition(input, { ...NONE, ...cfg }, systemClock, (v, at) => seen.push([v, at - T0]));
  const play = (steps: Array<[number, Bit]>) => {
    for (const [after, level] of steps) {
      vi.advanceTimersByTime(after);
      input.set(level);
    }
    vi.advanceTimersByTime(10_000);
  };
  return { input, c, seen, play };
}

describe('filters (ESPHome-style)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('without filters every change passes at once with its own time', () => {
    const { seen, play } = conditioned({});
    play([[10, 1], [5, 0], [5, 1]]);
    expect(seen).toEqual([[1, 10], [0, 15], [1, 20]]);
  });

  it('invert swaps active and idle, including the starting level', () => {
    const { c, seen, play } = conditioned({ invert: true }, 1);
    expect(c.value).toBe(0);
    play([[10, 0], [10, 1]]);
    expect(seen).toEqual([[1, 10], [0, 20]]);
  });

  it('delayedOnMs: an active level counts only once it lasted that long, timed at its edge; shorter ones are dropped', () => {
    const { c, seen, play } = conditioned({ delayedOnMs: 500 });
    play([[0, 1], [300, 0], [1000, 1], [800, 0]]);
    // the first on (300 ms) was too short; the second (800 ms) counts at its own edge; offs are not delayed
    expect(seen).toEqual([[1, 1300], [0, 2100]]);
    expect(c.glitches).toBe(1);
  });

  it('delayedOffMs: a PIR that blinks off for a moment stays on', () => {
    const { seen, play } = conditioned({ delayedOffMs: 2000 });
    play([[0, 1], [3000, 0], [500, 1], [4000, 0]]);
    expect(seen).toEqual([[1, 0], [0, 7500]]);
  });

  it('debounce then delayed on, in that order: a bounce does not restart the delay from the bounce', () => {
    const { seen, play } = conditioned({ debounceMs: 20, delayedOnMs: 100 });
    play([[0, 1], [3, 0], [3, 1], [500, 0]]);
    expect(seen).toEqual([[1, 0], [0, 506]]);
  });
});

describe('distance sensors: median and hysteresis', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('one stray echo does not turn presence on; three near readings of five do', () => {
    const raw = new SimDistanceInput('sonar');
    const lvl = distanceLevel(raw, { medianOf: 5, onCm: 100, offCm: 120 });
    for (const cm of [300, 300, 40, 300, 300]) raw.set(cm);
    expect(lvl.read()).toBe(0);
    for (const cm of [60, 60, 60]) raw.set(cm);
    expect(lvl.read()).toBe(1);
    expect(lvl.cm).toBe(60);
  });

  it('between onCm and offCm the level holds (no flicker at the threshold)', () => {
    const raw = new SimDistanceInput('sonar');
    const lvl = distanceLevel(raw, { medianOf: 1, onCm: 100, offCm: 120 });
    const levels: Bit[] = [];
    lvl.watch((v) => levels.push(v));
    for (const cm of [130, 110, 99, 110, 119, 121, 110, 101]) raw.set(cm);
    expect(levels).toEqual([1, 0]);
  });

  it('readings that are not distances are counted and ignored', () => {
    const raw = new SimDistanceInput('sonar');
    const lvl = distanceLevel(raw, { medianOf: 1, onCm: 100, offCm: 120 });
    raw.set(Number.NaN);
    raw.set(-1);
    raw.set(Number.POSITIVE_INFINITY);
    expect(lvl.invalid).toBe(3);
    expect(lvl.read()).toBe(0);
  });

  it('a proximity sensor emits presence with distanceCm at the change', () => {
    const raw = new SimDistanceInput('step-sonar');
    const cfg = proximityCfg({ medianOf: 3, onCm: 80, offCm: 100, debounceMs: 0 });
    const lvl = distanceLevel(raw, cfg);
    const rec = recorder();
    presence({ sensor: cfg, input: lvl, clock: systemClock, emit: rec.emit, distanceCm: () => lvl.cm });
    for (const cm of [200, 75.04, 70]) raw.set(cm);
    vi.advanceTimersByTime(1000);
    for (const cm of [150, 160, 170]) raw.set(cm);
    expect(rec.events.map((e) => [e.data, e.atMs - T0])).toEqual([
      [{ sensor: 'step-sonar', zone: 'floor-mid', state: 'on', distanceCm: 75 }, 0],
      [{ sensor: 'step-sonar', zone: 'floor-mid', state: 'off', distanceCm: 150 }, 1000],
    ]);
  });
});

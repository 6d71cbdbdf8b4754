import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { beamPair } from '../../edge/beam-pair.ts';
import { SimDigitalInput } from '../../edge/drivers/sim.ts';
import { systemClock, type Bit } from '../../edge/io.ts';
import { beamCfg, recorder } from '../fakes/nodes.ts';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');

function setup(over: Parameters<typeof beamCfg>[0] = {}) {
  const outer = new SimDigitalInput('front-beam.outer');
  const inner = new SimDigitalInput('front-beam.inner');
  const rec = recorder();
  const pair = beamPair({ sensor: beamCfg(over), outer, inner, clock: systemClock, emit: rec.emit });
  /** runs steps [afterMs, beam, level] one after the other, advancing fake time */
  const play = (steps: Array<[number, 'outer' | 'inner', Bit]>) => {
    for (const [after, beam, level] of steps) {
      vi.advanceTimersByTime(after);
      (beam === 'outer' ? outer : inner).set(level);
    }
    vi.advanceTimersByTime(5_000); // let debounce and crossing timers run out
  };
  return { outer, inner, pair, play, events: rec.events };
}

describe('beam pair', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('outer then inner is one "in" crossing, timed at the first break', () => {
    const { play, events, pair } = setup();
    play([
      [100, 'outer', 1],
      [120, 'inner', 1],
      [150, 'outer', 0],
      [130, 'inner', 0],
    ]);
    expect(events).toEqual([{ type: 'greetwatch.entry.v1', data: { sensor: 'front-beam', direction: 'in' }, atMs: T0 + 100 }]);
    expect(pair.stats()).toMatchObject({ in: 1, out: 0, partial: 0, turnedBack: 0 });
  });

  it('inner then outer is one "out" crossing', () => {
    const { play, events, pair } = setup();
    play([
      [0, 'inner', 1],
      [100, 'outer', 1],
      [100, 'inner', 0],
      [100, 'outer', 0],
    ]);
    expect(events.map((e) => e.data)).toEqual([{ sensor: 'front-beam', direction: 'out' }]);
    expect(pair.stats()).toMatchObject({ in: 0, out: 1 });
  });

  it('counts consecutive crossings in both directions', () => {
    const { play, events } = setup();
    const inStep: Array<[number, 'outer' | 'inner', Bit]> = [
      [300, 'outer', 1],
      [100, 'inner', 1],
      [100, 'outer', 0],
      [100, 'inner', 0],
    ];
    const outStep: Array<[number, 'outer' | 'inner', Bit]> = [
      [300, 'inner', 1],
      [100, 'outer', 1],
      [100, 'inner', 0],
      [100, 'outer', 0],
    ];
    play([...inStep, ...inStep, ...outStep, ...inStep]);
    expect(events.map((e) => e.data.direction)).toEqual(['in', 'in', 'out', 'in']);
  });

  it('only one beam broken within crossingMs is a partial crossing, no event', () => {
    const { play, events, pair } = setup({ crossingMs: 1000 });
    play([
      [0, 'outer', 1],
      [3000, 'outer', 0], // someone stood in the outer beam and left
    ]);
    expect(events).toEqual([]);
    expect(pair.stats().partial).toBe(1);
  });

  it('a peek (outer breaks and clears, inner never) is partial', () => {
    const { play, events, pair } = setup();
    play([
      [0, 'outer', 1],
      [300, 'outer', 0],
    ]);
    expect(events).toEqual([]);
    expect(pair.stats().partial).toBe(1);
  });

  it('the second beam breaking after crossingMs is no crossing, and the pair recovers after both clear', () => {
    const { play, events, pair } = setup({ crossingMs: 500 });
    play([
      [0, 'outer', 1],
      [800, 'inner', 1], // too late
      [100, 'outer', 0],
      [100, 'inner', 0],
      // then a normal crossing
      [500, 'outer', 1],
      [100, 'inner', 1],
      [100, 'outer', 0],
      [100, 'inner', 0],
    ]);
    expect(pair.stats().partial).toBe(1);
    expect(events.map((e) => e.data.direction)).toEqual(['in']);
  });

  it('a person who turns back (outer, inner, then leaves by outer) is no event', () => {
    const { play, events, pair } = setup();
    play([
      [0, 'outer', 1],
      [100, 'inner', 1],
      [200, 'inner', 0], // steps back out of the inner beam
      [200, 'outer', 0], // and leaves on the street side
    ]);
    expect(events).toEqual([]);
    expect(pair.stats().turnedBack).toBe(1);
  });

  it('contact bounce shorter than debounceMs is filtered; the event keeps the first edge time', () => {
    const { play, events, pair } = setup({ debounceMs: 20 });
    play([
      [50, 'outer', 1],
      [3, 'outer', 0],
      [3, 'outer', 1], // bounce
      [100, 'inner', 1],
      [2, 'inner', 0],
      [2, 'inner', 1], // bounce
      [150, 'outer', 0],
      [4, 'outer', 1],
      [4, 'outer', 0], // bounce on release
      [100, 'inner', 0],
    ]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ data: { direction: 'in' }, atMs: T0 + 50 });
    expect(pair.stats()).toMatchObject({ in: 1, partial: 0, turnedBack: 0 });
  });

  it('a lone flicker on one beam (shorter than debounceMs) is a glitch, not a crossing', () => {
    const { play, events, pair } = setup({ debounceMs: 20 });
    play([
      [0, 'inner', 1],
      [5, 'inner', 0],
    ]);
    expect(events).toEqual([]);
    expect(pair.stats()).toMatchObject({ glitches: 1, partial: 0 });
  });

  it('a second beam breaking just inside crossingMs still counts although the debounce delays it', () => {
    const { play, events } = setup({ crossingMs: 500, debounceMs: 20 });
    play([
      [0, 'outer', 1],
      [495, 'inner', 1], // at 495 ms: seen by the logic at 515 ms
      [100, 'outer', 0],
      [100, 'inner', 0],
    ]);
    expect(events.map((e) => e.data.direction)).toEqual(['in']);
  });

  it('two people back to back are two crossings, each timed at its own first break', () => {
    const { play, events } = setup();
    play([
      [0, 'outer', 1],
      [150, 'inner', 1],
      [150, 'outer', 0],
      [150, 'inner', 0],
      // the next person is right behind: outer breaks 80 ms after the pair cleared
      [80, 'outer', 1],
      [150, 'inner', 1],
      [150, 'outer', 0],
      [150, 'inner', 0],
    ]);
    expect(events.map((e) => [e.data, e.atMs - T0])).toEqual([
      [{ sensor: 'front-beam', direction: 'in' }, 0],
      [{ sensor: 'front-beam', direction: 'in' }, 530],
    ]);
  });

  it('a person standing in the doorway (both beams broken, then back out) is no event, and the next crossing counts', () => {
    const { play, events, pair } = setup();
    play([
      [0, 'outer', 1],
      [200, 'inner', 1],
      [20_000, 'inner', 0], // stood 20 s, stepped back out to the street
      [300, 'outer', 0],
      [2_000, 'inner', 1], // then someone leaves
      [150, 'outer', 1],
      [150, 'inner', 0],
      [150, 'outer', 0],
    ]);
    expect(events.map((e) => e.data)).toEqual([{ sensor: 'front-beam', direction: 'out' }]);
    expect(pair.stats()).toMatchObject({ in: 0, out: 1, turnedBack: 1 });
  });

  it('someone standing in one beam for long is a partial crossing; the pair counts again once it clears', () => {
    const { play, events, pair } = setup();
    play([
      [0, 'outer', 1],
      [30_000, 'outer', 0], // leaning on the door frame for 30 s
      [500, 'outer', 1],
      [150, 'inner', 1],
      [150, 'outer', 0],
      [150, 'inner', 0],
    ]);
    expect(events.map((e) => e.data)).toEqual([{ sensor: 'front-beam', direction: 'in' }]);
    expect(pair.stats()).toMatchObject({ in: 1, partial: 1 });
  });

  it('delayedOnMs also delays the second beam: a crossing just inside crossingMs still counts', () => {
    const { play, events } = setup({ delayedOnMs: 100, crossingMs: 500 });
    play([
      [0, 'outer', 1],
      [480, 'inner', 1],
      [300, 'outer', 0],
      [300, 'inner', 0],
    ]);
    expect(events.map((e) => [e.data, e.atMs - T0])).toEqual([[{ sensor: 'front-beam', direction: 'in' }, 0]]);
  });

  it('close() stops watching: later changes emit nothing', () => {
    const { outer, inner, pair, events } = setup();
    pair.close();
    outer.set(1);
    inner.set(1);
    outer.set(0);
    inner.set(0);
    vi.advanceTimersByTime(5_000);
    expect(events).toEqual([]);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { button } from '../../edge/button.ts';
import { door } from '../../edge/door.ts';
import { presence } from '../../edge/presence.ts';
import { SimDigitalInput } from '../../edge/drivers/sim.ts';
import { systemClock, type Bit } from '../../edge/io.ts';
import { buttonCfg, doorCfg, pirCfg, recorder } from '../fakes/nodes.ts';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');

function play(input: SimDigitalInput, steps: Array<[number, Bit]>): void {
  for (const [after, level] of steps) {
    vi.advanceTimersByTime(after);
    input.set(level);
  }
  vi.advanceTimersByTime(1_000);
}

describe('button', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a bouncing press and release is one greet, timed at the first contact', () => {
    const input = new SimDigitalInput('counter-btn');
    const rec = recorder();
    const b = button({ button: buttonCfg({ debounceMs: 30 }), input, clock: systemClock, emit: rec.emit });
    play(input, [
      [200, 1],
      [2, 0],
      [3, 1],
      [4, 0],
      [2, 1], // bounce on press
      [250, 0],
      [3, 1],
      [3, 0], // bounce on release
    ]);
    expect(rec.events).toEqual([{ type: 'greetwatch.greet.v1', data: { button: 'counter-btn' }, atMs: T0 + 200 }]);
    expect(b.stats().presses).toBe(1);
  });

  it('a counter button has no staff; a fob names its staff member', () => {
    const counter = new SimDigitalInput('counter-btn');
    const fob = new SimDigitalInput('fob-anna');
    const rec = recorder();
    button({ button: buttonCfg(), input: counter, clock: systemClock, emit: rec.emit });
    button({ button: buttonCfg({ id: 'fob-anna', kind: 'fob', staff: 'anna' }), input: fob, clock: systemClock, emit: rec.emit });
    play(counter, [[0, 1], [100, 0]]);
    play(fob, [[0, 1], [100, 0]]);
    expect(rec.events.map((e) => e.data)).toEqual([{ button: 'counter-btn' }, { button: 'fob-anna', staff: 'anna' }]);
    expect(rec.events[0]!.data).not.toHaveProperty('staff');
  });

  it('a staffpass button emits greetwatch.staffpass.v1', () => {
    const input = new SimDigitalInput('door-pass');
    const rec = recorder();
    button({ button: buttonCfg({ id: 'door-pass', action: 'staffpass' }), input, clock: systemClock, emit: rec.emit });
    play(input, [[0, 1], [100, 0], [500, 1], [100, 0]]);
    expect(rec.events.map((e) => [e.type, e.data])).toEqual([
      ['greetwatch.staffpass.v1', { button: 'door-pass' }],
      ['greetwatch.staffpass.v1', { button: 'door-pass' }],
    ]);
  });

  it('a tap shorter than debounceMs is a glitch, not a press', () => {
    const input = new SimDigitalInput('counter-btn');
    const rec = recorder();
    const b = button({ button: buttonCfg({ debounceMs: 30 }), input, clock: systemClock, emit: rec.emit });
    play(input, [[0, 1], [10, 0]]);
    expect(rec.events).toEqual([]);
    expect(b.stats()).toEqual({ presses: 0, holds: 0, glitches: 1 });
  });
});

describe('button: press and hold', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('one fob does both: a press greets, a hold of holdMs is a staffpass, both timed at the press', () => {
    const input = new SimDigitalInput('fob-anna');
    const rec = recorder();
    const b = button({ button: buttonCfg({ id: 'fob-anna', kind: 'fob', staff: 'anna', debounceMs: 20 }), input, clock: systemClock, emit: rec.emit });
    play(input, [
      [100, 1],
      [400, 0], // a press of 0.4 s
      [2000, 1],
      [1600, 0], // held 1.6 s
    ]);
    expect(rec.events).toEqual([
      { type: 'greetwatch.greet.v1', data: { button: 'fob-anna', staff: 'anna' }, atMs: T0 + 100 },
      { type: 'greetwatch.staffpass.v1', data: { button: 'fob-anna', staff: 'anna' }, atMs: T0 + 2500 },
    ]);
    expect(b.stats()).toEqual({ presses: 1, holds: 1, glitches: 0 });
  });

  it('the hold is emitted at holdMs, before the release', () => {
    const input = new SimDigitalInput('fob-anna');
    const rec = recorder();
    button({ button: buttonCfg({ id: 'fob-anna', debounceMs: 0, holdMs: 1500 }), input, clock: systemClock, emit: rec.emit });
    input.set(1);
    vi.advanceTimersByTime(1499);
    expect(rec.events).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(rec.events.map((e) => e.type)).toEqual(['greetwatch.staffpass.v1']);
    vi.advanceTimersByTime(5000);
    input.set(0);
    expect(rec.events).toHaveLength(1);
  });

  it('holdAction none: a long press is still a greet, sent at the press', () => {
    const input = new SimDigitalInput('counter-btn');
    const rec = recorder();
    button({ button: buttonCfg({ debounceMs: 0, holdAction: 'none' }), input, clock: systemClock, emit: rec.emit });
    input.set(1);
    expect(rec.events.map((e) => [e.type, e.atMs - T0])).toEqual([['greetwatch.greet.v1', 0]]);
    vi.advanceTimersByTime(3000);
    input.set(0);
    expect(rec.events).toHaveLength(1);
  });

  it('a configurable holdMs', () => {
    const input = new SimDigitalInput('counter-btn');
    const rec = recorder();
    button({ button: buttonCfg({ debounceMs: 0, holdMs: 800 }), input, clock: systemClock, emit: rec.emit });
    play(input, [[0, 1], [900, 0], [500, 1], [700, 0]]);
    expect(rec.events.map((e) => [e.type, e.atMs - T0])).toEqual([
      ['greetwatch.staffpass.v1', 0],
      ['greetwatch.greet.v1', 1400],
    ]);
  });
});

describe('door and presence', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('door contact changes are debounced open/closed events', () => {
    const input = new SimDigitalInput('front-door');
    const rec = recorder();
    door({ sensor: doorCfg({ debounceMs: 50 }), input, clock: systemClock, emit: rec.emit });
    play(input, [[10, 1], [5, 0], [5, 1], [2000, 0]]);
    expect(rec.events).toEqual([
      { type: 'greetwatch.door.v1', data: { sensor: 'front-door', state: 'open' }, atMs: T0 + 10 },
      { type: 'greetwatch.door.v1', data: { sensor: 'front-door', state: 'closed' }, atMs: T0 + 2020 },
    ]);
  });

  it('PIR on/off are presence events with the zone', () => {
    const input = new SimDigitalInput('mid-pir');
    const rec = recorder();
    presence({ sensor: pirCfg({ debounceMs: 50 }), input, clock: systemClock, emit: rec.emit });
    play(input, [[0, 1], [3000, 0]]);
    expect(rec.events.map((e) => e.data)).toEqual([
      { sensor: 'mid-pir', zone: 'floor-mid', state: 'on' },
      { sensor: 'mid-pir', zone: 'floor-mid', state: 'off' },
    ]);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { button } from '../../edge/button.ts';
import { door } from '../../edge/door.ts';
import { presence } from '../../edge/presence.ts';
import { SimDigitalInput, systemClock, type Bit } from '../../edge/io.ts';
import { buttonCfg, recorder } from '../fakes/nodes.ts';

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
    expect(b.stats()).toEqual({ presses: 0, glitches: 1 });
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
    door({ sensor: { id: 'front-door', kind: 'door', pin: 22, debounceMs: 50 }, input, clock: systemClock, emit: rec.emit });
    play(input, [[10, 1], [5, 0], [5, 1], [2000, 0]]);
    expect(rec.events).toEqual([
      { type: 'greetwatch.door.v1', data: { sensor: 'front-door', state: 'open' }, atMs: T0 + 10 },
      { type: 'greetwatch.door.v1', data: { sensor: 'front-door', state: 'closed' }, atMs: T0 + 2020 },
    ]);
  });

  it('PIR on/off are presence events with the zone', () => {
    const input = new SimDigitalInput('mid-pir');
    const rec = recorder();
    presence({ sensor: { id: 'mid-pir', kind: 'pir', zone: 'floor-mid', pin: 5, debounceMs: 50 }, input, clock: systemClock, emit: rec.emit });
    play(input, [[0, 1], [3000, 0]]);
    expect(rec.events.map((e) => e.data)).toEqual([
      { sensor: 'mid-pir', zone: 'floor-mid', state: 'on' },
      { sensor: 'mid-pir', zone: 'floor-mid', state: 'off' },
    ]);
  });
});

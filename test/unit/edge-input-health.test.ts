import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { asSimInput, SimDigitalInput, simDriver } from '../../edge/drivers/sim.ts';
import { inputHealth } from '../../edge/input-health.ts';
import { systemClock, type Bit, type InputSpec } from '../../edge/io.ts';
import { attachSignals, openNodeInputs } from '../../edge/signals.ts';
import { beamCfg, doorCfg, nodeCfg, recorder } from '../fakes/nodes.ts';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const FAULTS = { stuckAfterS: 600, stuckDoorOpens: 5, chatterPerS: 20, calmS: 5 };

function spec(over: Partial<InputSpec> = {}): InputSpec {
  return { key: 'front-beam.outer', role: 'beam-outer', device: 'front-beam', pin: 17, activeLow: false, ...over };
}

describe('input health: chatter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('more than chatterPerS edges in a second mutes the input; calm for calmS unmutes it with `recovered`', () => {
    const raw = new SimDigitalInput('front-beam.outer');
    const rec = recorder();
    const h = inputHealth({ faults: FAULTS, clock: systemClock, emit: rec.emit, hasDoor: true });
    const gated = h.gate(raw, spec());
    const seen: Bit[] = [];
    gated.watch((v) => seen.push(v));

    // 1 kHz chatter for 3 s
    for (let i = 0; i < 3000; i++) {
      vi.advanceTimersByTime(1);
      raw.set(raw.read() === 1 ? 0 : 1);
    }
    expect(gated.muted).toBe(true);
    // the first 20 changes passed, then it was muted: nothing more reached the signal logic
    expect(seen.length).toBe(20);
    expect(rec.events.map((e) => [e.type, e.data.kind, e.atMs - T0])).toEqual([['greetwatch.fault.v1', 'chatter', 21]]);
    expect(rec.events[0]!.data).toMatchObject({ sensor: 'front-beam', detail: expect.stringContaining('beam-outer pin 17') as unknown });

    // it stops on 1 (say, the beam is broken by a stuck object); calm for 5 s
    raw.set(1);
    vi.advanceTimersByTime(4_900);
    expect(gated.muted).toBe(true);
    vi.advanceTimersByTime(200);
    expect(gated.muted).toBe(false);
    expect(rec.events.map((e) => e.data.kind)).toEqual(['chatter', 'recovered']);
    // the signal logic is handed the level as it is now
    expect(gated.read()).toBe(1);
    expect(h.stats()).toEqual({ 'front-beam': { chatter: 1, stuck: 0 } });
  });

  it('a burst of fewer edges than the limit is no fault', () => {
    const raw = new SimDigitalInput('btn');
    const rec = recorder();
    const h = inputHealth({ faults: FAULTS, clock: systemClock, emit: rec.emit, hasDoor: false });
    const gated = h.gate(raw, spec({ key: 'btn', role: 'button', device: 'btn' }));
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(10);
      raw.set(raw.read() === 1 ? 0 : 1);
    }
    expect(gated.muted).toBe(false);
    expect(rec.events).toEqual([]);
  });

  it('chatter that keeps going keeps the input muted (the calm timer is re-armed, not once per edge)', () => {
    const raw = new SimDigitalInput('x');
    const rec = recorder();
    const h = inputHealth({ faults: FAULTS, clock: systemClock, emit: rec.emit, hasDoor: true });
    const gated = h.gate(raw, spec());
    for (let s = 0; s < 30; s++) {
      for (let i = 0; i < 100; i++) {
        vi.advanceTimersByTime(10);
        raw.set(raw.read() === 1 ? 0 : 1);
      }
    }
    expect(gated.muted).toBe(true);
    expect(vi.getTimerCount()).toBe(1);
    expect(rec.events.map((e) => e.data.kind)).toEqual(['chatter']);
  });
});

describe('input health: stuck', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('a beam that never changes while the door opens many times is stuck; its next change recovers it', () => {
    const node = nodeCfg({ sensors: [beamCfg({ debounceMs: 0 }), doorCfg({ debounceMs: 0 })], faults: FAULTS });
    const inputs = openNodeInputs(node, simDriver());
    const rec = recorder();
    attachSignals({ node, inputs, clock: systemClock, emit: rec.emit });
    const doorIn = asSimInput(inputs.digital.get('front-door'), 't');
    const outer = asSimInput(inputs.digital.get('front-beam.outer'), 't');
    const faults = () => rec.events.filter((e) => e.type === 'greetwatch.fault.v1').map((e) => [e.data.sensor, e.data.kind]);

    // the door opens 5 times within 10 minutes: not yet stuck (too soon)
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(60_000);
      doorIn.set(1);
      vi.advanceTimersByTime(3_000);
      doorIn.set(0);
    }
    expect(faults()).toEqual([]);
    // past stuckAfterS with yet another opening: both beams are stuck
    vi.advanceTimersByTime(600_000);
    doorIn.set(1);
    expect(faults()).toEqual([
      ['front-beam', 'stuck'],
      ['front-beam', 'stuck'],
    ]);
    const stuck = rec.events.find((e) => e.type === 'greetwatch.fault.v1')!;
    expect(stuck.data.detail).toMatch(/^beam-outer pin 17 idle for 915 s while the door opened 6 times$/);
    // the outer beam breaks again: recovered (once)
    outer.set(1);
    expect(faults().slice(2)).toEqual([['front-beam', 'recovered']]);
  });

  it('a beam pair with no door: each beam is the other one\'s reference', () => {
    const node = nodeCfg({ sensors: [beamCfg({ debounceMs: 0 })], faults: FAULTS });
    const inputs = openNodeInputs(node, simDriver());
    const rec = recorder();
    attachSignals({ node, inputs, clock: systemClock, emit: rec.emit });
    const outer = asSimInput(inputs.digital.get('front-beam.outer'), 't');
    // the outer beam sees people; the inner one is dead
    for (let i = 0; i < 6; i++) {
      vi.advanceTimersByTime(200_000);
      outer.set(1);
      vi.advanceTimersByTime(500);
      outer.set(0);
    }
    const f = rec.events.filter((e) => e.type === 'greetwatch.fault.v1');
    expect(f).toHaveLength(1);
    expect(f[0]!.data).toMatchObject({ sensor: 'front-beam', kind: 'stuck', detail: expect.stringMatching(/^beam-inner pin 27 idle for \d+ s while the other beam changed 5 times$/) as unknown });
  });
});

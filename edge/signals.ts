import type { Logger } from 'pino';
import { canonicalJson } from '../firmware-config/hash.ts';
import type { Node as NodeConfig, Pin } from '../firmware-config/schema.ts';
import { beamPair } from './beam-pair.ts';
import { button } from './button.ts';
import { distanceLevel } from './distance.ts';
import { door } from './door.ts';
import type { Emit } from './envelope.ts';
import { inputHealth } from './input-health.ts';
import { inputKeys, type Clock, type DigitalInput, type DistanceInput, type DistanceSpec, type InputRole, type InputSpec, type IoDriver } from './io.ts';
import { presence } from './presence.ts';

// Wires a node's configured sensors and buttons to its inputs and signal logic:
//   driver input → input-health (chatter mute, stuck check) → filters → signal → event.
// Kept apart from agent.ts so the signal path (inputs → events) runs without MQTT:
// the simulator tests drive it with fake timers.

export interface NodeInputs {
  /** digital inputs by inputKeys: one per beam (two per beam pair), door, PIR, digital proximity module, button */
  digital: Map<string, DigitalInput>;
  /** distance sensors (proximity models hcsr04, gp2y0a21yk) by inputKeys.sensor */
  distance: Map<string, DistanceInput>;
}

/** One input a node's config asks its driver for: a digital line or a distance sensor. */
export type InputPlan = { kind: 'digital'; spec: InputSpec } | { kind: 'distance'; spec: DistanceSpec };

/** The inputs `node` needs, in config order: two per beam pair, one per door, PIR, proximity sensor and button. */
export function nodeInputSpecs(node: NodeConfig): InputPlan[] {
  const plans: InputPlan[] = [];
  const digital = (key: string, role: InputRole, device: string, pin: Pin | undefined, activeLow: boolean): void => {
    plans.push({ kind: 'digital', spec: pin === undefined ? { key, role, device, activeLow } : { key, role, device, pin, activeLow } });
  };
  for (const s of node.sensors) {
    switch (s.kind) {
      case 'beam-pair':
        digital(inputKeys.beamOuter(s.id), 'beam-outer', s.id, s.outerPin, s.activeLow);
        digital(inputKeys.beamInner(s.id), 'beam-inner', s.id, s.innerPin, s.activeLow);
        break;
      case 'door':
        digital(inputKeys.sensor(s.id), 'door', s.id, s.pin, s.activeLow);
        break;
      case 'pir':
        digital(inputKeys.sensor(s.id), 'presence', s.id, s.pin, s.activeLow);
        break;
      case 'proximity':
        if (s.model === 'digital') digital(inputKeys.sensor(s.id), 'presence', s.id, s.pin, s.activeLow);
        else {
          const key = inputKeys.sensor(s.id);
          plans.push({ kind: 'distance', spec: s.pin === undefined ? { key, device: s.id, model: s.model } : { key, device: s.id, model: s.model, pin: s.pin } });
        }
        break;
    }
  }
  for (const b of node.buttons) digital(inputKeys.button(b.id), 'button', b.id, b.pin, b.activeLow);
  return plans;
}

/** Closes every input in `inputs` (the agent owns them: signal logic never closes one). */
export function closeInputs(inputs: NodeInputs): void {
  for (const i of inputs.digital.values()) i.close();
  for (const i of inputs.distance.values()) i.close();
}

/**
 * Opens every input of the node on an opened driver; throws the driver's DRIVER_OPEN error
 * for a bad pin, after closing what this call opened. Inputs in `reuse` are taken over, as
 * the same objects, for their keys (reusableInputs picks the ones whose spec is unchanged);
 * they are never closed here, whatever happens.
 */
export function openNodeInputs(node: NodeConfig, driver: IoDriver, reuse?: NodeInputs): NodeInputs {
  const digital = new Map<string, DigitalInput>();
  const distance = new Map<string, DistanceInput>();
  const opened: NodeInputs = { digital: new Map(), distance: new Map() };
  try {
    for (const p of nodeInputSpecs(node)) {
      const key = p.spec.key;
      if (p.kind === 'digital') {
        const input = reuse?.digital.get(key) ?? driver.input(p.spec);
        if (!reuse?.digital.has(key)) opened.digital.set(key, input);
        digital.set(key, input);
      } else {
        const input = reuse?.distance.get(key) ?? driver.distance(p.spec);
        if (!reuse?.distance.has(key)) opened.distance.set(key, input);
        distance.set(key, input);
      }
    }
  } catch (err) {
    closeInputs(opened);
    throw err;
  }
  return { digital, distance };
}

/**
 * Splits the inputs opened for `prev` into those `next` can keep as they are (same key and
 * the same spec: role, device, pin, wiring; model for a distance sensor) and the rest, which
 * the caller closes before opening `next` (a pin that moved must be free first).
 */
export function reusableInputs(prev: NodeConfig, inputs: NodeInputs, next: NodeConfig): { kept: NodeInputs; stale: NodeInputs } {
  const specs = (node: NodeConfig): Map<string, string> => new Map(nodeInputSpecs(node).map((p) => [`${p.kind}:${p.spec.key}`, canonicalJson(p.spec)]));
  const had = specs(prev);
  const wanted = specs(next);
  const keep = (id: string): boolean => had.has(id) && had.get(id) === wanted.get(id);
  const kept: NodeInputs = { digital: new Map(), distance: new Map() };
  const stale: NodeInputs = { digital: new Map(), distance: new Map() };
  for (const [key, input] of inputs.digital) (keep(`digital:${key}`) ? kept : stale).digital.set(key, input);
  for (const [key, input] of inputs.distance) (keep(`distance:${key}`) ? kept : stale).distance.set(key, input);
  return { kept, stale };
}

/** Per sensor/button id: its counters (crossings, aborted crossings, presses, changes, glitches, faults). */
export type SignalStats = Record<string, Record<string, number>>;

export interface NodeSignals {
  stats(): SignalStats;
  close(): void;
}

/**
 * Wires the node's signal logic to its opened inputs. close() stops it and leaves the inputs
 * open and unwatched, so a new config can attach its own logic to the same inputs.
 */
export function attachSignals(opts: { node: NodeConfig; inputs: NodeInputs; clock: Clock; emit: Emit; log?: Logger }): NodeSignals {
  const { node, inputs, clock, emit } = opts;
  const health = inputHealth({ faults: node.faults, clock, emit, hasDoor: node.sensors.some((s) => s.kind === 'door'), ...(opts.log ? { log: opts.log } : {}) });
  const missing = (key: string): Error => new Error(`node ${node.id}: no input ${key} (openNodeInputs was not given this config)`);
  const role = (key: string, r: InputRole, device: string, pin: Pin | undefined): DigitalInput => {
    const input = inputs.digital.get(key);
    if (!input) throw missing(key);
    return health.gate(input, pin === undefined ? { key, role: r, device, activeLow: false } : { key, role: r, device, pin, activeLow: false });
  };
  const parts: Array<{ id: string; stats(): Record<string, number>; close(): void }> = [];
  for (const s of node.sensors) {
    switch (s.kind) {
      case 'beam-pair': {
        const outer = role(inputKeys.beamOuter(s.id), 'beam-outer', s.id, s.outerPin);
        const inner = role(inputKeys.beamInner(s.id), 'beam-inner', s.id, s.innerPin);
        parts.push({ id: s.id, ...beamPair({ sensor: s, outer, inner, clock, emit, log: opts.log }) });
        break;
      }
      case 'door':
        parts.push({ id: s.id, ...door({ sensor: s, input: role(inputKeys.sensor(s.id), 'door', s.id, s.pin), clock, emit, onOpen: () => health.doorOpened() }) });
        break;
      case 'pir':
        parts.push({ id: s.id, ...presence({ sensor: s, input: role(inputKeys.sensor(s.id), 'presence', s.id, s.pin), clock, emit }) });
        break;
      case 'proximity': {
        const key = inputKeys.sensor(s.id);
        if (s.model === 'digital') {
          parts.push({ id: s.id, ...presence({ sensor: s, input: role(key, 'presence', s.id, s.pin), clock, emit }) });
          break;
        }
        const raw = inputs.distance.get(key);
        if (!raw) throw missing(key);
        // the driver's input belongs to the agent (a new config may keep it): the filter may stop watching it, never close it
        const view: DistanceInput = { key: raw.key, watch: (cb) => raw.watch(cb), unwatch: (cb) => raw.unwatch(cb), close: () => {} };
        const level = distanceLevel(view, s);
        const gated = health.gate(level, s.pin === undefined ? { key, role: 'presence', device: s.id, activeLow: false } : { key, role: 'presence', device: s.id, pin: s.pin, activeLow: false });
        const p = presence({ sensor: s, input: gated, clock, emit, distanceCm: () => level.cm });
        parts.push({
          id: s.id,
          stats: () => ({ ...p.stats(), invalidReadings: level.invalid }),
          close: () => {
            p.close();
            level.close();
          },
        });
        break;
      }
    }
  }
  for (const b of node.buttons) {
    parts.push({ id: b.id, ...button({ button: b, input: role(inputKeys.button(b.id), 'button', b.id, b.pin), clock, emit }) });
  }
  return {
    stats() {
      const faults = health.stats();
      return Object.fromEntries(parts.map((p) => [p.id, { ...p.stats(), ...(faults[p.id] ?? {}) }]));
    },
    close() {
      for (const p of parts) p.close();
      health.close();
    },
  };
}

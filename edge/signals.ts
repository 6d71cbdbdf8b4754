import type { Logger } from 'pino';
import type { Node as NodeConfig, Pin } from '../firmware-config/schema.ts';
import { beamPair } from './beam-pair.ts';
import { button } from './button.ts';
import { distanceLevel } from './distance.ts';
import { door } from './door.ts';
import type { Emit } from './envelope.ts';
import { inputHealth } from './input-health.ts';
import { inputKeys, type Clock, type DigitalInput, type DistanceInput, type InputRole, type IoDriver } from './io.ts';
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

/** Opens every input of the node on an opened driver; throws the driver's DRIVER_OPEN error for a bad pin. */
export function openNodeInputs(node: NodeConfig, driver: IoDriver): NodeInputs {
  const digital = new Map<string, DigitalInput>();
  const distance = new Map<string, DistanceInput>();
  const open = (key: string, role: InputRole, device: string, pin: Pin | undefined, activeLow: boolean): void => {
    digital.set(key, driver.input(pin === undefined ? { key, role, device, activeLow } : { key, role, device, pin, activeLow }));
  };
  try {
    for (const s of node.sensors) {
      switch (s.kind) {
        case 'beam-pair':
          open(inputKeys.beamOuter(s.id), 'beam-outer', s.id, s.outerPin, s.activeLow);
          open(inputKeys.beamInner(s.id), 'beam-inner', s.id, s.innerPin, s.activeLow);
          break;
        case 'door':
          open(inputKeys.sensor(s.id), 'door', s.id, s.pin, s.activeLow);
          break;
        case 'pir':
          open(inputKeys.sensor(s.id), 'presence', s.id, s.pin, s.activeLow);
          break;
        case 'proximity':
          if (s.model === 'digital') open(inputKeys.sensor(s.id), 'presence', s.id, s.pin, s.activeLow);
          else {
            const key = inputKeys.sensor(s.id);
            distance.set(key, driver.distance(s.pin === undefined ? { key, device: s.id, model: s.model } : { key, device: s.id, model: s.model, pin: s.pin }));
          }
          break;
      }
    }
    for (const b of node.buttons) open(inputKeys.button(b.id), 'button', b.id, b.pin, b.activeLow);
  } catch (err) {
    for (const i of digital.values()) i.close();
    for (const i of distance.values()) i.close();
    throw err;
  }
  return { digital, distance };
}

/** Per sensor/button id: its counters (crossings, aborted crossings, presses, changes, glitches, faults). */
export type SignalStats = Record<string, Record<string, number>>;

export interface NodeSignals {
  stats(): SignalStats;
  close(): void;
}

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
        const level = distanceLevel(raw, s);
        const gated = health.gate(level, s.pin === undefined ? { key, role: 'presence', device: s.id, activeLow: false } : { key, role: 'presence', device: s.id, pin: s.pin, activeLow: false });
        const p = presence({ sensor: s, input: gated, clock, emit, distanceCm: () => level.cm });
        parts.push({ id: s.id, stats: () => ({ ...p.stats(), invalidReadings: level.invalid }), close: p.close });
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

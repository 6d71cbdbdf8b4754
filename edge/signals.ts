import type { Logger } from 'pino';
import type { Node as NodeConfig } from '../firmware-config/schema.ts';
import { beamPair } from './beam-pair.ts';
import { button } from './button.ts';
import { door } from './door.ts';
import type { Emit } from './envelope.ts';
import { inputKeys, type Clock, type DigitalInput, type IoDriver } from './io.ts';
import { presence } from './presence.ts';

// Wires a node's configured sensors and buttons to its inputs and signal logic.
// Kept apart from agent.ts so the signal path (inputs → events) runs without MQTT:
// the simulator tests drive it with fake timers.

/** Opens one input per beam (two per beam pair), door, presence sensor and button, keyed by inputKeys. */
export function openNodeInputs(node: NodeConfig, driver: IoDriver): Map<string, DigitalInput> {
  const inputs = new Map<string, DigitalInput>();
  const open = (key: string, role: Parameters<IoDriver['input']>[0]['role'], pin: number | undefined): void => {
    inputs.set(key, driver.input(pin === undefined ? { key, role } : { key, role, pin }));
  };
  for (const s of node.sensors) {
    switch (s.kind) {
      case 'beam-pair':
        open(inputKeys.beamOuter(s.id), 'beam-outer', s.outerPin);
        open(inputKeys.beamInner(s.id), 'beam-inner', s.innerPin);
        break;
      case 'door':
        open(inputKeys.sensor(s.id), 'door', s.pin);
        break;
      case 'pir':
      case 'proximity':
        open(inputKeys.sensor(s.id), 'presence', s.pin);
        break;
    }
  }
  for (const b of node.buttons) open(inputKeys.button(b.id), 'button', b.pin);
  return inputs;
}

/** Per sensor/button id: its counters (crossings, aborted crossings, presses, changes, glitches). */
export type SignalStats = Record<string, Record<string, number>>;

export interface NodeSignals {
  stats(): SignalStats;
  close(): void;
}

export function attachSignals(opts: {
  node: NodeConfig;
  inputs: ReadonlyMap<string, DigitalInput>;
  clock: Clock;
  emit: Emit;
  log?: Logger;
}): NodeSignals {
  const { node, inputs, clock, emit } = opts;
  const get = (key: string): DigitalInput => {
    const input = inputs.get(key);
    if (!input) throw new Error(`node ${node.id}: no input ${key} (openNodeInputs was not given this config)`);
    return input;
  };
  const parts: Array<{ id: string; stats(): Record<string, number>; close(): void }> = [];
  for (const s of node.sensors) {
    switch (s.kind) {
      case 'beam-pair': {
        const outer = get(inputKeys.beamOuter(s.id));
        const inner = get(inputKeys.beamInner(s.id));
        parts.push({ id: s.id, ...beamPair({ sensor: s, outer, inner, clock, emit, log: opts.log }) });
        break;
      }
      case 'door':
        parts.push({ id: s.id, ...door({ sensor: s, input: get(inputKeys.sensor(s.id)), clock, emit }) });
        break;
      case 'pir':
      case 'proximity':
        parts.push({ id: s.id, ...presence({ sensor: s, input: get(inputKeys.sensor(s.id)), clock, emit }) });
        break;
    }
  }
  for (const b of node.buttons) {
    parts.push({ id: b.id, ...button({ button: b, input: get(inputKeys.button(b.id)), clock, emit }) });
  }
  return {
    stats: () => Object.fromEntries(parts.map((p) => [p.id, p.stats()])),
    close() {
      for (const p of parts) p.close();
    },
  };
}

import type { Button, Node as NodeConfig, Sensor } from '../../firmware-config/schema.ts';
import type { Emit } from '../../edge/envelope.ts';
import type { EventType } from '../../contract/index.ts';

// Node configs with the schema defaults filled in (what loadConfig returns), for edge tests.

export type BeamPairConfig = Extract<Sensor, { kind: 'beam-pair' }>;

export function beamCfg(over: Partial<BeamPairConfig> = {}): BeamPairConfig {
  return { id: 'front-beam', kind: 'beam-pair', outerPin: 17, innerPin: 27, crossingMs: 1500, debounceMs: 20, ...over };
}

export function buttonCfg(over: Partial<Button> = {}): Button {
  return { id: 'counter-btn', kind: 'counter', action: 'greet', pin: 6, debounceMs: 30, ...over };
}

export function nodeCfg(over: Partial<NodeConfig> = {}): NodeConfig {
  return { id: 'door-1', driver: 'sim', sensors: [], buttons: [], ...over };
}

export interface Emitted {
  type: EventType;
  data: Record<string, unknown>;
  atMs: number;
}

/** An Emit that records what signal logic hands over. */
export function recorder(): { emit: Emit; events: Emitted[] } {
  const events: Emitted[] = [];
  const emit: Emit = (type, data, atMs) => {
    events.push({ type, data: { ...data }, atMs });
  };
  return { emit, events };
}

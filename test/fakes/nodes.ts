import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  BeamPairSensor,
  Button as ButtonSchema,
  DoorSensor,
  Node as NodeSchema,
  PirSensor,
  ProximitySensor,
  type Button,
  type Node as NodeConfig,
  type Sensor,
} from '../../firmware-config/schema.ts';
import type { Emit } from '../../edge/envelope.ts';
import type { EventType } from '../../contract/index.ts';

// Node configs with the schema defaults filled in (what loadConfig returns), for edge tests.

export type BeamPairConfig = Extract<Sensor, { kind: 'beam-pair' }>;
export type DoorConfig = Extract<Sensor, { kind: 'door' }>;
export type PirConfig = Extract<Sensor, { kind: 'pir' }>;
export type ProximityConfig = Extract<Sensor, { kind: 'proximity' }>;

// Defaults come from the schema (firmware-config/schema.ts), never restated here.
const withDefaults = <T extends TSchema>(schema: T, value: object): Static<T> => Value.Default(schema, structuredClone(value));

export function beamCfg(over: Partial<BeamPairConfig> = {}): BeamPairConfig {
  return withDefaults(BeamPairSensor, { id: 'front-beam', kind: 'beam-pair', outerPin: 17, innerPin: 27, ...over });
}

export function buttonCfg(over: Partial<Button> = {}): Button {
  return withDefaults(ButtonSchema, { id: 'counter-btn', kind: 'counter', action: 'greet', pin: 6, ...over });
}

export function doorCfg(over: Partial<DoorConfig> = {}): DoorConfig {
  return withDefaults(DoorSensor, { id: 'front-door', kind: 'door', pin: 22, ...over });
}

export function pirCfg(over: Partial<PirConfig> = {}): PirConfig {
  return withDefaults(PirSensor, { id: 'mid-pir', kind: 'pir', zone: 'floor-mid', pin: 5, ...over });
}

export function proximityCfg(over: Partial<ProximityConfig> = {}): ProximityConfig {
  return withDefaults(ProximitySensor, { id: 'step-sonar', kind: 'proximity', zone: 'floor-mid', pin: 7, ...over });
}

export function nodeCfg(over: Partial<NodeConfig> = {}): NodeConfig {
  return withDefaults(NodeSchema, { id: 'door-1', driver: 'sim', sensors: [], buttons: [], ...over });
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

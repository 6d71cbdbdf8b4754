import { Value } from '@sinclair/typebox/value';
import type { GwEvent, EventType } from '../../contract/index.ts';
import { sourceOf } from '../../contract/index.ts';
import { StoreConfig, type Rules } from '../../firmware-config/schema.ts';

// Builds contract events and store configs for engine tests and fixtures.

export const T0 = Date.parse('2026-11-23T10:00:00.000Z'); // a Monday

export function testConfig(over: { rules?: Partial<Rules>; timezone?: string; openingHours?: Record<string, string>; store?: string } = {}): StoreConfig {
  const raw = {
    store: { id: over.store ?? 's1', timezone: over.timezone ?? 'UTC', ...(over.openingHours ? { openingHours: over.openingHours } : {}) },
    rules: { stepsLineZones: ['mid'], ...over.rules },
    staff: [{ id: 'anna' }, { id: 'ben' }],
    nodes: [],
  };
  const cfg = Value.Default(StoreConfig, raw) as StoreConfig;
  if (!Value.Check(StoreConfig, cfg)) throw new Error('bad test config: ' + JSON.stringify([...Value.Errors(StoreConfig, cfg)][0]));
  return cfg;
}

export interface TraceBuilder {
  /** adds an event at `sec` seconds after T0 (node clock); returns it */
  add<T extends EventType>(node: string, sec: number, type: T, data: Extract<GwEvent, { type: T }>['data'], extra?: { recvSec?: number }): GwEvent;
  in(sec: number, node?: string): GwEvent;
  out(sec: number, node?: string): GwEvent;
  greet(sec: number, staff?: string, node?: string): GwEvent;
  staffpass(sec: number, node?: string): GwEvent;
  presence(sec: number, zone?: string, node?: string): GwEvent;
  events: GwEvent[];
  lines(): string[];
}

export function trace(store = 's1'): TraceBuilder {
  const events: GwEvent[] = [];
  const seqs = new Map<string, number>();
  let n = 0;
  const b: TraceBuilder = {
    events,
    add(node, sec, type, data, extra) {
      const seq = (seqs.get(node) ?? 0) + 1;
      seqs.set(node, seq);
      const ev = {
        specversion: '1.0',
        id: `e${String(++n).padStart(6, '0')}`,
        source: sourceOf(store, node),
        type,
        time: new Date(T0 + Math.round(sec * 1000)).toISOString(),
        bootid: 'boot1',
        seq,
        datacontenttype: 'application/json',
        data,
        ...(extra?.recvSec !== undefined ? { recvtime: new Date(T0 + Math.round(extra.recvSec * 1000)).toISOString() } : {}),
      } as GwEvent;
      events.push(ev);
      return ev;
    },
    in: (sec, node = 'door') => b.add(node, sec, 'greetwatch.entry.v1', { sensor: 'beam', direction: 'in' }),
    out: (sec, node = 'door') => b.add(node, sec, 'greetwatch.entry.v1', { sensor: 'beam', direction: 'out' }),
    greet: (sec, staff, node = 'counter') =>
      b.add(node, sec, 'greetwatch.greet.v1', staff ? { button: 'btn', staff } : { button: 'btn' }),
    staffpass: (sec, node = 'door') => b.add(node, sec, 'greetwatch.staffpass.v1', { button: 'pass' }),
    presence: (sec, zone = 'mid', node = 'counter') => b.add(node, sec, 'greetwatch.presence.v1', { sensor: 'pir', zone, state: 'on' }),
    lines: () => events.map((e) => JSON.stringify(e)),
  };
  return b;
}

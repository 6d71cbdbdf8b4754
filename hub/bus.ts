import { EventEmitter } from 'node:events';
import type { GwEvent, NodeStatus, Visit, IndicatorLevel, LiveDelta } from '../contract/index.ts';
import type { StoreConfig } from '../firmware-config/schema.ts';

// The hub's one typed event bus: plugins talk through it, never to each other.
export interface BusEvents {
  /** a valid event, durable in the trace, with the hub's receive time (the engine drops duplicates by (source, id)) */
  'event:accepted': { event: GwEvent; node: string; recvMs: number };
  'node:status': { node: string; status: NodeStatus; recvMs: number };
  /** a visit whose outcome is final (after reorderS): published and stored */
  'visit:final': { visit: Visit };
  /** a greet that no party took (CONTRACT.md "greetLeadS"), final like a visit: stored as a greeting */
  'greet:orphan': { store: string; t: number; staff?: string };
  /** a node's indicator should change */
  'indicator:set': { node: string; level: IndicatorLevel };
  /** the waiting list changed (live view): pushed to screens as it happens */
  'live:delta': { delta: LiveDelta };
  /** a reloaded store file was accepted: ctx.config is already `config`; every plugin applies what concerns it */
  'config:changed': { config: StoreConfig; previous: StoreConfig };
}

export class Bus {
  readonly #ee = new EventEmitter({ captureRejections: false });
  constructor() {
    this.#ee.setMaxListeners(100);
  }
  on<K extends keyof BusEvents>(name: K, fn: (payload: BusEvents[K]) => void): () => void {
    this.#ee.on(name, fn);
    return () => this.#ee.off(name, fn);
  }
  emit<K extends keyof BusEvents>(name: K, payload: BusEvents[K]): void {
    this.#ee.emit(name, payload);
  }
}

import type { IndicatorLevel } from '../contract/index.ts';
import type { Node as NodeConfig } from '../firmware-config/schema.ts';
import { EdgeError, EdgeErrorCodes } from './errors.ts';

// Hardware seam: signal logic (beam-pair.ts, button.ts, door.ts, presence.ts) sees only these
// small interfaces. A driver turns a node's `driver: sim|gpio|firmata` into inputs and an
// indicator. Timers are the global setTimeout/clearTimeout so vitest fake timers drive them.

/**
 * A digital level, normalised by the driver so that 1 always means "active":
 * beam broken, button pressed, door open, motion seen. (Active-low wiring is the
 * driver's business, not the signal logic's.)
 */
export type Bit = 0 | 1;

export interface DigitalInput {
  /** the input's key (see inputKeys), for logs */
  readonly key: string;
  /** current level */
  read(): Bit;
  /** calls cb on every level change (raw: not debounced) */
  watch(cb: (value: Bit) => void): void;
  unwatch(cb: (value: Bit) => void): void;
  close(): void;
}

/** An LED or buzzer the hub drives with `cmd indicate` (CONTRACT.md "MQTT topics", cmd). */
export interface Indicator {
  set(level: IndicatorLevel): void;
  close(): void;
}

/** Wall clock in ms. Event `time` is read from here at the physical edge (CONTRACT.md "Event envelope"). */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

/** Names of a node's inputs, as used in `EdgeAgent.inputs` and by the simulator. */
export const inputKeys = {
  beamOuter: (sensor: string) => `${sensor}.outer`,
  beamInner: (sensor: string) => `${sensor}.inner`,
  /** door contact or presence sensor */
  sensor: (sensor: string) => sensor,
  button: (button: string) => button,
} as const;

export type InputRole = 'beam-outer' | 'beam-inner' | 'door' | 'presence' | 'button';
export interface InputSpec {
  key: string;
  role: InputRole;
  /** BCM GPIO / Firmata pin from the config; absent for sim-only inputs such as a radio fob */
  pin?: number;
}

export interface IoDriver {
  readonly kind: NodeConfig['driver'];
  input(spec: InputSpec): DigitalInput;
  indicator(spec: { pin?: number } | undefined): Indicator;
  /** closes everything this driver opened */
  close(): void;
}

/** Chooses the driver for a node (injected into createEdgeAgent as `io`). */
export type IoFactory = (node: NodeConfig) => IoDriver;

// ---------------------------------------------------------------- sim

/** A digital input that a simulator or a test drives with set(). */
export class SimDigitalInput implements DigitalInput {
  readonly key: string;
  #value: Bit;
  #closed = false;
  readonly #watchers = new Set<(value: Bit) => void>();

  constructor(key: string, initial: Bit = 0) {
    this.key = key;
    this.#value = initial;
  }
  read(): Bit {
    return this.#value;
  }
  /** Changes the level; watchers see only real changes. Ignored after close (a stopped node sees nothing). */
  set(value: Bit): void {
    if (this.#closed || value === this.#value) return;
    this.#value = value;
    for (const cb of [...this.#watchers]) cb(value);
  }
  watch(cb: (value: Bit) => void): void {
    if (!this.#closed) this.#watchers.add(cb);
  }
  unwatch(cb: (value: Bit) => void): void {
    this.#watchers.delete(cb);
  }
  close(): void {
    this.#closed = true;
    this.#watchers.clear();
  }
  get closed(): boolean {
    return this.#closed;
  }
}

/** Records the levels it was set to (the demo and tests read `level` and `history`). */
export class SimIndicator implements Indicator {
  level: IndicatorLevel = 'off';
  readonly history: IndicatorLevel[] = [];
  set(level: IndicatorLevel): void {
    this.level = level;
    this.history.push(level);
  }
  close(): void {}
}

export function simDriver(): IoDriver {
  const opened: Array<{ close(): void }> = [];
  return {
    kind: 'sim',
    input(spec) {
      const input = new SimDigitalInput(spec.key);
      opened.push(input);
      return input;
    },
    indicator() {
      const ind = new SimIndicator();
      opened.push(ind);
      return ind;
    },
    close() {
      for (const o of opened.splice(0)) o.close();
    },
  };
}

/** Narrows an input to the sim one, with an error that says why (a gpio node cannot be simulated). */
export function asSimInput(input: DigitalInput | undefined, what: string): SimDigitalInput {
  if (input instanceof SimDigitalInput) return input;
  throw new EdgeError(
    EdgeErrorCodes.DRIVER_UNSUPPORTED,
    input ? `${what}: input ${input.key} is not simulated (node driver is not "sim")` : `${what}: no such input`,
  );
}

// ---------------------------------------------------------------- hardware (later issue)

function notYetSupported(kind: 'gpio' | 'firmata', node: string): never {
  const lib = kind === 'gpio' ? 'onoff (Raspberry Pi GPIO)' : 'johnny-five (Firmata board)';
  throw new EdgeError(
    EdgeErrorCodes.DRIVER_UNSUPPORTED,
    `node ${node}: driver "${kind}" is not yet supported: the ${lib} driver is not written yet; use driver: sim`,
  );
}

/** The default IoFactory: `sim` works; `gpio` and `firmata` throw DRIVER_UNSUPPORTED until their drivers exist. */
export const defaultIoFactory: IoFactory = (node) => {
  switch (node.driver) {
    case 'sim':
      return simDriver();
    case 'gpio':
    case 'firmata':
      return notYetSupported(node.driver, node.id);
  }
};

import type { Logger } from 'pino';
import type { IndicatorLevel } from '../contract/index.ts';
import type { Indicator as IndicatorConfig, Node as NodeConfig, Pin } from '../firmware-config/schema.ts';

export { systemClock, type Clock } from '../contract/clock.ts';

// Hardware seam: signal logic (beam-pair.ts, button.ts, door.ts, presence.ts) sees only these
// small interfaces. A driver (edge/drivers/) turns a node's `driver: sim|gpio|firmata` into
// inputs and an indicator. Timers are the global setTimeout/clearTimeout so vitest fake
// timers drive them.

/**
 * A digital level, normalised by the driver so that 1 means "the line is active" after the
 * wiring's `activeLow` (beam broken, button pressed, door open, motion seen). The config's
 * `invert` filter is applied above the driver, in filters.ts.
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

/** A distance sensor (HC-SR04 ultrasonic, GP2Y0A21YK analog IR): raw readings in cm. */
export interface DistanceInput {
  readonly key: string;
  /** calls cb with every reading (raw: not filtered) */
  watch(cb: (cm: number) => void): void;
  unwatch(cb: (cm: number) => void): void;
  close(): void;
}

/** An LED or buzzer the hub drives with `cmd indicate` (CONTRACT.md "MQTT topics", cmd). */
export interface Indicator {
  set(level: IndicatorLevel): void;
  close(): void;
}

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
  /** the sensor or button id (faults name it) */
  device: string;
  /** BCM GPIO / Firmata pin from the config; absent for sim-only inputs such as a radio fob */
  pin?: Pin;
  /** the line is active when low (gpio wiring) */
  activeLow: boolean;
}

export interface DistanceSpec {
  key: string;
  device: string;
  model: 'hcsr04' | 'gp2y0a21yk';
  pin?: Pin;
}

/** A board-level fault (a Firmata board lost and found again), raised as greetwatch.fault.v1. */
export interface DriverFault {
  /** the node's board, named `board` in fault events */
  sensor: string;
  kind: 'disconnected' | 'recovered';
  detail?: string;
}

/**
 * One node's hardware. `open()` is the async step (a Firmata board must report `ready`);
 * input(), distance() and indicator() are called only after it resolved, and throw a
 * DRIVER_OPEN error that names the node, the pin and why when a pin cannot be used.
 */
export interface IoDriver {
  readonly kind: NodeConfig['driver'];
  open(): Promise<void>;
  input(spec: InputSpec): DigitalInput;
  distance(spec: DistanceSpec): DistanceInput;
  indicator(spec: IndicatorConfig | undefined): Indicator;
  /** board-level faults; a driver without a board never calls it */
  onFault(cb: (fault: DriverFault) => void): void;
  /** releases every pin this driver opened (unexports GPIOs, closes the serial port) */
  close(): Promise<void>;
}

/** Chooses the driver for a node (injected into createEdgeAgent as `io`). */
export type IoFactory = (node: NodeConfig, opts: { log?: Logger }) => IoDriver;

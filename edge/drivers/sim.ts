import type { IndicatorLevel } from '../../contract/index.ts';
import { EdgeError, EdgeErrorCodes } from '../errors.ts';
import type { Bit, DigitalInput, DistanceInput, Indicator, IoDriver } from '../io.ts';

// driver: sim. Inputs that a simulator or a test drives with set(), and an indicator that
// records its levels. Used by the demo, by tests and by `scripts/sim-node.ts` on a laptop.

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

/** A distance sensor a simulator or test drives with set(cm). */
export class SimDistanceInput implements DistanceInput {
  readonly key: string;
  #closed = false;
  readonly #watchers = new Set<(cm: number) => void>();
  constructor(key: string) {
    this.key = key;
  }
  set(cm: number): void {
    if (this.#closed) return;
    for (const cb of [...this.#watchers]) cb(cm);
  }
  watch(cb: (cm: number) => void): void {
    if (!this.#closed) this.#watchers.add(cb);
  }
  unwatch(cb: (cm: number) => void): void {
    this.#watchers.delete(cb);
  }
  close(): void {
    this.#closed = true;
    this.#watchers.clear();
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
  const track = <T extends { close(): void }>(x: T): T => {
    opened.push(x);
    return x;
  };
  return {
    kind: 'sim',
    open: () => Promise.resolve(),
    input: (spec) => track(new SimDigitalInput(spec.key)),
    distance: (spec) => track(new SimDistanceInput(spec.key)),
    indicator: () => track(new SimIndicator()),
    onFault() {},
    close() {
      for (const o of opened.splice(0)) o.close();
      return Promise.resolve();
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

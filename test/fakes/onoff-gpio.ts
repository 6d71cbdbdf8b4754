import type { GpioCallback, GpioClass, GpioDirection, GpioEdge, GpioLine, GpioOptions, GpioValue } from '../../edge/drivers/gpio.ts';

// A fake of onoff's `Gpio` (node_modules/onoff/onoff.js and its README) over a shared map of
// physical line levels, for driver tests on any machine. What it keeps from the real thing:
// - activeLow inverts what readSync returns and what writeSync drives, and the edge follows
//   it: 'rising' means the activeLow-adjusted value became 1 (README "activeLow");
// - watchers are called only for the edges the constructor asked for ('none': never);
// - 'out' and 'low' start the line physically low, 'high' physically high (the kernel's sysfs
//   `direction` file sets raw levels, ignoring active_low);
// - writeSync on an input throws EPERM (README "writeSync"); any use after unexport throws
//   EBADF (onoff closed the value fd), including a second unexport;
// - a line another live instance has exported throws EBUSY, like a line claimed by another
//   consumer; unexport frees it.
// Not modelled: debounceTimeout, the async read/write, interrupts on glitches without a
// level change. drive() calls watchers synchronously (real onoff calls back from epoll).

export interface FakeGpioLine extends GpioLine {
  readonly gpio: number;
  readonly direction: GpioDirection;
  readonly edge: GpioEdge;
  readonly activeLow: boolean;
  readonly unexported: boolean;
  /** how many watch callbacks are registered */
  readonly watchers: number;
}

export interface FakeGpio {
  /** pass as gpioDriver's `Gpio` option; `Gpio.accessible` is settable (default true) */
  Gpio: GpioClass & { accessible: boolean };
  /** physical level of each sysfs line ever driven or written (0 = low, 1 = high) */
  lines: Map<number, GpioValue>;
  /** sysfs numbers of the lines exported now, ascending */
  exported(): number[];
  /** every instance constructed, in order (unexported ones too) */
  created: FakeGpioLine[];
  /** sets a line's physical level and calls the watchers of an input on it whose edge matches */
  drive(sysfs: number, physical: GpioValue): void;
  /** a line's physical level (an output's as written); 0 when never set */
  level(sysfs: number): GpioValue;
  /** the next construction of this line throws an Error with this code (e.g. 'EACCES'), once */
  refuse(sysfs: number, code: string): void;
  /** calls an input's watchers with an epoll error, as onoff does: (err, value read anyway) */
  interruptError(sysfs: number, err: Error): void;
}

const errno = (code: string, message: string): Error => Object.assign(new Error(`${code}: ${message}`), { code });

export function createFakeGpio(): FakeGpio {
  const lines = new Map<number, GpioValue>();
  const live = new Map<number, Line>();
  const refusals = new Map<number, string>();
  const created: Line[] = [];
  const physical = (n: number): GpioValue => lines.get(n) ?? 0;

  class Line implements FakeGpioLine {
    static accessible = true;
    readonly gpio: number;
    readonly direction: GpioDirection;
    readonly edge: GpioEdge;
    readonly activeLow: boolean;
    #listeners: GpioCallback[] = [];
    #unexported = false;

    constructor(gpio: number, direction: GpioDirection, edge: GpioEdge = 'none', options: GpioOptions = {}) {
      const refusal = refusals.get(gpio);
      if (refusal !== undefined) {
        refusals.delete(gpio);
        throw errno(refusal, `open '/sys/class/gpio/gpio${gpio}/value'`);
      }
      if (live.has(gpio)) throw errno('EBUSY', `resource busy or locked, write '/sys/class/gpio/export' (${gpio})`);
      this.gpio = gpio;
      this.direction = direction;
      this.edge = edge;
      this.activeLow = options.activeLow === true;
      if (direction === 'out' || direction === 'low') lines.set(gpio, 0);
      else if (direction === 'high') lines.set(gpio, 1);
      live.set(gpio, this);
      created.push(this);
    }

    get unexported(): boolean {
      return this.#unexported;
    }
    get watchers(): number {
      return this.#listeners.length;
    }
    #alive(op: string): void {
      if (this.#unexported) throw errno('EBADF', `bad file descriptor, ${op} gpio${this.gpio}`);
    }
    /** value as onoff reports it: the physical level, inverted when activeLow */
    #logical(): GpioValue {
      return (physical(this.gpio) ^ (this.activeLow ? 1 : 0)) as GpioValue;
    }

    readSync(): GpioValue {
      this.#alive('read');
      return this.#logical();
    }
    writeSync(value: GpioValue): void {
      this.#alive('write');
      if (this.direction === 'in') throw errno('EPERM', `operation not permitted, write gpio${this.gpio} (an input)`);
      lines.set(this.gpio, (value ^ (this.activeLow ? 1 : 0)) as GpioValue);
    }
    watch(callback: GpioCallback): void {
      this.#alive('watch');
      this.#listeners.push(callback);
    }
    unwatch(callback?: GpioCallback): void {
      this.#listeners = callback === undefined ? [] : this.#listeners.filter((l) => l !== callback);
    }
    unwatchAll(): void {
      this.unwatch();
    }
    unexport(): void {
      this.#alive('close');
      this.unwatchAll();
      this.#unexported = true;
      live.delete(this.gpio);
    }

    /** the epoll callback of onoff.js: read the value, call listeners if the edge is enabled */
    interrupt(err: Error | null = null): void {
      if (this.#unexported || this.direction !== 'in') return;
      const value = this.#logical();
      if (err) {
        for (const cb of this.#listeners.slice()) cb(err, value);
        return;
      }
      const rising = this.edge === 'both' || this.edge === 'rising';
      const falling = this.edge === 'both' || this.edge === 'falling';
      if ((value === 1 && rising) || (value === 0 && falling)) {
        for (const cb of this.#listeners.slice()) cb(null, value);
      }
    }
  }

  return {
    Gpio: Line,
    lines,
    exported: () => [...live.keys()].sort((a, b) => a - b),
    created,
    drive(sysfs, level) {
      if (physical(sysfs) === level) return; // no change, no interrupt
      lines.set(sysfs, level);
      live.get(sysfs)?.interrupt();
    },
    level: physical,
    refuse(sysfs, code) {
      refusals.set(sysfs, code);
    },
    interruptError(sysfs, err) {
      live.get(sysfs)?.interrupt(err);
    },
  };
}

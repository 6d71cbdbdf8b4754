import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { Indicator as IndicatorConfig, Node as NodeConfig, Pin } from '../../firmware-config/schema.ts';
import { EdgeError, EdgeErrorCodes, driverOpenError } from '../errors.ts';
import { patternIndicator } from '../indicator-pattern.ts';
import type { Bit, DigitalInput, DistanceInput, DistanceSpec, Indicator, InputSpec, IoDriver } from '../io.ts';
import { DEFAULT_SYSFS_GPIO, findPinBase, type PinBase } from './sysfs-gpio.ts';

// driver: gpio. A Raspberry Pi's header pins through onoff (sysfs GPIO). Inputs use
// interrupts (edge 'both' + watch), never polling; onoff's `activeLow` makes 1 mean
// "active" (io.ts `Bit`). Debouncing and the config's `invert` live above the driver
// (debounce.ts, filters.ts), so no debounceTimeout here.

export type GpioDirection = 'in' | 'out' | 'high' | 'low';
export type GpioEdge = 'none' | 'rising' | 'falling' | 'both';
export type GpioValue = 0 | 1;
export type GpioCallback = (err: Error | null | undefined, value: GpioValue) => void;

export interface GpioOptions {
  activeLow?: boolean;
  debounceTimeout?: number;
  reconfigureDirection?: boolean;
}

/** The part of an onoff `Gpio` instance this driver uses. */
export interface GpioLine {
  readSync(): GpioValue;
  writeSync(value: GpioValue): void;
  watch(callback: GpioCallback): void;
  unwatch(callback?: GpioCallback): void;
  unwatchAll(): void;
  unexport(): void;
}

/** The part of onoff's `Gpio` class this driver uses (test/fakes/onoff-gpio.ts implements it). */
export interface GpioClass {
  new (gpio: number, direction: GpioDirection, edge?: GpioEdge, options?: GpioOptions): GpioLine;
  readonly accessible: boolean;
}

export interface GpioDriverOptions {
  /** default: onoff's Gpio, loaded in open() so a machine without the epoll addon fails there, not at import */
  Gpio?: GpioClass;
  /** where the gpiochip* directories are read (onoff itself always uses /sys/class/gpio) */
  sysfsRoot?: string;
  log?: Logger;
}

/** Loads onoff lazily: its epoll native addon only builds on Linux. */
function loadOnoff(nodeId: string): GpioClass {
  try {
    const mod = createRequire(import.meta.url)('onoff') as typeof import('onoff');
    // onoff's own typings must fit the subset this driver relies on
    const Gpio: GpioClass = mod.Gpio;
    return Gpio;
  } catch (err) {
    throw new EdgeError(
      EdgeErrorCodes.DRIVER_UNSUPPORTED,
      `node ${nodeId}: driver gpio: cannot load onoff (${errorMessage(err)}); its epoll addon only works on Linux: ` +
        'on a Pi run `npm rebuild epoll`, elsewhere use driver: sim',
      { cause: err },
    );
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** What to do about an error from exporting/configuring a line. */
function explainOpenError(err: unknown, sysfs: number, chip: PinBase): string {
  const code = errorCode(err);
  const where = `sysfs gpio${sysfs} = ${chip.label} base ${chip.base} + pin ${sysfs - chip.base}`;
  switch (code) {
    case 'EBUSY':
      return `EBUSY: the line is in use by another program or a kernel driver (a dtoverlay such as w1-gpio or spi, pigpiod, a gpiod tool); free it or wire another pin (${where})`;
    case 'EACCES':
    case 'EPERM':
      return `${code}: no permission on /sys/class/gpio: add the user to the gpio group (sudo usermod -aG gpio $USER, then log in again) (${where})`;
    case 'EINVAL':
    case 'ENOENT':
    case 'ENXIO':
      return `${code}: the kernel has no such line (${where}); check the BCM pin number, the node's board and gpioChip`;
    default:
      return `${code ?? 'error'}: ${errorMessage(err)} (${where})`;
  }
}

export function gpioDriver(node: NodeConfig, opts: GpioDriverOptions = {}): IoDriver {
  const log = opts.log?.child({ name: 'edge:gpio', node: node.id });
  const sysfsRoot = opts.sysfsRoot ?? DEFAULT_SYSFS_GPIO;
  let Gpio: GpioClass | undefined;
  let chip: PinBase | undefined;
  let closed = false;
  /** sysfs number → what uses it, so two config entries on one pin fail with a clear message */
  const used = new Map<number, string>();
  const closers: Array<() => void> = [];

  const ready = (what: string): { Gpio: GpioClass; chip: PinBase } => {
    if (closed) throw driverOpenError(node.id, what, 'the gpio driver is closed');
    if (!Gpio || !chip) throw driverOpenError(node.id, what, 'the gpio driver is not open yet (call open() first)');
    return { Gpio, chip };
  };

  /** Exports one line; every failure becomes DRIVER_OPEN naming node, what and pin. */
  const openLine = (what: string, pin: Pin | undefined, direction: GpioDirection, edge: GpioEdge, activeLow: boolean): { line: GpioLine; sysfs: number } => {
    const label = `${what} pin ${pin ?? '(none)'}`;
    if (pin === undefined) throw driverOpenError(node.id, label, 'no pin configured; driver gpio needs a BCM GPIO number');
    if (typeof pin !== 'number') {
      throw driverOpenError(node.id, label, `analog pin ${pin} exists only on a Firmata board; use a BCM GPIO number or driver: firmata`);
    }
    const { Gpio: G, chip: c } = ready(label);
    if (c.ngpio !== undefined && pin >= c.ngpio) {
      throw driverOpenError(node.id, label, `${c.label} has only ${c.ngpio} lines (BCM 0-${c.ngpio - 1})`);
    }
    const sysfs = c.base + pin;
    const other = used.get(sysfs);
    if (other !== undefined) throw driverOpenError(node.id, label, `BCM ${pin} is already used by ${other} on this node`);
    let line: GpioLine;
    try {
      line = new G(sysfs, direction, edge, { activeLow });
    } catch (err) {
      throw driverOpenError(node.id, label, explainOpenError(err, sysfs, c), err);
    }
    used.set(sysfs, what);
    log?.debug({ what, pin, sysfs, direction, edge, activeLow }, 'gpio line exported');
    return { line, sysfs };
  };

  /** Unwatches and unexports once; logs instead of throwing (close() never throws). */
  const releaser = (line: GpioLine, sysfs: number, what: string): (() => void) => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      used.delete(sysfs);
      try {
        line.unwatchAll();
      } catch (err) {
        log?.warn({ err: errorMessage(err), sysfs, what }, 'gpio unwatch failed');
      }
      try {
        line.unexport();
      } catch (err) {
        log?.warn({ err: errorMessage(err), sysfs, what }, 'gpio unexport failed');
      }
    };
  };

  return {
    kind: 'gpio',

    // async: whatever the checks below throw becomes the rejection, as the IoDriver contract wants
    async open() {
      if (closed) throw driverOpenError(node.id, 'driver gpio', 'the gpio driver is closed');
      if (Gpio && chip) return;
      const G = opts.Gpio ?? loadOnoff(node.id);
      if (!G.accessible) {
        throw new EdgeError(
          EdgeErrorCodes.DRIVER_UNSUPPORTED,
          `node ${node.id}: driver gpio: this machine has no GPIO (sysfs ${sysfsRoot} is absent or ${sysfsRoot}/export is not writable); ` +
            'on a Raspberry Pi add the user to the gpio group, elsewhere use driver: sim',
        );
      }
      const found = findPinBaseFor(node, sysfsRoot);
      Gpio = G;
      chip = found;
      log?.info({ chip: found.chip, label: found.label, base: found.base, ngpio: found.ngpio }, 'gpio header chip found');
    },

    input(spec: InputSpec): DigitalInput {
      const what = `${spec.device} (${spec.role})`;
      const { line, sysfs } = openLine(what, spec.pin, 'in', 'both', spec.activeLow);
      const release = releaser(line, sysfs, what);
      // user callback → the onoff callback registered for it, so unwatch(cb) finds it
      const handlers = new Map<(value: Bit) => void, GpioCallback>();
      let last: Bit = 0;
      let inputClosed = false;
      const input: DigitalInput = {
        key: spec.key,
        read(): Bit {
          // after close the line is gone: report the last level rather than throw EBADF
          if (inputClosed) return last;
          last = line.readSync();
          return last;
        },
        watch(cb) {
          if (inputClosed || handlers.has(cb)) return;
          const handler: GpioCallback = (err, value) => {
            if (err) {
              // an epoll error carries no trustworthy level; the next interrupt will
              log?.warn({ err: errorMessage(err), key: spec.key, sysfs }, 'gpio interrupt error ignored');
              return;
            }
            last = value;
            cb(value);
          };
          handlers.set(cb, handler);
          line.watch(handler);
        },
        unwatch(cb) {
          const handler = handlers.get(cb);
          if (!handler) return;
          handlers.delete(cb);
          if (!inputClosed) line.unwatch(handler);
        },
        close() {
          if (inputClosed) return;
          inputClosed = true;
          handlers.clear();
          release();
        },
      };
      closers.push(() => input.close());
      return input;
    },

    distance(spec: DistanceSpec): DistanceInput {
      throw driverOpenError(
        node.id,
        `${spec.device} (${spec.model}) pin ${spec.pin ?? '(none)'}`,
        'driver gpio has no distance sensors: HC-SR04 and GP2Y0A21YK need driver: firmata (or a model: digital module with a threshold output, wired like a PIR)',
      );
    },

    indicator(cfg: IndicatorConfig | undefined): Indicator {
      if (!cfg || (cfg.pin === undefined && cfg.buzzerPin === undefined)) return patternIndicator({});
      const activeLow = cfg.activeLow;
      // 'high'/'low' set the initial physical level (kernel sysfs ABI), so an active-low LED
      // starts dark instead of flashing on until the first write
      const idle: GpioDirection = activeLow ? 'high' : 'low';
      const outputs: Array<() => void> = [];
      const output = (what: string, pin: Pin | undefined): ((on: boolean) => void) | undefined => {
        if (pin === undefined) return undefined;
        let line: { line: GpioLine; sysfs: number };
        try {
          line = openLine(what, pin, idle, 'none', activeLow);
        } catch (err) {
          for (const release of outputs) release(); // the LED opened before a failing buzzer
          throw err;
        }
        outputs.push(releaser(line.line, line.sysfs, what));
        let failed = false;
        return (on) => {
          try {
            line.line.writeSync(on ? 1 : 0);
          } catch (err) {
            // called from timers: a throw here would end the process; log once per line
            if (!failed) log?.error({ err: errorMessage(err), what, sysfs: line.sysfs }, 'gpio write failed');
            failed = true;
          }
        };
      };
      const led = output('indicator LED', cfg.pin);
      const buzzer = output('indicator buzzer', cfg.buzzerPin);
      const pattern = patternIndicator({ led, buzzer });
      let indicatorClosed = false;
      const close = (): void => {
        if (indicatorClosed) return;
        indicatorClosed = true;
        pattern.close(); // dark and quiet before the lines go
        for (const release of outputs) release();
      };
      closers.push(close);
      return {
        set(level) {
          if (!indicatorClosed) pattern.set(level);
        },
        close,
      };
    },

    onFault() {
      // no board to lose: a Pi's GPIO does not disconnect
    },

    close() {
      closed = true;
      // reverse order: indicators turn off before inputs go; each closer is idempotent and logs its failures
      for (const release of closers.splice(0).reverse()) {
        try {
          release();
        } catch (err) {
          log?.warn({ err: errorMessage(err) }, 'gpio close failed');
        }
      }
      return Promise.resolve();
    },
  };
}

function findPinBaseFor(node: NodeConfig, sysfsRoot: string): PinBase {
  const opts: { chip?: string; board?: string } = {};
  if (node.gpioChip !== undefined) opts.chip = node.gpioChip;
  if (node.board !== undefined) opts.board = node.board;
  try {
    return findPinBase(sysfsRoot, opts);
  } catch (err) {
    throw driverOpenError(node.id, 'GPIO header chip', errorMessage(err), err);
  }
}

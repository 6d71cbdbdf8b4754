import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { Indicator as IndicatorConfig, Node as NodeConfig, Pin } from '../../firmware-config/schema.ts';
import { EdgeError, EdgeErrorCodes, driverOpenError } from '../errors.ts';
import { BEEP_MS, patternIndicator } from '../indicator-pattern.ts';
import type { Bit, DigitalInput, DistanceInput, DistanceSpec, DriverFault, Indicator, InputSpec, IoDriver } from '../io.ts';

// driver: firmata. An Arduino (Uno, Nano) running StandardFirmata on a USB serial port,
// driven through johnny-five. The board can vanish (cable, brown-out, reset): the driver
// then reconnects with backoff and rebuilds every johnny-five component on the new board
// behind the same DigitalInput / DistanceInput / Indicator objects, so signal logic above
// never re-wires. Debouncing, press-vs-hold, median filters and thresholds live above.
// An HC-SR04 needs PingFirmata on the board (StandardFirmata has no PING_READ).

// ---- what this driver uses of firmata-io and johnny-five (neither ships types) and serialport ----

/**
 * A listener of an untyped emitter. Each event passes its own arguments (a pin level, an
 * Error, j5 data), so the methods taking one are generic in them and every call site declares
 * the arguments it expects; Node's EventEmitter (listeners `(...args: any[])`) still fits.
 */
type Listener<Args extends unknown[]> = (...args: Args) => void;

export interface FirmataPinInfo {
  readonly supportedModes: readonly number[];
}

/** The serial port under a firmata-io Board (a serialport v13 SerialPort). */
export interface FirmataTransport {
  readonly path?: string;
  readonly isOpen?: boolean;
  on?<Args extends unknown[]>(event: string, listener: Listener<Args>): unknown;
  drain?(cb: (err?: Error | null) => void): unknown;
  close?(cb?: (err?: Error | null) => void): unknown;
}

/** A johnny-five IO plugin speaking Firmata: a firmata-io Board, or MockFirmata in tests. */
export interface FirmataIo {
  /** 'Firmata' (firmata-io) or 'Mock': johnny-five maps 'A0'… only for these */
  readonly name: string;
  readonly isReady: boolean;
  readonly MODES: { readonly INPUT: number; readonly OUTPUT: number };
  readonly pins: readonly FirmataPinInfo[];
  /** pin numbers of A0, A1, … (filled in once the board is ready) */
  readonly analogPins: readonly number[];
  readonly transport?: FirmataTransport | null;
  /** firmata-io's "ask for the version" timer, cleared when a board is abandoned */
  readonly reportVersionTimeoutId?: ReturnType<typeof setTimeout>;
  pinMode(pin: number, mode: number): void;
  digitalRead(pin: number, cb: (value: number) => void): void;
  digitalWrite(pin: number, value: number): void;
  on<Args extends unknown[]>(event: string, listener: Listener<Args>): unknown;
  removeListener<Args extends unknown[]>(event: string, listener: Listener<Args>): unknown;
  emit(event: string, ...args: unknown[]): boolean;
}

interface J5Emitter {
  on<Args extends unknown[]>(event: string, listener: Listener<Args>): unknown;
  removeAllListeners(): unknown;
}

interface J5Board extends J5Emitter {
  /** johnny-five's own "no ready after connect" timer */
  timer: ReturnType<typeof setTimeout> | null;
}

interface J5Button extends J5Emitter {
  readonly isDown: boolean;
  readonly upValue: number;
}

interface MotionData {
  detectedMotion: boolean;
  isCalibrated: boolean;
}

interface ProximityData {
  cm: number;
}

interface J5Led {
  on(): unknown;
  off(): unknown;
}

interface J5Piezo {
  frequency(hz: number, ms: number): unknown;
  noTone(): unknown;
}

/** `this` of a johnny-five component inside its controller's methods */
interface ComponentSelf {
  readonly io: FirmataIo;
  readonly pin: number;
}

/** A johnny-five controller: property descriptors johnny-five defines on the component. */
type Controller = Record<string, { value: (this: ComponentSelf, ...args: never[]) => unknown }>;

/** The part of the johnny-five module this driver uses. */
export interface JohnnyFive {
  Board: {
    new (opts: { io: FirmataIo; repl: false; debug: false; sigint: false; timeout: number }): J5Board;
    /** every Board ever made (johnny-five's registry for boardless components) */
    readonly cache: J5Board[];
  };
  Button: new (opts: { board: J5Board; pin: number; invert: boolean; holdtime: number }) => J5Button;
  Motion: new (opts: { board: J5Board; pin: number; controller: 'PIR'; calibrationDelay: number; freq: number }) => J5Emitter;
  Proximity: new (opts: { board: J5Board; pin: Pin; controller: 'HCSR04' | 'GP2Y0A21YK'; freq: number }) => J5Emitter;
  Led: new (opts: { board: J5Board; pin: number }) => J5Led;
  Piezo: new (opts: { board: J5Board; pin: number; controller: Controller }) => J5Piezo;
}

export interface SerialPortInfo {
  path: string;
  vendorId?: string | undefined;
  productId?: string | undefined;
  manufacturer?: string | undefined;
}

/** serialport v13's SerialPort class, as far as serialConnect uses it. */
export interface SerialPortClass {
  new (opts: { path: string; baudRate: number }): FirmataTransport;
  list(): Promise<SerialPortInfo[]>;
}

/** firmata-io's Board class. */
export type FirmataClass = new (port: FirmataTransport) => FirmataIo;

export interface FirmataDriverOptions {
  /** produces an IO plugin for one connection attempt (default: serialConnect(node)); tests: () => new MockFirmata() */
  connect?: () => Promise<FirmataIo> | FirmataIo;
  /** the johnny-five module (default: required in open(), so importing this file loads no serial code) */
  five?: JohnnyFive;
  /** delay before reconnect attempt n: minMs · 2^(n-1), at most maxMs (default 1000 → 30000) */
  reconnect?: { minMs: number; maxMs: number };
  /** how long a connected board may take to report `ready` (default 10000) */
  readyTimeoutMs?: number;
  log?: Logger;
}

// ---- constants ----

const READY_TIMEOUT_MS = 10_000;
const RECONNECT = { minMs: 1_000, maxMs: 30_000 };
/** StandardFirmata's baud rate */
const FIRMATA_BAUD = 57_600;
/** holdtime for j5 Buttons: hold is decided above the driver, so j5's hold timer should (almost) never fire */
const NEVER_MS = 2 ** 31 - 1;
/** j5 Motion ignores the pin until this long after creation: by then the board has sent the pin's first report */
const PIR_SETTLE_MS = 100;
/** how often j5 Motion looks at its last reading */
const MOTION_EVERY_MS = 25;
/** one distance reading per this long (an HC-SR04 ping cycle is ~65-90 ms) */
const DISTANCE_EVERY_MS = 100;
/** bound on waiting for the serial port to drain and close in close() */
const CLOSE_WAIT_MS = 1_000;
/** pitch handed to the buzzer; the active-buzzer controller below drives a DC level and ignores it */
const BUZZER_HZ = 2_000;

/** USB vendors of Arduinos and their clones: Arduino LLC, Arduino SRL, WCH CH340, FTDI */
const ARDUINO_VENDORS = new Set(['2341', '2a03', '1a86', '0403']);
const ARDUINO_PATH = /tty(ACM|USB)\d+$/;

/**
 * An active buzzer (it has its own oscillator) sounds while its pin is high, the same as on
 * the gpio driver. j5's default Piezo controller would instead toggle the pin at audio rate
 * from a setImmediate busy loop, thousands of Firmata messages a second over 57600 baud.
 */
const ACTIVE_BUZZER: Controller = {
  initialize: {
    value(this: ComponentSelf) {
      this.io.pinMode(this.pin, this.io.MODES.OUTPUT);
    },
  },
  tone: {
    value(this: ComponentSelf) {
      this.io.digitalWrite(this.pin, 1);
      return this;
    },
  },
  noTone: {
    value(this: ComponentSelf) {
      this.io.digitalWrite(this.pin, 0);
      return this;
    },
  },
};

// ---- helpers ----

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isDriverOpenError(err: unknown): err is EdgeError {
  return err instanceof EdgeError && err.code === EdgeErrorCodes.DRIVER_OPEN;
}

/** What to do about an error opening or using a serial port (Linux wording of serialport's bindings). */
export function explainSerialError(err: unknown): string {
  const msg = errorMessage(err);
  if (/permission denied|EACCES|EPERM/i.test(msg)) {
    return `permission denied (${msg}): add the agent's user to the dialout group (sudo usermod -aG dialout $USER, then log in again)`;
  }
  if (/lock|busy|resource temporarily unavailable/i.test(msg)) {
    return (
      `port busy (${msg}): another program has it open (Arduino IDE serial monitor, a second agent, ModemManager); ` +
      'if none does, check that the user is in the dialout group'
    );
  }
  if (/no such file|ENOENT|does not exist/i.test(msg)) {
    return `no such port (${msg}): is the board plugged in? (ls /dev/ttyACM* /dev/ttyUSB*)`;
  }
  return msg;
}

/** The serial port that looks most like an Arduino: a known USB vendor first, then a ttyACM or ttyUSB path. */
export function pickArduinoPort(ports: readonly SerialPortInfo[]): string | undefined {
  const byVendor = ports.find((p) => p.vendorId !== undefined && ARDUINO_VENDORS.has(p.vendorId.toLowerCase()));
  return (byVendor ?? ports.find((p) => ARDUINO_PATH.test(p.path)))?.path;
}

function describePorts(ports: readonly SerialPortInfo[]): string {
  if (ports.length === 0) return 'none';
  return ports.map((p) => (p.vendorId ? `${p.path} (USB ${p.vendorId}:${p.productId ?? '?'})` : p.path)).join(', ');
}

const nodeRequire = createRequire(import.meta.url);

function loadJohnnyFive(): JohnnyFive {
  // johnny-five ships no types: JohnnyFive above is the part of it this driver calls
  return nodeRequire('johnny-five') as JohnnyFive;
}

/**
 * The default connect: opens `node.serialPort` (or the first Arduino-like port) with
 * serialport v13 and wraps it in a firmata-io Board. Returns before the port is open: the
 * open completes on a later I/O callback, after the caller has attached johnny-five, which
 * must see firmata-io's "connect" (emitted on open). Open errors arrive as the io's 'error'.
 */
export async function serialConnect(
  node: NodeConfig,
  deps: { SerialPort?: SerialPortClass; Firmata?: FirmataClass } = {},
): Promise<FirmataIo> {
  let SerialPort = deps.SerialPort;
  let Firmata = deps.Firmata;
  try {
    // serialport's native bindings load here, not when this file is imported
    SerialPort ??= (nodeRequire('serialport') as { SerialPort: SerialPortClass }).SerialPort;
    // firmata-io ships no types: FirmataClass is the constructor this driver calls
    Firmata ??= (nodeRequire('firmata-io') as { Firmata: FirmataClass }).Firmata;
  } catch (err) {
    throw driverOpenError(node.id, 'firmata board', `cannot load serialport/firmata-io (${errorMessage(err)}); try npm rebuild @serialport/bindings-cpp`, err);
  }
  let path = node.serialPort;
  if (path === undefined) {
    let ports: SerialPortInfo[];
    try {
      ports = await SerialPort.list();
    } catch (err) {
      throw driverOpenError(node.id, 'firmata board on an auto-detected serial port', `cannot list serial ports: ${errorMessage(err)}`, err);
    }
    path = pickArduinoPort(ports);
    if (path === undefined) {
      throw driverOpenError(
        node.id,
        'firmata board on an auto-detected serial port',
        `no Arduino-like serial port found (USB vendor ${[...ARDUINO_VENDORS].join('/')} or /dev/ttyACM*, /dev/ttyUSB*); ` +
          `ports found: ${describePorts(ports)}; plug the board in or set serialPort in the node's config`,
      );
    }
  }
  let port: FirmataTransport;
  try {
    port = new SerialPort({ path, baudRate: FIRMATA_BAUD });
  } catch (err) {
    throw driverOpenError(node.id, `firmata board on ${path}`, explainSerialError(err), err);
  }
  return new Firmata(port);
}

/**
 * j5 Motion and Proximity poll their last reading with a setInterval they never clear.
 * Capturing the handles while the component is built lets a lost board's components stop.
 */
function withIntervals<T>(make: () => T): { value: T; intervals: Array<ReturnType<typeof setInterval>> } {
  const original = globalThis.setInterval;
  const intervals: Array<ReturnType<typeof setInterval>> = [];
  const capturing = (cb: () => void, ms?: number): ReturnType<typeof setInterval> => {
    const handle = original(cb, ms);
    intervals.push(handle);
    return handle;
  };
  // j5 calls setInterval(fn, ms) only; the Node overloads' extra members are not needed for that
  globalThis.setInterval = capturing as unknown as typeof setInterval;
  try {
    return { value: make(), intervals };
  } catch (err) {
    for (const t of intervals) clearInterval(t); // a component that threw half-built polls nothing
    throw err;
  } finally {
    globalThis.setInterval = original;
  }
}

/** Waits for a callback-style operation, at most `ms`; never rejects (close() never throws). */
function settle(start: (done: () => void) => void, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    try {
      start(done);
    } catch {
      done();
    }
  });
}

// ---- the driver ----

/** One connected board: the io plugin, the johnny-five Board on it, and how to stop watching it. */
interface Session {
  readonly io: FirmataIo;
  readonly board: J5Board;
  readonly port: string;
  unwatch: () => void;
}

/** A handed-out input or output that outlives boards: components are rebuilt on each new one. */
interface Part {
  attach(s: Session): void;
  detach(): void;
  close(): void;
}

type PinUse = 'input' | 'output' | 'analog';

export function firmataDriver(node: NodeConfig, opts: FirmataDriverOptions = {}): IoDriver {
  const log = opts.log?.child({ name: 'edge:firmata', node: node.id });
  const connect = opts.connect ?? (() => serialConnect(node));
  const backoff = opts.reconnect ?? RECONNECT;
  const readyTimeoutMs = opts.readyTimeoutMs ?? READY_TIMEOUT_MS;
  let five = opts.five;

  let closed = false;
  let closing: Promise<void> | undefined;
  let opening: Promise<void> | undefined;
  /** open() resolved once: from then on a missing board is "lost", not "not open yet" */
  let opened = false;
  let current: Session | undefined;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let nextDelay = backoff.minMs;
  let attempts = 0;
  /** rejects the connection attempt that is waiting for `ready` (close() calls it) */
  let abortPending: (() => void) | undefined;
  const faultCbs = new Set<(fault: DriverFault) => void>();
  const parts = new Set<Part>();
  /** closers of handed-out indicators: close() runs them first, so outputs go off while the board listens */
  const indicatorCloses = new Set<() => void>();
  /** physical pin → what uses it, so two config entries on one pin fail clearly */
  const used = new Map<number | string, string>();

  const portLabel = (io?: FirmataIo): string => node.serialPort ?? io?.transport?.path ?? 'an auto-detected serial port';
  const boardError = (why: string, io?: FirmataIo, cause?: unknown): EdgeError =>
    driverOpenError(node.id, `firmata board on ${portLabel(io)}`, why, cause);

  const raise = (fault: DriverFault): void => {
    for (const cb of [...faultCbs]) {
      try {
        cb(fault);
      } catch (err) {
        log?.error({ err: errorMessage(err), fault }, 'fault listener threw');
      }
    }
  };

  /** Lets go of a board: stops timers johnny-five and firmata-io left running and closes the port; never rejects. */
  const dispose = async (io: FirmataIo, board: J5Board | undefined, wait: boolean): Promise<void> => {
    try {
      await release(io, board, wait);
    } catch (err) {
      log?.debug({ err: errorMessage(err) }, 'releasing the board failed');
    }
  };
  const release = async (io: FirmataIo, board: J5Board | undefined, wait: boolean): Promise<void> => {
    if (board) {
      if (board.timer) clearTimeout(board.timer);
      const cache = five?.Board.cache;
      const at = cache?.indexOf(board) ?? -1;
      if (cache && at >= 0) cache.splice(at, 1); // j5 keeps every Board; a flaky cable would pile them up
    }
    if (io.reportVersionTimeoutId !== undefined) clearTimeout(io.reportVersionTimeoutId);
    const transport = io.transport;
    if (!transport || transport.isOpen === false || !transport.close) return;
    const close = transport.close.bind(transport);
    if (wait && transport.drain) {
      const drain = transport.drain.bind(transport);
      // let the "outputs off" writes reach the board before the port goes
      await settle((done) => drain(done), CLOSE_WAIT_MS);
    }
    const closingPort = settle(
      (done) =>
        close((err) => {
          if (err) log?.debug({ err: errorMessage(err) }, 'serial port close failed');
          done();
        }),
      CLOSE_WAIT_MS,
    );
    if (wait) await closingPort;
  };

  /** One attempt: connect, put a johnny-five Board on the io, wait for `ready`. */
  const connectSession = async (): Promise<Session> => {
    let io: FirmataIo;
    try {
      io = await connect();
    } catch (err) {
      throw isDriverOpenError(err) ? err : boardError(`cannot connect: ${explainSerialError(err)}`, undefined, err);
    }
    // an emitter's 'error' without a listener throws; a dead board's io and port can still emit one
    const ignore = (): void => {};
    io.on('error', ignore);
    io.transport?.on?.('error', ignore);
    if (closed) {
      await dispose(io, undefined, false);
      throw boardError('the driver was closed while connecting', io);
    }
    let board: J5Board;
    try {
      five ??= loadJohnnyFive();
      // repl/debug off: no REPL, no console banners; sigint off: j5 must not install a SIGINT handler that exits
      board = new five.Board({ io, repl: false, debug: false, sigint: false, timeout: readyTimeoutMs + 1_000 });
    } catch (err) {
      await dispose(io, undefined, false);
      throw boardError(`johnny-five failed: ${errorMessage(err)}`, io, err);
    }
    // j5 reports its own log lines and forwarded io errors as 'error' events
    board.on('error', (e: unknown) => log?.debug({ err: e instanceof Error ? e.message : e }, 'johnny-five error event'));
    try {
      await new Promise<void>((resolve, reject) => {
        let settled = false;
        const done = (err?: EdgeError): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          abortPending = undefined;
          io.removeListener('error', onError);
          io.removeListener('close', onClose);
          io.removeListener('disconnect', onClose);
          if (err) reject(err);
          else resolve();
        };
        const timer = setTimeout(
          () =>
            done(
              boardError(
                `no "ready" from the board within ${readyTimeoutMs} ms: is StandardFirmata flashed ` +
                  '(Arduino IDE: File > Examples > Firmata > StandardFirmata) and is this the board\'s port?',
                io,
              ),
            ),
          readyTimeoutMs,
        );
        const onError = (err: unknown): void => done(boardError(explainSerialError(err), io, err));
        const onClose = (): void => done(boardError('the serial port closed before the board was ready', io));
        io.on('error', onError);
        io.on('close', onClose);
        io.on('disconnect', onClose);
        board.on('ready', () => done());
        abortPending = () => done(boardError('the driver was closed while waiting for the board', io));
      });
    } catch (err) {
      await dispose(io, board, false);
      throw err;
    }
    return { io, board, port: portLabel(io), unwatch: () => {} };
  };

  /** Makes a ready board the current one and watches it for loss. */
  const adopt = (s: Session): void => {
    current = s;
    // a microtask later: on an unplug firmata-io re-emits the port's close without its argument,
    // and the port's own listener below, which can tell an unplug, should name the cause first
    const onClose = (): void => queueMicrotask(() => lost(s, `${s.port}: serial port closed`));
    const onDisconnect = (): void => lost(s, `${s.port}: board unplugged (serial port disconnected)`);
    const onError = (err: unknown): void => lost(s, `${s.port}: serial error: ${errorMessage(err)}`);
    const onPortClose = (err: unknown): void =>
      err && typeof err === 'object' && 'disconnected' in err && err.disconnected === true ? onDisconnect() : onClose();
    s.io.on('close', onClose);
    s.io.on('disconnect', onDisconnect);
    s.io.on('error', onError);
    // also the port itself: an io plugin other than firmata-io may not forward its events
    s.io.transport?.on?.('close', onPortClose);
    s.io.transport?.on?.('error', onError);
    s.unwatch = () => {
      s.io.removeListener('close', onClose);
      s.io.removeListener('disconnect', onDisconnect);
      s.io.removeListener('error', onError);
    };
    for (const part of parts) attachSafely(part, s);
  };

  const attachSafely = (part: Part, s: Session): void => {
    try {
      part.attach(s);
    } catch (err) {
      // the board came back different (e.g. reflashed without PingFirmata): the part stays silent
      log?.error({ err: errorMessage(err) }, 'cannot re-create a component on the reconnected board');
    }
  };

  const lost = (s: Session, why: string): void => {
    if (closed || s !== current) return;
    // greetwatch.fault.v1 caps detail at 500 characters; a serial error message can be long
    const detail = why.length > 400 ? `${why.slice(0, 399)}…` : why;
    current = undefined;
    s.unwatch();
    log?.warn({ detail }, 'firmata board lost; reconnecting');
    for (const part of parts) part.detach();
    // the port must be closed before it can be opened again
    void dispose(s.io, s.board, false); // never rejects: dispose() catches and logs its own failures
    raise({ sensor: 'board', kind: 'disconnected', detail });
    nextDelay = backoff.minMs;
    attempts = 0;
    scheduleReconnect();
  };

  const scheduleReconnect = (): void => {
    if (closed) return;
    const delay = nextDelay;
    nextDelay = Math.min(nextDelay * 2, backoff.maxMs);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void attempt(); // never rejects: attempt() catches a failure, logs it and schedules the next try
    }, delay);
  };

  const attempt = async (): Promise<void> => {
    attempts++;
    try {
      const s = await connectSession();
      if (closed) {
        await dispose(s.io, s.board, false);
        return;
      }
      adopt(s);
      log?.info({ port: s.port, attempts }, 'firmata board recovered');
      raise({ sensor: 'board', kind: 'recovered', detail: `${s.port}: board ready again after ${attempts} attempt(s)` });
    } catch (err) {
      if (closed) return;
      log?.warn({ err: errorMessage(err), attempt: attempts, nextInMs: nextDelay }, 'firmata reconnect failed');
      scheduleReconnect();
    }
  };

  /** Checks a configured pin against the board; DRIVER_OPEN names node, device, pin and why. */
  const resolvePin = (what: string, pin: Pin | undefined, use: PinUse): { pin: Pin; physical: number | string } => {
    const label = `${what} pin ${pin ?? '(none)'}`;
    const fail = (why: string): EdgeError => driverOpenError(node.id, label, why);
    if (closed) throw fail('the firmata driver is closed');
    if (!opened) throw fail('the firmata driver is not open yet (call open() first)');
    if (pin === undefined) {
      throw fail(`no pin configured; driver firmata needs ${use === 'analog' ? 'an analog pin A0-A7' : 'a digital pin number'}`);
    }
    const io = current?.io; // none while the board is lost: checked against the board when it is back
    let physical: number | string;
    if (use === 'analog') {
      if (typeof pin === 'number') throw fail(`${what} is an analog sensor: wire it to an analog pin and write A0-A7`);
      const channel = Number(pin.slice(1));
      const at = io?.analogPins[channel];
      if (io && at === undefined) throw fail(`this board has no ${pin} (analog pins A0-A${io.analogPins.length - 1})`);
      physical = at ?? pin;
    } else {
      if (typeof pin === 'string') throw fail(`${pin} is an analog pin; ${what} needs a digital pin (2-13 on an Uno or Nano)`);
      if (io) {
        const channel = io.analogPins.indexOf(pin);
        if (channel >= 0) throw fail(`pin ${pin} is analog pin A${channel} on this board; ${what} needs a digital pin (2-13 on an Uno or Nano)`);
        const caps = io.pins[pin];
        if (!caps) throw fail(`this board has no pin ${pin} (pins 0-${io.pins.length - 1})`);
        const mode = use === 'input' ? io.MODES.INPUT : io.MODES.OUTPUT;
        if (!caps.supportedModes.includes(mode)) {
          throw fail(`pin ${pin} cannot be a digital ${use} on this board${pin <= 1 ? ' (pins 0 and 1 carry the serial link)' : ''}`);
        }
      }
      physical = pin;
    }
    const other = used.get(physical);
    if (other !== undefined) throw fail(`the pin is already used by ${other} on this node`);
    return { pin, physical };
  };

  /** Registers a part, builds it on the current board (if any), and gives back its release. */
  const track = (part: Part, physical: number | string, what: string, label: string): (() => void) => {
    if (current) {
      try {
        part.attach(current);
      } catch (err) {
        part.detach();
        throw driverOpenError(node.id, label, `johnny-five cannot set it up: ${errorMessage(err)}`, err);
      }
    }
    used.set(physical, what);
    parts.add(part);
    return () => {
      parts.delete(part);
      used.delete(physical);
    };
  };

  const digitalInput = (spec: InputSpec): DigitalInput => {
    const what = `${spec.device} (${spec.role})`;
    const { pin, physical } = resolvePin(what, spec.pin, 'input');
    const digitalPin = pin as number; // resolvePin returns a number for 'input'
    const watchers = new Set<(value: Bit) => void>();
    let level: Bit = 0;
    let inputClosed = false;
    let teardown: (() => void) | undefined;
    const set = (value: Bit): void => {
      if (inputClosed || value === level) return;
      level = value;
      for (const cb of [...watchers]) cb(value);
    };
    const active = (raw: boolean): Bit => (raw !== spec.activeLow ? 1 : 0);

    const part: Part = {
      attach(s) {
        const board = s.board;
        if (spec.role === 'button') {
          // invert makes j5's down/up mean active/idle; its hold event stays unused (holds are decided above)
          const button = new (five as JohnnyFive).Button({ board, pin: digitalPin, invert: spec.activeLow, holdtime: NEVER_MS });
          // j5 treats the first report as "up" without an event: start from idle so a press held
          // across a reconnect reads as release + press rather than sticking at 1
          set(0);
          button.on('down', () => set(1));
          button.on('up', () => set(0));
          teardown = () => {
            button.removeAllListeners();
            // a j5 Button held down keeps a hold interval running; the release it waits for clears it
            if (button.isDown) s.io.emit(`digital-read-${digitalPin}`, button.upValue);
          };
        } else if (spec.role === 'presence') {
          const { value: motion, intervals } = withIntervals(
            () =>
              new (five as JohnnyFive).Motion({
                board,
                pin: digitalPin,
                controller: 'PIR',
                calibrationDelay: PIR_SETTLE_MS,
                freq: MOTION_EVERY_MS,
              }),
          );
          // 'data' (every tick) rather than motionstart/motionend: it always converges on the pin's
          // level, also when the first report already is "motion" or the wiring is active-low
          motion.on('data', (d: MotionData) => {
            if (d.isCalibrated) set(active(d.detectedMotion));
          });
          teardown = () => {
            motion.removeAllListeners();
            for (const t of intervals) clearInterval(t);
          };
        } else {
          // door and beams: the raw pin reports. j5 Button/Switch debounce (7/5 ms) and Sensor polls
          // (25 ms); a beam pair's direction is the order its beams break, so every edge must arrive
          // as it happens, and debounce/chatter checks above need the raw edges.
          const io = s.io;
          let live = true;
          const onRead = (value: number): void => {
            if (live) set(active(value !== 0));
          };
          io.pinMode(digitalPin, io.MODES.INPUT);
          io.digitalRead(digitalPin, onRead);
          teardown = () => {
            live = false;
            io.removeListener(`digital-read-${digitalPin}`, onRead); // firmata-io's event for the pin
          };
        }
      },
      detach() {
        const t = teardown;
        teardown = undefined;
        try {
          t?.();
        } catch (err) {
          log?.debug({ err: errorMessage(err), key: spec.key }, 'input teardown failed');
        }
      },
      close() {
        if (inputClosed) return;
        inputClosed = true;
        watchers.clear();
        part.detach();
        release();
      },
    };
    const release = track(part, physical, what, `${what} pin ${spec.pin}`);
    return {
      key: spec.key,
      read: () => level,
      watch(cb) {
        if (!inputClosed) watchers.add(cb);
      },
      unwatch(cb) {
        watchers.delete(cb);
      },
      close: () => part.close(),
    };
  };

  return {
    kind: 'firmata',

    open() {
      if (closed) return Promise.reject(boardError('the firmata driver is closed'));
      if (current) return Promise.resolve();
      opening ??= connectSession().then(
        (s) => {
          if (closed) {
            void dispose(s.io, s.board, false); // never rejects: dispose() catches and logs its own failures
            throw boardError('the driver was closed while opening', s.io);
          }
          opened = true;
          adopt(s);
          log?.info({ port: s.port }, 'firmata board ready');
        },
        (err: unknown) => {
          opening = undefined; // a later open() may try again
          throw err;
        },
      );
      return opening;
    },

    input: digitalInput,

    distance(spec: DistanceSpec): DistanceInput {
      const what = `${spec.device} (${spec.model})`;
      const { pin, physical } = resolvePin(what, spec.pin, spec.model === 'hcsr04' ? 'input' : 'analog');
      const controller = spec.model === 'hcsr04' ? 'HCSR04' : 'GP2Y0A21YK';
      const watchers = new Set<(cm: number) => void>();
      let distanceClosed = false;
      let teardown: (() => void) | undefined;
      const part: Part = {
        attach(s) {
          // HCSR04 pings with PING_READ, which StandardFirmata lacks: firmata-io throws "Please upload
          // PingFirmata" here, and input()/distance() turn that into DRIVER_OPEN naming the pin
          const { value: sensor, intervals } = withIntervals(
            () => new (five as JohnnyFive).Proximity({ board: s.board, pin, controller, freq: DISTANCE_EVERY_MS }),
          );
          sensor.on('data', (d: ProximityData) => {
            // before the first sample j5 reports 0 (HC-SR04) or Infinity (IR), and an HC-SR04 with no
            // echo reports 0: none of them is a distance, and 0 would read as "someone right here"
            if (distanceClosed || !Number.isFinite(d.cm) || d.cm <= 0) return;
            for (const cb of [...watchers]) cb(d.cm);
          });
          teardown = () => {
            sensor.removeAllListeners();
            for (const t of intervals) clearInterval(t);
          };
        },
        detach() {
          const t = teardown;
          teardown = undefined;
          t?.();
        },
        close() {
          if (distanceClosed) return;
          distanceClosed = true;
          watchers.clear();
          part.detach();
          release();
        },
      };
      const release = track(part, physical, what, `${what} pin ${spec.pin}`);
      return {
        key: spec.key,
        watch(cb) {
          if (!distanceClosed) watchers.add(cb);
        },
        unwatch(cb) {
          watchers.delete(cb);
        },
        close: () => part.close(),
      };
    },

    indicator(cfg: IndicatorConfig | undefined): Indicator {
      if (!cfg || (cfg.pin === undefined && cfg.buzzerPin === undefined)) return patternIndicator({});
      const activeLow = cfg.activeLow;
      const releases: Array<() => void> = [];
      /** what the pattern wants (true = on); written again to every new board */
      const want = { led: false, buzzer: false };
      let led: J5Led | undefined;
      let buzzer: J5Piezo | undefined;
      let failed = false;
      const write = (what: string, fn: () => void): void => {
        try {
          fn();
        } catch (err) {
          // called from the pattern's timers: a throw here would end the process; log once
          if (!failed) log?.error({ err: errorMessage(err), what }, 'indicator write failed');
          failed = true;
        }
      };
      const writeLed = (): void => {
        const l = led;
        if (l) write('indicator LED', () => (want.led !== activeLow ? l.on() : l.off()));
      };
      const writeBuzzer = (): void => {
        const b = buzzer;
        if (b) write('indicator buzzer', () => (want.buzzer !== activeLow ? b.frequency(BUZZER_HZ, BEEP_MS) : b.noTone()));
      };
      const output = (what: string, pin: Pin | undefined, make: (s: Session, pin: number) => void, forget: () => void): void => {
        if (pin === undefined) return;
        const resolved = resolvePin(what, pin, 'output');
        const digitalPin = resolved.pin as number; // resolvePin returns a number for 'output'
        const part: Part = {
          attach: (s) => make(s, digitalPin),
          detach: forget,
          close() {
            forget();
          },
        };
        releases.push(track(part, resolved.physical, what, `${what} pin ${pin}`));
      };
      // the pattern first: its initial "off" then needs no write of its own, attach() writes it
      const pattern = patternIndicator({
        led:
          cfg.pin === undefined
            ? undefined
            : (on) => {
                want.led = on;
                writeLed();
              },
        buzzer:
          cfg.buzzerPin === undefined
            ? undefined
            : (on) => {
                want.buzzer = on;
                writeBuzzer();
              },
      });
      try {
        output(
          'indicator LED',
          cfg.pin,
          (s, pin) => {
            led = new (five as JohnnyFive).Led({ board: s.board, pin });
            writeLed(); // the level survives a reconnect
          },
          () => (led = undefined),
        );
        output(
          'indicator buzzer',
          cfg.buzzerPin,
          (s, pin) => {
            buzzer = new (five as JohnnyFive).Piezo({ board: s.board, pin, controller: ACTIVE_BUZZER });
            writeBuzzer();
          },
          () => (buzzer = undefined),
        );
      } catch (err) {
        for (const r of releases) r(); // the LED taken before a failing buzzer
        led = undefined;
        buzzer = undefined;
        throw err;
      }
      let indicatorClosed = false;
      const close = (): void => {
        if (indicatorClosed) return;
        indicatorClosed = true;
        pattern.close(); // dark and quiet before the components go
        for (const r of releases.splice(0)) r();
        led = undefined;
        buzzer = undefined;
      };
      indicatorCloses.add(close);
      return {
        set(level) {
          if (!indicatorClosed) pattern.set(level);
        },
        close() {
          indicatorCloses.delete(close);
          close();
        },
      };
    },

    onFault(cb) {
      faultCbs.add(cb);
    },

    close() {
      if (closing) return closing;
      closed = true;
      if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      abortPending?.();
      closing = (async () => {
        // outputs off first, while the board can still hear it
        for (const close of [...indicatorCloses]) {
          try {
            close();
          } catch (err) {
            log?.warn({ err: errorMessage(err) }, 'indicator close failed');
          }
        }
        indicatorCloses.clear();
        for (const part of [...parts]) {
          try {
            part.close();
          } catch (err) {
            log?.warn({ err: errorMessage(err) }, 'firmata close failed');
          }
        }
        const s = current;
        current = undefined;
        if (s) {
          s.unwatch();
          await dispose(s.io, s.board, true);
        }
        log?.info('firmata driver closed');
      })().catch((err: unknown) => {
        log?.warn({ err: errorMessage(err) }, 'firmata close failed');
      });
      return closing;
    },
  };
}

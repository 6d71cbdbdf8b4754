import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { FirmataIo, FirmataPinInfo, FirmataTransport } from '../../edge/drivers/firmata.ts';

// A mock-firmata board that behaves like firmata-io where johnny-five listens: digitalRead
// and analogRead subscribe to `digital-read-<pin>` / `analog-read-<channel>` events, pingRead
// waits for an echo. Tests drive pins with setDigital/setAnalog/echo (the callbacks
// johnny-five registered, as in its own test suite) and read back every write.

interface MockFirmataInstance extends EventEmitter {
  readonly name: string;
  readonly isReady: boolean;
  readonly MODES: { readonly INPUT: number; readonly OUTPUT: number; readonly ANALOG: number };
  readonly pins: readonly FirmataPinInfo[];
  readonly analogPins: readonly number[];
}

const require = createRequire(import.meta.url);
// mock-firmata ships no types: this is the part the fake uses
const mock = require('mock-firmata') as {
  Firmata: new (opts?: { pins?: unknown[] }) => MockFirmataInstance;
  Pins: { UNO: unknown[] };
};

export interface Write {
  pin: number;
  value: number;
  /** Date.now() (fake timers in tests) */
  at: number;
}

/** A serial port stand-in that records drain/close. */
export class FakePort extends EventEmitter implements FirmataTransport {
  readonly path: string;
  isOpen = true;
  drained = 0;
  closes = 0;
  constructor(path: string) {
    super();
    this.path = path;
  }
  drain(cb: (err?: Error | null) => void): void {
    this.drained++;
    cb(null);
  }
  close(cb?: (err?: Error | null) => void): void {
    this.closes++;
    this.isOpen = false;
    cb?.(null);
  }
}

export class FakeFirmata extends mock.Firmata implements FirmataIo {
  readonly writes: Write[] = [];
  readonly modes = new Map<number, number>();
  readonly transport: FakePort | undefined;
  readonly #pings = new Map<number, (microseconds: number) => void>();

  constructor(opts: { port?: string } = {}) {
    // a copy: mock-firmata shares its pin objects between instances
    super({ pins: structuredClone(mock.Pins.UNO) });
    this.transport = opts.port === undefined ? undefined : new FakePort(opts.port);
  }

  /** the board answers: johnny-five needs "connect" then "ready" */
  start(): void {
    this.emit('connect');
    this.emit('ready');
  }
  /** the board reports a digital pin's level */
  setDigital(pin: number, value: 0 | 1): void {
    this.emit(`digital-read-${pin}`, value);
  }
  /** the board reports an analog channel's reading (A0 = channel 0) */
  setAnalog(channel: number, value: number): void {
    this.emit(`analog-read-${channel}`, value);
  }
  /** the pending HC-SR04 ping on `pin` returns after `microseconds`; false when no ping waited */
  echo(pin: number, microseconds: number): boolean {
    const cb = this.#pings.get(pin);
    this.#pings.delete(pin);
    cb?.(microseconds);
    return cb !== undefined;
  }
  /** the USB cable is pulled */
  lose(): void {
    if (this.transport) this.transport.isOpen = false;
    this.emit('close');
  }
  /** the levels written to a pin, in order */
  levels(pin: number): number[] {
    return this.writes.filter((w) => w.pin === pin).map((w) => w.value);
  }

  pinMode(pin: number, mode: number): void {
    this.modes.set(pin, mode);
  }
  digitalRead(pin: number, cb: (value: number) => void): void {
    this.on(`digital-read-${pin}`, cb);
  }
  analogRead(channel: number, cb: (value: number) => void): void {
    this.on(`analog-read-${channel}`, cb);
  }
  pingRead(opts: { pin: number }, cb: (microseconds: number) => void): void {
    this.#pings.set(opts.pin, cb);
  }
  digitalWrite(pin: number, value: number): void {
    this.writes.push({ pin, value, at: Date.now() });
  }
  analogWrite(pin: number, value: number): void {
    this.writes.push({ pin, value, at: Date.now() });
  }
}

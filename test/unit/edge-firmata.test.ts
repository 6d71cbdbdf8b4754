import { createRequire } from 'node:module';
import type { SerialPortMock } from 'serialport';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { firmataDriver, pickArduinoPort, serialConnect, type FirmataDriverOptions } from '../../edge/drivers/firmata.ts';
import { EdgeErrorCodes } from '../../edge/errors.ts';
import type { Bit, DriverFault, InputSpec } from '../../edge/io.ts';
import { FakeFirmata } from '../fakes/firmata-board.ts';
import { nodeCfg } from '../fakes/nodes.ts';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const PORT = '/dev/ttyACM0';
const node = nodeCfg({ id: 'door-1', driver: 'firmata', board: 'uno', serialPort: PORT });

/** What each connect() call does: hand out a board that reports ready, one that stays silent, or throw. */
type Step = 'ready' | 'silent' | Error;

function rig(steps: Step[] = ['ready'], more: Partial<FirmataDriverOptions> = {}) {
  const boards: FakeFirmata[] = [];
  const connectAt: number[] = [];
  const connect = (): FakeFirmata => {
    connectAt.push(Date.now() - T0);
    const step = steps.shift() ?? 'ready';
    if (step instanceof Error) throw step;
    const io = new FakeFirmata({ port: PORT });
    boards.push(io);
    // after the driver has put its johnny-five Board on the io, like a real board's first bytes
    if (step === 'ready') process.nextTick(() => io.start());
    return io;
  };
  const faults: DriverFault[] = [];
  const drv = firmataDriver(node, { connect, reconnect: { minMs: 1_000, maxMs: 30_000 }, ...more });
  drv.onFault((f) => faults.push(f));
  return {
    drv,
    boards,
    connectAt,
    faults,
    board(i: number): FakeFirmata {
      const b = boards[i];
      if (!b) throw new Error(`no board ${i} (connect called ${connectAt.length} times)`);
      return b;
    },
  };
}

function spec(over: Partial<InputSpec> & Pick<InputSpec, 'role' | 'pin'>): InputSpec {
  return { key: over.device ?? 'dev', device: 'dev', activeLow: false, ...over };
}

function recordBits(): { cb: (v: Bit) => void; seen: Bit[] } {
  const seen: Bit[] = [];
  return { cb: (v) => seen.push(v), seen };
}

describe('firmata driver', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('importing the driver loads neither johnny-five nor serial bindings', () => {
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    expect(loaded.filter((p) => /[\\/](johnny-five|@serialport[\\/]bindings-cpp)[\\/]/.test(p))).toEqual([]);
  });

  it('open() resolves once the board reports ready, quietly', async () => {
    const printed = [vi.spyOn(console, 'log'), vi.spyOn(console, 'info'), vi.spyOn(console, 'error'), vi.spyOn(console, 'warn')];
    const r = rig(['silent']);
    let resolved = false;
    const opened = r.drv.open().then(() => (resolved = true));
    await vi.advanceTimersByTimeAsync(500);
    expect(resolved).toBe(false);
    r.board(0).start();
    await opened;
    expect(resolved).toBe(true);
    expect(r.drv.kind).toBe('firmata');
    expect(r.connectAt).toEqual([0]);
    for (const spy of printed) expect(spy).not.toHaveBeenCalled();
    await r.drv.close();
  });

  it('a button press and release reach the DigitalInput as 1 and 0', async () => {
    const r = rig();
    await r.drv.open();
    const btn = r.drv.input(spec({ key: 'counter-btn', device: 'counter-btn', role: 'button', pin: 6 }));
    const rec = recordBits();
    btn.watch(rec.cb);
    const io = r.board(0);
    expect(io.modes.get(6)).toBe(io.MODES.INPUT);
    expect(btn.read()).toBe(0);
    io.setDigital(6, 1);
    await vi.advanceTimersByTimeAsync(10); // j5 Button's 7 ms debounce
    expect(btn.read()).toBe(1);
    io.setDigital(6, 0);
    await vi.advanceTimersByTimeAsync(10);
    expect(rec.seen).toEqual([1, 0]);
    expect(btn.read()).toBe(0);
    expect(btn.key).toBe('counter-btn');
    await r.drv.close();
  });

  it('an active-low button is active when its pin reads 0', async () => {
    const r = rig();
    await r.drv.open();
    const btn = r.drv.input(spec({ role: 'button', pin: 7, activeLow: true }));
    const rec = recordBits();
    btn.watch(rec.cb);
    r.board(0).setDigital(7, 0);
    await vi.advanceTimersByTimeAsync(10);
    r.board(0).setDigital(7, 1);
    await vi.advanceTimersByTimeAsync(10);
    expect(rec.seen).toEqual([1, 0]);
    await r.drv.close();
  });

  it('a PIR (j5 Motion) turns on and off', async () => {
    const r = rig();
    await r.drv.open();
    const pir = r.drv.input(spec({ key: 'mid-pir', device: 'mid-pir', role: 'presence', pin: 5 }));
    const rec = recordBits();
    pir.watch(rec.cb);
    const io = r.board(0);
    await vi.advanceTimersByTimeAsync(200); // past the settle delay
    io.setDigital(5, 1);
    await vi.advanceTimersByTimeAsync(30); // one Motion tick
    expect(pir.read()).toBe(1);
    io.setDigital(5, 0);
    await vi.advanceTimersByTimeAsync(30);
    expect(pir.read()).toBe(0);
    expect(rec.seen).toEqual([1, 0]);
    await r.drv.close();
  });

  it('door and beam pins are read raw: every edge at once, activeLow inverted, repeats dropped', async () => {
    const r = rig();
    await r.drv.open();
    const door = r.drv.input(spec({ key: 'front-door', device: 'front-door', role: 'door', pin: 2, activeLow: true }));
    const outer = r.drv.input(spec({ key: 'beam.outer', device: 'beam', role: 'beam-outer', pin: 3 }));
    const inner = r.drv.input(spec({ key: 'beam.inner', device: 'beam', role: 'beam-inner', pin: 4 }));
    const order: string[] = [];
    door.watch((v) => order.push(`door=${v}`));
    outer.watch((v) => order.push(`outer=${v}`));
    inner.watch((v) => order.push(`inner=${v}`));
    const io = r.board(0);
    expect([io.modes.get(2), io.modes.get(3), io.modes.get(4)]).toEqual([io.MODES.INPUT, io.MODES.INPUT, io.MODES.INPUT]);
    io.setDigital(2, 0); // open (active low)
    io.setDigital(3, 1);
    io.setDigital(4, 1);
    io.setDigital(3, 1); // a repeated port report
    io.setDigital(3, 0);
    io.setDigital(4, 0);
    io.setDigital(2, 1);
    expect(order).toEqual(['door=1', 'outer=1', 'inner=1', 'outer=0', 'inner=0', 'door=0']);
    await r.drv.close();
  });

  it('HC-SR04 echoes and GP2Y0A21YK readings arrive as cm; no reading before the first sample', async () => {
    const r = rig();
    await r.drv.open();
    const sonar = r.drv.distance({ key: 'step-sonar', device: 'step-sonar', model: 'hcsr04', pin: 8 });
    const ir = r.drv.distance({ key: 'shelf-ir', device: 'shelf-ir', model: 'gp2y0a21yk', pin: 'A0' });
    const sonarCm: number[] = [];
    const irCm: number[] = [];
    sonar.watch((cm) => sonarCm.push(cm));
    ir.watch((cm) => irCm.push(cm));
    const io = r.board(0);
    await vi.advanceTimersByTimeAsync(250);
    expect(sonarCm).toEqual([]);
    expect(irCm).toEqual([]);
    expect(io.echo(8, 2910)).toBe(true); // 2910 µs round trip = 50 cm
    io.setAnalog(0, 300);
    await vi.advanceTimersByTimeAsync(100);
    expect(sonarCm).toEqual([50]);
    expect(irCm).toEqual([17.49]); // 12343.85 · 300^-1.15
    // one reading per 100 ms: the latest sample, again if no new one came
    await vi.advanceTimersByTimeAsync(100);
    expect(sonarCm).toEqual([50, 50]);
    expect(io.echo(8, 1746)).toBe(true); // j5 pinged again 65 ms after the echo; 30 cm
    io.setAnalog(0, 400);
    await vi.advanceTimersByTimeAsync(100);
    expect(sonarCm).toEqual([50, 50, 30]);
    expect(irCm).toEqual([17.49, 17.49, 12.56]);
    await r.drv.close();
  });

  it('an HC-SR04 without an echo (0 µs) is no reading', async () => {
    const r = rig();
    await r.drv.open();
    const sonar = r.drv.distance({ key: 's', device: 's', model: 'hcsr04', pin: 8 });
    const cms: number[] = [];
    sonar.watch((cm) => cms.push(cm));
    r.board(0).echo(8, 0);
    await vi.advanceTimersByTimeAsync(300);
    expect(cms).toEqual([]);
    await r.drv.close();
  });

  it('the LED and buzzer follow warn (blink), late (lit, three beeps) and off', async () => {
    const r = rig();
    await r.drv.open();
    const ind = r.drv.indicator({ pin: 13, buzzerPin: 12, activeLow: false });
    const io = r.board(0);
    expect([io.modes.get(13), io.modes.get(12)]).toEqual([io.MODES.OUTPUT, io.MODES.OUTPUT]);
    expect(io.levels(13)).toEqual([0]);
    expect(io.levels(12)).toEqual([0]);
    ind.set('warn');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(io.writes.filter((w) => w.pin === 13).map((w) => [w.at - T0, w.value])).toEqual([
      [0, 0],
      [0, 1],
      [500, 0],
      [1_000, 1],
    ]);
    io.writes.length = 0;
    ind.set('late');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(io.levels(13)).toEqual([1]);
    expect(io.writes.filter((w) => w.pin === 12).map((w) => [w.at - T0, w.value])).toEqual([
      [1_000, 0], // quiet() on the level change
      [1_000, 1],
      [1_150, 0],
      [1_300, 1],
      [1_450, 0],
      [1_600, 1],
      [1_750, 0],
    ]);
    io.writes.length = 0;
    ind.set('off');
    expect(io.levels(13)).toEqual([0]);
    expect(io.levels(12)).toEqual([0]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(io.writes.length).toBe(2);
    await r.drv.close();
  });

  it('an active-low indicator drives its pins low for on', async () => {
    const r = rig();
    await r.drv.open();
    const ind = r.drv.indicator({ pin: 13, activeLow: true });
    ind.set('late');
    ind.set('off');
    expect(r.board(0).levels(13)).toEqual([1, 0, 1]);
    await r.drv.close();
  });

  it('bad pins fail with DRIVER_OPEN naming node, device and pin', async () => {
    const r = rig();
    await r.drv.open();
    const cases: Array<[() => unknown, string]> = [
      [() => r.drv.input(spec({ device: 'counter-btn', role: 'button', pin: 'A0' })), 'node door-1: counter-btn (button) pin A0: A0 is an analog pin'],
      [() => r.drv.input(spec({ device: 'counter-btn', role: 'button', pin: undefined })), 'node door-1: counter-btn (button) pin (none): no pin configured'],
      [() => r.drv.input(spec({ device: 'front-door', role: 'door', pin: 14 })), 'node door-1: front-door (door) pin 14: pin 14 is analog pin A0 on this board'],
      [() => r.drv.input(spec({ device: 'front-door', role: 'door', pin: 1 })), 'node door-1: front-door (door) pin 1: pin 1 cannot be a digital input on this board (pins 0 and 1 carry the serial link)'],
      [() => r.drv.input(spec({ device: 'front-door', role: 'door', pin: 40 })), 'node door-1: front-door (door) pin 40: this board has no pin 40 (pins 0-19)'],
      [() => r.drv.distance({ key: 'ir', device: 'ir', model: 'gp2y0a21yk', pin: 9 }), 'node door-1: ir (gp2y0a21yk) pin 9: ir (gp2y0a21yk) is an analog sensor'],
      [() => r.drv.distance({ key: 'ir', device: 'ir', model: 'gp2y0a21yk', pin: 'A7' }), 'node door-1: ir (gp2y0a21yk) pin A7: this board has no A7 (analog pins A0-A5)'],
      [() => r.drv.indicator({ buzzerPin: 'A1', activeLow: false }), 'node door-1: indicator buzzer pin A1: A1 is an analog pin'],
    ];
    for (const [make, message] of cases) {
      let caught: unknown;
      try {
        make();
      } catch (err) {
        caught = err;
      }
      expect(caught).toMatchObject({ code: EdgeErrorCodes.DRIVER_OPEN });
      expect((caught as Error).message.startsWith(message), (caught as Error).message).toBe(true);
    }
    r.drv.input(spec({ device: 'front-door', role: 'door', pin: 2 }));
    expect(() => r.drv.input(spec({ device: 'counter-btn', role: 'button', pin: 2 }))).toThrow(
      'node door-1: counter-btn (button) pin 2: the pin is already used by front-door (door) on this node',
    );
    await r.drv.close();
  });

  it('input() before open() fails with DRIVER_OPEN', () => {
    const r = rig();
    expect(() => r.drv.input(spec({ device: 'b', role: 'button', pin: 6 }))).toThrow('not open yet');
  });

  it('a lost board raises disconnected, reconnects with doubling backoff, recovers and the same objects keep working', async () => {
    const r = rig(['ready', new Error('ENOENT: no such file'), new Error('ENOENT: no such file'), new Error('ENOENT: no such file'), 'ready']);
    await r.drv.open();
    const door = r.drv.input(spec({ key: 'front-door', device: 'front-door', role: 'door', pin: 2 }));
    const btn = r.drv.input(spec({ key: 'counter-btn', device: 'counter-btn', role: 'button', pin: 6 }));
    const sonar = r.drv.distance({ key: 'sonar', device: 'sonar', model: 'hcsr04', pin: 8 });
    const ind = r.drv.indicator({ pin: 13, activeLow: false });
    const doorSeen = recordBits();
    const btnSeen = recordBits();
    const cms: number[] = [];
    door.watch(doorSeen.cb);
    btn.watch(btnSeen.cb);
    sonar.watch((cm) => cms.push(cm));
    ind.set('late');
    const io1 = r.board(0);
    io1.setDigital(2, 1);
    expect(io1.levels(13)).toEqual([0, 1]);

    io1.lose();
    await Promise.resolve();
    expect(r.faults).toEqual([{ sensor: 'board', kind: 'disconnected', detail: `${PORT}: serial port closed` }]);
    expect(io1.transport?.closes).toBe(0); // already closed by the unplug
    expect(door.read()).toBe(1); // the last known level while the board is away
    io1.setDigital(2, 0); // a dead board's late report is ignored
    expect(door.read()).toBe(1);

    await vi.advanceTimersByTimeAsync(15_000);
    // 1 s, then 2, 4 and 8 s after each failure
    expect(r.connectAt).toEqual([0, 1_000, 3_000, 7_000, 15_000]);
    expect(r.faults).toEqual([
      { sensor: 'board', kind: 'disconnected', detail: `${PORT}: serial port closed` },
      { sensor: 'board', kind: 'recovered', detail: `${PORT}: board ready again after 4 attempt(s)` },
    ]);

    const io2 = r.board(1);
    expect(io2.levels(13)).toEqual([1]); // the indicator's level, re-applied on the new board
    expect(io2.modes.get(2)).toBe(io2.MODES.INPUT);
    io2.setDigital(2, 0);
    io2.setDigital(6, 1);
    await vi.advanceTimersByTimeAsync(10);
    expect(io2.echo(8, 2910)).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(doorSeen.seen).toEqual([1, 0]);
    expect(btnSeen.seen).toEqual([1]);
    expect(cms).toEqual([50]);
    await r.drv.close();
  });

  it('backoff stops doubling at maxMs and restarts from minMs after a recovery', async () => {
    const fail = new Error('Port is locked cannot open');
    const r = rig(['ready', fail, fail, fail, fail, 'ready', fail, 'ready'], { reconnect: { minMs: 500, maxMs: 2_000 } });
    await r.drv.open();
    r.board(0).lose();
    await vi.advanceTimersByTimeAsync(7_500);
    // 500, then +1000, +2000 and +2000 (capped), +2000
    expect(r.connectAt).toEqual([0, 500, 1_500, 3_500, 5_500, 7_500]);
    r.board(1).lose();
    await vi.advanceTimersByTimeAsync(1_500);
    expect(r.connectAt).toEqual([0, 500, 1_500, 3_500, 5_500, 7_500, 8_000, 9_000]);
    expect(r.faults.map((f) => f.kind)).toEqual(['disconnected', 'recovered', 'disconnected', 'recovered']);
    await r.drv.close();
  });

  it('a reconnect attempt whose board stays silent times out and backs off', async () => {
    const r = rig(['ready', 'silent', 'ready'], { readyTimeoutMs: 3_000 });
    await r.drv.open();
    r.board(0).lose();
    await vi.advanceTimersByTimeAsync(1_000 + 3_000 + 2_000);
    expect(r.connectAt).toEqual([0, 1_000, 6_000]);
    expect(r.faults.map((f) => f.kind)).toEqual(['disconnected', 'recovered']);
    await r.drv.close();
  });

  it('a serial error on a ready board counts as a disconnect and closes the port', async () => {
    const r = rig();
    await r.drv.open();
    const io = r.board(0);
    io.emit('error', new Error('EIO: i/o error, read'));
    expect(r.faults).toEqual([{ sensor: 'board', kind: 'disconnected', detail: `${PORT}: serial error: EIO: i/o error, read` }]);
    await vi.advanceTimersByTimeAsync(0);
    expect(io.transport?.closes).toBe(1); // released so the reconnect can open it again
    await r.drv.close();
  });

  it('an unplug seen on the serial port itself is reported as such', async () => {
    const r = rig();
    await r.drv.open();
    const port = r.board(0).transport;
    port?.emit('close', Object.assign(new Error('Port disconnected'), { disconnected: true })); // serialport v13's DisconnectedError
    r.board(0).emit('close'); // firmata-io's echo of it, without the argument
    await Promise.resolve();
    expect(r.faults).toEqual([{ sensor: 'board', kind: 'disconnected', detail: `${PORT}: board unplugged (serial port disconnected)` }]);
    await r.drv.close();
  });

  it('open() fails with DRIVER_OPEN naming node and port when connect throws', async () => {
    const r = rig([new Error('Error: Permission denied, cannot open /dev/ttyACM0')]);
    const err = await r.drv.open().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: EdgeErrorCodes.DRIVER_OPEN });
    expect((err as Error).message).toBe(
      `node door-1: firmata board on ${PORT}: cannot connect: permission denied (Error: Permission denied, cannot open /dev/ttyACM0): ` +
        "add the agent's user to the dialout group (sudo usermod -aG dialout $USER, then log in again)",
    );
    expect(r.connectAt).toEqual([0]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.connectAt).toEqual([0]); // a failed open() is the caller's to retry
  });

  it('open() fails with DRIVER_OPEN when no ready arrives within readyTimeoutMs', async () => {
    const r = rig(['silent'], { readyTimeoutMs: 2_000 });
    const result = r.drv.open().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_999);
    await vi.advanceTimersByTimeAsync(1);
    const err = await result;
    expect(err).toMatchObject({ code: EdgeErrorCodes.DRIVER_OPEN });
    expect((err as Error).message).toBe(
      `node door-1: firmata board on ${PORT}: no "ready" from the board within 2000 ms: is StandardFirmata flashed ` +
        "(Arduino IDE: File > Examples > Firmata > StandardFirmata) and is this the board's port?",
    );
    expect(r.board(0).transport?.closes).toBe(1);
  });

  it('open() fails with a dialout hint when the port is busy', async () => {
    const r = rig(['silent']);
    const result = r.drv.open().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    r.board(0).emit('error', new Error('Error Resource temporarily unavailable Cannot lock port'));
    const err = await result;
    expect((err as Error).message).toBe(
      `node door-1: firmata board on ${PORT}: port busy (Error Resource temporarily unavailable Cannot lock port): ` +
        'another program has it open (Arduino IDE serial monitor, a second agent, ModemManager); if none does, check that the user is in the dialout group',
    );
  });

  it('close() turns outputs off, closes the port, stops reconnecting and is idempotent', async () => {
    const r = rig();
    await r.drv.open();
    const ind = r.drv.indicator({ pin: 13, buzzerPin: 12, activeLow: false });
    const door = r.drv.input(spec({ device: 'front-door', role: 'door', pin: 2 }));
    ind.set('late');
    const io = r.board(0);
    io.writes.length = 0;
    await r.drv.close();
    expect(io.levels(13)).toEqual([0]);
    expect(io.levels(12)).toEqual([0]);
    expect(io.transport?.drained).toBe(1);
    expect(io.transport?.closes).toBe(1);
    io.setDigital(2, 1);
    expect(door.read()).toBe(0);
    await r.drv.close();
    expect(io.transport?.closes).toBe(1);
    io.lose();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.connectAt).toEqual([0]);
    expect(r.faults).toEqual([]);
    await expect(r.drv.open()).rejects.toMatchObject({ code: EdgeErrorCodes.DRIVER_OPEN });
  });

  it('components of a lost board stop their timers; close() leaves none running', async () => {
    const r = rig(['ready', 'ready']);
    await r.drv.open();
    const btn = r.drv.input(spec({ role: 'button', device: 'btn', pin: 6 }));
    r.drv.input(spec({ role: 'presence', device: 'pir', pin: 5 }));
    r.drv.distance({ key: 's', device: 's', model: 'hcsr04', pin: 8 });
    r.drv.distance({ key: 'ir', device: 'ir', model: 'gp2y0a21yk', pin: 'A0' });
    r.drv.indicator({ pin: 13, activeLow: false }).set('warn');
    r.board(0).setDigital(6, 1); // held across the loss: j5's hold interval is running
    await vi.advanceTimersByTimeAsync(200); // past j5 Motion's settle timeout
    expect(btn.read()).toBe(1);
    const before = vi.getTimerCount();
    // j5 Button hold, Motion and two Proximity polls, the indicator blink
    expect(before).toBe(5);
    r.board(0).lose();
    await vi.advanceTimersByTimeAsync(1_100);
    expect(r.faults.map((f) => f.kind)).toEqual(['disconnected', 'recovered']);
    expect(btn.read()).toBe(0); // j5 starts from "up": a press held across a reconnect reads as release + press
    r.board(1).setDigital(6, 1);
    await vi.advanceTimersByTimeAsync(200);
    expect(btn.read()).toBe(1);
    expect(vi.getTimerCount()).toBe(before); // the old board's Motion/Proximity/Button timers are gone
    await r.drv.close();
    await vi.advanceTimersByTimeAsync(100); // j5's 7 ms button debounce
    expect(vi.getTimerCount()).toBe(0);
  });

  it('close() during the backoff cancels the reconnect', async () => {
    const r = rig();
    await r.drv.open();
    r.board(0).lose();
    await vi.advanceTimersByTimeAsync(500); // half-way through the first backoff
    await r.drv.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.connectAt).toEqual([0]);
    expect(r.faults.map((f) => f.kind)).toEqual(['disconnected']);
  });
});

describe('serial port discovery', () => {
  it('picks a known Arduino USB vendor first, then a ttyACM/ttyUSB path', () => {
    expect(pickArduinoPort([{ path: '/dev/ttyS0' }, { path: '/dev/ttyUSB0' }, { path: '/dev/ttyACM1', vendorId: '2341' }])).toBe('/dev/ttyACM1');
    expect(pickArduinoPort([{ path: '/dev/ttyS0' }, { path: '/dev/ttyUSB3', vendorId: '10c4' }])).toBe('/dev/ttyUSB3');
    expect(pickArduinoPort([{ path: '/dev/serial1', vendorId: '1A86' }])).toBe('/dev/serial1');
    expect(pickArduinoPort([{ path: '/dev/ttyS0' }, { path: '/dev/ttyAMA0' }])).toBeUndefined();
  });

  it('with no Arduino-like port, says which ports it found', async () => {
    const SerialPort = Object.assign(
      function NoPort() {
        throw new Error('not opened in this test');
      } as unknown as new (opts: { path: string; baudRate: number }) => never,
      { list: () => Promise.resolve([{ path: '/dev/ttyS0' }, { path: '/dev/ttyAMA0', vendorId: '10c4', productId: 'ea60' }]) },
    );
    const err = await serialConnect(nodeCfg({ id: 'door-1', driver: 'firmata' }), { SerialPort }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: EdgeErrorCodes.DRIVER_OPEN });
    expect((err as Error).message).toBe(
      'node door-1: firmata board on an auto-detected serial port: no Arduino-like serial port found ' +
        '(USB vendor 2341/2a03/1a86/0403 or /dev/ttyACM*, /dev/ttyUSB*); ports found: /dev/ttyS0, /dev/ttyAMA0 (USB 10c4:ea60); ' +
        "plug the board in or set serialPort in the node's config",
    );
  });
});

/** What StandardFirmata on an Uno answers when a port opens: version, firmware name, capabilities, analog map. */
function unoHandshake(): Buffer {
  const name = [...Buffer.from('StandardFirmata.ino')].flatMap((c) => [c & 0x7f, c >> 7]);
  const INPUT = [0x00, 1];
  const OUTPUT = [0x01, 1];
  const ANALOG = [0x02, 10];
  const PULLUP = [0x0b, 1];
  const capabilities: number[] = [];
  for (let pin = 0; pin < 20; pin++) {
    if (pin >= 2) capabilities.push(...INPUT, ...OUTPUT, ...PULLUP);
    if (pin >= 14) capabilities.push(...ANALOG);
    capabilities.push(0x7f);
  }
  const analogMap = Array.from({ length: 20 }, (_, pin) => (pin >= 14 ? pin - 14 : 0x7f));
  return Buffer.from([
    ...[0xf9, 2, 5], // REPORT_VERSION 2.5
    ...[0xf0, 0x79, 2, 5, ...name, 0xf7], // QUERY_FIRMWARE
    ...[0xf0, 0x6c, ...capabilities, 0xf7], // CAPABILITY_RESPONSE
    ...[0xf0, 0x6a, ...analogMap, 0xf7], // ANALOG_MAPPING_RESPONSE
  ]);
}

/**
 * The part of serialport's mock binding these tests drive (@serialport/binding-mock's
 * dist/index.d.ts). Its package.json "exports" has no "types" entry, so under moduleResolution
 * Bundler TypeScript cannot find those types and SerialPortMock.binding, and a port's .port,
 * come out unresolved.
 */
interface MockBinding {
  reset(): void;
  createPort(path: string, opt?: { readyData?: Buffer; vendorId?: string; productId?: string }): void;
}
interface MockPortBinding {
  emitData(data: Buffer): void;
}
const bindingOf = (mock: typeof SerialPortMock) => mock.binding as MockBinding;

describe('default connect: serialport v13 (mock binding) + firmata-io + johnny-five', () => {
  afterEach(async () => {
    const { SerialPortMock } = await import('serialport');
    bindingOf(SerialPortMock).reset();
  });

  it('finds the Arduino port, completes the Firmata handshake, reads a door pin and closes the port', async () => {
    // loaded here, not at the top: the first test checks that nothing loaded serial bindings yet
    const { SerialPortMock } = await import('serialport');
    bindingOf(SerialPortMock).createPort('/dev/ttyS0');
    bindingOf(SerialPortMock).createPort('/dev/ttyACM3', { vendorId: '2341', productId: '0043', readyData: unoHandshake() });
    const auto = nodeCfg({ id: 'door-1', driver: 'firmata', board: 'uno' });
    let port: InstanceType<typeof SerialPortMock> | undefined;
    const emitData = (data: Buffer) => (port?.port as MockPortBinding | undefined)?.emitData(data);
    const drv = firmataDriver(auto, {
      connect: async () => {
        const io = await serialConnect(auto, { SerialPort: SerialPortMock });
        port = io.transport as InstanceType<typeof SerialPortMock>;
        return io;
      },
      readyTimeoutMs: 5_000,
    });
    await drv.open();
    expect(port?.path).toBe('/dev/ttyACM3');
    const door = drv.input(spec({ key: 'front-door', device: 'front-door', role: 'door', pin: 2 }));
    const seen = recordBits();
    door.watch(seen.cb);
    emitData(Buffer.from([0x90, 0b0000_0100, 0x00])); // DIGITAL_MESSAGE port 0: pin 2 high
    await vi.waitFor(() => expect(seen.seen).toEqual([1]));
    emitData(Buffer.from([0x90, 0x00, 0x00]));
    await vi.waitFor(() => expect(seen.seen).toEqual([1, 0]));
    // StandardFirmata has no PING_READ: firmata-io refuses the HC-SR04, the driver names the pin
    expect(() => drv.distance({ key: 'step-sonar', device: 'step-sonar', model: 'hcsr04', pin: 8 })).toThrow(
      'node door-1: step-sonar (hcsr04) pin 8: johnny-five cannot set it up: Please upload PingFirmata to the board',
    );
    await drv.close();
    expect(port?.isOpen).toBe(false);
  });

  it('a port another program holds fails open() with the dialout hint', async () => {
    const { SerialPortMock } = await import('serialport');
    bindingOf(SerialPortMock).createPort(PORT);
    const holder = new SerialPortMock({ path: PORT, baudRate: 57_600 });
    await new Promise<void>((resolve) => holder.on('open', () => resolve()));
    const drv = firmataDriver(node, { connect: () => serialConnect(node, { SerialPort: SerialPortMock }), readyTimeoutMs: 5_000 });
    const err = await drv.open().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: EdgeErrorCodes.DRIVER_OPEN });
    expect((err as Error).message).toBe(
      `node door-1: firmata board on ${PORT}: port busy (Port is locked cannot open): another program has it open ` +
        '(Arduino IDE serial monitor, a second agent, ModemManager); if none does, check that the user is in the dialout group',
    );
    await new Promise<void>((resolve) => holder.close(() => resolve()));
  });
});

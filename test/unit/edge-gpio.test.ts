import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { gpioDriver } from '../../edge/drivers/gpio.ts';
import { findPinBase, listGpioChips } from '../../edge/drivers/sysfs-gpio.ts';
import { EdgeError, EdgeErrorCodes } from '../../edge/errors.ts';
import { BEEP_MS, BLINK_MS } from '../../edge/indicator-pattern.ts';
import type { Bit, InputSpec } from '../../edge/io.ts';
import type { Node as NodeConfig } from '../../firmware-config/schema.ts';
import { createFakeGpio, type FakeGpio } from '../fakes/onoff-gpio.ts';
import { nodeCfg } from '../fakes/nodes.ts';

// driver: gpio over the onoff fake and a temp sysfs tree (no Pi needed).

const tmpDirs: string[] = [];
afterEach(() => {
  for (const d of tmpDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  vi.useRealTimers();
});

/** A /sys/class/gpio look-alike: one gpiochipN directory per chip with base, label and ngpio. */
function sysfsTree(chips: Array<{ base: number; label: string; ngpio?: number }>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-sysfs-gpio-'));
  tmpDirs.push(root);
  fs.writeFileSync(path.join(root, 'export'), '');
  for (const c of chips) {
    const dir = path.join(root, `gpiochip${c.base}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'base'), `${c.base}\n`);
    fs.writeFileSync(path.join(dir, 'label'), `${c.label}\n`);
    if (c.ngpio !== undefined) fs.writeFileSync(path.join(dir, 'ngpio'), `${c.ngpio}\n`);
  }
  return root;
}

// Pi 4 on a 6.6+ kernel: the header chip at 512 and the firmware expander after it
const pi4Tree = () =>
  sysfsTree([
    { base: 512, label: 'pinctrl-bcm2711', ngpio: 58 },
    { base: 570, label: 'raspberrypi-exp-gpio', ngpio: 8 },
  ]);
// Pi 5: the SoC's own brcmstb chips come first (decoys), the header is on RP1 at 571
const pi5Tree = () =>
  sysfsTree([
    { base: 512, label: 'gpio-brcmstb@107d508500', ngpio: 32 },
    { base: 544, label: 'gpio-brcmstb@107d517c00', ngpio: 15 },
    { base: 571, label: 'pinctrl-rp1', ngpio: 54 },
  ]);

function thrown(fn: () => unknown): EdgeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EdgeError);
    return err as EdgeError;
  }
  throw new Error('expected a throw');
}

async function rejected(p: Promise<unknown>): Promise<EdgeError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(EdgeError);
    return err as EdgeError;
  }
  throw new Error('expected a rejection');
}

const gpioNode = (over: Partial<NodeConfig> = {}): NodeConfig => nodeCfg({ driver: 'gpio', ...over });
const beamOuter = (over: Partial<InputSpec> = {}): InputSpec => ({
  key: 'front-beam.outer',
  role: 'beam-outer',
  device: 'front-beam',
  pin: 17,
  activeLow: false,
  ...over,
});
const button = (over: Partial<InputSpec> = {}): InputSpec => ({
  key: 'counter-btn',
  role: 'button',
  device: 'counter-btn',
  pin: 6,
  activeLow: true,
  ...over,
});

describe('findPinBase (sysfs pin base lookup)', () => {
  it('finds the Pi 4 header chip pinctrl-bcm2711 at 512, not the expander', () => {
    expect(findPinBase(pi4Tree())).toEqual({ base: 512, label: 'pinctrl-bcm2711', chip: 'gpiochip512', ngpio: 58 });
  });

  it('finds the Pi 5 header chip pinctrl-rp1 at 571 past the brcmstb decoys', () => {
    const root = pi5Tree();
    expect(findPinBase(root)).toEqual({ base: 571, label: 'pinctrl-rp1', chip: 'gpiochip571', ngpio: 54 });
    expect(findPinBase(root, { board: 'pi5' }).base).toBe(571);
  });

  it('uses exactly the gpioChip label when one is configured', () => {
    expect(findPinBase(pi5Tree(), { chip: 'gpio-brcmstb@107d508500' })).toEqual({
      base: 512,
      label: 'gpio-brcmstb@107d508500',
      chip: 'gpiochip512',
      ngpio: 32,
    });
  });

  it("prefers the configured board's header chip", () => {
    const root = sysfsTree([
      { base: 0, label: 'pinctrl-bcm2835' },
      { base: 100, label: 'pinctrl-bcm2711' },
      { base: 571, label: 'pinctrl-rp1' },
    ]);
    expect(findPinBase(root, { board: 'pi5' }).base).toBe(571);
    expect(findPinBase(root, { board: 'pi4' }).base).toBe(100);
    expect(findPinBase(root).base).toBe(100);
    expect(findPinBase(root, { board: 'uno' }).base).toBe(100);
  });

  it('lists the chips found (label=base) when none matches', () => {
    const root = sysfsTree([
      { base: 512, label: 'gpio-brcmstb@107d508500' },
      { base: 544, label: 'gpio-brcmstb@107d517c00' },
    ]);
    const err = thrown(() => findPinBase(root));
    expect(err.code).toBe(EdgeErrorCodes.DRIVER_OPEN);
    expect(err.message).toContain('chips found: gpio-brcmstb@107d508500=512, gpio-brcmstb@107d517c00=544');
    const named = thrown(() => findPinBase(pi4Tree(), { chip: 'pinctrl-rp1' }));
    expect(named.message).toContain('gpioChip "pinctrl-rp1"');
    expect(named.message).toContain('pinctrl-bcm2711=512, raspberrypi-exp-gpio=570');
  });

  it('reports no chips for a missing root, skipping unreadable entries', () => {
    const missing = path.join(os.tmpdir(), 'gw-no-such-sysfs-gpio');
    expect(listGpioChips(missing)).toEqual([]);
    expect(thrown(() => findPinBase(missing)).message).toContain('chips found: none');
    const root = pi4Tree();
    fs.mkdirSync(path.join(root, 'gpiochip9')); // no base/label
    fs.mkdirSync(path.join(root, 'gpio529')); // an exported line, not a chip
    expect(listGpioChips(root).map((c) => c.chip)).toEqual(['gpiochip512', 'gpiochip570']);
  });
});

describe('gpioDriver', () => {
  let fake: FakeGpio;
  beforeEach(() => {
    fake = createFakeGpio();
  });

  async function opened(over: Partial<NodeConfig> = {}, sysfsRoot = pi5Tree()) {
    const driver = gpioDriver(gpioNode(over), { Gpio: fake.Gpio, sysfsRoot });
    await driver.open();
    return driver;
  }

  it('is kind gpio and refuses a machine without GPIO, naming driver: sim', async () => {
    fake.Gpio.accessible = false;
    const driver = gpioDriver(gpioNode(), { Gpio: fake.Gpio, sysfsRoot: pi5Tree() });
    expect(driver.kind).toBe('gpio');
    const err = await rejected(driver.open());
    expect(err.code).toBe(EdgeErrorCodes.DRIVER_UNSUPPORTED);
    expect(err.message).toContain('node door-1');
    expect(err.message).toContain('has no GPIO');
    expect(err.message).toContain('driver: sim');
    expect(fake.created).toHaveLength(0);
  });

  it('fails open with DRIVER_OPEN naming the node when no header chip is found', async () => {
    const root = sysfsTree([{ base: 512, label: 'gpio-brcmstb@107d508500' }]);
    const err = await rejected(gpioDriver(gpioNode(), { Gpio: fake.Gpio, sysfsRoot: root }).open());
    expect(err.code).toBe(EdgeErrorCodes.DRIVER_OPEN);
    expect(err.message).toMatch(/^node door-1: GPIO header chip: no GPIO chip matches/);
    expect(err.message).toContain('gpio-brcmstb@107d508500=512');
  });

  // skipped only on a machine that has GPIO (a Pi), where the refusal under test cannot happen
  it.skipIf(fs.existsSync('/sys/class/gpio/export'))('loads the real onoff lazily and refuses this GPIO-less machine', async () => {
    const err = await rejected(gpioDriver(gpioNode(), { sysfsRoot: pi5Tree() }).open());
    expect(err.code).toBe(EdgeErrorCodes.DRIVER_UNSUPPORTED);
    expect(err.message).toContain('driver: sim');
  });

  it('opens an input at base + BCM pin as direction in, edge both (interrupts, not polling)', async () => {
    const driver = await opened();
    driver.input(beamOuter());
    expect(fake.created).toHaveLength(1);
    const line = fake.created[0]!;
    expect(line.gpio).toBe(571 + 17);
    expect(line.direction).toBe('in');
    expect(line.edge).toBe('both');
    expect(line.activeLow).toBe(false);
    expect(fake.exported()).toEqual([588]);
  });

  it('uses the Pi 4 base and the gpioChip override', async () => {
    const pi4 = await opened({ board: 'pi4' }, pi4Tree());
    pi4.input(beamOuter());
    const other = createFakeGpio();
    const overridden = gpioDriver(gpioNode({ gpioChip: 'gpio-brcmstb@107d517c00' }), { Gpio: other.Gpio, sysfsRoot: pi5Tree() });
    await overridden.open();
    overridden.input(beamOuter({ pin: 3 }));
    expect(fake.exported()).toEqual([529]);
    expect(other.exported()).toEqual([547]);
  });

  it('an active-low button wired to GND reads 1 while the line is physically 0', async () => {
    const driver = await opened();
    const sysfs = 571 + 6;
    fake.drive(sysfs, 1); // pull-up: idle high
    const input = driver.input(button());
    expect(fake.created[0]!.activeLow).toBe(true);
    expect(input.read()).toBe(0);
    const seen: Bit[] = [];
    input.watch((v) => seen.push(v));
    fake.drive(sysfs, 0); // pressed: shorted to GND
    expect(input.read()).toBe(1);
    fake.drive(sysfs, 1); // released
    expect(input.read()).toBe(0);
    expect(seen).toEqual([1, 0]);
  });

  it('an active-high input passes the physical level through; unwatch stops callbacks', async () => {
    const driver = await opened();
    const input = driver.input(beamOuter());
    const seen: Bit[] = [];
    const cb = (v: Bit): void => {
      seen.push(v);
    };
    input.watch(cb);
    input.watch(cb); // once only
    expect(fake.created[0]!.watchers).toBe(1);
    fake.drive(588, 1);
    fake.drive(588, 0);
    input.unwatch(cb);
    expect(fake.created[0]!.watchers).toBe(0);
    fake.drive(588, 1);
    expect(seen).toEqual([1, 0]);
    expect(input.key).toBe('front-beam.outer');
  });

  it('logs and ignores an error onoff passes to a watcher', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) });
    const driver = gpioDriver(gpioNode(), { Gpio: fake.Gpio, sysfsRoot: pi5Tree(), log });
    await driver.open();
    const input = driver.input(beamOuter());
    const seen: Bit[] = [];
    input.watch((v) => seen.push(v));
    fake.interruptError(588, new Error('epoll_wait failed'));
    expect(seen).toEqual([]);
    const warn = logs.find((l) => l.msg === 'gpio interrupt error ignored');
    expect(warn).toMatchObject({ name: 'edge:gpio', node: 'door-1', err: 'epoll_wait failed', key: 'front-beam.outer', sysfs: 588 });
  });

  it('an EBUSY pin fails with DRIVER_OPEN naming node, device and pin', async () => {
    const driver = await opened();
    const squatter = new fake.Gpio(588, 'in'); // another program holds BCM 17
    const err = thrown(() => driver.input(beamOuter()));
    expect(err.code).toBe(EdgeErrorCodes.DRIVER_OPEN);
    expect(err.message).toMatch(/^node door-1: front-beam \(beam-outer\) pin 17: EBUSY: /);
    expect(err.message).toContain('sysfs gpio588 = pinctrl-rp1 base 571 + pin 17');
    expect(errCode(err.cause)).toBe('EBUSY');
    squatter.unexport();
    expect(driver.input(beamOuter()).read()).toBe(0);
  });

  it('EACCES says to add the user to the gpio group; EINVAL says to check the pin', async () => {
    const driver = await opened();
    fake.refuse(577, 'EACCES');
    expect(thrown(() => driver.input(button())).message).toMatch(/^node door-1: counter-btn \(button\) pin 6: EACCES: .*add the user to the gpio group/);
    fake.refuse(577, 'EINVAL');
    expect(thrown(() => driver.input(button())).message).toContain('EINVAL: the kernel has no such line');
    expect(fake.exported()).toEqual([]);
  });

  it('refuses analog, missing, out-of-range and duplicate pins', async () => {
    const driver = await opened();
    const analog = thrown(() => driver.input(beamOuter({ pin: 'A0' })));
    expect(analog.code).toBe(EdgeErrorCodes.DRIVER_OPEN);
    expect(analog.message).toMatch(/^node door-1: front-beam \(beam-outer\) pin A0: analog pin A0 exists only on a Firmata board/);
    const none = thrown(() => driver.input(button({ pin: undefined })));
    expect(none.message).toBe('node door-1: counter-btn (button) pin (none): no pin configured; driver gpio needs a BCM GPIO number');
    expect(thrown(() => driver.input(beamOuter({ pin: 60 }))).message).toContain('pinctrl-rp1 has only 54 lines');
    driver.input(beamOuter());
    const dup = thrown(() => driver.input(beamOuter({ key: 'door', role: 'door', device: 'front-door' })));
    expect(dup.message).toBe('node door-1: front-door (door) pin 17: BCM 17 is already used by front-beam (beam-outer) on this node');
    expect(fake.exported()).toEqual([588]);
  });

  it('input() before open() fails clearly', () => {
    const driver = gpioDriver(gpioNode(), { Gpio: fake.Gpio, sysfsRoot: pi5Tree() });
    expect(thrown(() => driver.input(beamOuter())).message).toContain('not open yet');
  });

  it('has no distance sensors: points at driver: firmata', async () => {
    const driver = await opened();
    const err = thrown(() => driver.distance({ key: 'aisle', device: 'aisle', model: 'hcsr04', pin: 5 }));
    expect(err.code).toBe(EdgeErrorCodes.DRIVER_OPEN);
    expect(err.message).toMatch(/^node door-1: aisle \(hcsr04\) pin 5: /);
    expect(err.message).toContain('HC-SR04 and GP2Y0A21YK need driver: firmata');
  });

  describe('indicator', () => {
    const LED = 571 + 22;
    const BUZ = 571 + 23;

    it('warn blinks the LED, late lights it and beeps three times, off clears both', async () => {
      vi.useFakeTimers();
      const driver = await opened();
      const ind = driver.indicator({ pin: 22, buzzerPin: 23, activeLow: false });
      expect(fake.created.map((l) => [l.gpio, l.direction])).toEqual([
        [LED, 'low'],
        [BUZ, 'low'],
      ]);
      expect([fake.level(LED), fake.level(BUZ)]).toEqual([0, 0]);

      ind.set('warn');
      expect(fake.level(LED)).toBe(1);
      vi.advanceTimersByTime(BLINK_MS);
      expect(fake.level(LED)).toBe(0);
      vi.advanceTimersByTime(BLINK_MS);
      expect(fake.level(LED)).toBe(1);
      expect(fake.level(BUZ)).toBe(0);

      ind.set('late');
      const buzzer: number[] = [];
      for (let i = 0; i < 7; i++) {
        vi.advanceTimersByTime(i === 0 ? BEEP_MS / 2 : BEEP_MS);
        buzzer.push(fake.level(BUZ));
      }
      expect(buzzer).toEqual([1, 0, 1, 0, 1, 0, 0]);
      vi.advanceTimersByTime(10_000);
      expect([fake.level(LED), fake.level(BUZ)]).toEqual([1, 0]); // steady, no more beeps

      ind.set('warn');
      ind.set('off');
      vi.advanceTimersByTime(10 * BLINK_MS);
      expect([fake.level(LED), fake.level(BUZ)]).toEqual([0, 0]);
    });

    it('active-low LED starts physically high (dark) and sinks current to light', async () => {
      vi.useFakeTimers();
      const driver = await opened();
      const ind = driver.indicator({ pin: 22, activeLow: true });
      expect(fake.created.map((l) => [l.gpio, l.direction, l.activeLow])).toEqual([[LED, 'high', true]]);
      expect(fake.level(LED)).toBe(1);
      ind.set('late');
      expect(fake.level(LED)).toBe(0);
      ind.close();
      expect(fake.level(LED)).toBe(1);
      expect(fake.exported()).toEqual([]);
    });

    it('without pins does nothing', async () => {
      const driver = await opened();
      for (const cfg of [undefined, { activeLow: false }]) {
        const ind = driver.indicator(cfg);
        ind.set('late');
        ind.set('off');
        ind.close();
      }
      expect(fake.created).toHaveLength(0);
    });

    it('a busy buzzer pin releases the LED it already opened', async () => {
      const driver = await opened();
      new fake.Gpio(BUZ, 'out');
      const err = thrown(() => driver.indicator({ pin: 22, buzzerPin: 23, activeLow: false }));
      expect(err.message).toMatch(/^node door-1: indicator buzzer pin 23: EBUSY/);
      expect(fake.exported()).toEqual([BUZ]);
    });
  });

  describe('close', () => {
    it('unexports every line, turns the indicator off first, and is idempotent', async () => {
      vi.useFakeTimers();
      const driver = await opened();
      const outer = driver.input(beamOuter());
      const btn = driver.input(button());
      outer.watch(() => {});
      btn.watch(() => {});
      const ind = driver.indicator({ pin: 22, buzzerPin: 23, activeLow: false });
      ind.set('late');
      vi.advanceTimersByTime(BEEP_MS / 2);
      expect(fake.level(571 + 23)).toBe(1);
      expect(fake.exported()).toEqual([577, 588, 593, 594]);

      fake.drive(588, 1);
      expect(outer.read()).toBe(1);
      await driver.close();
      expect(outer.read()).toBe(1); // the last level, no EBADF after close
      expect(fake.exported()).toEqual([]);
      expect(fake.created.every((l) => l.unexported && l.watchers === 0)).toBe(true);
      expect([fake.level(571 + 22), fake.level(571 + 23)]).toEqual([0, 0]);
      vi.advanceTimersByTime(10_000);
      expect(fake.level(571 + 23)).toBe(0); // pending beeps were cancelled

      const spies = fake.created.map((l) => vi.spyOn(l, 'unexport'));
      await driver.close();
      outer.close();
      ind.close();
      ind.set('warn');
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
      expect(() => driver.input(beamOuter())).toThrow(/driver is closed/);
    });

    it('an input closed on its own is not unexported twice, and close never throws', async () => {
      const logs: Array<Record<string, unknown>> = [];
      const log = pino({ level: 'warn' }, { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) });
      const driver = gpioDriver(gpioNode(), { Gpio: fake.Gpio, sysfsRoot: pi5Tree(), log });
      await driver.open();
      const outer = driver.input(beamOuter());
      driver.input(button());
      outer.close();
      expect(fake.exported()).toEqual([577]);
      // a line whose unexport fails (the fake throws EBADF on reuse after it is gone)
      fake.created[1]!.unexport();
      await expect(driver.close()).resolves.toBeUndefined();
      expect(fake.exported()).toEqual([]);
      expect(logs.map((l) => [l.msg, l.sysfs])).toEqual([['gpio unexport failed', 577]]);
    });
  });
});

function errCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import { EdgeError, EdgeErrorCodes } from '../errors.ts';

// Where the Pi's header pins start in the sysfs GPIO number space. Kernels since 6.6 number
// sysfs lines dynamically (the header chip is gpiochip512 on a Pi 4, gpiochip571 on a Pi 5),
// so BCM pin 17 is `base + 17` and the base must be read from sysfs, never assumed. Pure fs
// reads so it can be tested on a temp dir.

export const DEFAULT_SYSFS_GPIO = '/sys/class/gpio';

/** Labels of the chip that drives the 40-pin header, by board. */
export const HEADER_CHIP_LABELS = {
  pi4: 'pinctrl-bcm2711',
  /** Pi 3, Zero and older */
  older: 'pinctrl-bcm2835',
  pi5: 'pinctrl-rp1',
} as const;

export interface GpioChipInfo {
  /** directory name, e.g. gpiochip571 */
  chip: string;
  label: string;
  base: number;
  /** number of lines, when the kernel reports it */
  ngpio?: number;
}

export interface PinBase {
  base: number;
  label: string;
  chip: string;
  ngpio?: number;
}

export interface FindPinBaseOptions {
  /** a node's `gpioChip`: use exactly the chip with this label */
  chip?: string;
  /** a node's `board`: pi4 / pi5 put that board's header chip first */
  board?: string;
}

const readTrimmed = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** Every `gpiochip*` under sysfsRoot with a readable label and numeric base, sorted by base. */
export function listGpioChips(sysfsRoot: string = DEFAULT_SYSFS_GPIO): GpioChipInfo[] {
  let names: string[];
  try {
    names = fs.readdirSync(sysfsRoot);
  } catch {
    return [];
  }
  const chips: GpioChipInfo[] = [];
  for (const chip of names) {
    if (!/^gpiochip\d+$/.test(chip)) continue;
    const dir = path.join(sysfsRoot, chip);
    const label = readTrimmed(path.join(dir, 'label'));
    const baseText = readTrimmed(path.join(dir, 'base'));
    if (label === undefined || baseText === undefined || !/^\d+$/.test(baseText)) continue;
    const info: GpioChipInfo = { chip, label, base: Number(baseText) };
    const ngpioText = readTrimmed(path.join(dir, 'ngpio'));
    if (ngpioText !== undefined && /^\d+$/.test(ngpioText)) info.ngpio = Number(ngpioText);
    chips.push(info);
  }
  return chips.sort((a, b) => a.base - b.base);
}

/** Header chip labels to try, in order: the configured board's first. */
function headerLabels(board: string | undefined): string[] {
  const all: string[] = [HEADER_CHIP_LABELS.pi4, HEADER_CHIP_LABELS.older, HEADER_CHIP_LABELS.pi5];
  const preferred = board === 'pi4' ? HEADER_CHIP_LABELS.pi4 : board === 'pi5' ? HEADER_CHIP_LABELS.pi5 : undefined;
  return preferred ? [preferred, ...all.filter((l) => l !== preferred)] : all;
}

/**
 * The sysfs chip whose lines are the Pi's BCM GPIO numbers: the one labelled `opts.chip`
 * when given, else the header chip by label. Throws DRIVER_OPEN listing the chips found
 * (label=base) when none matches.
 */
export function findPinBase(sysfsRoot: string = DEFAULT_SYSFS_GPIO, opts: FindPinBaseOptions = {}): PinBase {
  const chips = listGpioChips(sysfsRoot);
  const wanted = opts.chip !== undefined ? [opts.chip] : headerLabels(opts.board);
  for (const label of wanted) {
    const hit = chips.find((c) => c.label === label);
    if (hit) return { ...hit };
  }
  const found = chips.length > 0 ? chips.map((c) => `${c.label}=${c.base}`).join(', ') : 'none';
  const looked = opts.chip !== undefined ? `gpioChip "${opts.chip}"` : `a Raspberry Pi header chip (${wanted.join(', ')})`;
  throw new EdgeError(
    EdgeErrorCodes.DRIVER_OPEN,
    `no GPIO chip matches ${looked} under ${sysfsRoot}; chips found: ${found}` +
      (opts.chip !== undefined ? '; set gpioChip to one of those labels' : '; set the node\'s gpioChip to the label of the header chip'),
  );
}

import type { Sensor } from '../firmware-config/schema.ts';
import type { Bit, DigitalInput, DistanceInput } from './io.ts';

// A distance sensor (HC-SR04, GP2Y0A21YK) as a presence level: the median of the last
// `medianOf` readings (one echo off a passing bag or a missed ping does not count), on at
// or below `onCm`, off above `offCm` (hysteresis: a person standing at the threshold does
// not flicker). The result is a DigitalInput, so the same filters, chatter check and
// presence logic serve PIRs and distance sensors alike.

export type ProximityConfig = Extract<Sensor, { kind: 'proximity' }>;

export interface DistanceLevel extends DigitalInput {
  /** the median that last changed the level, rounded to 0.1 cm; null before the first change */
  readonly cm: number | null;
  /** readings that were not a finite distance (no echo, out of range) */
  readonly invalid: number;
}

export function distanceLevel(input: DistanceInput, cfg: Pick<ProximityConfig, 'medianOf' | 'onCm' | 'offCm'>): DistanceLevel {
  const offCm = Math.max(cfg.offCm, cfg.onCm);
  const ring = new Float64Array(cfg.medianOf);
  const sorted = new Float64Array(cfg.medianOf);
  let count = 0;
  let next = 0;
  let level: Bit = 0;
  let cm: number | null = null;
  let invalid = 0;
  const watchers = new Set<(v: Bit) => void>();

  const median = (): number => {
    const n = Math.min(count, ring.length);
    const view = sorted.subarray(0, n);
    view.set(ring.subarray(0, n));
    view.sort();
    return n % 2 ? view[(n - 1) / 2]! : (view[n / 2 - 1]! + view[n / 2]!) / 2;
  };

  const onReading = (raw: number): void => {
    if (!Number.isFinite(raw) || raw < 0) {
      invalid++;
      return;
    }
    ring[next] = raw;
    next = (next + 1) % ring.length;
    count++;
    const m = median();
    const nextLevel: Bit = level === 0 ? (m <= cfg.onCm ? 1 : 0) : m > offCm ? 0 : 1;
    if (nextLevel === level) return;
    level = nextLevel;
    cm = Math.round(m * 10) / 10;
    for (const cb of [...watchers]) cb(level);
  };
  input.watch(onReading);

  return {
    key: input.key,
    get cm() {
      return cm;
    },
    get invalid() {
      return invalid;
    },
    read: () => level,
    watch: (cb) => void watchers.add(cb),
    unwatch: (cb) => void watchers.delete(cb),
    close() {
      input.unwatch(onReading);
      watchers.clear();
      input.close();
    },
  };
}

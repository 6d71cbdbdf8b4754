import type { Sensor } from '../firmware-config/schema.ts';
import type { Emit } from './envelope.ts';
import { condition } from './filters.ts';
import type { Clock, DigitalInput } from './io.ts';

// PIR or proximity sensor: an accepted change emits greetwatch.presence.v1 {sensor, zone,
// state on/off}, with `distanceCm` when the input is a distance sensor's threshold
// (distance.ts) so the hub sees how close the person came. (CONTRACT.md event table.)

export type PresenceConfig = Extract<Sensor, { kind: 'pir' | 'proximity' }>;

export function presence(opts: {
  sensor: PresenceConfig;
  input: DigitalInput;
  clock: Clock;
  emit: Emit;
  /** the distance (cm) behind the current level, for distance sensors */
  distanceCm?: () => number | null;
}) {
  const { sensor, emit } = opts;
  let changes = 0;
  const cond = condition(opts.input, sensor, opts.clock, (value, at) => {
    changes++;
    const cm = opts.distanceCm?.() ?? null;
    const data = { sensor: sensor.id, zone: sensor.zone, state: value === 1 ? ('on' as const) : ('off' as const) };
    emit('greetwatch.presence.v1', cm === null ? data : { ...data, distanceCm: cm }, at);
  });
  return {
    stats: () => ({ changes, glitches: cond.glitches }),
    close: () => cond.close(),
  };
}

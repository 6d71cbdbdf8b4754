import type { Sensor } from '../firmware-config/schema.ts';
import { debounce } from './debounce.ts';
import type { Emit } from './envelope.ts';
import type { Clock, DigitalInput } from './io.ts';

// PIR (or a proximity sensor whose driver applies `thresholdCm` and hands over a digital
// level): a debounced change emits greetwatch.presence.v1 {sensor, zone, state on/off}.
// `distanceCm` is left out: no driver reports distances yet. (CONTRACT.md event table.)

export type PresenceConfig = Extract<Sensor, { kind: 'pir' | 'proximity' }>;

export function presence(opts: { sensor: PresenceConfig; input: DigitalInput; clock: Clock; emit: Emit }) {
  const { sensor, emit } = opts;
  let changes = 0;
  const deb = debounce(opts.input, sensor.debounceMs, opts.clock, (value, at) => {
    changes++;
    emit('greetwatch.presence.v1', { sensor: sensor.id, zone: sensor.zone, state: value === 1 ? 'on' : 'off' }, at);
  });
  return {
    stats: () => ({ changes, glitches: deb.glitches }),
    close: () => deb.close(),
  };
}

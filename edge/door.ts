import type { Sensor } from '../firmware-config/schema.ts';
import { debounce } from './debounce.ts';
import type { Emit } from './envelope.ts';
import type { Clock, DigitalInput } from './io.ts';

// Door contact (1 = open): every debounced change emits greetwatch.door.v1 {sensor, state}.
// The level at start is not reported; only changes are (CONTRACT.md: "door contact changed").

export type DoorConfig = Extract<Sensor, { kind: 'door' }>;

export function door(opts: { sensor: DoorConfig; input: DigitalInput; clock: Clock; emit: Emit }) {
  const { sensor, emit } = opts;
  let changes = 0;
  const deb = debounce(opts.input, sensor.debounceMs, opts.clock, (value, at) => {
    changes++;
    emit('greetwatch.door.v1', { sensor: sensor.id, state: value === 1 ? 'open' : 'closed' }, at);
  });
  return {
    stats: () => ({ changes, glitches: deb.glitches }),
    close: () => deb.close(),
  };
}

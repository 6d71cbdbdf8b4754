import type { Sensor } from '../firmware-config/schema.ts';
import type { Emit } from './envelope.ts';
import { condition } from './filters.ts';
import type { Clock, DigitalInput } from './io.ts';

// Door contact (1 = open after wiring and filters): every accepted change emits
// greetwatch.door.v1 {sensor, state}. The level at start is not reported; only changes are
// (CONTRACT.md: "door contact changed"). Opens also feed the stuck-input check (input-health.ts).

export type DoorConfig = Extract<Sensor, { kind: 'door' }>;

export function door(opts: { sensor: DoorConfig; input: DigitalInput; clock: Clock; emit: Emit; onOpen?: () => void }) {
  const { sensor, emit } = opts;
  let changes = 0;
  const cond = condition(opts.input, sensor, opts.clock, (value, at) => {
    changes++;
    emit('greetwatch.door.v1', { sensor: sensor.id, state: value === 1 ? 'open' : 'closed' }, at);
    if (value === 1) opts.onOpen?.();
  });
  return {
    stats: () => ({ changes, glitches: cond.glitches }),
    close: () => cond.close(),
  };
}

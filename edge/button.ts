import type { Button as ButtonConfig } from '../firmware-config/schema.ts';
import { debounce } from './debounce.ts';
import type { Emit } from './envelope.ts';
import type { Clock, DigitalInput } from './io.ts';

// A counter button or wearable fob. A debounced press (level 1) emits greetwatch.greet.v1
// or greetwatch.staffpass.v1 per the button's `action`, data {button, staff?}; `staff` comes
// from the config (a fob belongs to one staff member). Releases emit nothing.
// (CONTRACT.md "Event envelope" table.)

export interface ButtonSignal {
  stats(): { presses: number; glitches: number };
  close(): void;
}

export function button(opts: { button: ButtonConfig; input: DigitalInput; clock: Clock; emit: Emit }): ButtonSignal {
  const { button: cfg, emit } = opts;
  const type = cfg.action === 'staffpass' ? 'greetwatch.staffpass.v1' : 'greetwatch.greet.v1';
  const data = cfg.staff ? { button: cfg.id, staff: cfg.staff } : { button: cfg.id };
  let presses = 0;
  const deb = debounce(opts.input, cfg.debounceMs, opts.clock, (value, at) => {
    if (value !== 1) return;
    presses++;
    emit(type, { ...data }, at);
  });
  return {
    stats: () => ({ presses, glitches: deb.glitches }),
    close: () => deb.close(),
  };
}

import type { Button as ButtonConfig } from '../firmware-config/schema.ts';
import type { Emit } from './envelope.ts';
import { condition } from './filters.ts';
import type { Clock, DigitalInput } from './io.ts';

// A counter button or wearable fob. A press emits the button's `action`, a press held for
// `holdMs` its `holdAction`, so one fob does both: press = greetwatch.greet.v1, hold =
// greetwatch.staffpass.v1 by default (data {button, staff?}; staff comes from the config,
// a fob belongs to one staff member). Both are timed at the press edge. When the hold means
// nothing else (holdAction none, or the same as action) the press is emitted at once;
// otherwise a press is known only at release, or at holdMs for a hold.

const TYPES = { greet: 'greetwatch.greet.v1', staffpass: 'greetwatch.staffpass.v1' } as const;

export interface ButtonSignal {
  stats(): { presses: number; holds: number; glitches: number };
  close(): void;
}

export function button(opts: { button: ButtonConfig; input: DigitalInput; clock: Clock; emit: Emit }): ButtonSignal {
  const { button: cfg, emit, clock } = opts;
  const data = cfg.staff ? { button: cfg.id, staff: cfg.staff } : { button: cfg.id };
  const holdMeansMore = cfg.holdAction !== 'none' && cfg.holdAction !== cfg.action;
  let presses = 0;
  let holds = 0;
  let pressedAt: number | null = null;
  let holdTimer: ReturnType<typeof setTimeout> | undefined;

  const fire = (action: 'greet' | 'staffpass', at: number): void => {
    emit(TYPES[action], { ...data }, at);
  };
  const cond = condition(opts.input, cfg, clock, (value, at) => {
    if (value === 1) {
      if (!holdMeansMore) {
        presses++;
        fire(cfg.action, at);
        return;
      }
      pressedAt = at;
      holdTimer = setTimeout(() => {
        holdTimer = undefined;
        if (pressedAt === null || cfg.holdAction === 'none') return;
        holds++;
        fire(cfg.holdAction, pressedAt);
        pressedAt = null;
      }, Math.max(0, cfg.holdMs - (clock.now() - at)));
      return;
    }
    if (holdTimer !== undefined) clearTimeout(holdTimer);
    holdTimer = undefined;
    if (pressedAt !== null) {
      presses++;
      fire(cfg.action, pressedAt);
    }
    pressedAt = null;
  });
  return {
    stats: () => ({ presses, holds, glitches: cond.glitches }),
    close() {
      if (holdTimer !== undefined) clearTimeout(holdTimer);
      holdTimer = undefined;
      cond.close();
    },
  };
}

import type { IndicatorLevel } from '../contract/index.ts';
import type { Indicator } from './io.ts';

// What each `cmd indicate` level looks like on an LED and a buzzer, the same for every
// driver: off = dark and quiet; warn = the LED blinks; late = the LED stays lit and the
// buzzer gives three short beeps once, when the level turns late (a buzzer that kept on
// beeping would be switched off by staff within a day).

export const BLINK_MS = 500;
export const BEEP_MS = 150;
export const BEEPS = 3;

export interface Outputs {
  led?: (on: boolean) => void;
  buzzer?: (on: boolean) => void;
}

export function patternIndicator(out: Outputs): Indicator & { readonly level: IndicatorLevel } {
  let level: IndicatorLevel = 'off';
  let blink: ReturnType<typeof setInterval> | undefined;
  const beeps: Array<ReturnType<typeof setTimeout>> = [];
  let ledOn = false;
  const led = (on: boolean): void => {
    ledOn = on;
    out.led?.(on);
  };
  const quiet = (): void => {
    if (blink !== undefined) clearInterval(blink);
    blink = undefined;
    for (const t of beeps.splice(0)) clearTimeout(t);
    out.buzzer?.(false);
  };
  led(false);
  out.buzzer?.(false);
  return {
    get level() {
      return level;
    },
    set(next) {
      if (next === level) return;
      level = next;
      quiet();
      if (next === 'off') led(false);
      else if (next === 'warn') {
        led(true);
        blink = setInterval(() => led(!ledOn), BLINK_MS);
      } else {
        led(true);
        const buzzer = out.buzzer;
        if (buzzer) {
          for (let i = 0; i < BEEPS; i++) {
            beeps.push(setTimeout(() => buzzer(true), i * 2 * BEEP_MS));
            beeps.push(setTimeout(() => buzzer(false), i * 2 * BEEP_MS + BEEP_MS));
          }
        }
      }
    },
    close() {
      quiet();
      led(false);
    },
  };
}

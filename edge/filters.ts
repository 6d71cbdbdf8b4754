import type { Bit, Clock, DigitalInput } from './io.ts';

// ESPHome-style signal conditioning of one digital input, in this order (firmware-config
// schema, "Filters"): invert, debounce, delayed on / delayed off. The callback gets the
// time the raw input first left its old level, i.e. the physical edge (CONTRACT.md "Event
// envelope": `time` is the node's clock at the physical edge), not the time a filter settled.

export interface FilterConfig {
  invert: boolean;
  /** a new level counts once the input has held it this long (bursts of bounce collapse) */
  debounceMs: number;
  /** an active level counts only after it lasted this long (ESPHome delayed_on) */
  delayedOnMs: number;
  /** an idle level counts only after it lasted this long (ESPHome delayed_off) */
  delayedOffMs: number;
}

export interface Conditioned {
  /** the last accepted level (after every filter) */
  readonly value: Bit;
  /** bursts or delayed levels that fell back to the old level before they counted */
  readonly glitches: number;
  close(): void;
}

type Sink = (value: Bit, edgeMs: number) => void;

interface Stage {
  input: Sink;
  close(): void;
}

/**
 * Debounce: the level must be quiet for `ms` after its last change; the edge time is the
 * first change of the burst. A burst that settles on the old level is a glitch.
 */
function debounceStage(ms: number, initial: Bit, clock: Clock, next: Sink, glitch: () => void): Stage {
  let stable = initial;
  let raw = initial;
  let edgeAt: number | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settle = (): void => {
    timer = undefined;
    const at = edgeAt ?? clock.now();
    edgeAt = null;
    if (raw === stable) {
      glitch();
      return;
    }
    stable = raw;
    next(stable, at);
  };
  return {
    input(value, edgeMs) {
      if (value === raw) return;
      raw = value;
      edgeAt ??= edgeMs;
      if (ms <= 0) return settle();
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(settle, Math.max(0, ms - (clock.now() - edgeMs)));
    },
    close() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** Delayed on/off: a level counts once it has lasted its delay; the opposite level before then cancels it. */
function delayStage(onMs: number, offMs: number, initial: Bit, clock: Clock, next: Sink, glitch: () => void): Stage {
  let stable = initial;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cancel = (): boolean => {
    if (timer === undefined) return false;
    clearTimeout(timer);
    timer = undefined;
    return true;
  };
  return {
    input(value, edgeMs) {
      if (value === stable) {
        if (cancel()) glitch();
        return;
      }
      cancel();
      const wait = (value === 1 ? onMs : offMs) - (clock.now() - edgeMs);
      if (wait <= 0) {
        stable = value;
        next(value, edgeMs);
        return;
      }
      timer = setTimeout(() => {
        timer = undefined;
        stable = value;
        next(value, edgeMs);
      }, wait);
    },
    close: () => void cancel(),
  };
}

/** Watches `input` through the filters and calls `onChange` with each accepted level and its edge time. */
export function condition(
  input: DigitalInput,
  cfg: FilterConfig,
  clock: Clock,
  onChange: (value: Bit, edgeMs: number) => void,
): Conditioned {
  const flip = (v: Bit): Bit => (cfg.invert ? (v === 1 ? 0 : 1) : v);
  const initial = flip(input.read());
  let value = initial;
  let glitches = 0;
  const glitch = (): void => {
    glitches++;
  };
  const out: Sink = (v, at) => {
    value = v;
    onChange(v, at);
  };
  const delayed =
    cfg.delayedOnMs > 0 || cfg.delayedOffMs > 0 ? delayStage(cfg.delayedOnMs, cfg.delayedOffMs, initial, clock, out, glitch) : null;
  const debounced = debounceStage(cfg.debounceMs, initial, clock, delayed ? delayed.input : out, glitch);
  const onRaw = (v: Bit): void => debounced.input(flip(v), clock.now());
  input.watch(onRaw);
  return {
    get value() {
      return value;
    },
    get glitches() {
      return glitches;
    },
    close() {
      input.unwatch(onRaw);
      debounced.close();
      delayed?.close();
    },
  };
}

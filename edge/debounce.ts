import type { Bit, Clock, DigitalInput } from './io.ts';

// Debounces one digital input. A new level is accepted once the raw input has held it
// for `debounceMs`; the callback gets the time the input first left the old level, i.e.
// the physical edge (CONTRACT.md "Event envelope": `time` is the node's clock at the
// physical edge), not the time the debounce settled.

export interface Debounced {
  /** the last accepted (stable) level */
  readonly value: Bit;
  /** bursts that settled back on the old level (contact bounce, beam flicker) */
  readonly glitches: number;
  close(): void;
}

export function debounce(
  input: DigitalInput,
  debounceMs: number,
  clock: Clock,
  onChange: (value: Bit, edgeMs: number) => void,
): Debounced {
  let stable: Bit = input.read();
  let raw: Bit = stable;
  let edgeAt: number | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let glitches = 0;

  const settle = (): void => {
    timer = undefined;
    const at = edgeAt ?? clock.now();
    edgeAt = null;
    if (raw === stable) {
      glitches++;
      return;
    }
    stable = raw;
    onChange(stable, at);
  };

  const onRaw = (value: Bit): void => {
    if (value === raw) return;
    raw = value;
    if (edgeAt === null) edgeAt = clock.now();
    if (debounceMs <= 0) {
      settle();
      return;
    }
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(settle, debounceMs);
  };

  input.watch(onRaw);
  return {
    get value() {
      return stable;
    },
    get glitches() {
      return glitches;
    },
    close() {
      input.unwatch(onRaw);
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

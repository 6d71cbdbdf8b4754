import type { Logger } from 'pino';
import type { Sensor } from '../firmware-config/schema.ts';
import { condition } from './filters.ts';
import type { Emit } from './envelope.ts';
import type { Bit, Clock, DigitalInput } from './io.ts';

// A break-beam pair at the entrance: outer beam on the street side, inner beam on the
// store side, 1 = broken. The order the beams break gives the direction; the order they
// clear tells a person who went through from one who turned back. Emits
// greetwatch.entry.v1 {sensor, direction} (CONTRACT.md "Event envelope" table).
//
// A crossing: the first beam breaks (t0); the second must break within crossingMs of t0,
// else the crossing is `partial`. It completes when both beams are clear again: if the
// second beam cleared last the person went through (outer first = "in", inner first =
// "out"); if the first beam cleared last the person turned back (`turnedBack`). The event
// time is t0, when the person reached the entrance. Two people inside the pair at once
// count as one crossing: the pair cannot tell them apart (beams are ~15 cm apart).

export type BeamPairConfig = Extract<Sensor, { kind: 'beam-pair' }>;
type Beam = 'outer' | 'inner';

export type BeamPairStats = {
  in: number;
  out: number;
  /** only the first beam broke within crossingMs, or it cleared before the second broke */
  partial: number;
  /** both beams broke, but the person left on the side they came from */
  turnedBack: number;
  /** filter bursts that settled back on the old level (filters.ts) */
  glitches: number;
};

export interface BeamPair {
  stats(): BeamPairStats;
  close(): void;
}

export function beamPair(opts: {
  sensor: BeamPairConfig;
  outer: DigitalInput;
  inner: DigitalInput;
  clock: Clock;
  emit: Emit;
  log?: Logger;
}): BeamPair {
  const { sensor, clock, emit, log } = opts;
  const { crossingMs } = sensor;
  // the second beam's break reaches us this much after it happened (filters.ts)
  const filterLagMs = sensor.debounceMs + sensor.delayedOnMs;
  const stats = { in: 0, out: 0, partial: 0, turnedBack: 0 };

  const broken: Record<Beam, boolean> = { outer: false, inner: false };
  // idle: both clear; first: one beam broken, waiting for the other; both: the other broke
  // in time, waiting for both to clear; spoiled: aborted, waiting for both to clear.
  let phase: 'idle' | 'first' | 'both' | 'spoiled' = 'idle';
  let first: Beam = 'outer';
  let startedAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const clearTimer = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const bothClear = (): boolean => !broken.outer && !broken.inner;

  const abort = (why: 'partial' | 'turnedBack', next: 'idle' | 'spoiled'): void => {
    clearTimer();
    stats[why]++;
    log?.debug({ sensor: sensor.id, why, first }, 'beam crossing aborted');
    phase = next;
  };

  const onBeam = (beam: Beam, value: Bit, edgeMs: number): void => {
    broken[beam] = value === 1;
    switch (phase) {
      case 'idle':
        if (value === 1) {
          phase = 'first';
          first = beam;
          startedAt = edgeMs;
          const wait = Math.max(0, crossingMs + filterLagMs - (clock.now() - startedAt));
          timer = setTimeout(() => {
            timer = undefined;
            if (phase === 'first') abort('partial', bothClear() ? 'idle' : 'spoiled');
          }, wait);
        }
        return;
      case 'first':
        if (beam !== first && value === 1) {
          if (edgeMs - startedAt <= crossingMs) {
            clearTimer();
            phase = 'both';
          } else {
            abort('partial', 'spoiled');
          }
        } else if (beam === first && value === 0) {
          abort('partial', bothClear() ? 'idle' : 'spoiled');
        }
        return;
      case 'both':
        if (!bothClear()) return;
        phase = 'idle';
        if (beam === first) {
          abort('turnedBack', 'idle');
          return;
        }
        {
          const direction = first === 'outer' ? 'in' : 'out';
          stats[direction]++;
          emit('greetwatch.entry.v1', { sensor: sensor.id, direction }, startedAt);
        }
        return;
      case 'spoiled':
        if (bothClear()) phase = 'idle';
        return;
    }
  };

  const outerDeb = condition(opts.outer, sensor, clock, (v, at) => onBeam('outer', v, at));
  const innerDeb = condition(opts.inner, sensor, clock, (v, at) => onBeam('inner', v, at));
  broken.outer = outerDeb.value === 1;
  broken.inner = innerDeb.value === 1;
  if (!bothClear()) phase = 'spoiled'; // started with a beam broken: wait for a clean state

  return {
    stats: () => ({ ...stats, glitches: outerDeb.glitches + innerDeb.glitches }),
    close() {
      clearTimer();
      outerDeb.close();
      innerDeb.close();
    },
  };
}

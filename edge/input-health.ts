import type { Logger } from 'pino';
import type { Faults } from '../firmware-config/schema.ts';
import type { Emit } from './envelope.ts';
import type { Bit, Clock, DigitalInput, InputSpec } from './io.ts';

// Health of a node's raw inputs, raised as greetwatch.fault.v1 (CONTRACT.md event table):
// - chatter: more than `chatterPerS` raw edges within one second (a loose wire, a failing
//   receiver). The input is muted, so the signal logic sees no storm and no event is built
//   from it, until it has been calm for `calmS`; then `recovered`, and the signal logic is
//   handed the input's level at that moment.
// - stuck: an entrance input that has not changed for `stuckAfterS` while the door opened at
//   least `stuckDoorOpens` times (a beam pair without a door: while the other beam changed
//   that often). `recovered` follows its next change.
// Counting edges costs two numbers per input whatever the edge rate, so a 1 kHz chattering
// input cannot grow memory.

export interface HealthInput extends DigitalInput {
  readonly muted: boolean;
}

export interface InputHealth {
  /** wraps a driver input: the wrapper forwards changes unless the input is muted */
  gate(input: DigitalInput, spec: InputSpec): HealthInput;
  /** a reference event for the stuck check: the door opened */
  doorOpened(): void;
  /** per device: faults raised so far */
  stats(): Record<string, { chatter: number; stuck: number }>;
  close(): void;
}

interface Watched {
  spec: InputSpec;
  input: DigitalInput;
  lastChange: number;
  /** reference events since the last change */
  refs: number;
  stuck: boolean;
  /** partner beam of a pair, when the node has no door */
  partner?: Watched;
}

export function inputHealth(opts: { faults: Faults; clock: Clock; emit: Emit; hasDoor: boolean; log?: Logger }): InputHealth {
  const { faults, clock, emit, log } = opts;
  const calmMs = faults.calmS * 1000;
  const stuckMs = faults.stuckAfterS * 1000;
  const watched: Watched[] = [];
  const counts = new Map<string, { chatter: number; stuck: number }>();
  const closers: Array<() => void> = [];
  const count = (device: string, kind: 'chatter' | 'stuck'): void => {
    const c = counts.get(device) ?? { chatter: 0, stuck: 0 };
    c[kind]++;
    counts.set(device, c);
  };
  const where = (s: InputSpec): string => `${s.role}${s.pin === undefined ? '' : ` pin ${s.pin}`}`;

  const checkStuck = (w: Watched): void => {
    if (w.stuck || w.refs < faults.stuckDoorOpens) return;
    const now = clock.now();
    if (now - w.lastChange < stuckMs) return;
    w.stuck = true;
    count(w.spec.device, 'stuck');
    const level = w.input.read() === 1 ? 'active' : 'idle';
    const detail = `${where(w.spec)} ${level} for ${Math.round((now - w.lastChange) / 1000)} s while the ${w.partner ? 'other beam changed' : 'door opened'} ${w.refs} times`;
    log?.warn({ device: w.spec.device, detail }, 'input stuck');
    emit('greetwatch.fault.v1', { sensor: w.spec.device, kind: 'stuck', detail }, now);
  };

  const changed = (w: Watched, now: number): void => {
    w.lastChange = now;
    w.refs = 0;
    if (w.stuck) {
      w.stuck = false;
      emit('greetwatch.fault.v1', { sensor: w.spec.device, kind: 'recovered', detail: `${where(w.spec)} changes again` }, now);
    }
  };

  return {
    gate(input, spec) {
      const watchers = new Set<(v: Bit) => void>();
      let muted = false;
      let windowStart = clock.now();
      let edges = 0;
      let lastBusy = 0;
      let calmTimer: ReturnType<typeof setTimeout> | undefined;
      let forwarded: Bit = input.read();
      const w: Watched = { spec, input, lastChange: clock.now(), refs: 0, stuck: false };
      const stuckChecked = spec.role === 'beam-outer' || spec.role === 'beam-inner' || spec.role === 'presence';
      if (stuckChecked) {
        if (!opts.hasDoor && (spec.role === 'beam-outer' || spec.role === 'beam-inner')) {
          // pair the two beams of one sensor: each is the other's reference
          const other = watched.find((o) => o.spec.device === spec.device && o.spec.role !== spec.role);
          if (other) {
            w.partner = other;
            other.partner = w;
          }
        }
        watched.push(w);
      }

      const forward = (v: Bit): void => {
        if (v === forwarded) return;
        forwarded = v;
        for (const cb of [...watchers]) cb(v);
      };
      const armCalm = (): void => {
        if (calmTimer !== undefined) clearTimeout(calmTimer);
        calmTimer = setTimeout(onCalmCheck, Math.max(0, lastBusy + calmMs - clock.now()));
      };
      const onCalmCheck = (): void => {
        calmTimer = undefined;
        if (clock.now() - lastBusy < calmMs) return armCalm();
        muted = false;
        const now = clock.now();
        log?.info({ device: spec.device, key: input.key }, 'input calm again; unmuted');
        emit('greetwatch.fault.v1', { sensor: spec.device, kind: 'recovered', detail: `${where(spec)} calm for ${faults.calmS} s` }, now);
        forward(input.read());
      };

      const onRaw = (v: Bit): void => {
        const now = clock.now();
        if (now - windowStart >= 1000) {
          windowStart = now;
          edges = 0;
        }
        edges++;
        if (edges > faults.chatterPerS) {
          const firstInWindow = lastBusy < windowStart;
          lastBusy = now;
          if (!muted) {
            muted = true;
            count(spec.device, 'chatter');
            const detail = `${where(spec)}: more than ${faults.chatterPerS} changes in 1 s; muted until calm for ${faults.calmS} s`;
            log?.warn({ device: spec.device, key: input.key }, 'input chatters; muted');
            emit('greetwatch.fault.v1', { sensor: spec.device, kind: 'chatter', detail }, now);
            armCalm();
          } else if (firstInWindow) {
            armCalm(); // once per busy second, not per edge
          }
        }
        if (muted) return;
        if (stuckChecked) {
          changed(w, now);
          if (w.partner && v === 1) {
            w.partner.refs++;
            checkStuck(w.partner);
          }
        }
        forward(v);
      };
      input.watch(onRaw);
      closers.push(() => {
        input.unwatch(onRaw);
        if (calmTimer !== undefined) clearTimeout(calmTimer);
        calmTimer = undefined;
      });

      return {
        key: input.key,
        get muted() {
          return muted;
        },
        read: () => forwarded,
        watch: (cb) => void watchers.add(cb),
        unwatch: (cb) => void watchers.delete(cb),
        close() {
          watchers.clear();
          input.close();
        },
      };
    },
    doorOpened() {
      for (const w of watched) {
        if (w.partner) continue;
        w.refs++;
        checkStuck(w);
      }
    },
    stats: () => Object.fromEntries(counts),
    close() {
      for (const c of closers.splice(0)) c();
    },
  };
}

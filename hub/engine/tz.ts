// Store-local calendar arithmetic (CONTRACT.md "Metrics": store-local time, weeks start
// Monday 00:00), all of it from one function: the zone's UTC offset at an instant. The hub
// reads that from the system's tz database (contract/time-zones.ts, through storeTimeZone);
// the dashboard, in a browser, and any zone without a file there ask Intl.
import type { ZoneRules } from '../../contract/time-zones.ts';

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Monday … 6 = Sunday */
  weekday: number;
}

const QUARTER = 15 * 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

export class TimeZone {
  readonly name: string;
  readonly #rules: ZoneRules;
  readonly #offsets = new Map<number, number>();
  /** Throws a RangeError when `name` is not a zone Intl knows and no `rules` are given. */
  constructor(name: string, rules?: ZoneRules) {
    this.name = name;
    this.#rules = rules ?? intlRules(name);
  }

  parts(ms: number): LocalParts {
    // whole seconds, as a clock shows them (offsets are whole seconds too)
    const d = new Date(Math.floor((ms + this.#rules.offsetMs(ms)) / 1000) * 1000);
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      weekday: (d.getUTCDay() + 6) % 7,
    };
  }

  /**
   * Store-local wall time of `ms`, as a number of ms since 1970-01-01 local. UTC offsets
   * only change on quarter hours, so the offset is cached per UTC quarter hour: reports
   * and opening hours call this for every party, many times a second on the live view.
   */
  localMs(ms: number): number {
    const q = Math.floor(ms / QUARTER);
    let off = this.#offsets.get(q);
    if (off === undefined) {
      if (this.#offsets.size > 50_000) this.#offsets.clear();
      off = this.offsetMs(q * QUARTER);
      this.#offsets.set(q, off);
    }
    return ms + off;
  }

  /** store-local hour (0–23) and weekday (0 = Monday) of `ms` */
  hourWeekday(ms: number): { hour: number; weekday: number } {
    const local = this.localMs(ms);
    const day = Math.floor(local / DAY);
    // 1970-01-01 was a Thursday (3 when Monday is 0)
    return { hour: Math.floor((local - day * DAY) / HOUR), weekday: (((day + 3) % 7) + 7) % 7 };
  }

  /** where the zone's rules come from (ZoneRules.source) */
  get source(): string {
    return this.#rules.source ?? 'given rules';
  }

  /** UTC offset (local − UTC) in ms at instant `ms`. */
  offsetMs(ms: number): number {
    return this.#rules.offsetMs(ms);
  }

  /** The instant of a store-local wall time (first match on DST overlaps). */
  fromLocal(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, millis = 0): number {
    const guess = Date.UTC(year, month - 1, day, hour, minute, second, millis);
    let t = guess - this.offsetMs(guess);
    // second pass settles instants near a DST change
    t = guess - this.offsetMs(t);
    return t;
  }

  /** Start of the store-local day containing `ms`. */
  startOfDay(ms: number): number {
    const p = this.parts(ms);
    return this.fromLocal(p.year, p.month, p.day);
  }

  /** Start of the store-local week (Monday 00:00) containing `ms`. */
  startOfWeek(ms: number): number {
    const p = this.parts(ms);
    const d = new Date(Date.UTC(p.year, p.month - 1, p.day - p.weekday));
    return this.fromLocal(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
  }
}

/** A zone's offsets as Intl (ICU's copy of the tz database) gives them; throws for unknown zones. */
export function intlRules(name: string): ZoneRules {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: name,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  // the browser has no `process`; node names the release of ICU's tz data
  const release = (globalThis as { process?: { versions?: { tz?: string } } }).process?.versions?.tz;
  return {
    source: release ? `Intl (tz ${release})` : 'Intl',
    offsetMs(ms: number): number {
      const p: Record<string, string> = {};
      for (const { type, value } of fmt.formatToParts(ms)) p[type] = value;
      const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour) % 24, Number(p.minute), Number(p.second));
      return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
    },
  };
}

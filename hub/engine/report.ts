import { timeMs, type Bucket, type Report, type Visit } from '../../contract/index.ts';
import { WEEKDAYS } from '../../firmware-config/schema.ts';
import type { TimeZone } from './tz.ts';

// CONTRACT.md "Metrics over a period [from, to)": a party belongs to the period of
// its first entry; byHour/byWeekday use store-local time, Monday first.

interface Acc {
  visits: number;
  met: number;
  late: number;
  walkouts: number;
  shortWalkouts: number;
  missed: number;
  ttgSum: number;
  greeted: number;
}

const emptyAcc = (): Acc => ({ visits: 0, met: 0, late: 0, walkouts: 0, shortWalkouts: 0, missed: 0, ttgSum: 0, greeted: 0 });

/** seconds at millisecond precision: the data's own precision */
const sec = (s: number) => Math.round(s * 1000) / 1000;

function add(a: Acc, outcome: Visit['outcome'], ttgS: number | undefined): void {
  switch (outcome) {
    case 'met':
      a.met++;
      break;
    case 'late':
      a.late++;
      break;
    case 'walkout':
      a.walkouts++;
      break;
    case 'shortWalkout':
      a.shortWalkouts++;
      break;
    case 'missed':
      a.missed++;
      break;
    case 'pending':
      return;
  }
  a.visits++;
  if ((outcome === 'met' || outcome === 'late') && ttgS !== undefined) {
    a.ttgSum += ttgS;
    a.greeted++;
  }
}

/** a report bucket from its counts (CONTRACT.md: serviceLevel = met / (visits − shortWalkouts)) and its mean TTG */
export function bucketOf(c: Pick<Bucket, 'visits' | 'met' | 'late' | 'walkouts' | 'shortWalkouts' | 'missed'>, asgS: number | null): Bucket {
  const denom = c.visits - c.shortWalkouts;
  return {
    visits: c.visits,
    met: c.met,
    late: c.late,
    walkouts: c.walkouts,
    shortWalkouts: c.shortWalkouts,
    missed: c.missed,
    serviceLevel: denom > 0 ? c.met / denom : null,
    asgS,
  };
}

const bucket = (a: Acc): Bucket => bucketOf(a, a.greeted > 0 ? sec(a.ttgSum / a.greeted) : null);

/** nearest-rank percentile of an ascending array */
export function nearestRank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export interface ReportInput {
  store: string;
  fromMs: number;
  toMs: number;
  tz: TimeZone;
  /** closed and pending visits; those outside [from, to) are ignored */
  visits: Iterable<Visit>;
  /** times of orphan greets (counted when in [from, to)) */
  orphanTimes?: Iterable<number>;
}

export function buildReport(input: ReportInput): Report {
  const acc = new ReportAccumulator(input.store, input.fromMs, input.toMs, input.tz);
  for (const v of input.visits) acc.add(v);
  for (const t of input.orphanTimes ?? []) acc.addOrphan(t);
  return acc.report();
}

interface StaffAcc {
  greets: number;
  met: number;
  ttgSum: number;
}

/**
 * The report of one period, kept as visits come (the live hub's "today": final visits are
 * added once, the provisional ones merged in at each read without being kept). The first
 * record of a party counts; later ones are ignored.
 */
export class ReportAccumulator {
  readonly #store: string;
  readonly #fromMs: number;
  readonly #toMs: number;
  readonly #tz: TimeZone;
  #total = emptyAcc();
  #hours = Array.from({ length: 24 }, emptyAcc);
  #days = Array.from({ length: 7 }, emptyAcc);
  #staff = new Map<string, StaffAcc>();
  /** TTGs, sorted ascending when #sorted (sorted at the next read: TimSort makes a few new ones cheap) */
  #ttgs: number[] = [];
  #sorted = true;
  #pending = 0;
  #orphans = 0;
  #seen = new Set<string>();

  constructor(store: string, fromMs: number, toMs: number, tz: TimeZone) {
    this.#store = store;
    this.#fromMs = fromMs;
    this.#toMs = toMs;
    this.#tz = tz;
  }

  get fromMs(): number {
    return this.#fromMs;
  }

  add(v: Visit): void {
    this.addRecord(v.party, v.outcome, timeMs(v.entryTime), v.ttgS, v.staff);
  }

  /** a visit as numbers (entry in ms, TTG in s): the live hub's provisional records, without ISO strings */
  addRecord(party: string, outcome: Visit['outcome'], entryMs: number, ttgS: number | undefined, staff: string | undefined): void {
    if (!(entryMs >= this.#fromMs && entryMs < this.#toMs) || this.#seen.has(party)) return;
    this.#seen.add(party);
    if (outcome === 'pending') {
      this.#pending++;
      return;
    }
    const local = this.#tz.hourWeekday(entryMs);
    add(this.#total, outcome, ttgS);
    add(this.#hours[local.hour]!, outcome, ttgS);
    add(this.#days[local.weekday]!, outcome, ttgS);
    if ((outcome === 'met' || outcome === 'late') && ttgS !== undefined) {
      this.#ttgs.push(ttgS);
      this.#sorted = false;
      if (staff !== undefined) {
        const s = this.#staff.get(staff) ?? { greets: 0, met: 0, ttgSum: 0 };
        s.greets++;
        if (outcome === 'met') s.met++;
        s.ttgSum += ttgS;
        this.#staff.set(staff, s);
      }
    }
  }

  addOrphan(t: number): void {
    if (t >= this.#fromMs && t < this.#toMs) this.#orphans++;
  }

  /**
   * The report, with what `extra` adds counted as if added (this accumulator is not changed):
   * `extra` gets a copy to add visits, records and orphan times to.
   */
  report(extra?: (copy: ReportAccumulator) => void): Report {
    if (!extra) return this.#build();
    const c = this.#copy();
    extra(c);
    return c.#build();
  }

  /** a copy for one read: its TTG list is merged apart, the rest is small */
  #copy(): ReportAccumulator {
    const c = new ReportAccumulator(this.#store, this.#fromMs, this.#toMs, this.#tz);
    c.#total = { ...this.#total };
    c.#hours = this.#hours.map((a) => ({ ...a }));
    c.#days = this.#days.map((a) => ({ ...a }));
    c.#staff = new Map([...this.#staff].map(([k, v]) => [k, { ...v }]));
    c.#ttgs = [];
    c.#base = this;
    c.#pending = this.#pending;
    c.#orphans = this.#orphans;
    c.#seen = new Overlay(this.#seen);
    return c;
  }
  /** for a copy: the accumulator whose TTGs it adds to */
  #base: ReportAccumulator | undefined;

  #sortTtgs(): void {
    if (this.#sorted) return;
    this.#ttgs.sort((a, b) => a - b);
    this.#sorted = true;
  }

  #build(): Report {
    this.#sortTtgs();
    if (this.#base) this.#base.#sortTtgs();
    const b = bucket(this.#total);
    const byStaff: Report['byStaff'] = {};
    for (const id of [...this.#staff.keys()].sort()) {
      const s = this.#staff.get(id)!;
      byStaff[id] = { greets: s.greets, met: s.met, asgS: s.greets > 0 ? sec(s.ttgSum / s.greets) : null };
    }
    const base = this.#base ? this.#base.#ttgs : [];
    const mine = this.#ttgs;
    const n = base.length + mine.length;
    const rank = (p: number) => (n === 0 ? null : kthOfTwo(base, mine, Math.max(1, Math.ceil((p / 100) * n)) - 1));
    const p50 = rank(50);
    const p90 = rank(90);
    const max = n === 0 ? null : Math.max(base.at(-1) ?? -Infinity, mine.at(-1) ?? -Infinity);
    return {
      store: this.#store,
      from: new Date(this.#fromMs).toISOString(),
      to: new Date(this.#toMs).toISOString(),
      visits: b.visits,
      met: b.met,
      late: b.late,
      walkouts: b.walkouts,
      shortWalkouts: b.shortWalkouts,
      missed: b.missed,
      pending: this.#pending,
      serviceLevel: b.serviceLevel,
      serviceLevelStrict: b.visits > 0 ? b.met / b.visits : null,
      asgS: b.asgS,
      p50S: p50 === null ? null : sec(p50),
      p90S: p90 === null ? null : sec(p90),
      maxS: max === null ? null : sec(max),
      byHour: this.#hours.map((a, hour) => ({ hour, ...bucket(a) })),
      byWeekday: this.#days.map((a, i) => ({ weekday: WEEKDAYS[i]!, ...bucket(a) })),
      byStaff,
      orphanGreets: this.#orphans,
    };
  }
}

/** a set that reads through to another and keeps its own additions apart */
class Overlay extends Set<string> {
  readonly #under: ReadonlySet<string>;
  constructor(under: ReadonlySet<string>) {
    super();
    this.#under = under;
  }
  override has(x: string): boolean {
    return super.has(x) || this.#under.has(x);
  }
}

/** the k-th smallest (0-based) of two ascending arrays, in O(log n) steps */
function kthOfTwo(a: readonly number[], b: readonly number[], k: number): number {
  const m = k + 1; // how many smallest to take: i from a, m − i from b
  let lo = Math.max(0, m - b.length);
  let hi = Math.min(m, a.length);
  while (lo < hi) {
    const i = (lo + hi) >> 1;
    if (a[i]! < b[m - i - 1]!) lo = i + 1; // a's next is smaller than b's last taken: take more from a
    else hi = i;
  }
  return Math.max(lo > 0 ? a[lo - 1]! : -Infinity, m - lo > 0 ? b[m - lo - 1]! : -Infinity);
}

import type { GwEvent } from '../../contract/index.ts';
import { parseSource } from '../../contract/index.ts';
import type { OpeningHours, Rules } from '../../firmware-config/schema.ts';
import { ClockSync } from './clock-sync.ts';
import { VisitMachine, type ClosedVisit, type MachineInputBody, type Party } from './machine.ts';
import { openingHoursCheck } from './opening-hours.ts';
import { TimeZone } from './tz.ts';

// The engine pipeline, still pure and synchronous (issue 3 §6): de-duplication on
// (source, id), node clock correction, a reorder buffer of reorderS, and two views
// of the visit machine:
//  - committed: fed only events older than (hub time − reorderS), in corrected-time
//    order, so its results do not depend on arrival order within reorderS
//    (CONTRACT.md `reorderS`); its closed visits are final.
//  - live: a clone of committed plus the buffered events, rebuilt on demand; it may
//    correct itself when a late event arrives.

export interface EngineOptions {
  store: string;
  rules: Rules;
  timezone?: string;
  openingHours?: OpeningHours | undefined;
  /** wearable fob → staff member, for greets whose event carries no `staff` */
  buttonStaff?: ReadonlyMap<string, string>;
  /** how long (source, id) keys are remembered for de-duplication */
  dedupeWindowMs?: number;
  /** window of the clock offset estimator */
  clockWindowMs?: number;
}

export type IngestStatus = 'accepted' | 'duplicate';

interface Buffered {
  /** corrected (hub) time, fixed at arrival */
  t: number;
  rank: number;
  key: string;
  input: MachineInputBody;
}

export interface NodeCounters {
  events: number;
  duplicates: number;
  /** events that arrived later than reorderS and were applied as best effort */
  tooLate: number;
  lastRecv: number | null;
  /** per bootid: highest seq and number of distinct seqs, to count gaps */
  boots: Map<string, { max: number; seen: number }>;
}

export interface OrphanGreet {
  t: number;
  staff?: string;
}

export interface FinalOutput {
  visits: ClosedVisit[];
  orphans: OrphanGreet[];
}

export interface LiveView {
  now: number;
  /** parties still waiting (ungreeted), oldest first */
  waiting: Party[];
  /** greeted parties that may still grow (their outcome is known) */
  greeted: Party[];
  /** visits closed in the live view but not final yet */
  provisional: ClosedVisit[];
  provisionalOrphans: OrphanGreet[];
}

// same-time order: a staffpass covers a crossing at its own instant; a greet at the
// instant of an entry or steps-line presence is read in the party's favour.
const RANK: Record<string, number> = {
  'greetwatch.staffpass.v1': 0,
  'greetwatch.entry.v1': 1,
  'greetwatch.greet.v1': 2,
  'greetwatch.presence.v1': 3,
};

export class GreetEngine {
  readonly store: string;
  readonly rules: Rules;
  readonly tz: TimeZone;
  readonly #buttonStaff: ReadonlyMap<string, string>;
  readonly #clock: ClockSync;
  readonly #dedupeWindowMs: number;
  readonly #seen = new Map<string, number>();
  /** events not yet committed, in (corrected time, rank, key) order */
  #pending: Buffered[] = [];
  readonly #committed: VisitMachine;
  readonly #nodes = new Map<string, NodeCounters>();
  /** node → clock key of its latest boot, for /live */
  readonly #latestClock = new Map<string, string>();
  #final: FinalOutput = { visits: [], orphans: [] };
  #hubNow = -Infinity;
  /** latest corrected time of any event, for finish() */
  #lastT = -Infinity;

  constructor(opts: EngineOptions) {
    this.store = opts.store;
    this.rules = opts.rules;
    this.tz = new TimeZone(opts.timezone ?? 'UTC');
    this.#buttonStaff = opts.buttonStaff ?? new Map();
    this.#clock = new ClockSync(opts.clockWindowMs);
    this.#dedupeWindowMs = opts.dedupeWindowMs ?? 24 * 3_600_000;
    this.#committed = new VisitMachine({ rules: opts.rules, isOpen: openingHoursCheck(opts.openingHours, this.tz) });
  }

  get bufferedCount(): number {
    return this.#pending.length;
  }
  get committedMachine(): Readonly<VisitMachine> {
    return this.#committed;
  }

  /** a node's counters, read only: a node never heard from gets zeros and no entry */
  nodeCounters(node: string): Readonly<NodeCounters> {
    return this.#nodes.get(node) ?? { events: 0, duplicates: 0, tooLate: 0, lastRecv: null, boots: new Map() };
  }
  #countersFor(node: string): NodeCounters {
    let c = this.#nodes.get(node);
    if (!c) {
      c = { events: 0, duplicates: 0, tooLate: 0, lastRecv: null, boots: new Map() };
      this.#nodes.set(node, c);
    }
    return c;
  }
  nodes(): IterableIterator<[string, NodeCounters]> {
    return this.#nodes.entries();
  }

  /** estimated hub − node clock offset of the node's latest boot, ms */
  clockOffset(node: string): number | undefined {
    const key = this.#latestClock.get(node);
    return key === undefined ? undefined : this.#clock.offset(key);
  }

  /** Takes one validated event received at hub time `recvMs`. */
  ingest(ev: GwEvent, recvMs: number): IngestStatus {
    const node = parseSource(ev.source)?.node ?? ev.source;
    const nodeMs = Date.parse(ev.time);
    const counters = this.#countersFor(node);
    // every copy is a clock sample: the minimum is the same whatever copy came first.
    // `senttime` (our extension) is when the node sent it: a crossing is sent when the
    // person has passed both beams, a flush long after; without it `time` stands in.
    const clock = `${node}/${ev.bootid}`;
    const sentMs = ev.senttime !== undefined ? Date.parse(ev.senttime) : nodeMs;
    this.#clock.observe(clock, Number.isFinite(sentMs) ? sentMs : nodeMs, recvMs);
    this.#latestClock.set(node, clock);
    this.#setNow(recvMs);
    const key = `${ev.source}\u0000${ev.id}`;
    if (this.#seen.has(key)) {
      counters.duplicates++;
      return 'duplicate';
    }
    this.#seen.set(key, recvMs);
    this.#pruneSeen();
    counters.events++;
    counters.lastRecv = counters.lastRecv === null ? recvMs : Math.max(counters.lastRecv, recvMs);
    const boot = counters.boots.get(ev.bootid) ?? { max: 0, seen: 0 };
    boot.max = Math.max(boot.max, ev.seq);
    boot.seen++;
    counters.boots.set(ev.bootid, boot);

    // the offset as it stands when the event arrives: it depends only on what arrived
    // before (and with) it, so live and replay, whatever their ticks, correct alike
    const t = nodeMs + (this.#clock.offset(clock) ?? 0);
    this.#lastT = Math.max(this.#lastT, t);
    const input = this.#toInput(ev, `${node}/${ev.id}`);
    if (!input) return 'accepted';
    const b: Buffered = { t, rank: RANK[ev.type] ?? 9, key: `${node}/${ev.id}`, input };
    if (b.t < this.#committed.now) {
      // later than reorderS: the committed view has moved past it. Applied now, at
      // its own time, rather than dropped (nothing seen is lost); counted per node.
      counters.tooLate++;
      this.#committed.apply({ ...input, t: b.t });
      this.#collect();
      return 'accepted';
    }
    insertSorted(this.#pending, b);
    return 'accepted';
  }

  /** Hub time passes: commits every buffered event older than now − reorderS. */
  advance(nowMs: number): void {
    this.#setNow(nowMs);
    const frontier = this.#hubNow - this.rules.reorderS * 1000;
    this.#commitBefore(frontier);
    this.#committed.advanceTo(frontier);
    this.#collect();
  }

  /**
   * End of a replay: commit everything and move time to the last event (CONTRACT.md
   * "Replay"). The hub's clock then stands at the last event's receive time (recvtime),
   * which is where a live hub's view stood when that event arrived; an event stamped
   * later than that (no recvtime) moves it further. Nothing more will come, so a
   * deadline at that very instant has passed too.
   */
  finish(): void {
    this.#commitBefore(Infinity);
    const end = Math.max(this.#lastT, this.#hubNow);
    if (Number.isFinite(end)) this.#committed.advanceTo(end, true);
    this.#collect();
  }

  /** Final visits and orphan greets since the last call. */
  drainFinal(): FinalOutput {
    const out = this.#final;
    this.#final = { visits: [], orphans: [] };
    return out;
  }

  /** The provisional view at hub time `nowMs`: committed state plus buffered events. */
  live(nowMs = this.#hubNow): LiveView {
    const m = this.#committed.clone();
    for (const b of this.#pending) m.apply({ ...b.input, t: b.t });
    m.advanceTo(nowMs);
    const provisional: ClosedVisit[] = [];
    const provisionalOrphans: OrphanGreet[] = [];
    for (const tr of m.drain()) {
      if (tr.kind === 'closed') provisional.push(tr.visit);
      else if (tr.kind === 'orphan') provisionalOrphans.push(tr.staff === undefined ? { t: tr.t } : { t: tr.t, staff: tr.staff });
    }
    const waiting: Party[] = [];
    const greeted: Party[] = [];
    for (const p of m.parties()) (p.greet === undefined ? waiting : greeted).push({ ...p });
    return { now: nowMs, waiting, greeted, provisional, provisionalOrphans };
  }

  #setNow(ms: number): void {
    if (ms > this.#hubNow) this.#hubNow = ms;
  }

  #toInput(ev: GwEvent, key: string): MachineInputBody | null {
    switch (ev.type) {
      case 'greetwatch.entry.v1':
        return { kind: 'entry', key, direction: ev.data.direction };
      case 'greetwatch.greet.v1': {
        const staff = ev.data.staff ?? this.#buttonStaff.get(ev.data.button);
        return staff === undefined ? { kind: 'greet', key } : { kind: 'greet', key, staff };
      }
      case 'greetwatch.staffpass.v1':
        return { kind: 'staffpass', key };
      case 'greetwatch.presence.v1':
        return { kind: 'presence', key, zone: ev.data.zone, on: ev.data.state === 'on' };
      default:
        return null;
    }
  }

  #commitBefore(frontier: number): void {
    let n = 0;
    for (const b of this.#pending) {
      if (!(b.t < frontier)) break;
      this.#committed.apply({ ...b.input, t: b.t });
      n++;
    }
    if (n > 0) this.#pending.splice(0, n);
  }

  #collect(): void {
    for (const tr of this.#committed.drain()) {
      if (tr.kind === 'closed') this.#final.visits.push(tr.visit);
      else if (tr.kind === 'orphan') this.#final.orphans.push(tr.staff === undefined ? { t: tr.t } : { t: tr.t, staff: tr.staff });
    }
  }

  #pruneSeen(): void {
    if (this.#seen.size % 4096 !== 0) return;
    const cutoff = this.#hubNow - this.#dedupeWindowMs;
    for (const [k, t] of this.#seen) {
      if (t >= cutoff) break;
      this.#seen.delete(k);
    }
  }
}

function cmpTie(a: Buffered, b: Buffered): number {
  return a.rank - b.rank || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** Inserts by (t, rank, key); arrivals are nearly in order, so scan from the end. */
function insertSorted(q: Buffered[], b: Buffered): void {
  let i = q.length;
  while (i > 0) {
    const prev = q[i - 1]!;
    if (prev.t < b.t || (prev.t === b.t && cmpTie(prev, b) <= 0)) break;
    i--;
  }
  q.splice(i, 0, b);
}

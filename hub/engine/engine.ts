import type { GwEvent } from '../../contract/index.ts';
import { parseSource, timeMs } from '../../contract/index.ts';
import type { OpeningHours, Rules } from '../../firmware-config/schema.ts';
import { ClockSync, type BootClock } from './clock-sync.ts';
import { VisitMachine, type ClosedVisit, type Ending, type MachineInput, type Party } from './machine.ts';
import { openingHoursCheck } from './opening-hours.ts';
import { SeenIds } from './seen-ids.ts';
import type { TimeZone } from './tz.ts';
import { storeTimeZone } from './store-zone.ts';

// The engine pipeline, pure and synchronous: de-duplication on (source, id), node
// clock correction, a reorder buffer of reorderS, and two views of the visit machine:
//  - committed: fed only events older than (hub time − reorderS), in corrected-time
//    order, so its results do not depend on arrival order within reorderS
//    (CONTRACT.md `reorderS`); its closed visits are final.
//  - live: the committed state plus the buffered events (README "Live view"). It is kept
//    incrementally: an event in order is applied to it once; one that sorts before what
//    it has applied rewinds it to the nearest checkpoint before that event and replays
//    from there. Time between events is looked ahead (VisitMachine.peekDue), never
//    applied, so a view costs what is new plus the open parties, not the buffer.
//
// Hub time moves with every event received (ingest) as well as with advance(): an event
// is "too late" when it is older than its own receive time − reorderS, so results do not
// depend on how often the hub ticks, and replaying a trace finds what the live hub did.

export interface EngineOptions {
  store: string;
  rules: Rules;
  timezone?: string;
  openingHours?: OpeningHours | undefined;
  /** wearable fob → staff member, for greets whose event carries no `staff` */
  buttonStaff?: ReadonlyMap<string, string>;
  /**
   * how long (source, id) keys are remembered for de-duplication; default 2 × maxSkewS: an
   * event is accepted only within maxSkewS of the hub's clock, so a copy arriving later than
   * that after the first would be refused as a time error anyway
   */
  dedupeWindowMs?: number;
  /** window of the clock offset estimator */
  clockWindowMs?: number;
  /** the live machine keeps a checkpoint every this many buffered events [256], or a quarter of its state's size if more */
  liveCheckpointEvery?: number;
}

export type IngestStatus = 'accepted' | 'duplicate';

/** A buffered event: the machine input at its corrected (hub) time, fixed at arrival, and its same-time rank. */
type Buffered = MachineInput & { rank: number };

/** the live machine's state at one position of the buffer, to rewind to */
interface Checkpoint {
  pos: number;
  m: VisitMachine;
}

/** a transition of the live machine, with the buffer position whose event produced it */
interface Logged {
  pos: number;
  tr: Ending;
}

interface SourceInfo {
  /** the CloudEvents source */
  source: string;
  node: string;
  /**
   * what its events' buffer keys and party ids start with: the node id and `/` for a source of
   * this engine's store, else the whole source and a NUL. One string per source, not per event.
   */
  keyPrefix: string;
  counters: NodeCounters;
  /** the boot of the source's last event, its counts (in counters.boots) and its clock */
  bootid: string | undefined;
  boot: { max: number; seen: number } | undefined;
  clock: BootClock | undefined;
  /** de-duplication: the ids of the last dedupeWindowMs of events, with their receive minutes */
  seen: SeenIds;
}

const EMPTY_FINAL: FinalOutput = Object.freeze({ visits: [], orphans: [] });

/** boots kept per node, for gap counts and clock estimates; older ones are folded into a sum */
const MAX_BOOTS = 16;
/** sources compared before the lookup by key: about a store's nodes */
const RECENT_SOURCES = 8;
/** live machine checkpoints kept: recent ones close together, older ones thinned out */
const MAX_CHECKPOINTS = 12;

export interface NodeCounters {
  events: number;
  duplicates: number;
  /** events that arrived later than reorderS and were applied as best effort */
  tooLate: number;
  lastRecv: number | null;
  /** per bootid, the latest MAX_BOOTS: highest seq and number of distinct seqs, to count gaps */
  boots: Map<string, { max: number; seen: number }>;
  /** gaps of the boots no longer kept */
  lostRetired: number;
}

export interface OrphanGreet {
  t: number;
  staff?: string;
}

export interface FinalOutput {
  readonly visits: readonly ClosedVisit[];
  readonly orphans: readonly OrphanGreet[];
}

export interface LiveView {
  now: number;
  /** parties still waiting (ungreeted), oldest first (gathered when first read) */
  readonly waiting: readonly Readonly<Party>[];
  /** greeted parties that may still grow (their outcome is known; gathered when first read) */
  readonly greeted: readonly Readonly<Party>[];
  /** each waiting party, oldest first, without gathering them into an array */
  eachWaiting(fn: (p: Readonly<Party>) => void): void;
  /** an open party (waiting or greeted) by id */
  open(party: string): Readonly<Party> | undefined;
  /** visits closed in the live view but not final yet (gathered when read: up to reorderS of them) */
  provisional: ClosedVisit[];
  /** a party the live view has closed, final or not: the latest closures first, so a recent one is found at once */
  closed(party: string): ClosedVisit | undefined;
  provisionalOrphans: OrphanGreet[];
}

// same-time order: a staffpass covers a crossing at its own instant; a greet at the
// instant of an entry or steps-line presence is read in the party's favour.
const RANK = { staffpass: 0, entry: 1, greet: 2, presence: 3 } as const;

export class GreetEngine {
  readonly store: string;
  readonly rules: Rules;
  readonly tz: TimeZone;
  readonly #buttonStaff: ReadonlyMap<string, string>;
  readonly #clock: ClockSync;
  readonly #dedupeWindowMs: number;
  /** de-duplication entries held, over all sources (each source keeps its own: id → receive minute) */
  #seenCount = 0;
  #seenSincePrune = 0;
  /** events not yet committed, in (corrected time, rank, key) order, from #head on */
  #pend: Buffered[] = [];
  /** buffered events that arrived out of order, not yet sorted in (#mergeInbox) */
  #inbox: Buffered[] = [];
  #inboxMin = Infinity;
  #head = 0;
  /** positions dropped off the front of #pend: the absolute position of #pend[i] is #dropped + i */
  #dropped = 0;
  readonly #committed: VisitMachine;
  readonly #nodes = new Map<string, NodeCounters>();
  /** node → the clock of its latest boot, for /live */
  readonly #latestClock = new Map<string, BootClock>();
  readonly #sources = new Map<string, SourceInfo>();
  readonly #recentSources: SourceInfo[] = [];
  #recentNext = 0;
  #final: { visits: ClosedVisit[]; orphans: OrphanGreet[] } = { visits: [], orphans: [] };
  #hubNow = -Infinity;
  /** the hub time advance() last committed up to */
  #advancedAt = -Infinity;
  /** latest corrected time of any event, for finish() */
  #lastT = -Infinity;

  // the live machine: committed state + buffered events [base, #lPos) applied; built on demand
  #live: VisitMachine | undefined;
  #lPos = 0;
  /** smallest position an event was inserted at before #lPos since the live machine was synced */
  #dirtyFrom = Infinity;
  #log: Logged[] = [];
  #checkpoints: Checkpoint[] = [];
  readonly #checkpointEvery: number;

  constructor(opts: EngineOptions) {
    this.store = opts.store;
    this.rules = opts.rules;
    this.tz = storeTimeZone(opts.timezone ?? 'UTC');
    this.#buttonStaff = opts.buttonStaff ?? new Map();
    this.#clock = new ClockSync(opts.clockWindowMs, undefined, (opts.rules.clockConfirmS ?? 0) * 1000);
    this.#dedupeWindowMs = opts.dedupeWindowMs ?? 2 * (opts.rules.maxSkewS ?? 86_400) * 1000;
    this.#checkpointEvery = Math.max(1, opts.liveCheckpointEvery ?? 256);
    this.#committed = new VisitMachine({ rules: opts.rules, isOpen: openingHoursCheck(opts.openingHours, this.tz) });
  }

  get bufferedCount(): number {
    return this.#pend.length - this.#head + this.#inbox.length;
  }
  /** de-duplication keys held (the last dedupeWindowMs of events) */
  get dedupeCount(): number {
    return this.#seenCount;
  }
  get committedMachine(): Readonly<VisitMachine> {
    return this.#committed;
  }

  /** a node's counters, read only: a node never heard from gets zeros and no entry */
  nodeCounters(node: string): Readonly<NodeCounters> {
    return this.#nodes.get(node) ?? { events: 0, duplicates: 0, tooLate: 0, lastRecv: null, boots: new Map(), lostRetired: 0 };
  }
  #countersFor(node: string): NodeCounters {
    let c = this.#nodes.get(node);
    if (!c) {
      c = { events: 0, duplicates: 0, tooLate: 0, lastRecv: null, boots: new Map(), lostRetired: 0 };
      this.#nodes.set(node, c);
    }
    return c;
  }
  nodes(): IterableIterator<[string, NodeCounters]> {
    return this.#nodes.entries();
  }

  /** estimated hub − node clock offset of the node's latest boot, ms */
  clockOffset(node: string): number | undefined {
    return this.#latestClock.get(node)?.offset;
  }

  /** Takes one validated event received at hub time `recvMs`. */
  ingest(ev: GwEvent, recvMs: number): IngestStatus {
    const src = this.#source(ev.source);
    const nodeMs = timeMs(ev.time);
    const counters = src.counters;
    // every copy is a clock sample: the minimum is the same whatever copy came first.
    // `senttime` (our extension) is when the node sent it: a crossing is sent when the
    // person has passed both beams, a flush long after; without it `time` stands in.
    // a boot leaves counters.boots only when its clock is forgotten (#noteBoot)
    const clock = src.bootid === ev.bootid && src.clock !== undefined && !src.clock.forgotten ? src.clock : this.#noteBoot(src, ev.bootid);
    const sentMs = ev.senttime !== undefined ? timeMs(ev.senttime) : nodeMs;
    clock.observe(Number.isFinite(sentMs) ? sentMs : nodeMs, recvMs);
    // (source, id) is the key (CONTRACT.md); each source holds its ids
    if (!src.seen.add(ev.id, Math.floor(recvMs / 60_000))) {
      this.#setNow(recvMs);
      counters.duplicates++;
      return 'duplicate';
    }
    this.#seenCount++;
    if (++this.#seenSincePrune >= 4096) this.#pruneSeen(recvMs);
    counters.events++;
    if (counters.lastRecv === null || recvMs > counters.lastRecv) counters.lastRecv = recvMs;
    const boot = src.boot!;
    boot.max = Math.max(boot.max, ev.seq);
    boot.seen++;

    // the offset as it stands when the event arrives: it depends only on what arrived
    // before (and with) it, so live and replay, whatever their ticks, correct alike
    const t = nodeMs + (clock.offset ?? 0);
    this.#lastT = Math.max(this.#lastT, t);
    const b = this.#toBuffered(ev, src, t);
    // hub time is now at least this event's arrival: commit what that makes final first
    this.advance(recvMs);
    if (!b) return 'accepted';
    if (b.t < this.#committed.now) {
      // later than reorderS: the committed view has moved past it. Applied now, at
      // its own time, rather than dropped (nothing seen is lost); counted per node.
      counters.tooLate++;
      this.#committed.apply(b);
      // and what it brought due fires now (as a replay's advance after each event does): the
      // committed machine has then seen every cause before its time, which live() relies on
      this.#committed.advanceTo(this.#committed.now);
      this.#collect();
      this.#live = undefined; // its base changed under it
      return 'accepted';
    }
    const q = this.#pend;
    // in order (the common case): at the end. Otherwise into the inbox, sorted in once when
    // the buffer is next read: a backlog arriving out of order costs O(n) once, not per event
    if (this.#inbox.length === 0 && (q.length === this.#head || cmpBuffered(q[q.length - 1]!, b) <= 0)) q.push(b);
    else {
      this.#inbox.push(b);
      if (b.t < this.#inboxMin) this.#inboxMin = b.t;
    }
    return 'accepted';
  }

  /** Sorts the inbox into the buffer: the order repeated in-place inserts would give (equal keys by arrival). */
  #mergeInbox(): void {
    const inbox = this.#inbox;
    if (inbox.length === 0) return;
    inbox.sort(cmpBuffered); // stable: equal keys keep their arrival order
    const q = this.#pend;
    // only the buffer's tail after the first inbox event moves; every inbox event arrived after
    // every buffered one, so on equal keys the buffered one stays first
    let lo = this.#head;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmpBuffered(q[mid]!, inbox[0]!) <= 0) lo = mid + 1;
      else hi = mid;
    }
    const tail = q.splice(lo);
    let i = 0;
    let j = 0;
    while (i < tail.length || j < inbox.length) {
      if (j < inbox.length && (i >= tail.length || cmpBuffered(inbox[j]!, tail[i]!) < 0)) q.push(inbox[j++]!);
      else q.push(tail[i++]!);
    }
    this.#inbox = [];
    this.#inboxMin = Infinity;
    const pos = this.#dropped + lo;
    if (this.#live && pos < this.#lPos) this.#dirtyFrom = Math.min(this.#dirtyFrom, pos);
  }

  /** Hub time passes: commits every buffered event older than now − reorderS. */
  advance(nowMs: number): void {
    this.#setNow(nowMs);
    // nothing buffered since can be older than the frontier it reached (ingest commits or
    // applies such an event at once), so a second call at the same time has nothing to do
    if (this.#hubNow === this.#advancedAt) return;
    this.#advancedAt = this.#hubNow;
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
    this.#live = undefined;
  }

  /** Final visits and orphan greets since the last call. */
  drainFinal(): FinalOutput {
    const out = this.#final;
    if (out.visits.length === 0 && out.orphans.length === 0) return EMPTY_FINAL;
    this.#final = { visits: [], orphans: [] };
    return out;
  }

  /**
   * The provisional view at hub time `nowMs`: committed state plus buffered events, and what
   * time has closed since. Read it before the engine next changes (ingest, advance): its
   * parties are the live machine's own, not copies (a look at the floor reads every open party,
   * many times a second), and its provisional visits (up to reorderS of them) are gathered from
   * the engine's state when first read.
   */
  live(nowMs = this.#hubNow): LiveView {
    const m = this.#syncLive();
    // not copied: a view is read before the engine next changes (the live engine drops it on every event)
    return new IncrementalView(nowMs, m, this.#committed.now, m.peekDue(nowMs), this.#log);
  }

  /**
   * The same view rebuilt from scratch: a copy of the committed state with every buffered
   * event applied and time moved to `nowMs`. What live() must always equal (tests).
   */
  liveFromScratch(nowMs = this.#hubNow): LiveView {
    this.#mergeInbox();
    const m = this.#committed.clone();
    for (let i = this.#head; i < this.#pend.length; i++) m.apply(this.#pend[i]!);
    m.advanceTo(nowMs);
    const provisional: ClosedVisit[] = [];
    const provisionalOrphans: OrphanGreet[] = [];
    for (const tr of m.drain()) {
      if (tr.kind === 'closed') provisional.push(tr.visit);
      else provisionalOrphans.push(toOrphan(tr));
    }
    const waiting: Party[] = [];
    const greeted: Party[] = [];
    for (const p of m.parties()) (p.greet === undefined ? waiting : greeted).push({ ...p });
    return {
      now: nowMs,
      waiting,
      greeted,
      eachWaiting: (fn) => waiting.forEach((p) => fn(p)),
      open: (party) => waiting.find((p) => p.id === party) ?? greeted.find((p) => p.id === party),
      provisional,
      provisionalOrphans,
      closed: (party) => provisional.find((v) => v.party === party),
    };
  }

  /** Brings the live machine up to the end of the buffer, rewinding only as far as an out-of-order event needs. */
  #syncLive(): VisitMachine {
    this.#mergeInbox();
    const base = this.#dropped + this.#head;
    // checkpoints before the committed point cannot be replayed from: their events are gone
    while (this.#checkpoints.length && this.#checkpoints[0]!.pos < base) this.#checkpoints.shift();
    if (this.#live && this.#lPos < base) this.#live = undefined;
    if (this.#live && this.#dirtyFrom < this.#lPos) {
      const from = this.#dirtyFrom;
      while (this.#checkpoints.length && this.#checkpoints.at(-1)!.pos > from) this.#checkpoints.pop();
      // the checkpoint itself becomes the live machine (no copy): replaying makes new ones
      const ck = this.#checkpoints.pop();
      if (ck) {
        this.#live = ck.m;
        this.#lPos = ck.pos;
        while (this.#log.length && this.#log.at(-1)!.pos >= ck.pos) this.#log.pop();
      } else {
        this.#live = undefined;
      }
    }
    this.#dirtyFrom = Infinity;
    if (!this.#live) {
      this.#live = this.#committed.clone();
      this.#live.drain();
      this.#lPos = base;
      this.#log = [];
      this.#checkpoints = [];
    }
    // what the committed machine has closed is final: the log keeps only what it has not
    const since = this.#committed.now;
    let drop = 0;
    while (drop < this.#log.length && this.#log[drop]!.tr.at < since) drop++;
    if (drop) this.#log.splice(0, drop);
    const m = this.#live;
    for (let i = this.#lPos - this.#dropped; i < this.#pend.length; i++) {
      m.apply(this.#pend[i]!);
      const pos = this.#dropped + i;
      for (const tr of m.drain()) this.#log.push({ pos, tr });
      this.#lPos = pos + 1;
      // spaced by the state's size too, so copying it costs a few element copies per event
      const gap = this.#lPos - (this.#checkpoints.at(-1)?.pos ?? base);
      if (gap >= this.#checkpointEvery && gap * 4 >= m.weight) this.#checkpoint();
    }
    return m;
  }

  #checkpoint(): void {
    const cks = this.#checkpoints;
    cks.push({ pos: this.#lPos, m: this.#live!.clone() });
    if (cks.length <= MAX_CHECKPOINTS) return;
    // thin the older ones where they are densest: recent ones stay close, old ones far apart
    let drop = 1;
    let best = Infinity;
    for (let i = 1; i < cks.length - 4; i++) {
      const gap = cks[i + 1]!.pos - cks[i - 1]!.pos;
      if (gap < best) {
        best = gap;
        drop = i;
      }
    }
    cks.splice(drop, 1);
  }

  /** what one source's events share: parsed once, with its node's counters and latest boot */
  #source(source: string): SourceInfo {
    // a payload's strings are new each time, so a Map lookup hashes the whole source again;
    // comparing with the few recent sources costs less
    const recent = this.#recentSources;
    for (let i = 0; i < recent.length; i++) if (recent[i]!.source === source) return recent[i]!;
    let info = this.#sources.get(source);
    if (info) return this.#remember(info);
    const p = parseSource(source);
    const node = p?.node ?? source;
    const keyPrefix = p?.store === this.store ? `${node}/` : `${source}\u0000`;
    info = { source, node, keyPrefix, counters: this.#countersFor(node), bootid: undefined, boot: undefined, clock: undefined, seen: new SeenIds() };
    this.#sources.set(source, info);
    return this.#remember(info);
  }

  #remember(info: SourceInfo): SourceInfo {
    const recent = this.#recentSources;
    if (recent.length < RECENT_SOURCES) recent.push(info);
    else {
      recent[this.#recentNext] = info;
      this.#recentNext = (this.#recentNext + 1) % RECENT_SOURCES;
    }
    return info;
  }

  /** a boot other than the source's last: keeps the node's latest MAX_BOOTS (by last event), with their clocks */
  #noteBoot(src: SourceInfo, bootid: string): BootClock {
    src.bootid = bootid;
    const boots = src.counters.boots;
    let b = boots.get(bootid);
    if (b) {
      boots.delete(bootid);
      boots.set(bootid, b);
    } else {
      boots.set(bootid, (b = { max: 0, seen: 0 }));
      if (boots.size > MAX_BOOTS) {
        const [oldest, old] = boots.entries().next().value!;
        boots.delete(oldest);
        src.counters.lostRetired += old.max - old.seen;
        this.#clock.forget(`${src.node}/${oldest}`);
      }
    }
    src.boot = b;
    const clock = this.#clock.clock(`${src.node}/${bootid}`);
    // the latest boot is never the one forgotten above: its clock stays live while it is shown
    this.#latestClock.set(src.node, clock);
    return (src.clock = clock);
  }

  #setNow(ms: number): void {
    if (ms > this.#hubNow) this.#hubNow = ms;
  }

  #toBuffered(ev: GwEvent, src: SourceInfo, t: number): Buffered | null {
    switch (ev.type) {
      case 'greetwatch.entry.v1':
        return new BufferedEntry(t, keyOf(ev, src), ev.data.direction);
      case 'greetwatch.greet.v1': {
        const staff = ev.data.staff ?? this.#buttonStaff.get(ev.data.button);
        return new BufferedGreet(t, keyOf(ev, src), staff);
      }
      case 'greetwatch.staffpass.v1':
        return new BufferedStaffPass(t, keyOf(ev, src));
      case 'greetwatch.presence.v1':
        return new BufferedPresence(t, keyOf(ev, src), ev.data.zone, ev.data.state === 'on');
      default:
        return null;
    }
  }

  /** commits buffered events before `frontier` */
  #commitBefore(frontier: number): void {
    if (this.#inboxMin < frontier) this.#mergeInbox();
    const q = this.#pend;
    const from = this.#head;
    let i = from;
    while (i < q.length && q[i]!.t < frontier) this.#committed.apply(q[i++]!);
    if (i === from) return;
    this.#head = i;
    // drop the committed front once it is most of the array (amortised O(1) per event)
    if (i > 1024 && i * 2 > q.length) {
      this.#pend = q.slice(i);
      this.#dropped += i;
      this.#head = 0;
    }
  }

  #collect(): void {
    const out = this.#committed.drain();
    // indexed: a for-of here allocates an iterator per event (it runs after every one)
    for (let i = 0; i < out.length; i++) {
      const tr = out[i]!;
      if (tr.kind === 'closed') this.#final.visits.push(tr.visit);
      else this.#final.orphans.push(toOrphan(tr));
    }
  }

  #pruneSeen(recvMs: number): void {
    this.#seenSincePrune = 0;
    const cutoff = Math.floor((recvMs - this.#dedupeWindowMs) / 60_000);
    for (const src of this.#sources.values()) this.#seenCount -= src.seen.forgetBefore(cutoff);
  }
}

// Buffered events are made with `new`, one class per kind (a greet's staff undefined when it
// has none), each field set once in the constructor (declared, not defined). An object literal
// carries an allocation site, from which V8 may decide to allocate it straight in the old
// generation: in a replay, where a buffered event lives for a few events, that made the engine
// 25–50 % slower in about half the runs (README "Benchmarks", (a)).
class BufferedEntry {
  declare readonly kind: 'entry';
  declare readonly t: number;
  declare readonly key: string;
  declare readonly direction: 'in' | 'out';
  declare readonly rank: number;
  constructor(t: number, key: string, direction: 'in' | 'out') {
    this.kind = 'entry';
    this.t = t;
    this.key = key;
    this.direction = direction;
    this.rank = RANK.entry;
  }
}
class BufferedGreet {
  declare readonly kind: 'greet';
  declare readonly t: number;
  declare readonly key: string;
  declare readonly staff: string | undefined;
  declare readonly rank: number;
  constructor(t: number, key: string, staff: string | undefined) {
    this.kind = 'greet';
    this.t = t;
    this.key = key;
    this.staff = staff;
    this.rank = RANK.greet;
  }
}
class BufferedStaffPass {
  declare readonly kind: 'staffpass';
  declare readonly t: number;
  declare readonly key: string;
  declare readonly rank: number;
  constructor(t: number, key: string) {
    this.kind = 'staffpass';
    this.t = t;
    this.key = key;
    this.rank = RANK.staffpass;
  }
}
class BufferedPresence {
  declare readonly kind: 'presence';
  declare readonly t: number;
  declare readonly key: string;
  declare readonly zone: string;
  declare readonly on: boolean;
  declare readonly rank: number;
  constructor(t: number, key: string, zone: string, on: boolean) {
    this.kind = 'presence';
    this.t = t;
    this.key = key;
    this.zone = zone;
    this.on = on;
    this.rank = RANK.presence;
  }
}

/**
 * GreetEngine.live(): the live machine's state, with what time has closed since its last event
 * looked ahead. A look at the floor makes one many times a second, so it is one object, and
 * nothing in it is gathered per open party unless asked for (README "Benchmarks").
 */
class IncrementalView implements LiveView {
  readonly now: number;
  readonly #m: VisitMachine;
  /** the committed machine's time: what closed before it is final, not provisional */
  readonly #since: number;
  readonly #due: readonly Ending[];
  readonly #log: readonly Logged[];
  /** parties that time closes by `now` (undefined: none) */
  readonly #gone: Set<string> | undefined;
  #lists: { waiting: Readonly<Party>[]; greeted: Readonly<Party>[] } | undefined;
  #gathered: { visits: ClosedVisit[]; orphans: OrphanGreet[] } | undefined;

  constructor(now: number, m: VisitMachine, since: number, due: readonly Ending[], log: readonly Logged[]) {
    this.now = now;
    this.#m = m;
    this.#since = since;
    this.#due = due;
    this.#log = log;
    let gone: Set<string> | undefined;
    for (const tr of due) if (tr.kind === 'closed') (gone ??= new Set()).add(tr.visit.party);
    this.#gone = gone;
  }

  get waiting(): readonly Readonly<Party>[] {
    return this.#sorted().waiting;
  }
  get greeted(): readonly Readonly<Party>[] {
    return this.#sorted().greeted;
  }
  eachWaiting(fn: (p: Readonly<Party>) => void): void {
    if (this.#lists) {
      for (const p of this.#lists.waiting) fn(p);
      return;
    }
    const gone = this.#gone;
    for (const p of this.#m.parties()) if (p.greet === undefined && !gone?.has(p.id)) fn(p);
  }
  open(party: string): Readonly<Party> | undefined {
    return this.#gone?.has(party) ? undefined : this.#m.party(party);
  }
  get provisional(): ClosedVisit[] {
    return this.#gather().visits;
  }
  get provisionalOrphans(): OrphanGreet[] {
    return this.#gather().orphans;
  }
  closed(party: string): ClosedVisit | undefined {
    for (const tr of this.#due) if (tr.kind === 'closed' && tr.visit.party === party) return tr.visit;
    const log = this.#log;
    for (let i = log.length - 1; i >= 0; i--) {
      const tr = log[i]!.tr;
      if (tr.kind === 'closed' && tr.visit.party === party) return tr.visit;
    }
    return undefined;
  }

  #sorted(): { waiting: Readonly<Party>[]; greeted: Readonly<Party>[] } {
    if (this.#lists) return this.#lists;
    const waiting: Readonly<Party>[] = [];
    const greeted: Readonly<Party>[] = [];
    const gone = this.#gone;
    for (const p of this.#m.parties()) if (!gone?.has(p.id)) (p.greet === undefined ? waiting : greeted).push(p);
    return (this.#lists = { waiting, greeted });
  }

  #gather(): { visits: ClosedVisit[]; orphans: OrphanGreet[] } {
    if (this.#gathered) return this.#gathered;
    const visits: ClosedVisit[] = [];
    const orphans: OrphanGreet[] = [];
    const since = this.#since;
    // what the live machine closed that the committed one has not yet, then what time closes
    for (const { tr } of this.#log) {
      if (tr.at < since) continue;
      if (tr.kind === 'closed') visits.push(tr.visit);
      else orphans.push(toOrphan(tr));
    }
    for (const tr of this.#due) {
      if (tr.at < since) continue; // fired in the committed machine already: final
      if (tr.kind === 'closed') visits.push(tr.visit);
      else orphans.push(toOrphan(tr));
    }
    return (this.#gathered = { visits, orphans });
  }
}

/** buffer key and party id: the node and the event id (another store's source stays whole) */
function keyOf(ev: GwEvent, src: SourceInfo): string {
  return src.keyPrefix + ev.id;
}

function cmpTie(a: Buffered, b: Buffered): number {
  return a.rank - b.rank || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** buffer order: corrected time, then same-time rank, then key */
function cmpBuffered(a: Buffered, b: Buffered): number {
  return a.t - b.t || cmpTie(a, b);
}

function toOrphan(tr: Extract<Ending, { kind: 'orphan' }>): OrphanGreet {
  return tr.staff === undefined ? { t: tr.t } : { t: tr.t, staff: tr.staff };
}

import type { Rules } from '../../firmware-config/schema.ts';
import { MinHeap } from './heap.ts';
import { IdQueue } from './id-queue.ts';
import type { OpenAt } from './opening-hours.ts';

// The pure visit state machine of CONTRACT.md "Visits and outcomes".
// It sees events in (corrected) time order and is told when time passes; it does
// no I/O and reads no clock, so the live hub, replay and tests share it.
//
// Timer convention: a deadline D fires only once time moves strictly past D, so an
// event stamped exactly D still counts ("within", "up to", "after this long" are
// all read inclusively). Same-time events are ordered by the caller (GreetEngine's RANK).

export type MachineInput =
  | { kind: 'entry'; t: number; key: string; direction: 'in' | 'out' }
  | { kind: 'greet'; t: number; key: string; staff?: string }
  | { kind: 'staffpass'; t: number; key: string }
  | { kind: 'presence'; t: number; key: string; zone: string; on: boolean };

/** An input without its time: buffered until its corrected time is known. */
export type MachineInputBody = MachineInput extends infer U ? (U extends MachineInput ? Omit<U, 't'> : never) : never;

export type FinalOutcome = 'met' | 'late' | 'walkout' | 'shortWalkout' | 'missed';

export interface Party {
  id: string;
  /** first entry (ms, corrected) */
  entry: number;
  /** latest `in` that joined the party */
  lastIn: number;
  size: number;
  greet?: number;
  staff?: string;
  /** TTG in ms, fixed at greet, never negative */
  ttg?: number;
  /** outcome decided at greet (met/late); closed later when the party can no longer grow */
  greetedOutcome?: 'met' | 'late';
  breach?: number;
  mark?: number;
  /** order of marks, for "the most recently marked" among marks of the same ms */
  markSeq?: number;
}

/** A party marked as leaving absorbs the next size − 1 outs within groupWindowS of its mark. */
interface Absorber {
  party: string;
  markedAt: number;
  absorbed: number;
  /** the party's size, kept up to date while it grows */
  size: number;
}

export interface ClosedVisit {
  party: string;
  outcome: FinalOutcome;
  entry: number;
  size: number;
  greet?: number;
  ttg?: number;
  staff?: string;
  breach?: number;
  mark?: number;
  closedAt: number;
}

/**
 * What the machine reports: something ended (a party closed, a greet left an orphan). Open
 * parties are read from the state (parties()), so openings and greets are not reported.
 * `at` is the cause's time: the timer's deadline, or the event's time for a close an event
 * made. A copy of the machine that has moved time to T has seen exactly the causes before
 * T, which is how the live view tells final from not.
 */
export type Ending =
  | { kind: 'closed'; visit: ClosedVisit; at: number }
  | { kind: 'orphan'; t: number; staff?: string; at: number };

/** What a due timer does, decided without changing anything (so the live view can look ahead). */
type Effect =
  | { kind: 'close'; party: Party; outcome: FinalOutcome; closedAt: number }
  | { kind: 'orphan'; greet: number; t: number; staff?: string }
  | { kind: 'unusedPass'; pass: number };

type Timer =
  | { at: number; seq: number; kind: 'expire'; party: string }
  | { at: number; seq: number; kind: 'confirm'; party: string; mark: number }
  | { at: number; seq: number; kind: 'linger'; party: string; lastIn: number }
  | { at: number; seq: number; kind: 'lead'; greet: number }
  | { at: number; seq: number; kind: 'staffpass'; pass: number };

export interface MachineOptions {
  rules: Rules;
  isOpen: OpenAt;
}

interface MsRules {
  greetWithin: number;
  minTransit: number;
  groupWindow: number;
  greetLead: number;
  greetHorizon: number;
  staffPass: number;
  shortAbandon: number;
  walkoutWindow: number;
  walkoutConfirm: number;
  expire: number;
  stepsLine: ReadonlySet<string>;
}

const s2ms = (s: number) => Math.round(s * 1000);
const NONE: readonly Ending[] = Object.freeze([]);

/**
 * A party's copy, written out field by field in the order #open makes them: a spread copy gets a
 * shape of its own, and a look at the floor reading parties of two shapes boxed every time it
 * read (README "Benchmarks").
 */
function copyParty(p: Party): Party {
  // every key of Party, so that one added later cannot be left out of the copy
  const copy = { id: p.id, entry: p.entry, lastIn: p.lastIn, size: p.size, greet: p.greet, staff: p.staff, ttg: p.ttg, greetedOutcome: p.greetedOutcome, breach: p.breach, mark: p.mark, markSeq: p.markSeq } satisfies Record<keyof Party, unknown>;
  return copy;
}

export class VisitMachine {
  readonly #r: MsRules;
  readonly #isOpen: OpenAt;
  readonly #opts: MachineOptions;
  #now = -Infinity;
  #seq = 0;
  /** open parties (ungreeted, or greeted but still able to grow), in entry order */
  #parties = new Map<string, Party>();
  #timers = new MinHeap<Timer>();
  /** the latest customer `in` that opened or joined a party: its time and party */
  #lastInT = -Infinity;
  #lastInParty: string | undefined;
  /** parties marked within the last groupWindowS, oldest mark first */
  #absorbers: Absorber[] = [];
  /** greets waiting for a party (greetLeadS), by the id of their lead timer */
  #pendingGreets = new IdQueue<{ t: number; staff?: string }>();
  #staffPasses = new Map<number, number>();
  #out: Ending[] = [];
  /** timers made pointless since the last compaction (their party closed, their greet or pass used) */
  #dead = 0;

  constructor(opts: MachineOptions) {
    const r = opts.rules;
    this.#r = {
      greetWithin: s2ms(r.greetWithinS),
      minTransit: s2ms(r.minTransitS),
      groupWindow: s2ms(r.groupWindowS),
      greetLead: s2ms(r.greetLeadS),
      greetHorizon: s2ms(r.greetHorizonS),
      staffPass: s2ms(r.staffPassS),
      shortAbandon: s2ms(r.shortAbandonS),
      walkoutWindow: s2ms(r.walkoutWindowS),
      walkoutConfirm: s2ms(r.walkoutConfirmS),
      expire: s2ms(r.expireS),
      stepsLine: new Set(r.stepsLineZones),
    };
    this.#isOpen = opts.isOpen;
    this.#opts = opts;
  }

  get now(): number {
    return this.#now;
  }
  /** open parties in entry order (read-only view) */
  parties(): IterableIterator<Readonly<Party>> {
    return this.#parties.values();
  }
  /** about what a clone copies (parties, timers, waiting greets and passes) */
  get weight(): number {
    return this.#parties.size + this.#timers.size + this.#pendingGreets.size + this.#staffPasses.size + this.#absorbers.length;
  }
  get openCount(): number {
    return this.#parties.size;
  }
  /** an open party by id */
  party(id: string): Readonly<Party> | undefined {
    return this.#parties.get(id);
  }

  /** Takes the transitions produced since the last call. */
  drain(): readonly Ending[] {
    const out = this.#out;
    if (out.length === 0) return NONE;
    this.#out = [];
    return out;
  }

  /** An independent copy (the live view runs provisional events on a clone). */
  clone(): VisitMachine {
    const c = new VisitMachine(this.#opts);
    c.#now = this.#now;
    c.#seq = this.#seq;
    // forEach: no entry arrays (a live checkpoint clones every few hundred events)
    const parties = new Map<string, Party>();
    this.#parties.forEach((p, k) => parties.set(k, copyParty(p)));
    c.#parties = parties;
    c.#timers = this.#timers.clone();
    c.#lastInT = this.#lastInT;
    c.#lastInParty = this.#lastInParty;
    c.#absorbers = this.#absorbers.map((a) => ({ ...a }));
    c.#pendingGreets = this.#pendingGreets.clone();
    c.#staffPasses = new Map(this.#staffPasses);
    c.#dead = this.#dead;
    return c;
  }

  /**
   * What moving time to `t` would close (and which lead greets would become orphans), without
   * moving it: the live view between two events. Due timers never start others and each acts
   * on its own party, greet or pass, so deciding them one by one on the unchanged state gives
   * what advanceTo(t) would. `at` of each transition is when it would happen.
   */
  peekDue(t: number): readonly Ending[] {
    // most looks fall between two events with nothing due: no arrays for them
    const top = this.#timers.peek();
    if (!top || !(top.at < t)) return NONE;
    const due: Timer[] = [];
    this.#timers.forEachBefore(t, (tm) => due.push(tm));
    due.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const out: Ending[] = [];
    const closed = new Set<string>();
    for (const tm of due) {
      const e = this.#decide(tm);
      if (!e) continue;
      const at = tm.at;
      if (e.kind === 'close') {
        if (closed.has(e.party.id)) continue;
        closed.add(e.party.id);
        out.push({ kind: 'closed', visit: closedVisit(e.party, e.outcome, e.closedAt), at });
      } else if (e.kind === 'orphan') {
        out.push(e.staff === undefined ? { kind: 'orphan', t: e.t, at } : { kind: 'orphan', t: e.t, staff: e.staff, at });
      }
    }
    return out;
  }

  /**
   * Moves time to `t`, firing every deadline strictly before it (an event stamped `t`
   * may still come). `inclusive`: no event will come any more (the end of a replay), so
   * a deadline at `t` itself has passed too.
   */
  advanceTo(t: number, inclusive = false): void {
    for (;;) {
      const top = this.#timers.peek();
      if (!top || top.at > t || (top.at === t && !inclusive)) break;
      this.#timers.pop();
      if (top.at > this.#now) this.#now = top.at;
      this.#fire(top);
    }
    if (t > this.#now) this.#now = t;
  }

  /** Applies one event. Events must come in time order; a late one is applied at its own time as best effort. */
  apply(ev: MachineInput): void {
    this.advanceTo(ev.t);
    switch (ev.kind) {
      case 'entry':
        if (this.#consumeStaffPass(ev.t)) return;
        if (ev.direction === 'in') this.#customerIn(ev.t, ev.key);
        else this.#customerOut(ev.t);
        return;
      case 'greet':
        this.#greet(ev.t, ev.staff);
        return;
      case 'staffpass': {
        const id = ++this.#seq;
        this.#staffPasses.set(id, ev.t);
        this.#timers.push({ at: ev.t + this.#r.staffPass, seq: id, kind: 'staffpass', pass: id });
        return;
      }
      case 'presence':
        if (ev.on && this.#r.stepsLine.has(ev.zone)) this.#breach(ev.t);
        return;
    }
  }

  // CONTRACT.md: "A staffpass is consumed by the first crossing, in or out, within staffPassS after it."
  #consumeStaffPass(t: number): boolean {
    for (const [id, at] of this.#staffPasses) {
      // Map iterates in insertion order = staffpass time order: the oldest live one is consumed
      if (t >= at && t - at <= this.#r.staffPass) {
        this.#staffPasses.delete(id);
        this.#dead++;
        return true;
      }
    }
    return false;
  }

  #customerIn(t: number, key: string): void {
    if (!this.#isOpen(t)) return;
    // groupWindowS: within this time of the previous customer `in` joins that `in`'s party
    const prevParty = this.#lastInParty === undefined ? undefined : this.#parties.get(this.#lastInParty);
    if (prevParty && t - this.#lastInT <= this.#r.groupWindow) {
      prevParty.size++;
      prevParty.lastIn = t;
      for (const a of this.#absorbers) if (a.party === prevParty.id) a.size = prevParty.size;
      this.#lastInT = t;
      this.#lastInParty = prevParty.id;
      if (prevParty.greet !== undefined) this.#scheduleLinger(prevParty);
      return;
    }
    // every field from the start: one shape for all parties, none added later
    const p: Party = { id: key, entry: t, lastIn: t, size: 1, greet: undefined, staff: undefined, ttg: undefined, greetedOutcome: undefined, breach: undefined, mark: undefined, markSeq: undefined };
    this.#parties.set(p.id, p);
    this.#lastInT = t;
    this.#lastInParty = p.id;
    this.#timers.push({ at: t + this.#r.expire, seq: ++this.#seq, kind: 'expire', party: p.id });
    // greetLeadS: a greet waiting for a new party covers it with time to greet 0
    const id = this.#pendingGreets.first();
    if (id !== undefined) {
      const g = this.#pendingGreets.get(id)!;
      this.#pendingGreets.delete(id);
      this.#dead++;
      this.#assignGreet(p, g.t, g.staff);
    }
  }

  #customerOut(t: number): void {
    // "that party absorbs the next size − 1 out crossings that follow within groupWindowS"
    // (of its mark; size as the party stands now; stated without condition, so a greet
    // inside the window does not end it). The earliest mark has first claim.
    const absorbers = this.#absorbers;
    let kept = 0;
    for (let i = 0; i < absorbers.length; i++) if (t - absorbers[i]!.markedAt <= this.#r.groupWindow) absorbers[kept++] = absorbers[i]!;
    absorbers.length = kept;
    const absorber = absorbers.find((a) => a.absorbed < a.size - 1);
    if (absorber) {
      absorber.absorbed++;
      return;
    }
    // mark the most recent ungreeted, unmarked party that entered within walkoutWindowS
    let pick: Party | undefined;
    for (const p of this.#parties.values()) {
      if (p.greet !== undefined || p.mark !== undefined) continue;
      if (t - p.entry > this.#r.walkoutWindow) continue;
      if (!pick || p.entry >= pick.entry) pick = p;
    }
    if (!pick) return; // a greeted party leaving
    pick.mark = t;
    pick.markSeq = ++this.#seq;
    this.#absorbers.push({ party: pick.id, markedAt: t, absorbed: 0, size: pick.size });
    this.#timers.push({ at: t + this.#r.walkoutConfirm, seq: ++this.#seq, kind: 'confirm', party: pick.id, mark: t });
  }

  #greet(t: number, staff: string | undefined): void {
    let oldestInHorizon: Party | undefined;
    let newestUnmarked: Party | undefined;
    let latestMarked: Party | undefined;
    for (const p of this.#parties.values()) {
      if (p.greet !== undefined) continue;
      if (p.mark === undefined) {
        if (t - p.entry <= this.#r.greetHorizon && (!oldestInHorizon || p.entry < oldestInHorizon.entry)) oldestInHorizon = p;
        if (!newestUnmarked || p.entry >= newestUnmarked.entry) newestUnmarked = p;
      } else if (!latestMarked || p.mark > latestMarked.mark! || (p.mark === latestMarked.mark && p.markSeq! > latestMarked.markSeq!)) {
        latestMarked = p;
      }
    }
    const target = oldestInHorizon ?? newestUnmarked ?? latestMarked;
    if (target) {
      this.#assignGreet(target, t, staff);
      return;
    }
    const id = ++this.#seq;
    this.#pendingGreets.push(id, staff === undefined ? { t } : { t, staff });
    this.#timers.push({ at: t + this.#r.greetLead, seq: id, kind: 'lead', greet: id });
  }

  /** `greetT` is when the button was pressed, `now` when the party got it (later for a lead greet). */
  #assignGreet(p: Party, greetT: number, staff: string | undefined): void {
    p.greet = greetT;
    if (staff !== undefined) p.staff = staff;
    p.ttg = Math.max(0, greetT - p.entry);
    p.greetedOutcome = p.ttg <= this.#r.greetWithin && p.breach === undefined ? 'met' : 'late';
    // "a leaving party greeted later loses its mark (someone else left)"
    if (p.mark !== undefined) {
      p.mark = undefined;
      p.markSeq = undefined;
    }
    this.#scheduleLinger(p);
  }

  /** A greeted party stays open while a later `in` could still join it (groupWindowS after its last `in`). */
  #scheduleLinger(p: Party): void {
    const at = p.lastIn + this.#r.groupWindow;
    if (at < this.#now) {
      this.#close(p, p.greetedOutcome ?? 'late', Math.max(this.#now, p.greet ?? this.#now), this.#now);
      return;
    }
    this.#timers.push({ at, seq: ++this.#seq, kind: 'linger', party: p.id, lastIn: p.lastIn });
  }

  // CONTRACT.md: steps-line presence goes to the oldest ungreeted party that entered ≥ minTransitS earlier
  #breach(t: number): void {
    for (const p of this.#parties.values()) {
      if (p.greet !== undefined) continue;
      if (t - p.entry < this.#r.minTransit) continue;
      if (p.breach === undefined) p.breach = t;
      return;
    }
  }

  #decide(tm: Timer): Effect | null {
    switch (tm.kind) {
      case 'expire': {
        const p = this.#parties.get(tm.party);
        return p && p.greet === undefined && p.mark === undefined ? { kind: 'close', party: p, outcome: 'missed', closedAt: tm.at } : null;
      }
      case 'confirm': {
        const p = this.#parties.get(tm.party);
        // "closes as a walkout at the mark's time"; short if marked within shortAbandonS of entry
        if (!p || p.greet !== undefined || p.mark !== tm.mark) return null;
        return { kind: 'close', party: p, outcome: tm.mark - p.entry <= this.#r.shortAbandon ? 'shortWalkout' : 'walkout', closedAt: tm.mark };
      }
      case 'linger': {
        const p = this.#parties.get(tm.party);
        return p && p.greet !== undefined && p.lastIn === tm.lastIn ? { kind: 'close', party: p, outcome: p.greetedOutcome ?? 'late', closedAt: Math.max(tm.at, p.greet) } : null;
      }
      case 'lead': {
        const g = this.#pendingGreets.get(tm.greet);
        if (!g) return null;
        return g.staff === undefined ? { kind: 'orphan', greet: tm.greet, t: g.t } : { kind: 'orphan', greet: tm.greet, t: g.t, staff: g.staff };
      }
      case 'staffpass':
        return this.#staffPasses.has(tm.pass) ? { kind: 'unusedPass', pass: tm.pass } : null;
    }
  }

  #fire(tm: Timer): void {
    const e = this.#decide(tm);
    if (!e) return;
    switch (e.kind) {
      case 'close':
        this.#close(e.party, e.outcome, e.closedAt, tm.at);
        return;
      case 'orphan':
        this.#pendingGreets.delete(e.greet);
        this.#dead++;
        this.#out.push(e.staff === undefined ? { kind: 'orphan', t: e.t, at: tm.at } : { kind: 'orphan', t: e.t, staff: e.staff, at: tm.at });
        return;
      case 'unusedPass':
        this.#staffPasses.delete(e.pass);
        this.#dead++;
        return;
    }
  }

  #close(p: Party, outcome: FinalOutcome, closedAt: number, cause: number): void {
    this.#parties.delete(p.id);
    this.#out.push({ kind: 'closed', visit: closedVisit(p, outcome, closedAt), at: cause });
    this.#dead += 2;
    this.#compact();
  }

  /**
   * Timers of closed parties (an expiry 600 s on) would otherwise stay in the heap until due,
   * so it would hold every party of the last expireS and each clone would copy them all.
   * Dropping timers that can no longer act changes nothing: firing them would be a no-op.
   */
  #compact(): void {
    if (this.#dead < 1024 || this.#dead * 2 < this.#timers.size) return;
    this.#dead = 0;
    this.#timers.retain((tm) => {
      switch (tm.kind) {
        case 'lead':
          return this.#pendingGreets.has(tm.greet);
        case 'staffpass':
          return this.#staffPasses.has(tm.pass);
        default:
          return this.#parties.has(tm.party);
      }
    });
  }
}

function closedVisit(p: Party, outcome: FinalOutcome, closedAt: number): ClosedVisit {
  return { party: p.id, outcome, entry: p.entry, size: p.size, greet: p.greet, ttg: p.ttg, staff: p.staff, breach: p.breach, mark: p.mark, closedAt };
}

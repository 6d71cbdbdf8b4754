// Reference model of CONTRACT.md "Store rules" / "Visits and outcomes" / "Metrics" (counts only).
//
// A test oracle, written from the contract alone (not from hub/engine/*). It is deliberately
// slow and plain: no timers, no heaps, no incremental indexes. Before every event it rescans
// every party to close whatever came due, then applies the event by scanning all parties again.
// Input: events with exact times in ms (no clock skew, no duplicates, no opening hours: always
// open). Output: every party with its outcome as seen when time stands at the last event.
//
// READINGS OF THE CONTRACT (where it is silent or ambiguous, the most literal reading):
//  1. Boundaries are inclusive: "within X" / "at least X" / "≤" all mean a difference d with
//     d ≤ X (resp. d ≥ X). So a greet at exactly greetWithinS is met, an `in` exactly
//     groupWindowS after the previous customer `in` joins, a presence exactly minTransitS
//     after entry counts, a mark exactly shortAbandonS after entry is short, etc.
//  2. A party "entered" at its first entry (the first `in`): this time is used for
//     greetHorizonS, minTransitS, walkoutWindowS, shortAbandonS, expireS and TTG.
//  3. Deadlines (walkout confirmation = mark + walkoutConfirmS, expiry = entry + expireS,
//     a lead greet's wait = greet + greetLeadS) take effect after every event stamped exactly
//     at the deadline: "still ungreeted this long after" is judged after the events of that
//     instant. Hence a greet at exactly mark + walkoutConfirmS still saves the party.
//     At the end, time stands at the last event L and every event stamped L has been seen, so
//     a deadline D = L has passed too: the party closes (missed / walkout) and a lead greet
//     whose wait ends at L is an orphan. [flag `deadlineAtEnd`: 'fire' (this reading, the
//     default) | 'hold' (the engine's before 2cb5c36: a deadline fires only once time is past
//     it, so a deadline exactly at the last event leaves the party pending / the greet
//     uncounted)]
//  4. Events stamped at the same ms are taken in the order staffpass, crossing (`in`/`out`, in
//     input order among themselves), greet, presence. Reasons: a crossing at the staffpass's
//     own instant is "within staffPassS after it"; a party entering at a greet's instant is
//     there to be greeted (TTG 0); a greet and a steps-line presence at the same instant means
//     the greet was not after the breach ("met = greeted ... before any steps-line breach").
//  5. "Ungreeted party" means an open one: parties already closed (missed, walkout) take no
//     greets and no breaches. A party marked as leaving but not yet confirmed is open.
//  6. Staffpasses: each staffpass covers one crossing. A crossing consumes the OLDEST pending
//     staffpass that is at most staffPassS before it ("consumed by the first crossing within
//     staffPassS after it": the oldest staffpass has first claim on the crossing). Staff
//     crossings do nothing else (no party, no mark, no absorption, not a "previous customer in").
//  7. groupWindowS compares with the previous CUSTOMER `in` (staff `in`s skipped), and the new
//     `in` joins that `in`'s party whatever its state (greeted or not, marked or not).
//  8. Walkout marks: an `out` marks the ungreeted, unmarked open party with the latest entry
//     such that out − entry ≤ walkoutWindowS. Absorption: a marked party absorbs customer
//     `out`s that come within groupWindowS OF THE MARK (not of the previous absorbed out),
//     up to size − 1 of them, where size is the party's CURRENT size (members who join after
//     the mark count: "size" is the party's size, and the party keeps growing by the
//     groupWindowS rule). [flag `absorbSize`: 'current' (this reading, default) | 'atMark'
//     (the engine's before 2cb5c36: size − 1 is fixed when the mark is made)]
//     Absorption is stated unconditionally ("that party absorbs the next size − 1 out
//     crossings"), so it continues even if the party is greeted (loses its mark) inside the
//     window. [flag `absorbAfterGreet`: 'keep' (this reading, default) | 'stop' (the engine's
//     before 2cb5c36: a greet ends the absorption together with the mark)]
//     If several parties could absorb, the one marked earliest does. An absorbed `out` marks
//     nothing.
//  9. A mark is never moved: a marked party stays marked until it is greeted (loses the
//     mark for good, it is then greeted) or confirmed as walkout at the mark's time.
// 10. Greet assignment, in order: (a) the oldest (by entry) ungreeted unmarked party with
//     greet − entry ≤ greetHorizonS; (b) else the newest ungreeted unmarked party; (c) else,
//     if every ungreeted party is marked, the one with the latest mark (ties at the same ms:
//     the one marked later in event order, i.e. literally the most recent mark) [flag
//     `markTie`: 'lastMarked' (this reading, default) | 'newestEntry' (the engine's before
//     2cb5c36: among marks at the same ms, the party that entered last)];
//     (d) else (no ungreeted party) the greet waits greetLeadS: the next NEW
//     party (an `in` that does not join an existing party) whose entry − greet ≤ greetLeadS
//     takes it with TTG 0; several waiting greets are taken oldest first, one per new party.
//     A greet whose wait ended (after the events at greet + greetLeadS) is an orphan. A greet
//     still waiting when time stops is neither a visit nor (yet) an orphan.
// 11. Steps line: a presence `on` in a steps-line zone goes to the oldest (by entry) open
//     ungreeted party with presence − entry ≥ minTransitS, marked or not, already breached or
//     not (only its first breach matters). Presences in other zones do nothing.
// 12. Outcomes: greeted ⇒ met iff TTG ≤ greetWithinS and no breach was attributed before the
//     greet, else late (known as soon as it is greeted, so never pending). Walkout at
//     confirmation; shortWalkout iff mark − entry ≤ shortAbandonS. Missed iff still ungreeted
//     and unmarked after the events at entry + expireS. Otherwise pending when time stops.
// 13. One greet covers the whole party including later members: size counts every member.
// 14. TTG = greet time − first entry time (0 for a lead greet), in ms.

export type RefKind = 'in' | 'out' | 'greet' | 'staffpass' | 'presence';

export interface RefEvent {
  /** exact time in ms */
  t: number;
  kind: RefKind;
  staff?: string;
  zone?: string;
}

export interface RefRules {
  greetWithinS: number;
  stepsLineZones: string[];
  minTransitS: number;
  groupWindowS: number;
  greetLeadS: number;
  greetHorizonS: number;
  staffPassS: number;
  shortAbandonS: number;
  walkoutWindowS: number;
  walkoutConfirmS: number;
  expireS: number;
}

export const REF_DEFAULT_RULES: RefRules = {
  greetWithinS: 30,
  stepsLineZones: [],
  minTransitS: 3,
  groupWindowS: 3,
  greetLeadS: 2,
  greetHorizonS: 45,
  staffPassS: 10,
  shortAbandonS: 5,
  walkoutWindowS: 120,
  walkoutConfirmS: 60,
  expireS: 600,
};

export type RefOutcome = 'met' | 'late' | 'walkout' | 'shortWalkout' | 'missed' | 'pending';

export interface RefParty {
  entryMs: number;
  size: number;
  outcome: RefOutcome;
  ttgMs?: number;
  staff?: string;
}

export interface RefCounts {
  visits: number;
  met: number;
  late: number;
  walkouts: number;
  shortWalkouts: number;
  missed: number;
  pending: number;
  orphanGreets: number;
}

export interface RefResult {
  parties: RefParty[];
  orphanGreets: number;
  counts: RefCounts;
}

interface State {
  entryMs: number;
  size: number;
  greetMs?: number;
  ttgMs?: number;
  staff?: string;
  breachMs?: number;
  markMs?: number;
  /** order in which marks were made, to break ties between marks at the same ms */
  markSeq?: number;
  /** the mark's instant for absorption, kept even if the mark is later lost */
  absorbFromMs?: number;
  absorbed: number;
  /** the party's size when it was marked */
  sizeAtMark?: number;
  closed?: 'walkout' | 'shortWalkout' | 'missed';
}

interface LeadGreet {
  t: number;
  staff?: string;
}

const KIND_ORDER: Record<RefKind, number> = { staffpass: 0, in: 1, out: 1, greet: 2, presence: 3 };

export interface RefOptions {
  /** reading 3: what a deadline exactly at the last event does */
  deadlineAtEnd?: 'fire' | 'hold';
  /** reading 8: which size bounds the absorbed outs */
  absorbSize?: 'current' | 'atMark';
  /** reading 10(c): tie between marks made at the same ms */
  markTie?: 'lastMarked' | 'newestEntry';
  /** reading 8: does a greet inside the absorption window end it? */
  absorbAfterGreet?: 'keep' | 'stop';
}

export function referenceModel(events: readonly RefEvent[], rulesIn: Partial<RefRules> = {}, opts: RefOptions = {}): RefResult {
  const r: RefRules = { ...REF_DEFAULT_RULES, ...rulesIn };
  const ms = (s: number) => s * 1000;
  const absorbAtMark = opts.absorbSize === 'atMark';
  const newestEntryTie = opts.markTie === 'newestEntry';

  // reading 4: stable sort by time, then kind rank
  const evs = events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.t - b.e.t || KIND_ORDER[a.e.kind] - KIND_ORDER[b.e.kind] || a.i - b.i)
    .map((x) => x.e);

  const parties: State[] = []; // in order of entry
  const staffpasses: number[] = []; // pending staffpass times, oldest first
  const leads: LeadGreet[] = []; // waiting lead greets, oldest first
  let orphans = 0;
  let lastCustomerIn: { t: number; party: State } | undefined;
  let markSeq = 0;

  const isOpenUngreeted = (p: State) => p.greetMs === undefined && p.closed === undefined;

  /** closes everything whose deadline D satisfies D < t (strict) or D ≤ t (inclusive) */
  const settle = (t: number, inclusive: boolean) => {
    const due = (d: number) => (inclusive ? d <= t : d < t);
    for (const p of parties) {
      if (!isOpenUngreeted(p)) continue;
      if (p.markMs !== undefined) {
        if (due(p.markMs + ms(r.walkoutConfirmS))) p.closed = p.markMs - p.entryMs <= ms(r.shortAbandonS) ? 'shortWalkout' : 'walkout';
      } else if (due(p.entryMs + ms(r.expireS))) {
        p.closed = 'missed';
      }
    }
    for (let i = leads.length - 1; i >= 0; i--) {
      const g = leads[i]!;
      if (due(g.t + ms(r.greetLeadS))) {
        leads.splice(i, 1);
        orphans++;
      }
    }
  };

  /** reading 6: is this crossing a staff crossing? consumes the oldest pending staffpass */
  const staffCrossing = (t: number): boolean => {
    for (let i = 0; i < staffpasses.length; i++) {
      const sp = staffpasses[i]!;
      if (t - sp <= ms(r.staffPassS)) {
        staffpasses.splice(i, 1);
        return true;
      }
    }
    return false;
  };

  const greetParty = (p: State, t: number, staff: string | undefined, lead: boolean) => {
    p.greetMs = t;
    p.ttgMs = lead ? 0 : Math.max(0, t - p.entryMs);
    if (staff !== undefined) p.staff = staff;
    delete p.markMs; // reading 9: a greeted party loses its mark
    if (opts.absorbAfterGreet === 'stop') delete p.absorbFromMs;
  };

  for (const e of evs) {
    settle(e.t, false);
    switch (e.kind) {
      case 'staffpass':
        staffpasses.push(e.t);
        break;
      case 'in': {
        if (staffCrossing(e.t)) break;
        if (lastCustomerIn && e.t - lastCustomerIn.t <= ms(r.groupWindowS)) {
          lastCustomerIn.party.size++;
          lastCustomerIn = { t: e.t, party: lastCustomerIn.party };
          break;
        }
        const p: State = { entryMs: e.t, size: 1, absorbed: 0 };
        parties.push(p);
        lastCustomerIn = { t: e.t, party: p };
        const lead = leads.find((g) => e.t - g.t <= ms(r.greetLeadS));
        if (lead) {
          leads.splice(leads.indexOf(lead), 1);
          greetParty(p, e.t, lead.staff, true);
        }
        break;
      }
      case 'out': {
        if (staffCrossing(e.t)) break;
        // reading 8: absorption by a party marked within groupWindowS before
        const absorber = parties
          .filter((p) => p.absorbFromMs !== undefined && e.t - p.absorbFromMs <= ms(r.groupWindowS) && p.absorbed < (absorbAtMark ? p.sizeAtMark! : p.size) - 1)
          .sort((a, b) => a.absorbFromMs! - b.absorbFromMs! || a.markSeq! - b.markSeq!)[0];
        if (absorber) {
          absorber.absorbed++;
          break;
        }
        let target: State | undefined;
        for (const p of parties) {
          if (isOpenUngreeted(p) && p.markMs === undefined && e.t - p.entryMs <= ms(r.walkoutWindowS)) target = p; // latest wins
        }
        if (target) {
          target.markMs = e.t;
          target.markSeq = ++markSeq;
          target.absorbFromMs = e.t;
          target.absorbed = 0;
          target.sizeAtMark = target.size;
        }
        // else: a greeted customer leaving
        break;
      }
      case 'greet': {
        const open = parties.filter(isOpenUngreeted);
        const unmarked = open.filter((p) => p.markMs === undefined);
        let target = unmarked.find((p) => e.t - p.entryMs <= ms(r.greetHorizonS)); // oldest first
        if (!target) target = unmarked[unmarked.length - 1];
        if (!target && open.length > 0) {
          target = [...open].sort(
            (a, b) => b.markMs! - a.markMs! || (newestEntryTie ? b.entryMs - a.entryMs : b.markSeq! - a.markSeq!),
          )[0];
        }
        if (target) greetParty(target, e.t, e.staff, false);
        else leads.push(e.staff !== undefined ? { t: e.t, staff: e.staff } : { t: e.t });
        break;
      }
      case 'presence': {
        if (e.zone === undefined || !r.stepsLineZones.includes(e.zone)) break;
        const target = parties.find((p) => isOpenUngreeted(p) && e.t - p.entryMs >= ms(r.minTransitS));
        if (target && target.breachMs === undefined) target.breachMs = e.t;
        break;
      }
    }
  }
  const last = evs[evs.length - 1];
  if (last) settle(last.t, (opts.deadlineAtEnd ?? 'fire') === 'fire');

  const out: RefParty[] = parties.map((p) => {
    let outcome: RefOutcome;
    if (p.greetMs !== undefined) {
      const breachedBefore = p.breachMs !== undefined && p.breachMs <= p.greetMs;
      outcome = p.ttgMs! <= ms(r.greetWithinS) && !breachedBefore ? 'met' : 'late';
    } else outcome = p.closed ?? 'pending';
    const rp: RefParty = { entryMs: p.entryMs, size: p.size, outcome };
    if (p.ttgMs !== undefined) rp.ttgMs = p.ttgMs;
    if (p.staff !== undefined) rp.staff = p.staff;
    return rp;
  });
  const n = (o: RefOutcome) => out.filter((p) => p.outcome === o).length;
  const counts: RefCounts = {
    visits: 0,
    met: n('met'),
    late: n('late'),
    walkouts: n('walkout'),
    shortWalkouts: n('shortWalkout'),
    missed: n('missed'),
    pending: n('pending'),
    orphanGreets: orphans,
  };
  counts.visits = counts.met + counts.late + counts.walkouts + counts.shortWalkouts + counts.missed;
  return { parties: out, orphanGreets: orphans, counts };
}

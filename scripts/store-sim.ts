import type { GwEvent } from '../contract/index.ts';
import { sourceOf } from '../contract/index.ts';
import type { Rules } from '../firmware-config/schema.ts';
import { storeTimeZone } from '../hub/engine/store-zone.ts';
import { mulberry32 } from './shopper-sim.ts';

// A deterministic store-day simulator for fixtures, accuracy tests, benchmarks and the
// demo's seeded history (scripts/seed-history.ts); tests import it as test/helpers/store-sim.ts.
//
// It plays out what really happens in a store (customers in parties, staff greeting,
// people walking past the steps line, walkouts, staff crossings, orphan greets) in
// true time, turns it into the contract CloudEvents three nodes would send
// (door: beam pair + staffpass button; counter: greet buttons; floor: steps-line PIR),
// and then delivers them the way a hub would record them: each node's clock is skewed,
// each event has a small network delay, optional QoS1 duplicates, optional
// out-of-order delivery and an optional node outage whose events are buffered on the
// node and flushed in order when it comes back. Output: the trace lines (arrival
// order, each with `recvtime`) and the ground truth: each party's true outcome under
// the definitions of CONTRACT.md "Visits and outcomes", computed from what happened,
// not from the events.
//
// Everything random comes from seeded mulberry32 streams (no dependency): one for
// behaviour, one for transport, one for ids, so a trace with an outage has the same
// customers as the same day without it.

// ---------------------------------------------------------------------------
// PRNG

export type Rng = () => number;

export { mulberry32 };

class Draw {
  constructor(readonly next: Rng) {}
  uniform(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** exponential with the given mean */
  exp(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }
  normal(): number {
    // Box–Muller; 1 − u keeps log away from 0
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }
  /** index drawn by weight */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((s, w) => s + w, 0);
    let u = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i]!;
      if (u < 0) return i;
    }
    return weights.length - 1;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

// ---------------------------------------------------------------------------
// Options

export interface Behaviour {
  /** weights of party sizes 1, 2, 3, 4 */
  partySize: readonly number[];
  /** total time over which the members of a party cross (s); members are ≥ 0.3 s apart */
  memberSpreadS: readonly [number, number];
  /** chance the greet comes up to 1 s before the party's entry (staff at the door) */
  pGreetLead: number;
  /** chance of a greet within greetWithinS; its delay is lognormal (median, sigma), clamped to [1, 29] s */
  pQuick: number;
  quickMedianS: number;
  quickSigma: number;
  /** chance of a greet 30–90 s after entry */
  pSlow: number;
  slowS: readonly [number, number];
  // the rest are never greeted
  /** chance a party turns round at once (a short abandon), 1.5–4.5 s after entry */
  pShortAbandon: number;
  /** chance a party gives up waiting: leaves ungreeted after its patience (s) */
  pImpatient: number;
  patienceS: readonly [number, number];
  /** chance an ungreeted party walks past the steps line, this long after entry (s) */
  pWander: number;
  wanderS: readonly [number, number];
  /** chance a greeted party walks past the steps line while browsing */
  pBrowseCross: number;
  /** time in the store after the greet: lognormal median (s), sigma, clamped */
  browseMedianS: number;
  browseSigma: number;
  browseS: readonly [number, number];
  /** never-greeted parties that do not give up leave after this long (s) */
  unservedStayS: readonly [number, number];
  /** staff breaks (staffpass + out, later staffpass + in) per hour, store-wide */
  staffBreaksPerHour: number;
  breakS: readonly [number, number];
  /** chance a staff member forgets the staffpass before crossing */
  pForgetStaffPass: number;
  /** greets pressed with no customer waiting (tests, mistakes) per hour */
  orphanGreetsPerHour: number;
  /** chance a greet comes from the shared counter button (no staff id) instead of a personal one */
  pAnonymousButton: number;
  /** a PIR stays `on` this long after the last motion (s) */
  pirHoldS: number;
  /** staff walking across the steps line per hour (false breaches) */
  staffFloorWalksPerHour: number;
  /** minimum time between two crossings of the beam pair (one lane), ms */
  beamLaneMs: number;
}

export const defaultBehaviour: Behaviour = {
  partySize: [0.55, 0.3, 0.1, 0.05],
  memberSpreadS: [0.5, 2],
  pGreetLead: 0.03,
  pQuick: 0.74,
  quickMedianS: 10,
  quickSigma: 0.55,
  pSlow: 0.16,
  slowS: [31, 90],
  pShortAbandon: 0.03,
  pImpatient: 0.1,
  patienceS: [15, 110],
  pWander: 0.2,
  wanderS: [6, 40],
  pBrowseCross: 0.3,
  browseMedianS: 420,
  browseSigma: 0.6,
  browseS: [60, 1800],
  unservedStayS: [150, 900],
  staffBreaksPerHour: 0.5,
  breakS: [300, 1200],
  pForgetStaffPass: 0,
  orphanGreetsPerHour: 0.4,
  pAnonymousButton: 0.1,
  pirHoldS: 6,
  staffFloorWalksPerHour: 0,
  beamLaneMs: 300,
};

export interface Outage {
  node: string;
  /** store-local time of the first day when the node loses the broker, "HH:MM" or "HH:MM:SS" */
  at: string;
  durationS: number;
  /** events sent this long before the outage are not acknowledged and are sent again at the flush (QoS1), ms */
  unackedMs?: number;
}

export interface Transport {
  /** node clock − true time, ms (a node without NTP); missing nodes have 0 */
  skewMs: Readonly<Record<string, number>>;
  /** network delay = min + exponential(mean), whole ms */
  delayMinMs: number;
  delayMeanMs: number;
  /** QoS1 redeliveries: a copy arrives this much later */
  duplicates: { p: number; afterMs: readonly [number, number] };
  /** out-of-order delivery: an event is held back by up to maxMs (keep below reorderS) */
  reorder: { p: number; maxMs: number };
  outage?: Outage;
}

export const defaultTransport: Transport = {
  skewMs: { door: 3_200, counter: -7_450, floor: 9_100 },
  delayMinMs: 1,
  delayMeanMs: 3,
  duplicates: { p: 0, afterMs: [200, 30_000] },
  reorder: { p: 0, maxMs: 60_000 },
};

export interface SimOptions {
  seed: number;
  store: string;
  timezone: string;
  /** first store-local day, YYYY-MM-DD */
  date: string;
  days?: number;
  /** store-local window in which customers arrive each day, "HH:MM" */
  arrivals: { from: string; to: string };
  /** parties per hour at store-local hours (fractional), linear in between, flat beyond the ends */
  rate: readonly (readonly [hour: number, perHour: number])[];
  /** the store's rules: truth is judged by the same thresholds the engine uses */
  rules: Rules;
  staff: readonly string[];
  /** node ids: door (beam pair + staffpass), counter (greet buttons), floor (steps-line PIR) */
  nodes?: { door: string; counter: string; floor: string };
  /** device ids: must match the store config */
  devices?: { beam: string; staffpass: string; pir: string; zone: string; counterButton: string; staffButton: (staff: string) => string };
  behaviour?: Partial<Behaviour>;
  transport?: Partial<Transport>;
  /** false: skip the JSON lines (benchmarks use `messages`), default true */
  lines?: boolean;
}

// ---------------------------------------------------------------------------
// Results

export type TrueOutcome = 'met' | 'late' | 'walkout' | 'shortWalkout' | 'missed';

export interface TruthParty {
  /** true time of the first `in` (ms) */
  entryMs: number;
  size: number;
  outcome: TrueOutcome;
  ttgMs?: number;
  staff?: string;
  greetMs?: number;
  /** first steps-line crossing before the greet */
  breachMs?: number;
  /** first `out` of the party */
  leaveMs?: number;
}

export interface TruthCounts {
  visits: number;
  met: number;
  late: number;
  walkouts: number;
  shortWalkouts: number;
  missed: number;
  serviceLevel: number | null;
  serviceLevelStrict: number | null;
  /** mean TTG of greeted parties (s, ms precision) */
  asgS: number | null;
}

export interface Truth extends TruthCounts {
  parties: TruthParty[];
  /** people (not parties) who came in */
  customers: number;
  orphanGreets: number;
  staffCrossings: number;
  /** parties whose first `in` came within groupWindowS of the previous party's last `in` (the engine sees one party) */
  adjacentArrivals: number;
  events: number;
  duplicates: number;
  reordered: number;
  /** events the outage held back */
  outageBuffered: number;
  /** largest arrival lateness (recv − true time), ms */
  maxLatenessMs: number;
  firstMs: number;
  lastMs: number;
}

export interface SimMessage {
  ev: GwEvent;
  recvMs: number;
}

export interface SimResult {
  /** arrival order, one JSON per line with recvtime (empty when `lines: false`) */
  lines: string[];
  messages: SimMessage[];
  truth: Truth;
}

// ---------------------------------------------------------------------------
// Simulation

interface Crossing {
  t: number;
  dir: 'in' | 'out';
  staff: boolean;
}

interface PartyRec {
  size: number;
  ins: Crossing[];
  outs: Crossing[];
  greetT?: number;
  staff?: string;
  /** when the party crosses the steps line while still ungreeted (true time) */
  wanderT?: number;
}

type Raw =
  | { node: 'door'; t: number; type: 'greetwatch.entry.v1'; c: Crossing }
  | { node: 'door'; t: number; type: 'greetwatch.staffpass.v1'; staff: string }
  | { node: 'counter'; t: number; type: 'greetwatch.greet.v1'; staff: string; anonymous: boolean }
  | { node: 'floor'; t: number; type: 'greetwatch.presence.v1'; on: boolean };

function hhmm(s: string): number {
  const [h, m, sec] = s.split(':').map(Number);
  return ((h ?? 0) * 60 + (m ?? 0)) * 60 + (sec ?? 0);
}

function rateAt(profile: SimOptions['rate'], hour: number): number {
  const first = profile[0];
  if (!first) return 0;
  if (hour <= first[0]) return first[1];
  for (let i = 1; i < profile.length; i++) {
    const [h1, r1] = profile[i]!;
    const [h0, r0] = profile[i - 1]!;
    if (hour <= h1) return r0 + ((r1 - r0) * (hour - h0)) / (h1 - h0);
  }
  return profile[profile.length - 1]![1];
}

export function simulateStore(opts: SimOptions): SimResult {
  const B: Behaviour = { ...defaultBehaviour, ...opts.behaviour };
  const T: Transport = { ...defaultTransport, ...opts.transport };
  const nodes = opts.nodes ?? { door: 'door', counter: 'counter', floor: 'floor' };
  const dev = opts.devices ?? {
    beam: 'front-beam',
    staffpass: 'door-pass',
    pir: 'mid-pir',
    zone: 'floor-mid',
    counterButton: 'counter-btn',
    staffButton: (s: string) => `greet-${s}`,
  };
  const R = opts.rules;
  const tz = storeTimeZone(opts.timezone);
  const [y, mo, d] = opts.date.split('-').map(Number) as [number, number, number];
  const days = opts.days ?? 1;

  const rnd = new Draw(mulberry32(opts.seed));
  const net = new Draw(mulberry32(opts.seed ^ 0x9e3779b9));
  const ids = new Draw(mulberry32(opts.seed ^ 0x85ebca6b));

  const parties: PartyRec[] = [];
  const crossings: Crossing[] = [];
  const staffPasses: { t: number; staff: string }[] = [];
  const greets: { t: number; staff: string; anonymous: boolean }[] = [];
  const motions: number[] = [];
  let orphanGreets = 0;
  let staffCrossings = 0;
  let lastOfAll = -Infinity;
  const dayEnds: number[] = [];

  const greeter = () => rnd.pick(opts.staff);
  const staffCross = (t: number, dir: 'in' | 'out', who: string) => {
    const forget = rnd.chance(B.pForgetStaffPass);
    if (!forget) staffPasses.push({ t, staff: who });
    const c: Crossing = { t: t + rnd.uniform(1_000, 6_000), dir, staff: true };
    crossings.push(c);
    staffCrossings++;
    return c;
  };
  const members = (start: number, size: number, dir: 'in' | 'out'): Crossing[] => {
    const spread = size > 1 ? rnd.uniform(B.memberSpreadS[0], B.memberSpreadS[1]) * 1000 : 0;
    const offs = [0, ...Array.from({ length: size - 1 }, () => rnd.uniform(0, spread))].sort((a, b) => a - b);
    for (let i = 1; i < offs.length; i++) offs[i] = Math.max(offs[i]!, offs[i - 1]! + 300);
    const out = offs.map((o) => ({ t: start + o, dir, staff: false }));
    crossings.push(...out);
    return out;
  };

  for (let day = 0; day < days; day++) {
    const dayStart = tz.fromLocal(y, mo, d + day);
    const from = dayStart + hhmm(opts.arrivals.from) * 1000;
    const to = dayStart + hhmm(opts.arrivals.to) * 1000;
    const maxRate = Math.max(...opts.rate.map((r) => r[1]));
    const dayParties: PartyRec[] = [];

    // customers: a Poisson process thinned to the rate profile; not in the first 10 s
    for (let t = from + 10_000; ; ) {
      t += rnd.exp(3_600_000 / maxRate);
      if (t >= to - 5_000) break;
      const hour = (t - dayStart) / 3_600_000;
      if (!rnd.chance(rateAt(opts.rate, hour) / maxRate)) continue;
      const p = simulateParty(t);
      dayParties.push(p);
    }
    parties.push(...dayParties);

    // staff breaks: staffpass + out, back later with staffpass + in
    for (let t = from; ; ) {
      t += rnd.exp(3_600_000 / Math.max(B.staffBreaksPerHour, 1e-9));
      if (t >= to) break;
      const who = greeter();
      staffCross(t, 'out', who);
      staffCross(t + rnd.uniform(B.breakS[0], B.breakS[1]) * 1000, 'in', who);
    }

    // staff walking across the steps line
    for (let t = from; ; ) {
      t += rnd.exp(3_600_000 / Math.max(B.staffFloorWalksPerHour, 1e-9));
      if (t >= to) break;
      motions.push(t);
    }

    // orphan greets: only when no customer is waiting in truth (else it would be a real greet for someone)
    const quietFor = (t: number) =>
      dayParties.every((p) => {
        const entry = p.ins[0]!.t;
        if (entry > t + (R.greetLeadS + 2) * 1000) return true;
        if (entry < t - (R.expireS + R.walkoutConfirmS + 10) * 1000) return true;
        return p.greetT !== undefined && p.greetT < t - 1000;
      });
    for (let t = from; ; ) {
      t += rnd.exp(3_600_000 / Math.max(B.orphanGreetsPerHour, 1e-9));
      if (t >= to) break;
      if (!quietFor(t)) continue;
      greets.push({ t, staff: greeter(), anonymous: rnd.chance(B.pAnonymousButton) });
      orphanGreets++;
    }

    dayEnds.push(to);
  }

  function simulateParty(a: number): PartyRec {
    const size = rnd.weighted(B.partySize) + 1;
    const p: PartyRec = { size, ins: members(a, size, 'in'), outs: [] };
    const lastIn = p.ins[p.ins.length - 1]!.t;
    if (rnd.chance(B.pShortAbandon)) {
      const leave = Math.max(a + rnd.uniform(1_500, 4_500), lastIn + 800);
      p.outs = members(leave, size, 'out');
      return p;
    }
    const g = rnd.weighted([B.pGreetLead, B.pQuick, B.pSlow, Math.max(0, 1 - B.pGreetLead - B.pQuick - B.pSlow)]);
    const greetAfter =
      g === 0 ? -rnd.uniform(200, 1_000)
      : g === 1 ? clamp(rnd.lognormal(B.quickMedianS, B.quickSigma), 1, 29) * 1000
      : g === 2 ? rnd.uniform(B.slowS[0], B.slowS[1]) * 1000
      : Infinity;
    const patience = rnd.chance(B.pImpatient) ? rnd.uniform(B.patienceS[0], B.patienceS[1]) * 1000 : Infinity;
    const wander = rnd.chance(B.pWander) ? rnd.uniform(B.wanderS[0], B.wanderS[1]) * 1000 : Infinity;
    if (greetAfter < patience) {
      const gt = a + greetAfter;
      p.greetT = gt;
      const anonymous = rnd.chance(B.pAnonymousButton);
      const who = greeter();
      if (!anonymous) p.staff = who;
      greets.push({ t: gt, staff: who, anonymous });
      const browse = clamp(rnd.lognormal(B.browseMedianS, B.browseSigma), B.browseS[0], B.browseS[1]) * 1000;
      const leave = Math.max(gt, lastIn) + browse;
      if (wander < greetAfter) {
        p.wanderT = a + wander;
        motions.push(a + wander);
      }
      if (rnd.chance(B.pBrowseCross)) motions.push(Math.max(gt, lastIn) + rnd.uniform(5_000, Math.max(6_000, Math.min(browse - 5_000, 120_000))));
      p.outs = members(leave, size, 'out');
      return p;
    }
    const leave = patience < Infinity ? Math.max(a + patience, lastIn + 800) : a + rnd.uniform(B.unservedStayS[0], B.unservedStayS[1]) * 1000;
    if (a + wander < leave) {
      p.wanderT = a + wander;
      motions.push(a + wander);
    }
    p.outs = members(leave, size, 'out');
    return p;
  }

  // one lane at the beam pair: a crossing waits until the previous one has cleared it
  crossings.sort((a, b) => a.t - b.t);
  for (let i = 1; i < crossings.length; i++) {
    const prev = crossings[i - 1]!;
    if (crossings[i]!.t < prev.t + B.beamLaneMs) crossings[i]!.t = prev.t + B.beamLaneMs;
  }
  for (const c of crossings) c.t = Math.round(c.t);
  for (const g of greets) g.t = Math.round(g.t);

  // end of each day: the last staff member leaves, after every party has settled
  // (so nothing is pending when the trace ends)
  for (const c of crossings) lastOfAll = Math.max(lastOfAll, c.t);
  for (const p of parties) lastOfAll = Math.max(lastOfAll, p.ins[0]!.t + (R.expireS + 5) * 1000);
  for (const [i, to] of dayEnds.entries()) {
    const dayLast = Math.max(
      to,
      ...parties.filter((p) => p.ins[0]!.t < to && p.ins[0]!.t >= (dayEnds[i - 1] ?? -Infinity)).flatMap((p) => [p.outs[p.outs.length - 1]?.t ?? 0, p.ins[0]!.t + (R.expireS + R.walkoutConfirmS + 5) * 1000]),
    );
    const t = Math.round(dayLast + rnd.uniform(30_000, 90_000));
    staffPasses.push({ t, staff: opts.staff[0] ?? 'staff' });
    const c: Crossing = { t: t + 2_000, dir: 'out', staff: true };
    crossings.push(c);
    staffCrossings++;
    lastOfAll = Math.max(lastOfAll, c.t);
  }
  crossings.sort((a, b) => a.t - b.t);

  // the PIR: `on` at the first motion, `off` pirHoldS after the last one
  motions.sort((a, b) => a - b);
  const pir: { t: number; on: boolean }[] = [];
  let offAt = -Infinity;
  for (const m of motions) {
    const t = Math.round(m);
    if (t > offAt) {
      if (Number.isFinite(offAt)) pir.push({ t: offAt, on: false });
      pir.push({ t, on: true });
    }
    offAt = t + B.pirHoldS * 1000;
  }
  if (Number.isFinite(offAt)) pir.push({ t: offAt, on: false });

  // ---- ground truth (CONTRACT.md "Visits and outcomes", judged from what happened)
  const truthParties: TruthParty[] = parties.map((p) => judge(p, R));
  truthParties.sort((a, b) => a.entryMs - b.entryMs);
  let adjacentArrivals = 0;
  {
    const byEntry = [...parties].sort((a, b) => a.ins[0]!.t - b.ins[0]!.t);
    for (let i = 1; i < byEntry.length; i++) {
      const prevLast = byEntry[i - 1]!.ins[byEntry[i - 1]!.ins.length - 1]!.t;
      if (byEntry[i]!.ins[0]!.t - prevLast <= R.groupWindowS * 1000) adjacentArrivals++;
    }
  }

  // ---- events in true time
  const raw: Raw[] = [
    ...crossings.map((c): Raw => ({ node: 'door', t: c.t, type: 'greetwatch.entry.v1', c })),
    ...staffPasses.map((s): Raw => ({ node: 'door', t: Math.round(s.t), type: 'greetwatch.staffpass.v1', staff: s.staff })),
    ...greets.map((g): Raw => ({ node: 'counter', t: g.t, type: 'greetwatch.greet.v1', staff: g.staff, anonymous: g.anonymous })),
    ...pir.map((p): Raw => ({ node: 'floor', t: p.t, type: 'greetwatch.presence.v1', on: p.on })),
  ];
  // stable sort by true time; same-time ties in a fixed order
  raw.sort((a, b) => a.t - b.t);

  // ---- nodes: clock, envelope, seq
  const nodeIds = { door: nodes.door, counter: nodes.counter, floor: nodes.floor };
  const bootOf = new Map<string, string>();
  const seqOf = new Map<string, number>();
  const alnum = 'abcdefghijklmnopqrstuvwxyz0123456789';
  for (const n of Object.values(nodeIds)) bootOf.set(n, Array.from({ length: 6 }, () => alnum[Math.floor(ids.next() * 36)]).join(''));

  interface Sent {
    ev: GwEvent;
    node: string;
    trueMs: number;
    order: number;
  }
  const sent: Sent[] = raw.map((r, order) => {
    const node = nodeIds[r.node];
    const seq = (seqOf.get(node) ?? 0) + 1;
    seqOf.set(node, seq);
    const nodeMs = r.t + (T.skewMs[node] ?? 0);
    const base = {
      specversion: '1.0' as const,
      id: ulid(nodeMs, ids),
      source: sourceOf(opts.store, node),
      time: new Date(nodeMs).toISOString(),
      bootid: bootOf.get(node)!,
      seq,
      datacontenttype: 'application/json' as const,
    };
    let ev: GwEvent;
    switch (r.type) {
      case 'greetwatch.entry.v1':
        ev = { ...base, type: r.type, data: { sensor: dev.beam, direction: r.c.dir } };
        break;
      case 'greetwatch.staffpass.v1':
        ev = { ...base, type: r.type, data: { button: dev.staffpass, staff: r.staff } };
        break;
      case 'greetwatch.greet.v1':
        ev = { ...base, type: r.type, data: r.anonymous ? { button: dev.counterButton } : { button: dev.staffButton(r.staff), staff: r.staff } };
        break;
      case 'greetwatch.presence.v1':
        ev = { ...base, type: r.type, data: { sensor: dev.pir, zone: dev.zone, state: r.on ? 'on' : 'off' } };
        break;
    }
    return { ev, node, trueMs: r.t, order };
  });

  // ---- delivery
  const outage = T.outage;
  const firstDay = tz.fromLocal(y, mo, d);
  const outStart = outage ? firstDay + hhmm(outage.at) * 1000 : Infinity;
  const outEnd = outage ? outStart + outage.durationS * 1000 : -Infinity;
  const unacked = outage?.unackedMs ?? 2_000;
  const delay = () => T.delayMinMs + Math.floor(net.exp(T.delayMeanMs));
  const msgs: { s: Sent; recvMs: number; copy: number }[] = [];
  const lastRecv = new Map<string, number>();
  let duplicates = 0;
  let reordered = 0;
  let outageBuffered = 0;
  let flushIndex = 0;
  for (const s of sent) {
    let recv: number;
    const inOutage = outage !== undefined && s.node === outage.node && s.trueMs >= outStart && s.trueMs < outEnd;
    if (inOutage) {
      // buffered on the node, sent in order when it reconnects, one every 2 ms
      recv = outEnd + 2 * flushIndex++ + delay();
      outageBuffered++;
    } else {
      recv = s.trueMs + delay();
    }
    const held = !inOutage && net.chance(T.reorder.p);
    if (held) {
      recv += Math.floor(net.uniform(0, T.reorder.maxMs));
      reordered++;
    } else {
      // one TCP connection per node: in-order events arrive in order
      recv = Math.max(recv, lastRecv.get(s.node) ?? -Infinity);
      lastRecv.set(s.node, recv);
    }
    msgs.push({ s, recvMs: recv, copy: 0 });
    if (outage && s.node === outage.node && s.trueMs >= outStart - unacked && s.trueMs < outStart) {
      // published just before the link dropped, PUBACK lost: sent again first thing at the flush
      msgs.push({ s, recvMs: outEnd + delay(), copy: 1 });
      duplicates++;
    }
    if (net.chance(T.duplicates.p)) {
      msgs.push({ s, recvMs: recv + Math.floor(net.uniform(T.duplicates.afterMs[0], T.duplicates.afterMs[1])), copy: 1 });
      duplicates++;
    }
  }
  msgs.sort((a, b) => a.recvMs - b.recvMs || a.s.order - b.s.order || a.copy - b.copy);
  let maxLateness = 0;
  for (const m of msgs) maxLateness = Math.max(maxLateness, m.recvMs - m.s.trueMs);

  const messages: SimMessage[] = msgs.map((m) => ({ ev: m.s.ev, recvMs: m.recvMs }));
  const lines = opts.lines === false ? [] : messages.map((m) => JSON.stringify({ ...m.ev, recvtime: new Date(m.recvMs).toISOString() }));

  return {
    lines,
    messages,
    truth: {
      ...summarize(truthParties),
      parties: truthParties,
      customers: parties.reduce((s, p) => s + p.size, 0),
      orphanGreets,
      staffCrossings,
      adjacentArrivals,
      events: sent.length,
      duplicates,
      reordered,
      outageBuffered,
      maxLatenessMs: maxLateness,
      firstMs: raw[0]?.t ?? 0,
      lastMs: Math.max(lastOfAll, raw[raw.length - 1]?.t ?? 0),
    },
  };
}

/** A party's outcome from what really happened, by the contract's definitions and the store's thresholds. */
function judge(p: PartyRec, R: Rules): TruthParty {
  const entryMs = p.ins[0]!.t;
  const leaveMs = p.outs[0]?.t;
  const base: TruthParty = { entryMs, size: p.size, outcome: 'missed' };
  if (leaveMs !== undefined) base.leaveMs = leaveMs;
  if (p.greetT !== undefined) {
    const greetMs = Math.round(p.greetT);
    const ttgMs = Math.max(0, greetMs - entryMs);
    base.greetMs = greetMs;
    base.ttgMs = ttgMs;
    if (p.staff !== undefined) base.staff = p.staff;
    // a steps-line crossing counts once the party is minTransitS in, and only before the greet
    const breach = p.wanderT !== undefined && p.wanderT - entryMs >= R.minTransitS * 1000 && p.wanderT < greetMs ? Math.round(p.wanderT) : undefined;
    if (breach !== undefined) base.breachMs = breach;
    base.outcome = ttgMs > R.expireS * 1000 ? 'missed' : ttgMs <= R.greetWithinS * 1000 && breach === undefined ? 'met' : 'late';
    return base;
  }
  if (leaveMs !== undefined && leaveMs - entryMs <= R.walkoutWindowS * 1000) {
    base.outcome = leaveMs - entryMs <= R.shortAbandonS * 1000 ? 'shortWalkout' : 'walkout';
  }
  return base;
}

export function summarize(parties: readonly TruthParty[]): TruthCounts {
  const c = { met: 0, late: 0, walkouts: 0, shortWalkouts: 0, missed: 0 };
  let ttgSum = 0;
  let greeted = 0;
  for (const p of parties) {
    if (p.outcome === 'walkout') c.walkouts++;
    else if (p.outcome === 'shortWalkout') c.shortWalkouts++;
    else c[p.outcome]++;
    if ((p.outcome === 'met' || p.outcome === 'late') && p.ttgMs !== undefined) {
      ttgSum += p.ttgMs;
      greeted++;
    }
  }
  const visits = c.met + c.late + c.walkouts + c.shortWalkouts + c.missed;
  const denom = visits - c.shortWalkouts;
  return {
    visits,
    ...c,
    serviceLevel: denom > 0 ? c.met / denom : null,
    serviceLevelStrict: visits > 0 ? c.met / visits : null,
    asgS: greeted > 0 ? Math.round(ttgSum / greeted) / 1000 : null,
  };
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID (as edge nodes use for `id`) from a time and the id stream. */
function ulid(ms: number, d: Draw): string {
  return ulidAt(ms, () => d.next());
}

/** A canonical ULID of time `ms`, its 80 random bits from `rand` (deterministic, unlike the ulid package). */
export function ulidAt(ms: number, rand: Rng): string {
  let time = '';
  let t = Math.max(0, Math.floor(ms));
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  let random = '';
  for (let i = 0; i < 16; i++) random += CROCKFORD[Math.floor(rand() * 32)]!;
  return time + random;
}

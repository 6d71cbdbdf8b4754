import type { Logger } from 'pino';
import type { Node as NodeConfig } from '../firmware-config/schema.ts';
import { asSimInput, SimDistanceInput, type SimDigitalInput } from '../edge/drivers/sim.ts';
import type { Bit } from '../edge/io.ts';
import { inputKeys, systemClock, type Clock, type DigitalInput, type DistanceInput } from '../edge/io.ts';

// A simulated store for the demo and for tests: it toggles the sim inputs of a store's
// edge agents the way people would. Customers arrive at random (Poisson), sometimes in
// groups of 2–3 crossing within 1–2 s; staff press a greet button after a random delay
// (most within 30 s, some 30–60 s, some never); some customers walk past the steps-line
// PIR before being greeted; some walk out ungreeted; greeted ones leave after browsing;
// now and then a staff member presses the staffpass button and then crosses; now and then
// someone breaks the outer beam and turns away (no event). Everything random comes from
// one seedable RNG and all timing from setTimeout, so a seed plus vitest fake timers
// gives the same input sequence every run.
//
// `goodStoreProfile` is the demo's store (`npm start`): staff who mostly keep the 30/30
// rule, so the engine finds a service level of about 80 % (test/unit/demo-day.test.ts),
// with a few late greets, steps-line breaches, walkouts, short walkouts and missed parties.
//
// The beam pair cannot tell two people inside it at once apart, so crossings share one
// "lane": a crossing waits until the previous one has cleared both beams.

/** What the simulator needs of an agent (EdgeAgent has both). */
export interface SimNode {
  readonly config: NodeConfig;
  readonly inputs: ReadonlyMap<string, DigitalInput>;
  readonly distances?: ReadonlyMap<string, DistanceInput>;
}

/** What the simulator sets: a sim input, or a distance sensor seen as near/far. */
type Level = Pick<SimDigitalInput, 'read' | 'set'>;

/** A simulated person in front of a distance sensor: enough readings to move its median filter. */
function distanceLevel(d: SimDistanceInput, cfg: { onCm: number; offCm: number; medianOf: number }): Level {
  let level: Bit = 0;
  return {
    read: () => level,
    set(v) {
      level = v;
      for (let i = 0; i < cfg.medianOf; i++) d.set(v === 1 ? cfg.onCm / 2 : cfg.offCm * 2);
    },
  };
}

export interface SimProfile {
  /** customer parties per hour */
  arrivalsPerHour: number;
  /** weights of party sizes 1, 2, 3 */
  partySizeWeights: readonly [number, number, number];
  /** gap between members of a party crossing in (ms) */
  memberGapMs: readonly [number, number];
  /** weights of what happens to a party: greeted within 30 s, greeted 30–60 s, never greeted (stays), walks out
   *  ungreeted, turns round at once (a short walkout; absent = 0) */
  planWeights: { onTime: number; late: number; never: number; walkout: number; shortWalkout?: number };
  onTimeGreetS: readonly [number, number];
  lateGreetS: readonly [number, number];
  walkoutAfterS: readonly [number, number];
  /** a short walkout's first member starts back out this long after the last one came in */
  shortWalkoutAfterS: readonly [number, number];
  /** how long a never-greeted party stays (absent: 30–60 s plus stayS) */
  neverStayS?: readonly [number, number];
  /** time in the store after the greet (or after entry if never greeted) before leaving */
  stayS: readonly [number, number];
  /** chance a party walks past the steps-line PIR before its greet */
  stepsLineP: number;
  /** chance a greeted party walks past the steps-line PIR while browsing (the PIR cannot tell whose motion it is) */
  browseStepsLineP: number;
  /** chance a greet comes from a shared (counter) button rather than a staff fob; absent: any greet button alike */
  counterGreetP?: number;
  staffPassesPerHour: number;
  /** people who break the outer beam and turn away, per hour */
  peeksPerHour: number;
  /** chance that a beam flickers (contact bounce, shorter than debounceMs) when broken */
  bounceP: number;
}

export const defaultSimProfile: SimProfile = {
  arrivalsPerHour: 60,
  partySizeWeights: [0.7, 0.2, 0.1],
  memberGapMs: [600, 1000],
  planWeights: { onTime: 0.6, late: 0.2, never: 0.08, walkout: 0.12 },
  onTimeGreetS: [3, 28],
  lateGreetS: [32, 60],
  walkoutAfterS: [8, 45],
  shortWalkoutAfterS: [0.5, 1.8],
  stayS: [60, 300],
  stepsLineP: 0.3,
  browseStepsLineP: 0,
  staffPassesPerHour: 6,
  peeksPerHour: 4,
  bounceP: 0.05,
};

/**
 * A store whose staff mostly keep the 30/30 rule (the demo's): most parties greeted within
 * 30 s, a few late or breached (past the steps line first), a few walk out, some of them at
 * once, and now and then nobody greets a party that stays. Through the engine this comes out
 * at a service level of about 80 % (measured in test/unit/demo-day.test.ts).
 */
export const goodStoreProfile: Partial<SimProfile> = {
  partySizeWeights: [0.65, 0.25, 0.1],
  planWeights: { onTime: 0.835, late: 0.06, never: 0.06, walkout: 0.025, shortWalkout: 0.02 },
  onTimeGreetS: [3, 26],
  lateGreetS: [32, 80],
  walkoutAfterS: [15, 100],
  neverStayS: [150, 900],
  stayS: [120, 900],
  stepsLineP: 0.04,
  browseStepsLineP: 0.15,
  counterGreetP: 0.1,
  staffPassesPerHour: 4,
  peeksPerHour: 4,
};

/** Ground truth of what the simulator did (counted when the physical action completed). */
export interface SimStats {
  parties: number;
  customers: number;
  plannedOnTime: number;
  plannedLate: number;
  plannedNever: number;
  plannedWalkouts: number;
  plannedShortWalkouts: number;
  /** completed crossings through the beam pair (customers and staff) */
  crossingsIn: number;
  crossingsOut: number;
  staffCrossings: number;
  greetPresses: number;
  staffPasses: number;
  /** steps-line PIR on-pulses (overlapping walks retrigger one pulse) */
  presencePulses: number;
  doorOpenings: number;
  peeks: number;
  bounces: number;
}

export interface StoreSimulatorOptions {
  /** the store's agents (or anything with a node config and its inputs) */
  agents: readonly SimNode[];
  /** zones whose PIR marks the steps line (store rules `stepsLineZones`); empty/absent = any presence sensor */
  stepsLineZones?: readonly string[];
  /** shorthand for profile.arrivalsPerHour */
  arrivalsPerHour?: number;
  /** how busy the store is at an instant, as a factor on arrivalsPerHour (lunch and late afternoon > 1) */
  busyness?: (ms: number) => number;
  /** seed for the built-in RNG (default 1) */
  seed?: number;
  /** an RNG in [0, 1) instead of the seeded one */
  rng?: () => number;
  profile?: Partial<SimProfile>;
  clock?: Clock;
  log?: Logger;
}

export interface StoreSimulator {
  start(): void;
  /** cancels everything scheduled; inputs keep their current level */
  stop(): void;
  stats(): SimStats;
}

/** Small seedable PRNG (mulberry32): same seed, same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Beam {
  outer: SimDigitalInput;
  inner: SimDigitalInput;
  minDebounceMs: number;
}

export function createStoreSimulator(opts: StoreSimulatorOptions): StoreSimulator {
  const profile: SimProfile = { ...defaultSimProfile, ...opts.profile };
  if (opts.arrivalsPerHour !== undefined) profile.arrivalsPerHour = opts.arrivalsPerHour;
  const rng = opts.rng ?? mulberry32(opts.seed ?? 1);
  const clock = opts.clock ?? systemClock;
  const log = opts.log?.child({ name: 'demo:shoppers' });

  // --- find the store's inputs
  const input = (n: SimNode, key: string): SimDigitalInput => asSimInput(n.inputs.get(key), `node ${n.config.id}`);
  let beam: Beam | undefined;
  let doorInput: SimDigitalInput | undefined;
  const stepsLine: Level[] = [];
  const greetButtons: SimDigitalInput[] = [];
  const passButtons: SimDigitalInput[] = [];
  // greet buttons again, split: shared ones (no staff member) and personal fobs
  const sharedGreets: SimDigitalInput[] = [];
  const fobGreets: SimDigitalInput[] = [];
  const zones = opts.stepsLineZones && opts.stepsLineZones.length > 0 ? new Set(opts.stepsLineZones) : null;
  for (const n of opts.agents) {
    for (const s of n.config.sensors) {
      if (s.kind === 'beam-pair' && !beam) {
        beam = { outer: input(n, inputKeys.beamOuter(s.id)), inner: input(n, inputKeys.beamInner(s.id)), minDebounceMs: s.debounceMs };
      } else if (s.kind === 'door' && !doorInput) {
        doorInput = input(n, inputKeys.sensor(s.id));
      } else if ((s.kind === 'pir' || s.kind === 'proximity') && (!zones || zones.has(s.zone))) {
        const d = n.distances?.get(inputKeys.sensor(s.id));
        if (s.kind === 'proximity' && d instanceof SimDistanceInput) stepsLine.push(distanceLevel(d, s));
        else stepsLine.push(input(n, inputKeys.sensor(s.id)));
      }
    }
    for (const b of n.config.buttons) {
      const i = input(n, inputKeys.button(b.id));
      (b.action === 'staffpass' ? passButtons : greetButtons).push(i);
      if (b.action === 'greet') (b.staff === undefined ? sharedGreets : fobGreets).push(i);
    }
  }
  if (!beam) throw new Error('simulator: no agent has a beam-pair sensor; customers cannot enter');
  const theBeam = beam;

  const stats: SimStats = {
    parties: 0,
    customers: 0,
    plannedOnTime: 0,
    plannedLate: 0,
    plannedNever: 0,
    plannedWalkouts: 0,
    plannedShortWalkouts: 0,
    crossingsIn: 0,
    crossingsOut: 0,
    staffCrossings: 0,
    greetPresses: 0,
    staffPasses: 0,
    presencePulses: 0,
    doorOpenings: 0,
    peeks: 0,
    bounces: 0,
  };

  // --- scheduling (all timers tracked so stop() cancels everything)
  let running = false;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const at = (delayMs: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (running) fn();
    }, Math.max(0, Math.round(delayMs)));
    timers.add(t);
  };
  const uniform = (r: readonly [number, number]): number => r[0] + rng() * (r[1] - r[0]);
  const expMs = (perHour: number): number => (-Math.log(1 - rng()) * 3_600_000) / perHour;
  const pickIndex = (weights: readonly number[]): number => {
    const total = weights.reduce((a, b) => a + b, 0);
    let x = rng() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i] ?? 0;
      if (x < 0) return i;
    }
    return weights.length - 1;
  };
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(rng() * items.length)];

  // --- door: opens for a crossing, closes 1.5 s after the last one
  let doorCloseTimer: ReturnType<typeof setTimeout> | undefined;
  const doorFor = (busyMs: number): void => {
    if (!doorInput) return;
    if (doorInput.read() === 0) {
      doorInput.set(1);
      stats.doorOpenings++;
    }
    const d = doorInput;
    if (doorCloseTimer !== undefined) {
      clearTimeout(doorCloseTimer);
      timers.delete(doorCloseTimer);
    }
    const t = setTimeout(() => {
      timers.delete(t);
      doorCloseTimer = undefined;
      if (running) d.set(0);
    }, busyMs + 1500);
    timers.add(t);
    doorCloseTimer = t;
  };

  // --- the beam lane
  let laneFreeAt = 0;
  const breakBeam = (b: SimDigitalInput): void => {
    b.set(1);
    if (theBeam.minDebounceMs >= 10 && rng() < profile.bounceP) {
      // a flicker shorter than debounceMs: the debounce must hide it
      stats.bounces++;
      at(2, () => b.set(0));
      at(4, () => b.set(1));
    }
  };
  /** one person through the beam pair: first beam, second beam, first clears, second clears */
  const cross = (dir: 'in' | 'out', who: 'customer' | 'staff'): void => {
    const now = clock.now();
    if (now < laneFreeAt) {
      at(laneFreeAt - now + uniform([50, 300]), () => cross(dir, who));
      return;
    }
    const [first, second] = dir === 'in' ? [theBeam.outer, theBeam.inner] : [theBeam.inner, theBeam.outer];
    const t1 = uniform([80, 200]);
    const t2 = t1 + uniform([100, 250]);
    const t3 = t2 + uniform([80, 200]);
    laneFreeAt = now + t3 + 250;
    doorFor(t3);
    breakBeam(first);
    at(t1, () => breakBeam(second));
    at(t2, () => first.set(0));
    at(t3, () => {
      second.set(0);
      if (dir === 'in') stats.crossingsIn++;
      else stats.crossingsOut++;
      if (who === 'staff') stats.staffCrossings++;
    });
  };
  const peek = (): void => {
    const now = clock.now();
    if (now < laneFreeAt) {
      at(laneFreeAt - now + uniform([50, 300]), peek);
      return;
    }
    const hold = uniform([200, 600]);
    laneFreeAt = now + hold + 250;
    theBeam.outer.set(1);
    at(hold, () => {
      theBeam.outer.set(0);
      stats.peeks++;
    });
  };

  // --- buttons and PIR
  const press = (b: SimDigitalInput, counter: 'greetPresses' | 'staffPasses'): void => {
    if (b.read() === 1) {
      at(400, () => press(b, counter)); // still held from the last press
      return;
    }
    b.set(1);
    stats[counter]++;
    at(uniform([120, 300]), () => b.set(0));
  };
  const pirOffTimers = new Map<Level, ReturnType<typeof setTimeout>>();
  const walkPastStepsLine = (): void => {
    const pir = pick(stepsLine);
    if (!pir) return;
    if (pir.read() === 0) {
      pir.set(1);
      stats.presencePulses++;
    }
    const old = pirOffTimers.get(pir);
    if (old !== undefined) {
      clearTimeout(old);
      timers.delete(old);
    }
    const t = setTimeout(() => {
      timers.delete(t);
      pirOffTimers.delete(pir);
      if (running) pir.set(0);
    }, uniform([2000, 4000]));
    timers.add(t);
    pirOffTimers.set(pir, t);
  };

  // --- people
  const partyCrossing = (size: number, dir: 'in' | 'out'): number => {
    let offset = 0;
    for (let i = 0; i < size; i++) {
      at(offset, () => cross(dir, 'customer'));
      offset += uniform(profile.memberGapMs);
    }
    return offset;
  };

  /** parties per hour now: the rate changes over hours, so the next gap drawn at the current rate is close enough */
  const rateNow = (): number => profile.arrivalsPerHour * Math.max(0.01, opts.busyness?.(clock.now()) ?? 1);
  const plans = ['onTime', 'late', 'never', 'walkout', 'shortWalkout'] as const;
  const pickGreetButton = (): SimDigitalInput | undefined => {
    const p = profile.counterGreetP;
    if (p === undefined || sharedGreets.length === 0 || fobGreets.length === 0) return pick(greetButtons);
    return pick(rng() < p ? sharedGreets : fobGreets);
  };

  const arrive = (): void => {
    at(expMs(rateNow()), arrive);
    const size = pickIndex(profile.partySizeWeights) + 1;
    const w = profile.planWeights;
    // without a short-walkout weight the draws are exactly those of a four-plan profile
    const weights = w.shortWalkout === undefined ? [w.onTime, w.late, w.never, w.walkout] : [w.onTime, w.late, w.never, w.walkout, w.shortWalkout];
    const plan = plans[pickIndex(weights)] ?? 'never';
    stats.parties++;
    stats.customers += size;
    const lastInMs = partyCrossing(size, 'in');
    if (plan === 'shortWalkout') {
      // turns round at once: out again within the contract's shortAbandonS (5 s) of entry
      stats.plannedShortWalkouts++;
      at(lastInMs + uniform(profile.shortWalkoutAfterS) * 1000 + 700, () => partyCrossing(size, 'out'));
      return;
    }
    let greetAtS: number | null = null;
    if (plan === 'onTime') {
      stats.plannedOnTime++;
      greetAtS = uniform(profile.onTimeGreetS);
    } else if (plan === 'late') {
      stats.plannedLate++;
      greetAtS = uniform(profile.lateGreetS);
    } else if (plan === 'never') stats.plannedNever++;
    else stats.plannedWalkouts++;
    log?.debug({ size, plan, greetAtS }, 'party arrives');

    const greetButton = pickGreetButton();
    if (greetAtS !== null && greetButton) at(greetAtS * 1000, () => press(greetButton, 'greetPresses'));
    if (rng() < profile.stepsLineP) {
      // past the steps line before any greet, after the contract's minTransitS (3 s)
      const latestS = greetAtS ?? 40;
      if (latestS > 5) at(uniform([4, latestS - 1]) * 1000, walkPastStepsLine);
    }
    const leaveAtS =
      plan === 'walkout' ? uniform(profile.walkoutAfterS)
      : greetAtS === null && profile.neverStayS ? uniform(profile.neverStayS)
      : (greetAtS ?? uniform([30, 60])) + uniform(profile.stayS);
    if (greetAtS !== null && profile.browseStepsLineP > 0 && rng() < profile.browseStepsLineP) {
      // browsing after the greet: harmless for this party, a breach for anyone still waiting
      const browseS = leaveAtS - greetAtS;
      if (browseS > 10) at((greetAtS + uniform([5, Math.min(browseS - 5, 180)])) * 1000, walkPastStepsLine);
    }
    at(leaveAtS * 1000, () => partyCrossing(size, 'out'));
  };

  const staffPass = (): void => {
    at(expMs(profile.staffPassesPerHour), staffPass);
    const b = pick(passButtons);
    if (!b) return;
    press(b, 'staffPasses');
    // the crossing follows within the contract's staffPassS (10 s)
    at(uniform([1000, 4000]), () => cross(rng() < 0.5 ? 'in' : 'out', 'staff'));
  };

  const peeker = (): void => {
    at(expMs(profile.peeksPerHour), peeker);
    peek();
  };

  return {
    start() {
      if (running) return;
      running = true;
      log?.info({ profile: { arrivalsPerHour: profile.arrivalsPerHour } }, 'store simulator started');
      at(expMs(profile.arrivalsPerHour), arrive);
      if (profile.staffPassesPerHour > 0 && passButtons.length > 0) at(expMs(profile.staffPassesPerHour), staffPass);
      if (profile.peeksPerHour > 0) at(expMs(profile.peeksPerHour), peeker);
    },
    stop() {
      running = false;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      pirOffTimers.clear();
      doorCloseTimer = undefined;
    },
    stats: () => ({ ...stats }),
  };
}

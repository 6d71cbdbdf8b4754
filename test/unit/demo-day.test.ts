import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Report, Visit } from '../../contract/index.ts';
import { simDriver } from '../../edge/drivers/sim.ts';
import { createEnvelopeFactory, type Emit } from '../../edge/envelope.ts';
import { systemClock } from '../../edge/io.ts';
import { attachSignals, openNodeInputs } from '../../edge/signals.ts';
import { loadConfig } from '../../firmware-config/load.ts';
import type { StoreConfig } from '../../firmware-config/schema.ts';
import { replayTrace } from '../../hub/engine/replay.ts';
import { TimeZone } from '../../hub/engine/tz.ts';
import { memoryVisitStore, type VisitStore } from '../../hub/visit-store.ts';
import { busyness, seedDemoHistory, simulateDemoHistory } from '../../scripts/seed-history.ts';
import { createStoreSimulator, goodStoreProfile } from '../../scripts/shopper-sim.ts';

// The demo tells the truth of a good store: its live shoppers (scripts/shopper-sim.ts, as
// `npm start` runs them) and its seeded weeks (scripts/seed-history.ts), both judged by the
// real engine, land near the 80 % service level the store aims for, with some of every
// kind of miss.

const DEMO = 'firmware-config/examples/demo-store.yaml';
const share = (r: Report, n: number) => `${((n / r.visits) * 100).toFixed(1)}%`;
const describeReport = (r: Report, breaches: number) =>
  `${r.visits} visits, service level ${((r.serviceLevel ?? 0) * 100).toFixed(1)}%; met ${share(r, r.met)}, late ${share(r, r.late)}, ` +
  `walkouts ${share(r, r.walkouts)}, short walkouts ${share(r, r.shortWalkouts)}, missed ${share(r, r.missed)}, steps-line breaches ${share(r, breaches)}`;

/** A live demo day: the demo's simulator on the demo's nodes (real signal logic, fake timers), then the engine. */
function liveDay(cfg: StoreConfig, startMs: number, hours: number, seed: number): { report: Report; visits: Visit[] } {
  vi.useFakeTimers();
  vi.setSystemTime(startMs);
  const lines: string[] = [];
  const nodes = cfg.nodes.map((node) => {
    const inputs = openNodeInputs(node, simDriver());
    const env = createEnvelopeFactory({ store: cfg.store.id, node: node.id });
    // recvtime: when the hub would have it (no network delay here)
    const emit: Emit = (type, data, at) => {
      lines.push(JSON.stringify({ ...env.build(type, data, at), recvtime: new Date(Date.now()).toISOString() }));
    };
    attachSignals({ node, inputs, clock: systemClock, emit });
    return { config: node, inputs: inputs.digital, distances: inputs.distance };
  });
  const sim = createStoreSimulator({
    agents: nodes,
    stepsLineZones: cfg.rules.stepsLineZones,
    arrivalsPerHour: 60,
    busyness: busyness(cfg.store.timezone),
    profile: goodStoreProfile,
    seed,
  });
  sim.start();
  vi.advanceTimersByTime(hours * 3_600_000);
  sim.stop();
  vi.advanceTimersByTime(10_000);
  const res = replayTrace(lines, cfg);
  expect(res.rejected).toEqual([]);
  return { report: res.report, visits: res.visits };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the demo store', () => {
  const cfg = loadConfig(DEMO);
  const tz = new TimeZone(cfg.store.timezone);

  it('has named staff, a steps line, a target and a time zone', () => {
    expect(cfg.store.name).toBeTruthy();
    expect(cfg.store.serviceLevelTarget).toBe(0.8);
    expect(cfg.store.timezone).toBe('Europe/Berlin');
    expect(cfg.staff.length).toBeGreaterThanOrEqual(2);
    for (const s of cfg.staff) expect(s.name).toBeTruthy();
    expect(cfg.rules.stepsLineZones.length).toBeGreaterThan(0);
  });

  it('live: a simulated day through the real engine lands near 80 %, with late, walkout, short-walkout and missed visits', () => {
    // a Tuesday, 09:30–19:00 store-local
    const { report: r, visits } = liveDay(cfg, tz.fromLocal(2026, 11, 24, 9, 30), 9.5, 20261124);
    const breaches = visits.filter((v) => v.breachTime !== undefined).length;
    console.log(`live demo day: ${describeReport(r, breaches)}; pending ${r.pending}`);
    expect(r.visits).toBeGreaterThan(400);
    expect(r.serviceLevel).toBeGreaterThanOrEqual(0.72);
    expect(r.serviceLevel).toBeLessThanOrEqual(0.88);
    expect(r.late).toBeGreaterThan(0.03 * r.visits);
    expect(r.walkouts).toBeGreaterThan(0.01 * r.visits);
    expect(r.shortWalkouts).toBeGreaterThan(0);
    expect(r.missed).toBeGreaterThan(0);
    expect(breaches).toBeGreaterThan(0);
    // busier at lunch and late afternoon than in the morning and mid-afternoon
    const at = (h: number) => r.byHour[h]!.visits;
    expect(at(12) + at(13)).toBeGreaterThan(1.4 * (at(10) + at(11)));
    expect(at(17)).toBeGreaterThan(at(15));
    // greets carry staff names (fobs), some come from the shared counter button
    expect(Object.keys(r.byStaff).sort()).toEqual(cfg.staff.map((s) => s.id).sort());
  });

  it('history: six weeks of simulated days, Monday to Saturday, near 80 % with some better and some worse days', () => {
    const now = tz.fromLocal(2026, 12, 2, 15, 0);
    const t0 = performance.now();
    const h = simulateDemoHistory(cfg, now);
    if (typeof h === 'string') throw new Error(h);
    const ms = performance.now() - t0;
    console.log(`seeded weeks: ${describeReport(h.total, h.breaches)}; ${h.days.length} days simulated and replayed in ${(ms / 1000).toFixed(1)} s`);
    expect(h.days.length).toBe(36); // 42 days less 6 Sundays
    expect(h.days.every((d) => d.weekday !== 6)).toBe(true);
    const r = h.total;
    expect(r.serviceLevel).toBeGreaterThanOrEqual(0.76);
    expect(r.serviceLevel).toBeLessThanOrEqual(0.85);
    for (const k of ['late', 'walkouts', 'shortWalkouts', 'missed'] as const) expect(r[k], k).toBeGreaterThan(0);
    expect(h.breaches).toBeGreaterThan(0);
    const sl = h.days.map((d) => d.report.serviceLevel ?? 0);
    expect(Math.min(...sl)).toBeGreaterThan(0.65);
    expect(Math.max(...sl)).toBeLessThan(0.95);
    expect(sl.some((x) => x < 0.8) && sl.some((x) => x >= 0.8)).toBe(true);
    // Saturdays are the busiest days
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const visitsOn = (wd: number) => mean(h.days.filter((d) => d.weekday === wd).map((d) => d.report.visits));
    expect(visitsOn(5)).toBeGreaterThan(visitsOn(0));
    // the same days on every run, whatever span is asked for
    const week = simulateDemoHistory(cfg, now, 7);
    expect(typeof week !== 'string' && week.days).toEqual(h.days.slice(-6));
  });

  describe('seedDemoHistory', () => {
    /** the in-memory store, but claiming to be persistent (as InfluxDB is) */
    const persistentMemory = (): VisitStore => ({ ...memoryVisitStore('test history', cfg.store.timezone), persistent: true, health: () => ({ state: 'up', spool: 0 }) });

    it('writes the weeks and today so far through the history store, once', async () => {
      const store = persistentMemory();
      const now = tz.fromLocal(2026, 12, 2, 15, 0);
      const first = await seedDemoHistory({ cfg, store, nowMs: now });
      expect(first.seeded).toBe(true);
      expect(first.message).toMatch(/^Seeded 6 weeks of simulated history and today so far: \d+ visits in \d+\.\d s\.$/);
      const from = tz.fromLocal(2026, 10, 21);
      const held = await store.query(cfg.store.id, from - 86_400_000, now + 86_400_000);
      expect(held.length).toBe(first.visits);
      expect(Math.min(...held.map((v) => Date.parse(v.entryTime)))).toBeGreaterThanOrEqual(from);
      expect(held.every((v) => v.outcome !== 'pending' && Date.parse(v.entryTime) < now)).toBe(true);
      const today = held.filter((v) => Date.parse(v.entryTime) >= tz.startOfDay(now));
      expect(today.length).toBeGreaterThan(100);
      expect(first.ms).toBeLessThan(20_000);

      const second = await seedDemoHistory({ cfg, store, nowMs: now + 60_000 });
      expect(second.seeded).toBe(false);
      expect(second.message).toMatch(/^History already holds \d+ visits of store demo since 2026-10-21: no simulated history seeded\.$/);
      expect((await store.query(cfg.store.id, from - 86_400_000, now + 86_400_000)).length).toBe(first.visits);
    });

    it('before opening, seeds the weeks only', async () => {
      const r = await seedDemoHistory({ cfg, store: persistentMemory(), nowMs: tz.fromLocal(2026, 12, 2, 7, 0), days: 7 });
      expect(r.message).toMatch(/^Seeded a week of simulated history: \d+ visits/);
      expect(r.days).toBe(6);
    });

    it('leaves today alone when it already has visits (an earlier run today)', async () => {
      const store = persistentMemory();
      const now = tz.fromLocal(2026, 12, 2, 15, 0);
      const live: Visit = { store: 'demo', party: '01LIVE', outcome: 'met', entryTime: new Date(now - 3_600_000).toISOString(), size: 1, ttgS: 4 };
      await store.write([live]);
      const r = await seedDemoHistory({ cfg, store, nowMs: now, days: 7 });
      expect(r.message).toMatch(/^Seeded a week of simulated history: \d+ visits/);
      const today = await store.query('demo', tz.startOfDay(now), now);
      expect(today).toEqual([live]);
    });

    it('does not seed memory-only history, and says why', async () => {
      const r = await seedDemoHistory({ cfg, store: memoryVisitStore('History is off: influxd was not found', cfg.store.timezone) });
      expect(r).toMatchObject({ seeded: false, visits: 0 });
      expect(r.message).toBe('No simulated history seeded: history is off.');
    });
  });
});

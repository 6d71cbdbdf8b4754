import fs from 'node:fs';
import path from 'node:path';
import type { IndicatorLevel, LiveChange, LiveSnapshot, NodeHealth, NodeStatus, OpenParty, Report, Visit } from '../../contract/index.ts';
import { GwError, ErrorCodes, indicatorLevel, partyLevel, parseSource, type GwEvent, type PartyLevel } from '../../contract/index.ts';
import type { BusEvents } from '../bus.ts';
import type { HubContext, HubPlugin } from '../context.ts';
import type { GreetEngine, LiveView, OrphanGreet } from '../engine/engine.ts';
import type { StoreConfig } from '../../firmware-config/schema.ts';
import { buildReport, ReportAccumulator } from '../engine/report.ts';
import { engineFor, replayLine, storeCheck } from '../engine/replay.ts';
import { NodeFaults } from '../node-faults.ts';
import { nodeEffectiveConfig } from '../../firmware-config/hash.ts';
import type { TimeZone } from '../engine/tz.ts';
import { closedToVisit, openPartyToVisit } from '../engine/visits.ts';
import { rateLimitedLog } from '../rate-limited-log.ts';

// Runs the greeting engine live: feeds it accepted events, lets hub time pass,
// publishes final visits on the bus, and keeps the live view (floor, indicators,
// today's figures). Changes to the waiting list go on the bus as they happen
// (README "Live stream"): after each turn of the event loop that brought events,
// and on each tick for what time changes (levels, expiries). The full snapshot is
// built only when asked for, once per change. On start it replays the
// recorded trace so a hub killed with -9 comes back with the parties it had open,
// and publishes the final visits it may not have published before it died.

export interface LiveEngineApi {
  readonly tz: TimeZone;
  snapshot(): LiveSnapshot;
  /** the waiting list as last pushed to screens (live:delta), without building a snapshot: each party as its last change showed it (`waitingS` from then) */
  open(): readonly OpenParty[];
  /** node health as a snapshot would show it now, without building one */
  nodes(): NodeHealth[];
  /** report for [from, to): final visits from the store and memory, plus the live view */
  report(fromMs: number, toMs: number): Promise<Report>;
}

export interface LiveEngineOptions {
  /** how often hub time advances (levels, expiries, final visits) */
  tickMs?: number;
  /** how far back recorded traces are replayed on start */
  recoverMs?: number;
  /**
   * hub time that final visits wait after a start that found some perhaps never published, so
   * MQTT subscribers have reconnected when they go out (`visits` is not retained); default 5 s
   */
  republishAfterMs?: number;
  /** the published watermark is written at most this often (and on stop); default 2 s */
  markEveryMs?: number;
  /** after events, the waiting list is looked at no sooner than this after the last look; default LOOK_GAP_MS */
  lookGapMs?: number;
}

const KEEP_MS = 48 * 3_600_000;
/**
 * looks at the waiting list after events come at least this far apart (ms): well within a frame
 * of a 60 Hz screen, and at 1,000 events/s a fifth of the looks (README "Live view")
 */
const LOOK_GAP_MS = 5;

/** staff id → name, for those the store file names */
export const staffNames = (cfg: StoreConfig): Record<string, string> => Object.fromEntries(cfg.staff.flatMap((s) => (s.name ? [[s.id, s.name]] : [])));

/** what goes on the bus once final */
type Final = { kind: 'visit'; visit: Visit } | { kind: 'orphan'; orphan: BusEvents['greet:orphan'] };

/**
 * `{ms, time}`: hub time up to which every visit and orphan greet the engine made final was
 * emitted on the bus. Replaced whole (temp file, fsync, rename, fsync of the folder), so a
 * kill -9 leaves the old one or the new one.
 */
const MARK_FILE = 'visits-published.json';

type Mark = { ms: number } | 'missing' | { bad: string };

function readMark(file: string): Mark {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : { bad: (err as Error).message };
  }
  try {
    const ms = (JSON.parse(text) as { ms?: unknown }).ms;
    return typeof ms === 'number' && Number.isFinite(ms) ? { ms } : { bad: 'no ms' };
  } catch (err) {
    return { bad: (err as Error).message };
  }
}

async function writeMark(file: string, ms: number): Promise<void> {
  const dir = path.dirname(file);
  const tmp = `${file}.tmp`;
  await fs.promises.mkdir(dir, { recursive: true });
  const fh = await fs.promises.open(tmp, 'w');
  try {
    await fh.writeFile(`${JSON.stringify({ ms, time: new Date(ms).toISOString() })}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
  const d = await fs.promises.open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

const orphanEvent = (store: string, o: OrphanGreet): BusEvents['greet:orphan'] => (o.staff === undefined ? { store, t: o.t } : { store, t: o.t, staff: o.staff });

export function liveEnginePlugin(opts: LiveEngineOptions = {}): HubPlugin {
  let timer: NodeJS.Timeout | undefined;
  const offBus: (() => void)[] = [];
  /** final visits of the last 48 h, by party, about in entry order: reports stay right while the store catches up */
  const recentFinal = new Map<string, { v: Visit; entryMs: number }>();
  const orphanTimes: number[] = [];
  const status = new Map<string, { status: NodeStatus; at: number }>();
  const faults = new NodeFaults();
  let level: IndicatorLevel = 'off';
  let view: LiveView | undefined;
  /** the last snapshot built, until an event, a status, a reload or a tick changes what it shows */
  let snapshot: LiveSnapshot | undefined;
  /** today's final visits and orphan greets, kept as they come */
  let today: ReportAccumulator | undefined;
  /** the waiting list as last pushed, by party: what went out, for which entry time, and the look that last saw it */
  const shown = new Map<string, { op: OpenParty; entry: number; look: number }>();
  let looks = 0;
  /** the waiting parties' levels at the last look (reused: a look runs many times a second) */
  const levels: PartyLevel[] = [];
  let deltaSeq = 0;
  /** cancels the look at the waiting list that is queued, if one is */
  let flushQueued: (() => void) | undefined;
  /** when the last look at the waiting list ended, and what it cost (ms, performance.now()) */
  let lastFlush = { at: -Infinity, cost: 0 };
  /** writes the published watermark one last time (set by start) */
  let finish: (() => Promise<void>) | undefined;
  /** releases what waits to be published (set by start) */
  let onReady: (() => Promise<void>) | undefined;

  return {
    name: 'live-engine',
    async start(ctx: HubContext) {
      const log = ctx.log.child({ name: 'hub:engine' });
      const store = ctx.config.store.id;
      // the config in force: a reload replaces ctx.config (never mutated), so read it through here
      const cfgNow = () => ctx.config;

      /** keeps the latest fault per sensor, at its hub-corrected time (clock offset = hub − node) */
      const noteFault = (e: GreetEngine, event: GwEvent, recvMs: number): void => {
        if (event.type !== 'greetwatch.fault.v1') return;
        const node = parseSource(event.source)?.node;
        if (!node) return;
        const t = Date.parse(event.time) + (e.clockOffset(node) ?? recvMs - Date.parse(event.time));
        faults.record(node, event.data, t);
      };

      /**
       * An engine for `cfg` fed the recorded traces of the last 48 h, as a restart would see them
       * (kill -9 leaves a trace whole up to the last acknowledged event; a torn last line is skipped).
       * Every trace line was written before its event reached the bus, so nothing is missed or
       * fed twice when the engine is swapped in between two events.
       *
       * `markMs`: the hub time through which the hub that wrote the traces emitted what was final
       * (the watermark). What becomes final here before it is `published`; the engine is also moved
       * to it, as that hub's tick did (ticks change no result, README "Order, duplicates and
       * clocks"), so what that tick made final counts as published too.
       */
      const replayTraces = (cfg: StoreConfig, withFaults: boolean, markMs = Infinity) => {
        const e = engineFor(cfg);
        const since = ctx.clock.now() - (opts.recoverMs ?? KEEP_MS);
        const check = storeCheck(cfg);
        // each with the hub time it became final at: the engine's hub time, the latest receive time so far
        const visits: Array<{ v: Visit; finalMs: number; published: boolean }> = [];
        const orphans: Array<{ o: OrphanGreet; finalMs: number; published: boolean }> = [];
        let hubMs = -Infinity;
        let events = 0;
        const drain = (published = hubMs < markMs) => {
          const out = e.drainFinal();
          for (const o of out.orphans) orphans.push({ o, finalMs: hubMs, published });
          for (const cv of out.visits) visits.push({ v: closedToVisit(store, cv), finalMs: hubMs, published });
        };
        // before the first event received at or after it (one received at the very ms may have come after that tick)
        let tickAt: number | undefined = Number.isFinite(markMs) ? Math.min(markMs, ctx.clock.now()) : undefined;
        const tickAtMark = () => {
          if (tickAt === undefined) return;
          hubMs = Math.max(hubMs, tickAt);
          e.advance(tickAt);
          tickAt = undefined;
          drain(true);
        };
        for (const file of ctx.recorder.files()) {
          const day = /(\d{4}-\d{2}-\d{2})\.jsonl$/.exec(file)?.[1];
          if (day && Date.parse(day) + 86_400_000 < since) continue;
          for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
            // refused here as replay refuses it, an event recorded though its time was refused too
            const v = replayLine(line, check, cfg.rules.maxSkewS);
            if (!v?.ok || !v.event.recvtime) continue;
            const recv = v.recvMs;
            if (tickAt !== undefined && recv >= tickAt) tickAtMark();
            hubMs = Math.max(hubMs, recv);
            e.ingest(v.event, recv);
            if (withFaults) noteFault(e, v.event, recv);
            e.advance(recv);
            drain();
            events++;
          }
        }
        tickAtMark();
        return { engine: e, visits, orphans, events };
      };

      const keepFinal = (v: Visit) => {
        const entryMs = Date.parse(v.entryTime);
        recentFinal.set(v.party, { v, entryMs });
        today?.add(v);
      };
      const markFile = path.join(ctx.dataDir, MARK_FILE);
      const mark = readMark(markFile);
      if (typeof mark === 'object' && 'bad' in mark) {
        log.warn({ code: ErrorCodes.TRACE_IO, file: markFile, err: mark.bad }, 'published-visits watermark unreadable: the recovered final visits are published again');
      }
      // Final before the watermark: emitted by the hub that recorded the trace. Final at or after
      // it: perhaps never emitted (a kill -9 between emitting and writing the watermark), so
      // emitted again. At least once: a visit may go out twice across a crash, and subscribers
      // de-duplicate by `party` (CONTRACT.md visits topic). No file (a hub from before the
      // watermark, or a fresh data dir): everything replayed counts as published.
      const start = replayTraces(ctx.config, true, mark === 'missing' ? Infinity : 'ms' in mark ? mark.ms : -Infinity);
      let eng = start.engine;
      // store-local days and hours follow these rules (README "Configuration": store.timezone)
      log.info({ timezone: eng.tz.name, rules: eng.tz.source }, 'store time zone');
      for (const { v } of start.visits) keepFinal(v);
      orphanTimes.push(...start.orphans.map(({ o }) => o.t));
      if (start.events) log.info({ events: start.events, visits: start.visits.length }, 'recovered state from recorded traces');
      // all re-stored (idempotent per party) in one batch; not awaited, and it never rejects
      // (VisitStore contract: the store retries, counts, logs)
      if (start.visits.length) void ctx.store.write(start.visits.map(({ v }) => v));

      /**
       * What is final goes on the bus (history, MQTT) only once every plugin listens (ready()),
       * and after a start that recovered some, once MQTT subscribers had time to reconnect.
       * Until then it waits here, in order; null once released.
       */
      let held: Final[] | null = [];
      const recovered: Array<{ f: Final; at: number }> = [
        ...start.visits.filter((r) => !r.published).map((r) => ({ f: { kind: 'visit' as const, visit: r.v }, at: r.finalMs })),
        ...start.orphans.filter((r) => !r.published).map((r) => ({ f: { kind: 'orphan' as const, orphan: orphanEvent(store, r.o) }, at: r.finalMs })),
      ].sort((a, b) => a.at - b.at);
      held.push(...recovered.map((r) => r.f));
      const recoveredCount = recovered.length;

      const emitFinal = (f: Final) => (f.kind === 'visit' ? ctx.bus.emit('visit:final', { visit: f.visit }) : ctx.bus.emit('greet:orphan', f.orphan));
      const publish = (f: Final) => (held ? held.push(f) : emitFinal(f));

      /** live: final visits and orphan greets go on the bus (history, MQTT), each party once */
      const takeFinal = () => {
        const out = eng.drainFinal();
        for (const o of out.orphans) {
          orphanTimes.push(o.t);
          today?.addOrphan(o.t);
          publish({ kind: 'orphan', orphan: orphanEvent(store, o) });
        }
        for (const cv of out.visits) {
          const v = closedToVisit(store, cv);
          // a party already final under the rules before a reload keeps that outcome
          if (recentFinal.has(v.party)) continue;
          keepFinal(v);
          publish({ kind: 'visit', visit: v });
        }
      };

      // the watermark: `emittedThrough` is the hub time of the last takeFinal whose output went on the
      // bus (all the engine had made final by then was emitted); written at most every markEveryMs
      const markEveryMs = opts.markEveryMs ?? 2_000;
      const lookGapMs = opts.lookGapMs ?? LOOK_GAP_MS;
      const logMarkError = rateLimitedLog(log, 60_000);
      let emittedThrough = -Infinity;
      let written = typeof mark === 'object' && 'ms' in mark ? mark.ms : -Infinity;
      let lastWrite = -Infinity; // performance.now(): a clock step does not stop the writes
      let writing: Promise<void> | undefined;
      const writeNow = (): Promise<void> => {
        if (writing) return writing;
        const ms = emittedThrough;
        if (!Number.isFinite(ms) || ms === written) return Promise.resolve();
        lastWrite = performance.now();
        writing = writeMark(markFile, ms).then(
          () => {
            written = ms;
            writing = undefined;
          },
          (err: unknown) => {
            // a watermark left behind only means more visits published twice after a crash
            writing = undefined;
            logMarkError('mark', { code: ErrorCodes.TRACE_IO, file: markFile, err: (err as Error).message }, 'could not write the published-visits watermark');
          },
        );
        return writing;
      };
      let lastTakeFinal = ctx.clock.now();
      let releaseAt: number | undefined;
      const release = (now: number) => {
        const out = held ?? [];
        held = null;
        releaseAt = undefined;
        for (const f of out) emitFinal(f);
        if (out.length) log.info({ finals: out.length, recovered: recoveredCount }, 'final visits published after the start');
        emittedThrough = now;
        void writeNow(); // never rejects: a failed write is logged and the next one catches up
      };

      // today's final visits from history, so the floor's "today" survives restarts
      try {
        const from = eng.tz.startOfDay(ctx.clock.now());
        for (const v of await ctx.store.query(store, from, from + 36 * 3_600_000)) if (!recentFinal.has(v.party)) keepFinal(v);
      } catch (err) {
        log.warn({ err: (err as Error).message, code: ErrorCodes.STORE_IO }, 'could not load today from history');
      }

      offBus.push(
        ctx.bus.on('event:accepted', ({ event, recvMs }) => {
          eng.ingest(event, recvMs);
          noteFault(eng, event, recvMs);
          // an event moves hub time too: what that made final is taken now, not at the next tick,
          // or a report read in between would find it neither final nor in the live view
          takeFinal();
          view = undefined;
          snapshot = undefined;
          // one look at the waiting list per turn of the event loop, however many events it brought,
          // and none sooner than lookGapMs after the last: at hundreds of events a second a look per
          // event was most of the live view's cost. When a look is dear (a backlog that re-sorts the
          // buffer), the next waits four times its cost, so screens lag a little in a flood but the
          // broker keeps 80 % of the time
          if (!flushQueued) {
            const look = () => {
              flushQueued = undefined;
              const t0 = performance.now();
              pushChanges(ctx.clock.now());
              const t1 = performance.now();
              lastFlush = { at: t1, cost: t1 - t0 };
            };
            const wait = lastFlush.at + Math.max(lookGapMs, 4 * lastFlush.cost) - performance.now();
            if (wait > 0) {
              const t = setTimeout(look, wait);
              flushQueued = () => clearTimeout(t);
            } else {
              const t = setImmediate(look);
              flushQueued = () => clearImmediate(t);
            }
          }
        }),
        ctx.bus.on('node:status', ({ node, status: s, recvMs }) => {
          status.set(node, { status: s, at: recvMs });
          snapshot = undefined;
          // a node that (re)connects gets the current indicator level (cmd is not retained)
          if (s.state === 'online') ctx.bus.emit('indicator:set', { node, level });
        }),
        ctx.bus.on('config:changed', ({ config }) => {
          // new rules, staff or opening hours: the open parties are rebuilt from the trace under
          // them, as a restart would; visits already final keep their outcome (README "Configuration")
          const t0 = performance.now();
          const next = replayTraces(config, false);
          eng = next.engine;
          orphanTimes.splice(0, orphanTimes.length, ...next.orphans.map(({ o }) => o.t));
          for (const { v } of next.visits) if (!recentFinal.has(v.party)) keepFinal(v);
          view = undefined;
          snapshot = undefined;
          today = undefined; // orphans were replaced: counted again from scratch
          log.info({ events: next.events, ms: Math.round(performance.now() - t0) }, 'engine rebuilt for the new config');
        }),
      );

      const liveView = (now: number): LiveView => {
        if (!view || view.now !== now) view = eng.live(now);
        return view;
      };

      /** the cfghash the hub publishes for a node (nodeEffectiveConfig), cached per config */
      let hashes: { cfg: StoreConfig; byNode: Map<string, string> } | undefined;
      const expectedHash = (node: string): string | null => {
        const cfg = cfgNow();
        if (hashes?.cfg !== cfg) hashes = { cfg, byNode: new Map(cfg.nodes.map((n) => [n.id, nodeEffectiveConfig(cfg, n.id).cfghash])) };
        return hashes.byNode.get(node) ?? null;
      };

      const nodesHealth = (): NodeHealth[] => {
        const ids = new Set<string>([...cfgNow().nodes.map((n) => n.id), ...[...eng.nodes()].map(([n]) => n), ...status.keys(), ...ctx.metrics.rejected.keys()]);
        return [...ids].sort().map((node) => {
          const c = eng.nodeCounters(node);
          const st = status.get(node);
          const off = eng.clockOffset(node);
          let lost = c.lostRetired;
          for (const b of c.boots.values()) lost += b.max - b.seen;
          const lastSeenMs = Math.max(c.lastRecv ?? -Infinity, st?.at ?? -Infinity);
          const on = st?.status.state === 'online' ? st.status : null;
          return {
            node,
            online: on !== null,
            lastSeen: Number.isFinite(lastSeenMs) ? new Date(lastSeenMs).toISOString() : null,
            bootid: on?.bootid ?? null,
            fw: on?.fw ?? null,
            offsetMs: off ?? null,
            clockFlag: off !== undefined && Math.abs(off) > cfgNow().rules.clockFlagMs,
            events: c.events,
            duplicates: c.duplicates,
            lost,
            tooLate: c.tooLate,
            rejected: ctx.metrics.rejectedFor(node),
            cfghash: on?.cfghash ?? null,
            configCurrent: on ? on.cfghash === expectedHash(node) : null,
            uptimeS: on?.uptimeS ?? null,
            outbox: on?.outbox ?? null,
            dropped: on?.dropped ?? null,
            clock: on?.clock ?? null,
            faults: faults.latest(node),
            faultCount: faults.count(node),
          };
        });
      };

      const visitsFor = (lv: LiveView): Visit[] => [
        ...lv.provisional.map((cv) => closedToVisit(store, cv)),
        ...lv.greeted.map((p) => openPartyToVisit(store, p)),
        ...lv.waiting.map((p) => openPartyToVisit(store, p)),
      ];

      const openParty = (p: LiveView['waiting'][number], now: number): OpenParty => {
        const waitingS = Math.max(0, now - p.entry) / 1000;
        return {
          party: p.id,
          entryTime: new Date(p.entry).toISOString(),
          waitingS,
          size: p.size,
          level: partyLevel(waitingS, p.breach !== undefined, cfgNow().rules),
          leaving: p.mark !== undefined,
          breached: p.breach !== undefined,
        };
      };

      /** today's report: the kept final part plus what the live view holds (final records first) */
      const todayReport = (lv: LiveView, now: number): Report => {
        const from = eng.tz.startOfDay(now);
        if (today?.fromMs !== from) {
          today = new ReportAccumulator(store, from, eng.tz.startOfDay(from + 36 * 3_600_000), eng.tz);
          for (const { v } of recentFinal.values()) today.add(v);
          for (const t of orphanTimes) today.addOrphan(t);
        }
        // as numbers, not Visits: up to reorderS of provisional visits at every read
        return today.report((c) => {
          for (const cv of lv.provisional) c.addRecord(cv.party, cv.outcome, cv.entry, cv.ttg === undefined ? undefined : cv.ttg / 1000, cv.staff);
          for (const p of lv.greeted) c.addRecord(p.id, p.greetedOutcome ?? 'late', p.entry, p.ttg === undefined ? undefined : p.ttg / 1000, p.staff);
          for (const p of lv.waiting) c.addRecord(p.id, 'pending', p.entry, undefined, undefined);
          for (const o of lv.provisionalOrphans) c.addOrphan(o.t);
        });
      };

      /** README "History": whether InfluxDB answers, and how many points wait in the spool */
      const historyState = (): LiveSnapshot['history'] => {
        const h = ctx.store.health();
        return { enabled: ctx.store.persistent, detail: ctx.store.detail, state: h.state, spool: h.spool, ...(h.lastError !== undefined ? { lastError: h.lastError } : {}) };
      };

      const journalState = (): LiveSnapshot['journal'] => {
        const j = ctx.recorder.stats();
        return {
          written: j.written,
          failed: ctx.metrics.traceFailures,
          lastError: ctx.metrics.lastTraceError,
          commitMs: j.commitMs,
          ackMs: ctx.runtime.mqttAckMs?.() ?? null,
          commits: { count: j.commits, meanMs: j.commits ? j.commitMsTotal / j.commits : null, maxMs: j.commitMsMax },
        };
      };

      const build = (now: number): LiveSnapshot => {
        const lv = liveView(now);
        return {
          store,
          now: new Date(now).toISOString(),
          rules: { warnAtS: cfgNow().rules.warnAtS, greetWithinS: cfgNow().rules.greetWithinS },
          open: lv.waiting.map((p) => openParty(p, now)),
          today: todayReport(lv, now),
          nodes: nodesHealth(),
          history: historyState(),
          journal: journalState(),
          staffNames: staffNames(cfgNow()),
        };
      };

      /** why a party left the waiting list, as far as the live view knows */
      const goneChange = (party: string, lv: LiveView): LiveChange => {
        const g = lv.open(party);
        if (g?.greet !== undefined) return { kind: 'gone', party, reason: 'greeted', outcome: g.greetedOutcome ?? 'late', ...(g.ttg !== undefined ? { ttgS: g.ttg / 1000 } : {}) };
        const final = recentFinal.get(party)?.v;
        if (final) return { kind: 'gone', party, reason: final.greetTime !== undefined ? 'greeted' : 'closed', outcome: final.outcome, ...(final.ttgS !== undefined ? { ttgS: final.ttgS } : {}) };
        const cv = lv.closed(party);
        if (cv) return { kind: 'gone', party, reason: cv.greet !== undefined ? 'greeted' : 'closed', outcome: cv.outcome, ...(cv.ttg !== undefined ? { ttgS: cv.ttg / 1000 } : {}) };
        return { kind: 'gone', party, reason: 'withdrawn' };
      };

      /**
       * Compares the waiting list with what was last pushed; pushes the difference. Returns the
       * waiting parties' levels (until the next look). A party that has not changed costs a few
       * comparisons and no allocation: this runs for every turn of the loop that brought events,
       * over every waiting party.
       */
      const pushChanges = (now: number): readonly PartyLevel[] => {
        const lv = liveView(now);
        const rules = cfgNow().rules;
        const look = ++looks;
        let changes: LiveChange[] | undefined;
        let n = 0;
        lv.eachWaiting((p) => {
          const breached = p.breach !== undefined;
          const level = partyLevel(Math.max(0, now - p.entry) / 1000, breached, rules);
          levels[n++] = level; // written in place: emptying and refilling it would reallocate it each time
          const was = shown.get(p.id);
          if (was && was.entry === p.entry && was.op.level === level && was.op.size === p.size && was.op.leaving === (p.mark !== undefined) && was.op.breached === breached) {
            was.look = look;
            return;
          }
          const op = openParty(p, now);
          shown.set(p.id, { op, entry: p.entry, look });
          (changes ??= []).push({ kind: 'open', party: op });
        });
        // forEach, not for…of: an entry array per shown party at every look was about 15 % of the
        // garbage the hub made at a steady 1,000 events/s (README "Benchmarks")
        shown.forEach((s, party) => {
          if (s.look === look) return;
          (changes ??= []).push(goneChange(party, lv));
          shown.delete(party);
        });
        levels.length = n;
        if (changes) ctx.bus.emit('live:delta', { delta: { store, now: new Date(now).toISOString(), seq: ++deltaSeq, changes } });
        return levels;
      };

      const prune = (now: number) => {
        // forget what no report of "recent" needs any more: entries come about in entry order,
        // so the front holds the oldest (a straggler waits for the next full sweep)
        const cutoff = now - KEEP_MS;
        for (const [k, r] of recentFinal) {
          if (r.entryMs >= cutoff) break;
          recentFinal.delete(k);
        }
        let n = 0;
        while (n < orphanTimes.length && orphanTimes[n]! < cutoff) n++;
        if (n) orphanTimes.splice(0, n);
      };
      let lastSweep = ctx.clock.now();

      const tick = () => {
        const now = ctx.clock.now();
        // hub time stops just before an event received but still on its way to the engine (its
        // trace write and its hand-over): the engine then judges it at its own receive time, as a
        // replay does (hub/pending-receipts.ts). ingest starts after this plugin, so it is asked
        // each tick.
        const hubNow = Math.min(now, (ctx.runtime.pendingSince?.() ?? Infinity) - 1);
        eng.advance(hubNow);
        takeFinal();
        lastTakeFinal = hubNow;
        if (held && releaseAt !== undefined && now >= releaseAt) release(hubNow);
        if (!held) {
          emittedThrough = hubNow;
          // never rejects: a failed write is logged and the next one catches up
          if (performance.now() - lastWrite >= markEveryMs) void writeNow();
        }
        prune(now);
        if (now - lastSweep > 600_000) {
          lastSweep = now;
          const cutoff = now - KEEP_MS;
          for (const [k, r] of recentFinal) if (r.entryMs < cutoff) recentFinal.delete(k);
        }
        view = undefined;
        snapshot = undefined;
        // CONTRACT.md "Store rules" (warnAtS, greetWithinS): cmd indicate follows the worst waiting party
        const next = indicatorLevel(pushChanges(now));
        if (next !== level) {
          level = next;
          for (const n of cfgNow().nodes) if (n.indicator) ctx.bus.emit('indicator:set', { node: n.id, level });
        }
      };
      tick();
      timer = setInterval(tick, opts.tickMs ?? 250);

      onReady = async () => {
        if (!held) return;
        const graceMs = opts.republishAfterMs ?? 5_000;
        if (held.length === 0 || graceMs <= 0) return release(lastTakeFinal);
        releaseAt = ctx.clock.now() + graceMs;
        log.info({ finals: held.length, recovered: recoveredCount, inMs: graceMs }, 'final visits perhaps never published will be published once MQTT subscribers have reconnected');
      };
      finish = async () => {
        await writing;
        // held (stopped before the release): the watermark stays, and the next start finds them again
        if (!held) await writeNow();
      };

      ctx.runtime.live = {
        get tz() {
          return eng.tz;
        },
        snapshot: () => (snapshot ??= build(ctx.clock.now())),
        open: () => Array.from(shown.values(), (s) => s.op),
        nodes: nodesHealth,
        async report(fromMs, toMs) {
          let stored: Visit[] = [];
          const warnings: string[] = [];
          try {
            stored = await ctx.store.query(store, fromMs, toMs);
          } catch (err) {
            // a manager still gets what the hub knows (the last 48 h and the live view), marked as partial
            const code = err instanceof GwError ? err.code : ErrorCodes.STORE_IO;
            log.warn({ code, err: (err as Error).message }, 'history query failed; report from memory only');
            warnings.push(`${code}: history could not be read (${(err as Error).message}); figures cover only the last 48 h the hub holds in memory`);
          }
          const now = ctx.clock.now();
          // buildReport keeps the first record of a party: final ones first (a party final before
          // a reload keeps that outcome, as on the bus), then history, then the live view
          const visits = [...[...recentFinal.values()].map((r) => r.v), ...stored, ...visitsFor(liveView(now))];
          const report = buildReport({ store, fromMs, toMs, tz: eng.tz, visits, orphanTimes: [...orphanTimes, ...liveView(now).provisionalOrphans.map((o) => o.t)] });
          return warnings.length ? { ...report, warnings } : report;
        },
      };
    },
    async ready() {
      await onReady?.();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      flushQueued?.();
      flushQueued = undefined;
      for (const off of offBus.splice(0)) off();
      const f = finish;
      finish = undefined;
      onReady = undefined;
      await f?.();
    },
  };
}

import fs from 'node:fs';
import readline from 'node:readline';
import type { IndicatorLevel, LiveSnapshot, NodeHealth, NodeStatus, OpenParty, Report, Visit } from '../../contract/index.ts';
import { GwError, ErrorCodes, validateEvent, parseJson } from '../../contract/index.ts';
import type { HubContext, HubPlugin } from '../context.ts';
import type { LiveView } from '../engine/engine.ts';
import { buildReport } from '../engine/report.ts';
import { engineFor, storeCheck } from '../engine/replay.ts';
import type { TimeZone } from '../engine/tz.ts';
import { closedToVisit, openPartyToVisit } from '../engine/visits.ts';

// Runs the greeting engine live: feeds it accepted events, lets hub time pass,
// publishes final visits on the bus, and keeps the live view (floor, indicators,
// today's figures). On start it replays the recorded trace so a hub killed with
// -9 comes back with the parties it had open.

export interface LiveEngineApi {
  readonly tz: TimeZone;
  snapshot(): LiveSnapshot;
  /** report for [from, to): final visits from the store and memory, plus the live view */
  report(fromMs: number, toMs: number): Promise<Report>;
}

export interface LiveEngineOptions {
  /** how often hub time advances and the live view is rebuilt */
  tickMs?: number;
  /** how far back recorded traces are replayed on start */
  recoverMs?: number;
}

const KEEP_MS = 48 * 3_600_000;

export function liveEnginePlugin(opts: LiveEngineOptions = {}): HubPlugin {
  let timer: NodeJS.Timeout | undefined;
  const offBus: (() => void)[] = [];
  /** final visits of the last 48 h, by party: reports stay right while the store catches up */
  const recentFinal = new Map<string, Visit>();
  const orphanTimes: number[] = [];
  const status = new Map<string, { status: NodeStatus; at: number }>();
  let level: IndicatorLevel = 'off';
  let view: LiveView | undefined;
  let snapshot: LiveSnapshot | undefined;

  return {
    name: 'live-engine',
    async start(ctx: HubContext) {
      const log = ctx.log.child({ name: 'hub:engine' });
      const cfg = ctx.config;
      const eng = engineFor(cfg);
      const store = cfg.store.id;
      const warnMs = cfg.rules.warnAtS * 1000;
      const lateMs = cfg.rules.greetWithinS * 1000;

      /** live: final visits go on the bus (history, MQTT); recovering: they are collected and stored once */
      let recoveredVisits: Visit[] | null = [];
      const takeFinal = () => {
        const out = eng.drainFinal();
        for (const o of out.orphans) orphanTimes.push(o.t);
        for (const cv of out.visits) {
          const v = closedToVisit(store, cv);
          recentFinal.set(v.party, v);
          if (recoveredVisits) recoveredVisits.push(v);
          else ctx.bus.emit('visit:final', { visit: v });
        }
      };

      // --- recovery: replay recorded traces (kill -9 leaves them whole up to the last acknowledged event)
      const since = ctx.clock.now() - (opts.recoverMs ?? KEEP_MS);
      const check = storeCheck(cfg);
      let recovered = 0;
      for (const file of ctx.recorder.files()) {
        const day = /(\d{4}-\d{2}-\d{2})\.jsonl$/.exec(file)?.[1];
        if (day && Date.parse(day) + 86_400_000 < since) continue;
        const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
        for await (const line of rl) {
          const p = parseJson(line);
          const v = p.ok ? validateEvent(p.value) : p;
          if (!v.ok || check(v.value.source) || !v.value.recvtime) continue; // a torn last line after a crash
          const recv = Date.parse(v.value.recvtime);
          eng.ingest(v.value, recv);
          eng.advance(recv);
          takeFinal();
          recovered++;
        }
      }
      if (recovered) log.info({ events: recovered, visits: recoveredVisits.length }, 'recovered state from recorded traces');
      // re-stored (idempotent per party) in one batch, not re-published: subscribers had them
      if (recoveredVisits.length) void ctx.store.write(recoveredVisits);
      recoveredVisits = null;

      // today's final visits from history, so the floor's "today" survives restarts
      try {
        const from = eng.tz.startOfDay(ctx.clock.now());
        for (const v of await ctx.store.query(store, from, from + 36 * 3_600_000)) if (!recentFinal.has(v.party)) recentFinal.set(v.party, v);
      } catch (err) {
        log.warn({ err: (err as Error).message, code: ErrorCodes.STORE_IO }, 'could not load today from history');
      }

      offBus.push(
        ctx.bus.on('event:accepted', ({ event, recvMs }) => {
          eng.ingest(event, recvMs);
          view = undefined;
        }),
        ctx.bus.on('node:status', ({ node, status: s, recvMs }) => {
          status.set(node, { status: s, at: recvMs });
          // a node that (re)connects gets the current indicator level (cmd is not retained)
          if (s.state === 'online') ctx.bus.emit('indicator:set', { node, level });
        }),
      );

      const liveView = (now: number): LiveView => {
        if (!view || view.now !== now) view = eng.live(now);
        return view;
      };

      const nodesHealth = (): NodeHealth[] => {
        const ids = new Set<string>([...cfg.nodes.map((n) => n.id), ...[...eng.nodes()].map(([n]) => n), ...status.keys(), ...ctx.metrics.rejected.keys()]);
        return [...ids].sort().map((node) => {
          const c = eng.nodeCounters(node);
          const st = status.get(node);
          const off = eng.clockOffset(node);
          let lost = 0;
          for (const b of c.boots.values()) lost += b.max - b.seen;
          const lastSeenMs = Math.max(c.lastRecv ?? -Infinity, st?.at ?? -Infinity);
          return {
            node,
            online: st?.status.state === 'online',
            lastSeen: Number.isFinite(lastSeenMs) ? new Date(lastSeenMs).toISOString() : null,
            bootid: st?.status.state === 'online' ? st.status.bootid : null,
            fw: st?.status.state === 'online' ? st.status.fw : null,
            offsetMs: off ?? null,
            clockFlag: off !== undefined && Math.abs(off) > cfg.rules.clockFlagMs,
            events: c.events,
            duplicates: c.duplicates,
            lost,
            tooLate: c.tooLate,
            rejected: ctx.metrics.rejectedFor(node),
          };
        });
      };

      const visitsFor = (lv: LiveView): Visit[] => [
        ...lv.provisional.map((cv) => closedToVisit(store, cv)),
        ...lv.greeted.map((p) => openPartyToVisit(store, p)),
        ...lv.waiting.map((p) => openPartyToVisit(store, p)),
      ];

      const build = (now: number): LiveSnapshot => {
        const lv = liveView(now);
        const open: OpenParty[] = lv.waiting.map((p) => {
          const waitingMs = Math.max(0, now - p.entry);
          return {
            party: p.id,
            entryTime: new Date(p.entry).toISOString(),
            waitingS: waitingMs / 1000,
            size: p.size,
            level: waitingMs >= lateMs || p.breach !== undefined ? 'late' : waitingMs >= warnMs ? 'warn' : 'ok',
            leaving: p.mark !== undefined,
            breached: p.breach !== undefined,
          };
        });
        const from = eng.tz.startOfDay(now);
        const to = eng.tz.startOfDay(from + 36 * 3_600_000);
        const today = buildReport({
          store,
          fromMs: from,
          toMs: to,
          tz: eng.tz,
          visits: [...visitsFor(lv), ...recentFinal.values()],
          orphanTimes: [...orphanTimes, ...lv.provisionalOrphans.map((o) => o.t)],
        });
        return {
          store,
          now: new Date(now).toISOString(),
          rules: { warnAtS: cfg.rules.warnAtS, greetWithinS: cfg.rules.greetWithinS },
          open,
          today,
          nodes: nodesHealth(),
          history: { enabled: ctx.store.persistent, detail: ctx.store.detail },
        };
      };

      const tick = () => {
        const now = ctx.clock.now();
        eng.advance(now);
        takeFinal();
        // forget what no report of "recent" needs any more
        const cutoff = now - KEEP_MS;
        for (const [k, v] of recentFinal) if (Date.parse(v.entryTime) < cutoff) recentFinal.delete(k);
        while (orphanTimes.length && orphanTimes[0]! < cutoff) orphanTimes.shift();
        view = undefined;
        snapshot = build(now);
        // issue 3 §4: warn at warnAtS, late at greetWithinS, off when nobody waits
        const next: IndicatorLevel = snapshot.open.some((p) => p.level === 'late') ? 'late' : snapshot.open.some((p) => p.level === 'warn') ? 'warn' : 'off';
        if (next !== level) {
          level = next;
          for (const n of cfg.nodes) if (n.indicator) ctx.bus.emit('indicator:set', { node: n.id, level });
        }
        ctx.bus.emit('live:snapshot', { snapshot });
      };
      tick();
      timer = setInterval(tick, opts.tickMs ?? 250);

      ctx.runtime.live = {
        tz: eng.tz,
        snapshot: () => snapshot ?? build(ctx.clock.now()),
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
          // live view first: buildReport keeps the first record of a party
          const visits = [...visitsFor(liveView(now)), ...recentFinal.values(), ...stored];
          const report = buildReport({ store, fromMs, toMs, tz: eng.tz, visits, orphanTimes: [...orphanTimes, ...liveView(now).provisionalOrphans.map((o) => o.t)] });
          return warnings.length ? { ...report, warnings } : report;
        },
      };
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      for (const off of offBus.splice(0)) off();
    },
  };
}

import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, GwError, isId, type Report, type WeekFigures } from '../../contract/index.ts';
import type { HubContext } from '../context.ts';
import type { TimeZone } from '../engine/tz.ts';
import { storeTimeZone } from '../engine/store-zone.ts';
import { rankingCsv, weeklyCsv } from '../history/csv.ts';
import { formatIsoWeek, isoWeekOf, parseIsoWeek, weekRange, type IsoWeek } from '../history/iso-week.ts';
import { reportFromRollups } from '../history/rollup-report.ts';
import { hourStart } from '../history/rollup.ts';
import { weekFigures, weeklyReport, rankStores, type PeriodData, type WeeklyInput } from '../history/weekly.ts';
import { staffNames } from '../plugins/live-engine.ts';
import type { StoreInfo } from '../visit-store.ts';
import { OptionalString, StoreParams } from './params.ts';

// History reports over HTTP (README "Weekly report" and "A chain"): a store's weekly
// report, the stores this history holds, and the chain's ranking for a week. Raw points
// give every figure exactly as the engine does; periods older than the raw retention come
// from the hourly rollups (`source` says which, `?source=` chooses).

type Source = 'auto' | 'raw' | 'rollup';

/** a raw period must start this far inside the raw retention: points near its edge may already be gone */
const EDGE_MS = 86_400_000;
/** periods longer than this (on whole hours) are reported from rollups by default */
const LONG_MS = 35 * 86_400_000;

export interface HistoryRoutesDeps {
  ctx: HubContext;
}

// shapes and types only; the values are judged below (weekParam, sourceParam, wantsCsv)
const ChainQuery = Type.Object({ week: OptionalString(), source: OptionalString() }, { additionalProperties: false });
const ReportQuery = Type.Object({ week: OptionalString(), source: OptionalString(), format: OptionalString() }, { additionalProperties: false });
/** weekly reports and the chain are the owner's (README "Security → Logins and roles") */
const OWNER = { access: 'owner' } as const;

function sourceParam(q: Record<string, unknown>): Source {
  const s = q.source ?? 'auto';
  if (s === 'auto' || s === 'raw' || s === 'rollup') return s;
  throw new GwError(ErrorCodes.BAD_PARAM, `source: expected auto, raw or rollup, got ${JSON.stringify(s)}`);
}

function wantsCsv(req: FastifyRequest): boolean {
  const q = req.query as Record<string, unknown>;
  if (q.format !== undefined && q.format !== 'csv' && q.format !== 'json') {
    throw new GwError(ErrorCodes.BAD_PARAM, `format: expected csv or json, got ${JSON.stringify(q.format)}`);
  }
  if (q.format !== undefined) return q.format === 'csv';
  return /\btext\/csv\b/i.test(req.headers.accept ?? '');
}

const sendCsv = (reply: FastifyReply, name: string, body: string) =>
  reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`).send(body);

export function historyRoutes(f: FastifyInstance, deps: HistoryRoutesDeps): void {
  const { ctx } = deps;
  const own = (): StoreInfo => {
    const c = ctx.config;
    return {
      store: c.store.id,
      timezone: c.store.timezone,
      serviceLevelTarget: c.store.serviceLevelTarget,
      greetWithinS: c.rules.greetWithinS,
      ...(c.store.name !== undefined ? { name: c.store.name } : {}),
    };
  };
  /** this hub's store first, then the others the shared history holds */
  const stores = async (): Promise<StoreInfo[]> => {
    const mine = own();
    const others = (await ctx.store.stores()).filter((s) => s.store !== mine.store);
    return [mine, ...others];
  };
  const storeInfo = async (id: unknown): Promise<StoreInfo> => {
    if (typeof id !== 'string' || !isId(id)) throw new GwError(ErrorCodes.BAD_PARAM, `store: not a store id: ${JSON.stringify(id)}`);
    if (id === ctx.config.store.id) return own();
    const s = (await ctx.store.stores()).find((x) => x.store === id);
    if (!s) throw new GwError(ErrorCodes.NOT_FOUND, `store: ${JSON.stringify(id)} has no history here`);
    return s;
  };
  const zones = new Map<string, TimeZone>();
  const zone = (name: string): TimeZone => {
    let z = zones.get(name);
    if (!z) {
      try {
        z = storeTimeZone(name);
      } catch {
        throw new GwError(ErrorCodes.STORE_IO, `history: store time zone ${JSON.stringify(name)} is not a known IANA zone`);
      }
      zones.set(name, z);
    }
    return z;
  };
  const input = (s: StoreInfo): WeeklyInput => ({
    store: s.store,
    tz: zone(s.timezone),
    targetServiceLevel: s.serviceLevelTarget,
    greetWithinS: s.greetWithinS,
    ...(s.name !== undefined ? { storeName: s.name } : {}),
  });
  const weekParam = (q: Record<string, unknown>, tz: TimeZone): IsoWeek => {
    if (q.week === undefined) return isoWeekOf(ctx.clock.now(), tz);
    if (typeof q.week !== 'string') throw new GwError(ErrorCodes.BAD_PARAM, 'week: expected one YYYY-Www value');
    return parseIsoWeek(q.week);
  };
  /** raw when the whole period is still in the raw retention (or asked for), else rollups */
  const useRaw = (source: Source, fromMs: number): boolean => {
    if (source !== 'auto') return source === 'raw';
    return fromMs >= ctx.clock.now() - ctx.store.rawRetentionMs() + EDGE_MS;
  };
  const loader =
    (store: string, source: Source) =>
    async (fromMs: number, toMs: number): Promise<PeriodData> => {
      if (useRaw(source, fromMs)) return { kind: 'raw', visits: await ctx.store.query(store, fromMs, toMs) };
      return { kind: 'rollup', ...(await ctx.store.rollups(store, fromMs, toMs)) };
    };

  f.get('/api/stores/:store/weekly', { config: OWNER, schema: { params: StoreParams, querystring: ReportQuery } }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const csv = wantsCsv(req);
    const s = await storeInfo((req.params as { store: string }).store);
    const inp = input(s);
    const week = weekParam(q, inp.tz);
    const report = await weeklyReport(inp, week, loader(s.store, sourceParam(q)));
    const r = s.store === ctx.config.store.id ? { ...report, staffNames: staffNames(ctx.config) } : report;
    return csv ? sendCsv(reply, `${s.store}-${r.week}`, weeklyCsv(r)) : r;
  });

  /** one week's figures of every store, each in its own zone */
  const chainWeek = async (q: Record<string, unknown>) => {
    const source = sourceParam(q);
    const all = await stores();
    const week = weekParam(q, zone(all[0]!.timezone));
    const figures: { store: string; name?: string; figures: WeekFigures }[] = await Promise.all(
      all.map(async (s) => {
        const inp = input(s);
        const r = weekRange(week, inp.tz);
        return { store: s.store, ...(s.name !== undefined ? { name: s.name } : {}), figures: weekFigures(inp, week, await loader(s.store, source)(r.fromMs, r.toMs)) };
      }),
    );
    return { week, all, figures };
  };

  f.get('/api/stores', { config: OWNER, schema: { querystring: ChainQuery } }, async (req) => {
    const { week, all, figures } = await chainWeek(req.query as Record<string, unknown>);
    return {
      week: formatIsoWeek(week),
      stores: all.map((s, i) => ({
        store: s.store,
        ...(s.name !== undefined ? { name: s.name } : {}),
        timeZone: s.timezone,
        self: i === 0,
        target: { serviceLevel: s.serviceLevelTarget, greetWithinS: s.greetWithinS },
        week: figures[i]!.figures.summary,
      })),
    };
  });

  f.get('/api/chain/ranking', { config: OWNER, schema: { querystring: ReportQuery } }, async (req, reply) => {
    const csv = wantsCsv(req);
    const { week, figures } = await chainWeek(req.query as Record<string, unknown>);
    const r = rankStores(formatIsoWeek(week), figures);
    return csv ? sendCsv(reply, `ranking-${r.week}`, rankingCsv(r)) : r;
  });
}

/**
 * The contract's report for [from, to) when it reaches back past the raw retention (or
 * `source=rollup` asks for it): from hourly rollups, said in `warnings`. Null when the
 * live engine's report (raw points, memory and the live view) should answer.
 */
export async function rollupReportIfNeeded(ctx: HubContext, q: Record<string, unknown>, fromMs: number, toMs: number, tz: TimeZone): Promise<Report | null> {
  const source = sourceParam(q);
  if (source === 'raw') return null;
  if (source === 'auto') {
    const pastRaw = fromMs < ctx.clock.now() - ctx.store.rawRetentionMs() + EDGE_MS;
    // a long period on whole store-local hours loses nothing to the rollups but the percentiles'
    // milliseconds, and reads a tenth of the rows (README "Benchmarks": a year in 77 ms, not 557)
    const long = toMs - fromMs > LONG_MS && hourStart(fromMs, tz) === fromMs && hourStart(toMs, tz) === toMs;
    if (!pastRaw && !long) return null;
  }
  const store = ctx.config.store.id;
  const r = reportFromRollups(store, fromMs, toMs, tz, await ctx.store.rollups(store, fromMs, toMs));
  return {
    ...r,
    warnings: ['from hourly rollups: store-local hours starting in the period; p50S and p90S to the whole second; visits not yet in InfluxDB and parties still open are not counted (?source=raw for the live figures)'],
  };
}

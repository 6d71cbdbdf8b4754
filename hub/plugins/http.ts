import type { ServerResponse } from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Type } from '@sinclair/typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ErrorCodes, GwError, type ErrorCode, type LiveSnapshot } from '../../contract/index.ts';
import type { HubContext, HubPlugin } from '../context.ts';
import { authPlugin, type Principal } from '../http/auth.ts';
import { clientErrorHandler, frameworkErrors, refuseConnectMethod, REQUEST_TIMEOUT_MS } from '../http/client-errors.ts';
import { dashboardRoutes } from '../http/dashboard-routes.ts';
import { floorRoutes } from '../http/floor-routes.ts';
import { historyRoutes, rollupReportIfNeeded } from '../http/history-routes.ts';
import { metricsRoute } from '../http/metrics-route.ts';
import { lazySchemaCompilers } from '../http/schema-compilers.ts';
import { sseChannel, sseMessage, streamSlots, type SseChannel } from '../http/sse.ts';
import { OptionalString, parsePeriod, StoreParams, validationMessage } from '../http/params.ts';
import { repoRoot } from '../repo-root.ts';
import { httpsOptions } from '../tls.ts';

// The hub's HTTP side (CONTRACT.md "HTTP"): report and live API, the live stream
// (SSE), and the dashboard, served as scripts/build-dashboard.ts built it.

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.BAD_PARAM]: 400,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.FORBIDDEN]: 403,
  [ErrorCodes.RATE_LIMITED]: 429,
  [ErrorCodes.STORE_IO]: 503,
};

const ReportQuery = Type.Object({ from: OptionalString(), to: OptionalString(), source: OptionalString() }, { additionalProperties: false });

/** bytes an SSE client may leave unread before it is dropped (a few full snapshots) */
const SSE_MAX_BUFFERED = 1024 * 1024;
/** full snapshots on the live stream: today's figures and node health stay this fresh, and a screen that missed a delta recovers */
const SNAPSHOT_MS = 2000;
/** an idle live stream gets a `: ping` comment, so proxies and browsers keep it open */
const PING_MS = 15_000;

export interface HttpOptions {
  /** how often each live stream gets a full snapshot (default SNAPSHOT_MS) */
  snapshotMs?: number;
  /** a stream that had nothing else for this long gets a `: ping` comment (default PING_MS) */
  pingMs?: number;
  /** bytes an SSE client may leave unread before it is dropped (default 1 MiB) */
  sseMaxBuffered?: number;
  /** SSE streams open at once, live and floor together (default 256), and from one client address (default 32) */
  maxStreams?: number;
  maxStreamsPerAddress?: number;
  /** the built dashboard (Vite: <page>.html, assets/); default <repo>/dist/dashboard */
  dashboardDir?: string;
}

export function httpPlugin(opts: HttpOptions = {}): HubPlugin {
  let app: FastifyInstance | undefined;
  /** open live streams (hub/http/sse.ts): ended on stop, or the server would wait for them forever */
  let streams: SseChannel | undefined;
  const timers: NodeJS.Timeout[] = [];
  let offBus: (() => void) | undefined;
  return {
    name: 'http',
    needs: ['live-engine'], // serves ctx.runtime.live
    async start(ctx: HubContext) {
      const cfg = ctx.config;
      const store = cfg.store.id;
      const logger: FastifyBaseLogger = ctx.log.child({ name: 'hub:http' });
      // HTTPS instead of HTTP with hub.http.tls (its files are checked before anything listens)
      const https = httpsOptions(cfg.hub.http, logger);
      // per-request lines would drown the log: the dashboard polls and streams
      // Ajv compiles a route's schema at its first request, not at start (hub/http/schema-compilers.ts)
      const f = Fastify({
        loggerInstance: logger,
        logController: new LogController({ disableRequestLogging: true }),
        schemaController: { compilersFactory: lazySchemaCompilers() },
        requestTimeout: REQUEST_TIMEOUT_MS,
        clientErrorHandler: clientErrorHandler(ctx.metrics, logger),
        frameworkErrors: frameworkErrors(ctx.metrics),
        ...(https ? { https } : {}),
      });
      app = f;
      const live = () => {
        const l = ctx.runtime.live;
        if (!l) throw new Error('live engine is not running');
        return l;
      };

      f.setErrorHandler((err: Partial<FastifyError> & Error, req, reply) => {
        let code: ErrorCode | undefined = err instanceof GwError ? err.code : undefined;
        let message = err.message;
        if (err.validation) {
          // a route schema refused a parameter: worded like the parsers' messages, `<param>: …`
          code = ErrorCodes.BAD_PARAM;
          message = validationMessage(err as FastifyError);
        }
        const status = (code && STATUS[code]) ?? err.statusCode ?? 500;
        // fastify's own 4xx (a body that is not JSON, a static file's Range or path): the request's
        // fault, not ours, and said as `<where>: <why>` like every other refusal
        if (code === undefined && status >= 400 && status < 500) {
          code = ErrorCodes.BAD_PARAM;
          message = `${err.code?.startsWith('FST_ERR_CTP') ? 'body' : `path ${JSON.stringify(req.url.split('?')[0]!.slice(0, 120))}`}: ${message}`;
        }
        if (status >= 500) req.log.error({ err }, 'request failed');
        // a reply is a thenable, not a promise: send() has done the work, nothing rejects unawaited
        void reply.status(status).send({ error: code ?? 'GW_ERR_INTERNAL', message });
      });
      f.setNotFoundHandler((req, reply) => {
        // as above: the reply is a thenable, nothing rejects unawaited
        void reply.status(404).send({ error: ErrorCodes.NOT_FOUND, message: `no route ${req.method} ${req.url.split('?')[0]}` });
      });

      // who may call what (README "Security → Logins and roles"): every route below declares
      // `config: { access }`, one hook enforces it, and a route without one stops the start here;
      // registered before any route, after the error handler (routes keep the handler they saw)
      await f.register(authPlugin, { config: () => ctx.config, metrics: ctx.metrics, secure: https !== undefined });
      // GET /metrics and the request latency histogram: on the root, before any child scope
      metricsRoute(f, ctx);
      const storeParam = (req: FastifyRequest) => {
        const s = (req.params as { store: string }).store;
        if (s !== store) throw new GwError(ErrorCodes.NOT_FOUND, `store: ${JSON.stringify(s)} is not served by this hub (it serves ${store})`);
      };

      // slow readers dropped, idle streams pinged: hub/http/sse.ts, shared with the floor stream
      const sse = {
        maxBuffered: opts.sseMaxBuffered ?? SSE_MAX_BUFFERED,
        pingMs: opts.pingMs ?? PING_MS,
        // a store runs a few screens; a chain office behind one address, a few dozen
        slots: streamSlots({ total: opts.maxStreams ?? 256, perAddress: opts.maxStreamsPerAddress ?? 32 }),
      };
      const liveStreams = sseChannel({ ...sse, metrics: ctx.metrics });
      streams = liveStreams;
      // also when listen fails (the hub then does not call stop)
      f.addHook('onClose', async () => liveStreams.close());
      const broadcast = (text: string) => liveStreams.broadcast(text);
      // the live engine keeps its snapshot between ticks: serialise each one once, for all streams
      let lastSnap: { snap: LiveSnapshot; text: string } | undefined;
      const snapshotMessage = (): string => {
        const snap = live().snapshot();
        if (lastSnap?.snap !== snap) lastSnap = { snap, text: sseMessage('live', snap) };
        return lastSnap.text;
      };

      f.get('/healthz', { config: { access: 'public' } }, async () => ({ ok: true, store }));

      f.get('/api/stores/:store/live', { config: { access: 'manager' }, schema: { params: StoreParams } }, async (req) => {
        storeParam(req);
        return live().snapshot();
      });

      // re-reads the store file (as SIGHUP does): 200 when applied, 422 with the file's errors when refused
      f.post('/api/config/reload', { config: { access: 'owner' } }, async (_req, reply) => {
        const r = await ctx.reloadConfig();
        return reply.status(r.ok ? 200 : 422).send(r.ok ? r : { error: ErrorCodes.CONFIG_INVALID, message: r.errors[0] ?? 'refused', ...r });
      });

      f.get('/api/stores/:store/report', { config: { access: 'manager' }, schema: { params: StoreParams, querystring: ReportQuery } }, async (req) => {
        storeParam(req);
        const q = req.query as Record<string, unknown>;
        const { fromMs, toMs } = parsePeriod(q, live().tz);
        return (await rollupReportIfNeeded(ctx, q, fromMs, toMs, live().tz)) ?? live().report(fromMs, toMs);
      });

      historyRoutes(f, { ctx });

      // a stream outlives the request that opened it: it ends with its login (logout, a session
      // that expired, a user or token removed by a reload), checked on each snapshot and reload
      const streamLogins = new Map<ServerResponse, Principal>();
      const endStaleStreams = () => {
        for (const [res, p] of streamLogins) {
          if (p.stillValid()) continue;
          streamLogins.delete(res);
          res.end();
        }
      };

      // the live stream (README "Live stream"): `live` (a full snapshot) on connect and every
      // snapshotMs, `change` (a LiveDelta) as the live engine emits it, `: ping` when idle
      f.get('/api/stores/:store/stream', { config: { access: 'manager' }, schema: { params: StoreParams } }, (req: FastifyRequest, reply: FastifyReply) => {
        storeParam(req);
        const first = snapshotMessage(); // before the hijack: a failure still answers 500
        liveStreams.open(req, reply, first);
        if (req.principal) {
          const res = reply.raw;
          streamLogins.set(res, req.principal);
          res.on('close', () => streamLogins.delete(res));
        }
      });

      // the floor view's public API and stream (README "Floor view")
      floorRoutes(f, { ctx, snapshotMs: opts.snapshotMs ?? SNAPSHOT_MS, sse });

      // dashboard: the pages scripts/build-dashboard.ts built with Vite (`npm run build`); 503
      // with the command to run until they are there (hub/http/dashboard-routes.ts)
      await dashboardRoutes(f, { dir: opts.dashboardDir ?? path.join(repoRoot(), 'dist', 'dashboard'), store, log: logger });

      f.server.on('connect', refuseConnectMethod(ctx.metrics));
      try {
        await f.listen({ port: cfg.hub.http.port, host: cfg.hub.http.host });
      } catch (err) {
        // the hub does not stop a plugin that failed to start (a caller may retry on free ports)
        app = undefined;
        await f.close();
        throw err;
      }
      ctx.runtime.httpPort = (f.server.address() as AddressInfo).port;

      // one subscription for all streams; each delta is serialised once
      const offDelta = ctx.bus.on('live:delta', ({ delta }) => {
        if (liveStreams.size) broadcast(sseMessage('change', delta));
      });
      const offConfig = ctx.bus.on('config:changed', endStaleStreams);
      offBus = () => {
        offDelta();
        offConfig();
      };
      timers.push(
        setInterval(() => {
          if (!liveStreams.size) return;
          endStaleStreams();
          let text: string;
          try {
            text = snapshotMessage();
          } catch (err) {
            // a timer that threw would take the hub down; the screens keep their deltas meanwhile
            logger.error({ err }, 'live snapshot failed; streams get the next one');
            return;
          }
          broadcast(text);
        }, opts.snapshotMs ?? SNAPSHOT_MS),
      );
    },
    async stop() {
      offBus?.();
      offBus = undefined;
      for (const t of timers.splice(0)) clearInterval(t);
      const a = app;
      app = undefined;
      streams?.close();
      streams = undefined;
      if (a) await a.close();
    },
  };
}

import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ErrorCodes, GwError, type ErrorCode, type LiveSnapshot } from '../../contract/index.ts';
import type { HubContext, HubPlugin } from '../context.ts';
import { historyRoutes, rollupReportIfNeeded } from '../http/history-routes.ts';
import { parsePeriod } from '../http/params.ts';
import { repoRoot } from '../repo-root.ts';
import { httpsOptions } from '../tls.ts';

// The hub's HTTP side (CONTRACT.md "HTTP"): report and live API, the live stream
// (SSE), and the dashboard, served as scripts/build-dashboard.ts built it.

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.BAD_PARAM]: 400,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.STORE_IO]: 503,
};

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
  /** the built dashboard (floor.html, floor.js); default <repo>/dist/dashboard */
  dashboardDir?: string;
}

/** one open live stream */
interface Stream {
  res: ServerResponse;
  log: FastifyBaseLogger;
  /** Date.now() of the last write (for pings) */
  lastWrite: number;
}

export function httpPlugin(opts: HttpOptions = {}): HubPlugin {
  let app: FastifyInstance | undefined;
  /** open SSE streams: ended on stop, or the server would wait for them forever */
  const streams = new Set<Stream>();
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
      const f = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }), ...(https ? { https } : {}) });
      app = f;
      const live = () => {
        const l = ctx.runtime.live;
        if (!l) throw new Error('live engine is not running');
        return l;
      };

      f.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
        const code = err instanceof GwError ? err.code : undefined;
        const status = (code && STATUS[code]) ?? err.statusCode ?? 500;
        if (status >= 500) req.log.error({ err }, 'request failed');
        // a reply is a thenable, not a promise: send() has done the work, nothing rejects unawaited
        void reply.status(status).send({ error: code ?? 'GW_ERR_INTERNAL', message: err.message });
      });
      f.setNotFoundHandler((req, reply) => {
        // as above: the reply is a thenable, nothing rejects unawaited
        void reply.status(404).send({ error: ErrorCodes.NOT_FOUND, message: `no route ${req.method} ${req.url.split('?')[0]}` });
      });

      // tokens are compared as SHA-256 digests: equal length whatever was sent (no length leak, and a
      // non-ASCII token is just a wrong token); read from ctx.config at each request, so a reload applies
      const digest = (t: string) => createHash('sha256').update(t, 'utf8').digest();
      let tokenSource: readonly string[] | undefined;
      let tokens: Buffer[] = [];
      const auth = (req: FastifyRequest) => {
        const configured = ctx.config.hub.tokens;
        if (configured.length === 0) return;
        if (configured !== tokenSource) {
          tokenSource = configured;
          tokens = configured.map(digest);
        }
        const h = req.headers.authorization;
        const q = (req.query as Record<string, unknown>).token;
        const given = h?.startsWith('Bearer ') ? h.slice(7) : typeof q === 'string' ? q : undefined;
        const d = given === undefined ? undefined : digest(given);
        if (!d || !tokens.some((t) => timingSafeEqual(t, d))) {
          throw new GwError(ErrorCodes.UNAUTHORIZED, 'missing or wrong bearer token');
        }
      };
      const storeParam = (req: FastifyRequest) => {
        const s = (req.params as { store: string }).store;
        if (s !== store) throw new GwError(ErrorCodes.NOT_FOUND, `store: ${JSON.stringify(s)} is not served by this hub (it serves ${store})`);
      };

      const maxBuffered = opts.sseMaxBuffered ?? SSE_MAX_BUFFERED;
      /** every write to a stream goes through here; false when the stream is gone or was dropped */
      const write = (s: Stream, text: string): boolean => {
        if (s.res.destroyed || s.res.writableEnded) {
          streams.delete(s);
          return false;
        }
        // a screen that stops reading (a frozen tablet, a hostile client) is dropped once this
        // much waits for it, instead of growing the hub's memory without bound (README "Security")
        if (s.res.writableLength > maxBuffered) {
          ctx.metrics.dropSlowStream();
          s.log.warn({ buffered: s.res.writableLength }, 'SSE client stopped reading: dropped');
          streams.delete(s);
          s.res.destroy(); // end() would wait for the client to read what is queued
          return false;
        }
        s.res.write(text);
        s.lastWrite = Date.now();
        return true;
      };
      /** one message, serialised once, to every stream */
      const broadcast = (text: string) => {
        for (const s of [...streams]) write(s, text);
      };
      // the live engine keeps its snapshot between ticks: serialise each one once, for all streams
      let lastSnap: { snap: LiveSnapshot; text: string } | undefined;
      const snapshotMessage = (): string => {
        const snap = live().snapshot();
        if (lastSnap?.snap !== snap) lastSnap = { snap, text: `event: live\ndata: ${JSON.stringify(snap)}\n\n` };
        return lastSnap.text;
      };

      f.get('/healthz', async () => ({ ok: true, store }));

      f.get('/api/stores/:store/live', async (req) => {
        auth(req);
        storeParam(req);
        return live().snapshot();
      });

      // re-reads the store file (as SIGHUP does): 200 when applied, 422 with the file's errors when refused
      f.post('/api/config/reload', async (req, reply) => {
        auth(req);
        const r = await ctx.reloadConfig();
        return reply.status(r.ok ? 200 : 422).send(r.ok ? r : { error: ErrorCodes.CONFIG_INVALID, message: r.errors[0] ?? 'refused', ...r });
      });

      f.get('/api/stores/:store/report', async (req) => {
        auth(req);
        storeParam(req);
        const q = req.query as Record<string, unknown>;
        const { fromMs, toMs } = parsePeriod(q, live().tz);
        return (await rollupReportIfNeeded(ctx, q, fromMs, toMs, live().tz)) ?? live().report(fromMs, toMs);
      });

      historyRoutes(f, { ctx, auth });

      // the live stream (README "Live stream"): `live` (a full snapshot) on connect and every
      // snapshotMs, `change` (a LiveDelta) as the live engine emits it, `: ping` when idle
      f.get('/api/stores/:store/stream', (req: FastifyRequest, reply: FastifyReply) => {
        auth(req);
        storeParam(req);
        const first = snapshotMessage(); // before the hijack: a failure still answers 500
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        const s: Stream = { res, log: req.log, lastWrite: 0 };
        res.on('error', (err) => req.log.debug({ err: err.message }, 'SSE client went away'));
        res.on('close', () => streams.delete(s));
        streams.add(s);
        write(s, first);
      });

      // dashboard: the files scripts/build-dashboard.ts wrote (`npm run build`); until they are
      // there the page says how to make them, and is looked for again on each request
      const dashboardDir = opts.dashboardDir ?? path.join(repoRoot(), 'dist', 'dashboard');
      const loadDashboard = (): { html: string; js: string } | undefined => {
        try {
          const js = fs.readFileSync(path.join(dashboardDir, 'floor.js'), 'utf8');
          const html = fs.readFileSync(path.join(dashboardDir, 'floor.html'), 'utf8').replace('<html lang="en">', `<html lang="en" data-store="${store}">`);
          return { html, js };
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw err;
        }
      };
      let dashboard = loadDashboard();
      if (!dashboard) logger.warn({ dashboardDir }, 'dashboard not built: run npm run build (the floor page answers 503 until then)');
      const notBuilt = (reply: FastifyReply) =>
        reply
          .status(503)
          .type('text/html; charset=utf-8')
          .send('<!doctype html><html lang="en"><meta charset="utf-8"><title>greetwatch</title><p>dashboard not built: run npm run build</p></html>\n');
      const page = async (_req: FastifyRequest, reply: FastifyReply) => {
        dashboard ??= loadDashboard();
        return dashboard ? reply.type('text/html; charset=utf-8').send(dashboard.html) : notBuilt(reply);
      };
      f.get('/', page);
      f.get('/floor', page);
      f.get('/assets/floor.js', async (_req, reply) => {
        dashboard ??= loadDashboard();
        return dashboard ? reply.type('text/javascript; charset=utf-8').send(dashboard.js) : notBuilt(reply);
      });

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
      offBus = ctx.bus.on('live:delta', ({ delta }) => {
        if (streams.size) broadcast(`event: change\ndata: ${JSON.stringify(delta)}\n\n`);
      });
      timers.push(
        setInterval(() => {
          if (!streams.size) return;
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
      const pingMs = opts.pingMs ?? PING_MS;
      timers.push(
        setInterval(() => {
          const idleSince = Date.now() - pingMs;
          for (const s of [...streams]) if (s.lastWrite <= idleSince) write(s, ': ping\n\n');
        }, pingMs),
      );
    },
    async stop() {
      offBus?.();
      offBus = undefined;
      for (const t of timers.splice(0)) clearInterval(t);
      const a = app;
      app = undefined;
      for (const s of [...streams]) {
        streams.delete(s);
        s.res.end();
      }
      if (a) await a.close();
    },
  };
}

import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import * as esbuild from 'esbuild';
import { ErrorCodes, GwError, type ErrorCode } from '../../contract/index.ts';
import type { HubContext, HubPlugin } from '../context.ts';
import { parsePeriod } from '../http/params.ts';
import { httpsOptions } from '../tls.ts';

// The hub's HTTP side (CONTRACT.md "HTTP"): report and live API, the live stream
// (SSE), and the dashboard. The dashboard's TypeScript is bundled once at start
// with esbuild, in memory: no build step before `npm start`.

const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dashboard');

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.BAD_PARAM]: 400,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.STORE_IO]: 503,
};

/** bytes an SSE client may leave unread before it is dropped (a few full snapshots) */
const SSE_MAX_BUFFERED = 1024 * 1024;

export interface HttpOptions {
  /** how often SSE clients get a snapshot */
  streamMs?: number;
  /** bytes an SSE client may leave unread before it is dropped (default 1 MiB) */
  sseMaxBuffered?: number;
}

export function httpPlugin(opts: HttpOptions = {}): HubPlugin {
  let app: FastifyInstance | undefined;
  /** open SSE streams: ended on stop, or the server would wait for them forever */
  const streams = new Set<() => void>();
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
        const { fromMs, toMs } = parsePeriod(req.query as Record<string, unknown>, live().tz);
        return live().report(fromMs, toMs);
      });

      f.get('/api/stores/:store/stream', (req: FastifyRequest, reply: FastifyReply) => {
        auth(req);
        storeParam(req);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        const timer: { every?: NodeJS.Timeout } = {};
        const end = () => {
          clearInterval(timer.every);
          streams.delete(end);
          res.end();
        };
        const send = () => {
          // a screen that stops reading (a frozen tablet, a hostile client) is dropped once this
          // much waits for it, instead of growing the hub's memory without bound
          if (res.writableLength > (opts.sseMaxBuffered ?? SSE_MAX_BUFFERED)) {
            ctx.metrics.dropSlowStream();
            req.log.warn({ buffered: res.writableLength }, 'SSE client stopped reading: dropped');
            clearInterval(timer.every);
            streams.delete(end);
            res.destroy(); // end() would wait for the client to read what is queued
            return;
          }
          res.write(`event: live\ndata: ${JSON.stringify(live().snapshot())}\n\n`);
        };
        send();
        timer.every = setInterval(send, opts.streamMs ?? 500);
        streams.add(end);
        req.raw.on('close', end);
      });

      // dashboard
      const bundle = await esbuild.build({
        entryPoints: [path.join(DASHBOARD_DIR, 'floor.ts')],
        bundle: true,
        write: false,
        format: 'esm',
        target: 'es2020',
        minify: true,
      });
      const floorJs = bundle.outputFiles[0]!.text;
      const floorHtml = fs.readFileSync(path.join(DASHBOARD_DIR, 'floor.html'), 'utf8').replace('<html lang="en">', `<html lang="en" data-store="${store}">`);
      const page = async (_req: FastifyRequest, reply: FastifyReply) => reply.type('text/html; charset=utf-8').send(floorHtml);
      f.get('/', page);
      f.get('/floor', page);
      f.get('/assets/floor.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(floorJs));

      await f.listen({ port: cfg.hub.http.port, host: cfg.hub.http.host });
      ctx.runtime.httpPort = (f.server.address() as AddressInfo).port;
    },
    async stop() {
      const a = app;
      app = undefined;
      for (const end of [...streams]) end();
      if (a) await a.close();
    },
  };
}

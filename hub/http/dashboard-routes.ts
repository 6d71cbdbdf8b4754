import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';

// The dashboard as `npm run build` left it in dist/dashboard (scripts/build-dashboard.ts, Vite):
// one HTML file per page and content-hashed files under assets/. The hub runs no build tool
// (README "Quick start"). Until the files are there a page answers 503 with the command that
// makes them, and they are looked for again on each request, so a build needs no restart.

/** URL → the page file Vite wrote for dashboard/<name>.html */
export const PAGES: Readonly<Record<string, string>> = {
  '/': 'floor.html',
  '/floor': 'floor.html',
  '/manager': 'manager.html',
  '/owner': 'owner.html',
  '/login': 'login.html',
};

export const NOT_BUILT_HTML = '<!doctype html><html lang="en"><meta charset="utf-8"><title>greetwatch</title><p>dashboard not built: run npm run build</p></html>\n';

export interface DashboardRoutesDeps {
  /** the built dashboard (default <repo>/dist/dashboard) */
  dir: string;
  /** the store this hub serves: pages get it as <html data-store> (GET /api/hub says the same) */
  store: string;
  log: FastifyBaseLogger;
}

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export async function dashboardRoutes(f: FastifyInstance, deps: DashboardRoutesDeps): Promise<void> {
  const { dir, store } = deps;
  if (!fs.existsSync(path.join(dir, 'floor.html'))) deps.log.warn({ dashboardDir: dir }, 'dashboard not built: run npm run build (the pages answer 503 until then)');
  // serve: false: no wildcard route of its own; the routes below declare their access (all public:
  // pages and scripts hold no data, the API behind them checks logins)
  await f.register(fastifyStatic, { root: dir, serve: false, suppressWarning: true });

  const notBuilt = (reply: FastifyReply) => reply.status(503).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT_HTML);
  for (const [url, file] of Object.entries(PAGES)) {
    f.get(url, { config: { access: 'public' } }, async (_req, reply) => {
      let html: string;
      try {
        html = await fs.promises.readFile(path.join(dir, file), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return notBuilt(reply);
        throw err;
      }
      // no-cache: a page names this build's hashed assets, so it is asked for again after a rebuild
      return reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-cache')
        .send(html.replace(/<html\b/i, `<html data-store="${attr(store)}"`));
    });
  }
  // hashed names (Vite): a changed file gets a new name, so these may be kept for a year
  f.get('/assets/*', { config: { access: 'public' } }, (req, reply) => {
    const rest = (req.params as { '*': string })['*'];
    return reply.sendFile(`assets/${rest}`, { maxAge: '365d', immutable: true });
  });
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HubContext } from '../context.ts';
import type { HubMetrics } from '../prometheus.ts';

// GET /metrics for Prometheus (README "Prometheus"), protected like the API: an owner's
// bearer token (`Authorization: Bearer <token>`), enforced by the auth hook from the
// route's `access`. Also times every request of `f` for the latency histogram: call it on
// the root instance before any child plugin is registered (a child copies its parent's
// hooks when it is registered).

export function metricsRoute(f: FastifyInstance, ctx: HubContext): void {
  // prom-client and the registry load at the first scrape (a hub nobody scrapes does not carry
  // them: README "Benchmarks", idle memory); request latencies are observed from then on
  let metrics: HubMetrics | undefined;
  let loading: Promise<HubMetrics> | undefined;
  const load = () => (loading ??= import('../prometheus.ts').then((m) => (metrics = m.hubMetrics(ctx))));
  // a hijacked reply (the live stream) never passes onSend: its "duration" would be the
  // stream's lifetime, which would swamp the histogram, so only replies seen here are timed
  const sent = new WeakSet<FastifyRequest>();
  f.addHook('onSend', async (req, _reply, payload) => {
    sent.add(req);
    return payload;
  });
  f.addHook('onResponse', async (req, reply) => {
    if (!sent.has(req)) return;
    // the route pattern (/api/stores/:store/live), never the URL: label values stay bounded
    metrics?.observeRequest(req.method, req.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
  });
  f.get('/metrics', { config: { access: 'owner' } }, async (_req, reply) => {
    const m = await load();
    const text = await m.scrape();
    return reply.type(m.contentType).send(text);
  });
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LatencyFigures, LiveSnapshot, PartyLevel } from '../contract/index.ts';
import type { HubContext } from './context.ts';
import type { HistoryState } from './visit-store.ts';
import { MQTT_ACK_WINDOW } from './plugins/broker.ts';
import { COMMIT_WINDOW } from './trace-recorder.ts';

// The hub's state as Prometheus metrics (README "Prometheus"). One Registry per hub, never
// prom-client's global one, so two hubs in one process (tests, a bench) do not clash. Every
// figure is read when scraped from what the hub already keeps (the live snapshot, ctx.metrics,
// the broker's guard): nothing here counts on its own except HTTP latency. Labels are bounded:
// nodes are those of the live view (the store file's, plus the reject counters' ids, which
// hub/metrics.ts caps and folds into "(other)"), reasons are error codes and refusal names,
// routes are route patterns, never raw URLs.

const PREFIX = 'greetwatch_';
const LEVELS: readonly PartyLevel[] = ['ok', 'warn', 'late'];
const STATES: readonly HistoryState[] = ['up', 'down', 'off'];
/** the API answers in milliseconds; a report over a long period or a slow InfluxDB takes seconds */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** a request that matched no route: one label value, whatever URL was asked for */
export const UNMATCHED_ROUTE = '(unmatched)';

export interface HubMetrics {
  readonly registry: Registry;
  /** what GET /metrics answers with (the Prometheus text format) */
  readonly contentType: string;
  /** every metric in the text format, all read from one live snapshot */
  scrape(): Promise<string>;
  /** one answered HTTP request: `route` is the route pattern (routeOptions.url), never the URL */
  observeRequest(method: string, route: string | undefined, status: number, seconds: number): void;
}

/** a window of recent durations (ms) as a summary's quantiles in seconds (1 = the slowest); none before the first */
function* quantiles(f: LatencyFigures | null): Iterable<[{ quantile: string }, number]> {
  if (!f) return;
  yield [{ quantile: '0.5' }, f.p50 / 1000];
  yield [{ quantile: '0.99' }, f.p99 / 1000];
  yield [{ quantile: '1' }, f.max / 1000];
}

const statusClass = (status: number): string => (status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other');

export function hubMetrics(ctx: HubContext): HubMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: PREFIX });

  /** the snapshot of the scrape under way, so every metric of one scrape agrees */
  let current: LiveSnapshot | undefined;
  const snapshot = (): LiveSnapshot | undefined => current ?? ctx.runtime.live?.snapshot();
  const nodes = () => snapshot()?.nodes ?? [];

  /** a counter whose total the hub keeps: set from it at each scrape (a hub restart starts again from 0, which rate() takes as a reset) */
  const total = <L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Iterable<[Partial<Record<L, string>>, number]>) => {
    const c: Counter<L> = new Counter<L>({
      name: PREFIX + name,
      help,
      labelNames,
      registers,
      collect() {
        c.reset();
        for (const [labels, n] of read()) c.inc(labels, n);
      },
    });
    return c;
  };
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Iterable<[Partial<Record<L, string>>, number]>) => {
    const g: Gauge<L> = new Gauge<L>({
      name: PREFIX + name,
      help,
      labelNames,
      registers,
      collect() {
        g.reset();
        for (const [labels, n] of read()) g.set(labels, n);
      },
    });
    return g;
  };
  const perNode = (pick: (n: LiveSnapshot['nodes'][number]) => number | null | undefined) =>
    function* (): Iterable<[{ node: string }, number]> {
      for (const n of nodes()) {
        const v = pick(n);
        if (typeof v === 'number' && Number.isFinite(v)) yield [{ node: n.node }, v];
      }
    };

  // events (CONTRACT.md: accepted, duplicates, rejected per node and reason; README "Order, duplicates and clocks")
  total('events_accepted_total', 'Events accepted from a node (distinct ids; duplicates not counted).', ['node'], perNode((n) => n.events));
  total('events_duplicate_total', 'Copies of an event already accepted (same source and id), ignored.', ['node'], perNode((n) => n.duplicates));
  total('events_too_late_total', 'Events that arrived later than reorderS and were applied as best effort.', ['node'], perNode((n) => n.tooLate));
  gauge('events_lost', 'Events a node sent that never arrived (seq gaps per boot); shrinks when a late event fills a gap.', ['node'], perNode((n) => n.lost));
  total('events_rejected_total', 'Publishes from a node refused by the contract checks, by node and error code.', ['node', 'reason'], function* () {
    for (const [node, byCode] of ctx.metrics.rejected) for (const [reason, n] of byCode) yield [{ node, reason }, n];
  });

  // nodes (README "Live view": node health)
  gauge('node_online', 'Whether the node says it is online (its retained status): 1 or 0.', ['node'], perNode((n) => (n.online ? 1 : 0)));
  gauge('node_clock_offset_seconds', 'Estimated clock offset of the node (hub minus node); absent until the node has sent an event.', ['node'], perNode((n) => (n.offsetMs === null ? null : n.offsetMs / 1000)));
  gauge('node_outbox_events', 'Events waiting in the node outbox, as the node last reported.', ['node'], perNode((n) => n.outbox));
  total('node_dropped_events_total', 'Events the node dropped from a full outbox, as the node last reported.', ['node'], perNode((n) => n.dropped));
  total('node_faults_total', 'Sensor fault events received from the node (recoveries not counted).', ['node'], perNode((n) => n.faultCount));

  // the floor
  gauge('open_parties', 'Parties waiting to be greeted now, by level (ok, warn at warnAtS, late at greetWithinS).', ['level'], function* () {
    const open = snapshot()?.open ?? [];
    for (const level of LEVELS) yield [{ level }, open.filter((p) => p.level === level).length];
  });

  // history (README "History": state up|down|off and the spool)
  gauge('history_spool_points', 'History points waiting to be written to InfluxDB (memory batch and on-disk spool).', [], function* () {
    yield [{}, ctx.store.health().spool];
  });
  gauge('history_state', 'History state: 1 for the current one of up, down (InfluxDB failing, points wait in the spool), off (no persistent history).', ['state'], function* () {
    const now = ctx.store.health().state;
    for (const state of STATES) yield [{ state }, state === now ? 1 : 0];
  });

  // MQTT (README "Security": the guard's limits, refusals counted by reason)
  gauge('mqtt_connections', 'MQTT connections open past the guard (TCP and TLS listeners, logged in or not).', [], function* () {
    const c = ctx.runtime.mqttConnections?.();
    if (c) yield [{}, c.open];
  });
  gauge('mqtt_clients', 'MQTT clients logged in.', [], function* () {
    const c = ctx.runtime.mqttConnections?.();
    if (c) yield [{}, c.clients];
  });
  total('mqtt_connects_refused_total', 'MQTT connections refused, by reason (login, guard limit, TLS handshake).', ['reason'], function* () {
    for (const [reason, n] of ctx.metrics.refusedConnects) yield [{ reason }, n];
  });
  total('mqtt_publishes_refused_total', 'Publishes the broker refused (a node outside its own topics, a read-only user publishing).', [], function* () {
    yield [{}, ctx.metrics.refusedPublishes];
  });

  // publish handling put off to a later turn of the event loop (hub/turn-budget.ts): bursts
  total('publish_tasks_deferred_total', 'Publish handling (a publish at the gate, an event once durable) that waited for a later turn of the event loop, its turn being over budget: how often bursts came.', [], function* () {
    yield [{}, ctx.turn.stats().deferred];
  });
  gauge('publish_tasks_waiting', 'Publish handling waiting for a later turn of the event loop now.', [], function* () {
    yield [{}, ctx.turn.stats().waiting];
  });

  // the trace journal (README "Reliability") and the live stream
  total('journal_events_written_total', 'Events made durable in the trace journal.', [], function* () {
    yield [{}, ctx.recorder.stats().written];
  });
  total('journal_commits_total', 'Trace journal commits: one synchronous (O_DSYNC) write each, for every event that came while the previous one ran.', [], function* () {
    yield [{}, ctx.recorder.stats().commits];
  });
  total('journal_commit_seconds_total', 'Trace journal commit time (the synchronous write), all commits together: with journal_commits_total, the mean over any window.', [], function* () {
    yield [{}, ctx.recorder.stats().commitMsTotal / 1000];
  });
  gauge('journal_commit_seconds', `Trace journal commit time (the synchronous write) over the last ${COMMIT_WINDOW} commits, by quantile (1 = the slowest): the disk time every PUBACK waits for.`, ['quantile'], function* () {
    yield* quantiles(ctx.recorder.stats().commitMs);
  });
  gauge('mqtt_ack_seconds', `How long the last ${MQTT_ACK_WINDOW} publishes from nodes waited in the hub (journal commit, hand-over to the engine) before their PUBACK could go, by quantile (1 = the slowest).`, ['quantile'], function* () {
    yield* quantiles(ctx.runtime.mqttAckMs?.() ?? null);
  });
  total('journal_write_failures_total', 'Trace journal writes that failed (those events were not acknowledged, so nodes send them again).', [], function* () {
    yield [{}, ctx.metrics.traceFailures];
  });
  total('http_requests_refused_total', 'HTTP requests refused before any route (not valid HTTP, headers too large, too slow, a bad URL), by reason.', ['reason'], function* () {
    for (const [reason, n] of ctx.metrics.refusedHttp) yield [{ reason }, n];
  });
  total('sse_clients_refused_total', 'Live and floor stream (SSE) requests refused: too many streams open from one address or in all.', [], function* () {
    yield [{}, ctx.metrics.streamsRefused];
  });
  total('sse_clients_dropped_total', 'Live stream (SSE) clients dropped because they stopped reading.', [], function* () {
    yield [{}, ctx.metrics.slowStreamsDropped];
  });

  const latency = new Histogram<'method' | 'route' | 'status_class'>({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'HTTP request duration, by method, route pattern and status class (the live stream is not timed).',
    labelNames: ['method', 'route', 'status_class'],
    buckets: LATENCY_BUCKETS,
    registers,
  });

  return {
    registry,
    contentType: registry.contentType,
    async scrape() {
      current = ctx.runtime.live?.snapshot();
      try {
        return await registry.metrics();
      } finally {
        current = undefined;
      }
    },
    observeRequest(method, route, status, seconds) {
      latency.observe({ method, route: route ?? UNMATCHED_ROUTE, status_class: statusClass(status) }, seconds);
    },
  };
}

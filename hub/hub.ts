import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { StoreConfig } from '../firmware-config/schema.ts';
import { Bus } from './bus.ts';
import { systemClock, type Clock } from './clock.ts';
import type { HubContext, HubPlugin, ReloadResult } from './context.ts';
import { ConfigError, formatIssue, loadConfig } from '../firmware-config/load.ts';
import { Metrics } from './metrics.ts';
import { brokerPlugin } from './plugins/broker.ts';
import type { GuardOptions } from './mqtt-guard.ts';
import { historyPlugin } from './plugins/history.ts';
import { httpPlugin } from './plugins/http.ts';
import { ingestPlugin } from './plugins/ingest.ts';
import { liveEnginePlugin } from './plugins/live-engine.ts';
import { nodeIoPlugin } from './plugins/node-io.ts';
import { alertsPlugin } from './plugins/alerts.ts';
import { zigbee2mqttPlugin } from './plugins/zigbee2mqtt.ts';
import { homeAssistantPlugin } from './plugins/home-assistant.ts';
import { packageVersion } from './repo-root.ts';
import { fileTraceRecorder, type TraceRecorder } from './trace-recorder.ts';
import { turnBudget, type TurnBudget } from './turn-budget.ts';
import type { VisitStore } from './visit-store.ts';
import { configuredStore } from './history-setup.ts';

// Composes the hub from its plugins. Every dependency has a real default and can
// be injected (brief: `opts.store ?? influxStore(...)`, as aedes does with persistence).

export interface HubOptions {
  config: StoreConfig;
  /** the store file `config` came from: reloadConfig() re-reads it */
  configFile?: string;
  /** reads the store file (default loadConfig); injected by tests */
  loadConfig?: (file: string) => StoreConfig;
  /** folder for traces; default: config.hub.dataDir resolved against `baseDir` */
  dataDir?: string;
  /** folder the config file lives in (relative dataDir is resolved against it) */
  baseDir?: string;
  log?: Logger;
  clock?: Clock;
  /** history store; default: InfluxDB at config.hub.influx.url, else memory only */
  store?: VisitStore;
  recorder?: TraceRecorder;
  /** engine tick (how often hub time advances and the live view refreshes) */
  tickMs?: number;
  /** the waiting list is looked at no sooner than this after the last look (ms; LiveEngineOptions) */
  lookGapMs?: number;
  /** how often live streams get a full snapshot (changes are pushed as they happen) */
  snapshotMs?: number;
  /** the built dashboard (default <repo>/dist/dashboard) */
  dashboardDir?: string;
  /** bytes an SSE client may leave unread before it is dropped */
  sseMaxBuffered?: number;
  /** MQTT connection and packet limits (defaults in hub/mqtt-guard.ts); the fuzzer raises them */
  guard?: Partial<GuardOptions>;
  /** how long a stretch of publish handling may hold the event loop (hub/turn-budget.ts) */
  turn?: TurnBudget;
}

/** ms of publish handling before the rest waits for the loop's next turn (README "Benchmarks") */
const TURN_BUDGET_MS = 5;

export interface Hub {
  readonly ctx: HubContext;
  readonly mqttUrl: string;
  readonly httpUrl: string;
  /** re-reads the store file and applies it without a restart (see HubContext.reloadConfig) */
  reload(): Promise<ReloadResult>;
  stop(): Promise<void>;
}

/** Settings a running hub cannot change: listeners, data folder, history store, the store's identity. */
const RESTART_ONLY: Array<[string, (c: StoreConfig) => unknown]> = [
  ['store.id', (c) => c.store.id],
  ['hub.mqtt.host', (c) => c.hub.mqtt.host],
  ['hub.mqtt.port', (c) => c.hub.mqtt.port],
  ['hub.mqtt.tls', (c) => JSON.stringify(c.hub.mqtt.tls ?? null)],
  ['hub.mqtt.plain', (c) => c.hub.mqtt.plain ?? true],
  ['hub.http.tls', (c) => JSON.stringify(c.hub.http.tls ?? null)],
  ['hub.http.host', (c) => c.hub.http.host],
  ['hub.http.port', (c) => c.hub.http.port],
  ['hub.dataDir', (c) => c.hub.dataDir],
  ['hub.influx', (c) => JSON.stringify(c.hub.influx)],
];

/** Plugins in an order where each starts after what it `needs`; a missing or circular need is a bug, said plainly. */
export function startOrder(plugins: readonly HubPlugin[]): HubPlugin[] {
  const byName = new Map(plugins.map((p) => [p.name, p]));
  const out: HubPlugin[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (p: HubPlugin, path: string[]): void => {
    if (state.get(p.name) === 'done') return;
    if (state.get(p.name) === 'visiting') throw new Error(`hub plugins need each other in a circle: ${[...path, p.name].join(' → ')}`);
    state.set(p.name, 'visiting');
    for (const n of p.needs ?? []) {
      const dep = byName.get(n);
      if (!dep) throw new Error(`hub plugin ${p.name} needs ${n}, which is not in the hub`);
      visit(dep, [...path, p.name]);
    }
    state.set(p.name, 'done');
    out.push(p);
  };
  for (const p of plugins) visit(p, []);
  return out;
}

export async function startHub(opts: HubOptions): Promise<Hub> {
  const config = opts.config;
  const log = opts.log ?? pino({ name: 'hub', level: process.env.LOG_LEVEL ?? 'info' });
  const dataDir = opts.dataDir ?? path.resolve(opts.baseDir ?? process.cwd(), config.hub.dataDir);
  const store = opts.store ?? (await configuredStore(config, log, dataDir));
  const reloadConfig = async (): Promise<ReloadResult> => {
    const rlog = log.child({ name: 'hub:config' });
    if (!opts.configFile) return { ok: false, errors: ['this hub was started without a store file: nothing to reload'], restartNeeded: [] };
    let next: StoreConfig;
    try {
      next = (opts.loadConfig ?? loadConfig)(opts.configFile);
    } catch (err) {
      const errors = err instanceof ConfigError ? err.issues.filter((i) => i.severity === 'error').map(formatIssue) : [(err as Error).message];
      for (const e of errors) rlog.error(e);
      rlog.error({ file: opts.configFile, errors: errors.length }, 'store file refused; the running config stays in force');
      return { ok: false, errors, restartNeeded: [] };
    }
    const previous = ctx.config;
    const restartNeeded = RESTART_ONLY.filter(([, get]) => get(next) !== get(previous)).map(([name]) => name);
    if (restartNeeded.includes('store.id')) {
      const msg = `store.id changed from ${previous.store.id} to ${next.store.id}: a hub serves one store; restart it to change stores`;
      rlog.error(msg);
      return { ok: false, errors: [msg], restartNeeded };
    }
    // what only a restart can change keeps its running value, so every plugin sees one consistent config
    const applied: StoreConfig = { ...next, hub: { ...next.hub, mqtt: previous.hub.mqtt, http: previous.hub.http, dataDir: previous.hub.dataDir, influx: previous.hub.influx } };
    ctx.config = applied;
    ctx.bus.emit('config:changed', { config: applied, previous });
    if (restartNeeded.length) rlog.warn({ restartNeeded }, 'store file applied; these settings take effect after a restart');
    else rlog.info({ file: opts.configFile }, 'store file applied');
    return { ok: true, errors: [], restartNeeded };
  };
  const turn =
    opts.turn ??
    turnBudget({
      budgetMs: TURN_BUDGET_MS,
      // a task that waited runs from setImmediate, where a throw would end the hub
      onError: (err) => log.child({ name: 'hub:turn' }).error({ err }, 'deferred publish handling failed'),
    });
  const ctx: HubContext = {
    config,
    reloadConfig,
    dataDir,
    log,
    bus: new Bus(),
    clock: opts.clock ?? systemClock,
    store,
    recorder:
      opts.recorder ??
      fileTraceRecorder(path.join(dataDir, 'traces'), config.store.id, {
        keepDays: config.hub.traceDays,
        // in a burst a write starts behind the publishes handled before it: one commit for them, not one a turn
        later: (fn) => void setImmediate(() => turn.run(fn)),
      }),
    turn,
    metrics: new Metrics(),
    runtime: {},
  };
  const ingest = ingestPlugin();
  const plugins: HubPlugin[] = [
    liveEnginePlugin({ ...(opts.tickMs !== undefined ? { tickMs: opts.tickMs } : {}), ...(opts.lookGapMs !== undefined ? { lookGapMs: opts.lookGapMs } : {}) }),
    ingest,
    historyPlugin(),
    brokerPlugin({ gate: ingest.gate, ...(opts.guard ? { guard: opts.guard } : {}) }),
    nodeIoPlugin(),
    alertsPlugin(),
    zigbee2mqttPlugin(),
    homeAssistantPlugin({ swVersion: packageVersion() }),
    httpPlugin({
      ...(opts.snapshotMs !== undefined ? { snapshotMs: opts.snapshotMs } : {}),
      ...(opts.sseMaxBuffered !== undefined ? { sseMaxBuffered: opts.sseMaxBuffered } : {}),
      ...(opts.dashboardDir !== undefined ? { dashboardDir: opts.dashboardDir } : {}),
    }),
  ];
  const started: HubPlugin[] = [];
  const order = startOrder(plugins);
  const stopAll = async () => {
    for (const p of started.splice(0).reverse()) {
      try {
        await p.stop();
      } catch (err) {
        log.error({ err, plugin: p.name }, 'plugin failed to stop');
      }
    }
    await ctx.recorder.close();
    await ctx.store.close();
  };
  try {
    for (const p of order) {
      await p.start(ctx);
      started.push(p);
    }
    for (const p of order) await p.ready?.();
  } catch (err) {
    await stopAll();
    throw err;
  }
  const host = (h: string) => (h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h);
  return {
    ctx,
    // the plain listener when there is one, else the TLS one
    mqttUrl: ctx.runtime.mqttPort !== undefined ? `mqtt://${host(config.hub.mqtt.host)}:${ctx.runtime.mqttPort}` : `mqtts://${host(config.hub.mqtt.host)}:${ctx.runtime.mqttTlsPort}`,
    httpUrl: `${config.hub.http.tls ? 'https' : 'http'}://${host(config.hub.http.host)}:${ctx.runtime.httpPort}`,
    reload: reloadConfig,
    stop: stopAll,
  };
}

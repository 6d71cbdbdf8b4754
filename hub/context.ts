import type { Logger } from 'pino';
import type { StoreConfig } from '../firmware-config/schema.ts';
import type { Bus } from './bus.ts';
import type { Clock } from './clock.ts';
import type { VisitStore } from './visit-store.ts';
import type { TraceRecorder } from './trace-recorder.ts';
import type { Metrics } from './metrics.ts';
import type { TurnBudget } from './turn-budget.ts';

/** The one typed context every hub plugin takes (brief: no long argument lists, no singletons). */
export interface HubContext {
  /** the config in force; replaced (never mutated) when a reload is accepted, then `config:changed` is emitted */
  config: StoreConfig;
  /** re-reads the store file (SIGHUP, POST /api/config/reload); a bad file leaves the running config in force */
  reloadConfig(): Promise<ReloadResult>;
  /** absolute folder for traces and other local state */
  dataDir: string;
  log: Logger;
  bus: Bus;
  clock: Clock;
  store: VisitStore;
  recorder: TraceRecorder;
  /** publish handling (the gate, and each event once durable) runs through it: no stretch holds the loop past its budget */
  turn: TurnBudget;
  metrics: Metrics;
  /** filled by plugins as they start: what other plugins may read (ports, live state) */
  runtime: HubRuntime;
}

export interface ReloadResult {
  ok: boolean;
  /** the file's problems, as `file:line:col path: message` lines (when !ok) */
  errors: string[];
  /** settings that changed in the file but only take effect after a restart (ports, data folder, history) */
  restartNeeded: string[];
}

export interface HubRuntime {
  /** the plain MQTT listener's port (unset with hub.mqtt.plain: false) */
  mqttPort?: number;
  /** the TLS (mqtts://) listener's port, with hub.mqtt.tls */
  mqttTlsPort?: number;
  httpPort?: number;
  /** publish on the embedded broker (set by the broker plugin) */
  publish?: (topic: string, payload: string, opts: { qos: 0 | 1; retain: boolean }) => Promise<void>;
  /** receive what clients publish on a topic of the embedded broker (set by the broker plugin); returns the unsubscribe */
  subscribe?: (topic: string, fn: (topic: string, payload: string) => void) => () => void;
  /** hands a publish to ingest as if a node had sent it: validated, counted, traced (set by the ingest plugin) */
  ingest?: (topic: string, payload: string) => Promise<void>;
  /**
   * the receive time of the oldest event recorded but not yet handed to the engine, Infinity
   * when none (set by the ingest plugin): the tick moves hub time only to just before it
   */
  pendingSince?: () => number;
  /** alert delivery counters (set by the alerts plugin) */
  alerts?: import('./plugins/alerts.ts').AlertsApi;
  /** the live view (set by the live-engine plugin) */
  live?: import('./plugins/live-engine.ts').LiveEngineApi;
  /** MQTT connections now: TCP connections past the guard, and logged-in clients (set by the broker plugin) */
  mqttConnections?: () => { open: number; clients: number };
  /**
   * how long node publishes waited in the hub before the broker could acknowledge them, over the
   * last MQTT_ACK_WINDOW (set by the broker plugin); null before the first
   */
  mqttAckMs?: () => import('../contract/index.ts').LatencyFigures | null;
}

export interface HubPlugin {
  readonly name: string;
  /** plugins that must have started first (what this one reads from ctx.runtime, or listens after) */
  readonly needs?: readonly string[];
  start(ctx: HubContext): Promise<void>;
  /** called once every plugin has started, in start order: for what must reach every listener on the bus */
  ready?(): Promise<void>;
  stop(): Promise<void>;
}

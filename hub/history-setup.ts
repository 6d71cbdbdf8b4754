import path from 'node:path';
import type { Logger } from 'pino';
import { redactUrl } from '../contract/index.ts';
import type { StoreConfig } from '../firmware-config/schema.ts';
import { findInfluxd, startInfluxd, type ManagedInfluxd } from './influxd.ts';
import type { InfluxStoreOptions } from './influx-store.ts';
import { memoryVisitStore, type StoreInfo, type VisitStore } from './visit-store.ts';

// Where history goes, decided once for `npm start` and the hub CLI:
// INFLUX_URL or hub.influx.url → that server; else a managed influxd when one is
// installed; else memory only, said once and clearly.

/** the InfluxDB client (node-influx and its HTTP pool) is loaded only when history goes to InfluxDB */
const influxStore = () => import('./influx-store.ts');

export interface History {
  store: VisitStore;
  managed: ManagedInfluxd | null;
  /** one line for the console: where history goes, or what is off and how to turn it on */
  message: string;
  stop(): Promise<void>;
}

/**
 * The history store when nothing is started for it: InfluxDB at `url` (the config's by
 * default), else memory only. startHub uses it when no store is injected; setupHistory
 * below adds INFLUX_URL and a managed influxd on top.
 */
export async function configuredStore(cfg: StoreConfig, log: Logger, dataDir: string, url = cfg.hub.influx.url): Promise<VisitStore> {
  if (url) return (await influxStore()).influxVisitStore(influxOptions(cfg, log, dataDir, url));
  return memoryVisitStore('History is off: no InfluxDB configured (set hub.influx.url, or install influxd for a managed one)', cfg.store.timezone);
}

/** the store file's history settings as the InfluxDB store takes them (README "History") */
export function influxOptions(cfg: StoreConfig, log: Logger, dataDir: string, url: string): InfluxStoreOptions {
  const h = cfg.hub.influx;
  const info: StoreInfo = {
    store: cfg.store.id,
    timezone: cfg.store.timezone,
    serviceLevelTarget: cfg.store.serviceLevelTarget,
    greetWithinS: cfg.rules.greetWithinS,
    ...(cfg.store.name !== undefined ? { name: cfg.store.name } : {}),
  };
  return {
    url,
    database: h.database,
    log,
    // one spool per database: two hubs sharing a data folder never mix their points
    spoolDir: path.join(dataDir, 'history-spool', h.database),
    spoolMaxBytes: h.spoolMB * 1024 * 1024,
    timeZone: cfg.store.timezone,
    retention: { raw: h.retention.raw, rollups: h.retention.rollups },
    storeInfo: info,
  };
}

export async function setupHistory(cfg: StoreConfig, dataDir: string, log: Logger, env = process.env): Promise<History> {
  const database = cfg.hub.influx.database;
  const url = env.INFLUX_URL || cfg.hub.influx.url;
  if (url) {
    const store = await configuredStore(cfg, log, dataDir, url);
    return { store, managed: null, message: `History: InfluxDB at ${redactUrl(url)}, database ${database}`, stop: async () => {} };
  }
  const bin = cfg.hub.influx.managed ? findInfluxd() : null;
  if (!cfg.hub.influx.managed) {
    const message = 'History is off: hub.influx.managed is false and no InfluxDB url is set. Reports cover only this run.';
    return { store: memoryVisitStore(message, cfg.store.timezone), managed: null, message, stop: async () => {} };
  }
  if (!bin) {
    const message =
      'History is off: influxd was not found and INFLUX_URL is not set. The live view works; reports cover only this run. ' +
      'To keep history: install InfluxDB 1.x (Debian/Ubuntu: sudo apt-get install influxdb) or set INFLUX_URL=http://host:8086.';
    return { store: memoryVisitStore(message, cfg.store.timezone), managed: null, message, stop: async () => {} };
  }
  const managed = await startInfluxd({ dataDir: path.join(dataDir, 'influxdb'), log, bin });
  const influx = await (await influxStore()).influxVisitStore(influxOptions(cfg, log, dataDir, managed.url));
  // while the managed server is down or restarting, history is down whatever the last write said
  const store: VisitStore = {
    persistent: influx.persistent,
    detail: influx.detail,
    write: (v) => influx.write(v),
    record: (r) => influx.record(r),
    query: (st, a, b) => influx.query(st, a, b),
    rollups: (st, a, b) => influx.rollups(st, a, b),
    stores: () => influx.stores(),
    rawRetentionMs: () => influx.rawRetentionMs(),
    backlog: () => influx.backlog(),
    close: () => influx.close(),
    health: () => {
      const h = influx.health();
      const state = managed.state();
      return state === 'up' ? h : { ...h, state: 'down', lastError: h.lastError ?? `managed influxd is ${state}` };
    },
  };
  return {
    store,
    managed,
    message: `History: managed InfluxDB (${bin}) at ${managed.url}, data in ${path.join(dataDir, 'influxdb')}`,
    stop: () => managed.stop(),
  };
}

import path from 'node:path';
import type { Logger } from 'pino';
import { redactUrl } from '../contract/index.ts';
import type { StoreConfig } from '../firmware-config/schema.ts';
import { findInfluxd, startInfluxd, type ManagedInfluxd } from './influxd.ts';
import { memoryVisitStore, type VisitStore } from './visit-store.ts';

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
export async function configuredStore(cfg: StoreConfig, log: Logger, url = cfg.hub.influx.url): Promise<VisitStore> {
  if (url) return (await influxStore()).influxVisitStore({ url, database: cfg.hub.influx.database, log });
  return memoryVisitStore('History is off: no InfluxDB configured (set hub.influx.url, or install influxd for a managed one)');
}

export async function setupHistory(cfg: StoreConfig, dataDir: string, log: Logger, env = process.env): Promise<History> {
  const database = cfg.hub.influx.database;
  const url = env.INFLUX_URL || cfg.hub.influx.url;
  if (url) {
    const store = await configuredStore(cfg, log, url);
    return { store, managed: null, message: `History: InfluxDB at ${redactUrl(url)}, database ${database}`, stop: async () => {} };
  }
  const bin = cfg.hub.influx.managed ? findInfluxd() : null;
  if (!cfg.hub.influx.managed) {
    const message = 'History is off: hub.influx.managed is false and no InfluxDB url is set. Reports cover only this run.';
    return { store: memoryVisitStore(message), managed: null, message, stop: async () => {} };
  }
  if (!bin) {
    const message =
      'History is off: influxd was not found and INFLUX_URL is not set. The live view works; reports cover only this run. ' +
      'To keep history: install InfluxDB 1.x (Debian/Ubuntu: sudo apt-get install influxdb) or set INFLUX_URL=http://host:8086.';
    return { store: memoryVisitStore(message), managed: null, message, stop: async () => {} };
  }
  const managed = await startInfluxd({ dataDir: path.join(dataDir, 'influxdb'), log, bin });
  const store = (await influxStore()).influxVisitStore({ url: managed.url, database, log });
  return {
    store,
    managed,
    message: `History: managed InfluxDB (${bin}) at ${managed.url}, data in ${path.join(dataDir, 'influxdb')}`,
    stop: () => managed.stop(),
  };
}

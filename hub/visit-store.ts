import type { GwEvent, NodeHealth, Visit } from '../contract/index.ts';
import { storeTimeZone } from './engine/store-zone.ts';
import type { StoreInfo } from './history/schema.ts';
import { rollupVisits, type HourRollup, type StaffHourRollup } from './history/rollup.ts';

/** up: InfluxDB answers; down: writes or queries fail (points wait in the spool); off: no persistent history */
export type HistoryState = 'up' | 'down' | 'off';

/** what /live shows about history (README "History") */
export interface HistoryHealth {
  state: HistoryState;
  /** points waiting to be written (in the on-disk spool for InfluxDB) */
  spool: number;
  /** the last failure while down, or why the spool cannot take points (a full disk) while up */
  lastError?: string;
}

/** what history keeps besides visits (README "History": greetings, sensor events, node health) */
export type HistoryRecord =
  | { kind: 'orphan'; store: string; t: number; staff?: string }
  | { kind: 'event'; store: string; event: GwEvent; recvMs: number }
  | { kind: 'health'; store: string; health: NodeHealth; t: number };

/** a period's hourly rollups (store-local hours, history/rollup.ts) */
export interface PeriodRollups {
  hours: HourRollup[];
  staff: StaffHourRollup[];
}

export type { StoreInfo };

/**
 * Where final visits are kept for reports. The default is InfluxDB (influx-store.ts);
 * memoryVisitStore() is used when history is off, and by unit tests.
 */
export interface VisitStore {
  /** false when history is off (no InfluxDB): reports then cover only this process's lifetime */
  readonly persistent: boolean;
  /** human sentence for logs and /live: where history goes, or why it is off */
  readonly detail: string;
  /** stores final visits; idempotent per (store, party). Never rejects: failures are retried and counted. */
  write(visits: readonly Visit[]): Promise<void>;
  /** stores greetings without a party, sensor events and health samples; never rejects */
  record(items: readonly HistoryRecord[]): Promise<void>;
  /** final visits whose first entry is in [fromMs, toMs) */
  query(store: string, fromMs: number, toMs: number): Promise<Visit[]>;
  /** hourly rollups whose store-local hour starts in [fromMs, toMs) */
  rollups(store: string, fromMs: number, toMs: number): Promise<PeriodRollups>;
  /** the stores that keep history here (a chain's shared InfluxDB); empty when unknown */
  stores(): Promise<StoreInfo[]>;
  /** raw points are kept this long; older periods are reported from rollups (Infinity: always raw) */
  rawRetentionMs(): number;
  /** pending writes not yet acknowledged by the backend */
  backlog(): number;
  health(): HistoryHealth;
  close(): Promise<void>;
}

export function memoryVisitStore(detail = 'history is kept in memory only', timeZone = 'UTC'): VisitStore {
  const byParty = new Map<string, Visit>();
  const tz = storeTimeZone(timeZone);
  const query = async (store: string, fromMs: number, toMs: number) =>
    [...byParty.values()].filter((v) => {
      const t = Date.parse(v.entryTime);
      return v.store === store && t >= fromMs && t < toMs;
    });
  return {
    persistent: false,
    detail,
    async write(visits) {
      for (const v of visits) byParty.set(`${v.store}\u0000${v.party}`, v);
    },
    async record() {},
    query,
    async rollups(store, fromMs, toMs) {
      // whole hours around the period, then only the hours that start inside it
      const r = rollupVisits(await query(store, fromMs - 3_600_000, toMs + 3_600_000), tz);
      const inside = (x: { startMs: number }) => x.startMs >= fromMs && x.startMs < toMs;
      return { hours: r.hours.filter(inside), staff: r.staff.filter(inside) };
    },
    stores: async () => [],
    rawRetentionMs: () => Infinity,
    backlog: () => 0,
    health: () => ({ state: 'off', spool: 0 }),
    async close() {},
  };
}

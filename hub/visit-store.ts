import type { Visit } from '../contract/index.ts';

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
  /** final visits whose first entry is in [fromMs, toMs) */
  query(store: string, fromMs: number, toMs: number): Promise<Visit[]>;
  /** pending writes not yet acknowledged by the backend */
  backlog(): number;
  close(): Promise<void>;
}

export function memoryVisitStore(detail = 'history is kept in memory only'): VisitStore {
  const byParty = new Map<string, Visit>();
  return {
    persistent: false,
    detail,
    async write(visits) {
      for (const v of visits) byParty.set(`${v.store}\u0000${v.party}`, v);
    },
    async query(store, fromMs, toMs) {
      return [...byParty.values()].filter((v) => {
        const t = Date.parse(v.entryTime);
        return v.store === store && t >= fromMs && t < toMs;
      });
    },
    backlog: () => 0,
    async close() {},
  };
}

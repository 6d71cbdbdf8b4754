import type { Visit } from '../../contract/index.ts';
import type { HubContext, HubPlugin } from '../context.ts';
import type { HistoryRecord } from '../visit-store.ts';

// What goes to history (README "History"): final visits (each with its greeting), greets
// no party took, every accepted sensor event (hub.influx.rawEvents) and a node health
// sample per node every hub.influx.healthEveryS. Handed to the store once per turn of the
// event loop; the store batches, spools and retries, and never rejects.

export function historyPlugin(): HubPlugin {
  const off: Array<() => void> = [];
  let visits: Visit[] = [];
  let records: HistoryRecord[] = [];
  let scheduled = false;
  let ctx: HubContext | undefined;
  let sampler: NodeJS.Timeout | undefined;
  const flush = () => {
    scheduled = false;
    const v = visits;
    const r = records;
    visits = [];
    records = [];
    // neither rejects (VisitStore): the store retries, counts, logs
    if (v.length && ctx) void ctx.store.write(v);
    if (r.length && ctx) void ctx.store.record(r);
  };
  const soon = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };
  return {
    name: 'history',
    // node health samples read the live view
    needs: ['live-engine'],
    async start(c) {
      ctx = c;
      const store = c.config.store.id;
      off.push(
        c.bus.on('visit:final', ({ visit }) => {
          visits.push(visit);
          soon();
        }),
        c.bus.on('greet:orphan', ({ store: s, t, staff }) => {
          records.push(staff === undefined ? { kind: 'orphan', store: s, t } : { kind: 'orphan', store: s, t, staff });
          soon();
        }),
        c.bus.on('event:accepted', ({ event, recvMs }) => {
          // read at each event: a reload may switch it
          if (!c.config.hub.influx.rawEvents || !c.store.persistent) return;
          records.push({ kind: 'event', store, event, recvMs });
          soon();
        }),
      );
      const sample = () => {
        const live = c.runtime.live;
        if (!live || !c.store.persistent) return;
        const t = c.clock.now();
        for (const health of live.nodes()) records.push({ kind: 'health', store, health, t });
        soon();
      };
      sampler = setInterval(sample, c.config.hub.influx.healthEveryS * 1000);
      sampler.unref();
    },
    async stop() {
      for (const f of off.splice(0)) f();
      if (sampler) clearInterval(sampler);
      flush();
    },
  };
}

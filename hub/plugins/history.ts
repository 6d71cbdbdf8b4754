import type { Visit } from '../../contract/index.ts';
import type { HubContext, HubPlugin } from '../context.ts';

// Final visits go to the history store (InfluxDB by default). Writes are batched
// per tick; the store itself queues and retries while InfluxDB is down.

export function historyPlugin(): HubPlugin {
  let off: (() => void) | undefined;
  let batch: Visit[] = [];
  let scheduled = false;
  let ctx: HubContext | undefined;
  const flush = () => {
    scheduled = false;
    const b = batch;
    batch = [];
    if (b.length && ctx) void ctx.store.write(b); // never rejects (VisitStore): the store retries, counts, logs
  };
  return {
    name: 'history',
    async start(c) {
      ctx = c;
      off = c.bus.on('visit:final', ({ visit }) => {
        batch.push(visit);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    async stop() {
      off?.();
      flush();
    },
  };
}

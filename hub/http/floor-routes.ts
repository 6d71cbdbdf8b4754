import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ErrorCodes,
  GwError,
  type FloorChange,
  type FloorDelta,
  type FloorParty,
  type FloorSnapshot,
  type HubInfo,
  type LiveSnapshot,
  type OpenParty,
} from '../../contract/index.ts';
import type { HubContext } from '../context.ts';
import { sseChannel, sseMessage, type SseOptions } from './sse.ts';

// The floor view's API (README "Floor view"): what the screen by the counter shows, and
// nothing more: no node health, no staff, no history state, no `leaving` (an inference that
// is often wrong stays off the floor). Public by design: read-only, no login on a screen
// that hangs in the shop (README "Security").

/** the floor stream sends a full snapshot at least this often: the page calls 5 s of silence a lost hub */
export const FLOOR_SNAPSHOT_MS = 2000;

export interface FloorRoutesDeps {
  ctx: HubContext;
  /** how often the live stream gets a snapshot; the floor stream's is at most FLOOR_SNAPSHOT_MS */
  snapshotMs: number;
  sse: Omit<SseOptions, 'metrics'>;
}

const floorParty = (p: OpenParty | FloorParty): FloorParty => ({ party: p.party, entryTime: p.entryTime, size: p.size, level: p.level, breached: p.breached });

const sameParty = (a: FloorParty, b: FloorParty) => a.entryTime === b.entryTime && a.size === b.size && a.level === b.level && a.breached === b.breached;

export function floorRoutes(f: FastifyInstance, deps: FloorRoutesDeps): void {
  const { ctx } = deps;
  const store = ctx.config.store.id; // restart-only (hub/hub.ts RESTART_ONLY)
  const live = () => {
    const l = ctx.runtime.live;
    if (!l) throw new Error('live engine is not running');
    return l;
  };
  // name and target are read from ctx.config each time: a reload applies
  const storeName = () => ctx.config.store.name ?? store;
  const storeParam = (req: FastifyRequest) => {
    const s = (req.params as { store: string }).store;
    if (s !== store) throw new GwError(ErrorCodes.NOT_FOUND, `store: ${JSON.stringify(s)} is not served by this hub (it serves ${store})`);
  };

  const toFloor = (s: LiveSnapshot): FloorSnapshot => ({
    store: s.store,
    name: storeName(),
    now: s.now,
    rules: { warnAtS: s.rules.warnAtS, greetWithinS: s.rules.greetWithinS },
    open: s.open.map(floorParty),
    today: {
      serviceLevel: s.today.serviceLevel,
      target: ctx.config.store.serviceLevelTarget,
      greetings: s.today.met + s.today.late,
      visits: s.today.visits,
    },
  });
  // the live engine keeps its snapshot between ticks: cut down and serialised once for all streams
  let last: { snap: LiveSnapshot; floor: FloorSnapshot; text: string } | undefined;
  const snapshot = () => {
    const snap = live().snapshot();
    if (last?.snap !== snap) {
      const floor = toFloor(snap);
      last = { snap, floor, text: sseMessage('floor', floor) };
    }
    return last;
  };

  const streams = sseChannel({ ...deps.sse, metrics: ctx.metrics });
  /** what the floor stream last said of each waiting party: a live change only in `leaving` says nothing here */
  const shown = new Map<string, FloorParty>();
  let seq = 0;
  const offBus = ctx.bus.on('live:delta', ({ delta }) => {
    const changes: FloorChange[] = [];
    for (const c of delta.changes) {
      if (c.kind === 'gone') {
        shown.delete(c.party);
        changes.push({ kind: 'gone', party: c.party });
        continue;
      }
      const p = floorParty(c.party);
      const was = shown.get(p.party);
      shown.set(p.party, p);
      if (!was || !sameParty(was, p)) changes.push({ kind: 'open', party: p });
    }
    if (!changes.length) return;
    const d: FloorDelta = { store: delta.store, now: delta.now, seq: ++seq, changes };
    if (streams.size) streams.broadcast(sseMessage('change', d));
  });
  const timer = setInterval(
    () => {
      if (!streams.size) return;
      let text: string;
      try {
        text = snapshot().text;
      } catch (err) {
        // a timer that threw would take the hub down; the screens keep their deltas meanwhile
        ctx.log.error({ err }, 'floor snapshot failed; streams get the next one');
        return;
      }
      streams.broadcast(text);
    },
    Math.min(deps.snapshotMs, FLOOR_SNAPSHOT_MS),
  );
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    offBus();
    clearInterval(timer);
    streams.close();
  };
  // preClose: open streams would keep the server from closing; onClose: a server that never listened
  f.addHook('preClose', stop);
  f.addHook('onClose', stop);

  f.get('/api/hub', { config: { access: 'public' } }, async (): Promise<HubInfo> => ({ store, name: storeName() }));

  f.get('/api/stores/:store/floor', { config: { access: 'public' } }, async (req): Promise<FloorSnapshot> => {
    storeParam(req);
    return snapshot().floor;
  });

  // `floor` (a FloorSnapshot) on connect and every min(snapshotMs, 2 s), `change` (a FloorDelta)
  // as the live engine emits one that touches the floor, `: ping` when idle
  f.get('/api/stores/:store/floor/stream', { config: { access: 'public' } }, (req: FastifyRequest, reply: FastifyReply) => {
    storeParam(req);
    const first = snapshot().text; // before the hijack: a failure still answers 500
    streams.open(req, reply, first);
  });
}

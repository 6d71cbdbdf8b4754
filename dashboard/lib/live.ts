import type { LiveDelta, LiveSnapshot } from '../../contract/index.ts';
import { api, ApiError } from './api.ts';

// The live stream (README "Live stream") for the manager view: `live` snapshots and
// `change` deltas over SSE. The browser reconnects an EventSource by itself after a
// network error; after an HTTP error (a session that ran out, a hub restarting) it gives
// up, so then the JSON snapshot is asked for once, which sends a 401 to the login page,
// gives the page a snapshot while the stream is away, and says what is wrong otherwise,
// and the stream is opened again with a growing delay.

export type StreamState = 'connecting' | 'live' | 'down';

export interface LiveHandlers {
  snapshot(s: LiveSnapshot): void;
  delta(d: LiveDelta): void;
  state(s: StreamState, why?: string): void;
}

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 15_000;

export function liveStream(store: string, h: LiveHandlers): { close(): void } {
  const base = `/api/stores/${encodeURIComponent(store)}`;
  let es: EventSource | undefined;
  let retryMs = FIRST_RETRY_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const open = () => {
    if (closed) return;
    h.state('connecting');
    const source = new EventSource(`${base}/stream`);
    es = source;
    source.addEventListener('open', () => {
      retryMs = FIRST_RETRY_MS;
      h.state('live');
    });
    source.addEventListener('live', (e) => h.snapshot(JSON.parse((e as MessageEvent<string>).data) as LiveSnapshot));
    source.addEventListener('change', (e) => h.delta(JSON.parse((e as MessageEvent<string>).data) as LiveDelta));
    source.addEventListener('error', () => {
      if (source.readyState !== EventSource.CLOSED) {
        h.state('down', 'the hub does not answer; reconnecting…');
        return;
      }
      source.close();
      void retry();
    });
  };

  const retry = async () => {
    let why = 'the live stream closed; reconnecting…';
    try {
      h.snapshot(await api<LiveSnapshot>(`${base}/live`));
    } catch (err) {
      why = err instanceof ApiError ? `${err.message} (HTTP ${err.status}); trying again…` : 'the hub does not answer; reconnecting…';
    }
    h.state('down', why);
    if (closed) return;
    timer = setTimeout(open, retryMs);
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  };

  open();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      es?.close();
    },
  };
}

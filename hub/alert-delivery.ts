import type { Logger } from 'pino';
import type { Alert } from '../contract/index.ts';
import type { AlertType, Integrations } from '../firmware-config/schema.ts';
import { rateLimitedLog } from './rate-limited-log.ts';

// Alerts to people without writing code (README "Alerts"): a webhook gets the alert JSON,
// an ntfy topic a push notification for staff phones, a Home Assistant notify service a
// message for its companion app. Each target has its own bounded queue and is tried a few
// times with backoff; a target that is down never holds up another, nor the hub.

export interface AlertTarget {
  /** for logs and counters, without secrets: kind and host */
  readonly name: string;
  readonly types: readonly AlertType[];
  send(alert: Alert, signal: AbortSignal): Promise<void>;
}

export interface DeliveryStats {
  sent: number;
  failed: number;
  /** dropped because a target's queue was full */
  dropped: number;
}

const QUEUE_MAX = 200;
const TRIES = 3;
const TIMEOUT_MS = 5000;

const title = (a: Alert): string => {
  switch (a.type) {
    case 'party.warn':
      return 'Customer waiting';
    case 'party.late':
      return 'Customer waiting too long';
    case 'party.escalated':
      return 'Customer still not greeted';
    case 'node.offline':
      return 'Sensor node offline';
    case 'node.online':
      return 'Sensor node back';
    case 'node.fault':
      return 'Sensor fault';
  }
};

async function post(url: string, init: { body: string; headers: Record<string, string> }, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, { method: 'POST', body: init.body, headers: init.headers, signal });
  await res.arrayBuffer(); // drain: keep-alive sockets are reused only once read
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}

const host = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return '?';
  }
};

export function webhookTarget(t: Integrations['alerts']['webhooks'][number]): AlertTarget {
  return {
    name: `webhook ${host(t.url)}`,
    types: t.types,
    send: (a, signal) => post(t.url, { body: JSON.stringify(a), headers: { 'content-type': 'application/json', ...t.headers } }, signal),
  };
}

/** ntfy's publish API: the message as the body, title, priority and tags as headers */
export function ntfyTarget(t: Integrations['alerts']['ntfy'][number]): AlertTarget {
  return {
    name: `ntfy ${host(t.url)}`,
    types: t.types,
    send: (a, signal) =>
      post(
        t.url,
        {
          body: a.message,
          headers: {
            'content-type': 'text/plain; charset=utf-8',
            Title: title(a),
            Priority: a.type === 'party.escalated' ? '5' : a.type === 'party.late' || a.type === 'node.offline' ? '4' : '3',
            Tags: a.type.startsWith('party.') ? 'bust_in_silhouette' : 'warning',
            ...(t.token ? { Authorization: `Bearer ${t.token}` } : {}),
          },
        },
        signal,
      ),
  };
}

/** Home Assistant's REST API: POST /api/services/notify/<name> with a long-lived access token */
export function homeAssistantTarget(t: Integrations['alerts']['homeAssistant'][number]): AlertTarget {
  const service = t.service.slice('notify.'.length);
  const url = `${t.url.replace(/\/$/, '')}/api/services/notify/${service}`;
  return {
    name: `home-assistant ${host(t.url)} ${t.service}`,
    types: t.types,
    send: (a, signal) =>
      post(
        url,
        {
          body: JSON.stringify({ title: title(a), message: a.message, data: { tag: a.type.startsWith('party.') && 'party' in a ? `greetwatch-${a.party}` : `greetwatch-${a.type}` } }),
          headers: { 'content-type': 'application/json', Authorization: `Bearer ${t.token}` },
        },
        signal,
      ),
  };
}

export function targetsOf(a: Integrations['alerts']): AlertTarget[] {
  return [...a.webhooks.map(webhookTarget), ...a.ntfy.map(ntfyTarget), ...a.homeAssistant.map(homeAssistantTarget)];
}

export interface Deliverer {
  deliver(alert: Alert): void;
  setTargets(targets: AlertTarget[]): void;
  stats(): Record<string, DeliveryStats>;
  /** waits for what is being sent, at most `ms` */
  close(ms?: number): Promise<void>;
}

export function alertDeliverer(log: Logger, opts: { retryMs?: number } = {}): Deliverer {
  const retryMs = opts.retryMs ?? 1000;
  const say = rateLimitedLog(log, 60_000);
  type Q = { target: AlertTarget; queue: Alert[]; busy: Promise<void> | null; stats: DeliveryStats };
  let queues: Q[] = [];
  const counters = new Map<string, DeliveryStats>();
  const abort = new AbortController();

  const run = async (q: Q): Promise<void> => {
    while (q.queue.length > 0 && !abort.signal.aborted) {
      const a = q.queue[0]!;
      let ok = false;
      let lastErr = '';
      for (let i = 0; i < TRIES && !ok && !abort.signal.aborted; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, retryMs * 2 ** (i - 1)).unref());
        try {
          await q.target.send(a, AbortSignal.any([abort.signal, AbortSignal.timeout(TIMEOUT_MS)]));
          ok = true;
        } catch (err) {
          lastErr = err instanceof Error ? err.message : String(err);
        }
      }
      q.queue.shift();
      if (ok) q.stats.sent++;
      else {
        q.stats.failed++;
        say(`alert:${q.target.name}`, { target: q.target.name, type: a.type, err: lastErr }, 'alert not delivered');
      }
    }
  };

  return {
    setTargets(targets) {
      queues = targets.map((target) => {
        let stats = counters.get(target.name);
        if (!stats) counters.set(target.name, (stats = { sent: 0, failed: 0, dropped: 0 }));
        return { target, queue: [], busy: null, stats };
      });
    },
    deliver(alert) {
      for (const q of queues) {
        if (!q.target.types.includes(alert.type)) continue;
        if (q.queue.length >= QUEUE_MAX) {
          q.queue.shift();
          q.stats.dropped++;
          say(`alert-full:${q.target.name}`, { target: q.target.name }, 'alert target not keeping up: oldest alert dropped');
        }
        q.queue.push(alert);
        q.busy ??= run(q).finally(() => {
          q.busy = null;
        });
      }
    },
    stats: () => Object.fromEntries([...counters].map(([k, v]) => [k, { ...v }])),
    async close(ms = 2000) {
      const pending = queues.map((q) => q.busy).filter((b): b is Promise<void> => b !== null);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(pending), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
      clearTimeout(timer);
      abort.abort();
    },
  };
}

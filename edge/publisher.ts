import { connect, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { decodeCmd, redactUrl, topics, type GwEvent, type OnlineStatus } from '../contract/index.ts';
import type { Clock, Indicator } from './io.ts';
import { systemClock } from './io.ts';
import type { Outbox } from './outbox.ts';

// MQTT side of a node (CONTRACT.md "MQTT topics"):
// - Last Will on {store}/{node}/status: {"state":"offline"}, QoS 1, retained;
// - on every connect, and every statusEveryMs while connected: retained QoS 1 status
//   {"state":"online",bootid,fw,cfghash,time} plus the extensions uptimeS, outbox, dropped, clock;
// - outbox events in order on {store}/{node}/events, QoS 1, not retained; an event leaves
//   the outbox only when its PUBACK arrives (publish callback without error);
// - {store}/{node}/cmd: {"type":"indicate","level"} drives the Indicator; anything else is logged and ignored;
// - {store}/{node}/config (retained, from the hub): its `cfghash` is shown in stats next to ours,
//   and the message goes to `onConfig` (the agent checks and applies it);
// - setStatus() changes the status fields (a new cfghash once a config is applied) and
//   publishes the status again at once, so the hub sees what the node runs.
// Order: at most `window` events are in flight and they are sent in outbox order; mqtt.js
// re-sends its unacknowledged QoS 1 packets first after a reconnect, so order holds across
// reconnects too. One topic per node keeps MQTT's ordering (CONTRACT.md).

export interface PublisherOptions {
  store: string;
  node: string;
  url: string;
  outbox: Outbox;
  indicator: Indicator;
  status: StatusFields;
  /** the status extensions (uptime, outbox depth, dropped, clock sync), read at each publish */
  statusExtras?: () => Omit<OnlineStatus, 'state' | 'bootid' | 'fw' | 'cfghash' | 'time'>;
  /** how often the retained status is refreshed while connected (default 60 s) */
  statusEveryMs?: number;
  clock?: Clock;
  log?: Logger;
  /** the node's MQTT login (its bootstrap file's username and password) */
  username?: string;
  password?: string;
  /** PEM CA certificate(s) that verify the hub for mqtts:// (the bootstrap's `ca`); default: the system's CAs */
  ca?: Buffer;
  /** every message on the node's config topic, parsed (the retained one on each connect, then each change) */
  onConfig?: (msg: ConfigMessage) => void;
  /** default gw-{store}-{node}: one session per node, a restarted node takes over its old one */
  clientId?: string;
  /** events in flight at once, in order (default 8; 1 = strictly one at a time) */
  window?: number;
  /** mqtt.js reconnectPeriod (default 1000 ms) */
  reconnectPeriodMs?: number;
  /** mqtt.js connectTimeout (default 5000 ms) */
  connectTimeoutMs?: number;
  /** MQTT keepalive (default 15 s): how fast the broker notices a dead node and sends the Will */
  keepaliveS?: number;
  /** how long stop() waits for the offline status and in-flight PUBACKs (default 2000 ms) */
  stopTimeoutMs?: number;
}

/** The status fields the node sets; `time` and the extensions are added at each publish. */
export interface StatusFields {
  bootid: string;
  fw: string;
  /** the running config's cfghash; "none" while the node has no config */
  cfghash: string;
}

/** A message on the config topic: its JSON value, or why it is not JSON. */
export type ConfigMessage = { ok: true; value: unknown } | { ok: false; reason: string };

export interface PublisherStats {
  connected: boolean;
  connects: number;
  /** publish calls for events (re-sends after a failed publish count again) */
  published: number;
  /** events acknowledged by the broker and removed from the outbox */
  acked: number;
  inflight: number;
  publishErrors: number;
  cmds: number;
  badCmds: number;
  /** cfghash of the config the hub publishes for this node (null until seen) */
  hubCfghash: string | null;
  /** whether the node runs the config the hub has for it (null until the hub's config is seen) */
  configMatches: boolean | null;
}

export interface Publisher {
  /** connects (returns at once; mqtt.js keeps retrying in the background) */
  start(): void;
  /** the outbox has new events: send what the window allows */
  kick(): void;
  /** changes status fields and, when connected, publishes the retained status again at once */
  setStatus(fields: Partial<StatusFields>): void;
  /** how often the retained status is refreshed from now on */
  setStatusEvery(ms: number): void;
  /** publishes offline status if connected, waits briefly for in-flight PUBACKs, ends the client */
  stop(): Promise<void>;
  stats(): PublisherStats;
}

const OFFLINE = JSON.stringify({ state: 'offline' });

function withTimeout(p: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve(true);
      },
      () => {
        clearTimeout(t);
        resolve(false);
      },
    );
  });
}

export function createPublisher(opts: PublisherOptions): Publisher {
  const { store, node, outbox, indicator } = opts;
  const clock = opts.clock ?? systemClock;
  const log = opts.log;
  const window = Math.max(1, opts.window ?? 8);
  const reconnectPeriod = opts.reconnectPeriodMs ?? 1000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 2000;
  const eventsTopic = topics.events(store, node);
  const statusTopic = topics.status(store, node);
  const cmdTopic = topics.cmd(store, node);
  const configTopic = topics.config(store, node);

  let client: MqttClient | null = null;
  let stopping = false;
  let wasConnected = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let statusTimer: ReturnType<typeof setInterval> | undefined;
  const inflight = new Set<string>();
  const inflightDrained: Array<() => void> = [];
  const stats = { connects: 0, published: 0, acked: 0, publishErrors: 0, cmds: 0, badCmds: 0 };
  let hubCfghash: string | null = null;
  const status: StatusFields = { ...opts.status };
  let statusEveryMs = opts.statusEveryMs ?? 60_000;

  const settled = (id: string): void => {
    inflight.delete(id);
    if (inflight.size === 0) for (const f of inflightDrained.splice(0)) f();
  };

  const send = (c: MqttClient, event: GwEvent): void => {
    inflight.add(event.id);
    stats.published++;
    // extension attribute `senttime`: the node clock when the event leaves, so the hub's
    // clock estimate does not mistake a crossing's duration or a buffer flush for skew
    const payload = JSON.stringify({ ...event, senttime: new Date(clock.now()).toISOString() });
    c.publish(eventsTopic, payload, { qos: 1, retain: false }, (err) => {
      settled(event.id);
      if (err) {
        // not acknowledged: it stays in the outbox and is sent again
        stats.publishErrors++;
        log?.warn({ err: err.message, id: event.id, seq: event.seq }, 'event publish failed; will retry');
        if (!stopping && retryTimer === undefined) {
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            pump();
          }, reconnectPeriod);
        }
        return;
      }
      stats.acked++;
      try {
        outbox.ack(event.id);
      } catch (ackErr) {
        log?.error({ err: (ackErr as Error).message, id: event.id }, 'outbox ack failed (event may be sent twice)');
      }
      pump();
    });
  };

  function pump(): void {
    const c = client;
    if (!c || stopping || !c.connected) return;
    for (const event of outbox.pending()) {
      if (inflight.size >= window) return;
      if (!inflight.has(event.id)) send(c, event);
    }
  }

  const publishStatus = (c: MqttClient): void => {
    const online: OnlineStatus = { state: 'online', ...status, time: new Date(clock.now()).toISOString(), ...opts.statusExtras?.() };
    c.publish(statusTopic, JSON.stringify(online), { qos: 1, retain: true }, (err) => {
      if (err) log?.warn({ err: err.message }, 'online status publish failed');
    });
  };

  const onConnect = (c: MqttClient): void => {
    stats.connects++;
    wasConnected = true;
    log?.info({ url: redactUrl(opts.url), pending: outbox.size(), connects: stats.connects }, 'connected to broker');
    publishStatus(c);
    if (statusTimer === undefined) startStatusTimer();
    // clean session: subscribe again on every connect (resubscribe is off)
    c.subscribe({ [cmdTopic]: { qos: 1 }, [configTopic]: { qos: 1 } }, (err) => {
      if (err) log?.warn({ err: err.message }, 'cmd/config subscribe failed');
    });
    pump();
  };

  const startStatusTimer = (): void => {
    statusTimer = setInterval(() => {
      if (client?.connected && !stopping) publishStatus(client);
    }, statusEveryMs);
    statusTimer.unref();
  };

  const onConfig = (payload: Buffer): void => {
    let msg: ConfigMessage;
    try {
      msg = { ok: true, value: JSON.parse(payload.toString('utf8')) as unknown };
    } catch (err) {
      msg = { ok: false, reason: `not JSON: ${(err as Error).message}` };
    }
    const hash = msg.ok && typeof msg.value === 'object' && msg.value !== null ? (msg.value as { cfghash?: unknown }).cfghash : undefined;
    if (typeof hash === 'string') hubCfghash = hash;
    log?.debug({ topic: configTopic, cfghash: hash }, 'config message');
    opts.onConfig?.(msg);
  };

  const onMessage = (topic: string, payload: Buffer): void => {
    if (topic === configTopic) {
      onConfig(payload);
      return;
    }
    if (topic !== cmdTopic) return;
    const cmd = decodeCmd(payload);
    if (!cmd.ok) {
      stats.badCmds++;
      log?.warn({ topic, code: cmd.code, reason: cmd.reason }, 'ignored invalid cmd');
      return;
    }
    stats.cmds++;
    log?.info({ level: cmd.value.level }, 'indicate');
    indicator.set(cmd.value.level);
  };

  return {
    start() {
      if (client) return;
      const c = connect(opts.url, {
        clientId: opts.clientId ?? `gw-${store}-${node}`,
        protocolVersion: 4, // MQTT 3.1.1: the contract allows 3.1.1 and 5; aedes speaks 3.1.1
        clean: true,
        resubscribe: false,
        reconnectPeriod,
        connectTimeout: opts.connectTimeoutMs ?? 5000,
        keepalive: opts.keepaliveS ?? 15,
        will: { topic: statusTopic, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
        ...(opts.username !== undefined ? { username: opts.username } : {}),
        ...(opts.password !== undefined ? { password: opts.password } : {}),
        ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      });
      client = c;
      c.on('connect', () => onConnect(c));
      c.on('message', onMessage);
      c.on('close', () => {
        if (wasConnected && !stopping) log?.warn({ pending: outbox.size() }, 'disconnected from broker; outbox keeps events');
        wasConnected = false;
      });
      c.on('reconnect', () => log?.debug({ url: redactUrl(opts.url) }, 'reconnecting'));
      // without an 'error' listener mqtt.js errors (ECONNREFUSED …) would throw
      c.on('error', (err) => log?.warn({ err: err.message }, 'mqtt error'));
    },
    kick: pump,
    setStatus(fields) {
      Object.assign(status, fields);
      if (client?.connected && !stopping) publishStatus(client);
    },
    setStatusEvery(ms) {
      if (ms === statusEveryMs) return;
      statusEveryMs = ms;
      if (statusTimer === undefined) return; // not connected yet: the first connect starts it
      clearInterval(statusTimer);
      startStatusTimer();
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      retryTimer = undefined;
      if (statusTimer !== undefined) clearInterval(statusTimer);
      statusTimer = undefined;
      const c = client;
      if (!c) return;
      let clean = false;
      if (c.connected) {
        // a graceful stop sends no Will: say offline ourselves (CONTRACT.md status payload)
        const offline = new Promise<void>((resolve, reject) =>
          c.publish(statusTopic, OFFLINE, { qos: 1, retain: true }, (err) => (err ? reject(err) : resolve())),
        );
        const drained = inflight.size === 0 ? Promise.resolve() : new Promise<void>((r) => inflightDrained.push(r));
        clean = await withTimeout(Promise.all([offline, drained]).then(() => undefined), stopTimeoutMs);
      }
      // force when the broker is gone or PUBACKs are missing: end(false) would wait for them forever
      const force = !clean || !c.connected;
      const ended = await withTimeout(new Promise<void>((resolve) => c.end(force, {}, () => resolve())), stopTimeoutMs);
      // a broker that stopped answering never completes the TCP close: cut it
      if (!ended) c.stream.destroy();
      log?.info({ pending: outbox.size(), force, ended }, 'mqtt client ended');
    },
    stats: () => ({
      connected: client?.connected ?? false,
      inflight: inflight.size,
      ...stats,
      hubCfghash,
      configMatches: hubCfghash === null ? null : hubCfghash === status.cfghash,
    }),
  };
}

import { ulid } from 'ulid';
import { topics, type Alert, type OpenParty } from '../../contract/index.ts';
import { alertDeliverer, targetsOf, type Deliverer } from '../alert-delivery.ts';
import type { HubContext, HubPlugin } from '../context.ts';

// Live alerts (README "Alerts"): a party turned warn or late, a late party still not
// greeted `escalateAfterS` later, a node went offline or came back, a sensor fault. Each
// goes on `{store}/alerts` (QoS 1, not retained) and to the store file's targets
// (alert-delivery.ts). Levels come from the live view's changes, so an alert follows the
// same waiting-level rule the floor and the indicators show (contract/levels.ts).

const CHECK_MS = 1000;

const waited = (s: number) => (s < 90 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);
const who = (size: number) => (size === 1 ? 'A customer' : `A party of ${size}`);

export interface AlertsApi {
  /** alerts raised (each published on the topic), and per target what was sent, failed, dropped */
  stats(): { published: number; targets: ReturnType<Deliverer['stats']> };
}

export function alertsPlugin(opts: { retryMs?: number } = {}): HubPlugin {
  const off: Array<() => void> = [];
  let timer: NodeJS.Timeout | undefined;
  let deliverer: Deliverer | undefined;
  /** open parties by id: their level as last seen, and whether they were escalated */
  const parties = new Map<string, { p: OpenParty; escalated: boolean }>();
  const online = new Map<string, boolean>();
  let published = 0;

  return {
    name: 'alerts',
    needs: ['broker', 'live-engine'],
    async start(ctx: HubContext) {
      const log = ctx.log.child({ name: 'hub:alerts' });
      const d = alertDeliverer(log, opts.retryMs !== undefined ? { retryMs: opts.retryMs } : {});
      deliverer = d;
      d.setTargets(targetsOf(ctx.config.integrations.alerts));
      const store = ctx.config.store.id;
      const now = () => new Date(ctx.clock.now()).toISOString();
      const raise = (a: Alert) => {
        published++;
        void ctx.runtime.publish?.(topics.alerts(store), JSON.stringify(a), { qos: 1, retain: false }).catch((err: unknown) => log.warn({ err }, 'alert publish failed'));
        d.deliver(a);
      };
      const partyAlert = (type: 'party.warn' | 'party.late' | 'party.escalated', p: OpenParty, waitingS: number) => {
        const message =
          type === 'party.warn'
            ? `${who(p.size)} has waited ${waited(waitingS)} without a greeting`
            : type === 'party.late'
              ? `${who(p.size)} has waited ${waited(waitingS)}: past the ${ctx.config.rules.greetWithinS} s target`
              : `${who(p.size)} is still not greeted after ${waited(waitingS)}`;
        raise({ id: ulid(), store, time: now(), type, party: p.party, entryTime: p.entryTime, waitingS: Math.round(waitingS * 10) / 10, size: p.size, message });
      };
      off.push(
        ctx.bus.on('live:delta', ({ delta }) => {
          for (const c of delta.changes) {
            if (c.kind === 'gone') {
              parties.delete(c.party);
              continue;
            }
            const before = parties.get(c.party.party);
            parties.set(c.party.party, { p: c.party, escalated: before?.escalated ?? false });
            const was = before?.p.level ?? 'ok';
            if (c.party.level === was) continue;
            // a party first seen already late (a late event) gets only the late alert
            if (c.party.level === 'warn' && was === 'ok') partyAlert('party.warn', c.party, c.party.waitingS);
            else if (c.party.level === 'late') partyAlert('party.late', c.party, c.party.waitingS);
          }
        }),
        ctx.bus.on('node:status', ({ node, status }) => {
          const up = status.state === 'online';
          const was = online.get(node);
          online.set(node, up);
          // the first status of a node after the hub starts is its state, not a change
          if (was === undefined || was === up) return;
          raise({
            id: ulid(),
            store,
            time: now(),
            type: up ? 'node.online' : 'node.offline',
            node,
            message: up ? `Sensor node ${node} is back online` : `Sensor node ${node} went offline: its sensors are not counted until it is back`,
          });
        }),
        ctx.bus.on('event:accepted', ({ event, node }) => {
          if (event.type !== 'greetwatch.fault.v1' || event.data.kind === 'recovered') return;
          const f = event.data;
          raise({
            id: ulid(),
            store,
            time: now(),
            type: 'node.fault',
            node,
            sensor: f.sensor,
            kind: f.kind,
            ...(f.detail !== undefined ? { detail: f.detail } : {}),
            message: `Sensor ${f.sensor} on ${node} is ${f.kind}${f.detail ? `: ${f.detail}` : ''}`,
          });
        }),
        ctx.bus.on('config:changed', ({ config }) => d.setTargets(targetsOf(config.integrations.alerts))),
      );
      // escalation: a late party still waiting escalateAfterS after it turned late
      timer = setInterval(() => {
        const after = ctx.config.integrations.alerts.escalateAfterS;
        const t = ctx.clock.now();
        // a party the waiting list no longer holds is forgotten even if its `gone` was missed: bounded by the list
        const open = ctx.runtime.live?.open();
        if (open && open.length < parties.size) {
          const ids = new Set(open.map((p) => p.party));
          for (const id of [...parties.keys()]) if (!ids.has(id)) parties.delete(id);
        }
        if (after <= 0) return;
        for (const s of parties.values()) {
          if (s.escalated || s.p.level !== 'late') continue;
          const waitingS = (t - Date.parse(s.p.entryTime)) / 1000;
          if (waitingS < ctx.config.rules.greetWithinS + after) continue;
          s.escalated = true;
          partyAlert('party.escalated', s.p, waitingS);
        }
      }, CHECK_MS);
      timer.unref();
      const api: AlertsApi = { stats: () => ({ published, targets: d.stats() }) };
      ctx.runtime.alerts = api;
    },
    async stop() {
      for (const f of off.splice(0)) f();
      if (timer) clearInterval(timer);
      await deliverer?.close();
    },
  };
}

import fs from 'node:fs';
import path from 'node:path';
import { topics, type LiveSnapshot } from '../../contract/index.ts';
import type { StoreConfig } from '../../firmware-config/schema.ts';
import type { HubContext, HubPlugin } from '../context.ts';

// Home Assistant MQTT discovery (README "Home Assistant"): with
// integrations.homeAssistant.enabled, the hub publishes retained discovery configs for one
// greetwatch device per store (parties waiting, longest wait, service level, greetings and
// walkouts today, "customer waiting too long", and a connectivity sensor per node read
// from the node's own retained status), keeps one retained state topic current, and says
// when it goes away. Switched off, or a node taken out of the store file, its configs are
// cleared with empty retained payloads (Home Assistant then removes the entities).

/** the state is republished this often even when it has not changed (sensors expire after 3×) */
const REFRESH_MS = 60_000;
/** at most one state publish per this long while it changes */
const THROTTLE_MS = 1000;
const PUBLISHED_FILE = 'home-assistant-discovery.json';

export interface HaState {
  waiting: number;
  longestWaitS: number;
  /** percent, one decimal; null before the first visit of the day */
  serviceLevel: number | null;
  greetings: number;
  walkouts: number;
  tooLong: 'ON' | 'OFF';
}

export function haState(s: LiveSnapshot): HaState {
  const t = s.today;
  return {
    waiting: s.open.length,
    longestWaitS: Math.round(Math.max(0, ...s.open.map((p) => p.waitingS))),
    serviceLevel: t.serviceLevel === null ? null : Math.round(t.serviceLevel * 1000) / 10,
    greetings: t.met + t.late,
    walkouts: t.walkouts + t.shortWalkouts,
    tooLong: s.open.some((p) => p.level === 'late') ? 'ON' : 'OFF',
  };
}

/** every discovery config for `cfg`: topic → payload */
export function discoveryConfigs(cfg: StoreConfig, swVersion: string): Map<string, Record<string, unknown>> {
  const store = cfg.store.id;
  const prefix = cfg.integrations.homeAssistant.discoveryPrefix;
  const obj = `greetwatch_${store.replace(/-/g, '_')}`;
  const device = {
    identifiers: [obj],
    name: cfg.store.name ?? `greetwatch ${store}`,
    manufacturer: 'greetwatch',
    model: 'store hub',
    sw_version: swVersion,
  };
  const availability = [{ topic: topics.haAvailability(store) }];
  const out = new Map<string, Record<string, unknown>>();
  const sensor = (id: string, name: string, extra: Record<string, unknown>) =>
    out.set(`${prefix}/sensor/${obj}/${id}/config`, {
      name,
      unique_id: `${obj}_${id}`,
      object_id: `${obj}_${id}`,
      state_topic: topics.haState(store),
      availability,
      expire_after: (3 * REFRESH_MS) / 1000,
      device,
      ...extra,
    });
  sensor('waiting', 'Parties waiting', { value_template: '{{ value_json.waiting }}', state_class: 'measurement', icon: 'mdi:account-clock' });
  sensor('longest_wait', 'Longest wait', { value_template: '{{ value_json.longestWaitS }}', unit_of_measurement: 's', device_class: 'duration', state_class: 'measurement' });
  sensor('service_level_today', 'Service level today', { value_template: '{{ value_json.serviceLevel }}', unit_of_measurement: '%', state_class: 'measurement', icon: 'mdi:handshake' });
  sensor('greetings_today', 'Greetings today', { value_template: '{{ value_json.greetings }}', state_class: 'total_increasing', icon: 'mdi:hand-wave' });
  sensor('walkouts_today', 'Walkouts today', { value_template: '{{ value_json.walkouts }}', state_class: 'total_increasing', icon: 'mdi:exit-run' });
  out.set(`${prefix}/binary_sensor/${obj}/waiting_too_long/config`, {
    name: 'Customer waiting too long',
    unique_id: `${obj}_waiting_too_long`,
    object_id: `${obj}_waiting_too_long`,
    state_topic: topics.haState(store),
    value_template: '{{ value_json.tooLong }}',
    device_class: 'problem',
    availability,
    expire_after: (3 * REFRESH_MS) / 1000,
    device,
  });
  for (const n of cfg.nodes) {
    const id = `node_${n.id.replace(/-/g, '_')}`;
    out.set(`${prefix}/binary_sensor/${obj}/${id}/config`, {
      name: `Node ${n.id}`,
      unique_id: `${obj}_${id}`,
      object_id: `${obj}_${id}`,
      // the node's own retained status (its Last Will says offline: CONTRACT.md "MQTT topics")
      state_topic: topics.status(store, n.id),
      value_template: "{{ 'ON' if value_json.state == 'online' else 'OFF' }}",
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      availability,
      device,
    });
  }
  return out;
}

export function homeAssistantPlugin(opts: { swVersion?: string } = {}): HubPlugin {
  let ctx: HubContext | undefined;
  const off: Array<() => void> = [];
  let refresh: NodeJS.Timeout | undefined;
  let throttle: NodeJS.Timeout | undefined;
  let lastState = '';
  /** when the state was last looked at, and last published */
  let lastAt = 0;
  let lastStateAt = 0;
  /** discovery topics this hub has published retained (kept in the data folder, so a later start can clear them) */
  let published = new Set<string>();

  const file = () => path.join(ctx!.dataDir, PUBLISHED_FILE);
  const loadPublished = (): Set<string> => {
    try {
      const v = JSON.parse(fs.readFileSync(file(), 'utf8')) as unknown;
      return new Set(Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
    } catch {
      return new Set();
    }
  };
  const savePublished = () => {
    fs.mkdirSync(ctx!.dataDir, { recursive: true });
    const tmp = `${file()}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify([...published].sort()));
    fs.renameSync(tmp, file());
  };

  const publish = (topic: string, payload: string, retain: boolean) => {
    const p = ctx?.runtime.publish;
    if (!p) return Promise.resolve();
    return p(topic, payload, { qos: 1, retain }).catch((err: unknown) => ctx?.log.child({ name: 'hub:home-assistant' }).warn({ err, topic }, 'publish failed'));
  };

  const publishState = () => {
    const c = ctx;
    const live = c?.runtime.live;
    if (!c || !live || !c.config.integrations.homeAssistant.enabled) return;
    const text = JSON.stringify(haState(live.snapshot()));
    lastAt = Date.now();
    if (text === lastState && lastAt - lastStateAt < REFRESH_MS) return;
    lastState = text;
    lastStateAt = lastAt;
    void publish(topics.haState(c.config.store.id), text, true);
  };
  const stateSoon = () => {
    if (throttle) return;
    const wait = Math.max(0, lastAt + THROTTLE_MS - Date.now());
    throttle = setTimeout(() => {
      throttle = undefined;
      publishState();
    }, wait);
  };

  /** publishes the configs `cfg` wants and clears the ones it no longer does */
  const sync = async (cfg: StoreConfig) => {
    const want = cfg.integrations.homeAssistant.enabled ? discoveryConfigs(cfg, opts.swVersion ?? 'dev') : new Map<string, Record<string, unknown>>();
    for (const t of [...published]) {
      if (want.has(t)) continue;
      await publish(t, '', true); // an empty retained payload removes the entity
      published.delete(t);
    }
    for (const [t, payload] of want) {
      await publish(t, JSON.stringify(payload), true);
      published.add(t);
    }
    savePublished();
    if (want.size) {
      await publish(topics.haAvailability(cfg.store.id), 'online', true);
      lastState = '';
      publishState();
    }
  };

  return {
    name: 'home-assistant',
    needs: ['broker', 'live-engine'],
    async start(c) {
      ctx = c;
      published = loadPublished();
    },
    async ready() {
      const c = ctx!;
      await sync(c.config);
      off.push(
        c.bus.on('live:delta', stateSoon),
        c.bus.on('config:changed', ({ config, previous }) => {
          const was = previous.integrations.homeAssistant.enabled;
          if (was && !config.integrations.homeAssistant.enabled) void publish(topics.haAvailability(config.store.id), 'offline', true);
          void sync(config);
        }),
      );
      // Home Assistant restarted: it asks for discovery again with its birth message
      const subscribe = c.runtime.subscribe;
      if (subscribe) {
        let prefix = '';
        let unsub: (() => void) | undefined;
        const follow = (cfg: StoreConfig) => {
          const p = cfg.integrations.homeAssistant.discoveryPrefix;
          if (p === prefix) return;
          unsub?.();
          prefix = p;
          unsub = subscribe(`${p}/status`, (_t, payload) => {
            if (payload === 'online' && ctx?.config.integrations.homeAssistant.enabled) void sync(ctx.config);
          });
        };
        follow(c.config);
        off.push(c.bus.on('config:changed', ({ config }) => follow(config)), () => unsub?.());
      }
      refresh = setInterval(publishState, REFRESH_MS);
      refresh.unref();
    },
    async stop() {
      for (const f of off.splice(0)) f();
      if (refresh) clearInterval(refresh);
      if (throttle) clearTimeout(throttle);
      const c = ctx;
      if (c?.config.integrations.homeAssistant.enabled) await publish(topics.haAvailability(c.config.store.id), 'offline', true);
    },
  };
}

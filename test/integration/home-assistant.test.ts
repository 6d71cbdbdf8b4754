import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceOf, topics } from '../../contract/index.ts';
import { StoreConfig } from '../../firmware-config/schema.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import type { HaState } from '../../hub/plugins/home-assistant.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { loginAs, password, READER } from '../helpers/logins.ts';
import { waitFor } from '../helpers/wait.ts';
import { testStore } from '../helpers/store-config.ts';

// README "Home Assistant": a client subscribes the way Home Assistant's MQTT integration
// does (logged in as a read-only user, `homeassistant/#`, then each entity's state and
// availability topics) and checks every discovery config and state; switching the
// integration off removes the entities with empty retained configs.

let hub: Hub;
let dir: string;
let cfg: StoreConfig;
let ha: mqtt.MqttClient;
let node: mqtt.MqttClient;
let offsetMs = 0;
const base = Math.floor(Date.now() / 1000) * 1000;
const at = (s: number) => new Date(base + s * 1000).toISOString();
/** every message Home Assistant got, in order */
const seen: Array<{ topic: string; payload: string; retain: boolean }> = [];
const latest = (topic: string) => seen.filter((m) => m.topic === topic).at(-1)?.payload;
const state = (): Partial<HaState> => JSON.parse(latest(topics.haState('ha-shop')) ?? '{}') as Partial<HaState>;
let enabled = true;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-ha-'));
  const raw = (on: boolean) => ({
    store: { id: 'ha-shop', name: 'Corner Shop', timezone: 'UTC' },
    rules: { warnAtS: 10, greetWithinS: 20 },
    nodes: [
      { id: 'door', sensors: [{ id: 'beam', kind: 'beam-pair', outerPin: 1, innerPin: 2 }] },
      { id: 'counter-1', buttons: [{ id: 'b', pin: 3 }] },
    ],
    hub: { mqtt: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, influx: { managed: false } },
    integrations: { homeAssistant: { enabled: on } },
  });
  cfg = await testStore(raw(true));
  const off = { ...cfg, integrations: { ...cfg.integrations, homeAssistant: { ...cfg.integrations.homeAssistant, enabled: false } } };
  hub = await startHub({
    config: cfg,
    configFile: path.join(dir, 'store.yaml'),
    loadConfig: () => (enabled ? cfg : off),
    dataDir: dir,
    clock: { now: () => base + offsetMs },
    log: pino({ level: 'silent' }),
    store: memoryVisitStore('memory'),
    tickMs: 20,
  });
  node = await mqtt.connectAsync(hub.mqttUrl, { username: 'door', password: password('door'), clientId: 'gw-ha-shop-door', reconnectPeriod: 0 });
  await node.publishAsync(topics.status('ha-shop', 'door'), JSON.stringify({ state: 'online', bootid: 'b', fw: 't', cfghash: 'x', time: at(0) }), { qos: 1, retain: true });
  // Home Assistant logs in as a dashboard user
  ha = await mqtt.connectAsync(hub.mqttUrl, { ...loginAs(cfg, READER), reconnectPeriod: 0 });
  ha.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
  const granted = await ha.subscribeAsync(['homeassistant/#', topics.haState('ha-shop'), topics.haAvailability('ha-shop'), topics.status('ha-shop', 'door')], { qos: 1 });
  expect(granted.map((g) => g.qos)).toEqual([1, 1, 1, 1]);
});

afterAll(async () => {
  await ha?.endAsync();
  await node?.endAsync();
  await hub?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const configs = () => new Map(seen.filter((m) => m.topic.startsWith('homeassistant/') && m.topic.endsWith('/config')).map((m) => [m.topic, m.payload]));

describe('Home Assistant MQTT discovery', () => {
  it('announces a device with its sensors, units, device classes and a connectivity sensor per node', async () => {
    await waitFor(() => configs().size === 8, 'eight discovery configs');
    const all = [...configs()].map(([t, p]) => [t, JSON.parse(p) as Record<string, unknown>] as const);
    expect(all.map(([t]) => t).sort()).toEqual(
      [
        'homeassistant/binary_sensor/greetwatch_ha_shop/node_counter_1/config',
        'homeassistant/binary_sensor/greetwatch_ha_shop/node_door/config',
        'homeassistant/binary_sensor/greetwatch_ha_shop/waiting_too_long/config',
        'homeassistant/sensor/greetwatch_ha_shop/greetings_today/config',
        'homeassistant/sensor/greetwatch_ha_shop/longest_wait/config',
        'homeassistant/sensor/greetwatch_ha_shop/service_level_today/config',
        'homeassistant/sensor/greetwatch_ha_shop/waiting/config',
        'homeassistant/sensor/greetwatch_ha_shop/walkouts_today/config',
      ].sort(),
    );
    expect(seen.filter((m) => m.topic.endsWith('/config')).every((m) => m.retain)).toBe(true);
    const ids = new Set<string>();
    for (const [topic, c] of all) {
      expect(typeof c.unique_id).toBe('string');
      ids.add(c.unique_id as string);
      expect(c.device).toEqual({ identifiers: ['greetwatch_ha_shop'], name: 'Corner Shop', manufacturer: 'greetwatch', model: 'store hub', sw_version: expect.any(String) as string });
      expect(c.availability).toEqual([{ topic: topics.haAvailability('ha-shop') }]);
      expect(typeof c.state_topic).toBe('string');
      expect(typeof c.value_template).toBe('string');
      expect(topic.split('/')[3]).toBe((c.unique_id as string).replace('greetwatch_ha_shop_', ''));
    }
    expect(ids.size).toBe(8);
    const get = (id: string) => all.find(([t]) => t.includes(`/${id}/config`))![1];
    expect(get('longest_wait')).toMatchObject({ unit_of_measurement: 's', device_class: 'duration', state_class: 'measurement' });
    expect(get('service_level_today')).toMatchObject({ unit_of_measurement: '%', state_class: 'measurement' });
    expect(get('greetings_today')).toMatchObject({ state_class: 'total_increasing' });
    expect(get('waiting_too_long')).toMatchObject({ device_class: 'problem', state_topic: topics.haState('ha-shop') });
    expect(get('node_door')).toMatchObject({ device_class: 'connectivity', state_topic: topics.status('ha-shop', 'door') });
    expect(latest(topics.haAvailability('ha-shop'))).toBe('online');
    // the node's own retained status is what its sensor reads
    expect(JSON.parse(latest(topics.status('ha-shop', 'door'))!)).toMatchObject({ state: 'online' });
  });

  it('keeps the state current: a party waiting, then too long', async () => {
    await waitFor(() => latest(topics.haState('ha-shop')) !== undefined, 'a state');
    expect(JSON.parse(latest(topics.haState('ha-shop'))!)).toEqual({ waiting: 0, longestWaitS: 0, serviceLevel: null, greetings: 0, walkouts: 0, tooLong: 'OFF' });
    const ev = { specversion: '1.0', id: 'e1', source: sourceOf('ha-shop', 'door'), type: 'greetwatch.entry.v1', time: at(0), senttime: at(0), bootid: 'b', seq: 1, data: { sensor: 'beam', direction: 'in' } };
    await node.publishAsync(topics.events('ha-shop', 'door'), JSON.stringify(ev), { qos: 1 });
    await waitFor(() => state().waiting === 1, 'one party waiting');
    offsetMs = 25_000;
    await waitFor(() => state().tooLong === 'ON', 'waiting too long');
    expect(state().longestWaitS).toBeGreaterThanOrEqual(25);
  });

  it('sends discovery again when Home Assistant comes back (its birth message)', async () => {
    const before = seen.filter((m) => m.topic.endsWith('/config')).length;
    await ha.publishAsync('homeassistant/status', 'online', { qos: 0 });
    await waitFor(() => seen.filter((m) => m.topic.endsWith('/config')).length >= before + 8, 'the configs again');
  });

  it('removes every entity when switched off', async () => {
    enabled = false;
    const r = await hub.reload();
    expect(r.ok).toBe(true);
    await waitFor(() => [...configs().values()].every((p) => p === ''), 'every config emptied');
    expect(configs().size).toBe(8);
    await waitFor(() => latest(topics.haAvailability('ha-shop')) === 'offline', 'the device offline');
    // and a read-only user may no longer subscribe to the discovery topics
    await expect(ha.subscribeAsync('homeassistant/#', { qos: 1 })).rejects.toThrow(/Subscribe error/); // SUBACK 0x80
  });
});

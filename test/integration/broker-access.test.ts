import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../contract/index.ts';
import { StoreConfig } from '../../firmware-config/schema.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { loginAs } from '../helpers/logins.ts';
import { waitFor } from '../helpers/wait.ts';
import { testStore } from '../helpers/store-config.ts';

// The broker lets in only the store's nodes (each with its own login) and read-only dashboard
// users, and lets each do only its part (README "Security"; CONTRACT.md "MQTT topics").

let hub: Hub;
let cfg: StoreConfig;
let dir: string;
const clients: mqtt.MqttClient[] = [];

const event = (node: string, seq: number) =>
  JSON.stringify({
    specversion: '1.0',
    id: `${node}-${seq}-${Math.random().toString(36).slice(2)}`,
    source: `/stores/acc/nodes/${node}`,
    type: 'greetwatch.door.v1',
    time: new Date().toISOString(),
    bootid: 'b1',
    seq,
    data: { sensor: 'd', state: 'open' },
  });

const connect = async (o: mqtt.IClientOptions) => {
  const c = await mqtt.connectAsync(hub.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, ...o });
  clients.push(c);
  return c;
};
const refused = (o: mqtt.IClientOptions) => mqtt.connectAsync(hub.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, ...o }).then(
  (c) => {
    clients.push(c);
    return 'connected';
  },
  (err: Error) => err.message,
);
/** the SUBACK's granted QoS per topic (mqtt.js 5 rejects a SUBACK with a refusal: read it from the packet) */
const suback = async (c: mqtt.MqttClient, subs: Record<string, { qos: 0 | 1 }>): Promise<number[]> => {
  try {
    return (await c.subscribeAsync(subs)).map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (!granted) throw err;
    return granted;
  }
};
const live = () => hub.ctx.runtime.live!.snapshot();
const accepted = (node: string) => live().nodes.find((n) => n.node === node)?.events ?? 0;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-access-'));
  cfg = await testStore({ store: { id: 'acc' }, nodes: [{ id: 'door' }, { id: 'counter' }] });
  hub = await startHub({ config: cfg, dataDir: dir, log: pino({ level: 'silent' }), store: memoryVisitStore('memory') });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await hub?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('broker access', () => {
  it('refuses a client without a login, or with a wrong password, and counts why', async () => {
    expect(await refused({})).toMatch(/Bad username or password/);
    expect(await refused({ username: 'door', password: 'guess' })).toMatch(/Bad username or password/);
    expect(await refused({ username: 'nobody', password: 'x' })).toMatch(/Bad username or password/);
    expect(Object.fromEntries(hub.ctx.metrics.refusedConnects)).toEqual({ 'no-credentials': 1, 'bad-credentials': 2 });
  });

  it('refuses MQTT 5 and a keepalive it does not allow before looking at the login, and counts why', async () => {
    const before = (r: string) => hub.ctx.metrics.refusedConnects.get(r) ?? 0;
    const [v5, idle] = [before('protocol-version'), before('keepalive')];
    // the broker speaks MQTT 3.1.1 and 3.1 (README "The contract, in our words"): CONNACK 1
    expect(await refused({ ...loginAs(cfg, 'door'), protocolVersion: 5 })).not.toBe('connected');
    await waitFor(() => before('protocol-version') === v5 + 1, 'MQTT 5 refusal counted');
    // keepalive 0 (never) would let an idle socket stay for ever: CONNACK 6
    expect(await refused({ ...loginAs(cfg, 'door'), keepalive: 0 })).not.toBe('connected');
    await waitFor(() => before('keepalive') === idle + 1, 'keepalive refusal counted');
  });

  it('a node publishes its own events and status, and nothing else', async () => {
    const door = await connect(loginAs(cfg, 'door'));
    await door.publishAsync(topics.events('acc', 'door'), event('door', 1), { qos: 1 });
    await waitFor(() => accepted('door') === 1, 'door event accepted');
    // as another node: the broker refuses it (and, on MQTT 3.1.1, drops the connection)
    const before = hub.ctx.metrics.refusedPublishes;
    door.publish(topics.events('acc', 'counter'), event('counter', 1), { qos: 1 });
    door.publish(topics.visits('acc'), '{}', { qos: 1 });
    await waitFor(() => hub.ctx.metrics.refusedPublishes > before, 'refused publish counted');
    expect(accepted('counter')).toBe(0);
  });

  it('a node subscribes to its own config and cmd only', async () => {
    const c = await connect(loginAs(cfg, 'counter'));
    const granted = await suback(c, { [topics.config('acc', 'counter')]: { qos: 1 }, [topics.cmd('acc', 'counter')]: { qos: 1 }, [topics.cmd('acc', 'door')]: { qos: 1 }, 'greetwatch/v1/acc/#': { qos: 1 } });
    // its own config and cmd; not another node's cmd, not a wildcard over the store
    expect(granted).toEqual([1, 1, 128, 128]);
  });

  it("another node's Last Will is refused like any publish", async () => {
    const before = hub.ctx.metrics.refusedPublishes;
    const c = await connect({ ...loginAs(cfg, 'counter'), clientId: 'gw-acc-counter', will: { topic: topics.status('acc', 'door'), payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true } });
    (c.stream as unknown as { destroy(): void }).destroy(); // gone without DISCONNECT: the broker sends the Will
    await waitFor(() => hub.ctx.metrics.refusedPublishes > before, 'will refused');
  });

  it("a connection with a node's client id but another login is refused and cannot kick the node off", async () => {
    const door = await connect(loginAs(cfg, 'door'));
    expect(await refused({ ...loginAs(cfg, 'counter'), clientId: 'gw-acc-door' })).toMatch(/Identifier rejected/);
    expect(door.connected).toBe(true);
    await door.publishAsync(topics.events('acc', 'door'), event('door', 2), { qos: 1 });
    expect(hub.ctx.metrics.refusedConnects.get('client-id-taken')).toBe(1);
  });

  it('a dashboard user reads visits, read-only', async () => {
    const r = await connect(loginAs(cfg, 'reader'));
    expect(await suback(r, { [topics.visits('acc')]: { qos: 1 }, [topics.events('acc', 'door')]: { qos: 1 } })).toEqual([1, 128]);
    const before = hub.ctx.metrics.refusedPublishes;
    r.publish(topics.events('acc', 'door'), event('door', 9), { qos: 1 });
    await waitFor(() => hub.ctx.metrics.refusedPublishes > before, 'reader publish refused');
  });
});

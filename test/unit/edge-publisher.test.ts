import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeEvent, decodeStatus, topics, type GwEvent } from '../../contract/index.ts';
import { createEdgeAgent, nodeCfgHash, type EdgeAgent, type EdgeAgentOptions } from '../../edge/agent.ts';
import { createPublisher, type ConfigMessage } from '../../edge/publisher.ts';
import { configHash } from '../../firmware-config/hash.ts';
import { asSimInput, SimIndicator } from '../../edge/drivers/sim.ts';
import { inputKeys } from '../../edge/io.ts';
import { memoryOutbox } from '../../edge/outbox.ts';
import { startBroker, waitFor, type TestBroker } from '../fakes/broker.ts';
import { buttonCfg, nodeCfg } from '../fakes/nodes.ts';

// The publisher against a real MQTT broker (aedes on a TCP port): retained status, Last Will,
// QoS 1 events in order, outbox across a broker outage, cmd → indicator, clean stop.

const STORE = 's1';
const NODE = nodeCfg({
  id: 'counter-1',
  buttons: [buttonCfg({ id: 'counter-btn', debounceMs: 0 })], // debounce 0: a press emits at once
  indicator: { pin: 13, activeLow: false },
});
const silent = pino({ level: 'silent' });

interface Msg {
  topic: string;
  payload: string;
  retain: boolean;
}
async function subscriber(broker: TestBroker, topic: string): Promise<{ client: MqttClient; msgs: Msg[] }> {
  const client = await connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
  const msgs: Msg[] = [];
  client.on('message', (t, p, packet) => msgs.push({ topic: t, payload: p.toString('utf8'), retain: packet.retain }));
  await client.subscribeAsync(topic, { qos: 1 });
  return { client, msgs };
}

describe('edge publisher against a real broker', () => {
  let broker: TestBroker;
  const agents: EdgeAgent[] = [];
  const clients: MqttClient[] = [];
  let dir: string;

  const agent = (over: Partial<EdgeAgentOptions> = {}): EdgeAgent => {
    const a = createEdgeAgent({
      store: STORE,
      node: NODE,
      mqttUrl: broker.url,
      outbox: memoryOutbox(),
      log: silent,
      fw: 'test-fw',
      mqtt: { reconnectPeriodMs: 100, stopTimeoutMs: 1000 },
      ...over,
    });
    agents.push(a);
    return a;
  };
  const press = (a: EdgeAgent, times = 1): void => {
    const btn = asSimInput(a.inputs.get(inputKeys.button('counter-btn')), 'test');
    for (let i = 0; i < times; i++) {
      btn.set(1);
      btn.set(0);
    }
  };
  const eventsSeen = (): GwEvent[] =>
    broker.seen
      .filter((p) => p.topic === topics.events(STORE, NODE.id))
      .map((p) => {
        const v = decodeEvent(p.payload, { expect: { store: STORE, node: NODE.id } });
        if (!v.ok) throw new Error(v.reason);
        return v.value;
      });

  beforeEach(async () => {
    broker = await startBroker();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-edge-'));
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('publishes a retained online status with bootid, fw and cfghash', async () => {
    const a = agent();
    await a.start();
    await waitFor(() => a.stats().mqtt?.connected === true, 'agent connected');
    await waitFor(() => broker.seen.some((p) => p.topic === topics.status(STORE, NODE.id)), 'status published');
    const sub = await subscriber(broker, topics.status(STORE, NODE.id));
    clients.push(sub.client);
    await waitFor(() => sub.msgs.length > 0, 'retained status delivered to a late subscriber');
    const msg = sub.msgs[0]!;
    expect(msg.retain).toBe(true);
    const status = decodeStatus(msg.payload);
    expect(status.ok).toBe(true);
    expect(status.ok && status.value).toMatchObject({ state: 'online', bootid: a.bootid, fw: 'test-fw', cfghash: a.cfghash });
    const seen = broker.seen.find((p) => p.topic === topics.status(STORE, NODE.id))!;
    expect(seen).toMatchObject({ qos: 1, retain: true });
  });

  it('sends events in order with QoS 1, not retained, and empties the outbox on PUBACK', async () => {
    const outbox = memoryOutbox();
    const a = agent({ outbox, mqtt: { reconnectPeriodMs: 100, window: 4 } });
    await a.start();
    await waitFor(() => a.stats().mqtt?.connected === true, 'agent connected');
    press(a, 25);
    await waitFor(() => eventsSeen().length === 25, '25 events at the broker');
    await waitFor(() => outbox.size() === 0, 'outbox emptied by PUBACKs');
    expect(eventsSeen().map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(new Set(eventsSeen().map((e) => e.bootid))).toEqual(new Set([a.bootid]));
    for (const p of broker.seen.filter((x) => x.topic === topics.events(STORE, NODE.id))) {
      expect(p).toMatchObject({ qos: 1, retain: false, clientId: `gw-${STORE}-${NODE.id}` });
    }
    expect(a.stats().mqtt).toMatchObject({ acked: 25, inflight: 0 });
  });

  it('the broker publishes the Last Will (offline, retained) when the node drops abruptly, and the node comes back online', async () => {
    const a = agent();
    await a.start();
    await waitFor(() => a.stats().mqtt?.connected === true, 'agent connected');
    const sub = await subscriber(broker, topics.status(STORE, NODE.id));
    clients.push(sub.client);
    await waitFor(() => sub.msgs.length === 1, 'retained online status');
    expect(broker.dropClient(`gw-${STORE}-${NODE.id}`)).toBe(true); // TCP cut, no DISCONNECT
    await waitFor(() => sub.msgs.some((m) => (JSON.parse(m.payload) as { state: string }).state === 'offline'), 'Last Will delivered');
    const will = broker.seen.find((p) => p.topic === topics.status(STORE, NODE.id) && (JSON.parse(p.payload) as { state: string }).state === 'offline')!;
    expect(will).toMatchObject({ qos: 1, retain: true, payload: '{"state":"offline"}' });
    const states = () => sub.msgs.map((m) => (JSON.parse(m.payload) as { state: string }).state);
    await waitFor(() => states().lastIndexOf('online') > states().indexOf('offline'), 'online again after reconnect');
    expect(a.stats().mqtt?.connects).toBeGreaterThanOrEqual(2);
  });

  it('keeps events seen while the broker is down and delivers them, in order, when it is back', async () => {
    const a = agent({ dataDir: dir, outbox: undefined }); // the real file outbox
    await a.start();
    await waitFor(() => a.stats().mqtt?.connected === true, 'agent connected');
    press(a, 3);
    await waitFor(() => eventsSeen().length === 3 && a.stats().pending === 0, 'first 3 events acked');

    await broker.stop();
    await waitFor(() => a.stats().mqtt?.connected === false, 'agent noticed the broker is gone');
    press(a, 5);
    expect(a.stats().pending).toBe(5);

    await broker.restart();
    await waitFor(() => eventsSeen().length >= 8 && a.stats().pending === 0, 'outbox drained after the broker came back');
    const seqs = eventsSeen().map((e) => e.seq);
    expect([...new Set(seqs)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]); // no loss; a re-send after the outage would be a harmless duplicate
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  });

  it('events left in the file outbox at stop are sent by the next process on the same data dir', async () => {
    const a = agent({ dataDir: dir, outbox: undefined });
    await a.start();
    await waitFor(() => a.stats().mqtt?.connected === true, 'agent connected');
    await broker.stop();
    await waitFor(() => a.stats().mqtt?.connected === false, 'agent noticed the broker is gone');
    press(a, 4);
    await a.stop(); // must not hang with the broker down
    expect(a.stats().pending).toBe(4);

    await broker.restart();
    const b = agent({ dataDir: dir, outbox: undefined });
    expect(b.bootid).not.toBe(a.bootid);
    await b.start();
    await waitFor(() => eventsSeen().length === 4 && b.stats().pending === 0, 'old boot events delivered by the new process');
    expect(eventsSeen().map((e) => [e.bootid, e.seq])).toEqual([1, 2, 3, 4].map((s) => [a.bootid, s]));
  });

  it('a cmd drives the indicator; an invalid cmd is counted and ignored', async () => {
    const a = agent();
    await a.start();
    const clientId = `gw-${STORE}-${NODE.id}`;
    await waitFor(() => broker.subscriptions.get(clientId)?.has(topics.cmd(STORE, NODE.id)) === true, 'agent subscribed to its cmd topic');
    const hub = await connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(hub);
    const ind = a.indicator as SimIndicator;
    expect(ind).toBeInstanceOf(SimIndicator);
    await hub.publishAsync(topics.cmd(STORE, NODE.id), JSON.stringify({ type: 'indicate', level: 'warn' }), { qos: 1 });
    await waitFor(() => ind.level === 'warn', 'indicator warn');
    await hub.publishAsync(topics.cmd(STORE, NODE.id), JSON.stringify({ type: 'indicate', level: 'red' }), { qos: 1 });
    await hub.publishAsync(topics.cmd(STORE, NODE.id), 'not json', { qos: 1 });
    await hub.publishAsync(topics.cmd(STORE, NODE.id), JSON.stringify({ type: 'indicate', level: 'late' }), { qos: 1 });
    await waitFor(() => ind.level === 'late', 'indicator late');
    expect(ind.history).toEqual(['warn', 'late']);
    expect(a.stats().mqtt).toMatchObject({ cmds: 2, badCmds: 2 });
  });

  it('compares the cfghash of the config the hub publishes with its own', async () => {
    const a = agent();
    await a.start();
    const clientId = `gw-${STORE}-${NODE.id}`;
    await waitFor(() => broker.subscriptions.get(clientId)?.has(topics.config(STORE, NODE.id)) === true, 'agent subscribed to its config topic');
    expect(a.stats().mqtt).toMatchObject({ hubCfghash: null, configMatches: null });
    const hub = await connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(hub);
    await hub.publishAsync(topics.config(STORE, NODE.id), JSON.stringify({ store: STORE, node: NODE, cfghash: 'aaaaaaaaaaaa' }), { qos: 1, retain: true });
    await waitFor(() => a.stats().mqtt?.hubCfghash === 'aaaaaaaaaaaa', 'hub cfghash seen');
    expect(a.stats().mqtt?.configMatches).toBe(false);
    await hub.publishAsync(topics.config(STORE, NODE.id), JSON.stringify({ store: STORE, node: NODE, cfghash: a.cfghash }), { qos: 1, retain: true });
    await waitFor(() => a.stats().mqtt?.configMatches === true, 'config matches');
    // a node run from its store file (--config) only compares: it applies nothing the hub sends
    const other = { store: STORE, node: { ...NODE, buttons: [] }, rules: { greetWithinS: 30, warnAtS: 20 } };
    await hub.publishAsync(topics.config(STORE, NODE.id), JSON.stringify({ ...other, cfghash: configHash(other) }), { qos: 1, retain: true });
    await waitFor(() => a.stats().hubCfghash === configHash(other), 'the other config seen');
    expect(a.stats()).toMatchObject({ configSource: 'file', cfghash: nodeCfgHash(STORE, NODE), configsApplied: 0, configsRefused: 0 });
    expect(a.inputs.has('counter-btn')).toBe(true);
  });

  it('setStatus() publishes the retained status again at once with the new fields; config messages reach onConfig', async () => {
    const configs: ConfigMessage[] = [];
    const p = createPublisher({
      store: STORE,
      node: 'raw-1',
      url: broker.url,
      outbox: memoryOutbox(),
      indicator: new SimIndicator(),
      status: { bootid: 'b00t1d', fw: 'test-fw', cfghash: 'none' },
      statusEveryMs: 3_600_000, // no timer refresh during the test: every status seen is setStatus's
      reconnectPeriodMs: 100,
      onConfig: (m) => configs.push(m),
      log: silent,
    });
    p.start();
    try {
      const statusOf = () => broker.seen.filter((x) => x.topic === topics.status(STORE, 'raw-1')).map((x) => ({ ...(JSON.parse(x.payload) as object), retain: x.retain }));
      await waitFor(() => statusOf().length === 1, 'first status');
      expect(statusOf()[0]).toMatchObject({ state: 'online', cfghash: 'none', retain: true });
      p.setStatus({ cfghash: 'abcdef012345' });
      await waitFor(() => statusOf().length === 2, 'status published again');
      expect(statusOf()[1]).toMatchObject({ state: 'online', bootid: 'b00t1d', cfghash: 'abcdef012345', retain: true });

      const clientId = `gw-${STORE}-raw-1`;
      await waitFor(() => broker.subscriptions.get(clientId)?.has(topics.config(STORE, 'raw-1')) === true, 'subscribed to its config topic');
      const hub = await connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
      clients.push(hub);
      await hub.publishAsync(topics.config(STORE, 'raw-1'), '{"cfghash":"abcdef012345"}', { qos: 1 });
      await hub.publishAsync(topics.config(STORE, 'raw-1'), 'nope', { qos: 1 });
      await waitFor(() => configs.length === 2, 'two config messages');
      expect(configs[0]).toEqual({ ok: true, value: { cfghash: 'abcdef012345' } });
      expect(configs[1]).toMatchObject({ ok: false, reason: expect.stringMatching(/^not JSON/) as unknown });
      expect(p.stats()).toMatchObject({ hubCfghash: 'abcdef012345', configMatches: true });
    } finally {
      await p.stop();
    }
  });

  it('stop() finishes when the broker accepts the connection but then stops answering', async () => {
    // a "broker" that sends CONNACK and then ignores everything (no PUBACK, no close)
    const sockets: net.Socket[] = [];
    const mute = net.createServer((sock) => {
      sockets.push(sock);
      sock.once('data', () => sock.write(Buffer.from([0x20, 0x02, 0x00, 0x00])));
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = mute.address() as net.AddressInfo;
      const a = agent({ mqttUrl: `mqtt://127.0.0.1:${port}`, mqtt: { reconnectPeriodMs: 100, stopTimeoutMs: 300 } });
      await a.start();
      await waitFor(() => a.stats().mqtt?.connected === true, 'connected to the mute broker');
      press(a, 2);
      await waitFor(() => a.stats().mqtt?.inflight === 2, 'events in flight without PUBACK');
      await a.stop();
      expect(a.stats()).toMatchObject({ state: 'stopped', pending: 2 }); // kept for the next start
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });

  it('stop() says offline, publishes nothing more and closes the inputs', async () => {
    const a = agent();
    await a.start();
    await waitFor(() => a.stats().mqtt?.connected === true, 'agent connected');
    press(a, 2);
    await waitFor(() => eventsSeen().length === 2, 'events delivered');
    await a.stop();
    const status = broker.seen.filter((p) => p.topic === topics.status(STORE, NODE.id)).map((p) => (JSON.parse(p.payload) as { state: string }).state);
    expect(status.at(-1)).toBe('offline');
    expect(a.stats()).toMatchObject({ state: 'stopped', pending: 0 });
    press(a, 3); // inputs are closed: nothing happens
    expect(a.stats().events).toBe(2);
    expect(eventsSeen()).toHaveLength(2);
    await a.stop(); // idempotent
  });
});

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Alert, sourceOf, topics } from '../../contract/index.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { loginAs, password, READER } from '../helpers/logins.ts';
import { testStore } from '../helpers/store-config.ts';
import { waitFor } from '../helpers/wait.ts';

// README "Alerts": a real hub on an injected clock raises warn, late and escalated alerts
// for a party, offline/online for a node and a fault, publishes them on {store}/alerts and
// delivers them to a local receiver standing in for a webhook, an ntfy server and Home
// Assistant's notify service, each checked for the shape its real counterpart takes.

interface Got {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let hub: Hub;
let dir: string;
let receiver: http.Server;
let failNtfy = 0;
const got: Got[] = [];
const onTopic: Alert[] = [];
let node: mqtt.MqttClient;
let reader: mqtt.MqttClient;
let offsetMs = 0;
const base = Math.floor(Date.now() / 1000) * 1000;
const at = (s: number) => new Date(base + s * 1000).toISOString();
let seq = 0;

async function send(type: string, data: Record<string, unknown>, timeS: number): Promise<void> {
  seq++;
  const ev = { specversion: '1.0', id: `e${seq}`, source: sourceOf('al', 'door'), type, time: at(timeS), senttime: at(offsetMs / 1000), bootid: 'b', seq, data };
  await node.publishAsync(topics.events('al', 'door'), JSON.stringify(ev), { qos: 1 });
}

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      // the ntfy stand-in fails its first request: the hub must try again
      if (req.url === '/ntfy/shop-floor' && failNtfy-- > 0) {
        res.writeHead(503).end();
        return;
      }
      got.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  failNtfy = 1;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-alerts-'));
  const cfg = await testStore({
    store: { id: 'al', timezone: 'UTC' },
    rules: { warnAtS: 10, greetWithinS: 20, expireS: 600 },
    nodes: [{ id: 'door', sensors: [{ id: 'beam', kind: 'beam-pair', outerPin: 1, innerPin: 2 }] }],
    integrations: {
      alerts: {
        escalateAfterS: 30,
        webhooks: [{ url: `${url}/hook`, headers: { 'x-secret': 's3' }, types: ['party.warn', 'party.late', 'party.escalated', 'node.offline', 'node.online', 'node.fault'] }],
        ntfy: [{ url: `${url}/ntfy/shop-floor`, token: 'tk_ntfy', types: ['party.late', 'party.escalated'] }],
        homeAssistant: [{ url, token: 'ha-long-lived', service: 'notify.mobile_app_manager', types: ['party.escalated', 'node.offline'] }],
      },
    },
  });
  hub = await startHub({ config: cfg, dataDir: dir, clock: { now: () => base + offsetMs }, log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), tickMs: 20 });
  reader = await mqtt.connectAsync(hub.mqttUrl, { ...loginAs(cfg, READER), reconnectPeriod: 0 });
  reader.on('message', (topic, payload) => {
    if (topic === topics.alerts('al')) onTopic.push(JSON.parse(payload.toString()) as Alert);
  });
  await reader.subscribeAsync(topics.alerts('al'), { qos: 1 });
  node = await mqtt.connectAsync(hub.mqttUrl, {
    username: 'door',
    password: password('door'),
    clientId: 'gw-al-door',
    reconnectPeriod: 0,
    will: { topic: topics.status('al', 'door'), payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
  });
  await node.publishAsync(topics.status('al', 'door'), JSON.stringify({ state: 'online', bootid: 'b', fw: 't', cfghash: 'x', time: at(0) }), { qos: 1, retain: true });
});

afterAll(async () => {
  await reader?.endAsync();
  await node?.endAsync();
  await hub?.stop();
  await new Promise<void>((r) => receiver?.close(() => r()));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const on = (p: string) => got.filter((g) => g.path === p);

describe('alerts', () => {
  it('warns, then says late, then escalates a party nobody greets; each target gets the types it asked for', async () => {
    await send('greetwatch.entry.v1', { sensor: 'beam', direction: 'in' }, 0);
    await waitFor(() => hub.ctx.runtime.live!.snapshot().open.length === 1, 'the party waiting');
    offsetMs = 11_000;
    await waitFor(() => onTopic.some((a) => a.type === 'party.warn'), 'party.warn on the topic');
    offsetMs = 21_000;
    await waitFor(() => onTopic.some((a) => a.type === 'party.late'), 'party.late on the topic');
    offsetMs = 52_000;
    await waitFor(() => onTopic.some((a) => a.type === 'party.escalated'), 'party.escalated on the topic');
    for (const a of onTopic) expect(Value.Check(Alert, a)).toBe(true);
    const late = onTopic.find((a) => a.type === 'party.late')!;
    expect(late).toMatchObject({ store: 'al', party: 'door/e1', size: 1 });
    expect(late.message).toMatch(/past the 20 s target/);

    // the webhook: every alert as JSON, with its own headers
    await waitFor(() => on('/hook').length >= 3, 'three alerts at the webhook');
    const hook = on('/hook').map((g) => JSON.parse(g.body) as Alert);
    expect(hook.map((a) => a.type)).toEqual(['party.warn', 'party.late', 'party.escalated']);
    expect(hook[1]).toEqual(late);
    expect(on('/hook')[0]!.headers['x-secret']).toBe('s3');
    expect(on('/hook')[0]!.headers['content-type']).toBe('application/json');

    // ntfy: late and escalated only, text body, title, priority, bearer token; retried after a 503
    await waitFor(() => on('/ntfy/shop-floor').length === 2, 'two pushes at ntfy');
    const [n1, n2] = on('/ntfy/shop-floor');
    expect(n1!.body).toBe(late.message);
    expect(n1!.headers).toMatchObject({ title: 'Customer waiting too long', priority: '4', authorization: 'Bearer tk_ntfy' });
    expect(n2!.headers).toMatchObject({ title: 'Customer still not greeted', priority: '5' });
    // the stand-in records a push before it answers: the hub counts it once the answer is in
    const ntfy = () => hub.ctx.runtime.alerts!.stats().targets['ntfy 127.0.0.1:' + (receiver.address() as AddressInfo).port];
    await waitFor(() => ntfy()?.sent === 2, 'the hub to count both pushes');
    expect(ntfy()).toMatchObject({ sent: 2, failed: 0 });

    // Home Assistant: the escalation only, on its notify service, with the long-lived token
    await waitFor(() => on('/api/services/notify/mobile_app_manager').length === 1, 'the escalation at Home Assistant');
    const ha = on('/api/services/notify/mobile_app_manager')[0]!;
    expect(ha.headers.authorization).toBe('Bearer ha-long-lived');
    expect(JSON.parse(ha.body)).toMatchObject({ title: 'Customer still not greeted', message: expect.stringMatching(/still not greeted/) as string, data: { tag: 'greetwatch-door/e1' } });
  });

  it('says when a sensor faults and when a node goes offline and comes back', async () => {
    await send('greetwatch.fault.v1', { sensor: 'beam', kind: 'stuck', detail: 'no change for 30 min' }, 52);
    await waitFor(() => onTopic.some((a) => a.type === 'node.fault'), 'node.fault');
    expect(onTopic.find((a) => a.type === 'node.fault')).toMatchObject({ node: 'door', sensor: 'beam', kind: 'stuck', detail: 'no change for 30 min' });
    await send('greetwatch.fault.v1', { sensor: 'beam', kind: 'recovered' }, 53);

    // the node's connection drops: its Last Will says offline
    node.stream.destroy();
    await waitFor(() => onTopic.some((a) => a.type === 'node.offline'), 'node.offline');
    await waitFor(() => on('/api/services/notify/mobile_app_manager').length === 2, 'the offline alert at Home Assistant');
    node = await mqtt.connectAsync(hub.mqttUrl, { username: 'door', password: password('door'), clientId: 'gw-al-door', reconnectPeriod: 0 });
    await node.publishAsync(topics.status('al', 'door'), JSON.stringify({ state: 'online', bootid: 'b2', fw: 't', cfghash: 'x', time: at(60) }), { qos: 1, retain: true });
    await waitFor(() => onTopic.some((a) => a.type === 'node.online'), 'node.online');
    expect(onTopic.filter((a) => a.type === 'node.fault')).toHaveLength(1); // a recovery is no alert
    await waitFor(() => on('/hook').some((g) => g.body.includes('"node.online"')), 'node.online at the webhook');
  });
});

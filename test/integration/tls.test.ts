import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../contract/index.ts';
import { createPublisher } from '../../edge/publisher.ts';
import { memoryOutbox } from '../../edge/outbox.ts';
import { StoreConfig } from '../../firmware-config/schema.ts';
import { certsCommand } from '../../hub/certs.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { withTlsPaths } from '../../hub/tls.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { loginAs, password, READER, withLogins } from '../helpers/logins.ts';
import { waitFor } from '../helpers/wait.ts';
import { loadedStore } from '../helpers/store-config.ts';

// TLS end to end (README "Security"): certificates made by the real `greetwatch certs`
// (system openssl), a hub with mqtts:// and https://, nodes that verify it with the CA.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin/greetwatch.mjs');
const silent = pino({ level: 'silent' });

const cli = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });

let dir: string;
let ca: Buffer;
let files: { cert: string; key: string };
let cfg: StoreConfig;
let hub: Hub;
const clients: mqtt.MqttClient[] = [];
const hubs: Hub[] = [];

const event = (seq: number) =>
  JSON.stringify({
    specversion: '1.0',
    id: `door-${seq}-${Math.random().toString(36).slice(2)}`,
    source: '/stores/tls/nodes/door',
    type: 'greetwatch.door.v1',
    time: new Date().toISOString(),
    bootid: 'b1',
    seq,
    data: { sensor: 'd', state: 'open' },
  });

const config = (hubSection: Record<string, unknown>) => loadedStore({ store: { id: 'tls' }, nodes: [{ id: 'door' }], hub: hubSection });
const start = async (c: StoreConfig) => {
  const h = await startHub({ config: c, dataDir: path.join(dir, `data-${hubs.length}`), log: silent, store: memoryVisitStore('memory') });
  hubs.push(h);
  return h;
};
const connect = async (url: string, o: mqtt.IClientOptions) => {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...o });
  clients.push(c);
  return c;
};
/** the error message of a connection that must fail ('connected' when it did not) */
const refused = (url: string, o: mqtt.IClientOptions) =>
  mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...o }).then(
    (c) => {
      clients.push(c);
      return 'connected';
    },
    (err: Error) => err.message,
  );
const accepted = (h: Hub, node: string) => h.ctx.runtime.live!.snapshot().nodes.find((n) => n.node === node)?.events ?? 0;
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-tls-'));
  const made = await cli(['certs', 'ca', '--out', path.join(dir, 'ca')]);
  expect(made, made.stderr).toMatchObject({ code: 0 });
  const hubCert = await cli(['certs', 'hub', '--ca', path.join(dir, 'ca'), '--host', '127.0.0.1', '--host', 'localhost', '--out', path.join(dir, 'hub')]);
  expect(hubCert, hubCert.stderr).toMatchObject({ code: 0 });
  ca = fs.readFileSync(path.join(dir, 'ca', 'ca.crt'));
  files = { cert: path.join(dir, 'hub', 'hub.crt'), key: path.join(dir, 'hub', 'hub.key') };
  cfg = await withLogins(config({ mqtt: { port: 0, tls: { port: 0, ...files } }, http: { port: 0, tls: files } }));
  hub = await start(cfg);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  for (const h of hubs) await h.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('greetwatch certs', () => {
  it('writes the keys mode 0600 and a hub certificate for every host, signed by the CA', () => {
    for (const key of [path.join(dir, 'ca', 'ca.key'), files.key]) expect(fs.statSync(key).mode & 0o777).toBe(0o600);
    const leaf = new X509Certificate(fs.readFileSync(files.cert));
    const caCert = new X509Certificate(ca);
    expect(caCert.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost');
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(new Date(leaf.validTo).getTime() - Date.now()).toBeGreaterThan(700 * 86_400_000);
  });

  it('makes a client certificate for a node, and refuses to overwrite without --force', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    const args = ['node', '--ca', path.join(dir, 'ca'), '--node', 'door', '--out', path.join(dir, 'nodes')];
    expect(await certsCommand(args, io)).toBe(0);
    const c = new X509Certificate(fs.readFileSync(path.join(dir, 'nodes', 'door.crt')));
    expect(c.subject).toBe('CN=door');
    expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth
    expect(await certsCommand(args, io)).toBe(1);
    expect(err.join('\n')).toMatch(/already exist.*--force/);
    expect(await certsCommand(['node', '--help'], io)).toBe(0);
    expect(out.join('\n')).toMatch(/authenticates nodes by their login/);
  });

  it('says in one line that openssl is missing', async () => {
    const err: string[] = [];
    const saved = process.env.PATH;
    process.env.PATH = path.join(dir, 'no-such-bin');
    try {
      expect(await certsCommand(['ca', '--out', path.join(dir, 'ca2')], { out: () => undefined, err: (l) => err.push(l) })).toBe(1);
    } finally {
      process.env.PATH = saved;
    }
    expect(err).toEqual([expect.stringMatching(/openssl command was not found/)]);
    expect(fs.existsSync(path.join(dir, 'ca2'))).toBe(false);
  });
});

describe('hub with TLS', () => {
  it('a node that verifies the hub with the CA publishes over mqtts://, and its event is accepted', async () => {
    const port = hub.ctx.runtime.mqttTlsPort;
    expect(port).toBeGreaterThan(0);
    const door = await connect(`mqtts://127.0.0.1:${port}`, { ...loginAs(cfg, 'door'), ca });
    await door.publishAsync(topics.events('tls', 'door'), event(1), { qos: 1 });
    await waitFor(() => accepted(hub, 'door') === 1, 'door event accepted over TLS', 5000);
    // the plain listener stays by default
    expect(hub.ctx.runtime.mqttPort).toBeGreaterThan(0);
  });

  it("the edge publisher passes the bootstrap's CA to mqtt.js", async () => {
    const login = loginAs(cfg, 'door');
    const p = createPublisher({
      store: 'tls',
      node: 'door',
      url: `mqtts://127.0.0.1:${hub.ctx.runtime.mqttTlsPort}`,
      ca,
      username: login.username,
      password: login.password,
      outbox: memoryOutbox(),
      indicator: { set: () => undefined, close: () => undefined },
      status: { bootid: 'b2', fw: 'test', cfghash: 'none' },
    });
    p.start();
    try {
      await waitFor(() => p.stats().connected, 'edge publisher connected over TLS', 5000);
    } finally {
      await p.stop();
    }
  });

  it('a client without the CA is refused by certificate verification', async () => {
    const msg = await refused(`mqtts://127.0.0.1:${hub.ctx.runtime.mqttTlsPort}`, loginAs(cfg, 'door'));
    expect(msg).toMatch(/self[- ]signed|unable to (get|verify)|certificate/i);
  });

  it('serves the API over HTTPS', async () => {
    const body = await new Promise<{ status: number; json: unknown }>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: hub.ctx.runtime.httpPort, path: '/healthz', ca }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown }));
        })
        .on('error', reject);
    });
    expect(body).toEqual({ status: 200, json: { ok: true, store: 'tls' } });
  });

  it('marks the session cookie Secure over HTTPS (README "Security → Logins and roles")', async () => {
    const setCookie = await new Promise<string[]>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: hub.ctx.runtime.httpPort, path: '/api/login', method: 'POST', ca, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve(res.headers['set-cookie'] ?? []) : reject(new Error(`login: HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ user: READER, password: password(READER) }));
    });
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^gw_session=[\w-]{43}; /);
    expect(setCookie[0]!.split('; ')).toEqual(expect.arrayContaining(['Secure', 'HttpOnly', 'SameSite=Strict', 'Path=/']));
  });

  it('plain: false closes the plain listener; TLS still works', async () => {
    const plainPort = await freePort();
    const c = await withLogins(config({ mqtt: { port: plainPort, plain: false, tls: { port: 0, ...files } }, http: { port: 0 } }));
    const h = await start(c);
    expect(h.ctx.runtime.mqttPort).toBeUndefined();
    expect(await refused(`mqtt://127.0.0.1:${plainPort}`, loginAs(c, 'door'))).toMatch(/ECONNREFUSED/);
    const door = await connect(`mqtts://127.0.0.1:${h.ctx.runtime.mqttTlsPort}`, { ...loginAs(c, 'door'), ca });
    expect(door.connected).toBe(true);
  });

  it('a missing or wrong file stops startHub with the setting and the file named', async () => {
    const missing = path.join(dir, 'nope.crt');
    await expect(start(config({ mqtt: { port: 0, tls: { port: 0, cert: missing, key: files.key } }, http: { port: 0 } }))).rejects.toMatchObject({
      code: 'GW_ERR_CONFIG_INVALID',
      message: expect.stringContaining(`hub.mqtt.tls.cert: cannot read ${missing}: no such file`) as unknown,
    });
    const garbage = path.join(dir, 'garbage.key');
    fs.writeFileSync(garbage, 'not a key\n');
    await expect(start(config({ mqtt: { port: 0 }, http: { port: 0, tls: { cert: files.cert, key: garbage } } }))).rejects.toMatchObject({
      code: 'GW_ERR_CONFIG_INVALID',
      message: expect.stringContaining(`hub.http.tls.key: ${garbage} is not a PEM private key`) as unknown,
    });
    await expect(start(config({ mqtt: { port: 0, plain: false }, http: { port: 0 } }))).rejects.toThrow(/hub.mqtt.plain is false but hub.mqtt.tls is not set/);
  });

  it("resolves relative file paths against the store file's folder", () => {
    const c = withTlsPaths(config({ mqtt: { tls: { cert: 'certs/hub.crt', key: 'certs/hub.key' } }, http: { tls: { cert: '/etc/gw/hub.crt', key: 'hub.key' } } }), '/srv/store');
    expect(c.hub.mqtt.tls).toEqual({ port: 8883, cert: '/srv/store/certs/hub.crt', key: '/srv/store/certs/hub.key' });
    expect(c.hub.http.tls).toEqual({ cert: '/etc/gw/hub.crt', key: '/srv/store/hub.key' });
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics, type LiveSnapshot } from '../../contract/index.ts';
import { createEdgeAgent, type EdgeAgent } from '../../edge/agent.ts';
import { asSimInput } from '../../edge/drivers/sim.ts';
import { inputKeys } from '../../edge/io.ts';
import { nodeEffectiveConfig } from '../../firmware-config/hash.ts';
import { loadConfig } from '../../firmware-config/load.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { password } from '../helpers/logins.ts';
import { waitFor } from '../helpers/wait.ts';
import { hashPassword } from '../../firmware-config/passwords.ts';

// The store file changed without a restart (README "Configuration"): POST /api/config/reload
// and SIGHUP apply a good file through one config:changed event (rules, nodes, staff, tokens)
// without dropping MQTT connections or open parties; a bad file is refused with its errors
// and the running config stays; a bad file at start, or a port in use, ends the hub with
// one line and exit code 1.

const root = path.resolve(import.meta.dirname, '../..');
const TOKEN = 'reload-test-token-0123456789';

/** scrypt hashes of the test passwords, made once (README "Security": every node logs in) */
const hashes: Record<string, string> = {};
const storeYaml = (over: { warnAtS?: number; extraNode?: boolean; tokens?: boolean; broken?: boolean } = {}) => `store: { id: rl, timezone: UTC }
rules: { greetWithinS: 30, warnAtS: ${over.warnAtS ?? 20}, groupWindowS: 0.3, reorderS: 0.3 }
staff: [{ id: anna }]
nodes:
  - id: door
    driver: sim
    sensors: [{ id: beam, kind: beam-pair, outerPin: 1, innerPin: 2, debounceMs: 0 }]
    mqtt: { passwordHash: '${hashes.door}' }
${over.extraNode ? `  - id: counter\n    driver: sim\n    buttons: [{ id: fob, kind: fob, staff: anna, debounceMs: 0 }]\n    mqtt: { passwordHash: '${hashes.counter}' }\n` : ''}${over.broken ? '  - id: counter\n    drivr: sim\n' : ''}hub:
  mqtt: { port: 0 }
  http: { port: 0 }
  tokens: [${over.tokens ? TOKEN : ''}]
`;

let dir: string;
let file: string;
let hub: Hub;
let door: EdgeAgent;
const children: ChildProcess[] = [];

beforeAll(async () => {
  for (const id of ['door', 'counter']) hashes[id] = await hashPassword(password(id));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-reload-'));
  file = path.join(dir, 'store.yaml');
  fs.writeFileSync(file, storeYaml());
  const cfg = loadConfig(file);
  hub = await startHub({ config: cfg, configFile: file, dataDir: path.join(dir, 'hub'), log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), tickMs: 50 });
  door = createEdgeAgent({ store: 'rl', node: nodeEffectiveConfig(cfg, 'door').node, mqttUrl: hub.mqttUrl, dataDir: path.join(dir, 'edge', 'door'), login: { username: 'door', password: password('door') }, log: pino({ level: 'silent' }) });
  await door.start();
  await waitFor(() => door.stats().mqtt?.connected === true, 'door connected');
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await door?.stop();
  await hub?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const get = async (p: string, token?: string) => fetch(hub.httpUrl + p, token ? { headers: { authorization: `Bearer ${token}` } } : {});
const live = async (token?: string) => (await (await get('/api/stores/rl/live', token)).json()) as LiveSnapshot;
const reload = async (token?: string) => {
  const res = await fetch(`${hub.httpUrl}/api/config/reload`, { method: 'POST', ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
  return { status: res.status, body: (await res.json()) as { ok: boolean; errors: string[]; error?: string; restartNeeded: string[] } };
};

describe('reloading the store file', () => {
  it('applies rules, a new node and tokens in place: the node stays connected, the waiting party stays', async () => {
    const outer = asSimInput(door.inputs.get(inputKeys.beamOuter('beam')), 'door');
    const inner = asSimInput(door.inputs.get(inputKeys.beamInner('beam')), 'door');
    outer.set(1);
    inner.set(1);
    outer.set(0);
    inner.set(0);
    await waitFor(async () => (await live()).open.length === 1, 'a party waiting');
    const party = (await live()).open[0]!.party;
    fs.writeFileSync(file, storeYaml({ warnAtS: 10, extraNode: true, tokens: true }));
    const r = await reload(); // the API was open until now
    expect(r).toEqual({ status: 200, body: { ok: true, errors: [], restartNeeded: [] } });

    // the node's MQTT session was not touched, the party is the same one
    expect(door.stats().mqtt?.connects).toBe(1);
    expect(door.stats().mqtt?.connected).toBe(true);
    expect((await get('/api/stores/rl/live')).status).toBe(401); // tokens apply at once
    const after = await live(TOKEN);
    expect(after.open.map((p) => p.party)).toEqual([party]);
    expect(after.rules.warnAtS).toBe(10);
    expect(after.nodes.map((n) => n.node)).toEqual(['counter', 'door']);
    // the new node can log in at once, and its config is retained for it
    const counter = await mqtt.connectAsync(hub.mqttUrl, { username: 'counter', password: password('counter'), clientId: 'gw-rl-counter', reconnectPeriod: 0 });
    const retained = new Map<string, string>();
    counter.on('message', (t, p) => retained.set(t, p.toString()));
    await counter.subscribeAsync(topics.config('rl', 'counter'), { qos: 1 });
    await waitFor(() => retained.has(topics.config('rl', 'counter')), 'counter config received');
    expect(JSON.parse(retained.get(topics.config('rl', 'counter'))!)).toMatchObject({ store: 'rl', node: { id: 'counter' } });
    await counter.endAsync();
  });

  it('refuses a bad file with its errors and keeps the running config', async () => {
    fs.writeFileSync(file, storeYaml({ warnAtS: 5, tokens: true, broken: true }));
    const r = await reload(TOKEN);
    expect(r.status).toBe(422);
    expect(r.body.ok).toBe(false);
    expect(r.body.error).toBe('GW_ERR_CONFIG_INVALID');
    expect(r.body.errors.join('\n')).toMatch(/store\.yaml:\d+(:\d+)? nodes\[1\]\.drivr: unknown key 'drivr'; did you mean 'driver'\?/);
    const l = await live(TOKEN);
    expect(l.rules.warnAtS).toBe(10);
    expect(l.nodes.map((n) => n.node)).toEqual(['counter', 'door']);
  });

  it('flags a node whose running config is not the one the hub publishes', async () => {
    // the door agent runs the config from before the reload; its hash is not the hub's any more
    fs.writeFileSync(file, storeYaml({ warnAtS: 10, extraNode: true, tokens: true }).replace('debounceMs: 0 }]\n', 'debounceMs: 5 }]\n'));
    expect((await reload(TOKEN)).status).toBe(200);
    await waitFor(async () => (await live(TOKEN)).nodes.find((n) => n.node === 'door')?.configCurrent === false, 'door flagged stale');
    expect((await live(TOKEN)).nodes.find((n) => n.node === 'door')?.cfghash).toBe(door.cfghash);
  });
});

describe('logins after a reload', () => {
  it("a node whose login was taken out of the store file is cut off at the reload and cannot come back", async () => {
    fs.writeFileSync(file, storeYaml({ warnAtS: 10, extraNode: true, tokens: true }));
    expect((await reload(TOKEN)).status).toBe(200);
    const counter = await mqtt.connectAsync(hub.mqttUrl, { username: 'counter', password: password('counter'), clientId: 'gw-rl-counter', reconnectPeriod: 0 });
    const closed = new Promise<void>((r) => counter.once('close', () => r()));
    // a stolen counter node: its login goes
    fs.writeFileSync(file, storeYaml({ warnAtS: 10, extraNode: true, tokens: true }).replace(`    mqtt: { passwordHash: '${hashes.counter}' }\n`, ''));
    expect((await reload(TOKEN)).status).toBe(200);
    await closed;
    const again = await mqtt.connectAsync(hub.mqttUrl, { username: 'counter', password: password('counter'), reconnectPeriod: 0 }).then(
      async (c) => {
        await c.endAsync();
        return 'connected';
      },
      (err: Error) => err.message,
    );
    expect(again).toMatch(/Bad username or password/);
    // the door node, whose login stayed, was not touched
    expect(door.stats().mqtt?.connected).toBe(true);
  });
});

describe('the hub command', () => {
  const bin = path.join(root, 'bin/greetwatch.mjs');
  const run = (args: string[]) => {
    const c = spawn(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'warn', INFLUX_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
    return { c, out: () => out, err: () => err, exited };
  };

  it('re-reads its file on SIGHUP', async () => {
    const f = path.join(dir, 'hup.yaml');
    fs.writeFileSync(f, storeYaml().replace('hub:\n', 'hub:\n  influx: { managed: false }\n'));
    const p = run(['hub', '--config', f]);
    await waitFor(() => /dashboard (http:\S+)\//.test(p.out()), 'hub up', 30_000);
    const url = /dashboard (http:\S+)\//.exec(p.out())![1]!;
    const warnAt = async () => ((await (await fetch(`${url}/api/stores/rl/live`)).json()) as LiveSnapshot).rules.warnAtS;
    expect(await warnAt()).toBe(20);
    fs.writeFileSync(f, storeYaml({ warnAtS: 12 }).replace('hub:\n', 'hub:\n  influx: { managed: false }\n'));
    p.c.kill('SIGHUP');
    await waitFor(async () => (await warnAt()) === 12, 'warnAtS 12 after SIGHUP');
    p.c.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('a bad file at start: the errors, exit 1, nothing listening', async () => {
    const f = path.join(dir, 'bad.yaml');
    fs.writeFileSync(f, storeYaml({ broken: true }));
    const p = run(['hub', '--config', f]);
    expect(await p.exited).toBe(1);
    expect(p.err()).toMatch(/bad\.yaml:\d+(:\d+)? nodes\[1\]\.drivr: unknown key 'drivr'/);
    expect(p.err()).not.toMatch(/\n\s+at /); // no stack trace
    expect(p.out()).not.toMatch(/dashboard/);
  });

  it('a port in use: one line naming the port and the setting, exit 1', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    const f = path.join(dir, 'busy.yaml');
    fs.writeFileSync(f, storeYaml().replace('mqtt: { port: 0 }', `mqtt: { port: ${port} }`).replace('hub:\n', 'hub:\n  influx: { managed: false }\n'));
    const p = run(['hub', '--config', f]);
    expect(await p.exited).toBe(1);
    await new Promise<void>((r) => srv.close(() => r()));
    expect(p.err().trim()).toBe(`greetwatch hub: 127.0.0.1:${port} (hub.mqtt.port) is already in use (another hub, or another program); change hub.mqtt.port in ${f} or stop the other program`);
  });

  it('a bad option or a missing file: one line, exit 1; --help lists the options', async () => {
    const bad = run(['hub', '--confg', 'x.yaml']);
    expect(await bad.exited).toBe(1);
    expect(bad.err().trim().split('\n')).toHaveLength(1);
    expect(bad.err()).toMatch(/^greetwatch hub: Unknown option '--confg'/);
    const missing = run(['hub', '--config', path.join(dir, 'nope.yaml')]);
    expect(await missing.exited).toBe(1);
    expect(missing.err()).toMatch(/nope\.yaml: cannot read config file \(no such file\)/);
    const help = run(['hub', '--help']);
    expect(await help.exited).toBe(0);
    expect(help.out()).toMatch(/--config <file>/);
    const top = run(['--help']);
    expect(await top.exited).toBe(0);
    expect(top.out()).toMatch(/hub\s+runs a store hub/);
    expect(top.out()).toMatch(/node\s+runs an edge node/);
  });
});

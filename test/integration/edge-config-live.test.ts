import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../contract/errors.ts';
import { decodeEvent, topics, type GwEvent } from '../../contract/index.ts';
import { configHash, nodeEffectiveConfig, type NodeEffectiveConfig } from '../../firmware-config/hash.ts';
import { loadConfig } from '../../firmware-config/load.ts';
import type { Node as NodeConfig } from '../../firmware-config/schema.ts';
import { createEdgeAgent, type EdgeAgent, type EdgeAgentOptions } from '../../edge/agent.ts';
import { CONFIG_FILE } from '../../edge/config-store.ts';
import { asSimInput, SimDigitalInput, SimIndicator, simDriver } from '../../edge/drivers/sim.ts';
import { driverOpenError } from '../../edge/errors.ts';
import type { IoFactory } from '../../edge/io.ts';
import { startBroker, waitFor, type SeenPublish, type TestBroker } from '../fakes/broker.ts';
import { buttonCfg } from '../fakes/nodes.ts';

// A node that holds only its bootstrap and runs the config the hub publishes, retained, on
// greetwatch/v1/{store}/{node}/config (CONTRACT.md "MQTT topics"), against a real aedes broker:
// waiting with cfghash "none", applying configs in place (same bootid, seq, connection,
// unchanged inputs), refusing bad ones, and starting from its stored config.json offline.

const root = path.resolve(import.meta.dirname, '../..');
const DEMO = path.join(root, 'firmware-config/examples/demo-store.yaml');
const STORE = 'demo';
const NODE = 'counter-1';
const unknownClock = () => Promise.resolve({ sync: 'unknown' as const, source: 'none' as const });

/** the demo store's counter node with debounce 0 on its buttons (a press is an event at once), changed by `edit` */
function effective(edit?: (node: NodeConfig) => void): NodeEffectiveConfig {
  const cfg = loadConfig(DEMO);
  const node = cfg.nodes.find((n) => n.id === NODE)!;
  for (const b of node.buttons) b.debounceMs = 0;
  edit?.(node);
  return nodeEffectiveConfig(cfg, NODE);
}

/** a payload with a correct cfghash for whatever it holds */
const rehashed = (body: { store: string; node: unknown; rules: unknown }) => ({ ...body, cfghash: configHash(body) });

/** a valid pin (BCM 0-63) that the recording driver cannot open */
const BUSY_PIN = 60;

/** sim drivers that report the node's driver kind and record open/close; BUSY_PIN cannot open */
function recordingIo(): { io: IoFactory; log: string[] } {
  const log: string[] = [];
  const io: IoFactory = (node) => {
    const sim = simDriver();
    return {
      ...sim,
      kind: node.driver,
      open: async () => {
        log.push(`open ${node.driver}`);
      },
      input(spec) {
        if (spec.pin === BUSY_PIN) throw driverOpenError(node.id, `${spec.device} (${spec.role}) pin ${spec.pin}`, 'EBUSY: in use by another program');
        return sim.input(spec);
      },
      close: async () => {
        log.push(`close ${node.driver}`);
        await sim.close();
      },
    };
  };
  return { io, log };
}

/** a logger whose lines the test reads */
function capture(): { log: Logger; lines: Array<{ name?: string; msg: string; level: number }> } {
  const lines: Array<{ name?: string; msg: string; level: number }> = [];
  const write = (s: string): void => {
    lines.push(JSON.parse(s) as { name?: string; msg: string; level: number });
  };
  return { lines, log: pino({ level: 'info' }, { write }) };
}

describe('edge node with its config from the hub (real broker)', () => {
  let broker: TestBroker;
  let dir: string;
  const agents: EdgeAgent[] = [];
  const clients: MqttClient[] = [];
  const silent = pino({ level: 'silent' });

  beforeEach(async () => {
    broker = await startBroker();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-edge-config-live-'));
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const nodeDir = () => path.join(dir, NODE);
  const agent = (over: Partial<EdgeAgentOptions> = {}): EdgeAgent => {
    const a = createEdgeAgent({
      store: STORE,
      nodeId: NODE,
      mqttUrl: broker.url,
      dataDir: nodeDir(),
      log: silent,
      fw: 'test-fw',
      clockProbe: unknownClock,
      mqtt: { reconnectPeriodMs: 100, stopTimeoutMs: 1000 },
      ...over,
    });
    agents.push(a);
    return a;
  };
  /** the hub's side: publishes a node config, retained, QoS 1 */
  const publishConfig = async (payload: unknown): Promise<void> => {
    const hub = await connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(hub);
    await hub.publishAsync(topics.config(STORE, NODE), typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1, retain: true });
  };
  const press = (a: EdgeAgent, button: string): void => {
    const b = asSimInput(a.inputs.get(button), 'test');
    b.set(1);
    b.set(0);
  };
  const events = (): GwEvent[] =>
    broker.seen
      .filter((p) => p.topic === topics.events(STORE, NODE))
      .map((p) => {
        const v = decodeEvent(p.payload, { expect: { store: STORE, node: NODE } });
        if (!v.ok) throw new Error(v.reason);
        return v.value;
      });
  const statuses = (): Array<{ state: string; cfghash?: string; bootid?: string }> =>
    broker.seen.filter((p) => p.topic === topics.status(STORE, NODE)).map((p) => JSON.parse(p.payload) as { state: string; cfghash?: string });
  const stored = (): unknown => {
    try {
      return JSON.parse(fs.readFileSync(path.join(nodeDir(), CONFIG_FILE), 'utf8')) as unknown;
    } catch {
      return null;
    }
  };
  const applied = (a: EdgeAgent, eff: NodeEffectiveConfig) => waitFor(() => a.cfghash === eff.cfghash, `config ${eff.cfghash} applied`);

  it('with only a bootstrap and nothing stored: waits (cfghash "none"), then runs, echoes and stores the hub config', async () => {
    const { log, lines } = capture();
    const a = agent({ log });
    await a.start();
    expect(a.stats()).toMatchObject({ configSource: 'none', cfghash: 'none', hubCfghash: null });
    expect(a.inputs.size).toBe(0);
    await waitFor(() => statuses().some((s) => s.state === 'online' && s.cfghash === 'none'), 'online status with cfghash "none"');
    expect(lines.some((l) => l.name === 'edge:config' && /waiting for the hub/.test(l.msg))).toBe(true);

    const eff = effective();
    await publishConfig(eff);
    await applied(a, eff);
    expect(a.stats()).toMatchObject({ configSource: 'hub', configsApplied: 1, configsRefused: 0, hubCfghash: eff.cfghash });
    expect([...a.inputs.keys()].sort()).toEqual(['counter-btn', 'fob-anna', 'fob-ben', 'mid-pir']);
    press(a, 'fob-anna');
    await waitFor(() => events().length === 1, 'greet at the broker');
    expect(events()[0]).toMatchObject({ type: 'greetwatch.greet.v1', bootid: a.bootid, seq: 1, data: { button: 'fob-anna', staff: 'anna' } });
    await waitFor(() => statuses().at(-1)?.cfghash === eff.cfghash, 'status echoes the new cfghash');
    expect(statuses().at(-1)).toMatchObject({ state: 'online', bootid: a.bootid });
    await waitFor(() => stored() !== null, 'config.json written');
    expect(stored()).toEqual(eff);
  });

  it('restarted with the broker down: runs its stored config at once, events wait in the outbox, delivered once the broker is back', async () => {
    const eff = effective();
    const first = agent();
    await first.start();
    await publishConfig(eff);
    await applied(first, eff);
    await waitFor(() => stored() !== null, 'config.json written');
    await first.stop();
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.stop();

    const b = agent();
    await b.start();
    expect(b.stats()).toMatchObject({ configSource: 'disk', cfghash: eff.cfghash, configsApplied: 0 });
    expect(b.inputs.size).toBe(4);
    press(b, 'counter-btn');
    press(b, 'fob-ben');
    expect(b.stats().pending).toBe(2);
    expect(b.stats().mqtt?.connected).toBe(false);

    await broker.restart(); // a new broker instance: no retained config
    await waitFor(() => b.stats().pending === 0, 'outbox drained once the broker is back');
    expect(events().filter((e) => e.bootid === b.bootid).map((e) => [e.seq, e.data])).toEqual([
      [1, { button: 'counter-btn' }],
      [2, { button: 'fob-ben', staff: 'ben' }],
    ]);
    await waitFor(() => statuses().some((s) => s.bootid === b.bootid && s.cfghash === eff.cfghash), 'status with the stored cfghash');

    // the hub publishes the same config: confirmed, nothing re-opened
    const btn = b.inputs.get('counter-btn');
    await publishConfig(eff);
    await waitFor(() => b.stats().configSource === 'hub', 'the hub confirms the stored config');
    expect(b.inputs.get('counter-btn')).toBe(btn);
    expect(b.stats()).toMatchObject({ configsApplied: 0, configsRefused: 0 });
  });

  it('a new config (a debounce changed, a button added) is applied in place: same bootid, gapless seq, unchanged inputs kept', async () => {
    const { io, log: driverLog } = recordingIo();
    const a = agent({ io });
    await a.start();
    const eff1 = effective();
    await publishConfig(eff1);
    await applied(a, eff1);
    press(a, 'counter-btn');
    press(a, 'counter-btn');
    await waitFor(() => events().length === 2, 'two greets');
    const before = new Map(a.inputs);
    const indicator = a.indicator;
    const bootid = a.bootid;

    const eff2 = effective((n) => {
      n.buttons.find((b) => b.id === 'counter-btn')!.debounceMs = 50;
      n.buttons.push(buttonCfg({ id: 'counter-2', pin: 7, debounceMs: 0 }));
    });
    await publishConfig(eff2);
    await applied(a, eff2);

    expect(driverLog).toEqual(['open sim']); // the driver stayed open
    for (const [key, input] of before) expect(a.inputs.get(key)).toBe(input);
    expect(a.indicator).toBe(indicator); // its pins did not change
    expect(a.inputs.get('counter-2')).toBeInstanceOf(SimDigitalInput);
    expect(a.config.buttons.map((b) => b.id)).toEqual(['counter-btn', 'fob-anna', 'fob-ben', 'counter-2']);
    // the new debounce holds: a 0 ms blip is a glitch now, not a press
    press(a, 'counter-btn');
    await waitFor(() => a.stats().signals['counter-btn']?.glitches === 1, 'the blip counted as a glitch once the debounce is over');
    expect(a.stats().signals['counter-btn']).toMatchObject({ presses: 0 });
    press(a, 'counter-2');
    press(a, 'fob-anna');
    await waitFor(() => events().length === 4, 'greets after the change');
    expect(events().map((e) => [e.bootid, e.seq])).toEqual([1, 2, 3, 4].map((s) => [bootid, s]));
    expect(events()[2]!.data).toEqual({ button: 'counter-2' });
    await waitFor(() => statuses().at(-1)?.cfghash === eff2.cfghash, 'status shows the new cfghash');
    expect(a.stats()).toMatchObject({ configsApplied: 2, configSource: 'hub', events: 4 });
    expect(a.stats().mqtt?.connects).toBe(1); // the same MQTT connection
    await waitFor(() => (stored() as { cfghash?: string } | null)?.cfghash === eff2.cfghash, 'config.json replaced');
  });

  it('a config with another driver kind closes the driver and opens a new one', async () => {
    const { io, log: driverLog } = recordingIo();
    const a = agent({ io });
    await a.start();
    const eff1 = effective();
    await publishConfig(eff1);
    await applied(a, eff1);
    const oldBtn = asSimInput(a.inputs.get('counter-btn'), 'test');

    const eff2 = effective((n) => {
      n.driver = 'firmata';
      n.serialPort = '/dev/ttyACM0';
    });
    await publishConfig(eff2);
    await applied(a, eff2);
    expect(driverLog).toEqual(['open sim', 'close sim', 'open firmata']);
    expect(oldBtn.closed).toBe(true);
    expect(a.inputs.get('counter-btn')).not.toBe(oldBtn);
    press(a, 'counter-btn');
    await waitFor(() => events().length === 1, 'a greet from the new driver');
    expect(events()[0]).toMatchObject({ bootid: a.bootid, seq: 1 });
    await waitFor(() => statuses().at(-1)?.cfghash === eff2.cfghash, 'status shows the new cfghash');
  });

  it('an indicator whose pin changed is re-created and shows the level the hub last set', async () => {
    const a = agent();
    await a.start();
    const eff1 = effective();
    await publishConfig(eff1);
    await applied(a, eff1);
    const old = a.indicator as SimIndicator;
    const btn = a.inputs.get('counter-btn');
    const hub = await connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(hub);
    await hub.publishAsync(topics.cmd(STORE, NODE), JSON.stringify({ type: 'indicate', level: 'warn' }), { qos: 1 });
    await waitFor(() => old.level === 'warn', 'indicator warn');

    const eff2 = effective((n) => {
      n.indicator = { pin: 14, activeLow: false };
    });
    await publishConfig(eff2);
    await applied(a, eff2);
    const now = a.indicator as SimIndicator;
    expect(now).toBeInstanceOf(SimIndicator);
    expect(now).not.toBe(old);
    expect(now.level).toBe('warn');
    expect(a.inputs.get('counter-btn')).toBe(btn);
    await hub.publishAsync(topics.cmd(STORE, NODE), JSON.stringify({ type: 'indicate', level: 'late' }), { qos: 1 });
    await waitFor(() => now.level === 'late', 'the new indicator follows cmd');
    expect(old.history).toEqual(['warn']);
  });

  it('refuses another node\'s or store\'s config, a wrong cfghash, an invalid node, a pin that cannot open; the old config keeps running', async () => {
    const { io, log: driverLog } = recordingIo();
    const a = agent({ io });
    await a.start();
    const eff = effective();
    await publishConfig(eff);
    await applied(a, eff);
    await waitFor(() => stored() !== null, 'config.json written');
    const fobBen = a.inputs.get('fob-ben');
    let greets = 0;
    const stillRuns = async (): Promise<void> => {
      press(a, 'counter-btn');
      greets++;
      await waitFor(() => events().length === greets, `greet ${greets} from the old config`);
    };

    const door = nodeEffectiveConfig(loadConfig(DEMO), 'door-1');
    const otherStore = rehashed({ store: 'other-shop', node: eff.node, rules: eff.rules });
    const invalid = rehashed({ store: STORE, node: { ...eff.node, sensors: [{ id: 'x', kind: 'beem-pair' }] }, rules: eff.rules });
    // fob-ben goes away (its input closes) and a button on a busy pin comes
    const busyPin = effective((n) => {
      n.buttons = n.buttons.filter((b) => b.id !== 'fob-ben');
      n.buttons.push(buttonCfg({ id: 'new-btn', pin: BUSY_PIN }));
    });
    const cases: Array<[unknown, string, RegExp]> = [
      [door, ErrorCodes.CONFIG_REFUSED, /config for node 'door-1', this node is 'counter-1'/],
      [otherStore, ErrorCodes.CONFIG_REFUSED, /config for store 'other-shop'/],
      // a changed node under the running cfghash, and one with a made-up cfghash
      [{ ...eff, node: { ...eff.node, statusEveryS: 5 } }, ErrorCodes.CONFIG_REFUSED, /cfghash .* does not match/],
      [{ ...eff, node: { ...eff.node, statusEveryS: 5 }, cfghash: 'aaaaaaaaaaaa' }, ErrorCodes.CONFIG_REFUSED, /cfghash aaaaaaaaaaaa does not match/],
      [invalid, ErrorCodes.CONFIG_REFUSED, /invalid node config: node\.sensors\[0\]/],
      ['not json', ErrorCodes.CONFIG_REFUSED, /not JSON/],
      [busyPin, ErrorCodes.DRIVER_OPEN, /^node counter-1: new-btn \(button\) pin 60: EBUSY/],
    ];
    for (const [i, [payload, code, reason]] of cases.entries()) {
      await publishConfig(payload);
      await waitFor(() => a.stats().configsRefused === i + 1, `refusal ${i + 1}`);
      expect(a.stats().lastRefusal).toMatchObject({ code, reason: expect.stringMatching(reason) as unknown });
      expect(a.stats()).toMatchObject({ cfghash: eff.cfghash, configSource: 'hub', configsApplied: 1 });
      await stillRuns();
    }
    expect(a.stats().lastRefusal?.cfghash).toBe(busyPin.cfghash);
    // the refused pin change closed fob-ben and opened it again; the driver itself stayed
    expect(a.inputs.get('fob-ben')).not.toBe(fobBen);
    press(a, 'fob-ben');
    await waitFor(() => events().length === greets + 1, 'fob-ben works again');
    expect(events().at(-1)?.data).toEqual({ button: 'fob-ben', staff: 'ben' });
    expect(a.inputs.has('new-btn')).toBe(false);
    expect(driverLog).toEqual(['open sim']);
    expect(events().map((e) => e.seq)).toEqual(Array.from({ length: greets + 1 }, (_, i) => i + 1));
    expect(statuses().filter((s) => s.state === 'online').map((s) => s.cfghash).at(-1)).toBe(eff.cfghash);
    expect(stored()).toEqual(eff);
  });

  it('a stored config whose pins cannot open is refused at start: the node waits for the hub', async () => {
    const { io } = recordingIo();
    fs.mkdirSync(nodeDir(), { recursive: true });
    const busy = effective((n) => n.buttons.push(buttonCfg({ id: 'new-btn', pin: BUSY_PIN })));
    fs.writeFileSync(path.join(nodeDir(), CONFIG_FILE), JSON.stringify(busy));
    const a = agent({ io });
    await a.start();
    expect(a.stats()).toMatchObject({ configSource: 'none', cfghash: 'none', configsRefused: 1, lastRefusal: { code: ErrorCodes.DRIVER_OPEN, cfghash: busy.cfghash } });
    await waitFor(() => statuses().some((s) => s.state === 'online' && s.cfghash === 'none'), 'online status with cfghash "none"');
    const eff = effective();
    await publishConfig(eff);
    await applied(a, eff);
    expect(a.stats().configSource).toBe('hub');
  });
});

// ---- the CLI, against a broker that checks logins ----

interface AuthBroker {
  url: string;
  logins: Array<{ clientId: string; username: string | undefined; password: string | undefined }>;
  seen: SeenPublish[];
  close(): Promise<void>;
}

/** aedes with an authenticate hook: records every login, accepts the node's and the hub's */
async function authBroker(accept: Record<string, string>): Promise<AuthBroker> {
  const logins: AuthBroker['logins'] = [];
  const seen: SeenPublish[] = [];
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const pw = password?.toString('utf8');
      logins.push({ clientId: client.id, username, password: pw });
      done(null, username !== undefined && accept[username] === pw);
    },
  });
  broker.on('publish', (packet, client) => {
    if (packet.topic.startsWith('$SYS')) return;
    seen.push({ topic: packet.topic, payload: Buffer.from(packet.payload).toString('utf8'), qos: packet.qos, retain: packet.retain, clientId: client ? client.id : null });
  });
  const srv = createServer(broker.handle);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    logins,
    seen,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

describe('greetwatch node --bootstrap (child process)', () => {
  let dir: string;
  let broker: AuthBroker;
  let hub: MqttClient | undefined;
  let child: ChildProcess | undefined;
  const PASSWORD = 'node-password-1234';

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-edge-bootstrap-'));
    broker = await authBroker({ [NODE]: PASSWORD, hub: 'hub-password' });
  });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await hub?.endAsync(true);
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('logs in with the bootstrap username and password, runs the hub config, stops with exit 0 on SIGTERM', async () => {
    const eff = effective();
    hub = await connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0, username: 'hub', password: 'hub-password' });
    await hub.publishAsync(topics.config(STORE, NODE), JSON.stringify(eff), { qos: 1, retain: true });
    const bootstrap = path.join(dir, 'node.yaml');
    fs.writeFileSync(bootstrap, `store: ${STORE}\nnode: ${NODE}\nmqttUrl: ${broker.url}\nusername: ${NODE}\npassword: ${PASSWORD}\n`);
    const dataDir = path.join(dir, 'data');
    let stderr = '';
    child = spawn(process.execPath, ['--import', 'tsx', 'edge/main.ts', '--bootstrap', bootstrap, '--data-dir', dataDir, '--log-level', 'warn'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const c = child;

    const status = () => broker.seen.filter((p) => p.topic === topics.status(STORE, NODE));
    await waitFor(() => status().some((p) => (JSON.parse(p.payload) as { cfghash?: string }).cfghash === eff.cfghash), `status with cfghash ${eff.cfghash} (stderr: ${stderr})`, 30_000);
    expect(broker.logins.filter((l) => l.clientId === `gw-${STORE}-${NODE}`)).toEqual([{ clientId: `gw-${STORE}-${NODE}`, username: NODE, password: PASSWORD }]);
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, NODE, CONFIG_FILE), 'utf8'))).toEqual(eff);

    c.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => c.once('exit', (x) => r(x)));
    expect(code).toBe(0);
    expect(status().at(-1)?.payload).toBe('{"state":"offline"}');
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeEvent, decodeStatus, topics, type GwEvent } from '../../contract/index.ts';
import { nodeEffectiveConfig } from '../../firmware-config/hash.ts';
import { loadConfig } from '../../firmware-config/load.ts';
import { createEdgeAgent, nodeCfgHash, type EdgeAgent } from '../../edge/agent.ts';
import { EdgeErrorCodes } from '../../edge/errors.ts';
import { SimDigitalInput, SimIndicator } from '../../edge/drivers/sim.ts';
import { inputKeys } from '../../edge/io.ts';
import { memoryOutbox } from '../../edge/outbox.ts';
import { createStoreSimulator } from '../../scripts/shopper-sim.ts';
import { simDriver } from '../../edge/drivers/sim.ts';
import { driverOpenError } from '../../edge/errors.ts';
import type { DriverFault, IoFactory } from '../../edge/io.ts';
import { startBroker, waitFor, type TestBroker } from '../fakes/broker.ts';
import { beamCfg, doorCfg, nodeCfg } from '../fakes/nodes.ts';

const DEMO = 'firmware-config/examples/demo-store.yaml';
const silent = pino({ level: 'silent' });
const unknownClock = () => Promise.resolve({ sync: 'unknown' as const, source: 'none' as const });

describe('edge agent', () => {
  it('reports the cfghash the hub publishes with the node config', () => {
    const cfg = loadConfig(DEMO);
    for (const node of cfg.nodes) {
      const eff = nodeEffectiveConfig(cfg, node.id);
      const a = createEdgeAgent({ store: cfg.store.id, node: eff.node, rules: eff.rules, mqttUrl: 'mqtt://127.0.0.1:1', log: silent });
      expect(a.cfghash).toBe(eff.cfghash);
    }
    // without rules: the schema defaults
    const small = nodeCfg();
    expect(nodeCfgHash('s1', small)).toBe(nodeCfgHash('s1', small, { greetWithinS: 30, warnAtS: 20 }));
    expect(nodeCfgHash('s1', small)).not.toBe(nodeCfgHash('s1', small, { greetWithinS: 45, warnAtS: 20 }));
  });

  it('needs its node config or, for a config from the hub, its node id', () => {
    expect(() => createEdgeAgent({ store: 's1', mqttUrl: 'mqtt://127.0.0.1:1', log: silent })).toThrow(expect.objectContaining({ code: EdgeErrorCodes.USAGE }));
    const a = createEdgeAgent({ store: 's1', nodeId: 'door-1', mqttUrl: 'mqtt://127.0.0.1:1', log: silent });
    // no config yet: the id with the schema defaults, nothing to open
    expect(a).toMatchObject({ cfghash: 'none', configSource: 'none', config: { id: 'door-1', sensors: [], buttons: [], statusEveryS: 60 } });
  });

  it('opens sim inputs by key once started, and a sim indicator', async () => {
    const cfg = loadConfig(DEMO);
    const door = cfg.nodes.find((n) => n.id === 'door-1')!;
    const a = createEdgeAgent({ store: 'demo', node: door, mqttUrl: 'mqtt://127.0.0.1:1', outbox: memoryOutbox(), log: silent, clockProbe: unknownClock });
    expect(a.inputs.size).toBe(0);
    expect(a.stats()).toMatchObject({ state: 'new', events: 0, pending: 0, mqtt: null });
    await a.start();
    expect([...a.inputs.keys()].sort()).toEqual(
      [inputKeys.beamOuter('front-beam'), inputKeys.beamInner('front-beam'), 'front-door', 'door-pass'].sort(),
    );
    for (const i of a.inputs.values()) expect(i).toBeInstanceOf(SimDigitalInput);
    expect(a.indicator).toBeInstanceOf(SimIndicator);
    await a.stop();
    expect(a.stats().state).toBe('stopped');
  });

  it('a gpio node on a machine without GPIO fails to start with a clear error naming driver: sim', async () => {
    const node = nodeCfg({ id: 'door-9', driver: 'gpio', sensors: [doorCfg()] });
    const a = createEdgeAgent({ store: 's1', node, mqttUrl: 'mqtt://127.0.0.1:1', outbox: memoryOutbox(), log: silent });
    await expect(a.start()).rejects.toMatchObject({
      code: EdgeErrorCodes.DRIVER_UNSUPPORTED,
      message: expect.stringMatching(/door-9[\s\S]*driver: sim/) as unknown,
    });
    expect(a.stats().state).toBe('stopped');
    await a.stop();
  });

  it('a driver that cannot open a pin: the start fails naming node and pin, and what was opened is released', async () => {
    const closed: string[] = [];
    const io: IoFactory = (node) => {
      const sim = simDriver();
      return {
        ...sim,
        input(spec) {
          if (spec.pin === 27) throw driverOpenError(node.id, `${spec.device} (${spec.role}) pin ${spec.pin}`, 'EBUSY: in use by another program');
          const i = sim.input(spec);
          return { ...i, key: i.key, read: () => i.read(), watch: (cb) => i.watch(cb), unwatch: (cb) => i.unwatch(cb), close: () => closed.push(spec.key) };
        },
        close: async () => {
          closed.push('driver');
          await sim.close();
        },
      };
    };
    const node = nodeCfg({ sensors: [beamCfg()] });
    const a = createEdgeAgent({ store: 's1', node, mqttUrl: 'mqtt://127.0.0.1:1', outbox: memoryOutbox(), io, log: silent });
    await expect(a.start()).rejects.toMatchObject({
      code: EdgeErrorCodes.DRIVER_OPEN,
      message: 'node door-1: front-beam (beam-inner) pin 27: EBUSY: in use by another program',
    });
    expect(closed).toEqual(['front-beam.outer', 'driver']);
  });

  it('board faults from the driver become greetwatch.fault.v1 events', async () => {
    let raise: ((f: DriverFault) => void) | undefined;
    const io: IoFactory = () => ({ ...simDriver(), onFault: (cb) => (raise = cb) });
    const out = memoryOutbox();
    const a = createEdgeAgent({ store: 's1', node: nodeCfg({ driver: 'firmata' }), mqttUrl: 'mqtt://127.0.0.1:1', outbox: out, io, log: silent, clockProbe: unknownClock });
    await a.start();
    raise?.({ sensor: 'board', kind: 'disconnected', detail: 'serial port closed' });
    raise?.({ sensor: 'board', kind: 'recovered' });
    expect([...out.pending()].map((e) => [e.type, e.data])).toEqual([
      ['greetwatch.fault.v1', { sensor: 'board', kind: 'disconnected', detail: 'serial port closed' }],
      ['greetwatch.fault.v1', { sensor: 'board', kind: 'recovered' }],
    ]);
    await a.stop();
  });
});

describe('edge agents with the store simulator and a real broker', () => {
  let broker: TestBroker;
  let dir: string;
  const agents: EdgeAgent[] = [];
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    broker = await startBroker();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-edge-agent-'));
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await broker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const events = (): GwEvent[] =>
    broker.seen
      .filter((p) => p.topic.endsWith('/events'))
      .map((p) => {
        const v = decodeEvent(p.payload);
        if (!v.ok) throw new Error(`${p.topic}: ${v.reason}`);
        return v.value;
      });

  it('the demo store: two agents, simulated traffic, valid events from both nodes at the broker', async () => {
    const cfg = loadConfig(DEMO);
    for (const node of cfg.nodes) {
      agents.push(createEdgeAgent({ store: cfg.store.id, node, mqttUrl: broker.url, outbox: memoryOutbox(), log: silent }));
    }
    for (const a of agents) await a.start();
    // a busy store with quick staff so the test does not wait long
    const sim = createStoreSimulator({
      agents,
      stepsLineZones: cfg.rules.stepsLineZones,
      arrivalsPerHour: 3600,
      seed: 9,
      profile: { onTimeGreetS: [0.2, 1], planWeights: { onTime: 1, late: 0, never: 0, walkout: 0 } },
    });
    sim.start();
    try {
      await waitFor(
        () => events().filter((e) => e.type === 'greetwatch.entry.v1').length >= 5 && events().some((e) => e.type === 'greetwatch.greet.v1'),
        'entries and a greet at the broker',
        20_000,
      );
    } finally {
      sim.stop();
    }
    const sources = new Set(events().map((e) => e.source));
    expect(sources).toEqual(new Set(['/stores/demo/nodes/door-1', '/stores/demo/nodes/counter-1']));
    for (const node of ['door-1', 'counter-1']) {
      const seqs = events().filter((e) => e.source.endsWith(node)).map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    }
  });

  it('the node CLI: nothing seen is lost across kill -9 while the broker is down', async () => {
    const port = broker.port;
    await broker.stop();
    const dataDir = path.join(dir, 'edge');
    const run = (extra: string[]): ChildProcess => {
      const c = spawn(
        process.execPath,
        ['--import', 'tsx', ...extra, '--config', DEMO, '--all', '--mqtt', `mqtt://127.0.0.1:${port}`, '--data-dir', dataDir, '--log-level', 'warn'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      children.push(c);
      return c;
    };
    const journal = path.join(dataDir, 'door-1', 'outbox.jsonl');
    // complete add lines (a line cut off by the kill would be skipped by the outbox too)
    const addLines = () =>
      (fs.existsSync(journal) ? fs.readFileSync(journal, 'utf8').split('\n') : []).filter((l) => {
        try {
          return 'add' in (JSON.parse(l) as object);
        } catch {
          return false;
        }
      });

    // 1. simulate a busy store with no broker: events pile up in the journal
    const first = run(['scripts/sim-node.ts', '--rate', '36000', '--seed', '5']);
    await waitFor(() => addLines().length >= 6, 'events journaled by the first process', 30_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const journaled = addLines().map((l) => (JSON.parse(l) as { add: GwEvent }).add);
    const oldBoot = journaled[0]!.bootid;

    // 2. broker back, the agent's own CLI on the same data dir (no simulation) sends them all
    await broker.restart();
    const second = run(['edge/main.ts']);
    await waitFor(() => events().filter((e) => e.bootid === oldBoot).length >= journaled.length, 'journaled events delivered', 30_000);
    const got = events().filter((e) => e.bootid === oldBoot);
    expect(got.map((e) => e.id)).toEqual(journaled.map((e) => e.id)); // all, in order, once
    expect(got.map((e) => e.seq)).toEqual(journaled.map((_, i) => i + 1));

    const status = broker.seen.filter((p) => p.topic === topics.status('demo', 'door-1')).map((p) => decodeStatus(p.payload));
    expect(status.at(-1)).toMatchObject({ ok: true, value: { state: 'online' } });
    expect(status.at(-1)?.ok && status.at(-1)).not.toMatchObject({ value: { bootid: oldBoot } });

    // 3. SIGTERM: clean stop, offline status, exit 0
    second.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => second.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    const last = broker.seen.filter((p) => p.topic === topics.status('demo', 'door-1')).at(-1);
    expect(last?.payload).toBe('{"state":"offline"}');
  });
});

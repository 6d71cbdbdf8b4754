import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../contract/errors.ts';
import { configHash, nodeEffectiveConfig } from '../../firmware-config/hash.ts';
import { loadConfig } from '../../firmware-config/load.ts';
import { CONFIG_FILE, readStoredConfig, writeStoredConfig } from '../../edge/config-store.ts';
import { SimDigitalInput, SimDistanceInput, simDriver } from '../../edge/drivers/sim.ts';
import { inputKeys, systemClock } from '../../edge/io.ts';
import { checkNodeConfig, configChange } from '../../edge/node-config.ts';
import { attachSignals, openNodeInputs, reusableInputs } from '../../edge/signals.ts';
import { beamCfg, buttonCfg, doorCfg, nodeCfg, proximityCfg, recorder } from '../fakes/nodes.ts';

// A node that takes its config from the hub (CONTRACT.md "MQTT topics", config): the check of a
// config payload, what a change re-opens, and the stored last good config. (The bootstrap file
// is tested with the config commands that write it.)

const DEMO = 'firmware-config/examples/demo-store.yaml';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-edge-config-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));


describe('checkNodeConfig', () => {
  const cfg = loadConfig(DEMO);
  const eff = nodeEffectiveConfig(cfg, 'door-1');
  const expectDoor = { store: 'demo', node: 'door-1' };
  const rehash = (body: { store: string; node: unknown; rules: unknown }) => ({ ...body, cfghash: configHash(body) });

  it('accepts what the hub publishes, as it came, with the schema defaults applied to what runs', () => {
    const r = checkNodeConfig(JSON.parse(JSON.stringify(eff)), expectDoor);
    expect(r).toMatchObject({ ok: true, config: { cfghash: eff.cfghash, rules: { greetWithinS: 30, warnAtS: 20 } } });
    if (!r.ok) return;
    expect(r.config.node).toEqual(eff.node);
    expect(r.config.received).toEqual(eff);

    // a node part without its defaults: the hash covers what came, the node runs with the defaults
    const bare = rehash({ store: 'demo', node: { id: 'door-1', sensors: [{ id: 'b', kind: 'door', pin: 4 }] }, rules: eff.rules });
    const b = checkNodeConfig(bare, expectDoor);
    expect(b.ok && b.config.node).toMatchObject({ driver: 'sim', statusEveryS: 60, sensors: [{ id: 'b', debounceMs: 50, activeLow: false }] });
    expect(b.ok && b.config.received).toEqual(bare);
  });

  it('refuses another store or node, a wrong cfghash, an invalid node or rules, and names why', () => {
    const refused = (v: unknown) => {
      const r = checkNodeConfig(v, expectDoor);
      expect(r.ok).toBe(false);
      return r.ok ? '' : r.reason;
    };
    expect(refused('hello')).toMatch(/not a node config/);
    expect(refused({ store: 'demo', node: eff.node, rules: eff.rules })).toMatch(/not a node config/);
    expect(refused(nodeEffectiveConfig(cfg, 'counter-1'))).toBe("config for node 'counter-1', this node is 'door-1'");
    expect(refused(rehash({ store: 'other', node: eff.node, rules: eff.rules }))).toBe("config for store 'other', this node belongs to store 'demo'");
    expect(refused({ ...eff, cfghash: 'aaaaaaaaaaaa' })).toBe(`cfghash aaaaaaaaaaaa does not match the config it came with (${eff.cfghash})`);
    expect(checkNodeConfig({ ...eff, cfghash: 'aaaaaaaaaaaa' }, expectDoor)).toMatchObject({ ok: false, cfghash: 'aaaaaaaaaaaa' }); // kept for the stats
    expect(refused({ ...eff, node: { ...eff.node, statusEveryS: 5 } })).toMatch(/^cfghash .* does not match/);
    expect(refused(rehash({ store: 'demo', node: { ...eff.node, sensors: [{ id: 'x', kind: 'beem-pair' }] }, rules: eff.rules }))).toMatch(/^invalid node config: node\.sensors\[0\]/);
    expect(refused(rehash({ store: 'demo', node: { ...eff.node, driver: 'arduino' }, rules: eff.rules }))).toMatch(/^invalid node config: node\.driver/);
    expect(refused(rehash({ store: 'demo', node: eff.node, rules: { greetWithinS: -1, warnAtS: 20 } }))).toMatch(/^invalid rules: rules\.greetWithinS/);
    // Value.Default would turn a mapping into the list default and pass: refused all the same
    expect(refused(rehash({ store: 'demo', node: { id: 'door-1', sensors: { a: 1 } }, rules: eff.rules }))).toMatch(/wrong type/);
  });
});

describe('what a config change re-opens', () => {
  it('the driver when driver, board, gpioChip or serialPort change; the indicator when its pins do', () => {
    const a = nodeCfg({ driver: 'gpio', sensors: [doorCfg()], indicator: { pin: 24, activeLow: false } });
    expect(configChange(a, structuredClone(a))).toEqual({ reopenDriver: false, reopenIndicator: false, changed: [] });
    expect(configChange(a, { ...a, sensors: [doorCfg({ debounceMs: 80 })] })).toEqual({ reopenDriver: false, reopenIndicator: false, changed: ['sensors'] });
    for (const over of [{ driver: 'firmata' as const }, { board: 'pi5' as const }, { gpioChip: 'gpiochip4' }, { serialPort: '/dev/ttyACM1' }]) {
      expect(configChange(a, { ...a, ...over }).reopenDriver).toBe(true);
    }
    expect(configChange(a, { ...a, indicator: { pin: 25, activeLow: false } })).toMatchObject({ reopenDriver: false, reopenIndicator: true });
    expect(configChange(a, { ...a, indicator: { pin: 24, buzzerPin: 12, activeLow: false } }).reopenIndicator).toBe(true);
    expect(configChange(null, a)).toMatchObject({ reopenDriver: true, reopenIndicator: true });
  });

  it('keeps every input whose spec is unchanged (the same objects) and opens only new or changed ones', () => {
    const driver = simDriver();
    const prev = nodeCfg({
      sensors: [beamCfg(), doorCfg(), proximityCfg({ id: 'sonar', pin: 'A0', model: 'gp2y0a21yk' })],
      buttons: [buttonCfg({ id: 'b1', pin: 6 }), buttonCfg({ id: 'b2', pin: 7 })],
    });
    const inputs = openNodeInputs(prev, driver);
    const next = nodeCfg({
      // beam: only a filter changed (kept); door: wiring changed (re-opened); sonar: model changed (re-opened)
      sensors: [beamCfg({ debounceMs: 5 }), doorCfg({ activeLow: true }), proximityCfg({ id: 'sonar', pin: 'A0', model: 'hcsr04' })],
      // b1 kept, b2 gone, b3 new
      buttons: [buttonCfg({ id: 'b1', pin: 6, holdMs: 3000 }), buttonCfg({ id: 'b3', pin: 8 })],
    });
    const { kept, stale } = reusableInputs(prev, inputs, next);
    expect([...kept.digital.keys()].sort()).toEqual(['b1', inputKeys.beamInner('front-beam'), inputKeys.beamOuter('front-beam')].sort());
    expect([...stale.digital.keys()].sort()).toEqual(['b2', 'front-door']);
    expect([...stale.distance.keys()]).toEqual(['sonar']);
    for (const i of stale.digital.values()) i.close();
    for (const i of stale.distance.values()) i.close();

    const after = openNodeInputs(next, driver, kept);
    for (const key of kept.digital.keys()) expect(after.digital.get(key)).toBe(inputs.digital.get(key));
    expect(after.digital.get('front-door')).not.toBe(inputs.digital.get('front-door'));
    expect(after.distance.get('sonar')).not.toBe(inputs.distance.get('sonar'));
    expect(after.digital.has('b3') && !after.digital.has('b2')).toBe(true);
    expect((after.digital.get('b1') as SimDigitalInput).closed).toBe(false);
    expect((inputs.digital.get('b2') as SimDigitalInput).closed).toBe(true);
  });

  it('an input that cannot open: what that call opened is closed, the reused ones are left alone', () => {
    const sim = simDriver();
    const opened: SimDigitalInput[] = [];
    const driver = {
      ...sim,
      input: (spec: Parameters<typeof sim.input>[0]) => {
        if (spec.pin === 99) throw new Error('EBUSY');
        const i = sim.input(spec) as SimDigitalInput;
        opened.push(i);
        return i;
      },
    };
    const prev = nodeCfg({ buttons: [buttonCfg({ id: 'b1', pin: 6 })] });
    const inputs = openNodeInputs(prev, driver);
    const next = nodeCfg({ buttons: [buttonCfg({ id: 'b1', pin: 6 }), buttonCfg({ id: 'b2', pin: 7 }), buttonCfg({ id: 'b3', pin: 99 })] });
    expect(() => openNodeInputs(next, driver, reusableInputs(prev, inputs, next).kept)).toThrow('EBUSY');
    expect(opened.map((i) => [i.key, i.closed])).toEqual([
      ['b1', false],
      ['b2', true],
    ]);
  });

  it('signal logic closed and attached again on the same inputs: the inputs stay open, the old logic is gone', () => {
    const node = nodeCfg({
      sensors: [proximityCfg({ id: 'sonar', model: 'hcsr04', medianOf: 1, debounceMs: 0 })],
      buttons: [buttonCfg({ id: 'b1', debounceMs: 0 })],
    });
    const sim = simDriver();
    // counts who listens to the distance sensor
    const listeners = new Set<(cm: number) => void>();
    let sonar: SimDistanceInput | undefined;
    const driver = {
      ...sim,
      distance: (spec: Parameters<typeof sim.distance>[0]) => {
        const d = sim.distance(spec) as SimDistanceInput;
        sonar = d;
        return { key: d.key, close: () => d.close(), watch: (cb: (cm: number) => void) => (listeners.add(cb), d.watch(cb)), unwatch: (cb: (cm: number) => void) => (listeners.delete(cb), d.unwatch(cb)) };
      },
    };
    const inputs = openNodeInputs(node, driver);
    const rec = recorder();
    attachSignals({ node, inputs, clock: systemClock, emit: rec.emit }).close();
    expect(listeners.size).toBe(0);
    const again = attachSignals({ node, inputs, clock: systemClock, emit: rec.emit });
    expect(listeners.size).toBe(1);
    const b1 = inputs.digital.get('b1') as SimDigitalInput;
    sonar?.set(50);
    b1.set(1);
    b1.set(0);
    // one presence and one greet: the closed logic (and its distance filter) no longer listens
    expect(rec.events.map((e) => e.type)).toEqual(['greetwatch.presence.v1', 'greetwatch.greet.v1']);
    expect(b1.closed).toBe(false);
    again.close();
  });
});

describe('the stored last good config', () => {
  const cfg = loadConfig(DEMO);
  const eff = nodeEffectiveConfig(cfg, 'counter-1');

  it('is written atomically and read back as it was', async () => {
    const nodeDir = path.join(dir, 'counter-1');
    expect(await readStoredConfig(nodeDir)).toBeNull();
    await writeStoredConfig(nodeDir, eff);
    await writeStoredConfig(nodeDir, { ...eff, cfghash: 'bbbbbbbbbbbb' }); // replaced, not appended
    expect(await readStoredConfig(nodeDir)).toEqual({ ...eff, cfghash: 'bbbbbbbbbbbb' });
    expect(fs.readdirSync(nodeDir)).toEqual([CONFIG_FILE]); // no temp file left
  });

  it('an unreadable or unwritable one is CONFIG_STORE_IO naming the file', async () => {
    fs.writeFileSync(path.join(dir, CONFIG_FILE), '{"store": ');
    await expect(readStoredConfig(dir)).rejects.toMatchObject({ code: ErrorCodes.CONFIG_STORE_IO, message: expect.stringContaining(path.join(dir, CONFIG_FILE)) as unknown });
    const notADir = path.join(dir, 'file');
    fs.writeFileSync(notADir, '');
    await expect(writeStoredConfig(notADir, eff)).rejects.toMatchObject({ code: ErrorCodes.CONFIG_STORE_IO });
  });
});

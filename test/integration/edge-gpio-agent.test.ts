import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeEvent, topics, type GwEvent } from '../../contract/index.ts';
import { createEdgeAgent, type EdgeAgent } from '../../edge/agent.ts';
import { gpioDriver } from '../../edge/drivers/gpio.ts';
import { startBroker, waitFor, type TestBroker } from '../fakes/broker.ts';
import { beamCfg, buttonCfg, doorCfg, nodeCfg } from '../fakes/nodes.ts';
import { createFakeGpio, type FakeGpio } from '../fakes/onoff-gpio.ts';

// A door node as wired in edge/deploy/WIRING.md, on the real gpio driver over the onoff fake
// and a sysfs tree like a Pi 5's, against a real aedes broker over TCP: physical levels in,
// contract events out, `cmd indicate` back to the LED, every line unexported on stop.

const BASE = 571;
let broker: TestBroker;
let dir: string;
let fake: FakeGpio;
let agent: EdgeAgent;

function pi5Sysfs(root: string): string {
  const chip = path.join(root, 'gpiochip571');
  fs.mkdirSync(chip, { recursive: true });
  fs.writeFileSync(path.join(chip, 'base'), `${BASE}\n`);
  fs.writeFileSync(path.join(chip, 'label'), 'pinctrl-rp1\n');
  fs.writeFileSync(path.join(chip, 'ngpio'), '54\n');
  fs.writeFileSync(path.join(root, 'export'), '');
  return root;
}

const events = (): GwEvent[] =>
  broker.seen
    .filter((p) => p.topic === topics.events('s1', 'door-1'))
    .map((p) => {
      const v = decodeEvent(p.payload);
      if (!v.ok) throw new Error(v.reason);
      return v.value;
    });

beforeEach(async () => {
  broker = await startBroker();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-gpio-agent-'));
  fake = createFakeGpio();
  const sysfs = pi5Sysfs(path.join(dir, 'sys'));
  // no debounce and a short hold, so the test waits for events rather than for time
  const node = nodeCfg({
    id: 'door-1',
    driver: 'gpio',
    board: 'pi5',
    sensors: [beamCfg({ outerPin: 17, innerPin: 27, activeLow: true, debounceMs: 0 }), doorCfg({ pin: 22, activeLow: true, invert: true, debounceMs: 0 })],
    buttons: [buttonCfg({ id: 'door-pass', pin: 23, activeLow: true, debounceMs: 0, holdMs: 100 })],
    indicator: { pin: 24, activeLow: false },
  });
  agent = createEdgeAgent({
    store: 's1',
    node,
    mqttUrl: broker.url,
    dataDir: path.join(dir, 'edge'),
    io: (n, o) => gpioDriver(n, { ...o, Gpio: fake.Gpio, sysfsRoot: sysfs }),
    log: pino({ level: 'silent' }),
    clockProbe: () => Promise.resolve({ sync: 'synced', source: 'chrony', offsetMs: 0.2 }),
  });
  // idle wiring before start: beams intact and the reed switch closed (open collector and NC contact to GND)
  for (const pin of [17, 27, 23]) fake.drive(BASE + pin, 1);
  fake.drive(BASE + 22, 0);
  await agent.start();
  await waitFor(() => agent.stats().mqtt?.connected === true, 'connected');
});

afterEach(async () => {
  await agent.stop();
  await broker.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('an edge node on the gpio driver', () => {
  it('turns physical levels into entry, door, greet and staffpass events at the broker', async () => {
    expect(fake.exported()).toEqual([17, 22, 23, 24, 27].map((p) => BASE + p));
    // someone walks in: the outer beam breaks (line goes low), then the inner, then both clear
    fake.drive(BASE + 22, 1); // door opens
    fake.drive(BASE + 17, 0);
    fake.drive(BASE + 27, 0);
    fake.drive(BASE + 17, 1);
    fake.drive(BASE + 27, 1);
    fake.drive(BASE + 22, 0); // and closes
    // the button: a press (greet), then a hold (staffpass)
    fake.drive(BASE + 23, 0);
    fake.drive(BASE + 23, 1);
    fake.drive(BASE + 23, 0);
    await waitFor(() => events().some((e) => e.type === 'greetwatch.staffpass.v1'), 'the hold');
    fake.drive(BASE + 23, 1);
    expect(events().map((e) => [e.type, e.data])).toEqual([
      ['greetwatch.door.v1', { sensor: 'front-door', state: 'open' }],
      ['greetwatch.entry.v1', { sensor: 'front-beam', direction: 'in' }],
      ['greetwatch.door.v1', { sensor: 'front-door', state: 'closed' }],
      ['greetwatch.greet.v1', { button: 'door-pass' }],
      ['greetwatch.staffpass.v1', { button: 'door-pass' }],
    ]);
    expect(events().map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('drives its LED from cmd indicate, reports its state in status, and unexports every line on stop', async () => {
    const hub = await mqtt.connectAsync(broker.url);
    await hub.publishAsync(topics.cmd('s1', 'door-1'), JSON.stringify({ type: 'indicate', level: 'late' }), { qos: 1 });
    await waitFor(() => fake.level(BASE + 24) === 1, 'LED lit');
    await hub.publishAsync(topics.cmd('s1', 'door-1'), JSON.stringify({ type: 'indicate', level: 'off' }), { qos: 1 });
    await waitFor(() => fake.level(BASE + 24) === 0, 'LED dark');
    await hub.endAsync();

    const status = broker.seen.filter((p) => p.topic === topics.status('s1', 'door-1')).map((p) => JSON.parse(p.payload) as Record<string, unknown>);
    expect(status[0]).toMatchObject({ state: 'online', bootid: agent.bootid, outbox: expect.any(Number) as unknown, dropped: 0, uptimeS: expect.any(Number) as unknown });

    await agent.stop();
    expect(fake.exported()).toEqual([]);
    expect(broker.seen.filter((p) => p.topic === topics.status('s1', 'door-1')).at(-1)?.payload).toBe('{"state":"offline"}');
  });
});

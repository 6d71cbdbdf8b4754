import { fork } from 'node:child_process';
import fs from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';
import pino from 'pino';
import { createEdgeAgent } from '../edge/agent.ts';
import { gpioDriver } from '../edge/drivers/gpio.ts';
import { nodeCfg, buttonCfg } from '../test/fakes/nodes.ts';
import { createFakeGpio } from '../test/fakes/onoff-gpio.ts';

// (f) The edge agent on the real gpio driver over a fake onoff `Gpio` (test/fakes/onoff-gpio.ts)
// and a real aedes broker on loopback:
//   - latency from an input edge (the fake's interrupt callback) to the event's PUBLISH at
//     the broker, for a button without debounce or hold (emitted at the edge), p50/p99;
//   - the agent's RSS in a process of its own: idle, then while an input chatters at 1 kHz
//     and is muted (sampled for `seconds`), to show that muting costs no memory growth.

export const PIN_BASE = 512;

/** a sysfs tree like a Pi 4's, for the pin-base lookup (the fake Gpio never touches it) */
export function fakeSysfs(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-sysfs-'));
  fs.mkdirSync(path.join(root, 'gpiochip512'));
  fs.writeFileSync(path.join(root, 'gpiochip512', 'base'), `${PIN_BASE}\n`);
  fs.writeFileSync(path.join(root, 'gpiochip512', 'label'), 'pinctrl-bcm2711\n');
  fs.writeFileSync(path.join(root, 'gpiochip512', 'ngpio'), '58\n');
  fs.writeFileSync(path.join(root, 'export'), '');
  return root;
}

export async function startAedes(onPublish?: (topic: string) => void): Promise<{ url: string; stop(): Promise<void> }> {
  const broker = await Aedes.createBroker();
  if (onPublish) broker.on('publish', (p) => onPublish(p.topic));
  const srv = createServer(broker.handle);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async stop() {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

export interface EdgeLatencyFigures {
  presses: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export async function measureEdgeLatency(presses = 2000): Promise<EdgeLatencyFigures> {
  const sysfs = fakeSysfs();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-bench-edge-'));
  let waiting: { t0: number; resolve: () => void } | null = null;
  const lat: number[] = [];
  const broker = await startAedes((topic) => {
    if (!topic.endsWith('/events') || !waiting) return;
    lat.push(performance.now() - waiting.t0);
    waiting.resolve();
    waiting = null;
  });
  const fake = createFakeGpio();
  // presses come back to back, far faster than a person presses: raise the chatter limit so
  // input-health does not mute the button (it would, at its default of 50 edges a second)
  const node = nodeCfg({
    id: 'counter-1',
    driver: 'gpio',
    buttons: [buttonCfg({ pin: 6, debounceMs: 0, holdAction: 'none' })],
    faults: { stuckAfterS: 1800, stuckDoorOpens: 20, chatterPerS: 1_000_000, calmS: 10 },
  });
  const agent = createEdgeAgent({
    store: 'bench',
    node,
    mqttUrl: broker.url,
    dataDir,
    io: (n, o) => gpioDriver(n, { ...o, Gpio: fake.Gpio, sysfsRoot: sysfs }),
    log: pino({ level: 'silent' }),
    clockProbe: () => Promise.resolve({ sync: 'unknown', source: 'none' }),
  });
  await agent.start();
  const line = PIN_BASE + 6;
  // the first event waits for the connection; it is not timed
  for (let i = 0; i <= presses; i++) {
    const done = new Promise<void>((resolve) => (waiting = { t0: performance.now(), resolve }));
    fake.drive(line, 1);
    fake.drive(line, 0);
    await done;
    if (i === 0) lat.length = 0;
  }
  await agent.stop();
  await broker.stop();
  fs.rmSync(sysfs, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
  lat.sort((a, b) => a - b);
  return { presses, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99), maxMs: lat.at(-1) ?? NaN };
}

export interface EdgeMemoryFigures {
  idleRssMB: number;
  chatterSeconds: number;
  chatterEdges: number;
  /** RSS samples during chatter, MB */
  rssStartMB: number;
  rssEndMB: number;
  rssMaxMB: number;
  heapStartMB: number;
  heapEndMB: number;
  muted: boolean;
}

/** runs bench/edge-rss-child.ts in its own process (RSS of the agent alone, not of the bench) */
export async function measureEdgeMemory(seconds = 60): Promise<EdgeMemoryFigures> {
  const broker = await startAedes();
  const child = fork(path.join(path.dirname(fileURLToPath(import.meta.url)), 'edge-rss-child.ts'), [broker.url, String(seconds)], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const figures = await new Promise<EdgeMemoryFigures>((resolve, reject) => {
    child.once('message', (m) => resolve(m as EdgeMemoryFigures));
    child.once('exit', (code) => reject(new Error(`edge RSS child exited ${code}`)));
  });
  await new Promise((r) => child.once('exit', r));
  await broker.stop();
  return figures;
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createEdgeAgent } from '../edge/agent.ts';
import { gpioDriver } from '../edge/drivers/gpio.ts';
import { beamCfg, buttonCfg, doorCfg, nodeCfg } from '../test/fakes/nodes.ts';
import { createFakeGpio } from '../test/fakes/onoff-gpio.ts';
import { fakeSysfs, PIN_BASE, type EdgeMemoryFigures } from './edge-agent.ts';

// Child of bench/edge-agent.ts: one door node (beam pair, door, staffpass button) on the gpio
// driver over the fake onoff Gpio, connected to the parent's broker. Reports RSS idle, then
// while the outer beam chatters at 1 kHz (muted by input-health), sampled every second.

const [url, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg ?? 60);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;

const sysfs = fakeSysfs();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-bench-rss-'));
const fake = createFakeGpio();
const node = nodeCfg({
  id: 'door-1',
  driver: 'gpio',
  sensors: [beamCfg({ outerPin: 17, innerPin: 27 }), doorCfg({ pin: 22 })],
  buttons: [buttonCfg({ id: 'door-pass', pin: 23, action: 'staffpass' })],
});
const agent = createEdgeAgent({
  store: 'bench',
  node,
  mqttUrl: url!,
  dataDir,
  io: (n, o) => gpioDriver(n, { ...o, Gpio: fake.Gpio, sysfsRoot: sysfs }),
  log: pino({ level: 'silent' }),
});
await agent.start();
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
await wait(3000); // connected and settled: idle
gc();
const idle = process.memoryUsage();

// 1 kHz chatter: one edge per millisecond, in 10 ms batches (timers do not fire every 1 ms)
let edges = 0;
let level: 0 | 1 = 0;
const line = PIN_BASE + 17;
const started = performance.now();
const chatter = setInterval(() => {
  const due = Math.floor(performance.now() - started) - edges;
  for (let i = 0; i < due; i++) {
    level = level === 1 ? 0 : 1;
    fake.drive(line, level);
    edges++;
  }
}, 10);
const rss: number[] = [];
const heap: number[] = [];
for (let s = 0; s < seconds; s++) {
  await wait(1000);
  gc();
  const m = process.memoryUsage();
  rss.push(m.rss);
  heap.push(m.heapUsed);
}
clearInterval(chatter);
const signals = agent.stats().signals['front-beam'] ?? {};
const figures: EdgeMemoryFigures = {
  idleRssMB: mb(idle.rss),
  chatterSeconds: seconds,
  chatterEdges: edges,
  rssStartMB: mb(rss[0] ?? NaN),
  rssEndMB: mb(rss.at(-1) ?? NaN),
  rssMaxMB: mb(Math.max(...rss)),
  heapStartMB: mb(heap[0] ?? NaN),
  heapEndMB: mb(heap.at(-1) ?? NaN),
  muted: (signals.chatter ?? 0) > 0,
};
await agent.stop();
fs.rmSync(sysfs, { recursive: true, force: true });
fs.rmSync(dataDir, { recursive: true, force: true });
process.send?.(figures);

import path from 'node:path';
import pino from 'pino';
import type { Clock } from '../contract/clock.ts';
import { loadConfig } from '../firmware-config/load.ts';
import { startHub } from '../hub/hub.ts';
import { fileTraceRecorder } from '../hub/trace-recorder.ts';

// Child of bench/soak.ts: the real hub (startHub, every plugin, history in the InfluxDB of the
// store file) in a process of its own, so its RSS is the hub's alone. Its clock is the one the
// parent sets over IPC (hub/hub.ts `clock`): the parent moves it to each event's receive time
// before it publishes the event, so the hub sees the store week pass. The hub's own timers
// (engine tick, health samples) run on real time and read that clock.
//
//   node --import tsx --expose-gc bench/soak-hub-child.ts <store file> <clock start ms>

/** parent → child */
export type SoakRequest =
  | { id: number; kind: 'clock'; ms: number }
  /** memory as found, then after a full GC when the child runs with --expose-gc */
  | { id: number; kind: 'sample' }
  | { id: number; kind: 'stop' };

export interface SoakMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** child → parent: `ready` once, then one reply per request (same id) */
export type SoakReply =
  | { kind: 'ready'; mqttUrl: string; httpUrl: string; pid: number }
  | { id: number; kind: 'clock'; ms: number }
  | { id: number; kind: 'sample'; ms: number; found: SoakMemory; afterGc: SoakMemory | null }
  | { id: number; kind: 'stopped' };

const [cfgFile, startArg] = process.argv.slice(2);
if (!cfgFile || !process.send) throw new Error('usage: soak-hub-child.ts <store file> <clock start ms> (started by bench/soak.ts with an IPC channel)');
const send = (r: SoakReply) => process.send?.(r);

// a clock that only moves forward: the parent's requests may be late, never back in time
let nowMs = Number(startArg);
if (!Number.isFinite(nowMs)) throw new Error(`clock start is not a number: ${startArg}`);
const clock: Clock = { now: () => nowMs };

const config = loadConfig(cfgFile);
const dataDir = path.resolve(path.dirname(cfgFile), config.hub.dataDir);
const log = pino({ name: 'hub', level: process.env.LOG_LEVEL ?? 'warn' });
const hub = await startHub({
  config,
  configFile: cfgFile,
  dataDir,
  log,
  clock,
  // the default recorder, on the same clock: trace files are pruned by hub time, not by the machine's
  recorder: fileTraceRecorder(path.join(dataDir, 'traces'), config.store.id, { keepDays: config.hub.traceDays, now: () => clock.now() }),
});

const gc = (globalThis as { gc?: () => void }).gc;
const memory = (): SoakMemory => {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
};

let stopping: Promise<void> | undefined;
const stop = (): Promise<void> => (stopping ??= hub.stop());

process.on('message', (m: SoakRequest) => {
  switch (m.kind) {
    case 'clock':
      nowMs = Math.max(nowMs, m.ms);
      send({ id: m.id, kind: 'clock', ms: nowMs });
      return;
    case 'sample': {
      const found = memory();
      let afterGc: SoakMemory | null = null;
      if (gc) {
        gc();
        afterGc = memory();
      }
      send({ id: m.id, kind: 'sample', ms: nowMs, found, afterGc });
      return;
    }
    case 'stop':
      stop().then(
        () => {
          send({ id: m.id, kind: 'stopped' });
          process.disconnect();
        },
        (err: unknown) => {
          log.error({ err }, 'hub failed to stop');
          process.exit(1);
        },
      );
      return;
  }
});
// the parent is gone (killed, crashed): stop cleanly rather than linger
process.on('disconnect', () => {
  stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});

send({ kind: 'ready', mqttUrl: hub.mqttUrl, httpUrl: hub.httpUrl, pid: process.pid });

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import mqtt from 'mqtt';
import { Value } from '@sinclair/typebox/value';
import { sourceOf, topics, type GwEvent } from '../contract/index.ts';
import { hashPassword } from '../firmware-config/passwords.ts';
import { StoreConfig } from '../firmware-config/schema.ts';
import { startHub } from '../hub/hub.ts';

// (e) The hub end to end on loopback: MQTT QoS 1 publishes from several node clients
// through the real broker, validation, trace recording (write before PUBACK) and the
// engine. Clients run in the same process as the hub, so the figures include their cost.

export interface HubIngestFigures {
  events: number;
  clients: number;
  window: number;
  eventsPerS: number;
  pubackP50Ms: number;
  pubackP99Ms: number;
  acceptedP50Ms: number;
  acceptedP99Ms: number;
  rssMB: number;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

export async function measureHubIngest(opts: { events?: number; clients?: number; window?: number } = {}): Promise<HubIngestFigures> {
  const total = opts.events ?? 20_000;
  const clients = opts.clients ?? 4;
  const window = opts.window ?? 16;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-bench-'));
  // every client logs in as its own node, as in a store (README "Security")
  const pw = 'bench-password';
  const passwordHash = await hashPassword(pw);
  const nodes = Array.from({ length: clients }, (_, i) => ({ id: `n${i}`, mqtt: { passwordHash } }));
  const cfg = Value.Default(StoreConfig, { store: { id: 'bench' }, nodes, hub: { mqtt: { port: 0 }, http: { port: 0 } } }) as StoreConfig;
  const hub = await startHub({ config: cfg, dataDir: dir, log: pino({ level: 'silent' }) });
  const sentAt = new Map<string, number>();
  const accepted: number[] = [];
  const puback: number[] = [];
  let done = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  hub.ctx.bus.on('event:accepted', ({ event }) => {
    const t = sentAt.get(event.id);
    if (t !== undefined) accepted.push(performance.now() - t);
    if (++done === total) resolveAll();
  });
  const conns = await Promise.all(Array.from({ length: clients }, (_, i) => mqtt.connectAsync(hub.mqttUrl, { clientId: `gw-bench-n${i}`, username: `n${i}`, password: pw })));
  const started = performance.now();
  await Promise.all(
    conns.map(async (c, i) => {
      const node = `n${i}`;
      const per = Math.floor(total / clients) + (i < total % clients ? 1 : 0);
      let seq = 0;
      const one = async () => {
        const s = ++seq;
        const ev = {
          specversion: '1.0',
          id: `${node}-${s}`,
          source: sourceOf('bench', node),
          type: s % 2 ? 'greetwatch.entry.v1' : 'greetwatch.greet.v1',
          time: new Date().toISOString(),
          bootid: 'bench',
          seq: s,
          data: s % 2 ? { sensor: 'beam', direction: 'in' } : { button: 'btn' },
        } as GwEvent;
        const t0 = performance.now();
        sentAt.set(ev.id, t0);
        await c.publishAsync(topics.events('bench', node), JSON.stringify(ev), { qos: 1 });
        puback.push(performance.now() - t0);
      };
      // `window` publishes in flight per client, like an edge outbox flushing
      let next = 0;
      const lanes = Array.from({ length: window }, async () => {
        while (next < per) {
          next++;
          await one();
        }
      });
      await Promise.all(lanes);
    }),
  );
  await all;
  const elapsedS = (performance.now() - started) / 1000;
  const rssMB = process.memoryUsage().rss / 1048576;
  await Promise.all(conns.map((c) => c.endAsync()));
  await hub.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  puback.sort((a, b) => a - b);
  accepted.sort((a, b) => a - b);
  return {
    events: total,
    clients,
    window,
    eventsPerS: total / elapsedS,
    pubackP50Ms: pct(puback, 50),
    pubackP99Ms: pct(puback, 99),
    acceptedP50Ms: pct(accepted, 50),
    acceptedP99Ms: pct(accepted, 99),
    rssMB,
  };
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../contract/index.ts';
import { StoreConfig } from '../../firmware-config/schema.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { fileTraceRecorder, type TraceRecorder } from '../../hub/trace-recorder.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { apiAuth, loginAs } from '../helpers/logins.ts';
import { waitFor } from '../helpers/wait.ts';
import { testStore } from '../helpers/store-config.ts';

// What `npm run fuzz` found at the hub end to end, each kept as a test (CONTRACT.md: an event
// that does not match is rejected, counted per node and reason, and never stops the hub).

let dir: string;
let hub: Hub;
let cfg: StoreConfig;
let node: mqtt.MqttClient;
let recorderThrows = false;
const errors: string[] = [];

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
let seq = 0;
const event = (extra: Record<string, unknown> = {}, raw = '') => {
  const s = ++seq;
  const text = JSON.stringify({
    specversion: '1.0',
    id: `rg-${s}`,
    source: '/stores/rg/nodes/door',
    type: 'greetwatch.door.v1',
    time: new Date().toISOString(),
    bootid: 'rg-boot',
    seq: s,
    data: { sensor: 'door', state: 'open' },
    ...extra,
  });
  return raw ? text.replace(/}$/, `,${raw}}`) : text;
};
const live = () => hub.ctx.runtime.live!.snapshot().nodes.find((n) => n.node === 'door')!;
const rejected = () => hub.ctx.metrics.rejectedFor('door');
const rejectedTotal = () => Object.values(rejected()).reduce((a, b) => a + b, 0);
const publish = (payload: string | Buffer, topic = topics.events('rg', 'door')) => node.publishAsync(topic, payload, { qos: 1 });
/** valid events published so far: /live must count exactly these (its snapshot is refreshed every tick) */
let valid = 0;
const publishValid = async (extra: Record<string, unknown> = {}) => {
  await publish(event(extra));
  valid++;
  await waitFor(() => live().events === valid, `event ${valid} counted in /live (it shows ${live().events})`);
};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-fuzzreg-'));
  cfg = await testStore({ store: { id: 'rg' }, nodes: [{ id: 'door' }] });
  const real = fileTraceRecorder(path.join(dir, 'traces'), 'rg');
  const recorder: TraceRecorder = {
    ...real,
    record(ev, recvMs, done, wire) {
      if (recorderThrows) throw new RangeError('Maximum call stack size exceeded');
      real.record(ev, recvMs, done, wire);
    },
  };
  // the hub's error lines: a bad payload must be refused by the ingest, never reach the broker's "gate failed" guard
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const line = chunk.toString('utf8');
      if (/"level":(5|6)\d/.test(line)) errors.push(line.slice(0, 300));
      cb();
    },
  });
  hub = await startHub({ config: cfg, dataDir: dir, recorder, log: pino({ level: 'info' }, sink), store: memoryVisitStore('memory'), tickMs: 50 });
  node = await mqtt.connectAsync(hub.mqttUrl, { ...loginAs(cfg, 'door'), reconnectPeriod: 0 });
});

afterAll(async () => {
  await node?.endAsync(true);
  await hub?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('fuzz regressions (hub)', () => {
  it('an event nested 5,000 levels deep is refused and counted, not lost in the gate', async () => {
    const before = rejectedTotal();
    // in data next to valid fields, and as an extension attribute: both passed the schema, then JSON.stringify
    // in the trace recorder overflowed the stack, so the event was neither accepted nor counted
    await publish(event({ data: { sensor: 'door', state: 'open', x: 0 } }).replace('"x":0', `"x":${deep(5000)}`));
    await publish(event({}, `"x":${deep(5000)}`));
    expect(rejectedTotal() - before).toBe(2);
    expect(rejected()['GW_ERR_EVENT_JSON']).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual([]);
    // the node goes on as before
    await publishValid();
  });

  it('a status with a deeply nested extra never reaches /live or the stream', async () => {
    // it did: /live answered 500, and a dashboard's open stream threw in its timer and took the hub down
    const stream = await fetch(`${hub.httpUrl}/api/stores/rg/stream`, { headers: apiAuth });
    const reader = stream.body!.getReader();
    const messages = async (n: number) => {
      let seen = 0;
      while (seen < n) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        seen += (Buffer.from(value).toString('utf8').match(/event: live/g) ?? []).length;
      }
    };
    try {
      await messages(1);
      const before = rejectedTotal();
      const online = JSON.stringify({ state: 'online', bootid: 'b', fw: 'f', cfghash: 'h', time: new Date().toISOString(), clock: { sync: 'synced', source: 'chrony', x: 0 } });
      await publish(online.replace('"x":0', `"x":${deep(5000)}`), topics.status('rg', 'door'));
      expect(rejectedTotal() - before).toBe(1);
      const r = await fetch(`${hub.httpUrl}/api/stores/rg/live`, { headers: apiAuth });
      expect(r.status).toBe(200);
      await messages(3); // the stream goes on
    } finally {
      await reader.cancel();
    }
  });

  it("senttime far from the hub clock is refused and leaves the node's clock offset alone", async () => {
    await publishValid();
    const offset = live().offsetMs!;
    const before = rejected()['GW_ERR_EVENT_TIME'] ?? 0;
    // time is fine; senttime (which feeds the clock estimate) is ten years ahead, or in year 1
    await publish(event({ senttime: new Date(Date.now() + 10 * 365 * 86_400_000).toISOString() }));
    await publish(event({ senttime: '0001-01-01T00:00:00Z' }));
    expect((rejected()['GW_ERR_EVENT_TIME'] ?? 0) - before).toBe(2);
    await publishValid();
    expect(Math.abs(live().offsetMs! - offset)).toBeLessThan(60_000);
  });

  it('bytes that are not UTF-8 are refused, not replaced', async () => {
    const before = rejected()['GW_ERR_EVENT_JSON'] ?? 0;
    const text = Buffer.from(event());
    const at = text.indexOf('rg-') + 3;
    await publish(Buffer.concat([text.subarray(0, at), Buffer.from([0xff, 0xfe]), text.subarray(at)]));
    expect((rejected()['GW_ERR_EVENT_JSON'] ?? 0) - before).toBe(1);
    await publishValid(); // and only the valid one after it counts
  });

  it('an event the trace cannot record is refused, counted and acknowledged', async () => {
    const before = rejectedTotal();
    recorderThrows = true;
    try {
      await publish(event());
    } finally {
      recorderThrows = false;
    }
    expect(rejectedTotal() - before).toBe(1);
    expect(errors).toEqual([]);
    await publishValid();
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceOf, topics } from '../../contract/index.ts';
import { hashPassword } from '../../firmware-config/passwords.ts';
import { StoreConfig } from '../../firmware-config/schema.ts';
import { replayTrace } from '../../hub/engine/replay.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { password } from '../helpers/logins.ts';
import { testStore } from '../helpers/store-config.ts';
import { waitFor } from '../helpers/wait.ts';
import { noonZone } from '../helpers/noon-zone.ts';

// README "Zigbee2MQTT buttons": Zigbee2MQTT logs in to the hub's broker and publishes what
// its real devices send (an Aqara WXKG11LM's `single` and `hold`, the `{"action":""}` that
// follows, bridge and availability messages, battery reports); the hub makes greet and
// staffpass events of the mapped ones, from its own node, through the same validation,
// counting and trace as any node's, and a replay of that trace gives the same report.

let hub: Hub;
let dir: string;
let cfg: StoreConfig;
let door: mqtt.MqttClient;
let z2m: mqtt.MqttClient;
const base = Math.floor(Date.now() / 1000) * 1000;
let offsetMs = 0;
const live = () => hub.ctx.runtime.live!.snapshot();

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-z2m-'));
  cfg = await testStore({
    store: { id: 'zb', timezone: noonZone(base) },
    rules: { warnAtS: 10, greetWithinS: 20, groupWindowS: 1, reorderS: 0.2 },
    staff: [{ id: 'anna' }],
    nodes: [{ id: 'door', sensors: [{ id: 'beam', kind: 'beam-pair', outerPin: 1, innerPin: 2 }] }],
    integrations: {
      zigbee2mqtt: {
        mqtt: { passwordHash: await hashPassword('z2m-secret') },
        buttons: [
          { friendlyName: 'Till button', id: 'till' },
          { friendlyName: 'Anna fob', id: 'fob-anna', staff: 'anna', actions: { single: 'greet', hold: 'staffpass' } },
        ],
      },
    },
  });
  hub = await startHub({ config: cfg, dataDir: dir, clock: { now: () => base + offsetMs }, log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), tickMs: 20 });
  door = await mqtt.connectAsync(hub.mqttUrl, { username: 'door', password: password('door'), reconnectPeriod: 0 });
  z2m = await mqtt.connectAsync(hub.mqttUrl, { username: 'zigbee2mqtt', password: 'z2m-secret', clientId: 'mqttjs_z2m', reconnectPeriod: 0 });
});

afterAll(async () => {
  await door?.endAsync();
  await z2m?.endAsync();
  await hub?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
async function walkIn(): Promise<void> {
  seq++;
  const t = new Date(base + offsetMs).toISOString();
  const ev = { specversion: '1.0', id: `in${seq}`, source: sourceOf('zb', 'door'), type: 'greetwatch.entry.v1', time: t, senttime: t, bootid: 'b', seq, data: { sensor: 'beam', direction: 'in' } };
  await door.publishAsync(topics.events('zb', 'door'), JSON.stringify(ev), { qos: 1 });
}
const press = (name: string, state: Record<string, unknown>) => z2m.publishAsync(`zigbee2mqtt/${name}`, JSON.stringify(state), { qos: 1 });

describe('Zigbee2MQTT buttons', () => {
  it('greets a waiting party with a mapped button press, and ignores what is not a press', async () => {
    await z2m.publishAsync('zigbee2mqtt/bridge/state', '{"state":"online"}', { qos: 1, retain: true });
    await z2m.publishAsync('zigbee2mqtt/Till button/availability', '{"state":"online"}', { qos: 1, retain: true });
    await press('Till button', { battery: 97, linkquality: 134, voltage: 3000 });
    await walkIn();
    await waitFor(() => live().open.length === 1, 'a party waiting');
    offsetMs += 5000;
    await press('Till button', { action: 'single', battery: 97, linkquality: 134, voltage: 3000, device_temperature: 24 });
    await press('Till button', { action: '', battery: 97, linkquality: 134, voltage: 3000, device_temperature: 24 });
    await waitFor(() => live().open.length === 0, 'the party greeted');
    const zb = live().nodes.find((n) => n.node === 'zigbee');
    expect(zb).toMatchObject({ events: 1, rejected: {} });
  });

  it('records the presses in the trace as events of the hub-side node, and a replay gives the same report', async () => {
    // Anna's fob: a hold is a staffpass (her own crossing follows), a single a greet with her id
    offsetMs += 10_000;
    await press('Anna fob', { action: 'hold', battery: 100, linkquality: 90 });
    await walkIn(); // Anna walking in: not a customer
    offsetMs += 15_000;
    await walkIn();
    await waitFor(() => live().open.length === 1, 'a customer waiting');
    offsetMs += 3000;
    await press('Anna fob', { action: 'single', battery: 100, linkquality: 90 });
    await waitFor(() => live().open.length === 0, 'greeted by Anna');
    offsetMs += 60_000;
    await waitFor(() => live().today.visits === 2, 'both visits final');
    expect(live().today.byStaff).toEqual({ anna: { greets: 1, met: 1, asgS: 3 } });

    const lines = hub.ctx.recorder.files().flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean));
    const z = lines.map((l) => JSON.parse(l) as { source: string; type: string; data: Record<string, unknown>; seq: number }).filter((e) => e.source === sourceOf('zb', 'zigbee'));
    expect(z.map((e) => [e.type, e.data, e.seq])).toEqual([
      ['greetwatch.greet.v1', { button: 'till' }, 1],
      ['greetwatch.staffpass.v1', { button: 'fob-anna', staff: 'anna' }, 2],
      ['greetwatch.greet.v1', { button: 'fob-anna', staff: 'anna' }, 3],
    ]);
    const r = replayTrace(lines, cfg).report;
    expect({ visits: r.visits, met: r.met, byStaff: r.byStaff }).toEqual({ visits: live().today.visits, met: live().today.met, byStaff: live().today.byStaff });
  });

  it('counts a device or an action the store file does not map, and lets Zigbee2MQTT publish nowhere else', async () => {
    await press('Kitchen switch', { action: 'single' });
    await press('Till button', { action: 'double' });
    await z2m.publishAsync('zigbee2mqtt/Till button', 'not json', { qos: 1 });
    await waitFor(() => (live().nodes.find((n) => n.node === 'zigbee')?.rejected.GW_ERR_UNKNOWN_DEVICE ?? 0) === 2, 'two unmapped presses counted');
    await waitFor(() => live().nodes.find((n) => n.node === 'zigbee')?.rejected.GW_ERR_EVENT_JSON === 1, 'the bad payload counted');
    const refusedBefore = hub.ctx.metrics.refusedPublishes;
    await z2m.publishAsync(topics.events('zb', 'door'), '{}', { qos: 0 });
    await waitFor(() => hub.ctx.metrics.refusedPublishes === refusedBefore + 1, 'a publish outside its base topic refused');
  });
});

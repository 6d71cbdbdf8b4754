import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Value } from '@sinclair/typebox/value';
import { createEdgeAgent, type EdgeAgent } from '../../edge/agent.ts';
import { asSimInput, type SimIndicator } from '../../edge/drivers/sim.ts';
import { inputKeys } from '../../edge/io.ts';
import { StoreConfig, type Rules } from '../../firmware-config/schema.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import type { VisitStore } from '../../hub/visit-store.ts';
import { password } from './logins.ts';
import { noonZone } from './noon-zone.ts';
import { waitFor } from './wait.ts';
import { testStore } from './store-config.ts';

// A small real store for integration and browser tests: a hub on free ports and
// two simulated edge nodes (entrance beam pair; counter button with an indicator)
// talking to it over real TCP.

export interface Rig {
  /** the running hub (a new one after restartHub) */
  readonly hub: Hub;
  cfg: StoreConfig;
  door: EdgeAgent;
  counter: EdgeAgent;
  dir: string;
  /** one person crosses the beam pair inward (outer then inner) */
  walkIn(): Promise<void>;
  walkOut(): Promise<void>;
  /** the counter's greet button */
  greet(): Promise<void>;
  indicator(): SimIndicator;
  /** stops the hub only: the edge nodes keep running and retry (a hub that crashed or was switched off) */
  stopHub(): Promise<void>;
  /** a new hub with the same config and data folder on the same HTTP and MQTT ports, so screens and nodes find it again */
  restartHub(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `snapshotMs`: how often live streams get a full snapshot (default 100 ms; deltas come as they
 * happen). `storeName`: store.name (the floor view shows it). An injected `store` is handed to a
 * restarted hub again, closed or not. `users`: dashboard logins besides the reader (test/helpers/logins.ts userLogin).
 * `timezone`: the store's zone; by default one where the rig starts near noon (test/helpers/noon-zone.ts),
 * so a test that reads today's figures on the real clock never sees its day end.
 */
export async function startRig(
  opts: { rules?: Partial<Rules>; store?: VisitStore; tickMs?: number; snapshotMs?: number; storeName?: string; timezone?: string; users?: StoreConfig['users'] } = {},
): Promise<Rig> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-rig-'));
  const raw = {
    store: { id: 'rig', timezone: opts.timezone ?? noonZone(), ...(opts.storeName !== undefined ? { name: opts.storeName } : {}) },
    rules: { greetWithinS: 2, warnAtS: 1, groupWindowS: 0.3, greetLeadS: 0.2, reorderS: 0.3, ...opts.rules },
    staff: [{ id: 'anna' }],
    nodes: [
      // no debounce: a crossing or a press made by set() calls is read at once, so the rig waits for
      // the events it causes instead of for time
      // a floor PIR in zone 'mid', so a rig's rules may put 'mid' on the steps line
      { id: 'door', driver: 'sim', sensors: [{ id: 'beam', kind: 'beam-pair', outerPin: 1, innerPin: 2, debounceMs: 0 }, { id: 'pir', kind: 'pir', pin: 3, zone: 'mid' }] },
      { id: 'counter', driver: 'sim', buttons: [{ id: 'fob', kind: 'fob', action: 'greet', staff: 'anna', debounceMs: 0 }], indicator: {} },
    ],
    hub: { mqtt: { port: 0 }, http: { port: 0 } },
  };
  const withReader = await testStore(raw);
  const cfg: StoreConfig = { ...withReader, users: [...withReader.users, ...(opts.users ?? [])] };
  if (!Value.Check(StoreConfig, cfg)) throw new Error('rig config invalid');
  const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
  const launch = (config: StoreConfig) =>
    startHub({ config, dataDir: path.join(dir, 'hub'), log, tickMs: opts.tickMs ?? 50, snapshotMs: opts.snapshotMs ?? 100, ...(opts.store ? { store: opts.store } : {}) });
  let hub = await launch(cfg);
  let hubRunning = true;
  /** the ports the first hub got (port 0 = any free one): a restarted hub takes the same */
  const ports = { http: hub.ctx.runtime.httpPort!, mqtt: hub.ctx.runtime.mqttPort! };
  const agent = (i: number) =>
    createEdgeAgent({
      store: cfg.store.id,
      node: cfg.nodes[i]!,
      rules: { greetWithinS: cfg.rules.greetWithinS, warnAtS: cfg.rules.warnAtS },
      mqttUrl: hub.mqttUrl,
      dataDir: path.join(dir, 'edge', cfg.nodes[i]!.id),
      login: { username: cfg.nodes[i]!.id, password: password(cfg.nodes[i]!.id) },
      log,
    });
  const door = agent(0);
  const counter = agent(1);
  await door.start();
  await counter.start();
  const outer = asSimInput(door.inputs.get(inputKeys.beamOuter('beam')), 'door');
  const inner = asSimInput(door.inputs.get(inputKeys.beamInner('beam')), 'door');
  const fob = asSimInput(counter.inputs.get(inputKeys.button('fob')), 'counter');
  /** resolves once the node has built `n` more events and the broker acknowledged all of them */
  const sent = (agent: EdgeAgent, n: number) => {
    const target = agent.stats().events + n;
    return () => waitFor(() => agent.stats().events >= target && agent.stats().pending === 0, `${agent.config.id}: ${n} event(s) acknowledged`);
  };
  const cross = async (first: typeof outer, second: typeof outer) => {
    const done = sent(door, 1);
    first.set(1);
    second.set(1);
    first.set(0);
    second.set(0);
    await done();
  };
  const stopHub = async () => {
    if (!hubRunning) return;
    hubRunning = false;
    await hub.stop();
  };
  return {
    get hub() {
      return hub;
    },
    cfg,
    door,
    counter,
    dir,
    walkIn: () => cross(outer, inner),
    walkOut: () => cross(inner, outer),
    async greet() {
      const done = sent(counter, 1);
      fob.set(1);
      fob.set(0);
      await done();
    },
    indicator: () => counter.indicator as SimIndicator,
    stopHub,
    async restartHub() {
      await stopHub();
      hub = await launch({ ...cfg, hub: { ...cfg.hub, http: { ...cfg.hub.http, port: ports.http }, mqtt: { ...cfg.hub.mqtt, port: ports.mqtt } } });
      hubRunning = true;
    },
    async stop() {
      await door.stop();
      await counter.stop();
      await stopHub();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

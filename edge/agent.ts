import * as path from 'node:path';
import { pino, type Logger } from 'pino';
import { Value } from '@sinclair/typebox/value';
import type { ClockSync } from '../contract/index.ts';
import { configHash, type NodeRules } from '../firmware-config/hash.ts';
import { Rules, type Node as NodeConfig } from '../firmware-config/schema.ts';
import { probeClock } from './clock-state.ts';
import { defaultIoFactory } from './drivers/index.ts';
import { createEnvelopeFactory, type Emit } from './envelope.ts';
import { driverOpenError, EdgeError } from './errors.ts';
import { systemClock, type Clock, type DigitalInput, type DistanceInput, type Indicator, type IoDriver, type IoFactory } from './io.ts';
import { openFileOutbox, type Outbox } from './outbox.ts';
import { createPublisher, type PublisherOptions, type PublisherStats } from './publisher.ts';
import { attachSignals, openNodeInputs, type NodeInputs, type NodeSignals, type SignalStats } from './signals.ts';

// One edge node: driver → inputs → signal logic → CloudEvents → durable outbox → MQTT.
// Everything is created per agent (no module-level state), so several agents can run in
// one process (demo, tests).

export type PublisherTuning = Pick<
  PublisherOptions,
  'clientId' | 'window' | 'reconnectPeriodMs' | 'connectTimeoutMs' | 'keepaliveS' | 'stopTimeoutMs'
>;

export interface EdgeAgentOptions {
  store: string;
  node: NodeConfig;
  /** the store rules the node's config carries (greetWithinS, warnAtS); default: the schema defaults.
   *  Only used for cfghash, which must equal nodeEffectiveConfig(cfg, node).cfghash (firmware-config/hash.ts). */
  rules?: NodeRules;
  mqttUrl: string;
  /** where this node's outbox journal lives (default .data/edge/{store}-{node}); unused when `outbox` is given */
  dataDir?: string;
  /** injected outbox (e.g. memoryOutbox() in tests); the agent does not close an injected one */
  outbox?: Outbox;
  /** driver factory (default: the node's `driver`: sim, gpio via onoff, firmata via johnny-five) */
  io?: IoFactory;
  /** firmware version reported in the online status */
  fw?: string;
  log?: Logger;
  clock?: Clock;
  /** reads the clock's NTP state for the status (default: chronyc, then timedatectl) */
  clockProbe?: () => Promise<ClockSync>;
  mqtt?: PublisherTuning;
}

export interface EdgeAgentStats {
  store: string;
  node: string;
  bootid: string;
  cfghash: string;
  state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped';
  /** events built and put in the outbox this boot (= last seq) */
  events: number;
  /** events the contract validator refused (bugs), outbox write failures */
  buildErrors: number;
  outboxErrors: number;
  /** events waiting for a PUBACK */
  pending: number;
  /** events the full outbox dropped, oldest first */
  dropped: number;
  mqtt: PublisherStats | null;
  signals: SignalStats;
}

export interface EdgeAgent {
  readonly store: string;
  readonly config: NodeConfig;
  readonly bootid: string;
  readonly cfghash: string;
  /** the node's digital inputs by inputKeys (SimDigitalInput for driver: sim); empty until start() resolved */
  readonly inputs: ReadonlyMap<string, DigitalInput>;
  /** the node's distance sensors by inputKeys.sensor; empty until start() resolved */
  readonly distances: ReadonlyMap<string, DistanceInput>;
  /** the node's indicator (SimIndicator for driver: sim); null until start() resolved */
  readonly indicator: Indicator | null;
  /** opens the driver (waits for a board's ready), the outbox and the inputs, then connects;
   *  resolves without waiting for the broker; rejects with DRIVER_OPEN / DRIVER_UNSUPPORTED / OUTBOX_IO */
  start(): Promise<void>;
  /** stops watching inputs, publishes offline status, ends the MQTT client, releases the pins and its own outbox */
  stop(): Promise<void>;
  stats(): EdgeAgentStats;
}

/**
 * cfghash of the online status (CONTRACT.md "MQTT topics"): the same hash the hub puts on the
 * retained `config` topic, i.e. configHash({store, node, rules: {greetWithinS, warnAtS}}).
 */
export function nodeCfgHash(store: string, node: NodeConfig, rules?: NodeRules): string {
  const all = rules ?? (Value.Default(Rules, {}) as Rules);
  const { mqtt: _login, ...withoutLogin } = node; // as nodeEffectiveConfig: the login is not part of the hash
  return configHash({ store, node: withoutLogin, rules: { greetWithinS: all.greetWithinS, warnAtS: all.warnAtS } });
}

export function createEdgeAgent(opts: EdgeAgentOptions): EdgeAgent {
  const { store, node } = opts;
  const clock = opts.clock ?? systemClock;
  const root = opts.log ?? pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const log = root.child({ name: 'edge:agent', store, node: node.id });
  const cfghash = nodeCfgHash(store, node, opts.rules);
  const envelopes = createEnvelopeFactory({ store, node: node.id });
  const startedAt = clock.now();

  let state: EdgeAgentStats['state'] = 'new';
  let driver: IoDriver | null = null;
  let inputs: NodeInputs = { digital: new Map(), distance: new Map() };
  let indicator: Indicator | null = null;
  let outbox: Outbox | null = null;
  let signals: NodeSignals | null = null;
  let publisher: ReturnType<typeof createPublisher> | null = null;
  let clockState: ClockSync = { sync: 'unknown', source: 'none' };
  let clockTimer: ReturnType<typeof setInterval> | undefined;
  let buildErrors = 0;
  let outboxErrors = 0;
  let starting: Promise<void> | null = null;

  const emit: Emit = (type, data, atMs) => {
    if (state !== 'running' || !outbox) return; // stop(): publish nothing more
    let event;
    try {
      event = envelopes.build(type, data, atMs);
    } catch (err) {
      buildErrors++;
      log.error({ err: (err as Error).message, type }, 'event not built');
      return;
    }
    try {
      outbox.add(event);
    } catch (err) {
      // the event stays in memory and is still sent while this process lives
      outboxErrors++;
      log.error({ err: (err as Error).message, id: event.id }, 'outbox write failed');
    }
    log.debug({ type, seq: event.seq, time: event.time, data }, 'event');
    publisher?.kick();
  };

  const refreshClock = (): void => {
    (opts.clockProbe ?? probeClock)().then(
      (s) => {
        clockState = s;
      },
      (err: unknown) => log.debug({ err: (err as Error).message }, 'clock probe failed'),
    );
  };

  /** releases what start() opened so far; never throws */
  const release = async (): Promise<void> => {
    if (clockTimer !== undefined) clearInterval(clockTimer);
    clockTimer = undefined;
    signals?.close();
    signals = null;
    indicator?.close();
    try {
      await driver?.close();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'driver did not close cleanly');
    }
    if (!opts.outbox) outbox?.close();
  };

  async function startNow(): Promise<void> {
    try {
      driver = (opts.io ?? defaultIoFactory)(node, { log: root });
      try {
        await driver.open();
      } catch (err) {
        throw err instanceof EdgeError ? err : driverOpenError(node.id, `driver ${node.driver}`, (err as Error).message, err);
      }
      inputs = openNodeInputs(node, driver);
      indicator = driver.indicator(node.indicator);
      outbox =
        opts.outbox ??
        (await openFileOutbox(opts.dataDir ?? path.join('.data', 'edge', `${store}-${node.id}`), {
          store,
          node: node.id,
          maxEvents: node.outboxMax,
          log: root.child({ name: 'edge:outbox', node: node.id }),
        }));
    } catch (err) {
      state = 'stopped';
      await release();
      log.error({ err: (err as Error).message, code: (err as EdgeError).code }, 'edge agent could not start');
      throw err;
    }
    const out = outbox;
    const ind = indicator;
    state = 'running';
    signals = attachSignals({ node, inputs, clock, emit, log: root.child({ name: 'edge:signals', node: node.id }) });
    driver.onFault((f) => {
      log.warn({ sensor: f.sensor, kind: f.kind, detail: f.detail }, 'board fault');
      emit('greetwatch.fault.v1', f.detail === undefined ? { sensor: f.sensor, kind: f.kind } : { sensor: f.sensor, kind: f.kind, detail: f.detail }, clock.now());
    });
    refreshClock();
    clockTimer = setInterval(refreshClock, node.statusEveryS * 1000);
    clockTimer.unref();
    publisher = createPublisher({
      ...opts.mqtt,
      store,
      node: node.id,
      url: opts.mqttUrl,
      outbox: out,
      indicator: ind,
      clock,
      status: { bootid: envelopes.bootid, fw: opts.fw ?? 'dev', cfghash },
      statusExtras: () => ({
        uptimeS: Math.round((clock.now() - startedAt) / 1000),
        outbox: out.size(),
        dropped: out.dropped(),
        clock: clockState,
      }),
      statusEveryMs: node.statusEveryS * 1000,
      log: root.child({ name: 'edge:publisher', node: node.id }),
    });
    publisher.start();
    log.info({ bootid: envelopes.bootid, cfghash, driver: driver.kind, pending: out.size(), mqtt: opts.mqttUrl }, 'edge agent started');
  }

  return {
    store,
    config: node,
    bootid: envelopes.bootid,
    cfghash,
    get inputs() {
      return inputs.digital;
    },
    get distances() {
      return inputs.distance;
    },
    get indicator() {
      return indicator;
    },
    start() {
      if (state !== 'new') return Promise.reject(new Error(`edge agent ${node.id}: start() called twice`));
      state = 'starting';
      starting = startNow();
      return starting;
    },
    async stop() {
      // a SIGTERM while a board is still opening: let the open finish or fail, then release
      if (state === 'starting') await starting?.catch(() => undefined);
      if (state === 'new') {
        state = 'stopped';
        return;
      }
      if (state !== 'running') return;
      state = 'stopping';
      signals?.close();
      signals = null;
      await publisher?.stop();
      await release();
      state = 'stopped';
      log.info({ events: envelopes.lastSeq(), pending: outbox?.size() ?? 0 }, 'edge agent stopped');
    },
    stats: () => ({
      store,
      node: node.id,
      bootid: envelopes.bootid,
      cfghash,
      state,
      events: envelopes.lastSeq(),
      buildErrors,
      outboxErrors,
      pending: outbox?.size() ?? 0,
      dropped: outbox?.dropped() ?? 0,
      mqtt: publisher?.stats() ?? null,
      signals: signals?.stats() ?? {},
    }),
  };
}

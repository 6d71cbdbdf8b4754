import * as path from 'node:path';
import { pino, type Logger } from 'pino';
import { Value } from '@sinclair/typebox/value';
import { configHash, type NodeRules } from '../firmware-config/hash.ts';
import { Rules, type Node as NodeConfig } from '../firmware-config/schema.ts';
import { createEnvelopeFactory, type Emit } from './envelope.ts';
import { defaultIoFactory, systemClock, type Clock, type DigitalInput, type Indicator, type IoFactory } from './io.ts';
import { fileOutbox, type Outbox } from './outbox.ts';
import { createPublisher, type PublisherOptions, type PublisherStats } from './publisher.ts';
import { attachSignals, openNodeInputs, type NodeSignals, type SignalStats } from './signals.ts';

// One edge node: inputs → signal logic → CloudEvents → durable outbox → MQTT.
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
  /** where the outbox journal lives (default .data/edge/{store}-{node}); unused when `outbox` is given */
  dataDir?: string;
  /** injected outbox (e.g. memoryOutbox() in tests); the agent does not close an injected one */
  outbox?: Outbox;
  /** driver factory (default: sim works, gpio/firmata throw GW_ERR_DRIVER_UNSUPPORTED) */
  io?: IoFactory;
  /** firmware version reported in the online status */
  fw?: string;
  log?: Logger;
  clock?: Clock;
  mqtt?: PublisherTuning;
}

export interface EdgeAgentStats {
  store: string;
  node: string;
  bootid: string;
  cfghash: string;
  state: 'new' | 'running' | 'stopping' | 'stopped';
  /** events built and put in the outbox this boot (= last seq) */
  events: number;
  /** events the contract validator refused (bugs), outbox write failures */
  buildErrors: number;
  outboxErrors: number;
  /** events waiting for a PUBACK */
  pending: number;
  mqtt: PublisherStats | null;
  signals: SignalStats;
}

export interface EdgeAgent {
  readonly store: string;
  readonly config: NodeConfig;
  readonly bootid: string;
  readonly cfghash: string;
  /** the node's inputs by inputKeys (SimDigitalInput for driver: sim), open from creation on */
  readonly inputs: ReadonlyMap<string, DigitalInput>;
  /** the node's indicator (SimIndicator for driver: sim) */
  readonly indicator: Indicator;
  /** opens the outbox, starts watching inputs and connects; resolves without waiting for the broker */
  start(): Promise<void>;
  /** stops watching inputs, publishes offline status, ends the MQTT client, closes inputs and its own outbox */
  stop(): Promise<void>;
  stats(): EdgeAgentStats;
}

/**
 * cfghash of the online status (CONTRACT.md "MQTT topics"): the same hash the hub puts on the
 * retained `config` topic, i.e. configHash({store, node, rules: {greetWithinS, warnAtS}}).
 */
export function nodeCfgHash(store: string, node: NodeConfig, rules?: NodeRules): string {
  const all = rules ?? (Value.Default(Rules, {}) as Rules);
  return configHash({ store, node, rules: { greetWithinS: all.greetWithinS, warnAtS: all.warnAtS } });
}

export function createEdgeAgent(opts: EdgeAgentOptions): EdgeAgent {
  const { store, node } = opts;
  const clock = opts.clock ?? systemClock;
  const root = opts.log ?? pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const log = root.child({ name: 'edge:agent', store, node: node.id });
  const cfghash = nodeCfgHash(store, node, opts.rules);
  const envelopes = createEnvelopeFactory({ store, node: node.id });

  // inputs exist from creation on so a simulator can hold them before start(); gpio/firmata throw here
  const driver = (opts.io ?? defaultIoFactory)(node);
  const inputs = openNodeInputs(node, driver);
  const indicator = driver.indicator(node.indicator);

  let state: EdgeAgentStats['state'] = 'new';
  let outbox: Outbox | null = null;
  let signals: NodeSignals | null = null;
  let publisher: ReturnType<typeof createPublisher> | null = null;
  let buildErrors = 0;
  let outboxErrors = 0;

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

  return {
    store,
    config: node,
    bootid: envelopes.bootid,
    cfghash,
    inputs,
    indicator,
    async start() {
      if (state !== 'new') throw new Error(`edge agent ${node.id}: start() called twice`);
      outbox =
        opts.outbox ??
        fileOutbox(opts.dataDir ?? path.join('.data', 'edge', `${store}-${node.id}`), {
          log: root.child({ name: 'edge:outbox', node: node.id }),
        });
      signals = attachSignals({ node, inputs, clock, emit, log: root.child({ name: 'edge:signals', node: node.id }) });
      publisher = createPublisher({
        ...opts.mqtt,
        store,
        node: node.id,
        url: opts.mqttUrl,
        outbox,
        indicator,
        clock,
        status: { bootid: envelopes.bootid, fw: opts.fw ?? 'dev', cfghash },
        log: root.child({ name: 'edge:publisher', node: node.id }),
      });
      state = 'running';
      publisher.start();
      log.info({ bootid: envelopes.bootid, cfghash, driver: driver.kind, pending: outbox.size(), mqtt: opts.mqttUrl }, 'edge agent started');
    },
    async stop() {
      if (state !== 'running') {
        if (state === 'new') {
          state = 'stopped';
          driver.close();
        }
        return;
      }
      state = 'stopping';
      signals?.close();
      await publisher?.stop();
      driver.close();
      if (!opts.outbox) outbox?.close();
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
      mqtt: publisher?.stats() ?? null,
      signals: signals?.stats() ?? {},
    }),
  };
}

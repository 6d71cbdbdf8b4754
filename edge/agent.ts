import * as path from 'node:path';
import { pino, type Logger } from 'pino';
import { Value } from '@sinclair/typebox/value';
import { ErrorCodes, GwError, type ErrorCode } from '../contract/errors.ts';
import { redactUrl, topics, type ClockSync, type IndicatorLevel } from '../contract/index.ts';
import { configHash, type NodeRules } from '../firmware-config/hash.ts';
import { Node as NodeSchema, Rules, type Node as NodeConfig } from '../firmware-config/schema.ts';
import { probeClock } from './clock-state.ts';
import { CONFIG_FILE, readStoredConfig, writeStoredConfig } from './config-store.ts';
import { defaultIoFactory } from './drivers/index.ts';
import { createEnvelopeFactory, type Emit } from './envelope.ts';
import { driverOpenError, EdgeError, EdgeErrorCodes } from './errors.ts';
import { systemClock, type Clock, type DigitalInput, type DistanceInput, type Indicator, type IoDriver, type IoFactory } from './io.ts';
import { checkNodeConfig, configChange, type AcceptedNodeConfig, type ConfigChange } from './node-config.ts';
import { openFileOutbox, type Outbox } from './outbox.ts';
import { createPublisher, type ConfigMessage, type Publisher, type PublisherOptions, type PublisherStats } from './publisher.ts';
import { attachSignals, closeInputs, openNodeInputs, reusableInputs, type NodeInputs, type NodeSignals, type SignalStats } from './signals.ts';

// One edge node: driver → inputs → signal logic → CloudEvents → durable outbox → MQTT.
// Everything is created per agent (no module-level state), so several agents can run in
// one process (demo, tests).
//
// Where the node's config comes from (README "Configuration"):
// - `node` given (the store file, --config): runs it; the hub's config is only compared;
// - otherwise from the hub's retained config topic (CONTRACT.md "MQTT topics"), checked, then
//   applied in place: same process, bootid, seq, MQTT connection and outbox; only the driver
//   parts that changed are re-opened. The last good one is kept in <dataDir>/config.json and
//   runs at once on the next start, broker or not.

export type PublisherTuning = Pick<
  PublisherOptions,
  'clientId' | 'window' | 'reconnectPeriodMs' | 'connectTimeoutMs' | 'keepaliveS' | 'stopTimeoutMs'
>;

export interface EdgeAgentOptions {
  store: string;
  /** the node's config from the store file (configSource 'file'). Without it the node takes its
   *  config from the hub (`nodeId` names the node) and keeps the last good one in <dataDir>/config.json. */
  node?: NodeConfig;
  /** the node's id when its config comes from the hub (ignored when `node` is given) */
  nodeId?: string;
  /** the store rules the node's config carries (greetWithinS, warnAtS); default: the schema defaults.
   *  Only used for cfghash, which must equal nodeEffectiveConfig(cfg, node).cfghash (firmware-config/hash.ts). */
  rules?: NodeRules;
  mqttUrl: string;
  /** the node's MQTT login (its bootstrap file's username and password) */
  login?: { username: string; password: string };
  /** PEM CA that verifies the hub for mqtts:// (the bootstrap's `ca` file); default: the system's CAs */
  ca?: Buffer;
  /** this node's folder: outbox journal, and config.json for a config from the hub (default .data/edge/{store}-{node}) */
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

/** file: the store file (--config); disk: <dataDir>/config.json from an earlier run; hub: the config topic; none: no config yet */
export type ConfigSource = 'hub' | 'disk' | 'file' | 'none';

export interface ConfigRefusal {
  /** CONFIG_REFUSED (not this node's, wrong cfghash, invalid), DRIVER_OPEN / DRIVER_UNSUPPORTED (its pins cannot open) */
  code: ErrorCode;
  reason: string;
  /** the cfghash the refused config claimed (null when it had none) */
  cfghash: string | null;
  time: string;
}

export interface EdgeAgentStats {
  store: string;
  node: string;
  bootid: string;
  /** cfghash of the config the node runs; "none" while it has none */
  cfghash: string;
  configSource: ConfigSource;
  /** cfghash of the config the hub publishes for this node (null until seen) */
  hubCfghash: string | null;
  /** configs applied in place since start (from the hub) */
  configsApplied: number;
  /** configs refused since start (the one running stays) */
  configsRefused: number;
  lastRefusal: ConfigRefusal | null;
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
  /** the config the node runs; while it has none (configSource 'none'): its id with the schema defaults, no inputs */
  readonly config: NodeConfig;
  readonly configSource: ConfigSource;
  readonly bootid: string;
  /** cfghash of the running config; "none" while there is none */
  readonly cfghash: string;
  /** the node's digital inputs by inputKeys (SimDigitalInput for driver: sim); empty until a config runs */
  readonly inputs: ReadonlyMap<string, DigitalInput>;
  /** the node's distance sensors by inputKeys.sensor; empty until a config runs */
  readonly distances: ReadonlyMap<string, DistanceInput>;
  /** the node's indicator (SimIndicator for driver: sim); null until a config runs */
  readonly indicator: Indicator | null;
  /** opens the driver (waits for a board's ready), the outbox and the inputs, then connects;
   *  resolves without waiting for the broker; rejects with DRIVER_OPEN / DRIVER_UNSUPPORTED (config
   *  from the store file only: a stored config that cannot open is refused) / OUTBOX_IO */
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

/** The status cfghash of a node that runs no config yet (CONTRACT.md status payload). */
export const NO_CONFIG = 'none';

interface Running {
  node: NodeConfig;
  cfghash: string;
  source: Exclude<ConfigSource, 'none'>;
}

const noInputs = (): NodeInputs => ({ digital: new Map(), distance: new Map() });
const codeOf = (err: unknown, fallback: ErrorCode): ErrorCode => (err instanceof GwError ? err.code : fallback);

export function createEdgeAgent(opts: EdgeAgentOptions): EdgeAgent {
  const { store } = opts;
  const id = opts.node?.id ?? opts.nodeId;
  if (id === undefined) throw new EdgeError(EdgeErrorCodes.USAGE, `edge agent of store ${store}: give its node config or its nodeId`);
  const nodeId: string = id;
  const fromHub = opts.node === undefined;
  const clock = opts.clock ?? systemClock;
  const root = opts.log ?? pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const log = root.child({ name: 'edge:agent', store, node: nodeId });
  const cfgLog = root.child({ name: 'edge:config', store, node: nodeId });
  const envelopes = createEnvelopeFactory({ store, node: nodeId });
  const startedAt = clock.now();
  const dataDir = opts.dataDir ?? path.join('.data', 'edge', `${store}-${nodeId}`);
  /** what `config` shows while there is none; its defaults size the outbox and the status timer */
  const noConfig = Value.Default(NodeSchema, { id: nodeId }) as NodeConfig;

  let state: EdgeAgentStats['state'] = 'new';
  let running: Running | null = opts.node ? { node: opts.node, cfghash: nodeCfgHash(store, opts.node, opts.rules), source: 'file' } : null;
  let driver: IoDriver | null = null;
  let inputs: NodeInputs = noInputs();
  let indicator: Indicator | null = null;
  /** the hub's last `indicate` level: a re-created indicator shows it again */
  let indicatorLevel: IndicatorLevel = 'off';
  let outbox: Outbox | null = null;
  let signals: NodeSignals | null = null;
  let publisher: Publisher | null = null;
  let clockState: ClockSync = { sync: 'unknown', source: 'none' };
  let clockTimer: ReturnType<typeof setInterval> | undefined;
  let buildErrors = 0;
  let outboxErrors = 0;
  let starting: Promise<void> | null = null;
  let configsApplied = 0;
  let configsRefused = 0;
  let lastRefusal: ConfigRefusal | null = null;
  /** the newest config message not handled yet (only the newest matters) and the loop handling them */
  let queued: ConfigMessage | null = null;
  let applying: Promise<void> | null = null;
  /** file mode: the hub cfghash last compared, so a reconnect does not log the same difference again */
  let comparedHub: string | null = null;
  /** the outbox keeps the bound it was opened with */
  let outboxMaxAtOpen = noConfig.outboxMax;

  const current = (): NodeConfig => running?.node ?? noConfig;
  const cfghash = (): string => running?.cfghash ?? NO_CONFIG;

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
  const startClockTimer = (everyS: number): void => {
    if (clockTimer !== undefined) clearInterval(clockTimer);
    clockTimer = setInterval(refreshClock, everyS * 1000);
    clockTimer.unref();
  };

  // ---- hardware: driver, inputs, indicator ----

  /** what the publisher drives on `cmd indicate`: whichever indicator the running config has */
  const indicatorProxy: Indicator = {
    set(level) {
      indicatorLevel = level;
      indicator?.set(level);
    },
    close() {},
  };
  const openIndicator = (d: IoDriver, node: NodeConfig): Indicator => {
    const ind = d.indicator(node.indicator);
    if (indicatorLevel !== 'off') ind.set(indicatorLevel);
    return ind;
  };

  const closeDriver = async (d: IoDriver): Promise<void> => {
    try {
      await d.close();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'driver did not close cleanly');
    }
  };

  /** opens a driver, the inputs and the indicator for `node`; on failure closes what it opened and throws */
  const openHardware = async (node: NodeConfig): Promise<void> => {
    const d = (opts.io ?? defaultIoFactory)(node, { log: root });
    try {
      try {
        await d.open();
      } catch (err) {
        throw err instanceof EdgeError ? err : driverOpenError(node.id, `driver ${node.driver}`, (err as Error).message, err);
      }
      const ins = openNodeInputs(node, d);
      try {
        indicator = openIndicator(d, node);
      } catch (err) {
        closeInputs(ins);
        throw err;
      }
      inputs = ins;
      driver = d;
    } catch (err) {
      await closeDriver(d);
      throw err;
    }
    d.onFault((f) => {
      if (d !== driver) return; // a driver a new config replaced
      log.warn({ sensor: f.sensor, kind: f.kind, detail: f.detail }, 'board fault');
      emit('greetwatch.fault.v1', f.detail === undefined ? { sensor: f.sensor, kind: f.kind } : { sensor: f.sensor, kind: f.kind, detail: f.detail }, clock.now());
    });
  };

  /** `forget`: a new config follows, so the closed parts go; at stop() they stay visible, closed */
  const closeHardware = async (forget = true): Promise<void> => {
    closeInputs(inputs);
    indicator?.close();
    if (forget) {
      inputs = noInputs();
      indicator = null;
    }
    const d = driver;
    driver = null;
    if (d) await closeDriver(d);
  };

  /**
   * Same driver, new config: keeps every input whose spec is unchanged (the same objects),
   * closes the ones that went away or changed, then opens the new ones. On failure `inputs`
   * holds the kept ones (still open) and `indicator` is null if it was being re-created.
   */
  const reopenParts = (d: IoDriver, prev: NodeConfig, next: NodeConfig, reopenIndicator: boolean): void => {
    const { kept, stale } = reusableInputs(prev, inputs, next);
    closeInputs(stale); // first: a pin that moved to another input must be free
    inputs = kept;
    if (reopenIndicator) {
      indicator?.close();
      indicator = null;
    }
    const fresh = openNodeInputs(next, d, kept);
    if (reopenIndicator) {
      try {
        indicator = openIndicator(d, next);
      } catch (err) {
        for (const [k, i] of fresh.digital) if (!kept.digital.has(k)) i.close();
        for (const [k, i] of fresh.distance) if (!kept.distance.has(k)) i.close();
        throw err;
      }
    }
    inputs = fresh;
  };

  const attach = (node: NodeConfig): void => {
    signals = attachSignals({ node, inputs, clock, emit, log: root.child({ name: 'edge:signals', node: node.id }) });
  };

  /**
   * Runs `next` instead of what runs now. If its driver or a pin cannot open, the previous
   * config is opened again (what it kept is still open) and the open error is thrown.
   */
  const switchTo = async (next: NodeConfig): Promise<ConfigChange> => {
    const prev = running?.node ?? null;
    const d = driver;
    const change = configChange(prev, next);
    signals?.close();
    signals = null;
    try {
      if (!d || !prev || change.reopenDriver) {
        await closeHardware();
        await openHardware(next);
      } else {
        reopenParts(d, prev, next, change.reopenIndicator);
      }
    } catch (err) {
      if (prev) await restore(prev);
      throw err;
    }
    attach(next);
    return change;
  };

  /** puts `prev` back after a failed switch: on the same driver if it is still open, else from scratch */
  const restore = async (prev: NodeConfig): Promise<void> => {
    if (driver) {
      try {
        inputs = openNodeInputs(prev, driver, inputs);
        indicator ??= openIndicator(driver, prev);
        attach(prev);
        return;
      } catch (err) {
        cfgLog.warn({ err: (err as Error).message }, 'previous config does not re-open on the same driver; opening its driver again');
      }
    }
    await closeHardware();
    try {
      await openHardware(prev);
      attach(prev);
    } catch (err) {
      // nothing runs now; the status says so ("none") and the hub's next config is tried
      running = null;
      publisher?.setStatus({ cfghash: NO_CONFIG });
      cfgLog.error({ err: (err as Error).message, code: codeOf(err, ErrorCodes.DRIVER_OPEN) }, 'previous config could not be opened again: node runs no config');
    }
  };

  // ---- configs from the hub ----

  const refuse = (code: ErrorCode, reason: string, claimed: string | null): void => {
    configsRefused++;
    lastRefusal = { code, reason, cfghash: claimed, time: new Date(clock.now()).toISOString() };
    const fields = { code, reason, cfghash: claimed, running: cfghash() };
    if (code === ErrorCodes.CONFIG_REFUSED) cfgLog.warn(fields, 'config refused; the running config stays');
    else cfgLog.error(fields, 'config refused: its driver or a pin cannot open; the running config stays');
  };

  /** the running config changed: the hub sees the new cfghash at once, timers follow its statusEveryS */
  const applied = (): void => {
    const node = current();
    publisher?.setStatus({ cfghash: cfghash() });
    publisher?.setStatusEvery(node.statusEveryS * 1000);
    startClockTimer(node.statusEveryS);
  };

  /** runs a checked config in place, or refuses it when its driver or a pin cannot open */
  const applyConfig = async (next: AcceptedNodeConfig, source: 'hub' | 'disk'): Promise<void> => {
    const previous = cfghash();
    let change: ConfigChange;
    try {
      change = await switchTo(next.node);
    } catch (err) {
      return refuse(codeOf(err, ErrorCodes.DRIVER_OPEN), (err as Error).message, next.cfghash);
    }
    running = { node: next.node, cfghash: next.cfghash, source };
    if (source === 'hub') configsApplied++;
    applied();
    if (next.node.outboxMax !== outboxMaxAtOpen) cfgLog.info({ outboxMax: next.node.outboxMax }, 'outboxMax applies from the next start (the outbox stays open)');
    cfgLog.info(
      { cfghash: next.cfghash, previous, source, changed: change.changed, reopenedDriver: change.reopenDriver, inputs: inputs.digital.size + inputs.distance.size },
      'config applied',
    );
    if (source === 'disk') return;
    try {
      await writeStoredConfig(dataDir, next.received);
    } catch (err) {
      cfgLog.error({ err: (err as Error).message, code: codeOf(err, ErrorCodes.CONFIG_STORE_IO) }, 'config runs but was not stored: a restart without the hub will not have it');
    }
  };

  const handleConfig = async (msg: ConfigMessage): Promise<void> => {
    if (!msg.ok) return refuse(ErrorCodes.CONFIG_REFUSED, msg.reason, null);
    const check = checkNodeConfig(msg.value, { store, node: nodeId });
    if (!check.ok) return refuse(ErrorCodes.CONFIG_REFUSED, check.reason, check.cfghash);
    // the retained config comes again on every reconnect: the one running needs nothing
    if (running && check.config.cfghash === running.cfghash) {
      if (running.source === 'disk') {
        running = { ...running, source: 'hub' };
        cfgLog.info({ cfghash: running.cfghash }, 'the hub confirms the stored config');
      }
      return;
    }
    await applyConfig(check.config, 'hub');
  };

  /** handles queued config messages one at a time; never rejects */
  const drain = async (): Promise<void> => {
    while (queued && state === 'running') {
      const msg = queued;
      queued = null;
      try {
        await handleConfig(msg);
      } catch (err) {
        cfgLog.error({ err: (err as Error).message }, 'config handling failed');
      }
    }
    applying = null;
  };

  const onConfig = (msg: ConfigMessage): void => {
    if (state !== 'running') return;
    if (!fromHub) {
      // the store file rules (--config): compare only, and say so once per hub hash
      const hub = publisher?.stats().hubCfghash ?? null;
      if (hub === null || hub === comparedHub) return;
      comparedHub = hub;
      if (hub === cfghash()) cfgLog.info({ cfghash: hub }, 'node config matches the hub');
      else cfgLog.warn({ ours: cfghash(), hub }, 'node config differs from the hub; this node runs its store file (--config): run it with --bootstrap to follow the hub');
      return;
    }
    queued = msg;
    applying ??= drain(); // stop() awaits it
  };

  /** <dataDir>/config.json, checked as if the hub had just sent it; null when there is none or it is unusable */
  const loadStored = async (): Promise<AcceptedNodeConfig | null> => {
    let value: unknown;
    try {
      value = await readStoredConfig(dataDir);
    } catch (err) {
      cfgLog.warn({ err: (err as Error).message, code: codeOf(err, ErrorCodes.CONFIG_STORE_IO) }, 'stored config unusable; waiting for the hub');
      return null;
    }
    if (value === null) return null;
    const check = checkNodeConfig(value, { store, node: nodeId });
    if (check.ok) return check.config;
    refuse(ErrorCodes.CONFIG_REFUSED, `stored ${CONFIG_FILE} in ${dataDir}: ${check.reason}`, check.cfghash);
    return null;
  };

  /** releases what start() opened so far; never throws */
  const release = async (): Promise<void> => {
    if (clockTimer !== undefined) clearInterval(clockTimer);
    clockTimer = undefined;
    signals?.close();
    signals = null;
    await closeHardware(false);
    if (!opts.outbox) outbox?.close();
  };

  async function startNow(): Promise<void> {
    try {
      let stored: AcceptedNodeConfig | null = null;
      if (running) await openHardware(running.node); // the store file's config: a failure fails the start
      else stored = await loadStored();
      outboxMaxAtOpen = (stored?.node ?? current()).outboxMax;
      outbox =
        opts.outbox ??
        (await openFileOutbox(dataDir, {
          store,
          node: nodeId,
          maxEvents: outboxMaxAtOpen,
          log: root.child({ name: 'edge:outbox', node: nodeId }),
        }));
      // the stored config runs before the broker is reached: offline, its events wait in the outbox
      if (stored) await applyConfig(stored, 'disk');
    } catch (err) {
      state = 'stopped';
      await release();
      log.error({ err: (err as Error).message, code: (err as EdgeError).code }, 'edge agent could not start');
      throw err;
    }
    const out = outbox;
    state = 'running';
    if (running && !signals) attach(running.node);
    refreshClock();
    startClockTimer(current().statusEveryS);
    publisher = createPublisher({
      ...opts.mqtt,
      store,
      node: nodeId,
      url: opts.mqttUrl,
      ...(opts.login ? { username: opts.login.username, password: opts.login.password } : {}),
      ...(opts.ca ? { ca: opts.ca } : {}),
      outbox: out,
      indicator: indicatorProxy,
      clock,
      status: { bootid: envelopes.bootid, fw: opts.fw ?? 'dev', cfghash: cfghash() },
      statusExtras: () => ({
        uptimeS: Math.round((clock.now() - startedAt) / 1000),
        outbox: out.size(),
        dropped: out.dropped(),
        clock: clockState,
      }),
      statusEveryMs: current().statusEveryS * 1000,
      onConfig,
      log: root.child({ name: 'edge:publisher', node: nodeId }),
    });
    publisher.start();
    const source = running?.source ?? 'none';
    log.info({ bootid: envelopes.bootid, cfghash: cfghash(), configSource: source, driver: driver?.kind ?? null, pending: out.size(), mqtt: redactUrl(opts.mqttUrl) }, 'edge agent started');
    if (!running) cfgLog.warn({ topic: topics.config(store, nodeId) }, 'no config yet: waiting for the hub to publish this node\'s config (status cfghash "none")');
  }

  return {
    store,
    get config() {
      return current();
    },
    get configSource() {
      return running?.source ?? 'none';
    },
    bootid: envelopes.bootid,
    get cfghash() {
      return cfghash();
    },
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
      if (state !== 'new') return Promise.reject(new Error(`edge agent ${nodeId}: start() called twice`));
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
      await applying; // a config being applied finishes first, then everything is released
      signals?.close();
      signals = null;
      await publisher?.stop();
      await release();
      state = 'stopped';
      log.info({ events: envelopes.lastSeq(), pending: outbox?.size() ?? 0 }, 'edge agent stopped');
    },
    stats: () => ({
      store,
      node: nodeId,
      bootid: envelopes.bootid,
      cfghash: cfghash(),
      configSource: running?.source ?? 'none',
      hubCfghash: publisher?.stats().hubCfghash ?? null,
      configsApplied,
      configsRefused,
      lastRefusal,
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

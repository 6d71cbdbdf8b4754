import path from 'node:path';
import pino from 'pino';
import { createEdgeAgent, type EdgeAgent } from '../edge/agent.ts';
import { createStoreSimulator } from './shopper-sim.ts';
import { loadConfig } from '../firmware-config/load.ts';
import { generatePassword, hashPassword } from '../firmware-config/passwords.ts';
import type { StoreConfig } from '../firmware-config/schema.ts';
import { setupHistory } from '../hub/history-setup.ts';
import { startHub, type Hub } from '../hub/hub.ts';
import { repoRoot } from '../hub/repo-root.ts';
import type { VisitStore } from '../hub/visit-store.ts';

// `npm start`: a whole demo store on this machine — the hub (embedded broker,
// engine, API, dashboard), history (managed influxd when installed), simulated
// edge nodes for firmware-config/examples/demo-store.yaml, and simulated shoppers.

// the checkout, whether this runs as scripts/demo.ts or as dist/scripts/demo.js (`npm start`)
const root = repoRoot(import.meta.url);
const configFile = process.env.GREETWATCH_CONFIG ?? path.join(root, 'firmware-config/examples/demo-store.yaml');
const dataDir = process.env.GREETWATCH_DATA_DIR ?? path.join(root, '.data', 'demo');
const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' });

function isAddrInUse(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
}

/** the configured ports, or free ones when another program holds them */
async function startOnFreePorts(cfg: StoreConfig, store: VisitStore): Promise<Hub> {
  try {
    return await startHub({ config: cfg, dataDir, log, store });
  } catch (err) {
    if (!isAddrInUse(err)) throw err;
    console.log(`Port ${cfg.hub.http.port} or ${cfg.hub.mqtt.port} is taken; using free ports instead.`);
    const free = { ...cfg, hub: { ...cfg.hub, http: { ...cfg.hub.http, port: 0 }, mqtt: { ...cfg.hub.mqtt, port: 0 } } };
    return startHub({ config: free, dataDir, log, store });
  }
}

/**
 * The demo's nodes log in like real ones (README "Security"): each gets a fresh password for
 * this run, its scrypt hash goes into the hub's config, the password to its agent.
 */
async function demoLogins(cfg: StoreConfig): Promise<Map<string, string>> {
  const passwords = new Map<string, string>();
  for (const node of cfg.nodes) {
    if (node.mqtt) continue; // a store file with its own logins keeps them
    const pw = generatePassword();
    passwords.set(node.id, pw);
    node.mqtt = { passwordHash: await hashPassword(pw) };
  }
  // and a read-only viewer, so people can watch `visits` with any MQTT client
  if (!cfg.users.some((u) => u.id === DEMO_VIEWER)) {
    const pw = generatePassword();
    passwords.set(DEMO_VIEWER, pw);
    cfg.users.push({ id: DEMO_VIEWER, role: 'manager', passwordHash: await hashPassword(pw) });
  }
  return passwords;
}

const DEMO_VIEWER = 'viewer';

async function main(): Promise<void> {
  const cfg = loadConfig(configFile);
  const passwords = await demoLogins(cfg);
  // ports may be overridden (0 = any free port), e.g. to run a second demo beside the first
  if (process.env.GREETWATCH_HTTP_PORT) cfg.hub.http.port = Number(process.env.GREETWATCH_HTTP_PORT);
  if (process.env.GREETWATCH_MQTT_PORT) cfg.hub.mqtt.port = Number(process.env.GREETWATCH_MQTT_PORT);
  const history = await setupHistory(cfg, dataDir, log);
  console.log(history.message);
  const hub = await startOnFreePorts(cfg, history.store);
  const agents: EdgeAgent[] = cfg.nodes.map((node) =>
    createEdgeAgent({
      store: cfg.store.id,
      node,
      rules: { greetWithinS: cfg.rules.greetWithinS, warnAtS: cfg.rules.warnAtS },
      mqttUrl: hub.mqttUrl,
      // one journal per node (edge/outbox.ts locks it to the node)
      dataDir: path.join(dataDir, 'edge', node.id),
      ...(passwords.has(node.id) ? { login: { username: node.mqtt?.username ?? node.id, password: passwords.get(node.id)! } } : {}),
      fw: 'demo',
      log,
    }),
  );
  for (const a of agents) await a.start();
  const sim = createStoreSimulator({
    agents,
    stepsLineZones: cfg.rules.stepsLineZones,
    arrivalsPerHour: Number(process.env.DEMO_ARRIVALS_PER_HOUR ?? 90),
    seed: Date.now() % 100_000,
    log,
  });
  sim.start();

  console.log(`
greetwatch demo store "${cfg.store.name ?? cfg.store.id}" is running.
  Floor dashboard : ${hub.httpUrl}/
  Live API        : ${hub.httpUrl}/api/stores/${cfg.store.id}/live
  Report API      : ${hub.httpUrl}/api/stores/${cfg.store.id}/report?from=<ISO>&to=<ISO>
  MQTT broker     : ${hub.mqttUrl}  (every client logs in; nodes have their own logins)
  Watch visits    : mosquitto_sub -h ${new URL(hub.mqttUrl).hostname} -p ${new URL(hub.mqttUrl).port} -u ${DEMO_VIEWER} -P '${passwords.get(DEMO_VIEWER) ?? '<viewer password>'}' -t greetwatch/v1/${cfg.store.id}/visits
  Traces          : ${path.join(dataDir, 'traces')}
Simulated shoppers arrive about ${process.env.DEMO_ARRIVALS_PER_HOUR ?? 90} an hour; staff greet most within 30 s, some late, some never.
Press Ctrl-C to stop.`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping…');
    sim.stop();
    for (const a of agents) await a.stop();
    await hub.stop();
    await history.stop();
    console.log('Stopped cleanly.');
  };
  // a failed stop may leave handles open: say why and exit 1 rather than hang
  const onSignal = () => {
    stop().catch((err: unknown) => {
      console.error(`Stopping failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exitCode = 1;
});

import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { createEdgeAgent, type EdgeAgent } from '../edge/agent.ts';
import { busyness, seedDemoHistory } from './seed-history.ts';
import { createStoreSimulator, goodStoreProfile } from './shopper-sim.ts';
import { loadConfig } from '../firmware-config/load.ts';
import { generatePassword, hashPassword } from '../firmware-config/passwords.ts';
import type { StoreConfig } from '../firmware-config/schema.ts';
import { setupHistory } from '../hub/history-setup.ts';
import { startHub, type Hub } from '../hub/hub.ts';
import { repoRoot } from '../hub/repo-root.ts';
import type { VisitStore } from '../hub/visit-store.ts';

// `npm start`: a whole demo store on this machine — the hub (embedded broker,
// engine, API, dashboard), history (managed influxd when installed, seeded on the first
// start with six weeks of simulated days), simulated edge nodes for
// firmware-config/examples/demo-store.yaml, simulated shoppers, and dashboard logins
// for a demo manager and a demo owner.

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
 * this run, its scrypt hash goes into the hub's config, the password to its agent. The
 * dashboard's demo manager and demo owner keep theirs in the data folder (people bookmark
 * the views and save the login), and get their hashes the same way.
 */
async function demoLogins(cfg: StoreConfig): Promise<Map<string, string>> {
  const passwords = new Map<string, string>();
  const hashing: Promise<void>[] = [];
  for (const node of cfg.nodes) {
    if (node.mqtt) continue; // a store file with its own logins keeps them
    const pw = generatePassword();
    passwords.set(node.id, pw);
    hashing.push(hashPassword(pw).then((passwordHash) => void (node.mqtt = { passwordHash })));
  }
  // a read-only viewer, so people can watch `visits` with any MQTT client, and the dashboard users
  const users: { id: string; name?: string; role: 'manager' | 'owner'; password: string }[] = [
    { id: DEMO_VIEWER, role: 'manager', password: generatePassword() },
    ...keptDashboardLogins(),
  ];
  for (const u of users) {
    if (cfg.users.some((x) => x.id === u.id)) continue; // the store file's own login stays
    passwords.set(u.id, u.password);
    const { password, ...user } = u;
    hashing.push(hashPassword(password).then((passwordHash) => void cfg.users.push({ ...user, passwordHash })));
  }
  // scrypt is slow on purpose: hash them side by side
  await Promise.all(hashing);
  return passwords;
}

const DEMO_VIEWER = 'viewer';
const DEMO_MANAGER = 'manager';
const DEMO_OWNER = 'owner';
/** the dashboard logins' passwords, made on the first start and kept (mode 0600) */
const loginsFile = path.join(dataDir, 'demo-logins.json');

function keptDashboardLogins(): { id: string; name: string; role: 'manager' | 'owner'; password: string }[] {
  let kept: Record<string, unknown> = {};
  try {
    kept = JSON.parse(fs.readFileSync(loginsFile, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') console.log(`${loginsFile} is unreadable (${(err as Error).message}); making new demo logins.`);
  }
  const pw = (id: string) => (typeof kept[id] === 'string' && kept[id] !== '' ? kept[id] : generatePassword());
  const out = [
    { id: DEMO_MANAGER, name: 'Demo Manager', role: 'manager' as const, password: pw(DEMO_MANAGER) },
    { id: DEMO_OWNER, name: 'Demo Owner', role: 'owner' as const, password: pw(DEMO_OWNER) },
  ];
  const next = Object.fromEntries(out.map((u) => [u.id, u.password]));
  if (out.some((u) => kept[u.id] !== u.password)) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(loginsFile, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
  }
  return out;
}

async function main(): Promise<void> {
  const cfg = loadConfig(configFile);
  const passwords = await demoLogins(cfg);
  // ports may be overridden (0 = any free port), e.g. to run a second demo beside the first
  if (process.env.GREETWATCH_HTTP_PORT) cfg.hub.http.port = Number(process.env.GREETWATCH_HTTP_PORT);
  if (process.env.GREETWATCH_MQTT_PORT) cfg.hub.mqtt.port = Number(process.env.GREETWATCH_MQTT_PORT);
  const history = await setupHistory(cfg, dataDir, log);
  console.log(history.message);
  // before the hub starts: its live view loads today's visits from history once, at start
  const seeded = process.env.DEMO_SEED_HISTORY === '0' ? { message: 'No simulated history seeded (DEMO_SEED_HISTORY=0).' } : await seedDemoHistory({ cfg, store: history.store, log });
  console.log(seeded.message);
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
  const arrivalsPerHour = Number(process.env.DEMO_ARRIVALS_PER_HOUR ?? 60);
  const names = cfg.staff.map((s) => s.name ?? s.id);
  const staffNames = names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)!}` : (names[0] ?? 'staff');
  const sim = createStoreSimulator({
    agents,
    stepsLineZones: cfg.rules.stepsLineZones,
    arrivalsPerHour,
    // the store's day: busier at lunch and in the late afternoon (store-local time)
    busyness: busyness(cfg.store.timezone),
    profile: goodStoreProfile,
    seed: Date.now() % 100_000,
    log,
  });
  sim.start();

  const login = (id: string) => (passwords.has(id) ? `login ${id} / ${passwords.get(id)!}` : `login ${id} (password from the store file)`);
  const hasUser = (id: string) => cfg.users.some((u) => u.id === id);

  console.log(`
greetwatch demo store "${cfg.store.name ?? cfg.store.id}" is running.
  Floor view      : ${hub.httpUrl}/floor
  Manager view    : ${hub.httpUrl}/manager${hasUser(DEMO_MANAGER) ? `   ${login(DEMO_MANAGER)}` : ''}
  Owner view      : ${hub.httpUrl}/owner${hasUser(DEMO_OWNER) ? `     ${login(DEMO_OWNER)}` : ''}
  Logins kept in  : ${loginsFile}
  Live API        : ${hub.httpUrl}/api/stores/${cfg.store.id}/live
  Report API      : ${hub.httpUrl}/api/stores/${cfg.store.id}/report?from=<ISO>&to=<ISO>
  MQTT broker     : ${hub.mqttUrl}  (every client logs in; nodes have their own logins)
  Watch visits    : mosquitto_sub -h ${new URL(hub.mqttUrl).hostname} -p ${new URL(hub.mqttUrl).port} -u ${DEMO_VIEWER} -P '${passwords.get(DEMO_VIEWER) ?? '<viewer password>'}' -t greetwatch/v1/${cfg.store.id}/visits
  Traces          : ${path.join(dataDir, 'traces')}
Simulated shoppers arrive about ${arrivalsPerHour} an hour (more at lunch and in the late afternoon); ${staffNames} greet most
within 30 s, some late, some never: a service level of about 80 % (the store aims for ${Math.round(cfg.store.serviceLevelTarget * 100)} %).
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

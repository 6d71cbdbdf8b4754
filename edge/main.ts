import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { nodeEffectiveConfig } from '../firmware-config/hash.ts';
import { loadConfig } from '../firmware-config/load.ts';
import type { StoreConfig } from '../firmware-config/schema.ts';
import { createEdgeAgent, type EdgeAgent } from './agent.ts';
import { EdgeError, EdgeErrorCodes } from './errors.ts';
import { createStoreSimulator, type StoreSimulator } from './simulate.ts';

// CLI: runs edge agent(s) for node(s) of a store config.
//   npx tsx edge/main.ts --config store.yaml --node door-1 [--mqtt mqtt://127.0.0.1:1883]
//   npx tsx edge/main.ts --config demo.yaml --all --simulate [--rate 120] [--seed 7]

const USAGE = `usage: npx tsx edge/main.ts --config <store.yaml> (--node <id> ... | --all) [options]
  --mqtt <url>        broker (default mqtt://{hub.mqtt.host}:{hub.mqtt.port} from the config)
  --data-dir <dir>    outbox journals go to <dir>/<node> (default <config dir>/<hub.dataDir>/edge)
  --fw <version>      firmware version in the online status (default greetwatch-edge@<package version>)
  --simulate          drive the sim inputs of the started nodes with a simulated store
  --rate <n>          simulated customer parties per hour (default 60)
  --seed <n>          simulator RNG seed (default: random)
  --log-level <lvl>   pino level (default info, or $LOG_LEVEL)`;

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function usage(message: string): never {
  throw new EdgeError(EdgeErrorCodes.USAGE, `${message}\n${USAGE}`);
}

function numberArg(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) usage(`--${name}: expected a non-negative number, got ${JSON.stringify(value)}`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      node: { type: 'string', multiple: true },
      all: { type: 'boolean', default: false },
      mqtt: { type: 'string' },
      'data-dir': { type: 'string' },
      fw: { type: 'string' },
      simulate: { type: 'boolean', default: false },
      rate: { type: 'string' },
      seed: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (!values.config) usage('--config is required');
  const cfg: StoreConfig = loadConfig(values.config);
  const ids = values.all ? cfg.nodes.map((n) => n.id) : (values.node ?? []);
  if (ids.length === 0) usage('name a node with --node <id> (or --all)');

  const log = pino({ level: values['log-level'] ?? process.env.LOG_LEVEL ?? 'info' });
  const mqttUrl = values.mqtt ?? `mqtt://${cfg.hub.mqtt.host}:${cfg.hub.mqtt.port}`;
  const dataDir = values['data-dir'] ?? path.resolve(path.dirname(values.config), cfg.hub.dataDir, 'edge');
  const fw = values.fw ?? `greetwatch-edge@${packageVersion()}`;
  const rate = numberArg('rate', values.rate);
  const seed = numberArg('seed', values.seed);

  const agents: EdgeAgent[] = ids.map((id) => {
    const eff = nodeEffectiveConfig(cfg, id); // throws GW_ERR_UNKNOWN_NODE for a node the config lacks
    return createEdgeAgent({
      store: cfg.store.id,
      node: eff.node,
      rules: eff.rules,
      mqttUrl,
      dataDir: path.join(dataDir, id),
      fw,
      log,
    });
  });

  let sim: StoreSimulator | null = null;
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    sim?.stop();
    await Promise.all(agents.map((a) => a.stop()));
    process.exit(0);
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      shutdown(sig).catch((err: unknown) => {
        log.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      });
    });
  }

  for (const a of agents) await a.start();
  if (values.simulate) {
    sim = createStoreSimulator({
      agents,
      stepsLineZones: cfg.rules.stepsLineZones,
      ...(rate !== undefined ? { arrivalsPerHour: rate } : {}),
      seed: seed ?? Math.floor(Math.random() * 2 ** 31),
      log,
    });
    sim.start();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const e = err as Error & { code?: unknown };
  const code = typeof e.code === 'string' ? `${e.code}: ` : '';
  process.stderr.write(`${code}${e.message}\n`);
  const usageError = (e instanceof EdgeError && e.code === EdgeErrorCodes.USAGE) || String(e.code).startsWith('ERR_PARSE_ARGS');
  if (usageError && !(e instanceof EdgeError)) process.stderr.write(USAGE + '\n');
  process.exit(usageError ? 2 : 1);
});

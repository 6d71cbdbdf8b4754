import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { pino, type Logger } from 'pino';
import { ErrorCodes, GwError } from '../contract/errors.ts';
import { nodeEffectiveConfig } from '../firmware-config/hash.ts';
import { loadConfig } from '../firmware-config/load.ts';
import type { StoreConfig } from '../firmware-config/schema.ts';
import { createEdgeAgent, type EdgeAgent } from './agent.ts';
import { loadBootstrap, type NodeBootstrap } from '../firmware-config/bootstrap.ts';
import { EdgeError, EdgeErrorCodes } from './errors.ts';
import { packageVersion } from '../hub/repo-root.ts';
import type { IoFactory } from './io.ts';

// The edge agent's command line: runs the agent until SIGINT or SIGTERM, which stop it
// cleanly (offline status, pins unexported, outbox closed).
//   greetwatch node --bootstrap node.yaml [--data-dir dir]     a node in a store: its config comes from the hub
//   greetwatch node --config store.yaml --node door-1          the demo, a laptop: the config from the store file
// scripts/sim-node.ts runs the second form with simulated inputs and shoppers.

// in its own module: `greetwatch --help` lists it without loading the agent (MQTT client, outbox)
import { NODE_USAGE } from './usage.ts';
export { NODE_USAGE };

const OPTIONS = {
  bootstrap: { type: 'string' },
  config: { type: 'string' },
  node: { type: 'string', multiple: true },
  all: { type: 'boolean', default: false },
  mqtt: { type: 'string' },
  'data-dir': { type: 'string' },
  logins: { type: 'string' },
  fw: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

/** the bootstrap's `ca` file (relative to the bootstrap file), read once at start: it verifies the hub for mqtts:// */
function bootstrapCa(file: string, boot: NodeBootstrap): { ca?: Buffer } {
  if (boot.ca === undefined) return {};
  const caFile = path.resolve(path.dirname(file), boot.ca);
  try {
    return { ca: readFileSync(caFile) };
  } catch (err) {
    throw new GwError(ErrorCodes.CONFIG_INVALID, `${file}: ca: cannot read ${caFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); copy the hub's CA certificate there (greetwatch certs ca)`);
  }
}

export function usageError(message: string, usage: string): never {
  throw new EdgeError(EdgeErrorCodes.USAGE, `${message}\n${usage}`);
}

export interface RunNodesOptions<E extends NonNullable<ParseArgsConfig['options']>> {
  usage: string;
  /** more options (the simulator's) */
  extra?: E;
  /** the drivers (the simulator gives every node sim inputs; the config and its cfghash stay as they are) */
  io?: IoFactory;
  /** runs once every agent started; its stop() runs before the agents stop (--config only: it needs the store file) */
  afterStart?: (ctx: { agents: EdgeAgent[]; cfg: StoreConfig; values: Record<string, unknown>; log: Logger }) => { stop(): void };
}

/** Parses the command line, starts the agents and stops them on SIGINT/SIGTERM. */
export async function runNodes<E extends NonNullable<ParseArgsConfig['options']>>(argv: string[], opts: RunNodesOptions<E>): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { ...OPTIONS, ...opts.extra }, strict: true });
  const v = values as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? v[k] : undefined);
  if (v.help === true) {
    process.stdout.write(opts.usage + '\n');
    return;
  }
  const configFile = str('config');
  const bootstrapFile = str('bootstrap');
  if (configFile && bootstrapFile) usageError('give --bootstrap or --config, not both', opts.usage);
  const named = Array.isArray(v.node) ? v.node.filter((x): x is string => typeof x === 'string') : [];
  const log = pino({ level: str('log-level') ?? process.env.LOG_LEVEL ?? 'info' });
  const fw = str('fw') ?? `greetwatch-edge@${packageVersion()}`;

  let agents: EdgeAgent[];
  let cfg: StoreConfig | null = null;
  if (bootstrapFile) {
    if (named.length > 0 || v.all === true) usageError('--bootstrap names the node itself: drop --node/--all', opts.usage);
    if (opts.afterStart) usageError('--bootstrap is not supported here: this command needs the store file (--config)', opts.usage);
    const boot = loadBootstrap(bootstrapFile);
    const dataDir = str('data-dir') ?? path.resolve(path.dirname(bootstrapFile), '.data', 'edge');
    agents = [
      createEdgeAgent({
        store: boot.store,
        nodeId: boot.node,
        ...(opts.io ? { io: opts.io } : {}),
        mqttUrl: str('mqtt') ?? boot.mqttUrl,
        login: { username: boot.username, password: boot.password },
        ...bootstrapCa(bootstrapFile, boot),
        dataDir: path.join(dataDir, boot.node),
        fw,
        log,
      }),
    ];
  } else {
    if (!configFile) usageError('--bootstrap <file> (or --config <store.yaml>) is required', opts.usage);
    const storeCfg = loadConfig(configFile);
    cfg = storeCfg;
    const ids = v.all === true ? storeCfg.nodes.map((n) => n.id) : named;
    if (ids.length === 0) usageError('name a node with --node <id> (or --all)', opts.usage);
    const mqttUrl = str('mqtt') ?? `mqtt://${storeCfg.hub.mqtt.host}:${storeCfg.hub.mqtt.port}`;
    const dataDir = str('data-dir') ?? path.resolve(path.dirname(configFile), storeCfg.hub.dataDir, 'edge');
    agents = ids.map((id) => {
      const eff = nodeEffectiveConfig(storeCfg, id); // throws GW_ERR_UNKNOWN_NODE for a node the config lacks
      // with --logins: the node's login from its bootstrap file there (the store file has only the hash)
      const loginsDir = str('logins');
      const bootFile = loginsDir ? path.join(loginsDir, `${id}.bootstrap.yaml`) : null;
      const boot = bootFile ? loadBootstrap(bootFile) : null;
      return createEdgeAgent({
        store: storeCfg.store.id,
        node: eff.node,
        ...(opts.io ? { io: opts.io } : {}),
        ...(boot && bootFile ? { login: { username: boot.username, password: boot.password }, ...bootstrapCa(bootFile, boot) } : {}),
        rules: eff.rules,
        mqttUrl,
        // one journal folder per node: two nodes never share or re-send each other's events
        dataDir: path.join(dataDir, id),
        fw,
        log,
      });
    });
  }

  let extra: { stop(): void } | null = null;
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    extra?.stop();
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
  try {
    for (const a of agents) await a.start();
  } catch (err) {
    await Promise.all(agents.map((a) => a.stop()));
    throw err;
  }
  if (opts.afterStart && cfg) extra = opts.afterStart({ agents, cfg, values: v, log });
}

/** Runs a command-line entry point: prints `CODE: message` without a stack trace; exit 2 for usage errors. */
export function runMain(run: () => Promise<void>, usage: string): void {
  run().catch((err: unknown) => {
    const e = err as Error & { code?: unknown };
    const code = typeof e.code === 'string' ? `${e.code}: ` : '';
    process.stderr.write(`${code}${e.message}\n`);
    const isUsage = (e instanceof EdgeError && e.code === EdgeErrorCodes.USAGE) || String(e.code).startsWith('ERR_PARSE_ARGS');
    if (isUsage && !(e instanceof EdgeError)) process.stderr.write(usage + '\n');
    process.exit(isUsage ? 2 : 1);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMain(() => runNodes(process.argv.slice(2), { usage: NODE_USAGE }), NODE_USAGE);
}

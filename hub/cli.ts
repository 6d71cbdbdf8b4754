import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { pino, type Logger } from 'pino';
import { GwError } from '../contract/index.ts';
import { NODE_USAGE } from '../edge/usage.ts';
import { loadConfig } from '../firmware-config/load.ts';
import { replayTrace } from './engine/replay.ts';
import { storeTimeZone } from './engine/store-zone.ts';
import { parseTimeParam } from './http/params.ts';
import { isWhatIf, replayWhatIf } from './replay-what-if.ts';
import { releaseStartupMemory } from './startup-memory.ts';
import { withTlsPaths } from './tls.ts';

// `greetwatch <command>`: run a hub or an edge node, replay a trace (CONTRACT.md "Replay").
// People read what it prints: a bad option, a missing file or a port in use ends the
// process with one line and exit code 1, never a stack trace (README "Configuration").
// Each command imports what it runs when it runs: a hub never loads the edge agent (MQTT
// client, outbox), a node never loads the hub (broker, HTTP, history), --help neither.

const COMMANDS = {
  hub: {
    summary: 'runs a store hub: embedded MQTT broker, greeting engine, API and dashboard',
    usage: `usage: greetwatch hub --config <store.yaml>
  --config <file>     the store file (required); SIGHUP re-reads it without a restart
  Environment: INFLUX_URL (history server), LOG_LEVEL (default info)`,
  },
  node: { summary: 'runs an edge node: its sensors and buttons on GPIO or a Firmata board', usage: NODE_USAGE },
  config: {
    summary: 'checks, prints and maintains store files: check, print, hash-password, node-bootstrap',
    usage: 'usage: greetwatch config <check|print|hash-password|node-bootstrap> … (greetwatch config --help)',
  },
  certs: {
    summary: 'makes a local CA and TLS certificates with openssl: ca, hub, node (mqtts://, https://)',
    usage: 'usage: greetwatch certs <ca|hub|node> … (greetwatch certs --help)',
  },
  replay: {
    summary: 'runs the engine over recorded traces and prints the report; what-if with other rules, several stores',
    usage: `usage: greetwatch replay <trace.jsonl> --config <store.yaml> [--from ISO] [--to ISO] [--visits]
       greetwatch replay <trace.jsonl|folder>… --config <store.yaml>… [--rules key=value…] [--json] [--jobs N]
  --config <file>     the store file whose rules apply (required); one per store, repeatable or a,b
  --from, --to        the report period (RFC 3339, or store-local YYYY-MM-DD[THH:MM]); default: the days the trace covers
  --visits            add every visit to the output
  One trace file and only these options: the store's report JSON (CONTRACT.md "Replay"). Otherwise, a what-if:
  <folder>            the hub's trace files (<store>-<YYYY-MM-DD>.jsonl) in it and below; events of several stores may mix
  --rules key=value   replay with these store rules instead of the file's (any key under rules:, values as in YAML;
                      repeatable or comma-separated: --rules greetWithinS=20,warnAtS=15)
  --json              print {rules, stores: {<store>: report}, chain} as JSON instead of a table
  --table             print the table (the default of a what-if)
  --jobs <n>          worker threads, one store each (default: os.availableParallelism())
  --stats             print events/s and timings on stderr`,
  },
} as const;
type Command = keyof typeof COMMANDS;

const USAGE = `usage: greetwatch <command> [options]   (greetwatch <command> --help for its options)
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  .join('\n')}`;

/** A mistake on the command line: printed as one line (and a hint), exit code 1. */
class UsageError extends Error {}

function parse<O extends NonNullable<ParseArgsConfig['options']>>(cmd: Command, args: string[], options: O, positionals = false) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: positionals, strict: true });
  } catch (err) {
    throw new UsageError(`greetwatch ${cmd}: ${(err as Error).message} (greetwatch ${cmd} --help lists the options)`);
  }
}

/** pino-pretty when a person watches the terminal, JSON lines otherwise (journald, files, pipes) */
export function cliLogger(name: string): Logger {
  const level = process.env.LOG_LEVEL ?? 'info';
  if (process.stdout.isTTY) return pino({ name, level, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  return pino({ name, level });
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return cmd === undefined ? 1 : 0;
  }
  if (!(cmd in COMMANDS)) throw new UsageError(`greetwatch: unknown command '${cmd}' (commands: ${Object.keys(COMMANDS).join(', ')}; greetwatch --help)`);
  const command = cmd as Command;
  // the config commands have help of their own, per subcommand
  if (command === 'config') return (await import('../firmware-config/commands.ts')).configCommand(rest, { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') });
  if (command === 'certs') return (await import('./certs.ts')).certsCommand(rest, { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') });
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(COMMANDS[command].usage + '\n');
    return 0;
  }
  switch (command) {
    case 'replay':
      // several traces, a folder or --rules: the what-if replay (hub/replay-what-if.ts)
      return isWhatIf(rest) ? replayWhatIf(rest, { out: (t) => process.stdout.write(t), err: (l) => process.stderr.write(l + '\n') }) : replay(rest);
    case 'hub':
      return hub(rest);
    case 'node': {
      // the agent keeps running (MQTT client, watched inputs) until SIGINT/SIGTERM stop it
      const { runNodes } = await import('../edge/main.ts');
      await runNodes(rest, { usage: NODE_USAGE });
      return 0;
    }
  }
}

function replay(args: string[]): number {
  const { values, positionals } = parse('replay', args, { config: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, visits: { type: 'boolean' } }, true);
  const file = positionals[0];
  if (!file || !values.config) throw new UsageError('greetwatch replay: needs a trace file and --config <store.yaml> (greetwatch replay --help)');
  const cfg = loadConfig(values.config);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read trace (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const tz = storeTimeZone(cfg.store.timezone);
  const period = {
    ...(values.from ? { fromMs: parseTimeParam('from', values.from, tz) } : {}),
    ...(values.to ? { toMs: parseTimeParam('to', values.to, tz) } : {}),
  };
  const res = replayTrace(text.split('\n'), cfg, period);
  for (const r of res.rejected) process.stderr.write(`${file}:${r.line} ${r.code}: ${r.reason}\n`);
  const out = values.visits ? { ...res.report, visitList: res.visits } : res.report;
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  return 0;
}

async function hub(args: string[]): Promise<number> {
  const { values } = parse('hub', args, { config: { type: 'string' } });
  if (!values.config) throw new UsageError('greetwatch hub: --config <store.yaml> is required (greetwatch hub --help)');
  const configFile = values.config;
  // a bad file stops the hub here, before anything listens: it never half-starts.
  // TLS file paths are relative to the store file's folder, as hub.dataDir is (reloads too)
  const load = (file: string) => withTlsPaths(loadConfig(file), path.dirname(file));
  const cfg = load(configFile);
  const log = cliLogger('hub');
  const dataDir = path.resolve(path.dirname(configFile), cfg.hub.dataDir);
  const [{ setupHistory }, { startHub }] = await Promise.all([import('./history-setup.ts'), import('./hub.ts')]);
  const history = await setupHistory(cfg, dataDir, log);
  process.stdout.write(history.message + '\n');
  let h;
  try {
    h = await startHub({ config: cfg, configFile, loadConfig: load, dataDir, log, store: history.store });
  } catch (err) {
    await history.stop();
    const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES') {
      const which =
        e.port === cfg.hub.mqtt.tls?.port ? 'hub.mqtt.tls.port' : e.port === cfg.hub.mqtt.port ? 'hub.mqtt.port' : e.port === cfg.hub.http.port ? 'hub.http.port' : 'a port';
      const why = e.code === 'EADDRINUSE' ? 'is already in use (another hub, or another program)' : 'needs privileges this user lacks (use a port above 1023)';
      throw new UsageError(`greetwatch hub: ${e.address ?? ''}:${e.port ?? '?'} (${which}) ${why}; change ${which} in ${configFile} or stop the other program`);
    }
    throw err;
  }
  // from the ports in use: with TLS the plain listener may be off and the dashboard is https://
  const rt = h.ctx.runtime;
  const shown = (host: string) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
  const mqttUrls = [
    ...(rt.mqttPort !== undefined ? [`mqtt://${shown(cfg.hub.mqtt.host)}:${rt.mqttPort}`] : []),
    ...(rt.mqttTlsPort !== undefined ? [`mqtts://${shown(cfg.hub.mqtt.host)}:${rt.mqttTlsPort}`] : []),
  ];
  const dashboard = `${cfg.hub.http.tls ? 'https' : 'http'}://${shown(cfg.hub.http.host)}:${rt.httpPort ?? cfg.hub.http.port}/`;
  process.stdout.write(`greetwatch hub for ${cfg.store.id}: MQTT ${mqttUrls.join(' and ')}, dashboard ${dashboard}\n`);
  const onHup = () => {
    h.reload().catch((err: unknown) => log.error({ err: (err as Error).message }, 'reload failed'));
  };
  process.on('SIGHUP', onHup);
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  // started, and a signal stops it cleanly: what the start sized and left behind goes back now,
  // not when V8 next looks (hub/startup-memory.ts)
  await releaseStartupMemory();
  await stopped;
  process.off('SIGHUP', onHup);
  await h.stop();
  await history.stop();
  return 0;
}

export function run(argv: string[]): void {
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // config, parameter and usage errors are for people: the message only, no stack
      if (err instanceof GwError || err instanceof UsageError) process.stderr.write(`${err.message}\n`);
      else if (typeof (err as { code?: unknown }).code === 'string' && String((err as { code: string }).code).startsWith('ERR_PARSE_ARGS')) process.stderr.write(`${(err as Error).message}\n`);
      else process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
      // a failed start must not leave a process that stays alive without listening
      setTimeout(() => process.exit(1), 2000).unref();
    },
  );
}

// `node dist/hub/cli.js <command>` runs it as bin/greetwatch.mjs does, without the dist/source choice
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) run(process.argv.slice(2));

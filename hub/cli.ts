import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { GwError } from '../contract/index.ts';
import { loadConfig } from '../firmware-config/load.ts';
import { replayTrace } from './engine/replay.ts';
import { parseTimeParam } from './http/params.ts';
import { TimeZone } from './engine/tz.ts';
import { setupHistory } from './history-setup.ts';
import { startHub } from './hub.ts';
import { NODE_USAGE, runNodes } from '../edge/main.ts';

// `greetwatch <command>`: replay a trace (CONTRACT.md "Replay"), run a hub or an edge node.

const USAGE = `usage:
  greetwatch replay <trace.jsonl> --config <store.yaml> [--from ISO] [--to ISO] [--visits]
      runs the engine over a trace and prints the report JSON
  greetwatch hub --config <store.yaml>
      runs a hub (embedded broker, engine, API, dashboard)
  greetwatch node --config <store.yaml> --node <id> [--mqtt url] [--data-dir dir]
      runs an edge node (its sensors and buttons on GPIO or a Firmata board); --help for all options`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'replay') return replay(rest);
  if (cmd === 'hub') return hub(rest);
  if (cmd === 'node') {
    // the agent keeps running (MQTT client, watched inputs) until SIGINT/SIGTERM stop it
    await runNodes(rest, { usage: NODE_USAGE });
    return 0;
  }
  process.stderr.write(`${cmd ? `unknown command ${cmd}\n` : ''}${USAGE}\n`);
  return 2;
}

function replay(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { config: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, visits: { type: 'boolean' } },
  });
  const file = positionals[0];
  if (!file || !values.config) {
    process.stderr.write(`replay needs a trace file and --config\n${USAGE}\n`);
    return 2;
  }
  const cfg = loadConfig(values.config);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    process.stderr.write(`${file}: cannot read trace (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})\n`);
    return 1;
  }
  const tz = new TimeZone(cfg.store.timezone);
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
  const { values } = parseArgs({ args, options: { config: { type: 'string' } } });
  if (!values.config) {
    process.stderr.write(`hub needs --config\n${USAGE}\n`);
    return 2;
  }
  const cfg = loadConfig(values.config);
  const log = pino({ name: 'hub', level: process.env.LOG_LEVEL ?? 'info' });
  const dataDir = path.resolve(path.dirname(values.config), cfg.hub.dataDir);
  const history = await setupHistory(cfg, dataDir, log);
  process.stdout.write(history.message + '\n');
  const h = await startHub({ config: cfg, dataDir, log, store: history.store });
  process.stdout.write(`greetwatch hub for ${cfg.store.id}: MQTT ${h.mqttUrl}, dashboard ${h.httpUrl}/\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
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
      // config and parameter errors are for people: message only, no stack
      if (err instanceof GwError) process.stderr.write(`${err.message}\n`);
      else process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

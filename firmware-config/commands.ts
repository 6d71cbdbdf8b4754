import { chmodSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KindGuard, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { isMap, isScalar, stringify } from 'yaml';
import { ErrorCodes, GwError } from '../contract/errors.ts';
import {
  ConfigError,
  dedupeIssues,
  didYouMean,
  formatIssue,
  formatPath,
  parseConfig,
  resolveConfig,
  sortIssues,
  type ConfigIssue,
  type Path,
  type ResolvedConfig,
} from './load.ts';
import { generatePassword, hashPassword } from './passwords.ts';
import { StoreConfig } from './schema.ts';
import { NodeBootstrap } from './bootstrap.ts';
export { loadBootstrap, NodeBootstrap } from './bootstrap.ts';

// `greetwatch config <command>`: check, print, hash-password, node-bootstrap
// (firmware-config/README.md "Commands"). Exit codes: 0 ok, 1 a problem with a file or
// input, 2 a usage error.

export interface ConfigIo {
  out(line: string): void;
  err(line: string): void;
  /** hash-password --password-stdin reads its first line (default process.stdin) */
  stdin?: AsyncIterable<string | Buffer>;
  /** hash-password without --password-stdin asks here (default: the terminal, without echo) */
  prompt?: (question: string) => Promise<string>;
  /** node-bootstrap writes `<node>.bootstrap.yaml` here (default process.cwd()) */
  cwd?: string;
}

const MIN_PASSWORD = 8;

const HELP: Record<string, string> = {
  check: `usage: greetwatch config check <file...>
  Checks store files (YAML or JSON) with their includes, secrets and substitutions.
  Prints "<file>: ok (N nodes, M sensors, K buttons, U users)" for each good file and every
  problem of every file as "<file>:<line>:<col> <path>: <message>", sorted by file, line and
  column; warnings read "... <path>: warning: <message>". Exit 0 when every file is valid, 1 if not.`,
  print: `usage: greetwatch config print <file> [--json]
  Prints the resolved store file: includes, secrets and substitutions applied, every default
  filled in. Values read with !secret, every passwordHash, every hub token and the integrations'
  tokens and passwords print as '***'.
  --json   JSON instead of YAML`,
  'hash-password': `usage: greetwatch config hash-password [--password-stdin]
  Prints the scrypt hash ($scrypt$ln=15,r=8,p=1$<salt>$<hash>) to put in a passwordHash field.
  Asks for the password twice on the terminal, without echo.
  --password-stdin   read the password from the first line of stdin instead (at least ${MIN_PASSWORD} characters)`,
  'node-bootstrap': `usage: greetwatch config node-bootstrap <store.yaml> <node> [--out <file>] [--mqtt-url <url>]
  Makes a fresh MQTT password for the node and writes its bootstrap file (mode 0600):
  {store, node, mqttUrl, username, password}. Stores the password's hash in the store file at
  nodes[i].mqtt.passwordHash, editing only that value; when the hash lives in secrets.yaml or an
  included file, prints the line to put there instead.
  --out <file>       the bootstrap file [<node>.bootstrap.yaml in the current folder]
  --mqtt-url <url>   how the node reaches the broker [hub.mqtt.url, else mqtt://<hub.mqtt.host>:<hub.mqtt.port>]`,
};

const USAGE = `usage: greetwatch config <command> [options]

commands:
  check <file...>                       check store files; every problem as file:line:col path: message
  print <file> [--json]                 the resolved store file, defaults filled, secrets masked
  hash-password [--password-stdin]      a scrypt hash for a passwordHash field
  node-bootstrap <store.yaml> <node> [--out <file>] [--mqtt-url <url>]
                                        a node's MQTT login: its bootstrap file and the hash in the store file

options:
  -h, --help                            this help; greetwatch config <command> --help for one command`;

export async function configCommand(argv: string[], io: ConfigIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help' || sub === 'help') {
    for (const line of USAGE.split('\n')) io.out(line);
    return 0;
  }
  if (sub === undefined) return usage(io, 'a command is missing');
  const run = COMMANDS[sub];
  if (!run) return usage(io, `unknown command '${sub}'${didYouMean(sub, Object.keys(COMMANDS))}`);
  if (rest.includes('-h') || rest.includes('--help')) {
    for (const line of HELP[sub]!.split('\n')) io.out(line);
    return 0;
  }
  try {
    return await run(rest, io);
  } catch (err) {
    // problems with a file or input are for people: the message, no stack
    if (err instanceof ConfigError) {
      for (const i of err.issues) io.err(formatIssue(i));
      return 1;
    }
    if (err instanceof GwError) {
      for (const line of err.message.split('\n')) io.err(line);
      return err.code === ErrorCodes.USAGE ? 2 : 1;
    }
    throw err;
  }
}

type Command = (args: string[], io: ConfigIo) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  check: async (args, io) => check(args, io),
  print: async (args, io) => print(args, io),
  'hash-password': hashPasswordCommand,
  'node-bootstrap': nodeBootstrap,
};

function usage(io: ConfigIo, problem: string, sub?: string): number {
  io.err(problem);
  for (const line of (sub ? HELP[sub]! : USAGE).split('\n')) io.err(line);
  return 2;
}

type Options = NonNullable<ParseArgsConfig['options']>;

function parse<O extends Options>(sub: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new GwError(ErrorCodes.USAGE, `${(err as Error).message}\n${HELP[sub]!}`);
  }
}

// ---------------------------------------------------------------------------
// check

function check(args: string[], io: ConfigIo): number {
  const { positionals: files } = parse('check', args, {});
  if (files.length === 0) return usage(io, 'check needs at least one file', 'check');
  const issues: ConfigIssue[] = [];
  let failed = 0;
  for (const file of files) {
    try {
      const { config: cfg, warnings } = resolveConfig(file);
      issues.push(...warnings);
      const sensors = cfg.nodes.reduce((n, node) => n + node.sensors.length, 0);
      const buttons = cfg.nodes.reduce((n, node) => n + node.buttons.length, 0);
      io.out(`${file}: ok (${cfg.nodes.length} nodes, ${sensors} sensors, ${buttons} buttons, ${cfg.users.length} users)`);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      failed++;
      issues.push(...err.issues);
    }
  }
  // two stores that include one template report its problems once
  for (const i of sortIssues(dedupeIssues(issues))) io.err(formatIssue(i));
  return failed > 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------
// print

function print(args: string[], io: ConfigIo): number {
  const { values, positionals } = parse('print', args, { json: { type: 'boolean' } });
  if (positionals.length !== 1) return usage(io, 'print needs exactly one file', 'print');
  const resolved = resolveConfig(positionals[0]!);
  for (const w of resolved.warnings) io.err(formatIssue(w));
  const shown = maskSecrets(ordered(StoreConfig, resolved.config), [], resolved);
  const text = values.json ? JSON.stringify(shown, null, 2) : stringify(shown, { lineWidth: 0 }).trimEnd();
  for (const line of text.split('\n')) io.out(line);
  return 0;
}

const MASK = '***';

/** firmware-config/README.md "Commands": what came from !secret, every passwordHash, every hub token and the integrations' tokens and passwords print as '***'. */
function maskSecrets(value: unknown, path: Path, r: Pick<ResolvedConfig, 'isSecret'>): unknown {
  const last = path[path.length - 1];
  if (r.isSecret(path) || last === 'passwordHash') return MASK;
  if (path.length === 3 && path[0] === 'hub' && path[1] === 'tokens') return MASK;
  // the integrations' credentials: alert targets' tokens, an external Zigbee2MQTT broker's password
  if (path[0] === 'integrations' && (last === 'token' || last === 'password') && typeof value === 'string') return MASK;
  if (Array.isArray(value)) return value.map((v, i) => maskSecrets(v, [...path, i], r));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, [...path, k], r)]));
  }
  // a password inside a URL (hub.influx.url) is as secret as any other
  if (typeof value === 'string' && last === 'url') return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*):[^/@]*@/i, `$1:${MASK}@`);
  return value;
}

/** Keys in the schema's order, so the printout reads like the README's field table. */
function ordered(schema: TSchema, value: unknown): unknown {
  if (KindGuard.IsObject(schema) && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    const keys = [...Object.keys(schema.properties).filter((k) => k in v), ...Object.keys(v).filter((k) => !(k in schema.properties))];
    return Object.fromEntries(keys.map((k) => [k, schema.properties[k] ? ordered(schema.properties[k], v[k]) : v[k]]));
  }
  if (KindGuard.IsArray(schema) && Array.isArray(value)) return value.map((v) => ordered(schema.items, v));
  if (KindGuard.IsUnion(schema)) {
    const match = schema.anyOf.find((s) => Value.Check(s, value));
    return match ? ordered(match, value) : value;
  }
  return value;
}

// ---------------------------------------------------------------------------
// hash-password

async function hashPasswordCommand(args: string[], io: ConfigIo): Promise<number> {
  const { values, positionals } = parse('hash-password', args, { 'password-stdin': { type: 'boolean' } });
  if (positionals.length > 0) return usage(io, 'hash-password takes no arguments (the password is read, never an argument)', 'hash-password');
  let password: string;
  if (values['password-stdin']) {
    password = await firstLine(io.stdin ?? process.stdin);
    if (password === '') {
      io.err('no password: the first line of stdin is empty');
      return 1;
    }
  } else {
    const ask = io.prompt ?? (process.stdin.isTTY ? ttyPrompt : undefined);
    if (!ask) return usage(io, 'stdin is not a terminal: pass --password-stdin to read the password from its first line', 'hash-password');
    password = await ask('password: ');
    if (password !== '' && (await ask('again: ')) !== password) {
      io.err('the two passwords differ');
      return 1;
    }
    if (password === '') {
      io.err('no password given');
      return 1;
    }
  }
  const length = [...password].length;
  if (length < MIN_PASSWORD) {
    io.err(`the password is too short (${length} characters; at least ${MIN_PASSWORD})`);
    return 1;
  }
  io.out(await hashPassword(password));
  return 0;
}

/** The first line, without its line break; stops reading there. */
async function firstLine(input: AsyncIterable<string | Buffer>): Promise<string> {
  const decoder = new StringDecoder('utf8');
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    const nl = text.indexOf('\n');
    if (nl >= 0) return text.slice(0, nl).replace(/\r$/, '');
  }
  return (text + decoder.end()).replace(/\r$/, '');
}

/** Reads a line from the terminal without echoing it. */
function ttyPrompt(question: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolvePw, reject) => {
    let typed = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolvePw(typed);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new GwError(ErrorCodes.USAGE, 'cancelled'));
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else if (ch >= ' ') typed += ch;
      }
    };
    process.stderr.write(question);
    stdin.setEncoding('utf8');
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
  });
}

// ---------------------------------------------------------------------------
// node-bootstrap


async function nodeBootstrap(args: string[], io: ConfigIo): Promise<number> {
  const { values, positionals } = parse('node-bootstrap', args, { out: { type: 'string' }, 'mqtt-url': { type: 'string' } });
  if (positionals.length !== 2) return usage(io, 'node-bootstrap needs the store file and the node id', 'node-bootstrap');
  const [storeFile, nodeId] = positionals as [string, string];
  const urlOption = values['mqtt-url'];
  if (urlOption !== undefined && !/^mqtts?:\/\/[^\s/]+/.test(urlOption)) {
    return usage(io, `--mqtt-url '${urlOption}' is not an mqtt:// or mqtts:// URL`, 'node-bootstrap');
  }
  const resolved = resolveConfig(storeFile);
  for (const w of resolved.warnings) io.err(formatIssue(w));
  const cfg = resolved.config;
  const index = cfg.nodes.findIndex((n) => n.id === nodeId);
  if (index < 0) {
    const ids = cfg.nodes.map((n) => n.id);
    io.err(`${storeFile}: no node '${nodeId}'${didYouMean(nodeId, ids) || (ids.length ? ` (nodes: ${ids.join(', ')})` : ' (the store has no nodes)')}`);
    return 1;
  }
  const node = cfg.nodes[index]!;
  const { host, port, url } = cfg.hub.mqtt;
  const mqttUrl = urlOption ?? url ?? `mqtt://${host}:${port}`;
  if (urlOption === undefined && url === undefined && (host === '0.0.0.0' || host === '::')) {
    io.err(`warning: hub.mqtt.host is ${host}, which a node cannot connect to: set hub.mqtt.url or pass --mqtt-url`);
  }
  const password = generatePassword();
  const hash = await hashPassword(password);
  const boot: NodeBootstrap = { store: cfg.store.id, node: node.id, mqttUrl, username: node.mqtt?.username ?? node.id, password };

  const cwd = io.cwd ?? process.cwd();
  const outShown = values.out ?? `${node.id}.bootstrap.yaml`;
  const out = resolve(cwd, outShown);
  try {
    writeAtomic(out, stringify(boot, { lineWidth: 0 }), 0o600);
  } catch (err) {
    io.err(`${outShown}: cannot write the bootstrap file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return 1;
  }
  io.out(`${outShown}: bootstrap file for node '${node.id}' (mode 0600); copy it to the node and keep it private`);

  const edit = planHashEdit(resolved, index, hash);
  if (edit.kind === 'text') {
    const target = realpathSync(storeFile);
    writeAtomic(target, edit.text, statSync(target).mode & 0o777);
    io.out(`${storeFile}: ${formatPath(['nodes', index, 'mqtt', 'passwordHash'])} updated for node '${node.id}'`);
  } else {
    io.out(`${edit.where}: the hash for node '${node.id}' lives there, not in ${storeFile}; put this line there:`);
    io.out(`  ${edit.line}`);
  }
  return 0;
}

/** Write via a temporary file and rename, so a reader never sees half a file; `mode` despite the umask. */
function writeAtomic(file: string, text: string, mode: number): void {
  const tmp = join(resolve(file, '..'), `.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, text, { mode, flag: 'wx' });
    chmodSync(tmp, mode);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

type HashEdit = { kind: 'text'; text: string } | { kind: 'manual'; where: string; line: string };

/**
 * Where the node's passwordHash goes. The store file is edited only where the value is written
 * in it as a plain value: the YAML document locates the node and its range, and only those
 * characters change, so comments, quoting and flow style elsewhere stay as they were.
 * A hash from !secret, a substitution from !secret, or an included file: the line to put there.
 */
function planHashEdit(r: ResolvedConfig, index: number, hash: string): HashEdit {
  const json = /\.json$/i.test(r.file);
  const quoted = json ? JSON.stringify(hash) : `'${hash}'`;
  const nodePath: Path = ['nodes', index];
  const hashPath: Path = [...nodePath, 'mqtt', 'passwordHash'];
  const at = (o: { value: { file: string; line: number; col: number } }) => `${o.value.file}:${o.value.line}:${o.value.col}`;
  const text = r.text;

  const cfgNode = r.config.nodes[index]!;
  if (cfgNode.mqtt) {
    let o = r.origin(hashPath)!;
    let key = 'passwordHash';
    if (o.substitution !== undefined) {
      key = o.substitution;
      o = r.origin(['substitutions', o.substitution]) ?? o;
    }
    if (o.secret) return { kind: 'manual', where: o.secret.file, line: `${o.secret.name}: '${hash}'` };
    if (o.inTopFile && isScalar(o.node) && !o.node.tag && !String(o.node.value).includes('${')) {
      const range = o.node.range;
      if (range) return checked(r, splice(text, range[0], range[1], quoted), index, hash, { where: at(o), line: `${key}: '${hash}'` });
    }
    return { kind: 'manual', where: at(o), line: `${key}: '${hash}'` };
  }
  const o = r.origin(nodePath)!;
  const manual = { where: at(o), line: `mqtt: { passwordHash: '${hash}' }` };
  const map = o.node;
  if (!o.inTopFile || !isMap(map) || map.tag || map.items.length === 0) return { kind: 'manual', ...manual };
  const last = map.items[map.items.length - 1]!;
  const lastEnd = endOf(last.value ?? last.key);
  const key = json ? '"mqtt"' : 'mqtt';
  const inner = json ? `{"passwordHash": ${quoted}}` : `{ passwordHash: ${quoted} }`;
  if (map.flow) {
    // `{ id: door-1, driver: sim }` → `{ id: door-1, driver: sim, mqtt: { passwordHash: '…' } }`
    if (lastEnd === undefined) return { kind: 'manual', ...manual };
    return checked(r, splice(text, lastEnd, lastEnd, `, ${key}: ${inner}`), index, hash, manual);
  }
  // a block mapping: a new line after the node's last entry, at the indent of its keys
  const firstKey = map.items[0]!.key;
  const keyStart = startOf(firstKey);
  if (keyStart === undefined || lastEnd === undefined) return { kind: 'manual', ...manual };
  const indent = keyStart - (text.lastIndexOf('\n', keyStart - 1) + 1);
  let end = lastEnd;
  while (end > 0 && /\s/.test(text[end - 1]!)) end--;
  const base = text.endsWith('\n') ? text : text + '\n';
  const nl = base.indexOf('\n', end);
  const lineText = `${' '.repeat(indent)}${key}: ${inner}\n`;
  return checked(r, splice(base, nl + 1, nl + 1, lineText), index, hash, manual);
}

function splice(text: string, from: number, to: number, insert: string): string {
  return text.slice(0, from) + insert + text.slice(to);
}

function startOf(node: unknown): number | undefined {
  const range = (node as { range?: unknown } | null)?.range;
  return Array.isArray(range) && typeof range[0] === 'number' ? range[0] : undefined;
}

function endOf(node: unknown): number | undefined {
  const range = (node as { range?: unknown } | null)?.range;
  return Array.isArray(range) && typeof range[1] === 'number' ? range[1] : undefined;
}

/** The edited text must load and carry the new hash for this node; otherwise say where it goes. */
function checked(r: ResolvedConfig, text: string, index: number, hash: string, manual: { where: string; line: string }): HashEdit {
  try {
    const cfg = parseConfig(text, r.file);
    if (cfg.nodes[index]?.mqtt?.passwordHash === hash) return { kind: 'text', text };
  } catch {
    // fall through: the edit did not come out right
  }
  return { kind: 'manual', ...manual };
}

// ---------------------------------------------------------------------------

const stdio: ConfigIo = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  configCommand(process.argv.slice(2), stdio).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

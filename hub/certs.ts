import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify, type ParseArgsConfig } from 'node:util';
import { ID_RE } from '../contract/ids.ts';

// `greetwatch certs`: a local CA and the certificates TLS needs (README "Security"), made by
// the system's `openssl` command (Debian and Raspberry Pi OS ship it): no X.509 by hand here.
// openssl works in a private temporary folder; keys are then written mode 0600 and a file that
// exists is replaced only with --force. Exit codes: 0 ok, 1 a problem, 2 a usage error.

export interface CertsIo {
  out(line: string): void;
  err(line: string): void;
}

const CA_DAYS = 3650;
const LEAF_DAYS = 730;

const HELP = {
  ca: `usage: greetwatch certs ca --out <dir> [--name <name>] [--force]
  Makes a local certificate authority for one store (or a chain): <dir>/ca.key and <dir>/ca.crt,
  valid ${CA_DAYS / 365} years (EC P-256). ca.crt goes to every node (the bootstrap's ca: setting) and
  to machines that call the API; ca.key (mode 0600) signs certificates: keep it off the nodes.
  --out <dir>      where to write them (made mode 0700 if missing)
  --name <name>    the CA's common name [greetwatch local CA]
  --force          replace files that exist (every certificate the old CA signed stops verifying)`,
  hub: `usage: greetwatch certs hub --ca <dir> --host <name-or-ip> [--host …] --out <dir> [--force]
  Makes the hub's server certificate: <dir>/hub.key and <dir>/hub.crt, signed by the CA in
  --ca, valid ${LEAF_DAYS / 365} years, for every --host (DNS names and IP addresses nodes and browsers use
  to reach the hub). Put the paths in hub.mqtt.tls and hub.http.tls.
  --ca <dir>       the folder of ca.crt and ca.key (greetwatch certs ca)
  --host <h>       a name or address of the hub; repeat it for each (e.g. 192.168.1.10, hub.local)
  --out <dir>      where to write them
  --force          replace files that exist`,
  node: `usage: greetwatch certs node --ca <dir> --node <id> --out <dir> [--force]
  Makes a client certificate for a node: <dir>/<id>.key and <dir>/<id>.crt (CN=<id>), signed by
  the CA in --ca, valid ${LEAF_DAYS / 365} years. Optional: the broker authenticates nodes by their login
  (bootstrap username and password) today and does not ask for client certificates; this is for
  networks that require them, or mutual TLS later.
  --ca <dir>       the folder of ca.crt and ca.key (greetwatch certs ca)
  --node <id>      the node id
  --out <dir>      where to write them
  --force          replace files that exist`,
} as const;
type Sub = keyof typeof HELP;

const USAGE = `usage: greetwatch certs <command> [options]   (uses the system's openssl)

commands:
  ca --out <dir>                                    a local CA: ca.key, ca.crt (${CA_DAYS / 365} years)
  hub --ca <dir> --host <h> [--host …] --out <dir>  the hub's server certificate: hub.key, hub.crt (${LEAF_DAYS / 365} years)
  node --ca <dir> --node <id> --out <dir>           a node's client certificate (optional: nodes log in with a password)

options:
  -h, --help                                        this help; greetwatch certs <command> --help for one command`;

/** a problem for people: printed as is, exit `code` */
class CertsError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const run = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd, timeout: 60_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new CertsError('greetwatch certs: the openssl command was not found; install it (sudo apt install openssl) and run this again');
    const detail = (e.stderr ?? '').split('\n').find((l) => l.trim() !== '') ?? e.message;
    throw new CertsError(`greetwatch certs: openssl ${args[0]} failed: ${detail.trim()}`);
  }
}

/** Runs `make` in a private temporary folder (mode 0700) and removes it afterwards, whatever happens. */
async function inTemp<T>(make: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'greetwatch-certs-'));
  try {
    return await make(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const ioError = (file: string, err: unknown) => new CertsError(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);

function prepareOut(dir: string, names: string[], force: boolean): string[] {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw ioError(dir, err);
  }
  const files = names.map((n) => path.join(dir, n));
  const taken = files.filter((f) => fs.existsSync(f));
  if (taken.length && !force) throw new CertsError(`${taken.join(', ')} already exist${taken.length === 1 ? 's' : ''}: nothing written (--force replaces)`);
  return files;
}

/** write-then-rename, so a reader never sees half a file; keys are 0600 from the first byte */
function install(from: string, to: string, mode: number): void {
  const tmp = `${to}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, fs.readFileSync(from), { mode });
    fs.chmodSync(tmp, mode); // umask may have narrowed it: set it as asked
    fs.renameSync(tmp, to);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw ioError(to, err);
  }
}

/** openssl config text for `[section]` lines; values are checked before they get here */
const cnf = (sections: Record<string, Record<string, string>>) =>
  Object.entries(sections)
    .map(([name, kv]) => `[${name}]\n${Object.entries(kv).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`)
    .join('\n');

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const until = (c: X509Certificate) => new Date(c.validTo).toISOString().slice(0, 10);

async function makeCa(args: string[], io: CertsIo): Promise<void> {
  const v = options('ca', args, { out: { type: 'string' }, name: { type: 'string' }, force: { type: 'boolean' } });
  const out = required('ca', v.out, '--out <dir>');
  const name = v.name ?? 'greetwatch local CA';
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(name)) throw new CertsError(`--name '${name}': letters, digits, space, . _ - only (at most 64)`, 2);
  await haveOpenssl();
  const [keyOut, certOut] = prepareOut(out, ['ca.key', 'ca.crt'], v.force === true) as [string, string];
  const cert = await inTemp(async (tmp) => {
    fs.writeFileSync(
      path.join(tmp, 'ca.cnf'),
      // our own config: the system's openssl.cnf differs between versions and would add its own extensions
      cnf({
        req: { distinguished_name: 'dn', prompt: 'no', x509_extensions: 'v3' },
        dn: { CN: name },
        v3: { basicConstraints: 'critical, CA:TRUE, pathlen:0', keyUsage: 'critical, keyCertSign, cRLSign', subjectKeyIdentifier: 'hash' },
      }),
    );
    await openssl(['req', '-x509', '-new', ...EC, '-sha256', '-days', String(CA_DAYS), '-config', 'ca.cnf', '-keyout', 'ca.key', '-out', 'ca.crt'], tmp);
    install(path.join(tmp, 'ca.key'), keyOut, 0o600);
    install(path.join(tmp, 'ca.crt'), certOut, 0o644);
    return new X509Certificate(fs.readFileSync(certOut));
  });
  io.out(`wrote ${certOut}: CA "${name}", valid until ${until(cert)}; copy it to every node (bootstrap ca:) and to machines that call the API`);
  io.out(`wrote ${keyOut} (mode 0600): it signs certificates; keep it here, never on a node`);
  io.out(`next: greetwatch certs hub --ca ${out} --host <the hub's address or name> --out <dir>`);
}

/** a DNS name (a leading *. allowed) or an IP address; anything else could not match a hostname */
const DNS_NAME = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

async function makeHub(args: string[], io: CertsIo): Promise<void> {
  const v = options('hub', args, { ca: { type: 'string' }, host: { type: 'string', multiple: true }, out: { type: 'string' }, force: { type: 'boolean' } });
  const caDir = required('hub', v.ca, '--ca <dir>');
  const out = required('hub', v.out, '--out <dir>');
  const hosts = [...new Set(v.host ?? [])];
  if (hosts.length === 0) throw new CertsError(`greetwatch certs hub: --host <name-or-ip> is required (one for each name or address nodes use)\n${HELP.hub}`, 2);
  const alt: Record<string, string> = {};
  let dns = 0;
  let ip = 0;
  for (const h of hosts) {
    if (h === '0.0.0.0' || h === '::') throw new CertsError(`--host ${h}: a listening address, not one a node connects to; give the hub's LAN address or name`, 2);
    if (net.isIP(h)) alt[`IP.${++ip}`] = h;
    else if (h.length <= 253 && DNS_NAME.test(h)) alt[`DNS.${++dns}`] = h;
    else throw new CertsError(`--host '${h}' is neither a DNS name nor an IP address`, 2);
  }
  // clients match the SANs; the CN is only what people read, so a name reads better than an address
  const cn = hosts.find((h) => h.length <= 64 && !net.isIP(h)) ?? hosts.find((h) => h.length <= 64) ?? 'greetwatch hub';
  await signLeaf({ caDir, out, base: 'hub', cn, ext: { extendedKeyUsage: 'serverAuth', subjectAltName: '@alt' }, alt, force: v.force === true, what: `for ${hosts.join(', ')}`, keyNote: 'readable by the user that runs the hub, no one else' }, io);
  io.out(`in the store file (relative paths are from its folder):`);
  io.out(`  hub.mqtt.tls: { port: 8883, cert: ${path.join(out, 'hub.crt')}, key: ${path.join(out, 'hub.key')} }`);
  io.out(`  hub.http.tls: { cert: ${path.join(out, 'hub.crt')}, key: ${path.join(out, 'hub.key')} }`);
}

async function makeNode(args: string[], io: CertsIo): Promise<void> {
  const v = options('node', args, { ca: { type: 'string' }, node: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' } });
  const caDir = required('node', v.ca, '--ca <dir>');
  const out = required('node', v.out, '--out <dir>');
  const node = required('node', v.node, '--node <id>');
  if (!ID_RE.test(node)) throw new CertsError(`--node '${node}' is not a node id (lower-case letters, digits and -, at most 32)`, 2);
  await signLeaf({ caDir, out, base: node, cn: node, ext: { extendedKeyUsage: 'clientAuth' }, force: v.force === true, what: `for node ${node}`, keyNote: 'copy it to that node only' }, io);
  io.out('note: the broker checks the node by its login today, not by this certificate');
}

/** a key, a request and a certificate signed by the CA in caDir: <out>/<base>.key and <out>/<base>.crt */
interface Leaf {
  caDir: string;
  out: string;
  /** file names: <base>.key, <base>.crt */
  base: string;
  cn: string;
  /** extensions besides the ones every leaf has */
  ext: Record<string, string>;
  /** subjectAltName entries (DNS.1, IP.1 …) */
  alt?: Record<string, string>;
  force: boolean;
  /** what it is for, in the output */
  what: string;
  keyNote: string;
}

async function signLeaf({ caDir, out, base, cn, ext, alt, force, what, keyNote }: Leaf, io: CertsIo): Promise<void> {
  const caCert = path.join(caDir, 'ca.crt');
  const caKey = path.join(caDir, 'ca.key');
  checkCa(caCert, caKey);
  await haveOpenssl();
  const [keyOut, certOut] = prepareOut(out, [`${base}.key`, `${base}.crt`], force) as [string, string];
  const cert = await inTemp(async (tmp) => {
    fs.writeFileSync(path.join(tmp, 'req.cnf'), cnf({ req: { distinguished_name: 'dn', prompt: 'no' }, dn: { CN: cn } }));
    fs.writeFileSync(
      path.join(tmp, 'ext.cnf'),
      cnf({
        v3: { basicConstraints: 'critical, CA:FALSE', keyUsage: 'critical, digitalSignature', ...ext, subjectKeyIdentifier: 'hash', authorityKeyIdentifier: 'keyid, issuer' },
        ...(alt ? { alt } : {}),
      }),
    );
    await openssl(['req', '-new', ...EC, '-config', 'req.cnf', '-keyout', 'leaf.key', '-out', 'leaf.csr'], tmp);
    // a random serial, so no serial file is written next to the CA
    const serial = randomBytes(16);
    serial[0]! &= 0x7f;
    await openssl(
      ['x509', '-req', '-in', 'leaf.csr', '-CA', caCert, '-CAkey', caKey, '-set_serial', `0x${serial.toString('hex')}`, '-days', String(LEAF_DAYS), '-sha256', '-extfile', 'ext.cnf', '-extensions', 'v3', '-out', 'leaf.crt'],
      tmp,
    );
    install(path.join(tmp, 'leaf.key'), keyOut, 0o600);
    install(path.join(tmp, 'leaf.crt'), certOut, 0o644);
    return new X509Certificate(fs.readFileSync(certOut));
  });
  io.out(`wrote ${certOut}: ${what}, signed by ${caCert}, valid until ${until(cert)}`);
  io.out(`wrote ${keyOut} (mode 0600): ${keyNote}`);
}

/** the CA folder holds a CA certificate and its key: said before openssl says it less clearly */
function checkCa(certFile: string, keyFile: string): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(fs.readFileSync(certFile));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CertsError(`${certFile}: ${code === 'ENOENT' ? 'no such file (make the CA with greetwatch certs ca --out <dir>)' : `not a PEM certificate (${code ?? (err as Error).message})`}`);
  }
  if (!cert.ca) throw new CertsError(`${certFile}: not a CA certificate (it cannot sign others)`);
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(fs.readFileSync(keyFile)));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CertsError(`${keyFile}: ${code === 'ENOENT' ? 'no such file (the CA key lives next to ca.crt)' : `not a readable private key (${code ?? (err as Error).message})`}`);
  }
  if (!matches) throw new CertsError(`${keyFile} is not the key of ${certFile}`);
}

/** one clear line when openssl is missing, before any file is touched */
async function haveOpenssl(): Promise<void> {
  await openssl(['version'], os.tmpdir());
}

function options<O extends NonNullable<ParseArgsConfig['options']>>(sub: Sub, args: string[], opts: O) {
  try {
    return parseArgs({ args, options: opts, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new CertsError(`greetwatch certs ${sub}: ${(err as Error).message}\n${HELP[sub]}`, 2);
  }
}

function required(sub: Sub, value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new CertsError(`greetwatch certs ${sub}: ${what} is required\n${HELP[sub]}`, 2);
  return value;
}

const SUBS: Record<Sub, (args: string[], io: CertsIo) => Promise<void>> = { ca: makeCa, hub: makeHub, node: makeNode };

export async function certsCommand(argv: string[], io: CertsIo): Promise<number> {
  const [sub, ...rest] = argv;
  const out = (l: string) => io.out(l);
  const err = (l: string) => io.err(l);
  const lines = (text: string, to: (l: string) => void) => text.split('\n').forEach((l) => to(l));
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    lines(USAGE, sub === undefined ? err : out);
    return sub === undefined ? 2 : 0;
  }
  if (!(sub in SUBS)) {
    io.err(`greetwatch certs: unknown command '${sub}' (ca, hub, node; greetwatch certs --help)`);
    return 2;
  }
  const s = sub as Sub;
  if (rest.includes('-h') || rest.includes('--help')) {
    lines(HELP[s], out);
    return 0;
  }
  try {
    await SUBS[s](rest, io);
    return 0;
  } catch (e) {
    if (!(e instanceof CertsError)) throw e;
    lines(e.message, err);
    return e.exitCode;
  }
}

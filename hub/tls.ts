import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { ErrorCodes, GwError } from '../contract/index.ts';
import type { StoreConfig } from '../firmware-config/schema.ts';

// TLS for the broker (mqtts://) and the API (https://), README "Security". The files are
// PEM (`greetwatch certs`, a company CA or Let's Encrypt); they are read and checked before
// anything listens, so a wrong path stops the start with the setting and the file named.

type Mqtt = StoreConfig['hub']['mqtt'];
type Http = StoreConfig['hub']['http'];
/** what is logged about a certificate (a pino logger, or fastify's) */
type Log = Pick<Logger, 'info' | 'warn' | 'error'>;
interface Files {
  cert: string;
  key: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/** a TLS handshake must complete within this, like an MQTT CONNECT: half-open handshakes do not pile up */
const HANDSHAKE_MS = 10_000;
const WARN_BEFORE_MS = 30 * 86_400_000;

const invalid = (message: string) => new GwError(ErrorCodes.CONFIG_INVALID, message);

function readFile(setting: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? "permission denied (the hub's user must be able to read it)" : code === 'EISDIR' ? 'is a folder, not a file' : (code ?? (err as Error).message);
    throw invalid(`${setting}: cannot read ${file}: ${why} (relative paths are from the store file's folder; greetwatch certs hub makes the files)`);
  }
}

/** Reads and checks a certificate and its key: both PEM, the key unencrypted and belonging to the certificate. */
export function loadTlsFiles(setting: string, files: Files, log?: Log): TlsMaterial {
  const cert = readFile(`${setting}.cert`, files.cert);
  const key = readFile(`${setting}.key`, files.key);
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw invalid(`${setting}.cert: ${files.cert} is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)`);
  let x509: X509Certificate;
  try {
    // the first certificate is the server's own; any after it are the chain
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw invalid(`${setting}.cert: ${files.cert} is not a readable PEM certificate (${(err as Error).message})`);
  }
  const text = key.toString('latin1');
  if (text.includes('ENCRYPTED')) throw invalid(`${setting}.key: ${files.key} is encrypted; the hub cannot ask for a passphrase (decrypt it: openssl pkey -in <file> -out <new file>)`);
  if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(text)) throw invalid(`${setting}.key: ${files.key} is not a PEM private key (no -----BEGIN … PRIVATE KEY----- line)`);
  let pk: KeyObject;
  try {
    pk = createPrivateKey(key);
  } catch (err) {
    throw invalid(`${setting}.key: ${files.key} is not a readable PEM private key (${(err as Error).message})`);
  }
  if (!x509.checkPrivateKey(pk)) throw invalid(`${setting}.key: ${files.key} is not the key of ${setting}.cert (${files.cert})`);
  // an expired certificate is logged, not refused: a hub that will not start would stop the plain listener and the API too
  const left = new Date(x509.validTo).getTime() - Date.now();
  const info = { setting, cert: files.cert, subject: x509.subject.replace(/\n/g, ', '), hosts: x509.subjectAltName, validTo: x509.validTo };
  if (left <= 0) log?.error(info, 'TLS certificate has expired: clients that verify it cannot connect; renew it (greetwatch certs hub)');
  else if (left < WARN_BEFORE_MS) log?.warn(info, 'TLS certificate expires within 30 days; renew it (greetwatch certs hub)');
  else log?.info(info, 'TLS certificate loaded');
  return { cert, key };
}

/**
 * The TLS MQTT listener, or undefined when hub.mqtt.tls is not set. `accept` is the plain
 * listener's own (guard, then broker), so both get the same limits; the guard counts a
 * connection once its handshake is done. Throws CONFIG_INVALID before anything listens.
 */
export function mqttTlsServer(
  mqtt: Mqtt,
  accept: (socket: net.Socket) => void,
  onHandshakeError?: (err: Error, address: string | undefined) => void,
  log?: Log,
): tls.Server | undefined {
  if (!mqtt.tls) {
    if (mqtt.plain === false) throw invalid('hub.mqtt.plain is false but hub.mqtt.tls is not set: the broker would not listen at all');
    return undefined;
  }
  if (mqtt.plain !== false && mqtt.tls.port !== 0 && mqtt.tls.port === mqtt.port) {
    throw invalid(`hub.mqtt.tls.port is ${mqtt.tls.port}, the same as hub.mqtt.port: give TLS its own port (8883), or set hub.mqtt.plain: false`);
  }
  const { cert, key } = loadTlsFiles('hub.mqtt.tls', mqtt.tls, log);
  const server = tls.createServer({ cert, key, minVersion: 'TLSv1.2', handshakeTimeout: HANDSHAKE_MS }, accept);
  // without a listener a failed handshake is silent; with one, a node with a wrong CA shows up in the log
  server.on('tlsClientError', (err, socket) => onHandshakeError?.(err, socket.remoteAddress));
  return server;
}

/** Fastify's `https` option for hub.http.tls, or undefined for plain HTTP. */
export function httpsOptions(http: Http, log?: Log): { cert: Buffer; key: Buffer; minVersion: 'TLSv1.2' } | undefined {
  if (!http.tls) return undefined;
  return { ...loadTlsFiles('hub.http.tls', http.tls, log), minVersion: 'TLSv1.2' };
}

/** `cfg` with the TLS file paths resolved against `baseDir` (the store file's folder), as hub.dataDir is. */
export function withTlsPaths(cfg: StoreConfig, baseDir: string): StoreConfig {
  const abs = <T extends Files>(t: T): T => ({ ...t, cert: path.resolve(baseDir, t.cert), key: path.resolve(baseDir, t.key) });
  const { mqtt, http } = cfg.hub;
  return {
    ...cfg,
    hub: {
      ...cfg.hub,
      mqtt: mqtt.tls ? { ...mqtt, tls: abs(mqtt.tls) } : mqtt,
      http: http.tls ? { ...http, tls: abs(http.tls) } : http,
    },
  };
}

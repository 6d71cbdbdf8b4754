import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { ErrorCodes, GwError } from '../contract/index.ts';

// A managed local InfluxDB 1.x for history when the config names no external server
// (hub.influx.url unset). Everything lives under one dataDir; every instance is
// independent (no module state), so tests can run several side by side.

export interface ManagedInfluxd {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** HTTP API port */
  port: number;
  /** influxd's process id (diagnostics, tests) */
  pid: number;
  /** SIGTERM, wait for exit, SIGKILL after a few seconds. Idempotent. */
  stop(): Promise<void>;
}

export interface StartInfluxdOptions {
  /** meta/, data/, wal/, influxd.conf and influxd.log go here (created if missing) */
  dataDir: string;
  log?: Logger;
  /** influxd binary; default: findInfluxd() */
  bin?: string;
  /** fixed HTTP port (e.g. to restart on the same URL); default: a free port */
  httpPort?: number;
  /** bound on waiting for GET /ping; default 20 s */
  startTimeoutMs?: number;
  /** SIGKILL this long after SIGTERM if influxd has not exited; default 5 s */
  killAfterMs?: number;
}

const HOST = '127.0.0.1';
const CONFIG_FILE = 'influxd.conf';
const LOG_FILE = 'influxd.log';
/** retries when a picked port was taken between probing and influxd binding it */
const MAX_PORT_ATTEMPTS = 5;

/** Absolute path of `influxd` on PATH, or null. */
export function findInfluxd(): string | null {
  const names = process.platform === 'win32' ? ['influxd.exe'] : ['influxd'];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const candidate = path.resolve(dir, name);
      try {
        if (fs.statSync(candidate).isFile()) {
          fs.accessSync(candidate, fs.constants.X_OK);
          return candidate;
        }
      } catch {
        // not here (or not executable): keep looking
      }
    }
  }
  return null;
}

/**
 * A TCP port that was free a moment ago (listen on 0, read it, close). Another process can
 * still take it before we use it: callers retry on EADDRINUSE.
 */
export function freePort(host = HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close((err) => (err ? reject(err) : port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

function portIsFree(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** TOML basic string: JSON's escapes (\" \\ \n \uXXXX) are all valid TOML. */
const tomlStr = (s: string): string => JSON.stringify(s);

function configText(dataDir: string, rpcPort: number, httpPort: number): string {
  const d = (sub: string) => tomlStr(path.join(dataDir, sub));
  // Option names checked against the Debian influxdb 1.6 sample config and `influxd config`.
  return `# Written by greetwatch (hub/influxd.ts) on every start; edits are overwritten.
# Debian's influxd 1.6 names the option reporting-enabled; upstream 1.x names it
# reporting-disabled. influxd ignores unknown keys, so both are set.
reporting-enabled = false
reporting-disabled = true
# RPC (backup/restore) service: default 127.0.0.1:8088 would clash between instances.
bind-address = ${tomlStr(`${HOST}:${rpcPort}`)}

[meta]
  dir = ${d('meta')}
  # default retention policy "autogen" has infinite duration: history is kept forever
  retention-autocreate = true

[data]
  dir = ${d('data')}
  wal-dir = ${d('wal')}
  query-log-enabled = false

[monitor]
  # no _internal database: it would grow the data dir for nothing
  store-enabled = false

[http]
  enabled = true
  bind-address = ${tomlStr(`${HOST}:${httpPort}`)}
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false

[ifql]
  enabled = false

[subscriber]
  enabled = false

[logging]
  suppress-logo = true

# no [[graphite]], [[collectd]], [[opentsdb]] or [[udp]] sections: those listeners stay off
`;
}

/** Last `bytes` of the influxd log, for error messages. */
function logTail(file: string, bytes = 4000): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, bytes);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8').trim();
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '(no influxd log)';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * node:http, not fetch: fetch loads undici on first use, and parsing it costs a long-lived hub
 * about 15 MB of RSS for a few start-up pings (node:http is loaded anyway, by the InfluxDB client).
 */
function pingOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/ping`, { timeout: 1000 }, (res) => {
      res.resume(); // drain so the socket is released
      resolve(res.statusCode === 204);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** Resolves when the child is gone, including when it could never be spawned. */
function watchExit(child: ChildProcess): { exited: Promise<Exit>; state: { exit: Exit | null; spawnError: Error | null } } {
  const state: { exit: Exit | null; spawnError: Error | null } = { exit: null, spawnError: null };
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      state.exit = { code, signal };
      resolve(state.exit);
    });
    child.once('error', (err) => {
      // 'exit' may not follow a spawn failure (ENOENT, EACCES)
      if (child.pid === undefined) {
        state.spawnError = err;
        state.exit = { code: null, signal: null };
        resolve(state.exit);
      }
    });
  });
  return { exited, state };
}

type Attempt = { ok: ManagedInfluxd } | { ok: null; portClash: boolean; error: GwError };

/** Starts influxd on loopback with free ports; resolves once GET /ping answers 204. */
export async function startInfluxd(opts: StartInfluxdOptions): Promise<ManagedInfluxd> {
  const log = (opts.log ?? pino()).child({ name: 'hub:influxd' });
  const bin = opts.bin ?? findInfluxd();
  if (!bin) {
    throw new GwError(ErrorCodes.STORE_IO, 'influxd not found on PATH (install InfluxDB 1.x, e.g. Debian package "influxdb")');
  }
  const dataDir = path.resolve(opts.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  // A fixed port held by someone else (maybe another influxd) could answer our /ping:
  // refuse up front instead of mistaking that server for ours.
  if (opts.httpPort !== undefined && !(await portIsFree(opts.httpPort))) {
    throw new GwError(ErrorCodes.STORE_IO, `influxd HTTP port ${HOST}:${opts.httpPort} is already in use`);
  }
  for (let attempt = 1; ; attempt++) {
    const httpPort = opts.httpPort ?? (await freePort());
    let rpcPort = await freePort();
    while (rpcPort === httpPort) rpcPort = await freePort();
    const res = await launchOnce({ bin, dataDir, httpPort, rpcPort, fixedHttpPort: opts.httpPort !== undefined, log, startTimeoutMs: opts.startTimeoutMs ?? 20_000, killAfterMs: opts.killAfterMs ?? 5_000 });
    if (res.ok) return res.ok;
    if (!res.portClash || attempt >= MAX_PORT_ATTEMPTS) throw res.error;
    log.warn({ attempt, httpPort, rpcPort }, 'an influxd port was taken meanwhile, retrying with other ports');
  }
}

const PID_FILE = 'influxd.pid';

/**
 * An influxd left running on this data dir by a parent that was killed with -9
 * would hold the database lock: stop it first (only if it really is an influxd).
 */
function killStale(dataDir: string, log: Logger): void {
  const pidPath = path.join(dataDir, PID_FILE);
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidPath, 'utf8').trim());
  } catch {
    return;
  }
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (pid > 0 && cmd.includes('influxd') && cmd.includes(dataDir)) {
      log.warn({ pid }, 'stopping an influxd left running on this data dir');
      process.kill(pid, 'SIGKILL');
    }
  } catch {
    // not running any more
  }
  fs.rmSync(pidPath, { force: true });
}

async function launchOnce(a: {
  bin: string;
  dataDir: string;
  httpPort: number;
  rpcPort: number;
  fixedHttpPort: boolean;
  log: Logger;
  startTimeoutMs: number;
  killAfterMs: number;
}): Promise<Attempt> {
  const { bin, dataDir, httpPort, log } = a;
  const configPath = path.join(dataDir, CONFIG_FILE);
  const logPath = path.join(dataDir, LOG_FILE);
  fs.writeFileSync(configPath, configText(dataDir, a.rpcPort, httpPort));
  const logStart = fs.existsSync(logPath) ? fs.statSync(logPath).size : 0;
  killStale(dataDir, log);

  // influxd writes its log straight into the file (no pipe through our event loop), so it
  // keeps logging while the hub is busy, and the log survives for post-mortems.
  const logFd = fs.openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    // its own process group: a Ctrl-C in the terminal reaches only us, and we stop it in order
    child = spawn(bin, ['run', '-config', configPath], { stdio: ['ignore', logFd, logFd], cwd: dataDir, detached: true });
  } finally {
    fs.closeSync(logFd); // the child holds its own descriptor
  }
  if (child.pid !== undefined) fs.writeFileSync(path.join(dataDir, PID_FILE), String(child.pid));
  const { exited, state } = watchExit(child);
  const url = `http://${HOST}:${httpPort}`;
  let ready = false;
  let stopping = false;
  // Dying on its own after start (crash, OOM, killed) is logged; the store then buffers writes.
  // Never rejects: `exited` only resolves, and the handler only logs (logTail catches its errors).
  void exited.then(({ code, signal }) => {
    if (ready && !stopping) {
      log.error({ code: ErrorCodes.STORE_IO, exitCode: code, signal, logTail: logTail(logPath, 2000) }, 'influxd exited unexpectedly');
    }
  });
  // If our process exits without stop(), do not leave an orphan influxd holding the data dir.
  // A parent killed with -9 runs no exit hook: a tiny watchdog stops influxd when we are
  // gone, so a crashed hub (or test worker) never leaves a database server behind.
  const watchdog = child.pid === undefined ? undefined : spawn(
    'sh',
    ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -TERM ${child.pid} 2>/dev/null; sleep 5; kill -KILL ${child.pid} 2>/dev/null`],
    { detached: true, stdio: 'ignore' },
  );
  watchdog?.unref();
  void exited.then(() => watchdog?.kill()); // never rejects: exited only resolves, kill() reports failure as false
  const onParentExit = () => {
    child.kill('SIGTERM');
  };
  process.once('exit', onParentExit);

  const deadline = Date.now() + a.startTimeoutMs;
  while (!state.exit && Date.now() < deadline) {
    if (await pingOk(url)) {
      ready = true;
      break;
    }
    await sleep(100);
  }

  if (ready) {
    log.info({ url, dataDir, pid: child.pid }, 'influxd ready');
    let stopped: Promise<void> | null = null;
    const stop = (): Promise<void> => {
      stopped ??= (async () => {
        stopping = true;
        process.off('exit', onParentExit);
        if (!state.exit) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => {
            log.warn({ pid: child.pid }, 'influxd did not stop after SIGTERM, sending SIGKILL');
            child.kill('SIGKILL');
          }, a.killAfterMs);
          await exited;
          clearTimeout(timer);
        }
        log.info({ url }, 'influxd stopped');
      })();
      return stopped;
    };
    return { ok: { url, port: httpPort, pid: child.pid ?? -1, stop } };
  }

  // Not ready: make sure it is gone before reporting or retrying.
  const earlyExit = state.exit; // set by the watcher, not by us
  stopping = true;
  process.off('exit', onParentExit);
  if (!state.exit) {
    child.kill('SIGKILL');
    await exited;
  }
  let newLog = '';
  try {
    newLog = fs.readFileSync(logPath, 'utf8').slice(logStart);
  } catch {
    // no log: nothing to learn from it
  }
  const why = state.spawnError
    ? `could not be spawned (${state.spawnError.message})`
    : earlyExit
      ? `exited during start (code ${earlyExit.code}, signal ${earlyExit.signal})`
      : `did not answer GET ${url}/ping within ${a.startTimeoutMs} ms`;
  // Retrying only helps when a port we picked ourselves was taken, not a fixed httpPort.
  const clash = /listen tcp ([\d.]+):(\d+): bind: address already in use/i.exec(newLog);
  const portClash = !!clash && !(a.fixedHttpPort && Number(clash[2]) === httpPort);
  const tail = newLog.trim() ? newLog.trim().slice(-3000) : '(nothing logged)';
  return {
    ok: null,
    portClash,
    error: new GwError(ErrorCodes.STORE_IO, `influxd (${bin}) ${why}; ${logPath} ends with:\n${tail}`),
  };
}

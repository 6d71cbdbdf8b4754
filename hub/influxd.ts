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

/** up: answers /ping; restarting: exited on its own and is being started again; stopped: stop() was called (or it exited unsupervised) */
export type InfluxdState = 'up' | 'restarting' | 'stopped';

export interface ManagedInfluxd {
  /** e.g. http://127.0.0.1:41234; the same across restarts */
  url: string;
  /** HTTP API port; the same across restarts, so the store's client keeps its URL */
  port: number;
  /** the process id of the influxd started last (starting or up), undefined when none runs (diagnostics, tests) */
  pid(): number | undefined;
  state(): InfluxdState;
  /** how many times influxd was brought back after exiting on its own */
  restarts(): number;
  /** called on every change of state(); returns the unsubscribe function */
  onState(fn: (s: InfluxdState) => void): () => void;
  /** SIGTERM, wait for exit, SIGKILL after a few seconds; cancels a pending restart. Idempotent. */
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
  /** start influxd again (same data dir, same port) when it exits without stop(); default true */
  supervise?: boolean;
  /** wait before the first restart; doubled after each restart that did not last, up to maxRestartDelayMs; default 500 */
  restartDelayMs?: number;
  /** default 30 s */
  maxRestartDelayMs?: number;
  /** an influxd up this long before it exits is restarted after restartDelayMs again; default 60 s */
  stableMs?: number;
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

/** one influxd process that answered /ping */
interface Instance {
  pid: number | undefined;
  /** resolves when the process is gone (never rejects) */
  exited: Promise<Exit>;
  /** Date.now() when it answered /ping */
  upAt: number;
  /** SIGTERM, wait, SIGKILL after killAfterMs. Idempotent. */
  stop(): Promise<void>;
}

type Attempt = { ok: Instance } | { ok: null; portClash: boolean; aborted: boolean; error: GwError };

interface LaunchSettings {
  bin: string;
  dataDir: string;
  log: Logger;
  startTimeoutMs: number;
  killAfterMs: number;
}

/** Starts one influxd on `httpPort` (or a free one), retrying with other ports when one picked here was taken meanwhile. */
async function launch(s: LaunchSettings, httpPortFixed: number | undefined, hooks: { abort?: AbortSignal; onSpawn?: (pid: number | undefined) => void } = {}): Promise<{ inst: Instance; port: number }> {
  for (let attempt = 1; ; attempt++) {
    if (hooks.abort?.aborted) throw new GwError(ErrorCodes.STORE_IO, 'influxd start cancelled by stop()');
    const httpPort = httpPortFixed ?? (await freePort());
    let rpcPort = await freePort();
    while (rpcPort === httpPort) rpcPort = await freePort();
    const res = await launchOnce({ ...s, httpPort, rpcPort, fixedHttpPort: httpPortFixed !== undefined, ...hooks });
    if (res.ok) return { inst: res.ok, port: httpPort };
    if (res.aborted || !res.portClash || attempt >= MAX_PORT_ATTEMPTS) throw res.error;
    s.log.warn({ attempt, httpPort, rpcPort }, 'an influxd port was taken meanwhile, retrying with other ports');
  }
}

/**
 * Starts influxd on loopback with free ports; resolves once GET /ping answers 204. Supervised
 * (the default), an influxd that exits without stop() is started again on the same data dir and
 * port, after a delay that doubles while it keeps dying; the store's client meanwhile spools
 * its writes and sends them once the server answers again (README "Reliability").
 */
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
  const settings: LaunchSettings = { bin, dataDir, log, startTimeoutMs: opts.startTimeoutMs ?? 20_000, killAfterMs: opts.killAfterMs ?? 5_000 };
  const first = await launch(settings, opts.httpPort);
  const port = first.port;
  const url = `http://${HOST}:${port}`;
  const logPath = path.join(dataDir, LOG_FILE);
  const supervise = opts.supervise ?? true;
  const baseDelay = Math.max(0, opts.restartDelayMs ?? 500);
  const maxDelay = Math.max(baseDelay, opts.maxRestartDelayMs ?? 30_000);
  const stableMs = opts.stableMs ?? 60_000;

  let current: Instance | null = first.inst;
  let pid: number | undefined = first.inst.pid;
  let state: InfluxdState = 'up';
  let restarts = 0;
  let delay = baseDelay;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  /** the restart under way, if any: stop() waits for it, so the two never race */
  let restarting: Promise<void> | null = null;
  const abort = new AbortController();
  const listeners = new Set<(s: InfluxdState) => void>();
  const setState = (next: InfluxdState) => {
    if (state === next) return;
    state = next;
    for (const fn of [...listeners]) {
      try {
        fn(next);
      } catch (err) {
        log.warn({ err }, 'an influxd state listener failed');
      }
    }
  };

  const scheduleRestart = () => {
    const wait = delay;
    delay = Math.min(Math.max(1, delay * 2), maxDelay);
    timer = setTimeout(() => {
      timer = undefined;
      restarting = restart().finally(() => (restarting = null));
    }, wait);
    return wait;
  };

  /** never rejects: a failed start is logged and tried again later */
  const restart = async (): Promise<void> => {
    try {
      // the port is ours only while our influxd holds it: someone else's server could answer our /ping
      if (!(await portIsFree(port))) throw new GwError(ErrorCodes.STORE_IO, `influxd HTTP port ${HOST}:${port} is taken by another process`);
      if (stopping) return;
      const { inst } = await launch(settings, port, { abort: abort.signal, onSpawn: (p) => (pid = p) });
      if (stopping) {
        await inst.stop();
        return;
      }
      restarts++;
      current = inst;
      watch(inst);
      log.info({ url, pid: inst.pid, restarts }, 'influxd is back after exiting on its own');
      setState('up');
    } catch (err) {
      pid = undefined;
      if (stopping) return;
      const retryInMs = scheduleRestart();
      log.error({ code: ErrorCodes.STORE_IO, err: (err as Error).message, retryInMs }, 'influxd could not be restarted; trying again');
    }
  };

  const watch = (inst: Instance) => {
    // never rejects: `exited` only resolves, and the handler only logs and schedules
    void inst.exited.then(({ code, signal }) => {
      if (stopping || current !== inst) return;
      current = null;
      pid = undefined;
      const fields = { code: ErrorCodes.STORE_IO, exitCode: code, signal, logTail: logTail(logPath, 2000) };
      if (!supervise) {
        log.error(fields, 'influxd exited unexpectedly');
        setState('stopped');
        return;
      }
      if (Date.now() - inst.upAt >= stableMs) delay = baseDelay; // it ran for a while: this is not a crash loop
      setState('restarting');
      const restartInMs = scheduleRestart();
      log.error({ ...fields, restartInMs }, 'influxd exited unexpectedly');
    });
  };
  watch(first.inst);

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      abort.abort(); // a start under way gives up waiting for /ping and stops its influxd
      await restarting;
      const c = current;
      current = null;
      await c?.stop();
      pid = undefined;
      setState('stopped');
      log.info({ url }, 'influxd stopped');
    })();
    return stopped;
  };

  return {
    url,
    port,
    pid: () => pid,
    state: () => state,
    restarts: () => restarts,
    onState(fn) {
      listeners.add(fn);
      return () => {
        listeners.delete(fn);
      };
    },
    stop,
  };
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
  /** stop waiting for /ping, stop the child and report `aborted` (stop() during a restart) */
  abort?: AbortSignal | undefined;
  /** told the child's pid as soon as it is spawned */
  onSpawn?: ((pid: number | undefined) => void) | undefined;
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
  a.onSpawn?.(child.pid);
  const { exited, state } = watchExit(child);
  const url = `http://${HOST}:${httpPort}`;
  let ready = false;
  // dying on its own after start (crash, OOM, killed) is logged and handled by startInfluxd's supervisor
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
  // a child that died on its own needs no exit hook any more (restarts would pile them up)
  void exited.then(() => process.off('exit', onParentExit));

  /** SIGTERM, then SIGKILL if it has not exited after killAfterMs */
  const terminate = async () => {
    process.off('exit', onParentExit);
    if (state.exit) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      log.warn({ pid: child.pid }, 'influxd did not stop after SIGTERM, sending SIGKILL');
      child.kill('SIGKILL');
    }, a.killAfterMs);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + a.startTimeoutMs;
  while (!state.exit && Date.now() < deadline && !a.abort?.aborted) {
    if (await pingOk(url)) {
      ready = true;
      break;
    }
    await sleep(100);
  }

  if (ready && !a.abort?.aborted) {
    log.info({ url, dataDir, pid: child.pid }, 'influxd ready');
    let stopped: Promise<void> | null = null;
    const stop = (): Promise<void> => (stopped ??= terminate());
    return { ok: { pid: child.pid, exited, upAt: Date.now(), stop } };
  }
  if (a.abort?.aborted) {
    await terminate();
    return { ok: null, portClash: false, aborted: true, error: new GwError(ErrorCodes.STORE_IO, 'influxd start cancelled by stop()') };
  }

  // Not ready: make sure it is gone before reporting or retrying.
  const earlyExit = state.exit; // set by the watcher, not by us
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
    aborted: false,
    error: new GwError(ErrorCodes.STORE_IO, `influxd (${bin}) ${why}; ${logPath} ends with:\n${tail}`),
  };
}

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';

// Child processes of the comparison bench: started with their output in a log file, stopped by
// pid (SIGTERM, then SIGKILL), and all stopped on error, SIGINT or SIGTERM. RSS comes from
// /proc/<pid>/status.

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<void>;
  /** the log's last lines, to explain a failed start */
  tail(lines?: number): string;
  /** SIGTERM, SIGKILL after `killAfterMs`; idempotent */
  stop(killAfterMs?: number): Promise<void>;
}

const running = new Set<Proc>();

export function startProc(name: string, cmd: string, args: readonly string[], opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string; ipc?: boolean }): Proc {
  const fd = fs.openSync(opts.logFile, 'a');
  const so: SpawnOptions = {
    env: opts.env ?? process.env,
    stdio: ['ignore', fd, fd, ...(opts.ipc ? (['ipc'] as const) : [])],
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  };
  const child = spawn(cmd, args, so);
  fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const p: Proc = {
    name,
    pid: child.pid,
    child,
    logFile: opts.logFile,
    exited,
    tail(lines = 8) {
      try {
        return fs.readFileSync(opts.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
    async stop(killAfterMs = 10_000) {
      running.delete(p);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await exited;
      clearTimeout(t);
    },
  };
  running.add(p);
  void exited.then(() => running.delete(p));
  return p;
}

/** Stops every child still running (on the way out, whatever happened). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop(3_000)));
}

const cleanups: Array<() => Promise<void>> = [];
/** Cleanup run at the end, on error and on SIGINT/SIGTERM (e.g. the shared influxd). */
export function atExit(fn: () => Promise<void>): void {
  cleanups.push(fn);
}
export async function runCleanups(): Promise<void> {
  await stopAll();
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      // best effort: the others still run
    }
  }
}

let interruptsInstalled = false;
/** On SIGINT/SIGTERM: stop what we started, then exit 130/143. */
export function stopOnInterrupt(): void {
  if (interruptsInstalled) return;
  interruptsInstalled = true;
  const on = (sig: NodeJS.Signals, code: number) =>
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping what the bench started…\n`);
      runCleanups().then(
        () => process.exit(code),
        () => process.exit(code),
      );
    });
  on('SIGINT', 130);
  on('SIGTERM', 143);
}

export interface Rss {
  rssMB: number;
  hwmMB: number;
}

/** VmRSS and VmHWM of a process, MB (NaN once it is gone) */
export function rssOf(pid: number): Rss {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024 };
  } catch {
    return { rssMB: NaN, hwmMB: NaN };
  }
}

/** Samples the summed VmRSS of `pids` every `everyMs` until stopped; the max of those sums. */
export function sampleRss(pids: () => readonly number[], everyMs = 250): { stop(): number } {
  let max = 0;
  const take = () => {
    const sum = pids().reduce((s, p) => s + (rssOf(p).rssMB || 0), 0);
    if (sum > max) max = sum;
  };
  take();
  const t = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(t);
      take();
      return max;
    },
  };
}



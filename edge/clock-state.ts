import { execFile } from 'node:child_process';
import type { ClockSync } from '../contract/index.ts';

// Whether the node's wall clock is synchronised, for its retained status: event times are
// the node's clock at the physical edge (CONTRACT.md "Event envelope"), so an installer
// wants to see a node whose NTP sync is lost before its offsets drift. Read from
// `chronyc tracking` (Raspberry Pi OS with chrony) or `timedatectl show` (systemd-timesyncd);
// "unknown" where neither answers.

export type ClockState = ClockSync;

export type RunCommand = (cmd: string, args: string[]) => Promise<string>;

// `err: Error`: execFile always fails with an Error, but @types/node spells ExecFileException
// with Omit<…>, which hides that from prefer-promise-reject-errors
const run: RunCommand = (cmd, args) =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 2000, env: { ...process.env, LC_ALL: 'C' } }, (err: Error | null, stdout: string) => (err ? reject(err) : resolve(stdout)));
  });

/** Parses `chronyc tracking`: "Leap status : Normal" means synchronised; "System time : 0.0001 seconds fast". */
export function parseChrony(text: string): ClockState | null {
  const leap = /^Leap status\s*:\s*(.+)$/m.exec(text)?.[1]?.trim();
  if (!leap) return null;
  const st = /^System time\s*:\s*([\d.]+) seconds (fast|slow)/m.exec(text);
  const state: ClockState = { sync: leap === 'Normal' ? 'synced' : 'unsynced', source: 'chrony' };
  if (st) state.offsetMs = Math.round(Number(st[1]) * 1000 * (st[2] === 'fast' ? 1 : -1) * 1000) / 1000;
  return state;
}

/** Parses `timedatectl show`: NTPSynchronized=yes|no. */
export function parseTimedatectl(text: string): ClockState | null {
  const v = /^NTPSynchronized=(yes|no)$/m.exec(text)?.[1];
  return v ? { sync: v === 'yes' ? 'synced' : 'unsynced', source: 'timedatectl' } : null;
}

export async function probeClock(exec: RunCommand = run): Promise<ClockState> {
  try {
    const c = parseChrony(await exec('chronyc', ['tracking']));
    if (c) return c;
  } catch {
    // no chrony here: try systemd's
  }
  try {
    const t = parseTimedatectl(await exec('timedatectl', ['show']));
    if (t) return t;
  } catch {
    // neither tool answers (a container, a laptop without systemd)
  }
  return { sync: 'unknown', source: 'none' };
}

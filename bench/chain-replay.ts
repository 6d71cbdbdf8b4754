// (i) What-if replay of a chain (README "Record and replay a day"), as an owner runs it: the
// built CLI, `greetwatch replay <folder> --config a.yaml,b.yaml,… --rules … --stats`, over
// simulated traces of several stores (scripts/store-sim.ts, the fixture store's shape), with one
// worker and with one per core, interleaved. From its own --stats line: events/s, and what a
// year of a twenty-store chain of such stores would take at that rate.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../firmware-config/load.ts';
import { simulateStore } from '../scripts/store-sim.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface ChainReplayFigures {
  stores: number;
  days: number;
  events: number;
  traceMB: number;
  /** per --jobs value: events/s and wall seconds of each round (as --stats prints them) */
  runs: { jobs: number; eventsPerS: number[]; seconds: number[] }[];
  /** events per store and day in these traces */
  eventsPerStoreDay: number;
}

const STATS = /greetwatch replay: (\d+) events of \d+ store\(s\) from \d+ file\(s\) in ([\d.]+) s .*: (\d+) events\/s/;

export function measureChainReplay(o: { quick: boolean; say: (line: string) => void }): ChainReplayFigures {
  const stores = 4;
  const days = o.quick ? 14 : 90;
  const rounds = o.quick ? 1 : 3;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-chain-'));
  try {
    const fixture = path.join(root, 'test', 'fixtures', 'store.yaml');
    const text = fs.readFileSync(fixture, 'utf8');
    const cfg = loadConfig(fixture);
    fs.mkdirSync(path.join(dir, 'traces'));
    const configs: string[] = [];
    let events = 0;
    let bytes = 0;
    o.say(`(i) chain replay: simulating ${stores} stores × ${days} days…`);
    for (let s = 0; s < stores; s++) {
      const id = `store${s}`;
      const file = path.join(dir, `${id}.yaml`);
      fs.writeFileSync(file, text.replace(/^ {2}id: fixture$/m, `  id: ${id}`));
      configs.push(file);
      const sim = simulateStore({
        seed: 1000 + s,
        date: '2026-01-05',
        days,
        store: id,
        timezone: cfg.store.timezone,
        rules: cfg.rules,
        staff: cfg.staff.map((x) => x.id),
        arrivals: { from: '09:00', to: '20:00' },
        rate: [
          [9, 12],
          [11, 32],
          [13, 44],
          [16, 48],
          [18, 40],
        ],
        transport: { duplicates: { p: 0.01, afterMs: [200, 30_000] }, reorder: { p: 0.02, maxMs: 60_000 } },
      });
      const body = sim.lines.join('\n') + '\n';
      // the hub's trace file name, so the folder reads as a hub's traces folder
      fs.writeFileSync(path.join(dir, 'traces', `${id}-2026-01-05.jsonl`), body);
      events += sim.lines.length;
      bytes += Buffer.byteLength(body);
    }
    const jobsList = [1, Math.max(2, os.availableParallelism())];
    const runs = jobsList.map((jobs) => ({ jobs, eventsPerS: [] as number[], seconds: [] as number[] }));
    for (let r = 0; r < rounds; r++) {
      for (const run of runs) {
        o.say(`(i) chain replay: ${fmtInt(events)} events, --jobs ${run.jobs}, round ${r + 1} of ${rounds}…`);
        const res = spawnSync(
          process.execPath,
          [path.join(root, 'bin', 'greetwatch.mjs'), 'replay', path.join(dir, 'traces'), '--config', configs.join(','), '--rules', 'greetWithinS=20,warnAtS=15', '--jobs', String(run.jobs), '--stats'],
          { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
        );
        const m = STATS.exec(res.stderr);
        if (res.status !== 0 || !m) throw new Error(`greetwatch replay failed (exit ${res.status}): ${res.stderr.slice(-500)}`);
        if (Number(m[1]) !== events) throw new Error(`greetwatch replay read ${m[1]} events of ${events}`);
        run.seconds.push(Number(m[2]));
        run.eventsPerS.push(Number(m[3]));
      }
    }
    return { stores, days, events, traceMB: bytes / 1048576, runs, eventsPerStoreDay: events / stores / days };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export function chainReplayTable(f: ChainReplayFigures): { title: string; head: string[]; rows: string[][]; notes: string[] } {
  const year20 = f.eventsPerStoreDay * 365 * 20;
  return {
    title: `(i) what-if replay of a chain: ${f.stores} stores × ${f.days} days, ${fmtInt(f.events)} events (${f.traceMB.toFixed(0)} MB of traces), the built CLI with --rules and --stats; median of ${f.runs[0]!.seconds.length}`,
    head: ['--jobs', 'events/s', 'seconds', 'a year of 20 such stores'],
    rows: f.runs.map((r) => [String(r.jobs), fmtInt(median(r.eventsPerS)), median(r.seconds).toFixed(2), `${(year20 / median(r.eventsPerS) / 60).toFixed(1)} min`]),
    notes: [
      `each store: ${fmtInt(f.eventsPerStoreDay)} events a day (the fixture store's shape, 09:00–20:00); a year of 20 = ${fmtInt(year20)} events, read, validated, replayed and reported`,
      'seconds are the whole command: reading and splitting the files, the replays, the chain row and the output',
    ],
  };
}

// npx tsx bench/hub-cpu.ts [--events 100000] [--runs 6] [--against <checkout>] [--cpu-prof <dir>] [--rate <events/s>] [--history]
//
// The hub's CPU per event under sustained QoS 1 load, for comparing two versions of the hub on
// this noisy machine, where events/s alone swings by a third between runs. Each run starts the
// hub CLI fresh (as bench/compare.ts does: 50 nodes in its store file, no history), connects 10
// nodes with 16 publishes in flight each (bench/load-gen.ts), and reads the hub process's user
// + system CPU from /proc/<pid>/stat before and after the load: every thread of the hub counts
// (the thread pool's writes and fdatasyncs, the collector's helpers). With --against, runs of
// this checkout and of the other (its `npm run build` done) alternate, and each pair's
// difference is printed: the median difference is the figure, not either side's absolute.
// --cpu-prof writes a profile of each hub's main thread there. With --rate the load is paced
// at that many events/s instead (as the compare bench's steady run: [30000] events), and the
// PUBACK p50 and p99 of each pair are compared too, with the journal's commits as /live gives
// them, and entry → screen as the compare bench times it (the live stream's first change
// opening the party). With --history each hub writes its history into a real influxd started
// for the runs (a database per run, as the compare bench does); the influxd's own CPU is not
// the hub's and is not counted. Measures, never asserts.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startTestInfluxd } from '../test/helpers/influxd.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { connectNodes, percentile, runLoad } from './load-gen.ts';
import { atExit, runCleanups } from './procs.ts';
import { greetwatchTarget, STORE } from './systems.ts';

const { values: args } = parseArgs({
  options: { events: { type: 'string' }, runs: { type: 'string', default: '6' }, against: { type: 'string' }, 'cpu-prof': { type: 'string' }, rate: { type: 'string' }, history: { type: 'boolean' } },
});
const rate = args.rate === undefined ? undefined : Number(args.rate);
if (rate !== undefined && !(Number.isFinite(rate) && rate > 0 && rate <= 100_000)) throw new Error(`--rate: events/s between 1 and 100,000, not ${args.rate}`);
const events = Number(args.events ?? (rate ? 30_000 : 100_000));
const runs = Number(args.runs);
if (!Number.isSafeInteger(events) || events < 1000) throw new Error(`--events: a whole number of at least 1000, not ${args.events}`);
if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`--runs: a whole number of at least 1, not ${args.runs}`);
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const trees = [{ name: 'this', root: here }, ...(args.against ? [{ name: 'against', root: path.resolve(args.against) }] : [])];
for (const t of trees) {
  if (!fs.existsSync(path.join(t.root, 'dist', 'hub', 'cli.js'))) throw new Error(`${t.root}: no dist/ (run \`npm run build\` there)`);
}

/** user + system CPU of a process so far, in seconds (clock ticks of 1/100 s) */
function cpuS(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Run {
  tree: string;
  eventsPerS: number;
  cpuUsPerEvent: number;
  pubackP50Ms: number;
  pubackP99Ms: number;
  /** entry → screen, ms (NaN unless paced) */
  screenP50Ms: number;
  screenP99Ms: number;
}

// the compiled hub or an error (bin/greetwatch.mjs), never the sources through tsx
process.env.GREETWATCH_RUN = 'dist';
const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-hub-cpu-'));
atExit(async () => fs.rmSync(baseDir, { recursive: true, force: true }));
const results: Run[] = [];
try {
  let influxUrl: string | undefined;
  if (args.history) {
    const influx = await startTestInfluxd();
    atExit(() => influx.stop());
    influxUrl = influx.url;
  }
  for (let r = 0; r < runs; r++) {
    for (const t of trees) {
      const runDir = path.join(baseDir, `${r}-${t.name}`);
      fs.mkdirSync(runDir, { recursive: true });
      const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(args['cpu-prof'], `${r}-${t.name}`)] : [];
      const sys = await greetwatchTarget(influxUrl, { root: t.root, nodeArgs }).start(r + 1, Array.from({ length: 50 }, (_, i) => `n${i}`), runDir);
      try {
        const conns = await connectNodes({ port: sys.mqttPort, store: STORE, nodes: Array.from({ length: 10 }, (_, i) => `n${i}`), login: (n) => sys.login(n) });
        const pid = sys.pids()[0]!;
        const cpu0 = cpuS(pid);
        const bootid = `b${r}${t.name}`;
        // paced, entry → screen too: published entries waiting to show
        const shown = new Map<string, number>();
        const screenMs: number[] = [];
        let entries = 0;
        const onEntry = (party: string, at: number) => {
          entries++;
          shown.set(party, at);
        };
        const screen =
          rate && sys.screen
            ? await sys.screen((party) => {
                const at = shown.get(party);
                if (at === undefined) return;
                screenMs.push(performance.now() - at);
                shown.delete(party);
              })
            : undefined;
        const load = await runLoad(
          rate
            ? { store: STORE, bootid, conns, total: events, window: Infinity, ratePerS: rate, timeoutMs: (events / rate) * 1000 + 30_000, onEntry }
            : { store: STORE, bootid, conns, total: events, window: 16, timeoutMs: 300_000 },
        );
        const cpu = cpuS(pid) - cpu0;
        if (screen) {
          // the last entries reach the screen, or 2 s pass
          await waitFor(() => shown.size === 0, 'the last entries on the screen', 2_000).catch(() => undefined);
          screen.close();
        }
        if (rate) await sys.landed(bootid); // reads /live: the journal's commits for the notes
        const row: Run = {
          tree: t.name,
          eventsPerS: load.acked / ((load.lastAckMs - load.startMs) / 1000),
          cpuUsPerEvent: (cpu / load.acked) * 1e6,
          pubackP50Ms: percentile(load.puback.subarray(0, load.acked), 50),
          pubackP99Ms: percentile(load.puback.subarray(0, load.acked), 99),
          screenP50Ms: screenMs.length ? percentile(screenMs, 50) : NaN,
          screenP99Ms: screenMs.length ? percentile(screenMs, 99) : NaN,
        };
        results.push(row);
        await Promise.all(conns.map((c) => c.pub.close()));
        process.stdout.write(
          `run ${r + 1} ${t.name.padEnd(7)} ${Math.round(row.eventsPerS).toLocaleString('en-US').padStart(7)} events/s, hub CPU ${row.cpuUsPerEvent.toFixed(1)} µs/event, PUBACK p50 ${row.pubackP50Ms.toFixed(2)} / p99 ${row.pubackP99Ms.toFixed(2)} ms${rate ? `, screen p50 ${row.screenP50Ms.toFixed(1)} / p99 ${row.screenP99Ms.toFixed(1)} ms (${screenMs.length} of ${entries} entries shown)` : ''}${load.acked < events ? ` (${load.acked} of ${events} acknowledged)` : ''}\n`,
        );
        if (rate) for (const n of sys.notes()) process.stdout.write(`        ${n}\n`);
      } finally {
        await sys.stop();
      }
    }
  }
} finally {
  await runCleanups();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const runsOf = (name: string) => results.filter((x) => x.tree === name);
for (const t of trees) {
  const mine = runsOf(t.name);
  process.stdout.write(
    `${t.name} (${t.root}): median ${Math.round(median(mine.map((x) => x.eventsPerS))).toLocaleString('en-US')} events/s, ${median(mine.map((x) => x.cpuUsPerEvent)).toFixed(1)} µs CPU/event, PUBACK p50 ${median(mine.map((x) => x.pubackP50Ms)).toFixed(2)} / p99 ${median(mine.map((x) => x.pubackP99Ms)).toFixed(2)} ms over ${mine.length} runs\n`,
  );
}
if (trees.length === 2) {
  const [mine, other] = [runsOf('this'), runsOf('against')];
  // run r of each side ran one after the other: a pair
  const paired = (of: (x: Run) => number, what: string, digits: number) => {
    const d = mine.map((x, i) => of(x) - of(other[i]!));
    process.stdout.write(`this − against, per pair: ${d.map((x) => (x >= 0 ? '+' : '') + x.toFixed(digits)).join(' ')} ${what}; median ${median(d).toFixed(digits)}, ${d.filter((x) => x < 0).length} of ${d.length} pairs lower\n`);
  };
  paired((x) => x.cpuUsPerEvent, 'µs CPU/event', 1);
  // paced, the load does not depend on the round trip: the acknowledgement times are the figure
  if (rate) {
    paired((x) => x.pubackP50Ms, 'ms PUBACK p50', 2);
    paired((x) => x.pubackP99Ms, 'ms PUBACK p99', 2);
    paired((x) => x.screenP50Ms, 'ms entry → screen p50', 1);
    paired((x) => x.screenP99Ms, 'ms entry → screen p99', 1);
  }
}

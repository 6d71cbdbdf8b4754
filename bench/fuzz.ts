// npm run fuzz -- [--packets N] [--payloads N] [--http N] [--seed S] [--phase-seconds N] [--no-guard]
//                 [--json file] [--dump-conn i] [--dump-payload i] [--dump-request i]
//
// Fuzzes a real hub (startHub in a child process, node logins, 127.0.0.1 only):
//   1. MQTT packets at the listener: mutated and random packets over many short TCP
//      connections, odd CONNECTs, packets before CONNECT, and a valid CONNECT followed by
//      mutated packets; the guard is raised for this so that aedes and the ingest see the
//      packets; a last short phase runs a second hub with the default guard to check it holds;
//   2. malformed event payloads from a logged-in node on its own events topic (QoS 0 and 1);
//   3. bad HTTP parameters, paths, headers, tokens and methods.
// After each phase: the hub is alive, /healthz answers, a real node's event is accepted, and
// the rejects add up. Bounded in count and in time (--phase-seconds per phase). The seed is
// printed; the same seed makes the same connections, payloads and requests, and --dump-*
// prints one of them. The code is shared with the CI run (test/helpers/fuzz.ts).
//
// Prints a table of measured figures (never asserted), then the checks; exits 1 if one failed.

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { dumpConnection, dumpPayload, dumpRequest, formatReport, runFuzz } from '../test/helpers/fuzz.ts';

const { values: a } = parseArgs({
  options: {
    packets: { type: 'string' },
    payloads: { type: 'string' },
    http: { type: 'string' },
    seed: { type: 'string' },
    'phase-seconds': { type: 'string' },
    'no-guard': { type: 'boolean' },
    json: { type: 'string' },
    'dump-conn': { type: 'string' },
    'dump-payload': { type: 'string' },
    'dump-request': { type: 'string' },
  },
});

const count = (name: string, raw: string | undefined, dflt: number): number => {
  const n = raw === undefined ? dflt : Number(raw.replace(/[_,]/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${name}: expected a whole number, got ${raw}`);
    process.exit(2);
  }
  return n;
};

const seed = count('seed', a.seed, Math.floor(Math.random() * 2 ** 31));
if (a['dump-conn'] !== undefined || a['dump-payload'] !== undefined || a['dump-request'] !== undefined) {
  if (a['dump-conn'] !== undefined) console.log(dumpConnection(seed, count('dump-conn', a['dump-conn'], 0)));
  if (a['dump-payload'] !== undefined) console.log(dumpPayload(seed, count('dump-payload', a['dump-payload'], 0)));
  if (a['dump-request'] !== undefined) console.log(dumpRequest(seed, count('dump-request', a['dump-request'], 0)));
  process.exit(0);
}

const options = {
  seed,
  packets: count('packets', a.packets, 1_000_000),
  payloads: count('payloads', a.payloads, 1_000_000),
  http: count('http', a.http, 20_000),
  phaseSeconds: count('phase-seconds', a['phase-seconds'], 900),
  guardPhase: !a['no-guard'],
};
console.log(`fuzz: seed ${seed} (rerun with --seed ${seed}); ${options.packets} packets, ${options.payloads} payloads, ${options.http} HTTP requests; at most ${options.phaseSeconds} s a phase`);
const t0 = performance.now();
const report = await runFuzz({ ...options, progress: (line) => console.log(`  [${((performance.now() - t0) / 1000).toFixed(0)} s] ${line}`) });
console.log('');
console.log(formatReport(report));
if (a.json) fs.writeFileSync(a.json, JSON.stringify(report, null, 2));
const failed = report.checks.filter((c) => !c.ok);
console.log('');
console.log(failed.length ? `${failed.length} check(s) FAILED (seed ${seed})` : `all ${report.checks.length} checks passed (seed ${seed})`);
process.exit(failed.length ? 1 : 0);

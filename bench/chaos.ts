// npm run chaos (tsx bench/chaos.ts [--only hub-kill,link-cut] [--short] [--json <file>])
//
// Chaos scenarios against a real hub and simulated edge nodes on 127.0.0.1 (test/helpers/chaos.ts):
//   hub-kill           the hub process SIGKILLed under load and restarted on the same data dir
//   node-kill          a node process SIGKILLed mid-stream and restarted on the same folder
//   influx-outage      influxd stopped and restarted while traffic flows
//   link-cut           the nodes' TCP link to the hub cut and restored (test/helpers/tcp-proxy.ts)
//   clock-step         a node's clock stepped +5 s (NTP) mid-run
//   trace-full         the hub's trace recorder failing every write for a while (disk full, as the recorder sees it)
//   trace-short-write  the hub process under RLIMIT_FSIZE: the kernel's own short write and EFBIG
// Each ends with the hub's /report compared with `greetwatch replay` of its trace, and lost
// and doubled events counted from the nodes' bootid/seq. Measures, never asserts: prints a
// table, then each scenario's differences and notes, then the figures as JSON.

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { FULL_SCALE, SCENARIOS, SHORT_SCALE, formatTable, passed, type ChaosResult, type ScenarioName } from '../test/helpers/chaos.ts';

const { values: args } = parseArgs({ options: { only: { type: 'string' }, short: { type: 'boolean', default: false }, json: { type: 'string' } } });
const names = (args.only ? args.only.split(',') : Object.keys(SCENARIOS)) as ScenarioName[];
for (const n of names) if (!(n in SCENARIOS)) throw new Error(`--only: no scenario ${n} (${Object.keys(SCENARIOS).join(', ')})`);
const scale = args.short ? SHORT_SCALE : FULL_SCALE;

process.stdout.write(
  `chaos: ${names.length} scenarios, ${scale.nodes} nodes at ${scale.rate} (sim-node) or ${scale.inProcessRate} (in-process) parties/h each, ` +
    `${scale.repeats} × ${scale.faultMs / 1000} s faults (${scale.beforeMs / 1000} s before, ${scale.betweenMs / 1000} s after each)\n`,
);
const rows: ChaosResult[] = [];
for (const name of names) {
  process.stdout.write(`  ${name} …`);
  try {
    const r = await SCENARIOS[name](scale);
    rows.push(r);
    process.stdout.write(` ${passed(r) ? 'ok' : 'FAILED'} (${r.seconds} s)\n`);
  } catch (err) {
    // a scenario that cannot run (no influxd, no prlimit) is a row of its own, not the end of the bench
    process.stdout.write(` could not run: ${(err as Error).message}\n`);
    rows.push({ scenario: name, built: 0, traced: 0, lost: 0, doubled: 0, reportEqual: false, seconds: 0, diff: [], problems: [`could not run: ${(err as Error).message}`], notes: [] });
  }
}

process.stdout.write(`\n${formatTable(rows)}\n\n`);
for (const r of rows) {
  process.stdout.write(`${r.scenario}: ${passed(r) ? 'ok' : 'FAILED'}\n`);
  for (const d of r.diff) process.stdout.write(`  differs  ${d}\n`);
  for (const p of r.problems) process.stdout.write(`  problem  ${p}\n`);
  for (const n of r.notes) process.stdout.write(`  note     ${n}\n`);
}
const json = JSON.stringify({ scale, results: rows }, null, 2);
if (args.json) fs.writeFileSync(args.json, json + '\n');
else process.stdout.write(`\n${json}\n`);
// the simulators' and clients' timers are gone with their scenarios; exit anyway if a socket lingers
process.exit(0);

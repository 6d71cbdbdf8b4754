// Writes the replay fixtures under test/fixtures/ (npx tsx scripts/make-fixtures.ts):
//   store.yaml                       the fixture store (loadConfig-valid)
//   <name>.jsonl                     a simulated hub trace (arrival order, with recvtime)
//   <name>.expected.json             `greetwatch replay <name>.jsonl --config store.yaml` output
//   <name>.truth.json                what really happened (simulator ground truth, summary)
// Seeds are fixed: running it again gives byte-identical files unless the simulator or
// the engine changed (then the diff of *.expected.json is the change to review).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../firmware-config/load.ts';
import { replayTrace } from '../hub/engine/replay.ts';
import type { StoreConfig } from '../firmware-config/schema.ts';
import { simulateStore, type SimOptions, type SimResult, type Truth } from '../test/helpers/store-sim.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURE_DIR = path.join(root, 'test', 'fixtures');
export const STORE_YAML = path.join(FIXTURE_DIR, 'store.yaml');

export const STORE_YAML_TEXT = `# The fixture store of test/fixtures (written by scripts/make-fixtures.ts; edit there).
# Node, sensor and button ids match the simulated events of test/helpers/store-sim.ts.
store:
  id: fixture
  name: Fixture Store
  timezone: Europe/Berlin
  openingHours:
    mon: "09:00-20:00"
    tue: "09:00-20:00"
    wed: "09:00-20:00"
    thu: "09:00-20:00"
    fri: "09:00-20:00"
    sat: "09:00-20:00"
    sun: closed
rules:
  greetWithinS: 30
  stepsLineZones: [floor-mid]
  reorderS: 120
staff:
  - { id: anna, name: Anna }
  - { id: ben, name: Ben }
  - { id: carla, name: Carla }
  - { id: dev, name: Dev }
nodes:
  - id: door
    driver: sim
    sensors:
      - { id: front-beam, kind: beam-pair, outerPin: 17, innerPin: 27 }
    buttons:
      - { id: door-pass, kind: counter, action: staffpass, pin: 23 }
  - id: counter
    driver: sim
    buttons:
      - { id: counter-btn, kind: counter, action: greet, pin: 6 }
      - { id: greet-anna, kind: fob, action: greet, staff: anna }
      - { id: greet-ben, kind: fob, action: greet, staff: ben }
      - { id: greet-carla, kind: fob, action: greet, staff: carla }
      - { id: greet-dev, kind: fob, action: greet, staff: dev }
  - id: floor
    driver: sim
    sensors:
      - { id: mid-pir, kind: pir, zone: floor-mid, pin: 5 }
`;

export interface FixtureSpec {
  name: string;
  description: string;
  sim: Omit<SimOptions, 'rules' | 'store' | 'timezone'>;
}

export const FIXTURES: readonly FixtureSpec[] = [
  {
    name: 'weekday-morning',
    description: 'a quiet Tuesday morning, 09:00–12:00 arrivals, two staff, a few duplicates',
    sim: {
      seed: 20261124,
      date: '2026-11-24',
      arrivals: { from: '09:00', to: '12:00' },
      rate: [
        [9, 8],
        [10, 12],
        [11.5, 16],
        [12, 14],
      ],
      staff: ['anna', 'ben'],
      transport: { duplicates: { p: 0.01, afterMs: [200, 20_000] } },
    },
  },
  {
    name: 'saturday-rush',
    description: 'a busy pre-Christmas Saturday 09:00–20:00, many groups, slower greets, some out-of-order delivery',
    sim: {
      seed: 20261128,
      date: '2026-11-28',
      arrivals: { from: '09:00', to: '20:00' },
      rate: [
        [9, 12],
        [11, 32],
        [13, 44],
        [14.5, 36],
        [16, 48],
        [18, 40],
        [19.5, 24],
        [20, 16],
      ],
      staff: ['anna', 'ben', 'carla', 'dev'],
      behaviour: {
        partySize: [0.4, 0.35, 0.15, 0.1],
        pQuick: 0.64,
        quickMedianS: 13,
        pSlow: 0.22,
        pImpatient: 0.14,
        staffBreaksPerHour: 1,
        orphanGreetsPerHour: 0.3,
      },
      transport: {
        duplicates: { p: 0.01, afterMs: [200, 30_000] },
        reorder: { p: 0.02, maxMs: 60_000 },
      },
    },
  },
  {
    name: 'node-outage',
    description: 'a Thursday 09:00–20:00; the counter node is offline for 100 s at 15:35:40 and flushes its buffer; QoS1 duplicates',
    sim: {
      seed: 20261126,
      date: '2026-11-26',
      arrivals: { from: '09:00', to: '20:00' },
      rate: [
        [9, 10],
        [12, 22],
        [13, 26],
        [15, 24],
        [17.5, 28],
        [20, 14],
      ],
      staff: ['anna', 'carla', 'dev'],
      transport: {
        duplicates: { p: 0.03, afterMs: [200, 30_000] },
        outage: { node: 'counter', at: '15:35:40', durationS: 100 },
      },
    },
  },
];

export function simulateFixture(spec: FixtureSpec, cfg: StoreConfig): SimResult {
  return simulateStore({ ...spec.sim, store: cfg.store.id, timezone: cfg.store.timezone, rules: cfg.rules });
}

/** The truth file: summary figures plus the parties, compact. */
export function truthFile(spec: FixtureSpec, t: Truth): unknown {
  const { parties, ...summary } = t;
  return {
    fixture: spec.name,
    description: spec.description,
    seed: spec.sim.seed,
    ...summary,
    firstTime: new Date(t.firstMs).toISOString(),
    lastTime: new Date(t.lastMs).toISOString(),
    parties: parties.map((p) => ({
      entry: new Date(p.entryMs).toISOString(),
      size: p.size,
      outcome: p.outcome,
      ...(p.ttgMs !== undefined ? { ttgS: p.ttgMs / 1000 } : {}),
      ...(p.staff !== undefined ? { staff: p.staff } : {}),
      ...(p.breachMs !== undefined ? { breachS: (p.breachMs - p.entryMs) / 1000 } : {}),
      ...(p.leaveMs !== undefined ? { leaveS: (p.leaveMs - p.entryMs) / 1000 } : {}),
    })),
  };
}

const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';

function main(): void {
  fs.mkdirSync(FIXTURE_DIR, { recursive: true });
  fs.writeFileSync(STORE_YAML, STORE_YAML_TEXT);
  const cfg = loadConfig(STORE_YAML);
  for (const spec of FIXTURES) {
    const sim = simulateFixture(spec, cfg);
    const trace = sim.lines.join('\n') + '\n';
    const res = replayTrace(sim.lines, cfg);
    if (spec.sim.transport?.outage && sim.truth.outageBuffered < 2) throw new Error(`${spec.name}: the outage holds back only ${sim.truth.outageBuffered} events; move it`);
    if (res.rejected.length) throw new Error(`${spec.name}: the engine rejected ${res.rejected.length} lines: ${JSON.stringify(res.rejected[0])}`);
    fs.writeFileSync(path.join(FIXTURE_DIR, `${spec.name}.jsonl`), trace);
    // same bytes as `greetwatch replay` prints
    fs.writeFileSync(path.join(FIXTURE_DIR, `${spec.name}.expected.json`), json(res.report));
    fs.writeFileSync(path.join(FIXTURE_DIR, `${spec.name}.truth.json`), json(truthFile(spec, sim.truth)));
    const r = res.report;
    const diff = r.serviceLevel !== null && sim.truth.serviceLevel !== null ? r.serviceLevel - sim.truth.serviceLevel : NaN;
    process.stdout.write(
      `${spec.name}: ${sim.lines.length} lines (${(Buffer.byteLength(trace) / 1024).toFixed(0)} KiB), ` +
        `parties truth ${sim.truth.visits} / engine ${r.visits} (+${r.pending} pending), ` +
        `serviceLevel truth ${fmt(sim.truth.serviceLevel)} engine ${fmt(r.serviceLevel)} (${(diff * 100).toFixed(2)} points)\n`,
    );
  }
}

const fmt = (x: number | null) => (x === null ? 'null' : x.toFixed(4));

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();

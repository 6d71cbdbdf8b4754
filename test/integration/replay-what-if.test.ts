import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report, Visit } from '../../contract/index.ts';
import { loadConfig } from '../../firmware-config/load.ts';
import type { Rules, StoreConfig } from '../../firmware-config/schema.ts';
import { replayTrace } from '../../hub/engine/replay.ts';
import { nearestRank } from '../../hub/engine/report.ts';
import type { ChainReport } from '../../hub/replay-what-if.ts';

// `greetwatch replay` what-if (hub/replay-what-if.ts), through the real CLI in a child process:
// vitest cannot load the .ts worker itself. Every figure is checked against an in-process
// replayTrace, the single-store replay of CONTRACT.md "Replay".

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = path.join(root, 'test', 'fixtures');
const BIN = path.join(root, 'bin', 'greetwatch.mjs');

interface Out {
  rules: Partial<Rules>;
  stores: Record<string, Report & { visitList?: Visit[] }>;
  chain: ChainReport;
  skipped?: Record<string, number>;
}

let dir: string;
let cfgA: StoreConfig;
let cfgB: StoreConfig;
const f = (...p: string[]) => path.join(dir, ...p);
const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n');
const asStoreB = (text: string) => text.replaceAll('"source":"/stores/fixture/', '"source":"/stores/fixture-b/');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** a few at a time: each CLI starts its own worker threads */
let running = 0;
const waiting: Array<() => void> = [];
async function spawnCli(args: string[]): Promise<Run> {
  if (running >= 3) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await spawnOnce(args);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

async function spawnOnce(args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, 'replay', ...args], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** each distinct command runs once; beforeAll starts them all, so they overlap (each waits mostly on its workers' start) */
const runs = new Map<string, Promise<Run>>();
const cli = (args: string[]): Promise<Run> => {
  const key = JSON.stringify(args);
  let r = runs.get(key);
  if (!r) runs.set(key, (r = spawnCli(args)));
  return r;
};

async function json(args: string[]): Promise<Out> {
  const r = await cli([...args, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Out;
}

const reportsOf = (o: Out) => ({ ...o, stores: Object.fromEntries(Object.entries(o.stores).map(([k, { visitList: _v, ...r }]) => [k, r])) });
const withRules = (cfg: StoreConfig, rules: Partial<Rules>): StoreConfig => ({ ...cfg, rules: { ...cfg.rules, ...rules } });

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-what-if-'));
  const yaml = fs.readFileSync(path.join(fixtures, 'store.yaml'), 'utf8');
  fs.writeFileSync(f('store.yaml'), yaml);
  fs.writeFileSync(f('store-b.yaml'), yaml.replace('id: fixture\n', 'id: fixture-b\n'));
  cfgA = loadConfig(f('store.yaml'));
  cfgB = loadConfig(f('store-b.yaml'));
  expect(cfgB.store.id).toBe('fixture-b');
  // a hub's data folder: day files of two stores, and an edge journal that is not a trace
  fs.mkdirSync(f('data', 'traces'), { recursive: true });
  fs.mkdirSync(f('data', 'nodes', 'door'), { recursive: true });
  fs.copyFileSync(path.join(fixtures, 'weekday-morning.jsonl'), f('data', 'traces', 'fixture-2026-11-24.jsonl'));
  fs.copyFileSync(path.join(fixtures, 'node-outage.jsonl'), f('data', 'traces', 'fixture-2026-11-26.jsonl'));
  fs.writeFileSync(f('data', 'traces', 'fixture-b-2026-11-28.jsonl'), asStoreB(fs.readFileSync(path.join(fixtures, 'saturday-rush.jsonl'), 'utf8')));
  fs.writeFileSync(f('data', 'nodes', 'door', 'outbox.jsonl'), 'not a trace\n');
  // one file with both stores' events interleaved in arrival order
  const a = lines(path.join(fixtures, 'weekday-morning.jsonl')).filter((l) => l.trim());
  const b = lines(path.join(fixtures, 'weekday-morning.jsonl')).filter((l) => l.trim()).map(asStoreB);
  const recv = (l: string) => Date.parse((JSON.parse(l) as { recvtime: string }).recvtime);
  const mixed: string[] = [];
  for (let i = 0, j = 0; i < a.length || j < b.length; ) mixed.push(j >= b.length || (i < a.length && recv(a[i]!) <= recv(b[j]!)) ? a[i++]! : b[j++]!);
  fs.writeFileSync(f('mixed.jsonl'), mixed.join('\n') + '\n');
  for (const args of COMMANDS()) void cli(args);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const configs = () => ['--config', f('store.yaml'), '--config', f('store-b.yaml')];
const dayFiles = () => ['fixture-2026-11-24.jsonl', 'fixture-2026-11-26.jsonl', 'fixture-b-2026-11-28.jsonl'].map((n) => f('data', 'traces', n));
/** the single-store replay of store A's two days, as one trace (the hub's order: day files concatenated) */
const storeALines = () => [...lines(dayFiles()[0]!), ...lines(dayFiles()[1]!)];
const BASE = () => [f('data'), ...configs(), '--visits'];
const COMMANDS = (): string[][] => [
  [...BASE(), '--json'],
  [dayFiles()[0]!, '--config', f('store.yaml'), '--json'],
  [f('data'), ...configs(), '--rules', 'greetWithinS=20,warnAtS=10', '--json'],
  [f('data'), ...configs(), '--rules', 'greetWithinS=20', '--rules', 'warnAtS=10', '--json'],
  [...dayFiles().reverse(), ...configs(), '--json'],
  [f('data'), ...configs(), '--jobs', '1', '--json'],
  [f('mixed.jsonl'), ...configs(), '--json'],
  [f('data'), '--config', f('store.yaml')],
  [f('data'), ...configs(), '--rules', 'greetWithinSec=20,expireS=soon'],
  [f('data'), ...configs(), '--rules', 'greetWithinS=15'],
  [f('data'), ...configs(), '--rules', 'greetWithinS'],
];

describe('greetwatch replay what-if', () => {
  it('per store: exactly the single-store replay of that store (a one-file run: the same bytes as the expected report)', async () => {
    const out = reportsOf(await json(BASE()));
    expect(Object.keys(out.stores)).toEqual(['fixture', 'fixture-b']);
    expect(out.stores.fixture).toEqual(replayTrace(storeALines(), cfgA).report);
    expect(out.stores['fixture-b']).toEqual(replayTrace(lines(dayFiles()[2]!), cfgB).report);
    expect(out.rules).toEqual({});

    const one = await json([dayFiles()[0]!, '--config', f('store.yaml')]);
    expect(JSON.stringify(one.stores.fixture, null, 2) + '\n').toBe(fs.readFileSync(path.join(fixtures, 'weekday-morning.expected.json'), 'utf8'));
  });

  it('--rules greetWithinS changes met and late exactly as an in-process replay with those rules', async () => {
    const rules = { greetWithinS: 20, warnAtS: 10 };
    const base = await json(BASE());
    const out = await json([f('data'), ...configs(), '--rules', 'greetWithinS=20,warnAtS=10']);
    expect(out.rules).toEqual(rules);
    const wantA = replayTrace(storeALines(), withRules(cfgA, rules)).report;
    const wantB = replayTrace(lines(dayFiles()[2]!), withRules(cfgB, rules)).report;
    expect(out.stores.fixture).toEqual(wantA);
    expect(out.stores['fixture-b']).toEqual(wantB);
    for (const s of ['fixture', 'fixture-b']) {
      // a shorter target: fewer met, as many more late, the rest unchanged
      expect(out.stores[s]!.met).toBeLessThan(base.stores[s]!.met);
      expect(out.stores[s]!.met + out.stores[s]!.late).toBe(base.stores[s]!.met + base.stores[s]!.late);
      expect(out.stores[s]!.visits).toBe(base.stores[s]!.visits);
    }
    // repeated --rules is the same as comma-separated
    expect(await json([f('data'), ...configs(), '--rules', 'greetWithinS=20', '--rules', 'warnAtS=10'])).toEqual(out);
  });

  it('chain: counts summed, service levels and times to greet over the union of the stores\' visits', async () => {
    const out = await json(BASE());
    const stores = Object.values(out.stores);
    const sum = (k: 'visits' | 'met' | 'late' | 'walkouts' | 'shortWalkouts' | 'missed' | 'pending' | 'orphanGreets') => stores.reduce((s, r) => s + r[k], 0);
    const c = out.chain;
    expect(c.stores).toEqual(['fixture', 'fixture-b']);
    for (const k of ['visits', 'met', 'late', 'walkouts', 'shortWalkouts', 'missed', 'pending', 'orphanGreets'] as const) expect(c[k], k).toBe(sum(k));
    expect(c.serviceLevel).toBe(sum('met') / (sum('visits') - sum('shortWalkouts')));
    expect(c.serviceLevelStrict).toBe(sum('met') / sum('visits'));
    // the TTGs of every counted greeted visit of every store, computed here from the visit lists
    const ttgs: number[] = [];
    for (const r of stores) {
      const from = Date.parse(r.from);
      const to = Date.parse(r.to);
      for (const v of r.visitList!) {
        const t = Date.parse(v.entryTime);
        if (t >= from && t < to && (v.outcome === 'met' || v.outcome === 'late') && v.ttgS !== undefined) ttgs.push(v.ttgS);
      }
    }
    ttgs.sort((a, b) => a - b);
    expect(ttgs.length).toBe(sum('met') + sum('late'));
    const ms = (x: number) => Math.round(x * 1000) / 1000;
    expect(c.asgS).toBe(ms(ttgs.reduce((s, x) => s + x, 0) / ttgs.length));
    expect(c.p50S).toBe(ms(nearestRank(ttgs, 50)!));
    expect(c.p90S).toBe(ms(nearestRank(ttgs, 90)!));
    expect(c.maxS).toBe(ms(ttgs[ttgs.length - 1]!));
    // by store-local hour and weekday: each bucket's counts are the stores' summed
    for (let h = 0; h < 24; h++) expect(c.byHour[h]!.visits).toBe(stores.reduce((s, r) => s + r.byHour[h]!.visits, 0));
    for (let d = 0; d < 7; d++) expect(c.byWeekday[d]!.met).toBe(stores.reduce((s, r) => s + r.byWeekday[d]!.met, 0));
    // staff ids are per store file
    expect(Object.keys(c.byStaff)).toEqual(stores.flatMap((r) => Object.keys(r.byStaff).map((id) => `${r.store}/${id}`)).sort());
    expect(c.from).toBe(out.stores.fixture!.from);
    expect(c.to).toBe(out.stores['fixture-b']!.to);
  });

  it('a folder is the hub\'s trace files in it, the same as listing them (in any order); --jobs does not change a figure', async () => {
    const folder = reportsOf(await json(BASE()));
    expect(await json([...dayFiles().reverse(), ...configs()])).toEqual(folder);
    expect(await json([f('data'), ...configs(), '--jobs', '1'])).toEqual(folder);
  });

  it('events of two stores mixed in one file: each store as its own trace would give', async () => {
    const out = await json([f('mixed.jsonl'), ...configs()]);
    const want = replayTrace(lines(path.join(fixtures, 'weekday-morning.jsonl')), cfgA).report;
    expect(out.stores.fixture).toEqual(want);
    expect(out.stores['fixture-b']).toEqual({ ...want, store: 'fixture-b' });
  });

  it('a store without a --config is skipped and said so; the table is the default output', async () => {
    const r = await cli([f('data'), '--config', f('store.yaml')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("lines of store 'fixture-b' skipped: no --config for it [GW_ERR_UNKNOWN_STORE]");
    const want = replayTrace(storeALines(), cfgA).report;
    const row = r.stdout.split('\n').find((l) => l.startsWith('fixture '));
    expect(row?.split(/\s{2,}/).slice(0, 4)).toEqual(['fixture', '2026-11-24 – 2026-11-26', String(want.visits), String(want.met)]);
    expect(r.stdout).not.toContain('chain');
  });

  it('a bad rule key: exit 1 with GW_ERR_CONFIG_INVALID and a did-you-mean; a bad value names the key and why', async () => {
    // every problem at once, as `config check` reports a store file
    const bad = await cli([f('data'), ...configs(), '--rules', 'greetWithinSec=20,expireS=soon']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain("--rules greetWithinSec=20: unknown key 'greetWithinSec'; did you mean 'greetWithinS'? [GW_ERR_CONFIG_INVALID]");
    expect(bad.stderr).toContain("--rules expireS=soon: expected a number, got string 'soon' [GW_ERR_CONFIG_INVALID]");
    // the store file's meaning checks hold too: the warning must come before the deadline
    const meaning = await cli([f('data'), ...configs(), '--rules', 'greetWithinS=15']);
    expect(meaning.code).toBe(1);
    expect(meaning.stderr).toContain('greetWithinS (15) is not above warnAtS (20, the default)');
    const shape = await cli([f('data'), ...configs(), '--rules', 'greetWithinS']);
    expect(shape.code).toBe(1);
    expect(shape.stderr).toContain('expected key=value');
    expect(shape.stderr).toContain('GW_ERR_USAGE');
  });
});

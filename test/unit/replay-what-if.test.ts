import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GwError } from '../../contract/index.ts';
import { loadConfig, resolveConfig } from '../../firmware-config/load.ts';
import { replayTrace } from '../../hub/engine/replay.ts';
import { TimeZone } from '../../hub/engine/tz.ts';
import { applyRules, chainReport, collectTraceFiles, parseRuleOverrides, splitByStore, splitRuleArgs } from '../../hub/replay-what-if.ts';
import { FIXTURE_DIR, STORE_YAML } from '../../scripts/make-fixtures.ts';

// The in-process parts of the what-if replay (hub/replay-what-if.ts): --rules parsing and
// checks, grouping trace lines by store in replay order, the chain figures. The worker pool
// and the CLI are tested through a child process in test/integration/replay-what-if.test.ts.

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-what-if-unit-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GwError);
    return `${(err as GwError).code} ${(err as Error).message}`;
  }
  throw new Error('did not throw');
};

const ev = (store: string, id: string, recv: string, extra = '') =>
  `{"specversion":"1.0","id":"${id}","source":"/stores/${store}/nodes/door","time":"${recv}","bootid":"b1","seq":1,"type":"greetwatch.door.v1","data":{"sensor":"d","state":"open"},"recvtime":"${recv}"${extra}}`;

describe('--rules', () => {
  it('splits on commas outside brackets and takes YAML values', () => {
    expect(splitRuleArgs(['greetWithinS=20,stepsLineZones=[a, b]', ' warnAtS=10 '])).toEqual(['greetWithinS=20', 'stepsLineZones=[a, b]', 'warnAtS=10']);
    expect(parseRuleOverrides(['greetWithinS=20,stepsLineZones=[a, b]', 'minTransitS=2.5'])).toEqual({ greetWithinS: 20, stepsLineZones: ['a', 'b'], minTransitS: 2.5 });
    expect(parseRuleOverrides([])).toEqual({});
  });

  it('a bad key or value: the store file schema\'s message, every problem at once', () => {
    const m = message(() => parseRuleOverrides(['greetwithins=20', 'expireS=-1', 'stepsLineZones=[Bad Zone]']));
    expect(m).toMatch(/^GW_ERR_CONFIG_INVALID /);
    expect(m).toContain("--rules greetwithins=20: unknown key 'greetwithins'; did you mean 'greetWithinS'?");
    expect(m).toContain('--rules expireS=-1: must be at least 0, got -1');
    expect(m).toContain("--rules stepsLineZones=[Bad Zone]: stepsLineZones[0]: 'Bad Zone' is not a valid id");
    expect(message(() => parseRuleOverrides(['greetWithinS']))).toMatch(/^GW_ERR_USAGE .*expected key=value/);
  });

  it('the store file\'s meaning checks apply to the rules that result', () => {
    const r = resolveConfig(STORE_YAML);
    expect(applyRules(r, {})).toBe(r.config);
    expect(applyRules(r, { greetWithinS: 45 }).rules).toEqual({ ...r.config.rules, greetWithinS: 45 });
    expect(message(() => applyRules(r, { stepsLineZones: ['floor-mdi'] }))).toContain("no presence sensor has zone 'floor-mdi'; did you mean 'floor-mid'?");
    // greetWithinS is written in the file, warnAtS is not
    expect(message(() => applyRules(r, { warnAtS: 30 }))).toContain('rules.warnAtS: warnAtS (30) is not below greetWithinS (30): the warning would come at or after the deadline [GW_ERR_CONFIG_INVALID]');
    expect(message(() => applyRules(r, { greetWithinS: 20 }))).toContain('greetWithinS (20) is not above warnAtS (20, the default)');
  });
});

describe('trace files', () => {
  it('a folder gives the hub\'s trace files (<store>-<date>.jsonl) below it, in path order', () => {
    const d = tmp();
    fs.mkdirSync(path.join(d, 'a', 'traces'), { recursive: true });
    fs.mkdirSync(path.join(d, 'a', 'nodes', 'door'), { recursive: true });
    for (const n of ['s2-2026-01-02.jsonl', 's1-2026-01-03.jsonl', 's1-2026-01-02.jsonl', 'notes.jsonl']) fs.writeFileSync(path.join(d, 'a', 'traces', n), '');
    fs.writeFileSync(path.join(d, 'a', 'nodes', 'door', 'outbox.jsonl'), '');
    expect(collectTraceFiles([d]).map((p) => path.relative(d, p))).toEqual(['a/traces/s1-2026-01-02.jsonl', 'a/traces/s1-2026-01-03.jsonl', 'a/traces/s2-2026-01-02.jsonl']);
    expect(message(() => collectTraceFiles([path.join(d, 'missing.jsonl')]))).toContain('cannot read trace (ENOENT)');
  });

  it('groups lines by store; one file keeps its order, several merge by recvtime, ties to the earlier file', () => {
    const d = tmp();
    const f1 = path.join(d, 'one.jsonl');
    const f2 = path.join(d, 'two.jsonl');
    // f1 is not in recvtime order (kept as it is); a line with spaces is found by parsing it
    fs.writeFileSync(f1, [ev('s1', 'a', '2026-01-01T10:00:05Z'), ev('s1', 'b', '2026-01-01T10:00:01Z'), '', ev('s2', 'c', '2026-01-01T10:00:02Z'), 'not json', ev('s1', 'd', '2026-01-01T10:00:09Z').replace('"source":', '"source": ')].join('\n'));
    fs.writeFileSync(f2, [ev('s1', 'e', '2026-01-01T10:00:03Z'), ev('s1', 'f', '2026-01-01T10:00:09Z')].join('\n') + '\n');
    const one = splitByStore([f1]);
    const ids = (t: Uint8Array) => Buffer.from(t).toString('utf8').split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids(one.stores.get('s1')!.text)).toEqual(['a', 'b', 'd']);
    expect([...one.stores.get('s1')!.origin]).toEqual([0, 1, 0, 2, 0, 6]);
    expect(ids(one.stores.get('s2')!.text)).toEqual(['c']);
    expect(one.rejected).toEqual([{ file: 0, line: 5, code: 'GW_ERR_EVENT_JSON', reason: expect.any(String) as string }]);
    const both = splitByStore([f1, f2]);
    // heads: a(05) vs e(03) → e; a(05) vs f(09) → a, b, d(09) ties f(09): the earlier file first
    expect(ids(both.stores.get('s1')!.text)).toEqual(['e', 'a', 'b', 'd', 'f']);
  });
});

describe('chain figures', () => {
  it('of one store: that store\'s report (staff keyed store/staff)', () => {
    const cfg = loadConfig(STORE_YAML);
    const res = replayTrace(fs.readFileSync(path.join(FIXTURE_DIR, 'saturday-rush.jsonl'), 'utf8').split('\n'), cfg);
    const chain = chainReport([{ store: cfg.store.id, tz: new TimeZone(cfg.store.timezone), report: res.report, visits: res.visits }]);
    const { store, byStaff, ...rest } = res.report;
    const { stores, byStaff: chainStaff, ...chainRest } = chain;
    expect(stores).toEqual([store]);
    expect(chainRest).toEqual(rest);
    expect(chainStaff).toEqual(Object.fromEntries(Object.entries(byStaff).map(([k, v]) => [`${store}/${k}`, v])));
  });
});

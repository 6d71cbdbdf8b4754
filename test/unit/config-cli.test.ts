import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../firmware-config/cli.ts';

const ROOT = join(import.meta.dirname, '../..');
const DEMO = join(ROOT, 'firmware-config/examples/demo-store.yaml');
const dir = mkdtempSync(join(tmpdir(), 'gw-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('validate-config CLI', () => {
  it('prints ok with counts and exits 0', () => {
    expect(run([DEMO])).toEqual({ code: 0, out: [`${DEMO}: ok (2 nodes, 3 sensors, 4 buttons)`], err: [] });
  });

  it('prints every error line and exits 1 if any file is invalid', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'store:\n  id: s1\nrules:\n  greetWithinSec: 30\n  warnAtS: soon\n');
    const r = run([DEMO, bad, join(dir, 'missing.yaml')]);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([`${DEMO}: ok (2 nodes, 3 sensors, 4 buttons)`]);
    expect(r.err).toEqual([
      `${bad}:4 rules.greetWithinSec: unknown key 'greetWithinSec'; did you mean 'greetWithinS'?`,
      `${bad}:5 rules.warnAtS: expected a number, got string 'soon'`,
      `${join(dir, 'missing.yaml')}: cannot read config file (no such file)`,
    ]);
  });

  it('prints warnings but still passes', () => {
    const warn = join(dir, 'warn.yaml');
    writeFileSync(warn, 'store: { id: s1 }\nrules: { warnAtS: 40 }\n');
    const r = run([warn]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([`${warn}:2 rules.warnAtS: warning: warnAtS (40) is later than greetWithinS (30): the warning would come after the deadline`]);
  });

  it('usage without arguments', () => {
    expect(run([]).code).toBe(2);
  });

  it('runs as a script without a stack trace', async () => {
    const bad = join(dir, 'syntax.yaml');
    writeFileSync(bad, 'store:\n  id: a\n  id: b\n');
    const tsx = join(ROOT, 'node_modules/.bin/tsx');
    const res = await promisify(execFile)(tsx, [join(ROOT, 'firmware-config/cli.ts'), bad], { cwd: ROOT }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toBe(`${bad}:3: invalid YAML: Map keys must be unique`);
  });
});

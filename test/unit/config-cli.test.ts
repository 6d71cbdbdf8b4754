import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../firmware-config/cli.ts';

// firmware-config/cli.ts (npm run validate-config) is `greetwatch config check` under another name.

const ROOT = join(import.meta.dirname, '../..');
const DEMO = join(ROOT, 'firmware-config/examples/demo-store.yaml');
const dir = mkdtempSync(join(tmpdir(), 'gw-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('validate-config CLI', () => {
  it('prints ok with counts and exits 0', async () => {
    expect(await run([DEMO])).toEqual({ code: 0, out: [`${DEMO}: ok (2 nodes, 3 sensors, 4 buttons, 0 users)`], err: [] });
  });

  it('prints every error line and exits 1 if any file is invalid', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'store:\n  id: s1\nrules:\n  greetWithinSec: 30\n  warnAtS: soon\n');
    const r = await run([DEMO, bad, join(dir, 'missing.yaml')]);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([`${DEMO}: ok (2 nodes, 3 sensors, 4 buttons, 0 users)`]);
    expect(r.err).toEqual([
      `${bad}:4:3 rules.greetWithinSec: unknown key 'greetWithinSec'; did you mean 'greetWithinS'?`,
      `${bad}:5:12 rules.warnAtS: expected a number, got string 'soon'`,
      `${join(dir, 'missing.yaml')}: cannot read config file (no such file)`,
    ]);
  });

  it('prints warnings but still passes', async () => {
    const warn = join(dir, 'warn.yaml');
    writeFileSync(warn, 'store: { id: s1 }\nnodes:\n  - { id: n1, driver: gpio, board: pi4, buttons: [{ id: b, pin: 14 }] }\n');
    const r = await run([warn]);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([`${warn}: ok (1 nodes, 0 sensors, 1 buttons, 0 users)`]);
    expect(r.err).toEqual([
      `${warn}:3:65 nodes[0].buttons[0].pin: warning: pin 14 is TXD, the serial UART on a pi4: it works only with the serial console and UART turned off`,
    ]);
  });

  it('usage without arguments', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.err[0]).toBe('check needs at least one file');
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
    expect(res.stderr.trim()).toBe(`${bad}:3:3: invalid YAML: Map keys must be unique`);
  });
});

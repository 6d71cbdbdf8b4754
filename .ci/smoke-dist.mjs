// CI, after `npm run build`: the compiled code runs under plain node (README "Quick start").
// `npm test` runs the sources; this catches what only dist/ can break: a path found relative
// to the source file (examples, dashboard, package.json), an import tsc did not rewrite, a
// build tool needed at run time. About 10 s. Exits 1 with the reason on the first failure.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, GREETWATCH_RUN: 'dist', LOG_LEVEL: 'warn' };
const fail = (msg) => {
  process.stderr.write(`smoke-dist: ${msg}\n`);
  process.exit(1);
};

// bin/greetwatch.mjs picks dist/ (GREETWATCH_RUN=dist refuses anything else) and every command loads
for (const args of [['--help'], ['hub', '--help'], ['node', '--help'], ['config', 'check', 'firmware-config/examples/demo-store.yaml']]) {
  try {
    execFileSync(process.execPath, ['bin/greetwatch.mjs', ...args], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    fail(`greetwatch ${args.join(' ')} failed: ${String(err.stderr ?? err.message).trim()}`);
  }
}

// the compiled demo, from another folder: hub, edge agents, history, dashboard
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-smoke-'));
const demo = spawn(process.execPath, [path.join(root, 'dist/scripts/demo.js')], {
  cwd: os.tmpdir(),
  env: { ...env, GREETWATCH_HTTP_PORT: '0', GREETWATCH_MQTT_PORT: '0', GREETWATCH_DATA_DIR: dataDir },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let out = '';
demo.stdout.on('data', (d) => (out += d));
demo.stderr.on('data', (d) => (out += d));
const timer = setTimeout(() => {
  demo.kill('SIGKILL');
  fail(`the compiled demo did not come up in 30 s:\n${out}`);
}, 30_000);
const url = await new Promise((resolve) => {
  demo.stdout.on('data', () => {
    const m = /Floor (?:dashboard|view)\s*: (\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
  demo.once('exit', (code) => fail(`the compiled demo exited (${code}) before it was up:\n${out}`));
});
try {
  const page = await fetch(url);
  const html = await page.text();
  if (page.status !== 200 || !html.includes('<html')) fail(`GET ${url} gave ${page.status}: the dashboard bundle is not served from dist/dashboard`);
  // the page's script, by the hashed name Vite gave it (scripts/build-dashboard.ts)
  const src = /<script type="module"[^>]* src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  if (!src) fail(`GET ${url}: the page names no script under /assets/`);
  const js = await fetch(new URL(src, url));
  if (js.status !== 200) fail(`GET ${src} gave ${js.status}`);
  const floor = await fetch(new URL('/api/stores/demo/floor', url));
  if (floor.status !== 200) fail(`GET /api/stores/demo/floor gave ${floor.status}`);
  // no build tool process under the running demo (its only child may be a managed influxd)
  // (ps exits 1 when there is no child at all: only its output counts)
  const children = spawnSync('ps', ['-o', 'args=', '--ppid', String(demo.pid)], { encoding: 'utf8' }).stdout.trim();
  if (/esbuild|tsx|vite/.test(children)) fail(`a build tool runs under the compiled demo:\n${children}`);
} finally {
  demo.removeAllListeners('exit');
  demo.kill('SIGTERM');
}
const code = await new Promise((resolve) => demo.once('exit', (c) => resolve(c)));
clearTimeout(timer);
fs.rmSync(dataDir, { recursive: true, force: true });
if (code !== 0) fail(`the compiled demo exited ${code} on SIGTERM:\n${out}`);
process.stdout.write('smoke-dist: compiled CLI and demo ok\n');

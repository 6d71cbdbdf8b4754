#!/usr/bin/env node
// `npm run build`: the run-time code as plain JS in dist/ (tsc, tsconfig.build.json) and the
// dashboard pages in dist/dashboard/ (scripts/build-dashboard.ts, Vite), so the hub, the demo
// and the Pi unit run under plain node with no build tool process (README "Quick start").
//   node scripts/build.mjs              build (tsc is incremental: unchanged files are not re-emitted)
//   node scripts/build.mjs --if-needed  only when a source changed since the last build (`npm start`)
//   node scripts/build.mjs --clean      remove dist/ first (drops output of deleted sources)
// Plain JS: it runs before anything is compiled, and needs no TypeScript loader.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildInputs, buildState, DIST, ROOT, STAMP } from '../bin/build-state.mjs';

const { values } = parseArgs({ options: { 'if-needed': { type: 'boolean' }, clean: { type: 'boolean' } }, strict: true });

function fail(message) {
  process.stderr.write(`build: ${message}\n`);
  process.exit(1);
}

if (values['if-needed'] && !values.clean && buildState().fresh) process.exit(0);

const t0 = performance.now();
// taken before anything is read: a source saved while tsc runs is newer than the stamp, so
// the next start builds again instead of trusting output made from the older text
const startedAt = Date.now();
const inputs = buildInputs().length;
if (values.clean) fs.rmSync(DIST, { recursive: true, force: true });
// no stamp while dist/ is half written: bin/greetwatch.mjs runs the sources meanwhile
fs.rmSync(STAMP, { force: true });

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  fail('typescript is not installed (a devDependency): run `npm ci` first, without --omit=dev');
}
const r = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
if (r.status !== 0) fail(`tsc -p tsconfig.build.json failed${r.signal ? ` (${r.signal})` : ''}`);

// the dashboard builder as tsc just compiled it: no TypeScript loader needed here either (Vite,
// a devDependency, reads dashboard/vite.config.ts itself)
const { buildDashboard } = /** @type {{ buildDashboard(outDir: string): Promise<void> }} */ (
  await import(pathToFileURL(path.join(DIST, 'scripts', 'build-dashboard.js')).href)
);
await buildDashboard(path.join(DIST, 'dashboard'));

fs.writeFileSync(STAMP, JSON.stringify({ startedAt, inputs }) + '\n');
process.stdout.write(`build: dist/ ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

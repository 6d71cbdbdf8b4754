import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * A replay's garbage dies young (parsed lines, buffered events, closed parties): semi-spaces of
 * 32 MB instead of V8's 16 scavenge half as often. Bench (i) measured 3–22 % more events/s with
 * one worker and 6–11 % with two; the price is at most 48 MB more per worker while it replays.
 */
export const REPLAY_YOUNG_GENERATION_MB = 96;

/**
 * A worker thread running `entry` (a .ts URL next to its caller) for this build: under tsx
 * (development) the sources are .ts and Node 20 does not apply tsx's `--import` hooks to a
 * worker's entry file (not even with execArgv), so a small JS entry registers tsx in the
 * worker first; compiled to dist/*.js the entry is the .js beside it.
 */
export function startWorker(entry: URL, youngGenerationMb?: number): Worker {
  const opts = youngGenerationMb === undefined ? {} : { resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb } };
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL(entry.href.replace(/\.ts$/, '.js')), opts);
  // CommonJS-compatible eval code: dynamic import works whatever Node decides the code is
  const code = `import(${JSON.stringify(tsxEsmApi(here))}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(code, { eval: true, ...opts });
}

/**
 * The URL of tsx's ESM API (`tsx/esm/api`). tsx compiles this file as CommonJS when the entry
 * is CommonJS, and then import.meta has no resolve: read the package's exports instead (its
 * CommonJS build cannot register the ESM hooks from a worker).
 */
function tsxEsmApi(from: string): string {
  const meta: { resolve?: (specifier: string) => string } = import.meta;
  if (typeof meta.resolve === 'function') return meta.resolve('tsx/esm/api');
  const pkgFile = createRequire(from).resolve('tsx/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { exports?: Record<string, { import?: { default?: string } | string }> };
  const entry = pkg.exports?.['./esm/api']?.import;
  const file = typeof entry === 'string' ? entry : entry?.default;
  if (!file) throw new Error(`${pkgFile}: no ESM entry for tsx/esm/api`);
  return pathToFileURL(path.join(path.dirname(pkgFile), file)).href;
}

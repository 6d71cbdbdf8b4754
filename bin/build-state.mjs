// Is dist/ (`npm run build`, scripts/build.mjs) built from the sources as they are now?
// Plain JS on purpose: bin/greetwatch.mjs asks before it decides between dist/ and tsx, so
// this must run without a TypeScript loader. It only stats files: a few ms at every start.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = path.join(ROOT, 'dist');
/** written last by a successful build: `{ startedAt, inputs }` */
export const STAMP = path.join(DIST, '.build-stamp.json');

/** what the build reads: the run-time code (tsconfig.build.json) and the dashboard (scripts/build-dashboard.ts) */
const INPUT_DIRS = ['contract', 'edge', 'hub', 'firmware-config', 'scripts', 'dashboard'];
const INPUT_EXT = new Set(['.ts', '.mts', '.cts', '.html', '.css']);
/** Vite builds whatever the pages import (dashboard/vite.config.ts): every file there counts, an image as much as a script */
const ALL_FILES_DIRS = new Set(['dashboard']);
/** a page the hub serves (hub/http/dashboard-routes.ts): without it dist/ is not built, whatever the stamp says */
const DASHBOARD_PAGE = path.join('dist', 'dashboard', 'floor.html');
// not package.json or the lock file: the output does not depend on them, and `npm prune` (the Pi
// installer, after the build) may rewrite the lock file, which would make a fresh build look stale
const INPUT_FILES = ['tsconfig.json', 'tsconfig.build.json', 'bin/build-state.mjs', 'scripts/build.mjs'];

/** every build input with its mtime (folders are walked; dot folders and node_modules skipped) */
export function buildInputs(root = ROOT) {
  const out = [];
  const walk = (dir, all) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p, all);
      else if (e.isFile() && (all || INPUT_EXT.has(path.extname(e.name)))) out.push({ file: p, mtimeMs: fs.statSync(p).mtimeMs });
    }
  };
  for (const d of INPUT_DIRS) {
    const p = path.join(root, d);
    if (fs.existsSync(p)) walk(p, ALL_FILES_DIRS.has(d));
  }
  for (const f of INPUT_FILES) {
    const p = path.join(root, f);
    try {
      out.push({ file: p, mtimeMs: fs.statSync(p).mtimeMs });
    } catch {
      // absent in a partial copy: it then simply does not count
    }
  }
  return out;
}

/**
 * `{ fresh: true }`, or `{ fresh: false, reason }` in words for a person. Stale when the
 * stamp is missing (never built, or a build is running or failed), a source changed after
 * the last build started, a source was added or removed (the count differs), or the built
 * floor page is gone (dist/dashboard removed by hand).
 */
export function buildState(root = ROOT) {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(root, 'dist', '.build-stamp.json'), 'utf8'));
  } catch {
    return { fresh: false, reason: 'dist/ is not built' };
  }
  if (!fs.existsSync(path.join(root, DASHBOARD_PAGE))) return { fresh: false, reason: `${DASHBOARD_PAGE} is missing` };
  const inputs = buildInputs(root);
  if (typeof stamp?.startedAt !== 'number' || stamp.inputs !== inputs.length) return { fresh: false, reason: 'sources were added or removed since the last build' };
  const newer = inputs.find((i) => i.mtimeMs >= stamp.startedAt);
  if (newer) return { fresh: false, reason: `${path.relative(root, newer.file)} changed since the last build` };
  return { fresh: true };
}

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';
import { repoRoot } from '../hub/repo-root.ts';

// Build step for the dashboard: Vite (dashboard/vite.config.ts) builds every dashboard/*.html
// page with its scripts and styles into <outDir>: <page>.html and content-hashed assets/. The
// hub serves these files as they are (hub/http/dashboard-routes.ts) and runs no build tool
// itself; Vite is a devDependency. `npm run build` calls this with <repo>/dist/dashboard; as a
// script: `tsx scripts/build-dashboard.ts [outDir]`.

/** assets of an earlier build are kept this long: a page served just before the swap still loads its own */
const KEEP_OLD_ASSETS_MS = 60_000;

/** every file under `dir`, as paths relative to it */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/**
 * Moves a finished build from `stage` into `outDir` file by file with rename: a hub, or a
 * concurrent build (two test runs), never reads half a file, and a page never names an asset
 * that is not there yet (assets go first, pages last).
 */
function install(stage: string, outDir: string): void {
  const built = filesUnder(stage);
  const order = [...built.filter((f) => !f.endsWith('.html')), ...built.filter((f) => f.endsWith('.html'))];
  for (const f of order) {
    const to = path.join(outDir, f);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.renameSync(path.join(stage, f), to);
  }
  // what the sources no longer make: pages at once, assets once no page just served can want them
  const keep = new Set(built);
  const now = Date.now();
  for (const f of filesUnder(outDir)) {
    if (keep.has(f)) continue;
    const p = path.join(outDir, f);
    try {
      if (f.endsWith('.html') || now - fs.statSync(p).mtimeMs > KEEP_OLD_ASSETS_MS) fs.rmSync(p, { force: true });
    } catch {
      // removed meanwhile by a concurrent build
    }
  }
}

export async function buildDashboard(outDir: string): Promise<void> {
  const src = path.join(repoRoot(), 'dashboard');
  const stage = path.join(path.dirname(outDir), `.${path.basename(outDir)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    await build({ configFile: path.join(src, 'vite.config.ts'), logLevel: 'warn', build: { outDir: stage, emptyOutDir: true } });
    if (!filesUnder(stage).some((f) => f.endsWith('.html'))) throw new Error(`vite built no page from ${src}/*.html`);
    install(stage, outDir);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) {
  const outDir = path.resolve(process.argv[2] ?? path.join(repoRoot(), 'dist', 'dashboard'));
  buildDashboard(outDir).then(
    () => console.log(`dashboard built in ${outDir}`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}

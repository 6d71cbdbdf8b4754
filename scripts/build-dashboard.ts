import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { repoRoot } from '../hub/repo-root.ts';

// Build step for the floor page: dashboard/floor.ts bundled for the browser into
// <outDir>/floor.js, next to a copy of dashboard/floor.html. The hub serves these files
// as they are (hub/plugins/http.ts) and runs no build tool itself. `npm run build` calls
// this with <repo>/dist/dashboard; as a script: `tsx scripts/build-dashboard.ts [outDir]`.

/** writes `text` to `file` through a temporary file and a rename: a hub or a concurrent build never reads half a file */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

export async function buildDashboard(outDir: string): Promise<void> {
  const src = path.join(repoRoot(), 'dashboard');
  const out = await esbuild.build({
    entryPoints: [path.join(src, 'floor.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2020',
    minify: true,
    logLevel: 'silent',
  });
  const js = out.outputFiles[0];
  if (!js) throw new Error('esbuild produced no output for dashboard/floor.ts');
  fs.mkdirSync(outDir, { recursive: true });
  writeAtomic(path.join(outDir, 'floor.js'), js.text);
  writeAtomic(path.join(outDir, 'floor.html'), fs.readFileSync(path.join(src, 'floor.html'), 'utf8'));
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

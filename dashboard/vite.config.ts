import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard build (README "Quick start": `npm run build`, scripts/build-dashboard.ts): a
// multi-page app, one page per dashboard/*.html, found when the build runs, so a new page needs
// no change here. Output in dist/dashboard (the hub serves it: hub/http/dashboard-routes.ts),
// scripts and styles content-hashed under assets/. Build only: the hub runs no dev server.

const root = path.dirname(fileURLToPath(import.meta.url));
const pages = Object.fromEntries(
  fs
    .readdirSync(root)
    .filter((f) => f.endsWith('.html'))
    .sort()
    .map((f) => [path.basename(f, '.html'), path.join(root, f)]),
);

export default defineConfig({
  root,
  base: '/',
  // no public/ folder: every file the pages use is imported, so it gets a hashed name
  publicDir: false,
  logLevel: 'warn',
  clearScreen: false,
  build: {
    outDir: path.join(root, '..', 'dist', 'dashboard'),
    emptyOutDir: true,
    target: 'es2020',
    assetsDir: 'assets',
    sourcemap: false,
    rolldownOptions: { input: pages },
  },
});

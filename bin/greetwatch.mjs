#!/usr/bin/env node
// npm bin: runs the compiled CLI (dist/hub/cli.js, `npm run build`) when dist/ is built from the
// sources as they are, else the TypeScript sources through tsx's loader (a developer between an
// edit and a build). tsx costs a loader and an esbuild process, so production runs dist/:
//   GREETWATCH_RUN=dist    dist/ or nothing: stale or missing is an error (the Pi unit sets it)
//   GREETWATCH_RUN=source  the sources through tsx, without asking
import { buildState, ROOT } from './build-state.mjs';

const argv = process.argv.slice(2);
const mode = process.env.GREETWATCH_RUN ?? 'auto';
if (!['auto', 'dist', 'source'].includes(mode)) {
  process.stderr.write(`greetwatch: GREETWATCH_RUN must be dist, source or unset, not '${mode}'\n`);
  process.exit(1);
}
const state = mode === 'source' ? { fresh: false, reason: 'GREETWATCH_RUN=source' } : buildState();

if (state.fresh) {
  const { run } = await import('../dist/hub/cli.js');
  run(argv);
} else if (mode === 'dist') {
  process.stderr.write(`greetwatch: GREETWATCH_RUN=dist but ${state.reason}: run \`npm run build\` in ${ROOT}\n`);
  process.exit(1);
} else {
  // for a person at a terminal only: scripts and tests read stderr (replay prints the lines
  // it rejected there), and one more line would be taken for one of them
  if (mode === 'auto' && process.stderr.isTTY) process.stderr.write(`greetwatch: running the sources through tsx (${state.reason}; \`npm run build\` for the compiled JS)\n`);
  const { register } = await import('tsx/esm/api');
  register();
  const { run } = await import('../hub/cli.ts');
  run(argv);
}

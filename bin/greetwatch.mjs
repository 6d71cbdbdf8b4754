#!/usr/bin/env node
// npm bin: runs the TypeScript CLI through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../hub/cli.ts');
run(process.argv.slice(2));

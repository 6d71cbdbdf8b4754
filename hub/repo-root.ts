import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding greetwatch's package.json, found by walking up from `fromUrl` (default:
 * this module), so paths hold whether the code runs from the sources or from dist/.
 * A package.json of another name (a dist/package.json, say) is passed over.
 */
export function repoRoot(fromUrl: string = import.meta.url): string {
  const start = path.dirname(fileURLToPath(fromUrl));
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'greetwatch') return dir;
    } catch {
      // no (readable) package.json here: look further up
    }
    if (path.dirname(dir) === dir) throw new Error(`greetwatch's package.json not found above ${start}`);
  }
}

/** greetwatch's version from its package.json ('0.0.0' when it cannot be read) */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

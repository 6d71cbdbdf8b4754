import path from 'node:path';
import { buildDashboard } from '../../scripts/build-dashboard.ts';
import { repoRoot } from '../../hub/repo-root.ts';

// vitest globalSetup: the hub serves the built dashboard (README "Live stream"; no build tool at
// run time), so the suite builds it once, where `npm run build` puts it, before any test starts.
export default async function setup(): Promise<void> {
  await buildDashboard(path.join(repoRoot(), 'dist', 'dashboard'));
}

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // builds dist/dashboard once: hubs under test serve the real bundle (scripts/build-dashboard.ts)
    globalSetup: ['test/setup/build-dashboard.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // integration tests start real servers (influxd, aedes, chromium): forks keep them isolated
    pool: 'forks',
    reporters: ['default'],
  },
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { findInfluxd, startInfluxd, type ManagedInfluxd } from '../../hub/influxd.ts';

// A real influxd per test file, in its own temp dir. Missing influxd is a FAILURE, not a
// skip: CI installs it (Debian package "influxdb"), and a silently skipped history test
// would hide a broken store.

export interface TestInfluxd {
  url: string;
  port: number;
  dataDir: string;
  /** stops the server only (data kept), e.g. to simulate an outage */
  stopServer(): Promise<void>;
  /** starts it again on the same data dir and port */
  restart(): Promise<void>;
  /** stops the server and removes the data dir */
  stop(): Promise<void>;
}

export async function startTestInfluxd(opts: { httpPort?: number; log?: Logger } = {}): Promise<TestInfluxd> {
  const bin = findInfluxd();
  if (!bin) {
    throw new Error(
      'influxd not found on PATH: the InfluxDB integration tests need a real InfluxDB 1.x. ' +
        'Install it (e.g. `apt-get install influxdb`) or put influxd on PATH.',
    );
  }
  const log = opts.log ?? pino({ level: process.env.GW_TEST_LOG ?? 'silent' });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'greetwatch-influxd-'));
  let server: ManagedInfluxd | null = null;
  try {
    server = await startInfluxd({ dataDir, bin, log, ...(opts.httpPort !== undefined ? { httpPort: opts.httpPort } : {}) });
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const port = server.port;
  const stopServer = async () => {
    const s = server;
    server = null;
    await s?.stop();
  };
  return {
    url: server.url,
    port,
    dataDir,
    stopServer,
    async restart() {
      await stopServer();
      server = await startInfluxd({ dataDir, bin, log, httpPort: port });
    },
    async stop() {
      await stopServer();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export { waitFor } from './wait.ts';

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ErrorCodes } from '../../contract/index.ts';
import { findInfluxd, startInfluxd, type ManagedInfluxd } from '../../hub/influxd.ts';
import { startTestInfluxd, waitFor } from '../helpers/influxd.ts';
import { captureLog } from '../helpers/capture-log.ts';

// The managed influxd itself (hub/influxd.ts), with the real binary.

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const ping = async (url: string) => {
  try {
    return (await fetch(`${url}/ping`)).status;
  } catch {
    return 0;
  }
};

describe('startInfluxd', () => {
  const dirs: string[] = [];
  const servers: ManagedInfluxd[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'greetwatch-influxd-t-'));
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('finds influxd on PATH (CI installs it: this must not be skipped)', () => {
    expect(findInfluxd(), 'influxd must be installed for these tests').toMatch(/influxd$/);
  });

  it('test helper fails, rather than skips, when influxd is not on PATH', async () => {
    const saved = process.env.PATH;
    process.env.PATH = tmp();
    try {
      await expect(startTestInfluxd()).rejects.toThrow(/influxd not found on PATH/);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('runs two instances side by side on loopback with their own ports, and stops them', async () => {
    const silent = pino({ level: 'silent' });
    const [a, b] = await Promise.all([startInfluxd({ dataDir: tmp(), log: silent }), startInfluxd({ dataDir: tmp(), log: silent })]);
    servers.push(a, b);
    expect(a.port).not.toBe(b.port);
    expect(a.url).toBe(`http://127.0.0.1:${a.port}`);
    expect(await ping(a.url)).toBe(204);
    expect(await ping(b.url)).toBe(204);

    const conf = fs.readFileSync(path.join(dirs[0] ?? '', 'influxd.conf'), 'utf8');
    expect(conf).toMatch(/^bind-address = "127\.0\.0\.1:\d+"$/m);
    expect(conf).not.toMatch(/:8088"/);
    expect(conf).toMatch(/store-enabled = false/);
    expect(conf).toMatch(/log-enabled = false/);

    const aPid = a.pid()!;
    await a.stop();
    await a.stop(); // idempotent
    expect(alive(aPid)).toBe(false);
    expect(await ping(a.url)).toBe(0);
    expect(await ping(b.url)).toBe(204);
  });

  it('logs when influxd dies on its own', async () => {
    const logs = captureLog();
    const s = await startInfluxd({ dataDir: tmp(), log: logs.log });
    servers.push(s);
    process.kill(s.pid()!, 'SIGKILL');
    await waitFor(() => logs.lines().some((l) => l.msg === 'influxd exited unexpectedly'), 'the unexpected-exit log line');
    const line = logs.lines().find((l) => l.msg === 'influxd exited unexpectedly');
    expect(line).toMatchObject({ name: 'hub:influxd', code: ErrorCodes.STORE_IO, signal: 'SIGKILL' });
    await s.stop(); // already gone: still resolves
  });

  it('refuses a fixed HTTP port that is already taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await expect(startInfluxd({ dataDir: tmp(), log: pino({ level: 'silent' }), httpPort: port })).rejects.toMatchObject({
        code: ErrorCodes.STORE_IO,
        message: expect.stringMatching(new RegExp(`port 127\\.0\\.0\\.1:${port} is already in use`)) as unknown,
      });
    } finally {
      blocker.close();
    }
  });

  it('fails with the tail of the influxd log when influxd exits during start', async () => {
    const dir = tmp();
    const fake = path.join(dir, 'fake-influxd');
    fs.writeFileSync(fake, '#!/bin/sh\necho "starting"\necho "run: open server: something is badly wrong" >&2\nexit 3\n', { mode: 0o755 });
    const err: unknown = await startInfluxd({ dataDir: dir, bin: fake, log: pino({ level: 'silent' }) }).then(
      (s) => {
        servers.push(s);
        return null;
      },
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: ErrorCodes.STORE_IO });
    expect((err as Error).message).toMatch(/exited during start \(code 3/);
    expect((err as Error).message).toMatch(/something is badly wrong/);
    expect(fs.readFileSync(path.join(dir, 'influxd.log'), 'utf8')).toMatch(/starting/);
  });

  it('fails clearly when the binary cannot be run', async () => {
    await expect(startInfluxd({ dataDir: tmp(), bin: path.join(os.tmpdir(), 'no-such-influxd'), log: pino({ level: 'silent' }) })).rejects.toThrow(
      /could not be spawned.*ENOENT/,
    );
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ErrorCodes } from '../../contract/index.ts';
import { findInfluxd, startInfluxd, type InfluxdState, type ManagedInfluxd } from '../../hub/influxd.ts';
import { setupHistory } from '../../hub/history-setup.ts';
import { captureLog } from '../helpers/capture-log.ts';
import { waitFor } from '../helpers/wait.ts';
import { loadedStore } from '../helpers/store-config.ts';

// A managed influxd that dies on its own is started again on the same data dir and port
// (README "Reliability"), with the real binary: missing influxd is a failure, not a skip.

function influxdBin(): string {
  const bin = findInfluxd();
  if (!bin) throw new Error('influxd not found on PATH: these tests need a real InfluxDB 1.x (e.g. `apt-get install influxdb`)');
  return bin;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** processes whose command line names `dir` (influxd runs with -config <dir>/influxd.conf) */
const processesOn = (dir: string): string[] =>
  fs.readdirSync('/proc').filter((d) => {
    if (!/^\d+$/.test(d)) return false;
    try {
      return fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false; // gone meanwhile
    }
  });

const query = async (url: string, q: string, db?: string) => {
  const res = await fetch(`${url}/query?${new URLSearchParams({ q, ...(db ? { db } : {}) }).toString()}`, { method: 'POST' });
  expect(res.status).toBe(200);
  return (await res.json()) as { results: Array<{ series?: Array<{ values: unknown[][] }> }> };
};

describe('supervised managed influxd', () => {
  const dirs: string[] = [];
  const servers: ManagedInfluxd[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'greetwatch-influxd-sup-'));
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('restarts an influxd killed with -9 on the same port, with its data', async () => {
    const logs = captureLog();
    const s = await startInfluxd({ dataDir: tmp(), bin: influxdBin(), log: logs.log });
    servers.push(s);
    const states: InfluxdState[] = [];
    s.onState((st) => states.push(st));
    await query(s.url, 'CREATE DATABASE sup');
    const write = await fetch(`${s.url}/write?db=sup&precision=s`, { method: 'POST', body: 'm,k=a v=42i 1700000000' });
    expect(write.status).toBe(204);

    const first = s.pid()!;
    expect(s.state()).toBe('up');
    process.kill(first, 'SIGKILL');
    await waitFor(() => s.state() === 'up' && s.restarts() === 1, 'influxd up again after one restart');

    expect(states).toEqual(['restarting', 'up']);
    expect(alive(first)).toBe(false);
    expect(s.pid()).toBeDefined();
    expect(s.pid()).not.toBe(first);
    const res = await query(s.url, 'SELECT v FROM m', 'sup');
    expect(res.results[0]?.series?.[0]?.values).toEqual([['2023-11-14T22:13:20Z', 42]]);

    const exit = logs.lines().find((l) => l.msg === 'influxd exited unexpectedly');
    expect(exit).toMatchObject({ name: 'hub:influxd', level: 50, code: ErrorCodes.STORE_IO, signal: 'SIGKILL', restartInMs: 500 });
    expect(typeof exit?.logTail).toBe('string');
    expect(logs.lines().find((l) => l.msg === 'influxd is back after exiting on its own')).toMatchObject({ level: 30, url: s.url, restarts: 1 });
  });

  it('stop() while a restart is pending starts nothing and leaves no influxd', async () => {
    const dir = tmp();
    const s = await startInfluxd({ dataDir: dir, bin: influxdBin(), log: pino({ level: 'silent' }) });
    servers.push(s);
    let stopping: Promise<void> | undefined;
    s.onState((st) => {
      if (st === 'restarting') stopping = s.stop(); // at once: the restart is still waiting for its delay
    });
    process.kill(s.pid()!, 'SIGKILL');
    await waitFor(() => stopping !== undefined, 'influxd restarting');
    await stopping;
    expect(s.state()).toBe('stopped');
    expect(s.pid()).toBeUndefined();
    expect(s.restarts()).toBe(0);
    expect(processesOn(dir)).toEqual([]);
  });

  it('stop() while the restarted influxd is still starting stops that process', async () => {
    const dir = tmp();
    // the first start runs the real influxd; a restart runs one that never answers /ping
    const wrapper = path.join(dir, 'influxd-once');
    fs.writeFileSync(wrapper, `#!/bin/sh\nif [ -e "${dir}/started" ]; then exec sleep 600; fi\ntouch "${dir}/started"\nexec "${influxdBin()}" "$@"\n`, { mode: 0o755 });
    const s = await startInfluxd({ dataDir: path.join(dir, 'db'), bin: wrapper, log: pino({ level: 'silent' }), restartDelayMs: 0, startTimeoutMs: 120_000 });
    servers.push(s);
    const first = s.pid()!;
    process.kill(first, 'SIGKILL');
    await waitFor(() => s.state() === 'restarting' && s.pid() !== undefined && s.pid() !== first, 'the restarted process spawned');
    const starting = s.pid()!;
    expect(alive(starting)).toBe(true);
    await s.stop();
    expect(s.state()).toBe('stopped');
    expect(alive(starting)).toBe(false);
    expect(processesOn(path.join(dir, 'db'))).toEqual([]);
  });
});

describe('history on a managed influxd (setupHistory, as npm start and the hub CLI use it)', () => {
  it('says history is down while the managed server restarts, and up again after', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'greetwatch-history-managed-'));
    const cfg = loadedStore({ store: { id: 'hm' }, hub: { influx: { managed: true } } });
    const history = await setupHistory(cfg, dir, pino({ level: 'silent' }), {});
    try {
      expect(history.managed).not.toBeNull();
      const managed = history.managed!;
      await history.store.write([{ store: 'hm', party: 'p1', outcome: 'missed', entryTime: new Date(Date.now() - 3_600_000).toISOString(), size: 1 }]);
      expect(history.store.health()).toEqual({ state: 'up', spool: 0 });
      const seen: string[] = [];
      const off = managed.onState((s) => {
        seen.push(`${s}:${history.store.health().state}`);
      });
      process.kill(managed.pid()!, 'SIGKILL');
      await waitFor(() => managed.restarts() === 1 && managed.state() === 'up', 'the managed influxd back');
      off();
      expect(seen[0]).toBe('restarting:down');
      expect(seen.at(-1)).toBe('up:up');
      expect((await history.store.query('hm', Date.now() - 7_200_000, Date.now())).map((v) => v.party)).toEqual(['p1']);
    } finally {
      await history.store.close();
      await history.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

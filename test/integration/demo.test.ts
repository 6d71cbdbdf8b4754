import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LiveSnapshot } from '../../contract/index.ts';
import { TimeZone } from '../../hub/engine/tz.ts';
import { addWeeks, formatIsoWeek, isoWeekOf } from '../../hub/history/iso-week.ts';
import { waitFor } from '../helpers/wait.ts';

// The README's quick start: `npm start` runs a demo store (hub, managed influxd,
// simulated nodes and shoppers), seeds six weeks of simulated history on its first start
// only, prints the views and the demo logins, and Ctrl-C stops it cleanly.

const root = path.resolve(import.meta.dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-demo-'));
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Demo {
  p: ChildProcess;
  out: () => string;
  url: string;
  logins: Map<string, string>;
}

/** `npm start`'s program on the sources, in the shared data folder, until it prints its views */
async function startDemo(): Promise<Demo> {
  const p = spawn(process.execPath, [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'scripts/demo.ts'], {
    cwd: root,
    env: { ...process.env, GREETWATCH_DATA_DIR: dir, GREETWATCH_HTTP_PORT: '0', GREETWATCH_MQTT_PORT: '0', DEMO_ARRIVALS_PER_HOUR: '3600', INFLUX_URL: '', DEMO_SEED_HISTORY: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(p);
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let url = '';
  await waitFor(() => {
    if (p.exitCode !== null) throw new Error(`demo exited: ${out}`);
    url = /Floor view\s*:\s*(http:\/\/\S+?)\/floor\s/.exec(out)?.[1] ?? '';
    return url !== '';
  }, 'the floor view URL', 90_000, 100);
  await waitFor(() => out.includes('Press Ctrl-C to stop.'), 'the whole banner', 5_000, 50);
  const logins = new Map<string, string>();
  for (const m of out.matchAll(/^\s+(Manager|Owner) view\s*:\s*\S+\s+login (\S+) \/ (\S+)$/gm)) logins.set(m[2]!, m[3]!);
  return { p, out: () => out, url, logins };
}

async function stopDemo(d: Demo): Promise<void> {
  d.p.kill('SIGINT');
  const code = await new Promise<number | null>((r) => (d.p.exitCode !== null ? r(d.p.exitCode) : d.p.once('exit', (c) => r(c))));
  children.delete(d.p);
  expect(code).toBe(0);
  expect(d.out()).toContain('Stopped cleanly.');
}

/** POST /api/login; the session cookie for the API calls after it */
async function login(url: string, user: string, password: string | undefined): Promise<{ status: number; cookie: string }> {
  const res = await fetch(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
  const cookie = (res.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
  return { status: res.status, cookie };
}

/** last week (store-local ISO week): well inside the seeded six */
const lastWeek = () => formatIsoWeek(addWeeks(isoWeekOf(Date.now(), new TimeZone('Europe/Berlin')), -1));

describe('npm start', () => {
  let firstLogins = new Map<string, string>();

  it('runs a live demo store with six weeks of seeded history and demo logins, and stops cleanly on SIGINT', async () => {
    const d = await startDemo();
    const out = d.out();
    expect(out).toMatch(/History: managed InfluxDB/);
    const seeded = /Seeded 6 weeks of simulated history(?: and today so far)?: (\d+) visits in (\d+\.\d) s\./.exec(out);
    expect(seeded, out).not.toBeNull();
    expect(Number(seeded![1])).toBeGreaterThan(5_000);
    expect(Number(seeded![2])).toBeLessThan(20);
    expect(out).toMatch(/Manager view\s*:\s*http:\/\/\S+\/manager\s/);
    expect(out).toMatch(/Owner view\s*:\s*http:\/\/\S+\/owner\s/);
    expect([...d.logins.keys()].sort()).toEqual(['manager', 'owner']);
    firstLogins = d.logins;
    // kept in the data folder, readable only by its owner
    const kept = path.join(dir, 'demo-logins.json');
    expect(JSON.parse(fs.readFileSync(kept, 'utf8'))).toEqual(Object.fromEntries(d.logins));
    expect(fs.statSync(kept).mode & 0o077).toBe(0);

    expect((await fetch(`${d.url}/floor`)).status).toBe(200);
    // the printed logins work (the endpoint of the manager and owner views)
    let cookie = '';
    for (const [user, password] of d.logins) {
      const r = await login(d.url, user, password);
      expect(r.status, `POST /api/login as ${user}`).toBe(200);
      if (user === 'owner') cookie = r.cookie;
    }
    expect((await login(d.url, 'owner', 'not-the-password')).status).toBe(401);
    const get = async (p: string): Promise<unknown> => {
      const res = await fetch(`${d.url}${p}`, { headers: { cookie } });
      expect(res.status, p).toBe(200);
      return res.json();
    };
    // the seeded weeks are in history: last week has visits (from raw points and from the rollups)
    for (const source of ['raw', 'rollup']) {
      const week = (await get(`/api/stores/demo/weekly?week=${lastWeek()}&source=${source}`)) as { summary: { visits: number; serviceLevel: number } };
      expect(week.summary.visits, source).toBeGreaterThan(1_000);
      expect(week.summary.serviceLevel).toBeGreaterThan(0.7);
      expect(week.summary.serviceLevel).toBeLessThan(0.9);
    }
    // simulated shoppers arrive about one a second: someone shows up on the floor or in today's figures
    await waitFor(async () => {
      const live = (await get('/api/stores/demo/live')) as LiveSnapshot;
      return live.history.enabled && live.nodes.filter((n) => n.online).length === 2 && live.open.length > 0;
    }, 'simulated traffic on the live view', 60_000, 200);
    await stopDemo(d);
  }, 180_000);

  it('does not seed again on a second start, and keeps the demo logins', async () => {
    const d = await startDemo();
    const out = d.out();
    expect(out).not.toMatch(/Seeded/);
    expect(out).toMatch(/History already holds \d+ visits of store demo since \d{4}-\d\d-\d\d: no simulated history seeded\./);
    expect(d.logins).toEqual(firstLogins);
    expect((await login(d.url, 'owner', firstLogins.get('owner'))).status).toBe(200);
    await stopDemo(d);
  }, 180_000);
});

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LiveSnapshot } from '../../contract/index.ts';
import { waitFor } from '../helpers/wait.ts';

// The README's quick start: `npm start` runs a demo store (hub, managed influxd,
// simulated nodes and shoppers) and Ctrl-C stops it cleanly.

const root = path.resolve(import.meta.dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-demo-'));
let child: ChildProcess | undefined;

afterAll(() => {
  child?.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('runs a live demo store with history, and stops cleanly on SIGINT', async () => {
    const p = spawn(process.execPath, [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'scripts/demo.ts'], {
      cwd: root,
      env: { ...process.env, GREETWATCH_DATA_DIR: dir, GREETWATCH_HTTP_PORT: '0', GREETWATCH_MQTT_PORT: '0', DEMO_ARRIVALS_PER_HOUR: '3600', INFLUX_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = p;
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let url = '';
    await waitFor(() => {
      if (p.exitCode !== null) throw new Error(`demo exited: ${out}`);
      url = /Floor dashboard\s*:\s*(http:\/\/\S+?)\/?\s/.exec(out)?.[1] ?? '';
      return url !== '';
    }, 'the dashboard URL', 60_000, 100);
    expect(out).toMatch(/History: managed InfluxDB/);
    expect((await fetch(`${url}/`)).status).toBe(200);
    // simulated shoppers arrive about one a second: someone shows up on the floor or in today's figures
    await waitFor(async () => {
      const live = (await (await fetch(`${url}/api/stores/demo/live`)).json()) as LiveSnapshot;
      return live.history.enabled && live.nodes.filter((n) => n.online).length === 2 && (live.open.length > 0 || live.today.visits > 0);
    }, 'simulated traffic on the live view', 60_000, 200);

    p.kill('SIGINT');
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(out).toContain('Stopped cleanly.');
    child = undefined;
  });
});

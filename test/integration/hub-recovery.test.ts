import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { topics, type LiveSnapshot, type Report, type GwEvent } from '../../contract/index.ts';
import { waitFor } from '../helpers/influxd.ts';
import { publishAcked, startHubChild } from '../helpers/child-hub.ts';
import { trace } from '../helpers/trace.ts';
import { apiAuth, childHubStoreFile, password } from '../helpers/logins.ts';

// "Nothing acknowledged is ever lost, not across a kill -9 of the hub": the hub
// records each event before it acknowledges it and replays its trace on start.
// And CONTRACT.md "Replay": replaying the hub's own trace gives the hub's report.

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/greetwatch.mjs');
let dir: string;
let cfgFile: string;
let httpUrl: string;
let mqttUrl: string;
let hub: ChildProcess | undefined;

async function startHubProcess(): Promise<void> {
  hub = await startHubChild(cfgFile, httpUrl);
}

const live = async () => (await (await fetch(`${httpUrl}/api/stores/rec/live`, { headers: apiAuth })).json()) as LiveSnapshot;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-rec-'));
  ({ cfgFile, httpUrl, mqttUrl } = await childHubStoreFile(dir, 'rec'));
  await startHubProcess();
});

afterAll(async () => {
  hub?.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('hub crash and replay', () => {
  it('keeps every acknowledged event across kill -9, and replaying its trace gives its report', async () => {
    const from = new Date(Date.now() - 60_000);
    const t = trace('rec');
    // events stamped when sent, as a node does (the hub estimates node clocks from this)
    const stamp = (e: GwEvent) => ({ ...e, time: new Date().toISOString() }) as GwEvent;
    const finals: string[] = [];
    const reader = await mqtt.connectAsync(mqttUrl, { username: 'reader', password: password('reader'), reconnectPeriod: 0 });
    reader.on('message', (_t, p) => finals.push((JSON.parse(p.toString()) as { party: string }).party));
    await reader.subscribeAsync(topics.visits('rec'), { qos: 1 });
    const a = stamp(t.in(0));
    await publishAcked(mqttUrl, [a]);
    await waitFor(async () => (await live()).open.length === 1, 'party A waiting');
    await publishAcked(mqttUrl, [stamp(t.greet(0, 'anna'))]);
    // A final means groupWindowS has passed on the hub's clock: B is a party of its own
    await waitFor(() => finals.includes(`door/${a.id}`), 'party A final');
    await reader.endAsync();
    const b = stamp(t.in(0));
    await publishAcked(mqttUrl, [b]);
    await waitFor(async () => {
      const l = await live();
      return l.open.length === 1 && l.today.met === 1;
    }, 'party A met, party B waiting');

    hub!.kill('SIGKILL');
    await new Promise((r) => hub!.once('exit', r));
    await startHubProcess();

    // after the crash: B still waits, A still counts
    const after = await live();
    expect(after.open.map((p) => p.party)).toEqual([`door/${b.id}`]);
    expect(after.today).toMatchObject({ visits: 1, met: 1 });

    await publishAcked(mqttUrl, [stamp(t.greet(0, 'ben'))]);
    await waitFor(async () => (await live()).today.met === 2, 'party B met');

    const to = new Date(Date.now() + 60_000);
    const q = `from=${from.toISOString()}&to=${to.toISOString()}`;
    const report = (await (await fetch(`${httpUrl}/api/stores/rec/report?${q}`, { headers: apiAuth })).json()) as Report;
    expect(report).toMatchObject({ visits: 2, met: 2, pending: 0 });
    expect(Object.keys(report.byStaff).sort()).toEqual(['anna', 'ben']);

    // the hub's own recorded trace, replayed offline, gives the same figures
    const traces = fs.readdirSync(path.join(dir, 'data/traces')).map((f) => path.join(dir, 'data/traces', f));
    const all = path.join(dir, 'all.jsonl');
    fs.writeFileSync(all, traces.map((f) => fs.readFileSync(f, 'utf8')).join(''));
    expect(fs.readFileSync(all, 'utf8').trim().split('\n')).toHaveLength(4);
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'replay', all, '--config', cfgFile, '--from', from.toISOString(), '--to', to.toISOString()]);
    const replayed = JSON.parse(stdout) as Report;
    expect(replayed).toEqual(report);
  });
});

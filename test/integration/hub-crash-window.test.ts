import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { topics, type GwEvent, type LiveSnapshot, type Visit } from '../../contract/index.ts';
import { loadConfig } from '../../firmware-config/load.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { apiAuth, childHubStoreFile, password } from '../helpers/logins.ts';
import { publishAcked, startHubChild } from '../helpers/child-hub.ts';
import { trace } from '../helpers/trace.ts';
import { waitFor } from '../helpers/wait.ts';

// A visit that became final just before a kill -9 may never have gone out on `{store}/visits`:
// the restarted hub publishes the final visits its published watermark does not cover, and
// not those it does (README "Reliability"). The first hub is a real process killed with
// SIGKILL; the watermark is kept from moving past the first visit by putting a directory where
// its temp file goes, so "killed before the watermark caught up" happens every run, not by luck.
// The restarted hub runs in this process on an injected clock, so the wait it grants MQTT
// subscribers to reconnect passes when the test says, once its subscriber is in.

let dir: string;
let cfgFile: string;
let httpUrl: string;
let mqttUrl: string;
let child: ChildProcess | undefined;
let hub: Hub | undefined;

const markFile = () => path.join(dir, 'data/visits-published.json');
const markMs = (): number => {
  try {
    return (JSON.parse(fs.readFileSync(markFile(), 'utf8')) as { ms: number }).ms;
  } catch {
    return -Infinity; // not written yet
  }
};
/** the hub's receive time of an event, from its trace */
const recvOf = (id: string): number => {
  const tdir = path.join(dir, 'data/traces');
  for (const f of fs.readdirSync(tdir)) {
    for (const line of fs.readFileSync(path.join(tdir, f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const e = JSON.parse(line) as GwEvent;
      if (e.id === id && e.recvtime) return Date.parse(e.recvtime);
    }
  }
  throw new Error(`event ${id} not in the trace`);
};

async function startHubProcess(): Promise<void> {
  child = await startHubChild(cfgFile, httpUrl);
}

/** a dashboard user on `{store}/visits`, collecting the parties it is sent */
/** the hub again, in this process, on the same data dir and a clock `offset` moves ahead */
const inProcessHub = (offset: () => number): Promise<Hub> =>
  startHub({ config: loadConfig(cfgFile), dataDir: path.join(dir, 'data'), clock: { now: () => Date.now() + offset() }, store: memoryVisitStore('memory'), log: pino({ level: 'silent' }), tickMs: 50 });

async function visitsReader(url: string): Promise<{ parties: string[]; end: () => Promise<void> }> {
  const parties: string[] = [];
  const c = await mqtt.connectAsync(url, { username: 'reader', password: password('reader'), reconnectPeriod: 0 });
  c.on('message', (_t, p) => parties.push((JSON.parse(p.toString()) as Visit).party));
  await c.subscribeAsync(topics.visits('cw'), { qos: 1 }); // SUBACK: subscribed from here on
  return { parties, end: () => c.endAsync() };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-crashwin-'));
  ({ cfgFile, httpUrl, mqttUrl } = await childHubStoreFile(dir, 'cw'));
  await startHubProcess();
});

afterAll(async () => {
  child?.kill('SIGKILL');
  await hub?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('final visits in the crash window', () => {
  it('are published by the restarted hub; those the watermark covers are not sent again', async () => {
    const t = trace('cw');
    // stamped when sent, as a node does (the hub estimates node clocks from this)
    const stamp = (e: GwEvent) => ({ ...e, time: new Date().toISOString() }) as GwEvent;
    const live = async () => (await (await fetch(`${httpUrl}/api/stores/cw/live`, { headers: apiAuth })).json()) as LiveSnapshot;
    const before = await visitsReader(mqttUrl);

    // A enters, is greeted and becomes final: published
    const a = stamp(t.in(0));
    await publishAcked(mqttUrl, [a]);
    await waitFor(async () => (await live()).open.length === 1, 'party A waiting');
    await publishAcked(mqttUrl, [stamp(t.greet(0, 'anna'))]);
    await waitFor(() => before.parties.includes(`door/${a.id}`), 'party A published');

    // B enters; the watermark catches up past it (A is final, in a replay, once B has arrived)
    const b = stamp(t.in(0));
    await publishAcked(mqttUrl, [b]);
    const afterB = Date.now();
    await waitFor(() => markMs() > afterB, 'the watermark past B entering');

    // from here the watermark cannot move: its temp file's place is taken by a directory
    const tmp = `${markFile()}.tmp`;
    await waitFor(() => {
      try {
        fs.mkdirSync(tmp);
        return true;
      } catch {
        return false; // a write in flight holds the temp file: it is renamed away shortly
      }
    }, 'the watermark held');
    const heldAt = Date.now();

    // B is greeted, becomes final and is published; C enters (so B is final in a replay too)
    await publishAcked(mqttUrl, [stamp(t.greet(0, 'ben'))]);
    await waitFor(() => before.parties.includes(`door/${b.id}`), 'party B published');
    const c = stamp(t.in(0));
    await publishAcked(mqttUrl, [c]);
    await before.end();
    expect(before.parties).toEqual([`door/${a.id}`, `door/${b.id}`]);

    child!.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    child = undefined;
    const mark = markMs();
    expect(mark).toBeGreaterThan(afterB);
    expect(mark).toBeLessThan(heldAt); // B became final after what the watermark covers
    fs.rmSync(tmp, { recursive: true });

    // restart on the same data dir, in process, on a clock the test moves
    let offsetMs = 0;
    hub = await inProcessHub(() => offsetMs);
    const after = await visitsReader(hub.mqttUrl);
    offsetMs = 6_000; // past the 5 s the hub gives subscribers to reconnect (republishAfterMs)
    await waitFor(() => after.parties.includes(`door/${b.id}`), 'party B published again');
    // A, covered by the watermark, was not: it would have come first (the hub sends them in the order they became final)
    expect(after.parties).toEqual([`door/${b.id}`]);
    const snap = hub.ctx.runtime.live!.snapshot();
    expect(snap.open.map((p) => p.party)).toEqual([`door/${c.id}`]);
    expect(snap.today).toMatchObject({ visits: 2, met: 2 });

    // C is greeted and becomes final on a tick (no event after it), then the hub stops cleanly
    const hubStamp = (e: GwEvent) => ({ ...e, time: new Date(Date.now() + offsetMs).toISOString() }) as GwEvent;
    await publishAcked(hub.mqttUrl, [hubStamp(t.greet(0, 'anna'))]);
    await waitFor(() => after.parties.includes(`door/${c.id}`), 'party C published');
    await after.end();
    await hub.stop();
    hub = undefined;
    expect(markMs()).toBeGreaterThan(recvOf(c.id));

    // a clean restart sends nothing again, C included (final on that tick, under the watermark):
    // the first visit its subscriber gets is a new one
    hub = await inProcessHub(() => offsetMs);
    const third = await visitsReader(hub.mqttUrl);
    const d = hubStamp(t.in(0));
    await publishAcked(hub.mqttUrl, [d]);
    await waitFor(() => hub!.ctx.runtime.live!.snapshot().open.length === 1, 'party D waiting');
    await publishAcked(hub.mqttUrl, [hubStamp(t.greet(0, 'anna'))]);
    await waitFor(() => third.parties.includes(`door/${d.id}`), 'party D published');
    expect(third.parties).toEqual([`door/${d.id}`]);
    await third.end();
  });
});

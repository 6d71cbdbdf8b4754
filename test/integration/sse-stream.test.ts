import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FloorDelta, FloorSnapshot, LiveDelta, LiveSnapshot, type LiveChange, type OpenParty as LiveParty } from '../../contract/index.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { httpPlugin } from '../../hub/plugins/http.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { buildDashboard } from '../../scripts/build-dashboard.ts';
import { apiAuth } from '../helpers/logins.ts';
import { startRig, type Rig } from '../helpers/rig.ts';
import { openSse, type SseClient } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';
import { noonZone } from '../helpers/noon-zone.ts';
import { loadedStore } from '../helpers/store-config.ts';

// README "Live stream": GET /api/stores/{store}/stream starts with a full `live` snapshot, then
// sends each LiveDelta the live engine puts on the bus as a `change`, a full snapshot every
// snapshotMs, and `: ping` on an idle stream. Read here with a raw HTTP client.

const party = (id: string, entryTime = new Date().toISOString()) => ({ party: id, entryTime, waitingS: 0, size: 1, level: 'ok' as const, leaving: false, breached: false });
const delta = (store: string, seq: number, changes: LiveChange[]): LiveDelta => ({ store, now: new Date().toISOString(), seq, changes });

describe('live stream, deltas scripted on the bus of a real hub', () => {
  let hub: Hub;
  let dir: string;
  const clients: SseClient[] = [];
  const open = async (url = `${hub.httpUrl}/api/stores/sse/stream`) => {
    const c = await openSse(url);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-stream-'));
    const cfg = loadedStore({ store: { id: 'sse', timezone: noonZone() } });
    hub = await startHub({ config: cfg, dataDir: path.join(dir, 'hub'), log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), snapshotMs: 100 });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await hub?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts with a full snapshot, then sends every delta to every stream, in order', async () => {
    const a = await open();
    const b = await open();
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toBe('text/event-stream');
    await waitFor(() => a.messages.length > 0 && b.messages.length > 0, 'the first messages');
    for (const c of [a, b]) {
      expect(c.messages[0]!.event).toBe('live');
      expect(Value.Check(LiveSnapshot, JSON.parse(c.messages[0]!.data))).toBe(true);
    }

    const sent = [
      delta('sse', 1, [{ kind: 'open', party: party('p1') }]),
      delta('sse', 2, [{ kind: 'open', party: { ...party('p1'), size: 2 } }, { kind: 'open', party: party('p2') }]),
      delta('sse', 3, [{ kind: 'gone', party: 'p1', reason: 'greeted', outcome: 'met', ttgS: 4.2 }]),
    ];
    for (const d of sent) hub.ctx.bus.emit('live:delta', { delta: d });
    for (const c of [a, b]) {
      await waitFor(() => c.of('change').length >= sent.length, 'three change events');
      const got = c.of<LiveDelta>('change');
      expect(got).toEqual(sent);
      for (const d of got) expect(Value.Check(LiveDelta, d)).toBe(true);
    }
  });

  it('sends a full snapshot every snapshotMs (here 100 ms)', async () => {
    const c = await open();
    await waitFor(() => c.of('live').length >= 3, 'three snapshots');
    for (const s of c.of('live')) expect(Value.Check(LiveSnapshot, s)).toBe(true);
  });

  it('pings an idle stream; stop ends the streams and the bus subscription', async () => {
    const plugin = httpPlugin({ snapshotMs: 3_600_000, pingMs: 50 });
    const hubPort = hub.ctx.runtime.httpPort;
    await plugin.start(hub.ctx);
    const port = hub.ctx.runtime.httpPort;
    hub.ctx.runtime.httpPort = hubPort;
    const c = await open(`http://127.0.0.1:${port}/api/stores/sse/stream`);
    await waitFor(() => c.comments.includes('ping'), 'a ping');
    expect(c.of('live')).toHaveLength(1);
    await plugin.stop();
    await waitFor(() => c.ended, 'the stream ended');
    // the stopped plugin no longer listens: a delta now reaches nothing and throws nothing
    hub.ctx.bus.emit('live:delta', { delta: delta('sse', 4, []) });
    expect(c.of('change')).toHaveLength(0);
  });

  it('serves the built dashboard; without one, a 503 page that says how to build it', async () => {
    const page = await fetch(`${hub.httpUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    expect(html).toContain('<html data-store="sse" lang="en">');
    // Vite's output: the page names its script by content hash, and the hash lets it be kept a year
    const src = /<script type="module" crossorigin src="(\/assets\/floor-[\w-]+\.js)"/.exec(html)?.[1];
    expect(src).toBeDefined();
    const js = await fetch(`${hub.httpUrl}${src}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(`${hub.httpUrl}/floor`)).status).toBe(200);
    expect((await fetch(`${hub.httpUrl}/assets/nothing-here.js`)).status).toBe(404);
    expect((await fetch(`${hub.httpUrl}/assets/..%2f..%2fpackage.json`)).status).toBeGreaterThanOrEqual(400);

    const empty = path.join(dir, 'no-dashboard');
    const plugin = httpPlugin({ dashboardDir: empty });
    const hubPort = hub.ctx.runtime.httpPort;
    await plugin.start(hub.ctx);
    const url = `http://127.0.0.1:${hub.ctx.runtime.httpPort}`;
    hub.ctx.runtime.httpPort = hubPort;
    try {
      for (const p of ['/', '/floor', '/manager', '/owner', '/login']) {
        const missing = await fetch(`${url}${p}`);
        expect(missing.status, p).toBe(503);
        expect(await missing.text()).toContain('dashboard not built: run npm run build');
      }
      // built later: found on the next request, no restart
      await buildDashboard(empty);
      const built = await fetch(`${url}/floor`);
      expect(built.status).toBe(200);
      expect(await built.text()).toMatch(/src="\/assets\/floor-[\w-]+\.js"/);
    } finally {
      await plugin.stop();
    }
  });
});

describe('floor stream, deltas scripted on the bus of a real hub', () => {
  let hub: Hub;
  let dir: string;
  const clients: SseClient[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-floor-'));
    const cfg = loadedStore({ store: { id: 'sse', name: 'High Street', timezone: noonZone() } });
    hub = await startHub({ config: cfg, dataDir: path.join(dir, 'hub'), log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), snapshotMs: 100 });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await hub?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('GET /api/hub and /floor say which store, by name, with only the floor\'s fields', async () => {
    expect(await (await fetch(`${hub.httpUrl}/api/hub`)).json()).toEqual({ store: 'sse', name: 'High Street' });
    const r = await fetch(`${hub.httpUrl}/api/stores/sse/floor`);
    expect(r.status).toBe(200);
    const s = (await r.json()) as FloorSnapshot;
    expect(Value.Check(FloorSnapshot, s)).toBe(true);
    expect(Object.keys(s).sort()).toEqual(['name', 'now', 'open', 'rules', 'store', 'today']);
    expect(s.today).toEqual({ serviceLevel: null, target: 0.8, greetings: 0, visits: 0 });
    expect((await fetch(`${hub.httpUrl}/api/stores/other/floor`)).status).toBe(404);
    expect((await fetch(`${hub.httpUrl}/api/stores/other/floor/stream`)).status).toBe(404);
  });

  it('starts with a floor snapshot; sends changes cut to the floor\'s fields, with a seq of its own', async () => {
    const c = await openSse(`${hub.httpUrl}/api/stores/sse/floor/stream`);
    clients.push(c);
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toBe('text/event-stream');
    await waitFor(() => c.messages.length > 0, 'the first message');
    expect(c.messages[0]!.event).toBe('floor');
    expect(Value.Check(FloorSnapshot, JSON.parse(c.messages[0]!.data))).toBe(true);

    const p1 = party('p1');
    const p2 = { ...party('p2'), breached: true, level: 'late' as const };
    hub.ctx.bus.emit('live:delta', { delta: delta('sse', 7, [{ kind: 'open', party: p1 }]) });
    // "may be leaving" stays off the floor: a change in `leaving` alone is not sent at all
    hub.ctx.bus.emit('live:delta', { delta: delta('sse', 8, [{ kind: 'open', party: { ...p1, leaving: true, waitingS: 3 } }]) });
    hub.ctx.bus.emit('live:delta', { delta: delta('sse', 9, [{ kind: 'open', party: { ...p1, level: 'warn', leaving: true } }, { kind: 'open', party: p2 }]) });
    hub.ctx.bus.emit('live:delta', { delta: delta('sse', 10, [{ kind: 'gone', party: 'p1', reason: 'greeted', outcome: 'met', ttgS: 4.2 }]) });
    await waitFor(() => c.of('change').length >= 3, 'three change events');
    const got = c.of<FloorDelta>('change');
    for (const d of got) expect(Value.Check(FloorDelta, d), JSON.stringify(d)).toBe(true);
    expect(got.map((d) => d.seq)).toEqual([1, 2, 3]);
    const floorParty = (p: LiveParty) => ({ party: p.party, entryTime: p.entryTime, size: p.size, level: p.level, breached: p.breached });
    expect(got.map((d) => d.changes)).toEqual([
      [{ kind: 'open', party: floorParty(p1) }],
      [
        { kind: 'open', party: floorParty({ ...p1, level: 'warn' }) },
        { kind: 'open', party: floorParty(p2) },
      ],
      [{ kind: 'gone', party: 'p1' }],
    ]);
    expect(JSON.stringify(got)).not.toMatch(/leaving|waitingS|ttgS|outcome|reason/);
    // snapshots keep coming (every min(snapshotMs, 2 s)), cut down as well
    await waitFor(() => c.of('floor').length >= 3, 'three floor snapshots');
    for (const s of c.of<FloorSnapshot>('floor')) expect(Value.Check(FloorSnapshot, s)).toBe(true);
    expect(c.messages.some((m) => m.event === 'live')).toBe(false);
  });

  it('ends its streams when the hub stops', async () => {
    const plugin = httpPlugin({ snapshotMs: 3_600_000 });
    const hubPort = hub.ctx.runtime.httpPort;
    await plugin.start(hub.ctx);
    const port = hub.ctx.runtime.httpPort;
    hub.ctx.runtime.httpPort = hubPort;
    const c = await openSse(`http://127.0.0.1:${port}/api/stores/sse/floor/stream`);
    await waitFor(() => c.of('floor').length === 1, 'the first snapshot');
    await plugin.stop();
    await waitFor(() => c.ended, 'the stream ended');
    hub.ctx.bus.emit('live:delta', { delta: delta('sse', 11, [{ kind: 'open', party: party('p9') }]) });
    expect(c.of('change')).toHaveLength(0);
  });
});

describe('live stream of a real store: nodes, broker, engine', () => {
  let rig: Rig;
  let c: SseClient;

  beforeAll(async () => {
    rig = await startRig({ snapshotMs: 200 });
  });

  afterAll(async () => {
    c?.close();
    await rig?.stop();
  });

  it('a walk-in and a greet arrive as change events with increasing seq, valid against the schema; snapshots follow', async () => {
    c = await openSse(`${rig.hub.httpUrl}/api/stores/rig/stream`, apiAuth);
    await waitFor(() => c.messages.length > 0, 'the first message');
    expect(c.messages[0]!.event).toBe('live');
    const first = JSON.parse(c.messages[0]!.data) as LiveSnapshot;
    expect(Value.Check(LiveSnapshot, first)).toBe(true);
    expect(first.open).toEqual([]);

    const changes = () => c.of<LiveDelta>('change').flatMap((d) => d.changes);
    await rig.walkIn();
    await waitFor(() => changes().some((x) => x.kind === 'open'), 'the party in a change event');
    const opened = changes().find((x) => x.kind === 'open');
    const id = opened?.kind === 'open' ? opened.party.party : '';
    expect(id).not.toBe('');

    await rig.greet();
    await waitFor(() => changes().some((x) => x.kind === 'gone' && x.party === id), 'the party gone in a change event');
    const gone = changes().find((x) => x.kind === 'gone' && x.party === id);
    expect(gone).toMatchObject({ kind: 'gone', reason: 'greeted' });

    const deltas = c.of<LiveDelta>('change');
    for (const d of deltas) expect(Value.Check(LiveDelta, d), JSON.stringify(d)).toBe(true);
    // one stream sees every batch from its connection on: seq goes up by one
    for (let i = 1; i < deltas.length; i++) expect(deltas[i]!.seq).toBe(deltas[i - 1]!.seq + 1);

    // the periodic snapshot agrees: nobody waiting, the greeted visit in today's figures
    const lastChange = c.messages.map((m) => m.event).lastIndexOf('change');
    await waitFor(
      () =>
        c.messages.slice(lastChange).some((m) => {
          if (m.event !== 'live') return false;
          const s = JSON.parse(m.data) as LiveSnapshot;
          return s.open.length === 0 && s.today.visits === 1;
        }),
      'a later snapshot with the visit counted',
    );
    for (const s of c.of('live')) expect(Value.Check(LiveSnapshot, s)).toBe(true);
  });
});

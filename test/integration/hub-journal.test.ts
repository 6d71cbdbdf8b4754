import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GwEvent } from '../../contract/index.ts';
import { createEdgeAgent, type EdgeAgent } from '../../edge/agent.ts';
import { asSimInput } from '../../edge/drivers/sim.ts';
import { memoryOutbox } from '../../edge/outbox.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { fileTraceRecorder, type TraceRecorder } from '../../hub/trace-recorder.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { password } from '../helpers/logins.ts';
import { waitFor } from '../helpers/wait.ts';
import { testStore } from '../helpers/store-config.ts';

// README "Reliability": the broker acknowledges an event only once the hub's trace holds it
// durably; a trace write that fails sends no PUBACK, so the node keeps the event and sends it
// again, and once the disk is back the hub has it exactly once. A real hub and broker, a real
// edge agent over TCP; only the recorder is wrapped, to hold or fail writes on demand.

let dir: string;
let hub: Hub;
let agent: EdgeAgent;
let mode: 'pass' | 'fail' | 'hold' = 'pass';
const held: Array<() => void> = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-journal-'));
  const cfg = await testStore({ store: { id: 'jr' }, nodes: [{ id: 'counter', buttons: [{ id: 'btn', debounceMs: 0, holdAction: 'none' }] }] });
  const real = fileTraceRecorder(path.join(dir, 'traces'), 'jr');
  const recorder: TraceRecorder = {
    ...real,
    record(ev, recvMs, done, wire) {
      if (mode === 'fail') return done(new Error('ENOSPC: no space left on device, write'));
      if (mode === 'hold') return void held.push(() => real.record(ev, recvMs, done, wire));
      real.record(ev, recvMs, done, wire);
    },
  };
  hub = await startHub({ config: cfg, dataDir: dir, recorder, log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), tickMs: 50 });
  agent = createEdgeAgent({
    store: 'jr',
    node: cfg.nodes[0]!,
    mqttUrl: hub.mqttUrl,
    outbox: memoryOutbox(),
    login: { username: 'counter', password: password('counter') },
    mqtt: { reconnectPeriodMs: 100 },
    log: pino({ level: 'silent' }),
  });
  await agent.start();
  await waitFor(() => agent.stats().mqtt?.connected === true, 'connected');
});

afterAll(async () => {
  await agent?.stop();
  await hub?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const press = () => {
  const b = asSimInput(agent.inputs.get('btn'), 'counter');
  b.set(1);
  b.set(0);
};
const accepted = () => hub.ctx.runtime.live!.snapshot().nodes.find((n) => n.node === 'counter')?.events ?? 0;
const traced = (): GwEvent[] =>
  fs
    .readdirSync(path.join(dir, 'traces'))
    .flatMap((f) => fs.readFileSync(path.join(dir, 'traces', f), 'utf8').split('\n'))
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as GwEvent);

describe('journal before acknowledgement', () => {
  it('the PUBACK waits for the trace write', async () => {
    mode = 'hold';
    press();
    await waitFor(() => held.length === 1, 'the write is pending');
    // not durable yet: not acknowledged, so still in the node's outbox, and not in the engine
    expect(agent.stats().pending).toBe(1);
    expect(accepted()).toBe(0);
    mode = 'pass';
    held.shift()!();
    await waitFor(() => agent.stats().pending === 0, 'acknowledged once written');
    expect(accepted()).toBe(1);
    expect(traced()).toHaveLength(1);
  });

  it('a failed trace write sends no PUBACK: the node keeps the event and it arrives once the disk is back', async () => {
    mode = 'fail';
    press();
    await waitFor(() => hub.ctx.metrics.traceFailures >= 1, 'the failure counted');
    // shown in /live (the snapshot is rebuilt on the next tick)
    await waitFor(() => (hub.ctx.runtime.live!.snapshot().journal?.failed ?? 0) >= 1, 'the failure shown in /live');
    expect(hub.ctx.runtime.live!.snapshot().journal).toMatchObject({ written: 1, lastError: 'ENOSPC: no space left on device, write' });
    expect(agent.stats().pending).toBe(1);
    expect(accepted()).toBe(1);
    mode = 'pass';
    await waitFor(() => agent.stats().pending === 0, 're-sent and acknowledged after the disk is back', 20_000);
    expect(accepted()).toBe(2);
    const ids = traced().map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length); // in the trace once each
    expect(ids).toHaveLength(2);
  });
});

describe('trace files', () => {
  it('one file a UTC day; files older than keepDays go when a new day begins', async () => {
    const tdir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-trace-'));
    let now = Date.parse('2026-11-01T12:00:00Z');
    const r = fileTraceRecorder(tdir, 's1', { keepDays: 2, now: () => now });
    const ev = { specversion: '1.0', id: 'x', source: '/stores/s1/nodes/n', type: 'greetwatch.door.v1', time: '2026-11-01T12:00:00.000Z', bootid: 'b', seq: 1, data: { sensor: 'd', state: 'open' } } as GwEvent;
    const write = (ms: number) => new Promise<void>((resolve, reject) => r.record(ev, ms, (err) => (err ? reject(err) : resolve())));
    for (const day of ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04']) {
      now = Date.parse(`${day}T12:00:00Z`);
      await write(now);
    }
    expect(r.files().map((f) => path.basename(f))).toEqual(['s1-2026-11-02.jsonl', 's1-2026-11-03.jsonl', 's1-2026-11-04.jsonl']);
    expect(r.stats()).toMatchObject({ written: 4, failed: 0, queued: 0 });
    await r.close();
    fs.rmSync(tdir, { recursive: true, force: true });
  });

  // Linux shows each open file's flags (octal) in /proc/self/fdinfo: the trace's write is a synchronous one
  it.runIf(process.platform === 'linux')('writes the trace through a descriptor opened with O_DSYNC: a commit returns once its data is durable', async () => {
    const tdir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-trace-'));
    const r = fileTraceRecorder(tdir, 's1');
    const ev = { specversion: '1.0', id: 'e1', source: '/stores/s1/nodes/n', type: 'greetwatch.door.v1', time: '2026-11-01T12:00:00.000Z', bootid: 'b', seq: 1, data: { sensor: 'd', state: 'open' } } as GwEvent;
    await new Promise<void>((resolve, reject) => r.record(ev, Date.now(), (err) => (err ? reject(err) : resolve())));
    const file = r.files()[0]!;
    const fds = fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
      } catch {
        return false; // the descriptor readdir itself used, closed by now
      }
    });
    expect(fds).toHaveLength(1);
    const flags = parseInt(/^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fds[0]!}`, 'utf8'))![1]!, 8);
    expect(flags & fs.constants.O_DSYNC).toBe(fs.constants.O_DSYNC);
    expect(flags & fs.constants.O_APPEND).toBe(fs.constants.O_APPEND);
    expect(r.stats()).toMatchObject({ written: 1, commits: 1 });
    await r.close();
    fs.rmSync(tdir, { recursive: true, force: true });
  });

  it('events read together share one synchronous write, and those that arrive while it is in flight share the next', async () => {
    const tdir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-trace-'));
    const r = fileTraceRecorder(tdir, 's1');
    const ev = (i: number) => ({ specversion: '1.0', id: `e${i}`, source: '/stores/s1/nodes/n', type: 'greetwatch.door.v1', time: '2026-11-01T12:00:00.000Z', bootid: 'b', seq: i, data: { sensor: 'd', state: 'open' } }) as GwEvent;
    const record = (from: number, n: number) => Array.from({ length: n }, (_, i) => new Promise<void>((resolve, reject) => r.record(ev(from + i), Date.now(), (err) => (err ? reject(err) : resolve()))));
    // 100 in one turn of the loop (as publishes read from several sockets at once are), then 100
    // more once their write has started (this immediate runs after the recorder's own)
    const first = record(1, 100);
    const second = await new Promise<Promise<void>[]>((resolve) => setImmediate(() => resolve(record(101, 100))));
    expect(r.stats().queued).toBe(100);
    await Promise.all([...first, ...second]);
    const s = r.stats();
    expect(s.written).toBe(200);
    expect(s.commits).toBe(2);
    // each commit timed (the synchronous write): the slower of the two is the max
    expect(s.commitMs).not.toBeNull();
    expect(s.commitMs!.p50).toBeGreaterThan(0);
    expect(s.commitMs!.p50 <= s.commitMs!.p99 && s.commitMs!.p99 === s.commitMs!.max).toBe(true);
    expect(s.commitMsMax).toBe(s.commitMs!.max);
    expect(s.commitMs!.n).toBe(2);
    expect(s.commitMsTotal).toBeCloseTo(s.commitMs!.p50 + s.commitMs!.max, 9);
    const lines = fs.readFileSync(r.files()[0]!, 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as GwEvent).seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await r.close();
    fs.rmSync(tdir, { recursive: true, force: true });
  });

  it('a line torn by a crash or a power cut stays a line of its own: the next event is not glued onto it', async () => {
    const tdir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-trace-'));
    const now = Date.parse('2026-11-01T12:00:00Z');
    const ev = (id: string) => ({ specversion: '1.0', id, source: '/stores/s1/nodes/n', type: 'greetwatch.door.v1', time: '2026-11-01T12:00:00.000Z', bootid: 'b', seq: 1, data: { sensor: 'd', state: 'open' } }) as GwEvent;
    const file = path.join(tdir, 's1-2026-11-01.jsonl');
    // one whole line, then what a write cut short left: part of a line, never acknowledged
    const whole = `${JSON.stringify({ ...ev('e1'), recvtime: '2026-11-01T11:59:59.000Z' })}\n`;
    fs.writeFileSync(file, `${whole}{"specversion":"1.0","id":"e2","sou`);
    const r = fileTraceRecorder(tdir, 's1', { now: () => now });
    await new Promise<void>((resolve, reject) => r.record(ev('e3'), now, (err) => (err ? reject(err) : resolve())));
    await r.close();
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(4); // whole, torn, e3 and the empty string after the last newline
    expect(lines[1]).toBe('{"specversion":"1.0","id":"e2","sou');
    expect((JSON.parse(lines[2]!) as GwEvent).id).toBe('e3');
    expect(lines[3]).toBe('');
    // a file that ends whole gets no blank line
    const r2 = fileTraceRecorder(tdir, 's1', { now: () => now });
    await new Promise<void>((resolve, reject) => r2.record(ev('e4'), now, (err) => (err ? reject(err) : resolve())));
    await r2.close();
    const after = fs.readFileSync(file, 'utf8').split('\n');
    expect(after.slice(2).map((l) => (l ? (JSON.parse(l) as GwEvent).id : l))).toEqual(['e3', 'e4', '']);
    fs.rmSync(tdir, { recursive: true, force: true });
  });
});

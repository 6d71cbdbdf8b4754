import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GwEvent, NodeHealth } from '../../contract/index.ts';
import { loadConfig } from '../../firmware-config/load.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { urlWithLogin, withLogins } from '../helpers/logins.ts';
import { waitFor } from '../helpers/wait.ts';

// CONTRACT.md "Event envelope" (bootid, gapless seq) and the README's outbox guarantee: a node
// SIGKILLed mid-stream, while it is sending to a real hub, and started again on the same
// folder loses no event it had seen (the hub has every seq of the old boot) and the hub
// counts none twice (re-sent events are recognised by (source, id)).

const root = path.resolve(import.meta.dirname, '../..');
const DEMO = path.join(root, 'firmware-config/examples/demo-store.yaml');
let dir: string;
let hub: Hub;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-edge-kill-'));
  const cfg = await withLogins(loadConfig(DEMO));
  cfg.hub.mqtt.port = 0;
  cfg.hub.http.port = 0;
  hub = await startHub({ config: cfg, dataDir: path.join(dir, 'hub'), log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), tickMs: 100 });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await hub?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function node(script: string, extra: string[]): ChildProcess {
  const c = spawn(
    process.execPath,
    ['--import', 'tsx', script, '--config', DEMO, '--node', 'door-1', '--mqtt', urlWithLogin(hub.mqttUrl, 'door-1'), '--data-dir', path.join(dir, 'edge'), '--log-level', 'warn', ...extra],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(c);
  return c;
}

/** events of door-1 in the hub's trace, as recorded before each PUBACK */
function traced(): GwEvent[] {
  const tdir = path.join(dir, 'hub', 'traces');
  if (!fs.existsSync(tdir)) return [];
  const out: GwEvent[] = [];
  for (const f of fs.readdirSync(tdir)) {
    for (const line of fs.readFileSync(path.join(tdir, f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as GwEvent;
        if (e.source === '/stores/demo/nodes/door-1') out.push(e);
      } catch {
        // a line being written right now
      }
    }
  }
  return out;
}

function journalSeqs(bootid: string): number[] {
  const file = path.join(dir, 'edge', 'door-1', 'outbox.jsonl');
  const seqs: number[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    try {
      const l = JSON.parse(line) as { add?: GwEvent };
      if (l.add?.bootid === bootid) seqs.push(l.add.seq);
    } catch {
      // a torn last line: the outbox skips it too (the event was not yet seen)
    }
  }
  return seqs;
}

const health = (): NodeHealth => hub.ctx.runtime.live!.snapshot().nodes.find((n) => n.node === 'door-1')!;

describe('an edge node killed mid-stream', () => {
  it('comes back on the same folder: every event of the old boot reaches the hub once', async () => {
    const first = node('scripts/sim-node.ts', ['--rate', '36000', '--seed', '11']);
    await waitFor(() => traced().length >= 30, 'door-1 sending to the hub', 60_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const oldBoot = traced()[0]!.bootid;
    // what the killed node had seen: everything the hub has, plus what waits in its journal
    const seen = Math.max(...traced().filter((e) => e.bootid === oldBoot).map((e) => e.seq), ...journalSeqs(oldBoot));

    const second = node('edge/main.ts', []);
    await waitFor(() => new Set(traced().filter((e) => e.bootid === oldBoot).map((e) => e.seq)).size >= seen, 'the old boot delivered', 60_000);

    const old = traced().filter((e) => e.bootid === oldBoot);
    const seqs = [...new Set(old.map((e) => e.seq))].sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: seen }, (_, i) => i + 1)); // gapless: nothing lost
    // one id per seq: a re-sent event is the same event, not a new one
    expect(new Set(old.map((e) => e.id)).size).toBe(seen);
    await waitFor(() => health().online && health().bootid !== oldBoot, 'the new boot online');
    // the engine takes an event once its line is durable: a line just written may not have reached it yet
    const distinct = () => new Set(traced().map((e) => e.id)).size;
    await waitFor(() => health().events + health().duplicates === traced().length, 'the engine caught up with the trace');
    const h = health();
    expect(h.lost).toBe(0);
    // the engine took each distinct event once; re-sends were counted as duplicates, not events
    expect(h.events).toBe(distinct());
    expect(h.duplicates).toBe(traced().length - distinct());

    second.kill('SIGTERM');
    expect(await new Promise((r) => second.once('exit', (c) => r(c)))).toBe(0);
  }, 120_000);
});

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { waitFor } from '../helpers/wait.ts';
import { loadedStore } from '../helpers/store-config.ts';

// README "Security": a screen that stops reading its live stream is dropped once its unread
// buffer passes a limit; the hub's memory does not grow with it, and readers that read go on.

let hub: Hub;
let dir: string;

/** a hub whose streams may leave 64 KiB unread, with a snapshot every `snapshotMs` */
async function sseHub(snapshotMs: number, prefix: string): Promise<{ hub: Hub; dir: string }> {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const cfg = loadedStore({ store: { id: 'sse' } });
  return { hub: await startHub({ config: cfg, dataDir: d, log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), snapshotMs, sseMaxBuffered: 64 * 1024 }), dir: d };
}

beforeAll(async () => {
  ({ hub, dir } = await sseHub(2, 'gw-sse-'));
});

/** a client that sends its stream request and then never reads a byte */
async function muteClient(httpUrl: string): Promise<{ mute: net.Socket; closed: Promise<void> }> {
  const url = new URL(httpUrl);
  const mute = net.connect(Number(url.port), url.hostname);
  mute.on('error', () => undefined);
  await new Promise<void>((r) => mute.once('connect', () => r()));
  mute.write(`GET /api/stores/sse/stream HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
  mute.pause();
  return { mute, closed: new Promise<void>((r) => mute.once('close', () => r())) };
}

afterAll(async () => {
  await hub?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('SSE clients that stop reading', () => {
  it('are dropped once their unread buffer passes the limit; a client that reads keeps its stream', async () => {
    const { mute, closed } = await muteClient(hub.httpUrl);

    const reader = await fetch(`${hub.httpUrl}/api/stores/sse/stream`);
    const body = reader.body!.getReader();
    let got = 0;
    const reading = (async () => {
      for (;;) {
        const { done, value } = await body.read();
        if (done) return;
        got += value.length;
      }
    })();

    await waitFor(() => hub.ctx.metrics.slowStreamsDropped === 1, 'the mute client dropped', 60_000);
    mute.resume(); // let the socket see the close
    await closed;
    const before = got;
    await waitFor(() => got > before + 10_000, 'the reading client still streams');
    await body.cancel();
    await reading.catch(() => undefined);
    expect(hub.ctx.metrics.slowStreamsDropped).toBe(1);
  }, 90_000);
});

describe('SSE clients that stop reading, flooded with deltas', () => {
  let quiet: Hub;
  let quietDir: string;

  beforeAll(async () => {
    // no periodic snapshot to speak of: only `change` events fill the mute client's buffer
    ({ hub: quiet, dir: quietDir } = await sseHub(3_600_000, 'gw-sse-delta-'));
  });

  afterAll(async () => {
    await quiet?.stop();
    fs.rmSync(quietDir, { recursive: true, force: true });
  });

  it('are dropped by the same limit when what piles up is change events', async () => {
    const { mute, closed } = await muteClient(quiet.httpUrl);
    const entryTime = new Date().toISOString();
    const open = Array.from({ length: 50 }, (_, i) => ({
      kind: 'open' as const,
      party: { party: `p${i}`, entryTime, waitingS: 0, size: 1, level: 'ok' as const, leaving: false, breached: false },
    }));
    let seq = 0;
    // a batch of deltas at each look, until the hub gives up on the client
    await waitFor(
      () => {
        for (let i = 0; i < 20; i++) quiet.ctx.bus.emit('live:delta', { delta: { store: 'sse', now: new Date().toISOString(), seq: ++seq, changes: open } });
        return quiet.ctx.metrics.slowStreamsDropped === 1;
      },
      'the mute client dropped',
      60_000,
    );
    mute.resume();
    await closed;
  }, 90_000);
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '../../hub/hub.ts';
import { httpPlugin } from '../../hub/plugins/http.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { openSse, type SseClient } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';
import { loadedStore } from '../helpers/store-config.ts';

// README "Security": the live and floor streams together are bounded per client address and in
// all (the floor stream needs no login); what is over answers 429 GW_ERR_RATE_LIMITED, counted,
// and a closed stream frees its place. Other 127.0.0.x addresses stand for other clients.

describe('stream limits, shared by the live and floor streams', () => {
  let hub: Hub;
  let dir: string;
  const plugin = httpPlugin({ maxStreams: 3, maxStreamsPerAddress: 2 });
  let base = '';
  const clients: SseClient[] = [];
  const open = async (what: 'stream' | 'floor/stream', from: string) => {
    const c = await openSse(`${base}/api/stores/lim/${what}`, {}, from);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-sse-limits-'));
    hub = await startHub({ config: loadedStore({ store: { id: 'lim' } }), dataDir: dir, log: pino({ level: 'silent' }), store: memoryVisitStore('memory') });
    // a second HTTP plugin on the same hub, with small limits, on a port of its own
    const hubPort = hub.ctx.runtime.httpPort;
    await plugin.start(hub.ctx);
    base = `http://127.0.0.1:${hub.ctx.runtime.httpPort}`;
    hub.ctx.runtime.httpPort = hubPort;
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await plugin.stop();
    await hub?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a third stream from one address and a fourth in all; a closed stream frees its place', async () => {
    const a = await open('stream', '127.0.0.1');
    const b = await open('floor/stream', '127.0.0.1');
    expect([a.status, b.status]).toEqual([200, 200]);
    const over = await fetch(`${base}/api/stores/lim/floor/stream`);
    expect(over.status).toBe(429);
    expect(await over.json()).toEqual({ error: 'GW_ERR_RATE_LIMITED', message: 'stream: 2 streams are open from 127.0.0.1, the most one address may have' });

    const c = await open('floor/stream', '127.0.0.2');
    expect(c.status).toBe(200);
    const full = await open('stream', '127.0.0.3');
    expect(full.status).toBe(429);
    expect(hub.ctx.metrics.streamsRefused).toBe(2);
    // the refused requests took no place: plain requests are served meanwhile
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    a.close();
    await waitFor(async () => {
      const again = await open('stream', '127.0.0.3');
      return again.status === 200;
    }, 'a place freed by the closed stream');
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreConfig } from '../../firmware-config/schema.ts';
import { startHub, type Hub } from '../../hub/hub.ts';

// CONTRACT.md "HTTP": machine clients send Authorization: Bearer <token>.

const TOKEN = 'a-long-enough-test-token-1234';
let hub: Hub;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-auth-'));
  const cfg = Value.Default(StoreConfig, { store: { id: 'auth' }, hub: { mqtt: { port: 0 }, http: { port: 0 }, tokens: [TOKEN] } }) as StoreConfig;
  hub = await startHub({ config: cfg, dataDir: dir, log: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await hub?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('bearer tokens', () => {
  const url = () => `${hub.httpUrl}/api/stores/auth/report?from=2026-11-23&to=2026-11-24`;
  it('refuses a request without a token or with a wrong one', async () => {
    const cases: Record<string, string>[] = [{}, { authorization: `Bearer ${TOKEN.slice(0, -1)}x` }, { authorization: TOKEN }];
    for (const headers of cases) {
      const res = await fetch(url(), { headers });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe('GW_ERR_UNAUTHORIZED');
    }
  });
  it('answers with the right token, in the header or as ?token= for the dashboard stream', async () => {
    const res = await fetch(url(), { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { visits: number }).visits).toBe(0);
    const live = await fetch(`${hub.httpUrl}/api/stores/auth/live?token=${TOKEN}`);
    expect(live.status).toBe(200);
  });
  it('keeps the dashboard page and health check open', async () => {
    expect((await fetch(`${hub.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${hub.httpUrl}/`)).status).toBe(200);
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '../../hub/hub.ts';
import { loadedStore } from '../helpers/store-config.ts';

// CONTRACT.md "HTTP": machine clients send Authorization: Bearer <token>; never in the URL
// (README "Security → Logins and roles"). Logins and sessions: hub-logins.test.ts.

const TOKEN = 'a-long-enough-test-token-1234';
let hub: Hub;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-auth-'));
  const cfg = loadedStore({ store: { id: 'auth' }, hub: { tokens: [TOKEN] } });
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
  it('answers with the right token in the Authorization header, as owner', async () => {
    const res = await fetch(url(), { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { visits: number }).visits).toBe(0);
    const reload = await fetch(`${hub.httpUrl}/api/config/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    // owner: let in (422: this hub was started without a store file to re-read)
    expect(reload.status).toBe(422);
  });
  it('refuses a token in the URL, even the right one, saying where it goes', async () => {
    for (const u of [`${hub.httpUrl}/api/stores/auth/live?token=${TOKEN}`, `${hub.httpUrl}/api/stores/auth/stream?token=${TOKEN}`]) {
      const res = await fetch(u, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe('GW_ERR_UNAUTHORIZED');
      expect(body.message).toMatch(/^token: .*Authorization: Bearer/);
    }
  });
  it('answers a parameter of the wrong shape with 400 naming it (route schemas)', async () => {
    const headers = { authorization: `Bearer ${TOKEN}` };
    const twice = await fetch(`${hub.httpUrl}/api/stores/auth/report?from=2026-11-23&from=2026-11-24&to=2026-11-25`, { headers });
    expect(twice.status).toBe(400);
    expect(await twice.json()).toEqual({ error: 'GW_ERR_BAD_PARAM', message: 'from: must be string' });
    const login = await fetch(`${hub.httpUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'x' }) });
    expect(login.status).toBe(400);
    expect(await login.json()).toEqual({ error: 'GW_ERR_BAD_PARAM', message: 'password: required' });
    const notJson = await fetch(`${hub.httpUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toBe('GW_ERR_BAD_PARAM');
  });
  it('keeps the dashboard page and health check open', async () => {
    expect((await fetch(`${hub.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${hub.httpUrl}/`)).status).toBe(200);
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../firmware-config/passwords.ts';
import { loadConfig } from '../../firmware-config/load.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { memoryVisitStore } from '../../hub/visit-store.ts';
import { captureLog } from '../helpers/capture-log.ts';
import { openSse, type SseClient } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';
import { loadedStore } from '../helpers/store-config.ts';

// Logins, sessions and roles over HTTP (README "Security → Logins and roles"): a real hub with a
// store file on disk (so a reload can take a user away), real scrypt hashes, real cookies.
// Logins are rate-limited per address (10 a minute): this file's main hub sees fewer than that,
// the limit itself is tried on a hub of its own.

const TOKEN = 'logins-test-token-0123456789';
const PW: Record<string, string> = { mia: 'mia-correct-horse', olaf: 'olaf-battery-staple', tess: 'tess-pw-123456', rita: 'rita-pw-654321' };
const hashes: Record<string, string> = {};

const storeYaml = (opts: { without?: string; ritaRole?: 'manager' | 'owner' } = {}) => {
  const users = [
    { id: 'mia', name: 'Mia Manager', role: 'manager' },
    { id: 'olaf', role: 'owner' },
    { id: 'tess', role: 'manager' },
    { id: 'rita', role: opts.ritaRole ?? 'manager' },
  ].filter((u) => u.id !== opts.without);
  return `store: { id: lg, timezone: UTC }
users:
${users.map((u) => `  - { id: ${u.id},${'name' in u ? ` name: ${u.name},` : ''} role: ${u.role}, passwordHash: '${hashes[u.id]}' }`).join('\n')}
hub:
  mqtt: { port: 0 }
  http: { port: 0 }
  influx: { managed: false }
  tokens: [${TOKEN}]
`;
};

let dir: string;
let file: string;
let hub: Hub;
const streams: SseClient[] = [];

beforeAll(async () => {
  for (const [id, pw] of Object.entries(PW)) hashes[id] = await hashPassword(pw);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-logins-'));
  file = path.join(dir, 'store.yaml');
  fs.writeFileSync(file, storeYaml());
  // snapshots every 50 ms: a stream whose login ended is closed at the next one
  hub = await startHub({ config: loadConfig(file), configFile: file, dataDir: path.join(dir, 'hub'), log: pino({ level: 'silent' }), store: memoryVisitStore('memory'), snapshotMs: 50 });
});

afterAll(async () => {
  for (const s of streams) s.close();
  await hub?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const url = (p: string) => `${hub.httpUrl}${p}`;
const json = { 'content-type': 'application/json' };
async function login(user: string, password: string): Promise<{ status: number; body: unknown; setCookie: string[]; cookie: string }> {
  const res = await fetch(url('/api/login'), { method: 'POST', headers: json, body: JSON.stringify({ user, password }) });
  const setCookie = res.headers.getSetCookie();
  return { status: res.status, body: await res.json(), setCookie, cookie: setCookie[0]?.split(';')[0] ?? '' };
}
const get = (p: string, headers: Record<string, string> = {}) => fetch(url(p), { headers });
const errorOf = async (res: Response) => ((await res.json()) as { error: string; message: string }).error;
async function stream(headers: Record<string, string>): Promise<SseClient> {
  const c = await openSse(url('/api/stores/lg/stream'), headers);
  streams.push(c);
  return c;
}

const MANAGER_ROUTES = ['/api/stores/lg/live', '/api/stores/lg/report?from=2026-11-23&to=2026-11-24', '/api/stores/lg/stream'];
const OWNER_ROUTES = ['/api/stores/lg/weekly?week=2026-W47', '/api/stores?week=2026-W47', '/api/chain/ranking?week=2026-W47'];

let mia: string;
let olaf: string;

describe('logins and roles', () => {
  it('logs a user in with an httpOnly, SameSite=Strict cookie for the whole site; /api/me says who', async () => {
    const r = await login('mia', PW.mia!);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ user: 'mia', name: 'Mia Manager', role: 'manager' });
    expect(r.setCookie).toHaveLength(1);
    expect(r.setCookie[0]).toMatch(/^gw_session=[\w-]{43}; /); // 32 random bytes, base64url
    const flags = r.setCookie[0]!.split('; ').slice(1);
    expect(flags).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/']));
    expect(flags).not.toContain('Secure'); // plain HTTP here; HTTPS: tls.test.ts
    mia = r.cookie;
    const me = await get('/api/me', { cookie: mia });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ user: 'mia', name: 'Mia Manager', role: 'manager' });
    const anonymous = await get('/api/me');
    expect(anonymous.status).toBe(401);
    expect(await errorOf(anonymous)).toBe('GW_ERR_UNAUTHORIZED');
  });

  it('refuses the manager routes without a login and lets a manager in', async () => {
    for (const p of MANAGER_ROUTES) {
      const res = await get(p);
      expect(res.status, p).toBe(401);
      expect(await errorOf(res), p).toBe('GW_ERR_UNAUTHORIZED');
    }
    expect((await get(MANAGER_ROUTES[0]!, { cookie: mia })).status).toBe(200);
    expect((await get(MANAGER_ROUTES[1]!, { cookie: mia })).status).toBe(200);
    const s = await stream({ cookie: mia });
    expect(s.status).toBe(200);
    await waitFor(() => s.of('live').length > 0, 'a snapshot on the manager stream');
    s.close();
  });

  it('keeps the owner routes for owners: 403 for a manager', async () => {
    for (const p of OWNER_ROUTES) {
      const res = await get(p, { cookie: mia });
      expect(res.status, p).toBe(403);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error, p).toBe('GW_ERR_FORBIDDEN');
      expect(body.message, p).toMatch(/owner/);
    }
    const reload = await fetch(url('/api/config/reload'), { method: 'POST', headers: { cookie: mia } });
    expect(reload.status).toBe(403);
    expect((await get(OWNER_ROUTES[0]!)).status).toBe(401); // no login at all: 401, not 403

    const r = await login('olaf', PW.olaf!);
    expect(r.body).toEqual({ user: 'olaf', role: 'owner' });
    olaf = r.cookie;
    for (const p of [...OWNER_ROUTES, MANAGER_ROUTES[0]!]) expect((await get(p, { cookie: olaf })).status, p).toBe(200);
    const ownReload = await fetch(url('/api/config/reload'), { method: 'POST', headers: { cookie: olaf } });
    expect(ownReload.status).toBe(200);
  });

  it('leaves the health check, the floor API and the pages public', async () => {
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/api/hub')).status).toBe(200);
    expect((await get('/api/stores/lg/floor')).status).toBe(200);
  });

  it('refuses a wrong password and an unknown user with the same answer, and counts both', async () => {
    const before = hub.ctx.metrics.loginFailures;
    const wrong = await login('mia', 'not-her-password');
    const unknown = await login('nobody', 'whatever');
    for (const r of [wrong, unknown]) {
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: 'GW_ERR_UNAUTHORIZED', message: 'wrong user or password' });
      expect(r.setCookie).toEqual([]);
    }
    expect(hub.ctx.metrics.loginFailures - before).toBe(2);
    // and a made-up session id is no session
    expect((await get(MANAGER_ROUTES[0]!, { cookie: `gw_session=${'A'.repeat(43)}` })).status).toBe(401);
  });

  it('takes bearer tokens as owner; a wrong one is refused even with a good session', async () => {
    const bearer = { authorization: `Bearer ${TOKEN}` };
    for (const p of [...OWNER_ROUTES, MANAGER_ROUTES[0]!]) expect((await get(p, bearer)).status, p).toBe(200);
    const wrong = await get(MANAGER_ROUTES[0]!, { authorization: `Bearer ${TOKEN}x`, cookie: mia });
    expect(wrong.status).toBe(401);
    const inUrl = await get(`/api/stores/lg/live?token=${TOKEN}`, { cookie: mia });
    expect(inUrl.status).toBe(401);
    expect(((await inUrl.json()) as { message: string }).message).toMatch(/Authorization: Bearer/);
  });

  it('ends the session on logout, and the live stream it opened', async () => {
    const { cookie } = await login('mia', PW.mia!);
    const s = await stream({ cookie });
    await waitFor(() => s.of('live').length > 0, 'the stream running');
    const out = await fetch(url('/api/logout'), { method: 'POST', headers: { cookie } });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie()[0]).toMatch(/^gw_session=;.*(Max-Age=0|Expires=Thu, 01 Jan 1970)/);
    expect((await get('/api/me', { cookie })).status).toBe(401);
    expect((await get(MANAGER_ROUTES[0]!, { cookie })).status).toBe(401);
    await waitFor(() => s.ended, 'the stream of the ended session closed');
    // the other session of the same user is its own
    expect((await get(MANAGER_ROUTES[0]!, { cookie: mia })).status).toBe(200);
  });

  it('ends the sessions (and streams) of a user a reload removes, and of one whose role it changes', async () => {
    const tess = (await login('tess', PW.tess!)).cookie;
    const rita = (await login('rita', PW.rita!)).cookie;
    expect((await get(MANAGER_ROUTES[0]!, { cookie: tess })).status).toBe(200);
    expect((await get(MANAGER_ROUTES[0]!, { cookie: rita })).status).toBe(200);
    const s = await stream({ cookie: tess });
    await waitFor(() => s.of('live').length > 0, 'the stream running');

    fs.writeFileSync(file, storeYaml({ without: 'tess', ritaRole: 'owner' }));
    const r = await fetch(url('/api/config/reload'), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);

    for (const cookie of [tess, rita]) {
      expect((await get('/api/me', { cookie })).status).toBe(401);
      expect((await get(MANAGER_ROUTES[0]!, { cookie })).status).toBe(401);
    }
    await waitFor(() => s.ended, "the removed user's stream closed");
    // a promoted user logs in again and is owner now; the others are untouched
    const again = await login('rita', PW.rita!);
    expect(again.body).toEqual({ user: 'rita', role: 'owner' });
    expect((await get(OWNER_ROUTES[0]!, { cookie: again.cookie })).status).toBe(200);
    expect((await get(MANAGER_ROUTES[0]!, { cookie: mia })).status).toBe(200);
    expect((await get(OWNER_ROUTES[0]!, { cookie: olaf })).status).toBe(200);
  });
});

describe('login rate limit', () => {
  let h: Hub;
  let d: string;
  beforeAll(async () => {
    d = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-logins-rl-'));
    const cfg = loadedStore({ store: { id: 'rl' }, users: [{ id: 'mia', role: 'manager', passwordHash: hashes.mia }] });
    h = await startHub({ config: cfg, dataDir: d, log: pino({ level: 'silent' }), store: memoryVisitStore('memory') });
  });
  afterAll(async () => {
    await h?.stop();
    fs.rmSync(d, { recursive: true, force: true });
  });

  it('answers 429 GW_ERR_RATE_LIMITED after 10 attempts a minute from one address, saying when to retry', async () => {
    const attempt = (password: string) => fetch(`${h.httpUrl}/api/login`, { method: 'POST', headers: json, body: JSON.stringify({ user: 'mia', password }) });
    for (let i = 0; i < 10; i++) expect((await attempt(`guess-${i}`)).status).toBe(401);
    expect(h.ctx.metrics.loginFailures).toBe(10);
    const limited = await attempt('guess-10');
    expect(limited.status).toBe(429);
    const body = (await limited.json()) as { error: string; message: string };
    expect(body.error).toBe('GW_ERR_RATE_LIMITED');
    expect(body.message).toMatch(/try again in \d+ (second|minute)/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // the right password waits too: the limit counts attempts, not failures; no scrypt was run for either
    expect((await attempt(PW.mia!)).status).toBe(429);
    expect(h.ctx.metrics.loginsRateLimited).toBe(2);
    expect(h.ctx.metrics.loginFailures).toBe(10);
    // the rest of the API is not limited
    for (let i = 0; i < 15; i++) expect((await fetch(`${h.httpUrl}/healthz`)).status).toBe(200);
  });
});

describe('open mode', () => {
  it('leaves the API open when the store file has neither users nor tokens, and says so once at start', async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-logins-open-'));
    const { log, lines } = captureLog('warn');
    const cfg = loadedStore({ store: { id: 'op' } });
    const h = await startHub({ config: cfg, dataDir: d, log, store: memoryVisitStore('memory') });
    try {
      expect((await fetch(`${h.httpUrl}/api/stores/op/live`)).status).toBe(200);
      expect((await fetch(`${h.httpUrl}/api/stores?week=2026-W47`)).status).toBe(200);
      expect(lines().filter((l) => l.msg === 'no users or tokens: the API is open')).toHaveLength(1);
      // still no token in a URL
      expect((await fetch(`${h.httpUrl}/api/stores/op/live?token=x`)).status).toBe(401);
    } finally {
      await h.stop();
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

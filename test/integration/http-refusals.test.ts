import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '../../hub/hub.ts';
import { userLogin, password } from '../helpers/logins.ts';
import { loadedStore } from '../helpers/store-config.ts';

// Hostile requests the routes never see, or see coerced (README "HTTP API": errors answer
// {"error": "GW_ERR_…", "message": "<where>: <why>"}; a bad parameter answers 400 naming it).

const TOKEN = 'a-long-enough-test-token-1234';
const auth = { authorization: `Bearer ${TOKEN}` };
let hub: Hub;
let dir: string;
let port: number;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-hostile-'));
  const cfg = loadedStore({ store: { id: 'hostile' }, hub: { tokens: [TOKEN] } });
  const cfgWithUser = { ...cfg, users: [await userLogin('mia', 'manager')] };
  hub = await startHub({ config: cfgWithUser, dataDir: dir, log: pino({ level: 'silent' }) });
  port = Number(new URL(hub.httpUrl).port);
});

afterAll(async () => {
  await hub?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** one raw HTTP/1.1 exchange (bytes fetch() would refuse to send); status and body */
function rawRequest(bytes: Buffer): Promise<{ status: number | null; body: string }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let out = '';
    s.on('connect', () => s.write(bytes));
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(out);
      resolve({ status: m ? Number(m[1]) : null, body: out.slice(out.indexOf('\r\n\r\n') + 4) });
    });
    setTimeout(() => s.destroy(), 5000);
  });
}

describe('login body: wrong JSON types are refused, not coerced', () => {
  const login = (body: unknown) => fetch(`${hub.httpUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  it('refuses an array where the user name goes', async () => {
    const res = await login({ user: ['mia'], password: password('mia') });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/^user: /);
  });
  it('refuses a key the body does not have, naming it', async () => {
    const res = await login({ user: 'mia', password: password('mia'), role: 'owner' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/role/);
  });
  it('refuses a number as user name with 400 naming it', async () => {
    const res = await login({ user: 1, password: 'x' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'GW_ERR_BAD_PARAM', message: 'user: must be string' });
  });
});

describe('report: a date-time that is not on the calendar is not a date', () => {
  it.each(['2026-11-23T09:00:99', '2026-11-23T09:00:60', '2026-02-30T09:00:00Z', '2026-11-23T24:00:00Z'])('answers 400 naming `from` for %s', async (from) => {
    const res = await fetch(`${hub.httpUrl}/api/stores/hostile/report?from=${encodeURIComponent(from)}&to=2026-12-24`, { headers: auth });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/^from: .* is not a date/);
  });
  it('still takes the instants and local times that are', async () => {
    for (const from of ['2026-11-23T09:00:59', '2026-02-28T23:59:59.999Z', '2026-11-23T09:00+01:00']) {
      const res = await fetch(`${hub.httpUrl}/api/stores/hostile/report?from=${encodeURIComponent(from)}&to=2026-12-24`, { headers: auth });
      expect(res.status, from).toBe(200);
    }
  });
});

describe('framework-level refusals answer in the API error format', () => {
  const gw = (body: string) => JSON.parse(body) as { error: string; message: string };
  it('a bad %-escape in the path: GW_ERR_BAD_PARAM', async () => {
    const res = await fetch(`${hub.httpUrl}/api/stores/%ff/floor`);
    expect(res.status).toBe(400);
    expect(gw(await res.text()).error).toBe('GW_ERR_BAD_PARAM');
  });
  it('a store id longer than 100 characters: a GW_ERR_ code', async () => {
    const res = await fetch(`${hub.httpUrl}/api/stores/${'a'.repeat(101)}/floor`);
    expect(res.status).toBe(414);
    expect(gw(await res.text())).toEqual({ error: 'GW_ERR_BAD_PARAM', message: expect.stringMatching(/^path: a part of ".*" is longer than 100 characters$/) as unknown });
  });
  it('a header the HTTP parser refuses: a GW_ERR_ code and a message saying why', async () => {
    const r = await rawRequest(Buffer.from('GET /healthz HTTP/1.1\r\nhost: x\r\nx-a: a\u0000b\r\nconnection: close\r\n\r\n', 'latin1'));
    expect(r.status).toBe(400);
    const body = gw(r.body);
    expect(body).toEqual({ error: 'GW_ERR_BAD_PARAM', message: 'request: not valid HTTP/1.1 (Invalid header value char)' });
  });
  it('a CONNECT (the hub is no proxy): 405 in the API format, not a dropped socket', async () => {
    const r = await rawRequest(Buffer.from('CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n'));
    expect(r.status).toBe(405);
    expect(gw(r.body)).toEqual({ error: 'GW_ERR_BAD_PARAM', message: 'method: CONNECT is not served (the hub is no proxy)' });
  });
  it("a static file's own refusal (traversal, a NUL) names the path it refused", async () => {
    const traversal = await fetch(`${hub.httpUrl}/assets/..%2f..%2fpackage.json`);
    expect(traversal.status).toBe(403);
    expect(gw(await traversal.text())).toEqual({ error: 'GW_ERR_BAD_PARAM', message: 'path "/assets/..%2f..%2fpackage.json": Forbidden' });
    const nul = await fetch(`${hub.httpUrl}/assets/%00x.js`);
    expect(nul.status).toBe(400);
    expect(gw(await nul.text())).toEqual({ error: 'GW_ERR_BAD_PARAM', message: 'path "/assets/%00x.js": Bad Request' });
  });
  it('counts each refusal by reason (GET /metrics)', async () => {
    const text = await (await fetch(`${hub.httpUrl}/metrics`, { headers: auth })).text();
    const count = (reason: string) => Number(new RegExp(`http_requests_refused_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    expect([count('FST_ERR_BAD_URL'), count('FST_ERR_MAX_PARAM_LENGTH'), count('HPE_INVALID_HEADER_TOKEN'), count('CONNECT')]).toEqual([1, 1, 1, 1]);
  });
});

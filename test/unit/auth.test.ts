import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { authPlugin, SessionStore, setScopeAccess } from '../../hub/http/auth.ts';
import { Metrics } from '../../hub/metrics.ts';
import { loadedStore } from '../helpers/store-config.ts';

// hub/http/auth.ts (README "Security → Logins and roles"): every route declares who may call
// it, or the hub does not start; sessions are bounded and expire.

const cfg = loadedStore({ store: { id: 'u' }, hub: { tokens: ['unit-test-token-0123456789'] } });
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function withAuth(): Promise<FastifyInstance> {
  app = Fastify();
  await app.register(authPlugin, { config: () => cfg, metrics: new Metrics(), secure: false });
  return app;
}

describe('access declarations', () => {
  it('refuses at startup a route that declares no access, or a made-up one', async () => {
    const f = await withAuth();
    expect(() => f.get('/x', async () => 'x')).toThrow(/route GET \/x declares no access: give it config: \{ access: 'public' \| 'manager' \| 'owner' \}/);
    expect(() => f.get('/y', { config: { access: 'admin' as 'owner' } }, async () => 'y')).toThrow(/route GET \/y declares no access.*got "admin"/);
    // in a plugin of its own: loading it (and so the start) fails with the same error
    const load = async () => {
      await f.register(async (child) => {
        child.post('/z', async () => 'z');
      });
    };
    await expect(load()).rejects.toThrow(/route POST \/z declares no access/);
  });

  it('enforces what the routes declare: public open, manager and owner closed without credentials', async () => {
    const f = await withAuth();
    f.get('/open', { config: { access: 'public' } }, async () => 'open');
    f.get('/api/m', { config: { access: 'manager' } }, async () => 'm');
    f.get('/api/o', { config: { access: 'owner' } }, async () => 'o');
    expect((await f.inject('/open')).statusCode).toBe(200);
    expect((await f.inject('/api/m')).statusCode).toBe(401);
    expect((await f.inject('/api/o')).statusCode).toBe(401);
    const bearer = { authorization: 'Bearer unit-test-token-0123456789' };
    expect((await f.inject({ url: '/api/o', headers: bearer })).statusCode).toBe(200);
    // a non-ASCII token is just a wrong one
    expect((await f.inject({ url: '/api/o', headers: { authorization: 'Bearer tökén-0123456789' } })).statusCode).toBe(401);
    expect((await f.inject({ url: '/api/o?token=unit-test-token-0123456789' })).statusCode).toBe(401);
  });

  it('gives routes of a scope set with setScopeAccess that access (plugins whose routes carry no config)', async () => {
    const f = await withAuth();
    await f.register(async (child) => {
      setScopeAccess(child, 'public');
      child.get('/static/a.js', async () => 'a');
      child.get('/static/b.js', { config: { access: 'owner' } }, async () => 'b'); // a declaration still wins
    });
    expect(() => f.get('/outside', async () => 'no')).toThrow(/declares no access/); // the root is not that scope
    await f.ready();
    expect((await f.inject('/static/a.js')).statusCode).toBe(200);
    expect((await f.inject('/static/b.js')).statusCode).toBe(401);
  });
});

describe('sessions', () => {
  const HOUR = 3600_000;
  it('slide: each use renews the idle time, until the absolute lifetime', () => {
    let now = 0;
    const s = new SessionStore({ idleMs: 12 * HOUR, absoluteMs: 7 * 24 * HOUR, now: () => now });
    const id = s.create('mia', 'manager', 'h');
    expect(id).toMatch(/^[\w-]{43}$/);
    for (let day = 0; day < 6; day++) {
      now += 11 * HOUR;
      expect(s.touch(id)?.user, `after ${now / HOUR} h`).toBe('mia');
    }
    now = 7 * 24 * HOUR + 1;
    expect(s.touch(id)).toBeUndefined();
  });

  it('end after the idle time without use', () => {
    let now = 0;
    const s = new SessionStore({ idleMs: 12 * HOUR, now: () => now });
    const id = s.create('mia', 'manager', 'h');
    now = 12 * HOUR + 1;
    expect(s.touch(id)).toBeUndefined();
    expect(s.size).toBe(0);
  });

  it('are bounded: past the limit the least recently used goes', () => {
    const s = new SessionStore({ max: 3 });
    const [a, b, c] = [s.create('a', 'manager', 'h'), s.create('b', 'manager', 'h'), s.create('c', 'manager', 'h')];
    expect(s.touch(a)?.user).toBe('a'); // a is now the most recently used
    const d = s.create('d', 'owner', 'h');
    expect(s.size).toBe(3);
    expect(s.touch(b)).toBeUndefined();
    expect([s.touch(a)?.user, s.touch(c)?.user, s.touch(d)?.user]).toEqual(['a', 'c', 'd']);
    s.delete(a);
    expect(s.touch(a)).toBeUndefined();
  });
});

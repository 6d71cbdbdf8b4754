import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { ErrorCodes, GwError, type ErrorCode } from '../../contract/index.ts';
import { parsePhc, verifyPassword } from '../../firmware-config/passwords.ts';
import type { StoreConfig } from '../../firmware-config/schema.ts';
import type { Metrics } from '../metrics.ts';
import { rateLimitedLog } from '../rate-limited-log.ts';

// Who may use the hub's HTTP API (README "Security → Logins and roles"). Every route says who
// may call it, `config: { access: 'public' | 'manager' | 'owner' }`, and one onRequest hook
// enforces it; a route that says nothing is refused at startup (and denied if it got through).
// - people log in with a user of the store file (`users`, scrypt hashes) and get a session cookie;
// - machine clients send `Authorization: Bearer <token>` (`hub.tokens`) and act as owner on /api and /metrics;
// - a store file with neither users nor tokens leaves the API open (the demo, a first setup).
// Users and tokens are read from the running config at each request: a reload applies at once.

export type Access = 'public' | 'manager' | 'owner';
export type Role = StoreConfig['users'][number]['role'];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** who may call the route (hub/http/auth.ts); every route must say */
    access?: Access;
  }
  interface FastifyRequest {
    /** who made the request, set by the access hook on manager and owner routes */
    principal: Principal | null;
  }
}

/** who made a request, and whether that still stands (a long-lived stream asks again) */
export interface Principal {
  kind: 'open' | 'token' | 'session';
  role: Role;
  /** the user of a session */
  user?: string;
  name?: string;
  /** false once the session ended, the user or token left the store file, or open mode ended */
  stillValid(): boolean;
}

export const SESSION_COOKIE = 'gw_session';
/** sessions kept; past this the least recently used goes (bounded memory whatever logs in) */
export const MAX_SESSIONS = 1000;
/** a session unused this long ends (each request and each live-stream check renews it) */
export const SESSION_IDLE_MS = 12 * 3600_000;
/** and ends this long after its login, however busy */
export const SESSION_MAX_MS = 7 * 86_400_000;
/** login attempts per client address and window, successful ones included */
export const LOGIN_MAX = 10;
export const LOGIN_WINDOW_MS = 60_000;

const RANK: Record<Access, number> = { public: 0, manager: 1, owner: 2 };
/** a refusal with its HTTP status, so it answers right in any fastify instance (the hub's error handler maps codes too) */
const refuse = (code: ErrorCode, statusCode: number, message: string) => Object.assign(new GwError(code, message), { statusCode });
const isAccess = (a: unknown): a is Access => a === 'public' || a === 'manager' || a === 'owner';
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

interface Session {
  user: string;
  role: Role;
  /** the password hash the login was checked against: a new password ends old sessions */
  hash: string;
  createdAt: number;
  lastSeen: number;
}

/**
 * Server-side sessions, in memory (they do not survive a restart: everyone logs in again).
 * Keyed by a SHA-256 of the id, so the map never holds a usable cookie value.
 */
export class SessionStore {
  readonly #map = new Map<string, Session>();
  readonly #max: number;
  readonly #idleMs: number;
  readonly #absoluteMs: number;
  readonly #now: () => number;
  constructor(opts: { max?: number; idleMs?: number; absoluteMs?: number; now?: () => number } = {}) {
    this.#max = opts.max ?? MAX_SESSIONS;
    this.#idleMs = opts.idleMs ?? SESSION_IDLE_MS;
    this.#absoluteMs = opts.absoluteMs ?? SESSION_MAX_MS;
    this.#now = opts.now ?? Date.now;
  }
  #key = (id: string) => sha256(id).toString('base64url');
  get size(): number {
    return this.#map.size;
  }
  /** a new session; returns its id (32 random bytes, base64url), the cookie's value */
  create(user: string, role: Role, hash: string): string {
    const id = randomBytes(32).toString('base64url');
    const t = this.#now();
    if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(this.#key(id), { user, role, hash, createdAt: t, lastSeen: t });
    return id;
  }
  /** the live session of `id`, renewed (idle time restarts, it becomes the most recently used); undefined once ended */
  touch(id: string): Session | undefined {
    const k = this.#key(id);
    const s = this.#map.get(k);
    if (!s) return undefined;
    const t = this.#now();
    this.#map.delete(k);
    if (t - s.lastSeen > this.#idleMs || t - s.createdAt > this.#absoluteMs) return undefined;
    s.lastSeen = t;
    this.#map.set(k, s);
    return s;
  }
  delete(id: string): void {
    this.#map.delete(this.#key(id));
  }
}

export interface AuthOptions {
  /** the config in force (read at each request: a reload applies at once) */
  config: () => StoreConfig;
  metrics: Metrics;
  /** the hub serves HTTPS: the cookie gets Secure */
  secure: boolean;
  sessions?: SessionStore;
  loginMax?: number;
  loginWindowMs?: number;
}

const LoginBody = Type.Object(
  {
    user: Type.String({ minLength: 1, maxLength: 64 }),
    // scrypt reads the whole password: a bound keeps one request from costing more than a login
    password: Type.String({ maxLength: 1024 }),
  },
  { additionalProperties: false },
);
type LoginBody = Static<typeof LoginBody>;

const kScopeAccess = Symbol('gw.scopeAccess');
type Scoped = FastifyInstance & { [kScopeAccess]?: Access };

/**
 * Routes registered in `scope` (and its children) that declare no access get `access`: for
 * plugins such as @fastify/static whose routes cannot carry a config. Use it only in a scope
 * that serves nothing but such routes.
 */
export function setScopeAccess(scope: FastifyInstance, access: Access): void {
  (scope as Scoped)[kScopeAccess] = access;
}

/** A stand-in hash with the cost of the store's own, so an unknown user costs a login as long as a known one. */
function dummyHash(cfg: StoreConfig): string {
  const p = cfg.users.map((u) => parsePhc(u.passwordHash)).find((r) => r.ok)?.value ?? { ln: 15, r: 8, p: 1 };
  return `$scrypt$ln=${p.ln},r=${p.r},p=${p.p}$AAAAAAAAAAAAAAAAAAAAAA$${'A'.repeat(43)}`;
}

const auth: FastifyPluginAsync<AuthOptions> = async (f, opts) => {
  const sessions = opts.sessions ?? new SessionStore();
  const log = f.log;
  const warn = rateLimitedLog(log, 10_000);
  const config = opts.config;

  // fail closed, loudly: a route without a declared access stops the hub at startup
  f.addHook('onRoute', function (this: Scoped, route: RouteOptions) {
    const access = route.config?.access ?? this[kScopeAccess];
    if (!isAccess(access)) {
      const method = Array.isArray(route.method) ? route.method.join(',') : route.method;
      throw new Error(
        `route ${method} ${route.url} declares no access: give it config: { access: 'public' | 'manager' | 'owner' } (hub/http/auth.ts, README "Security")` +
          (route.config?.access !== undefined ? `; got ${JSON.stringify(route.config.access)}` : ''),
      );
    }
    route.config = { ...route.config, access };
  });

  await f.register(fastifyCookie);
  await f.register(fastifyRateLimit, {
    global: false, // only the login route is limited (README "Security → Logins and roles")
    errorResponseBuilder: (_req, c) =>
      refuse(ErrorCodes.RATE_LIMITED, c.statusCode, `too many login attempts from this address: try again in ${c.after}`),
    onExceeded: (req) => {
      opts.metrics.loginRateLimited();
      warn(`rate:${req.ip}`, { address: req.ip }, 'login attempts rate-limited');
    },
  });
  f.decorateRequest('principal', null);

  if (config().users.length === 0 && config().hub.tokens.length === 0) log.warn('no users or tokens: the API is open');

  let tokenSource: readonly string[] | undefined;
  let tokenDigests: Buffer[] = [];
  /** tokens compared as SHA-256 digests: equal length whatever was sent (no length leak), and a non-ASCII token is just wrong */
  const tokenKnown = (d: Buffer): boolean => {
    const configured = config().hub.tokens;
    if (configured !== tokenSource) {
      tokenSource = configured;
      tokenDigests = configured.map(sha256);
    }
    let hit = false;
    for (const t of tokenDigests) hit = timingSafeEqual(t, d) || hit;
    return hit;
  };
  const isOpen = () => {
    const c = config();
    return c.users.length === 0 && c.hub.tokens.length === 0;
  };
  /** the user of a live session, looked up in the config in force: removed users and changed roles or passwords end it */
  const sessionUser = (id: string) => {
    const s = sessions.touch(id);
    if (!s) return undefined;
    const u = config().users.find((x) => x.id === s.user);
    if (!u || u.role !== s.role || u.passwordHash !== s.hash) {
      sessions.delete(id);
      return undefined;
    }
    return u;
  };

  /** who sent `req`: undefined when it carries no credentials; throws 401 for wrong ones */
  const identify = (req: FastifyRequest): Principal | undefined => {
    if (isOpen()) return { kind: 'open', role: 'owner', stillValid: isOpen };
    const h = req.headers.authorization;
    if (h !== undefined) {
      // a request with a header is judged by it alone: a cookie never rescues a wrong token
      const d = h.startsWith('Bearer ') ? sha256(h.slice(7)) : undefined;
      if (!d || !(req.url.startsWith('/api/') || req.url.split('?')[0] === '/metrics') || !tokenKnown(d)) throw refuse(ErrorCodes.UNAUTHORIZED, 401, 'missing or wrong bearer token (send Authorization: Bearer <token>)');
      return { kind: 'token', role: 'owner', stillValid: () => tokenKnown(d) };
    }
    const id = req.cookies[SESSION_COOKIE];
    if (id === undefined) return undefined;
    const u = sessionUser(id);
    if (!u) throw refuse(ErrorCodes.UNAUTHORIZED, 401, 'the session has ended: log in again (POST /api/login)');
    return { kind: 'session', role: u.role, user: u.id, ...(u.name !== undefined ? { name: u.name } : {}), stillValid: () => sessionUser(id) !== undefined };
  };

  f.addHook('onRequest', async (req) => {
    // a token in a URL ends up in logs, browser history and proxies: refused wherever it is sent
    if (req.query !== null && typeof req.query === 'object' && 'token' in req.query) {
      throw refuse(ErrorCodes.UNAUTHORIZED, 401, 'token: tokens in the URL are not accepted; send Authorization: Bearer <token>, or log in (POST /api/login)');
    }
    if (req.is404) return; // the not-found answer tells nothing
    const access = req.routeOptions.config.access;
    if (access === 'public') return;
    if (!isAccess(access)) throw refuse(ErrorCodes.FORBIDDEN, 403, `${req.method} ${req.routeOptions.url ?? ''} declares no access: refused`);
    const p = identify(req);
    if (!p) throw refuse(ErrorCodes.UNAUTHORIZED, 401, 'log in (POST /api/login) or send Authorization: Bearer <token>');
    if (RANK[p.role] < RANK[access]) throw refuse(ErrorCodes.FORBIDDEN, 403, `this needs the ${access} role; ${p.user ?? 'this login'} is ${p.role}`);
    req.principal = p;
  });

  const cookieOpts = { httpOnly: true, sameSite: 'strict', secure: opts.secure, path: '/' } as const;
  const me = (u: StoreConfig['users'][number]) => ({ user: u.id, ...(u.name !== undefined ? { name: u.name } : {}), role: u.role });

  f.post(
    '/api/login',
    {
      config: { access: 'public', rateLimit: { max: opts.loginMax ?? LOGIN_MAX, timeWindow: opts.loginWindowMs ?? LOGIN_WINDOW_MS } },
      schema: { body: LoginBody },
    },
    async (req, reply) => {
      const { user, password } = req.body as LoginBody;
      const cfg = config();
      const u = cfg.users.find((x) => x.id === user);
      // an unknown user costs a scrypt too, and gets the same answer: no probing for user names
      const ok = await verifyPassword(password, u?.passwordHash ?? dummyHash(cfg));
      if (!u || !ok) {
        opts.metrics.loginFailed();
        // the name only when it is a user's: an unknown one may be a password typed in the wrong field
        warn(`fail:${req.ip}`, { address: req.ip, ...(u ? { user: u.id } : { unknownUser: true }) }, 'login refused');
        throw refuse(ErrorCodes.UNAUTHORIZED, 401, 'wrong user or password');
      }
      // a login replaces the session the browser had (no fixation of an id set beforehand)
      const old = req.cookies[SESSION_COOKIE];
      if (old !== undefined) sessions.delete(old);
      const id = sessions.create(u.id, u.role, u.passwordHash);
      reply.setCookie(SESSION_COOKIE, id, { ...cookieOpts, maxAge: Math.floor(SESSION_MAX_MS / 1000) });
      req.log.info({ user: u.id, role: u.role }, 'logged in');
      return me(u);
    },
  );

  f.post('/api/logout', { config: { access: 'public' } }, async (req, reply: FastifyReply) => {
    const id = req.cookies[SESSION_COOKIE];
    if (id !== undefined) sessions.delete(id);
    return reply.clearCookie(SESSION_COOKIE, cookieOpts).status(204).send();
  });

  // public: it answers for the browser's session alone (a bearer token has no user)
  f.get('/api/me', { config: { access: 'public' } }, async (req) => {
    const id = req.cookies[SESSION_COOKIE];
    const u = id === undefined ? undefined : sessionUser(id);
    if (!u) throw refuse(ErrorCodes.UNAUTHORIZED, 401, 'not logged in (POST /api/login)');
    return me(u);
  });
};

/** The access hook, sessions and the login routes; registered on the root (not encapsulated) so the hook sees every route. */
export const authPlugin = Object.assign(auth, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'gw-auth' });

// The hub's JSON API from the pages. The session is an httpOnly cookie the browser sends by
// itself; a 401 means it is missing or has run out, so the page goes to the login page and
// comes back here after. A 403 (a manager on an owner route) is the caller's to explain.

export type Role = 'manager' | 'owner';

/** GET /api/me and POST /api/login answer this */
export interface Me {
  user: string;
  name?: string;
  role: Role;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** where to log in and come back to `next` (this page by default) */
export function loginUrl(next = location.pathname + location.search): string {
  return `/login?next=${encodeURIComponent(next)}`;
}

/**
 * `next` as given to the login page, when it is a path on this site: an absolute URL or
 * `//host` would make the login page a way to send people elsewhere.
 */
export function safeNext(next: string | null): string | null {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return null;
  if (/^\/login(?:[?#/]|$)/.test(next)) return null;
  return next;
}

export function homeOf(role: Role): string {
  return role === 'owner' ? '/owner' : '/manager';
}

let redirecting = false;
/** leaves for the login page; resolves never, so nothing renders meanwhile */
export function toLogin(): Promise<never> {
  if (!redirecting) {
    redirecting = true;
    location.replace(loginUrl());
  }
  return new Promise<never>(() => {});
}

async function errorOf(res: Response): Promise<ApiError> {
  let code: string | undefined;
  let message = `${res.status} ${res.statusText}`.trim();
  try {
    const body = (await res.json()) as { error?: unknown; message?: unknown };
    if (typeof body.error === 'string') code = body.error;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // not JSON: the status line says enough
  }
  return new ApiError(res.status, code, message);
}

/** GET (or `init`) a JSON resource; a 401 goes to the login page */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin', ...init, headers: { accept: 'application/json', ...init.headers } });
  if (res.status === 401) return toLogin();
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as T;
}

/**
 * Who is logged in, or null on a hub that is open (a store file with neither users nor
 * tokens, e.g. a first setup): there /api/me has nobody to name, but the API answers
 * without a login. Anyone else without a session goes to the login page.
 */
export async function whoAmI(store: string): Promise<Me | null> {
  const res = await fetch('/api/me', { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.ok) return (await res.json()) as Me;
  if (res.status !== 401 && res.status !== 404) throw await errorOf(res);
  const probe = await fetch(`/api/stores/${encodeURIComponent(store)}/live`, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (probe.ok) return null;
  if (probe.status === 401) return toLogin();
  throw await errorOf(probe);
}

export async function logout(): Promise<void> {
  try {
    // a JSON body: a cross-site form cannot send one, so a hub may insist on it
    await fetch('/api/logout', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{}' });
  } finally {
    location.assign('/login');
  }
}

/** the store this hub serves and its name (GET /api/hub, public); `?store=` in the page's URL wins */
export async function hubInfo(): Promise<{ store: string; name: string }> {
  const fromUrl = new URLSearchParams(location.search).get('store');
  let info: { store: string; name: string } | undefined;
  try {
    info = await api<{ store: string; name: string }>('/api/hub');
  } catch {
    // an older hub: the page's data-store attribute, else /healthz, name the store
  }
  const store = fromUrl ?? info?.store ?? document.documentElement.dataset.store ?? (await api<{ store: string }>('/healthz')).store;
  return { store, name: info && info.store === store ? info.name : store };
}

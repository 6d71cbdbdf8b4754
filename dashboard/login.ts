import './lib/style.css';
import './login.css';
import { homeOf, safeNext, type Me } from './lib/api.ts';
import { byId } from './lib/dom.ts';

// The login page (/login): user and password to POST /api/login, which sets the session
// cookie; then on to `?next=` (a path on this site) or to the page of the user's role.
// Refusals are said in words; the password field is cleared after a wrong one.

const form = byId<HTMLFormElement>('login-form');
const user = byId<HTMLInputElement>('user');
const password = byId<HTMLInputElement>('password');
const submit = byId<HTMLButtonElement>('submit');
const error = byId('login-error');
const next = safeNext(new URLSearchParams(location.search).get('next'));

byId('why').hidden = next === null;

function showError(text: string, fields: HTMLInputElement[] = []): void {
  error.textContent = text;
  error.hidden = false;
  for (const f of [user, password]) f.setAttribute('aria-invalid', String(fields.includes(f)));
}

/** " (in about 3 minutes)" from a Retry-After header (seconds or an HTTP date), or '' */
function retryIn(header: string | null): string {
  if (!header) return '';
  const s = /^\d+$/.test(header) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
  if (!Number.isFinite(s) || s <= 0) return '';
  if (s < 50) return ` (in about ${Math.max(1, Math.round(s))} seconds)`;
  if (s < 90) return ' (in about a minute)';
  return ` (in about ${Math.round(s / 60)} minutes)`;
}

async function messageOf(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { message?: unknown };
    return typeof body.message === 'string' ? body.message : '';
  } catch {
    return '';
  }
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  void logIn();
});

async function logIn(): Promise<void> {
  const name = user.value.trim();
  if (!name || !password.value) {
    showError('Enter your user name and your password.', [...(name ? [] : [user]), ...(password.value ? [] : [password])]);
    (name ? password : user).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = 'Logging in…';
  try {
    let res: Response;
    try {
      res = await fetch('/api/login', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ user: name, password: password.value }),
      });
    } catch {
      showError('The hub does not answer. Check the network connection and try again.');
      return;
    }
    if (res.ok) {
      const who = (await res.json()) as Me;
      location.replace(next ?? homeOf(who.role));
      return;
    }
    if (res.status === 401) {
      password.value = '';
      showError('Wrong user name or password. Try again.', [user, password]);
      password.focus();
    } else if (res.status === 429) {
      showError(`Too many attempts: try again later${retryIn(res.headers.get('retry-after'))}.`);
    } else if (res.status === 400) {
      showError(`The hub refused the login: ${(await messageOf(res)) || 'the request was not understood'}.`);
    } else {
      const msg = await messageOf(res);
      showError(`Logging in failed (HTTP ${res.status})${msg ? `: ${msg}` : ''}. Try again in a moment.`);
    }
  } finally {
    submit.disabled = false;
    submit.textContent = 'Log in';
  }
}

// someone already logged in (a second tab, the back button) is told so, and may log in as someone
// else; fetched directly: api.ts would answer a 401 by coming back here
void fetch('/api/me', { credentials: 'same-origin', headers: { accept: 'application/json' } })
  .then(async (res) => (res.ok ? ((await res.json()) as Me) : null))
  .then((who) => {
    if (!who) return;
    const el = byId('already');
    const to = next ?? homeOf(who.role);
    el.replaceChildren(`You are logged in as ${who.name ?? who.user} (${who.role}). `, Object.assign(document.createElement('a'), { href: to, textContent: 'Continue' }), ', or log in as someone else below.');
    el.hidden = false;
  })
  .catch(() => undefined);
user.focus();

import { hubInfo, logout, whoAmI, type Me } from './api.ts';
import { byId } from './dom.ts';

// What the manager and owner pages share around their content: who is logged in, the
// logout button, and the link to the owner view for owners. A page calls startShell() first;
// without a session it goes to the login page instead (api.ts).

export async function startShell(): Promise<{ who: Me | null; hub: { store: string; name: string } }> {
  const hub = await hubInfo();
  const who = await whoAmI(hub.store);
  const brand = document.getElementById('store-name');
  if (brand) brand.textContent = hub.name;
  const el = document.getElementById('who');
  if (el) el.textContent = who ? `${who.name ?? who.user} · ${who.role}` : '';
  const out = document.getElementById('logout') as HTMLButtonElement | null;
  if (out) {
    out.hidden = who === null;
    out.addEventListener('click', () => {
      out.disabled = true;
      void logout();
    });
  }
  // managers do not get the owner link: the owner view would only tell them it is not theirs
  for (const a of document.querySelectorAll<HTMLElement>('[data-role="owner"]')) a.hidden = who !== null && who.role !== 'owner';
  document.documentElement.dataset.role = who?.role ?? 'open';
  return { who, hub };
}

/** a message in the page's status line (announced to screen readers: the element is aria-live) */
export function status(text: string, kind: 'info' | 'error' = 'info'): void {
  const el = byId('status');
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = text === '';
}

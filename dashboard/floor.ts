import { partyLevel } from '../contract/levels.ts';
import type { LiveSnapshot, NodeHealth } from '../contract/index.ts';

// The floor view: who is waiting and for how long, live over SSE. Timers count up
// in the browser between messages; colours follow the hub's rules (amber at
// warnAtS, red at greetWithinS or after a steps-line breach).

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const store = params.get('store') ?? document.documentElement.dataset.store ?? '';
const token = params.get('token');

let snap: LiveSnapshot | undefined;
/** server clock − browser clock, so timers agree with the hub */
let skewMs = 0;

function fmt(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const FAULT_WORDS: Record<string, string> = { stuck: 'stuck', chatter: 'flickering (muted)', disconnected: 'disconnected', recovered: 'ok again' };

/** faults still standing: a sensor's latest fault, unless it has recovered */
function activeFaults(n: NodeHealth): NonNullable<NodeHealth['faults']> {
  return (n.faults ?? []).filter((f) => f.kind !== 'recovered');
}

function renderTimers(): void {
  if (!snap) return;
  const now = Date.now() + skewMs;
  for (const li of document.querySelectorAll<HTMLLIElement>('#waiting li')) {
    const p = snap.open.find((o) => o.party === li.dataset.party);
    if (!p) continue;
    const waitingS = (now - Date.parse(p.entryTime)) / 1000;
    li.querySelector('.timer')!.textContent = fmt(waitingS);
    li.dataset.level = partyLevel(waitingS, p.breached, snap.rules);
  }
}

function render(s: LiveSnapshot): void {
  snap = s;
  skewMs = Date.parse(s.now) - Date.now();
  $('store').textContent = `greetwatch · ${s.store}`;
  $('sl').textContent = s.today.serviceLevel === null ? '–' : `${Math.round(s.today.serviceLevel * 100)}%`;
  $('visits').textContent = String(s.today.visits);
  $('asg').textContent = s.today.asgS === null ? '–' : `${s.today.asgS.toFixed(1)} s`;
  $('waitingCount').textContent = String(s.open.length);
  const banner = $('banner');
  banner.hidden = s.history.enabled;
  banner.textContent = s.history.enabled ? '' : s.history.detail;

  const list = $('waiting');
  const keep = new Set(s.open.map((p) => p.party));
  for (const li of [...list.children] as HTMLLIElement[]) if (!keep.has(li.dataset.party ?? '')) li.remove();
  for (const p of s.open) {
    let li = list.querySelector<HTMLLIElement>(`li[data-party="${CSS.escape(p.party)}"]`);
    if (!li) {
      li = document.createElement('li');
      li.dataset.party = p.party;
      li.innerHTML = '<div class="timer"></div><div class="meta"></div>';
      list.append(li);
    }
    const bits = [p.size > 1 ? `party of ${p.size}` : 'customer', `in at ${new Date(p.entryTime).toLocaleTimeString()}`];
    if (p.leaving) bits.push('may be leaving');
    if (p.breached) bits.push('walked in past the line');
    li.querySelector('.meta')!.textContent = bits.join(' · ');
  }
  $('empty').hidden = s.open.length > 0;

  $('nodes').replaceChildren(
    ...s.nodes.map((n) => {
      const li = document.createElement('li');
      li.dataset.node = n.node;
      li.dataset.online = String(n.online);
      li.dataset.clockflag = String(n.clockFlag);
      li.textContent = `${n.node} ${n.online ? 'online' : 'offline'}`;
      const active = activeFaults(n);
      if (active.length) {
        li.dataset.fault = 'true';
        const ul = document.createElement('ul');
        ul.className = 'faults';
        for (const f of active) {
          const item = document.createElement('li');
          item.dataset.sensor = f.sensor;
          item.dataset.kind = f.kind;
          item.textContent = `${f.sensor}: ${FAULT_WORDS[f.kind]}`;
          if (f.detail) item.title = f.detail;
          ul.append(item);
        }
        li.append(ul);
      }
      return li;
    }),
  );
  renderTimers();
}

function connect(): void {
  const url = `/api/stores/${encodeURIComponent(store)}/stream${token ? `?token=${encodeURIComponent(token)}` : ''}`;
  const es = new EventSource(url);
  const conn = $('conn');
  es.addEventListener('open', () => {
    conn.dataset.state = 'live';
    conn.textContent = 'live';
  });
  es.addEventListener('live', (e) => render(JSON.parse((e as MessageEvent<string>).data) as LiveSnapshot));
  es.addEventListener('error', () => {
    conn.dataset.state = 'down';
    conn.textContent = 'reconnecting…';
  });
}

setInterval(renderTimers, 200);
connect();

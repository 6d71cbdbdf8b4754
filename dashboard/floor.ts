import { partyLevel } from '../contract/levels.ts';
import type { LiveDelta, LiveSnapshot, NodeHealth, OpenParty } from '../contract/index.ts';

// The floor view: who is waiting and for how long, live over SSE (README "Live stream").
// A `live` snapshot re-renders the page; `change` deltas add, update or remove one card
// each, applied together in the next animation frame. Timers count up in the browser
// from entryTime; colours follow the hub's rules (contract/levels.ts partyLevel).
// A seq gap is counted and otherwise ignored: the next snapshot corrects the list.

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const store = params.get('store') ?? document.documentElement.dataset.store ?? '';
const token = params.get('token');

let rules: LiveSnapshot['rules'] | undefined;
/** the waiting parties and their cards, by party id */
const open = new Map<string, OpenParty>();
const cards = new Map<string, HTMLLIElement>();
/** server clock − browser clock, so timers agree with the hub */
let skewMs = 0;
/** seq of the last delta applied on this connection */
let lastSeq: number | undefined;
/** hub time of the last delta applied: a snapshot taken before it would undo it */
let lastChangeMs = -Infinity;
/** deltas received and not yet applied (one animation frame at most, or until the next snapshot) */
const pending: LiveDelta[] = [];
let frame: number | undefined;
/** for tests and the curious: what this page has applied (data-deltas, data-snapshots, data-gaps on <html>) */
const counts = { deltas: 0, snapshots: 0, gaps: 0 };

function fmt(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const FAULT_WORDS: Record<string, string> = { stuck: 'stuck', chatter: 'flickering (muted)', disconnected: 'disconnected', recovered: 'ok again' };

/** faults still standing: a sensor's latest fault, unless it has recovered */
function activeFaults(n: NodeHealth): NonNullable<NodeHealth['faults']> {
  return (n.faults ?? []).filter((f) => f.kind !== 'recovered');
}

function renderTimer(li: HTMLLIElement, p: OpenParty, now: number): void {
  const waitingS = (now - Date.parse(p.entryTime)) / 1000;
  li.querySelector('.timer')!.textContent = fmt(waitingS);
  if (rules) li.dataset.level = partyLevel(waitingS, p.breached, rules);
  else li.dataset.level = p.level;
}

function renderTimers(): void {
  const now = Date.now() + skewMs;
  for (const [id, p] of open) {
    const li = cards.get(id);
    if (li) renderTimer(li, p, now);
  }
}

/** adds or updates one party's card */
function upsert(p: OpenParty): void {
  open.set(p.party, p);
  let li = cards.get(p.party);
  if (!li) {
    li = document.createElement('li');
    li.dataset.party = p.party;
    li.innerHTML = '<div class="timer"></div><div class="meta"></div>';
    cards.set(p.party, li);
    $('waiting').append(li);
  }
  const bits = [p.size > 1 ? `party of ${p.size}` : 'customer', `in at ${new Date(p.entryTime).toLocaleTimeString()}`];
  if (p.leaving) bits.push('may be leaving');
  if (p.breached) bits.push('walked in past the line');
  li.querySelector('.meta')!.textContent = bits.join(' · ');
  renderTimer(li, p, Date.now() + skewMs);
}

function remove(party: string): void {
  open.delete(party);
  cards.get(party)?.remove();
  cards.delete(party);
}

function renderCounts(): void {
  $('waitingCount').textContent = String(open.size);
  $('empty').hidden = open.size > 0;
  const d = document.documentElement.dataset;
  d.deltas = String(counts.deltas);
  d.snapshots = String(counts.snapshots);
  d.gaps = String(counts.gaps);
}

function applyDelta(d: LiveDelta): void {
  if (lastSeq !== undefined && d.seq !== lastSeq + 1) counts.gaps++;
  lastSeq = d.seq;
  skewMs = Date.parse(d.now) - Date.now();
  lastChangeMs = Math.max(lastChangeMs, Date.parse(d.now));
  for (const c of d.changes) {
    if (c.kind === 'open') upsert(c.party);
    else remove(c.party);
  }
  counts.deltas++;
}

/** applies every pending delta, in the order received */
function flush(): void {
  if (frame !== undefined) cancelAnimationFrame(frame);
  frame = undefined;
  if (!pending.length) return;
  for (const d of pending.splice(0)) applyDelta(d);
  renderCounts();
}

function render(s: LiveSnapshot): void {
  flush(); // deltas received before this snapshot come first
  counts.snapshots++;
  rules = s.rules;
  skewMs = Date.parse(s.now) - Date.now();
  $('store').textContent = `greetwatch · ${s.store}`;
  $('sl').textContent = s.today.serviceLevel === null ? '–' : `${Math.round(s.today.serviceLevel * 100)}%`;
  $('visits').textContent = String(s.today.visits);
  $('asg').textContent = s.today.asgS === null ? '–' : `${s.today.asgS.toFixed(1)} s`;
  const banner = $('banner');
  banner.hidden = s.history.enabled;
  banner.textContent = s.history.enabled ? '' : s.history.detail;

  // a snapshot the hub took before the last delta would bring back what the delta changed:
  // its figures and nodes are used, its waiting list is left to the next snapshot
  if (Date.parse(s.now) >= lastChangeMs) {
    const keep = new Set(s.open.map((p) => p.party));
    for (const id of [...open.keys()]) if (!keep.has(id)) remove(id);
    for (const p of s.open) upsert(p);
  }

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
  renderCounts();
}

function connect(): void {
  const url = `/api/stores/${encodeURIComponent(store)}/stream${token ? `?token=${encodeURIComponent(token)}` : ''}`;
  const es = new EventSource(url);
  const conn = $('conn');
  es.addEventListener('open', () => {
    // a new connection (perhaps to a restarted hub, seq from 1) starts from its first snapshot
    flush();
    lastSeq = undefined;
    lastChangeMs = -Infinity;
    conn.dataset.state = 'live';
    conn.textContent = 'live';
  });
  es.addEventListener('live', (e) => render(JSON.parse((e as MessageEvent<string>).data) as LiveSnapshot));
  es.addEventListener('change', (e) => {
    pending.push(JSON.parse((e as MessageEvent<string>).data) as LiveDelta);
    frame ??= requestAnimationFrame(flush);
  });
  es.addEventListener('error', () => {
    conn.dataset.state = 'down';
    conn.textContent = 'reconnecting…';
  });
}

setInterval(renderTimers, 200);
connect();

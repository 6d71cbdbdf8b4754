import { partyLevel } from '../contract/levels.ts';
import type { FloorDelta, FloorParty, FloorSnapshot, HubInfo, PartyLevel } from '../contract/index.ts';

// The floor view (README "Floor view"): a screen by the counter, unattended all day, that shows
// who is waiting and for how long. Live over the floor stream (SSE): a `floor` snapshot
// re-renders the list, `change` deltas add, update or remove one tile each, applied together in
// the next animation frame. Timers count up here from entryTime, corrected by the hub's `now`;
// levels follow the hub's rule (contract/levels.ts). Without data the page says so across the
// whole screen and stops the timers: an empty list is never shown for a hub it cannot hear.

/** the floor stream sends a snapshot at least every 2 s (hub/http/floor-routes.ts): this much silence is a lost hub */
const STALE_MS = 5000;
/** a closed stream is opened again after this long (EventSource retries by itself while it can) */
const RECONNECT_MS = 2000;
const CHIME_KEY = 'greetwatch.floor.chime';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

type ConnState = 'connecting' | 'live' | 'stale';

let store = params.get('store') ?? document.documentElement.dataset.store ?? '';
let rules: FloorSnapshot['rules'] | undefined;
/** the waiting parties and their tiles, by party id */
const open = new Map<string, FloorParty>();
const tiles = new Map<string, HTMLLIElement>();
/** parties already red when first seen, or chimed for: each chimes once at most */
const chimed = new Set<string>();
/** hub clock − browser clock, so timers agree with the hub */
let skewMs = 0;
/** seq of the last delta applied on this connection */
let lastSeq: number | undefined;
/** hub time of the last delta applied: a snapshot taken before it would undo it */
let lastChangeMs = -Infinity;
/** Date.now() of the last message from the hub */
let lastMessageAt = 0;
/** deltas received and not yet applied (one animation frame at most, or until the next snapshot) */
const pending: FloorDelta[] = [];
let frame: number | undefined;
let state: ConnState = 'connecting';
/** for tests and the curious: what this page has applied, and how often it lost the hub (data-deltas, data-snapshots, data-gaps, data-stale on <html>) */
const counts = { deltas: 0, snapshots: 0, gaps: 0, stale: 0 };

const LEVEL_WORDS: Record<PartyLevel, string> = { ok: 'Waiting', warn: 'Greet soon', late: 'LATE' };

function fmt(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const sizeWords = (n: number) => (n > 1 ? `party of ${n}` : '1 person');

// ---- chime: off by default, a WebAudio beep (no audio files), remembered on this screen

let audio: AudioContext | undefined;
let chimeOn = localStorage.getItem(CHIME_KEY) === '1';

function renderChime(): void {
  const b = $('chime');
  b.setAttribute('aria-pressed', String(chimeOn));
  // browsers keep sound off until someone touches the page: say so instead of staying silent
  const blocked = chimeOn && audio?.state !== 'running';
  b.textContent = chimeOn ? (blocked ? 'Chime on (tap to allow sound)' : 'Chime on') : 'Chime off';
}

function unlockAudio(): void {
  if (!chimeOn) return;
  try {
    audio ??= new AudioContext();
  } catch {
    return; // no audio on this device: the toggle still shows what was chosen
  }
  if (audio.state !== 'running') void audio.resume().then(renderChime, renderChime);
  renderChime();
}

function beep(): void {
  if (!chimeOn || !audio || audio.state !== 'running') return;
  const t = audio.currentTime;
  for (const [i, hz] of [880, 660].entries()) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.value = hz;
    const start = t + i * 0.22;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.4, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.2);
    osc.connect(gain).connect(audio.destination);
    osc.start(start);
    osc.stop(start + 0.21);
  }
}

$('chime').addEventListener('click', () => {
  chimeOn = !chimeOn;
  localStorage.setItem(CHIME_KEY, chimeOn ? '1' : '0');
  unlockAudio();
  renderChime();
  if (chimeOn) beep(); // what it will sound like
});
// any touch or key may lift the browser's block on sound
// (click, not pointerdown: a label that changes between press and release would move the button away from the pointer)
for (const ev of ['click', 'keydown'] as const) document.addEventListener(ev, unlockAudio);

// ---- layout: as few rows and columns as hold every tile, each tile as large as it can be

/** tiles read best a little wider than tall */
const TILE_ASPECT = 1.4;
/** below this a tile is no longer readable across the room: the list scrolls instead */
const MIN_ROW_PX = 150;

function layout(): void {
  const main = $('main');
  const list = $('waiting');
  const n = Math.max(1, open.size);
  const style = getComputedStyle(list);
  const gap = parseFloat(style.rowGap) || 0;
  const pad = parseFloat(getComputedStyle(main).paddingTop) || 0;
  const w = main.clientWidth - 2 * pad;
  const h = main.clientHeight - 2 * pad;
  let best = { cols: 1, rowH: h, score: -1 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const tw = (w - gap * (cols - 1)) / cols;
    const th = (h - gap * (rows - 1)) / rows;
    // the largest tile of the preferred shape that fits the cell
    const score = Math.min(tw / TILE_ASPECT, th);
    if (score > best.score) best = { cols, rowH: th, score };
  }
  list.style.setProperty('--cols', String(best.cols));
  list.style.setProperty('--row-h', `${Math.max(MIN_ROW_PX, Math.floor(best.rowH))}px`);
}
new ResizeObserver(layout).observe($('main'));

// ---- tiles

function renderTile(li: HTMLLIElement, p: FloorParty, now: number): void {
  const waitingS = (now - Date.parse(p.entryTime)) / 1000;
  const level = rules ? partyLevel(waitingS, p.breached, rules) : p.level;
  li.querySelector('.timer')!.textContent = fmt(waitingS);
  if (li.dataset.level !== level) {
    li.dataset.level = level;
    li.querySelector('.badge')!.textContent = LEVEL_WORDS[level];
  }
  li.setAttribute('aria-label', `${sizeWords(p.size)}, waiting ${fmt(waitingS)}, ${LEVEL_WORDS[level]}${p.breached ? ', walked past the steps line' : ''}`);
  if (level === 'late' && !chimed.has(p.party)) {
    chimed.add(p.party);
    beep();
  }
}

function renderTimers(): void {
  // stale: the timers stop where they were; a count that goes on would look live
  if (state !== 'live') return;
  const now = Date.now() + skewMs;
  for (const [id, p] of open) {
    const li = tiles.get(id);
    if (li) renderTile(li, p, now);
  }
}

/** adds or updates one party's tile */
function upsert(p: FloorParty, firstSight: boolean): void {
  open.set(p.party, p);
  let li = tiles.get(p.party);
  if (!li) {
    li = document.createElement('li');
    li.dataset.party = p.party;
    li.innerHTML = '<span class="badge"></span><span class="timer"></span><span class="meta"></span><span class="breach" hidden>walked past the steps line</span>';
    tiles.set(p.party, li);
    // a party already red when this screen first hears of it is not news: no chime
    if (firstSight && p.level === 'late') chimed.add(p.party);
  }
  li.dataset.size = String(p.size);
  li.dataset.breached = String(p.breached);
  li.querySelector('.meta')!.textContent = sizeWords(p.size);
  (li.querySelector('.breach') as HTMLElement).hidden = !p.breached;
  renderTile(li, p, Date.now() + skewMs);
}

function remove(party: string): void {
  open.delete(party);
  chimed.delete(party);
  tiles.get(party)?.remove();
  tiles.delete(party);
}

/** tiles in waiting order, longest first; the counts; the layout */
function renderList(): void {
  const list = $('waiting');
  const ordered = [...open.values()].sort((a, b) => Date.parse(a.entryTime) - Date.parse(b.entryTime));
  ordered.forEach((p, i) => {
    const li = tiles.get(p.party)!;
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
  });
  $('waitingCount').textContent = String(open.size);
  // "nobody" only while the hub is heard (stale: the overlay says so instead)
  $('empty').hidden = open.size > 0 || state !== 'live';
  layout();
  const d = document.documentElement.dataset;
  d.deltas = String(counts.deltas);
  d.snapshots = String(counts.snapshots);
  d.gaps = String(counts.gaps);
}

// ---- connection state

function setState(next: ConnState, detail = ''): void {
  const changed = next !== state;
  state = next;
  const conn = $('conn');
  conn.dataset.state = next;
  conn.textContent = next === 'live' ? 'Live' : next === 'stale' ? 'No connection' : 'Connecting…';
  document.body.dataset.conn = next;
  const overlay = $('offline');
  overlay.hidden = next === 'live';
  overlay.dataset.state = next;
  $('offline-title').textContent = next === 'stale' ? 'No connection to the hub — the waiting list is not live' : 'Connecting to the hub…';
  $('offline-detail').textContent = detail;
  if (changed) {
    $('empty').hidden = open.size > 0 || next !== 'live';
    renderTimers();
  }
}

function stale(): void {
  if (state !== 'stale') counts.stale++;
  document.documentElement.dataset.stale = String(counts.stale);
  const at = lastMessageAt ? `Last update at ${new Date(lastMessageAt).toLocaleTimeString()}. ` : '';
  setState('stale', `${at}Trying again by itself…`);
}

function heard(now: string): void {
  lastMessageAt = Date.now();
  skewMs = Date.parse(now) - Date.now();
  if (state !== 'live') setState('live');
}

// ---- messages

function applyDelta(d: FloorDelta): void {
  if (lastSeq !== undefined && d.seq !== lastSeq + 1) counts.gaps++;
  lastSeq = d.seq;
  skewMs = Date.parse(d.now) - Date.now();
  lastChangeMs = Math.max(lastChangeMs, Date.parse(d.now));
  for (const c of d.changes) {
    if (c.kind === 'open') upsert(c.party, false);
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
  renderList();
}

function render(s: FloorSnapshot): void {
  flush(); // deltas received before this snapshot come first
  counts.snapshots++;
  rules = s.rules;
  heard(s.now);
  $('store').textContent = s.name;
  document.title = `Waiting · ${s.name}`;
  $('sl').textContent = s.today.serviceLevel === null ? '–' : `${Math.round(s.today.serviceLevel * 100)}%`;
  $('target').textContent = `target ${Math.round(s.today.target * 100)}%`;
  $('greetings').textContent = String(s.today.greetings);

  // a snapshot the hub took before the last delta would bring back what the delta changed:
  // its figures are used, its waiting list is left to the next snapshot
  if (Date.parse(s.now) >= lastChangeMs) {
    const keep = new Set(s.open.map((p) => p.party));
    for (const id of [...open.keys()]) if (!keep.has(id)) remove(id);
    for (const p of s.open) upsert(p, counts.snapshots === 1);
  }
  renderList();
}

let es: EventSource | undefined;
let reconnectTimer: number | undefined;
/** Date.now() of the last connect() */
let lastTryAt = 0;

function connect(): void {
  lastTryAt = Date.now();
  es?.close();
  window.clearTimeout(reconnectTimer);
  reconnectTimer = undefined;
  const source = new EventSource(`/api/stores/${encodeURIComponent(store)}/floor/stream`);
  es = source;
  source.addEventListener('open', () => {
    // a new connection (perhaps to a restarted hub, seq from 1) starts from its first snapshot
    flush();
    lastSeq = undefined;
    lastChangeMs = -Infinity;
  });
  source.addEventListener('floor', (e) => render(JSON.parse((e as MessageEvent<string>).data) as FloorSnapshot));
  source.addEventListener('change', (e) => {
    const d = JSON.parse((e as MessageEvent<string>).data) as FloorDelta;
    heard(d.now);
    pending.push(d);
    frame ??= requestAnimationFrame(flush);
  });
  source.addEventListener('error', () => {
    if (es !== source) return;
    stale();
    // EventSource retries a dropped connection by itself, but gives up on an HTTP error (a 503
    // from a proxy, a hub starting): then this page opens a new one
    if (source.readyState === EventSource.CLOSED) reconnectTimer = window.setTimeout(connect, RECONNECT_MS);
  });
}

/** the store this hub serves, when the page was not told (GET /api/hub); retried until the hub answers */
async function findStore(): Promise<void> {
  for (;;) {
    try {
      const r = await fetch('/api/hub', { cache: 'no-store' });
      if (r.ok) {
        store = ((await r.json()) as HubInfo).store;
        return;
      }
    } catch {
      // hub not reachable yet
    }
    stale();
    await new Promise((r) => setTimeout(r, RECONNECT_MS));
  }
}

// watchdog: a stream that is open but silent (Wi-Fi gone without a goodbye), or a request that
// never answers, is no stream: after STALE_MS without a message the page says so, and tries a
// new connection every STALE_MS until one talks (EventSource's own retries go on meanwhile)
window.setInterval(() => {
  if (!es || Date.now() - lastMessageAt <= STALE_MS) return;
  if (state !== 'stale') stale();
  if (Date.now() - lastTryAt > STALE_MS) connect();
}, 1000);

window.setInterval(renderTimers, 250);

// a screen that sleeps is no use on the floor: keep it awake where the browser allows (HTTPS or localhost)
async function keepAwake(): Promise<void> {
  try {
    if (document.visibilityState === 'visible') await navigator.wakeLock?.request('screen');
  } catch {
    // not allowed here: the screen's own settings decide
  }
}
document.addEventListener('visibilitychange', () => void keepAwake());

renderChime();
setState('connecting');
void keepAwake();
void (async () => {
  if (!store) await findStore();
  lastMessageAt = Date.now(); // the first snapshot gets STALE_MS to arrive
  connect();
})();

import './lib/style.css';
import './manager.css';
import type { LiveDelta, LiveSnapshot, NodeHealth, OpenParty, Report } from '../contract/index.ts';
import { partyLevel } from '../contract/levels.ts';
import { COLORS, drawChart } from './lib/chart.ts';
import { byId, fill, h, rows, setText } from './lib/dom.ts';
import { ago, clock, count, hourLabel, NONE, offset, pct, secs } from './lib/format.ts';
import { liveStream, type StreamState } from './lib/live.ts';
import { startShell, status } from './lib/shell.ts';

// The manager view (/manager): today's compliance from the live stream, who is waiting past
// the warning time, staff today, node health and where history goes. Snapshots (every 2 s)
// redraw the figures and the node table; `change` deltas keep the waiting list current in
// between, as on the floor page (dashboard/floor.ts). Without data for STALE_MS a banner
// says since when the page has heard nothing.

/** three missed snapshots */
const STALE_MS = 6000;
const FAULT_WORDS: Record<string, string> = { stuck: 'stuck', chatter: 'flickering (muted)', disconnected: 'disconnected', recovered: 'ok again' };

let rules: LiveSnapshot['rules'] | undefined;
const open = new Map<string, OpenParty>();
/** hub clock − browser clock */
let skewMs = 0;
let lastSeq: number | undefined;
/** hub time of the last delta applied: an older snapshot's waiting list would undo it */
let lastChangeMs = -Infinity;
/** browser time of the last message from the hub */
let lastDataAt: number | undefined;
const pageStart = Date.now();
let streamState: StreamState = 'connecting';
let streamWhy = '';
const counts = { snapshots: 0, deltas: 0, gaps: 0 };

const hubNow = () => Date.now() + skewMs;
const timeOf = (iso: string | number) => new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const shortTime = (iso: string) => new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });

function renderToday(s: LiveSnapshot): void {
  const t = s.today;
  setText('today-note', `· updated ${timeOf(s.now)}`);
  setText('sl-today', pct(t.serviceLevel));
  setText('sl-sub', `greeted within ${secs(s.rules.greetWithinS)}`);
  setText('visits-today', count(t.visits));
  const still = t.pending ? ` · ${count(t.pending)} still open` : '';
  setText('visits-sub', `${count(t.met)} in time · ${count(t.late)} late${still}`);
  setText('asg-today', secs(t.asgS));
  setText('p90-today', secs(t.p90S));
  setText('walkouts-today', count(t.walkouts));
  setText('missed-today', count(t.missed));
  if (t.warnings?.length) status(`Today's figures may be incomplete: ${t.warnings.join('; ')}`, 'error');
  else status('');
  renderHours(t);
  renderStaff(t, s.staffNames);
}

function renderHours(t: Report): void {
  const busy = t.byHour.filter((b) => b.visits > 0).map((b) => b.hour);
  // the usual opening hours at least, so a quiet morning does not fill the chart with one bar
  const lo = Math.min(8, ...busy);
  const hi = Math.max(18, ...busy);
  const hours = t.byHour.filter((b) => b.hour >= lo && b.hour <= hi);
  drawChart(byId('hourly-chart'), {
    labels: hours.map((b) => hourLabel(b.hour)),
    series: [
      { label: 'Visits', kind: 'bar', color: COLORS.bar, scale: 'n', values: hours.map((b) => b.visits) },
      { label: 'Service level', kind: 'line', color: COLORS.line, scale: 'pct', values: hours.map((b) => (b.serviceLevel === null ? null : Math.round(b.serviceLevel * 100))) },
    ],
    height: 220,
  });
  rows(byId<HTMLTableElement>('hourly').tBodies[0]!, hours, (b) =>
    h(
      'tr',
      { 'data-hour': b.hour },
      h('th', { scope: 'row' }, `${hourLabel(b.hour)}–${hourLabel((b.hour + 1) % 24)}`),
      h('td', { class: 'num' }, count(b.visits)),
      h('td', { class: 'num' }, count(b.met)),
      h('td', { class: 'num' }, pct(b.serviceLevel)),
      h('td', { class: 'num' }, secs(b.asgS)),
    ),
  );
}

function renderStaff(t: Report, names: Record<string, string> = {}): void {
  const staff = Object.entries(t.byStaff).sort(([a, x], [b, y]) => y.greets - x.greets || a.localeCompare(b));
  rows(byId<HTMLTableElement>('staff').tBodies[0]!, staff, ([id, f]) =>
    h(
      'tr',
      { 'data-staff': id },
      h('th', { scope: 'row' }, names[id] ?? id),
      h('td', { class: 'num' }, count(f.greets)),
      h('td', { class: 'num' }, count(f.met)),
      h('td', { class: 'num' }, secs(f.asgS)),
    ),
  );
  byId('staff-none').hidden = staff.length > 0;
  const orphans = byId('orphans');
  orphans.hidden = t.orphanGreets === 0;
  orphans.textContent = `${count(t.orphanGreets)} greet ${t.orphanGreets === 1 ? 'press' : 'presses'} with nobody waiting.`;
}

/** the parties waiting past the warning time, longest first, with their waits counted here */
function renderWaiting(): void {
  const now = hubNow();
  const waits = [...open.values()].map((p) => {
    const waitingS = (now - Date.parse(p.entryTime)) / 1000;
    return { p, waitingS, level: rules ? partyLevel(waitingS, p.breached, rules) : p.level };
  });
  const shown = waits.filter((w) => w.level !== 'ok').sort((a, b) => b.waitingS - a.waitingS);
  const late = shown.filter((w) => w.level === 'late').length;
  setText('waiting-note', open.size === 0 ? '· nobody waiting' : `· ${count(open.size)} waiting${late ? `, ${count(late)} overdue` : ''}`);
  fill(
    byId('warnings'),
    ...shown.map(({ p, waitingS, level }) => {
      const bits = [p.size > 1 ? `party of ${p.size}` : 'one customer', `in at ${shortTime(p.entryTime)}`];
      if (p.leaving) bits.push('may be leaving');
      if (p.breached) bits.push('walked in past the line');
      return h(
        'li',
        { 'data-party': p.party, 'data-level': level },
        h('span', { class: 'wait' }, clock(waitingS)),
        level === 'late' ? h('span', { class: 'badge bad' }, 'overdue') : h('span', { class: 'badge warn' }, 'greet soon'),
        h('div', { class: 'meta' }, bits.join(' · ')),
      );
    }),
  );
  byId('warnings-none').hidden = shown.length > 0;
}

const activeFaults = (n: NodeHealth) => (n.faults ?? []).filter((f) => f.kind !== 'recovered');

function nodeRow(n: NodeHealth): HTMLTableRowElement {
  const seen = n.lastSeen ? h('span', { class: 'sub' }, `last seen ${shortTime(n.lastSeen)} (${ago(hubNow() - Date.parse(n.lastSeen))})`) : h('span', { class: 'sub' }, 'never seen');
  const config =
    n.configCurrent === true
      ? h('span', { class: 'badge good' }, 'current')
      : n.configCurrent === false
        ? h('span', { class: 'badge warn', title: 'the node runs another config than the hub publishes for it' }, 'stale')
        : h('span', { class: 'badge dim' }, 'unknown');
  const trouble = [n.lost ? `${count(n.lost)} lost` : '', n.tooLate ? `${count(n.tooLate)} too late` : '', n.duplicates ? `${count(n.duplicates)} duplicates` : '']
    .concat(Object.entries(n.rejected).map(([why, k]) => `${count(k)} rejected (${why})`))
    .filter(Boolean);
  const faults = activeFaults(n);
  return h(
    'tr',
    { 'data-node': n.node, 'data-online': String(n.online), 'data-config': n.configCurrent === true ? 'current' : n.configCurrent === false ? 'stale' : 'unknown', 'data-clockflag': String(n.clockFlag) },
    h('th', { scope: 'row' }, n.node, n.fw ? h('span', { class: 'sub' }, `firmware ${n.fw}`) : null),
    h('td', { class: 'status', 'data-label': 'Status' }, n.online ? h('span', { class: 'badge good' }, 'online') : h('span', { class: 'badge bad' }, 'offline'), seen),
    h('td', { class: 'num', 'data-label': 'Clock offset' }, offset(n.offsetMs), n.clockFlag ? h('span', { class: 'sub' }, h('span', { class: 'badge warn' }, 'clock off')) : null),
    h('td', { 'data-label': 'Config' }, config),
    h('td', { class: 'num', 'data-label': 'Outbox' }, count(n.outbox), n.dropped ? h('span', { class: 'sub' }, `${count(n.dropped)} dropped`) : null),
    h('td', { class: 'num', 'data-label': 'Events' }, count(n.events), trouble.length ? h('span', { class: 'sub' }, trouble.join(' · ')) : null),
    h(
      'td',
      { 'data-faults': faults.length, 'data-label': 'Faults' },
      faults.length
        ? h('ul', { class: 'faults' }, ...faults.map((f) => h('li', { 'data-sensor': f.sensor, 'data-kind': f.kind, title: f.detail ?? null }, `⚠ ${f.sensor}: ${FAULT_WORDS[f.kind] ?? f.kind}`)))
        : 'none',
    ),
  );
}

function renderNodes(s: LiveSnapshot): void {
  // offline first: that is what the manager is looking for
  const nodes = [...s.nodes].sort((a, b) => Number(a.online) - Number(b.online) || a.node.localeCompare(b.node));
  rows(byId<HTMLTableElement>('nodes').tBodies[0]!, nodes, nodeRow);
  byId('nodes-none').hidden = nodes.length > 0;
}

function renderHistory(s: LiveSnapshot): void {
  const hs = s.history;
  const state = byId('history-state');
  state.dataset.state = hs.state;
  if (hs.state === 'up') fill(state, h('span', { class: 'badge good' }, 'recording'), ' InfluxDB answers');
  else if (hs.state === 'down') fill(state, h('span', { class: 'badge bad' }, 'not recording'), ' InfluxDB does not answer', hs.lastError ? `: ${hs.lastError}` : '');
  else fill(state, h('span', { class: 'badge warn' }, 'off'), ' no lasting history');
  setText('history-spool', hs.enabled ? `${count(hs.spool)} ${hs.spool === 1 ? 'point' : 'points'} in the spool` : NONE);
  setText('history-detail', hs.detail);
  const j = s.journal;
  // the commit time is the disk's (write + fdatasync): every acknowledgement waits for it (README "Benchmarks")
  const commit = j?.commitMs ? ` · commits ${j.commitMs.p50.toFixed(1)} ms typical, ${j.commitMs.p99.toFixed(1)} ms p99` : '';
  // what nodes wait for their acknowledgement, the commit included (README "Benchmarks")
  const ack = j?.ackMs ? ` · acks ${j.ackMs.p50.toFixed(1)} ms typical, ${j.ackMs.p99.toFixed(1)} ms p99` : '';
  setText('journal', j ? `${count(j.written)} ${j.written === 1 ? 'event' : 'events'} written${commit}${ack}${j.failed ? `, ${count(j.failed)} failed${j.lastError ? ` (${j.lastError})` : ''}` : ''}` : NONE);

  // installer's notes: they belong here, not on the floor screen
  const help = byId('history-help');
  if (!hs.enabled) {
    fill(
      help,
      h('strong', null, 'History is off. '),
      'Reports cover only what this hub has seen since it started, and the weekly report stays empty. To keep history, install InfluxDB 1.x on the hub (Debian or Ubuntu: ',
      h('code', null, 'sudo apt-get install influxdb'),
      '; the hub then starts it by itself), or point the hub at an InfluxDB server with ',
      h('code', null, 'hub.influx.url'),
      ' in the store file or ',
      h('code', null, 'INFLUX_URL'),
      ', and restart the hub.',
    );
    help.hidden = false;
  } else if (hs.state === 'down') {
    fill(
      help,
      h('strong', null, 'InfluxDB does not answer. '),
      `Nothing is lost yet: ${count(hs.spool)} points wait in the hub's spool and are written when it answers again. Check that influxd runs and that the hub can reach it.`,
    );
    help.hidden = false;
  } else {
    help.hidden = true;
  }
}

function renderMeta(): void {
  const d = document.documentElement.dataset;
  d.snapshots = String(counts.snapshots);
  d.deltas = String(counts.deltas);
  d.gaps = String(counts.gaps);
}

function onSnapshot(s: LiveSnapshot): void {
  counts.snapshots++;
  lastDataAt = Date.now();
  rules = s.rules;
  skewMs = Date.parse(s.now) - Date.now();
  if (Date.parse(s.now) >= lastChangeMs) {
    open.clear();
    for (const p of s.open) open.set(p.party, p);
  }
  renderToday(s);
  renderNodes(s);
  renderHistory(s);
  renderWaiting();
  renderMeta();
  renderStale();
}

function onDelta(d: LiveDelta): void {
  counts.deltas++;
  lastDataAt = Date.now();
  if (lastSeq !== undefined && d.seq !== lastSeq + 1) counts.gaps++;
  lastSeq = d.seq;
  skewMs = Date.parse(d.now) - Date.now();
  lastChangeMs = Math.max(lastChangeMs, Date.parse(d.now));
  for (const c of d.changes) {
    if (c.kind === 'open') open.set(c.party.party, c.party);
    else open.delete(c.party);
  }
  renderWaiting();
  renderMeta();
}

function onState(s: StreamState, why = ''): void {
  if (s === 'live' && streamState !== 'live') {
    // a new connection (perhaps to a restarted hub, seq from 1) starts from its first snapshot
    lastSeq = undefined;
    lastChangeMs = -Infinity;
  }
  streamState = s;
  streamWhy = why;
  const conn = byId('conn');
  conn.dataset.state = s;
  conn.textContent = s === 'live' ? 'live' : s === 'connecting' ? 'connecting…' : 'reconnecting…';
  renderStale();
}

function renderStale(): void {
  const quietMs = Date.now() - (lastDataAt ?? pageStart);
  const stale = quietMs > STALE_MS;
  const banner = byId('stale');
  banner.hidden = !stale;
  byId('main').dataset.stale = String(stale);
  if (!stale) return;
  const why = streamState === 'live' ? 'The hub is connected but sends nothing.' : streamWhy ? `The connection to the hub is down: ${streamWhy}` : 'Connecting to the hub…';
  banner.textContent =
    lastDataAt === undefined
      ? `No live data from the hub yet. ${why}`
      : `No live data since ${timeOf(lastDataAt)} (${ago(quietMs)}): the figures below may be out of date. ${why}`;
}

async function main(): Promise<void> {
  const {
    hub: { store },
  } = await startShell();
  document.documentElement.dataset.store = store;
  liveStream(store, { snapshot: onSnapshot, delta: onDelta, state: onState });
  setInterval(() => {
    renderWaiting();
    renderStale();
  }, 1000);
}

main().catch((err: unknown) => status(`This page could not start: ${err instanceof Error ? err.message : String(err)}`, 'error'));

import './lib/style.css';
import './owner.css';
import type { ChainRanking, DayFigures, GridCell, WeekFigures, WeeklyReport } from '../contract/index.ts';
import { api, ApiError, type Me } from './lib/api.ts';
import { COLORS, drawChart } from './lib/chart.ts';
import { byId, fill, h, rows, setText } from './lib/dom.ts';
import { count, countDelta, dayLabel, hourLabel, pct, ptsDelta, secs, secsDelta, WEEKDAY_LONG, WEEKDAY_SHORT, WEEKDAYS } from './lib/format.ts';
import { startShell, status } from './lib/shell.ts';
import { addWeeks, currentWeek, isWeek, weekSpan } from './lib/week.ts';

// The owner view (/owner): one store's weekly report (GET /api/stores/{store}/weekly) as
// charts and tables, this week against last week and four weeks ago, and the chain's
// ranking when the history holds several stores. The week (and a store other than this
// hub's) is in the URL, so a link or a reload shows the same report; prev/next and the
// week input push a new entry, the back button goes back a week.

/** GET /api/stores */
interface StoreList {
  week: string;
  stores: { store: string; name?: string; timeZone: string; self: boolean; target: { serviceLevel: number; greetWithinS: number } }[];
}

/** a cell this far (fraction) below the target is "near"; further, "below" */
const NEAR = 0.15;

let who: Me | null = null;
let stores: StoreList['stores'] = [];
let store = '';
/** the week shown, once known */
let shown: string | undefined;
/** answers to an older request are dropped: the latest click wins */
let generation = 0;

const weekInput = byId<HTMLInputElement>('week');

function urlFor(week: string | undefined, s = store): string {
  const q = new URLSearchParams();
  const self = stores.find((x) => x.self)?.store;
  if (s && s !== self) q.set('store', s);
  if (week) q.set('week', week);
  const qs = q.toString();
  return `/owner${qs ? `?${qs}` : ''}`;
}

const nameOf = (id: string) => stores.find((s) => s.store === id)?.name ?? id;

// ---------------------------------------------------------------------------- summary

type Trend = 'lower' | 'higher' | 'none';
interface Figure {
  key: string;
  label: string;
  value: (w: WeekFigures) => string;
  delta: (now: WeekFigures, then: WeekFigures) => string;
  /** which way is better */
  better: Trend;
  raw: (w: WeekFigures) => number | null;
}

const FIGURES: Figure[] = [
  { key: 'serviceLevel', label: 'Service level', value: (w) => pct(w.summary.serviceLevel), delta: (a, b) => ptsDelta(a.summary.serviceLevel, b.summary.serviceLevel), better: 'higher', raw: (w) => (w.summary.serviceLevel === null ? null : Math.round(w.summary.serviceLevel * 100)) },
  { key: 'visits', label: 'Visits', value: (w) => count(w.summary.visits), delta: (a, b) => countDelta(a.summary.visits, b.summary.visits), better: 'none', raw: (w) => w.summary.visits },
  { key: 'asgS', label: 'Mean time to greet', value: (w) => secs(w.summary.asgS), delta: (a, b) => secsDelta(a.summary.asgS, b.summary.asgS), better: 'lower', raw: (w) => w.summary.asgS },
  { key: 'p90S', label: '90 % greeted within', value: (w) => secs(w.summary.p90S), delta: (a, b) => secsDelta(a.summary.p90S, b.summary.p90S), better: 'lower', raw: (w) => w.summary.p90S },
  { key: 'walkouts', label: 'Walkouts', value: (w) => count(w.summary.walkouts), delta: (a, b) => countDelta(a.summary.walkouts, b.summary.walkouts), better: 'lower', raw: (w) => w.summary.walkouts },
  { key: 'missed', label: 'Missed', value: (w) => count(w.summary.missed), delta: (a, b) => countDelta(a.summary.missed, b.summary.missed), better: 'lower', raw: (w) => w.summary.missed },
];

function trendOf(f: Figure, now: WeekFigures, then: WeekFigures): 'better' | 'worse' | 'same' | 'none' {
  const a = f.raw(now);
  const b = f.raw(then);
  if (a === null || b === null || f.better === 'none') return 'none';
  if (a === b) return 'same';
  return (a > b) === (f.better === 'higher') ? 'better' : 'worse';
}

function renderSummary(r: WeeklyReport): void {
  const vs = (f: Figure, then: WeekFigures, name: string, key: string) => {
    // a week with no visits (before the store opened, history off then) has nothing to compare
    if (then.summary.visits === 0) return h('span', { class: 'delta', 'data-vs': key, 'data-trend': 'none' }, `no visits ${name}`);
    const trend = trendOf(f, r, then);
    return h(
      'span',
      { class: 'delta', 'data-vs': key, 'data-trend': trend },
      h('b', null, f.delta(r, then)),
      ` vs ${name} (${f.value(then)})`,
      trend === 'better' || trend === 'worse' ? h('span', { class: 'visually-hidden' }, `, ${trend}`) : null,
    );
  };
  fill(
    byId('summary'),
    ...FIGURES.map((f) =>
      h(
        'div',
        { class: 'card', 'data-figure': f.key },
        h('span', { class: 'label' }, f.label),
        h('b', { class: 'value' }, f.value(r)),
        vs(f, r.compare.previous, 'last week', 'previous'),
        vs(f, r.compare.fourWeeksAgo, '4 weeks ago', 'fourWeeksAgo'),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------- days

function renderDays(r: WeeklyReport): void {
  const target = Math.round(r.target.serviceLevel * 100);
  const sl = (d: DayFigures) => (d.serviceLevel === null ? null : Math.round(d.serviceLevel * 100));
  setText('days-note', `target ${target} % greeted within ${secs(r.target.greetWithinS)}`);
  drawChart(byId('days-chart'), {
    labels: r.days.map((d) => dayLabel(d.date)),
    series: [
      { label: 'Meets target', kind: 'bar', color: COLORS.good, scale: 'pct', values: r.days.map((d) => (d.meetsTarget === true ? sl(d) : null)) },
      { label: 'Below target', kind: 'bar', color: COLORS.bad, scale: 'pct', values: r.days.map((d) => (d.meetsTarget === false ? sl(d) : null)) },
    ],
    target: { value: target, label: `Target ${target} %` },
    labelPx: 72,
  });
  rows(byId<HTMLTableElement>('days-table').tBodies[0]!, r.days, (d) =>
    h(
      'tr',
      { 'data-date': d.date, 'data-weekday': d.weekday },
      h('th', { scope: 'row' }, dayLabel(d.date)),
      h('td', { class: 'num', 'data-col': 'visits' }, count(d.visits)),
      h('td', { class: 'num', 'data-col': 'met' }, count(d.met)),
      h('td', { class: 'num', 'data-col': 'serviceLevel' }, pct(d.serviceLevel)),
      h('td', { class: 'num', 'data-col': 'asgS' }, secs(d.asgS)),
      h('td', { 'data-col': 'meetsTarget' }, d.meetsTarget === null ? '–' : d.meetsTarget ? h('span', { class: 'badge good' }, 'met') : h('span', { class: 'badge bad' }, 'missed')),
    ),
  );
}

// ---------------------------------------------------------------------------- heatmap

function band(c: GridCell, target: number): 'meets' | 'near' | 'below' | 'none' {
  if (c.visits === 0 || c.serviceLevel === null) return 'none';
  if (c.serviceLevel >= target) return 'meets';
  return c.serviceLevel >= target - NEAR ? 'near' : 'below';
}

function renderHeatmap(r: WeeklyReport): void {
  const t = r.target.serviceLevel;
  const legend: [string, string][] = [
    ['meets', `meets the target (${pct(t)} or more)`],
    ['near', `up to ${Math.round(NEAR * 100)} points below`],
    ['below', 'further below'],
    ['none', 'no visits'],
  ];
  fill(byId('heatmap-legend'), ...legend.map(([b, text]) => h('li', { 'data-band': b }, text)));
  const busy = r.grid.filter((c) => c.visits > 0).map((c) => c.hour);
  const table = byId<HTMLTableElement>('heatmap');
  byId('heatmap-none').hidden = busy.length > 0;
  table.hidden = busy.length === 0;
  if (!busy.length) {
    table.replaceChildren();
    return;
  }
  const hours: number[] = [];
  for (let hr = Math.min(...busy); hr <= Math.max(...busy); hr++) hours.push(hr);
  const cell = new Map(r.grid.map((c) => [`${c.weekday}/${c.hour}`, c]));
  table.replaceChildren(
    h('caption', { class: 'visually-hidden' }, 'Service level and visits by weekday and store-local hour'),
    h('thead', null, h('tr', null, h('td', null), ...hours.map((hr) => h('th', { scope: 'col' }, hourLabel(hr))))),
    h(
      'tbody',
      null,
      ...WEEKDAYS.map((wd) =>
        h(
          'tr',
          { 'data-weekday': wd },
          h('th', { scope: 'row' }, h('abbr', { title: WEEKDAY_LONG[wd] }, WEEKDAY_SHORT[wd])),
          ...hours.map((hr) => {
            const c = cell.get(`${wd}/${hr}`) ?? { weekday: wd, hour: hr, visits: 0, serviceLevel: null };
            const b = band(c, t);
            return h(
              'td',
              {
                'data-weekday': wd,
                'data-hour': hr,
                'data-visits': c.visits,
                'data-band': b,
                title: `${WEEKDAY_LONG[wd]} ${hourLabel(hr)}–${hourLabel((hr + 1) % 24)}: ${c.visits ? `${pct(c.serviceLevel)} of ${count(c.visits)} visits greeted in time` : 'no visits'}`,
              },
              c.visits ? h('span', { class: 'sl' }, pct(c.serviceLevel)) : h('span', { class: 'visually-hidden' }, 'no visits'),
              c.visits ? h('span', { class: 'n' }, h('span', { class: 'visually-hidden' }, 'visits: '), count(c.visits)) : null,
            );
          }),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------- time to greet

function renderTtg(r: WeeklyReport): void {
  const { bucketS, openFromS, counts } = r.ttg;
  const labels = counts.map((_, i) => (i === counts.length - 1 ? `≥ ${openFromS} s` : `${i * bucketS}–${(i + 1) * bucketS} s`));
  // a bucket is "in time" when all of it is within greetWithinS
  const inTime = (i: number) => i < counts.length - 1 && (i + 1) * bucketS <= r.target.greetWithinS;
  const total = counts.reduce((a, b) => a + b, 0);
  setText('ttg-note', `${count(total)} greeted · in time is within ${secs(r.target.greetWithinS)}`);
  drawChart(byId('ttg-chart'), {
    labels,
    series: [
      { label: 'Greeted in time', kind: 'bar', color: COLORS.good, scale: 'n', values: counts.map((n, i) => (inTime(i) ? n : null)) },
      { label: 'Greeted late', kind: 'bar', color: COLORS.bad, scale: 'n', values: counts.map((n, i) => (inTime(i) ? null : n)) },
    ],
    labelPx: 56,
  });
  rows(byId<HTMLTableElement>('ttg-table').tBodies[0]!, counts.map((n, i) => ({ n, label: labels[i]! })), ({ n, label }) =>
    h('tr', null, h('th', { scope: 'row' }, label), h('td', { class: 'num' }, count(n)), h('td', { class: 'num' }, total ? pct(n / total) : '–')),
  );
}

// ---------------------------------------------------------------------------- staff, chain

function renderStaff(r: WeeklyReport): void {
  const staff = [...r.staff].sort((a, b) => b.greets - a.greets || a.staff.localeCompare(b.staff));
  rows(byId<HTMLTableElement>('staff').tBodies[0]!, staff, (s) =>
    h(
      'tr',
      { 'data-staff': s.staff },
      h('th', { scope: 'row' }, r.staffNames?.[s.staff] ?? s.staff),
      h('td', { class: 'num' }, count(s.greets)),
      h('td', { class: 'num' }, count(s.met)),
      h('td', { class: 'num' }, s.greets ? pct(s.met / s.greets) : '–'),
      h('td', { class: 'num' }, secs(s.asgS)),
    ),
  );
  byId('staff-none').hidden = staff.length > 0;
}

function renderRanking(rk: ChainRanking | null, week: string): void {
  const chain = byId('chain');
  chain.hidden = rk === null;
  if (!rk) return;
  rows(byId<HTMLTableElement>('ranking').tBodies[0]!, rk.stores, (s) =>
    h(
      'tr',
      { 'data-store': s.store, 'data-rank': s.rank, 'aria-current': s.store === store ? 'true' : null },
      h('td', { class: 'num' }, s.rank),
      h('th', { scope: 'row' }, s.store === store ? nameOf(s.store) : h('a', { href: urlFor(week, s.store) }, nameOf(s.store))),
      h('td', { class: 'num' }, pct(s.serviceLevel)),
      h('td', { class: 'num' }, count(s.visits)),
      h('td', { class: 'num' }, secs(s.asgS)),
      h('td', { class: 'num' }, secs(s.p90S)),
    ),
  );
  byId<HTMLAnchorElement>('ranking-csv').href = `/api/chain/ranking?week=${encodeURIComponent(week)}&format=csv`;
}

// ---------------------------------------------------------------------------- loading

function renderReport(r: WeeklyReport, rk: ChainRanking | null): void {
  shown = r.week;
  const name = r.name ?? r.store;
  const n = Number(r.week.slice(6));
  document.title = `${name} · week ${n} · greetwatch`;
  setText('store-name', name);
  setText('title', `Weekly report · ${name}`);
  setText('week-span', `Week ${n} · ${weekSpan(r.week)} · times in ${r.timeZone}`);
  setText('source-note', r.source === 'raw' ? 'Figures from the recorded visits.' : 'Figures from the hourly summaries (the visits themselves are past their retention): times to greet at the percentiles are to the whole second.');
  weekInput.value = r.week;
  const now = currentWeek(r.timeZone);
  weekInput.max = now;
  byId<HTMLButtonElement>('week-next').disabled = r.week >= now;
  byId<HTMLButtonElement>('week-now').disabled = r.week === now;
  byId<HTMLAnchorElement>('csv').href = `/api/stores/${encodeURIComponent(r.store)}/weekly?week=${encodeURIComponent(r.week)}&format=csv`;
  byId('report').hidden = false;
  renderSummary(r);
  renderDays(r);
  renderTtg(r);
  renderHeatmap(r);
  renderStaff(r);
  renderRanking(rk, r.week);
  document.documentElement.dataset.week = r.week;
}

function denied(): void {
  const el = byId('denied');
  fill(
    el,
    h('strong', null, 'The weekly report is for owners. '),
    who ? `You are logged in as ${who.name ?? who.user} (${who.role}). ` : '',
    h('a', { href: '/manager' }, 'Go to the live view'),
    ' or ',
    h('a', { href: `/login?next=${encodeURIComponent('/owner')}` }, 'log in as an owner'),
    '.',
  );
  el.hidden = false;
  byId('report').hidden = true;
  for (const id of ['week-prev', 'week-next', 'week-now', 'print']) byId<HTMLButtonElement>(id).disabled = true;
  weekInput.disabled = true;
  byId('csv').hidden = true;
  status('');
}

function failed(err: unknown, week: string | undefined): void {
  if (err instanceof ApiError && err.status === 403) return denied();
  const what = week ? `the report for ${week}` : 'the weekly report';
  if (err instanceof ApiError && err.status === 503) status(`History cannot be read right now, so ${what} is not available: ${err.message}`, 'error');
  else if (err instanceof ApiError) status(`Could not load ${what}: ${err.message}`, 'error');
  else status(`Could not load ${what}: the hub does not answer.`, 'error');
}

async function load(week: string | undefined): Promise<void> {
  const gen = ++generation;
  status(week ? `Loading ${week}…` : 'Loading this week…');
  document.documentElement.dataset.loading = 'true';
  try {
    const q = week ? `?week=${encodeURIComponent(week)}` : '';
    const [r, rk] = await Promise.all([
      api<WeeklyReport>(`/api/stores/${encodeURIComponent(store)}/weekly${q}`),
      stores.length > 1 ? api<ChainRanking>(`/api/chain/ranking${q}`) : Promise.resolve(null),
    ]);
    if (gen !== generation) return;
    renderReport(r, rk);
    // the week the hub chose (this week) goes in the URL, so a reload keeps it
    if (!week) history.replaceState(null, '', urlFor(r.week));
    status('');
  } catch (err) {
    if (gen === generation) failed(err, week);
  } finally {
    if (gen === generation) delete document.documentElement.dataset.loading;
  }
}

function go(week: string): void {
  if (week === shown) return;
  history.pushState(null, '', urlFor(week));
  void load(week);
}

function fromUrl(): { week: string | undefined; store: string | null } {
  const q = new URLSearchParams(location.search);
  const w = q.get('week');
  return { week: w !== null && isWeek(w) ? w : undefined, store: q.get('store') };
}

async function main(): Promise<void> {
  ({ who } = await startShell());
  try {
    stores = (await api<StoreList>('/api/stores')).stores;
  } catch (err) {
    return failed(err, undefined);
  }
  const u = fromUrl();
  store = u.store && stores.some((s) => s.store === u.store) ? u.store : (stores.find((s) => s.self)?.store ?? stores[0]?.store ?? '');
  const picker = byId<HTMLSelectElement>('store-pick');
  if (stores.length > 1) {
    picker.replaceChildren(...stores.map((s) => h('option', { value: s.store, selected: s.store === store }, s.name ?? s.store)));
    byId('store-group').hidden = false;
    picker.addEventListener('change', () => {
      store = picker.value;
      history.pushState(null, '', urlFor(shown));
      shown = undefined;
      void load(fromUrl().week);
    });
  }
  byId('week-prev').addEventListener('click', () => shown && go(addWeeks(shown, -1)));
  byId('week-next').addEventListener('click', () => shown && go(addWeeks(shown, 1)));
  byId('week-now').addEventListener('click', () => {
    const tz = stores.find((s) => s.store === store)?.timeZone ?? 'UTC';
    go(currentWeek(tz));
  });
  weekInput.addEventListener('change', () => {
    const w = weekInput.value.trim();
    if (isWeek(w)) go(w);
    else if (w) status(`"${w}" is not a week: use the form 2026-W47.`, 'error');
  });
  byId('print').addEventListener('click', () => print());
  addEventListener('popstate', () => {
    const v = fromUrl();
    if (v.store && v.store !== store && stores.some((s) => s.store === v.store)) {
      store = v.store;
      picker.value = store;
    }
    shown = undefined;
    void load(v.week);
  });
  if (u.week && u.store !== null && u.store !== store) history.replaceState(null, '', urlFor(u.week));
  await load(u.week);
}

main().catch((err: unknown) => status(`This page could not start: ${err instanceof Error ? err.message : String(err)}`, 'error'));

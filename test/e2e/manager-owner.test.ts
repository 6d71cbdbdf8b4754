import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import pino from 'pino';
import type { ChainRanking, LiveSnapshot, Visit, WeeklyReport } from '../../contract/index.ts';
import { count, countDelta, pct, ptsDelta, secs } from '../../dashboard/lib/format.ts';
import { loadConfig } from '../../firmware-config/load.ts';
import { replayTrace } from '../../hub/engine/replay.ts';
import { TimeZone } from '../../hub/engine/tz.ts';
import { addWeeks, formatIsoWeek, isoWeekOf, weekRange } from '../../hub/history/iso-week.ts';
import { influxVisitStore, type InfluxVisitStore } from '../../hub/influx-store.ts';
import { repoRoot } from '../../hub/repo-root.ts';
import { FIXTURES, STORE_YAML } from '../../scripts/make-fixtures.ts';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.ts';
import { password, READER, userLogin } from '../helpers/logins.ts';
import { startRig, type Rig } from '../helpers/rig.ts';
import { simulateStore } from '../helpers/store-sim.ts';

// The manager and owner views (README "Dashboard: manager and owner views") in a real
// headless Chromium, on the pages Vite built (vitest globalSetup), against a real hub with
// logins in its store file. Manager: the login page, today's live figures and node table
// from the live stream, a node going offline, a stale banner when the hub goes away, and no
// access to the owner's data. Owner: four generated weeks in a real influxd, shown with the
// figures the weekly API gives, the week picker, the CSV exports and the chain ranking.
// Screenshots go to test-results/screenshots/ (and docs/screenshots/ with GW_UPDATE_SCREENSHOTS=1).

const SHOTS = path.join(repoRoot(), 'test-results', 'screenshots');
const DOCS_SHOTS = path.join(repoRoot(), 'docs', 'screenshots');
const VIEWPORTS = { desktop: { width: 1440, height: 900 }, phone: { width: 390, height: 844 } } as const;

const MANAGER = 'mia';
const OWNER = 'olga';

let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
});

/** the whole page at both sizes; charts follow their container, so they are given a moment to redraw */
async function shots(page: Page, view: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  const before = page.viewportSize();
  for (const [size, vp] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(vp);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    // nothing wider than the screen: wide tables scroll inside their own box
    expect(await page.evaluate(() => document.documentElement.scrollWidth), `${view} at ${size}`).toBeLessThanOrEqual(vp.width);
    const file = path.join(SHOTS, `${view}-${size}.png`);
    await page.screenshot({ path: file, fullPage: true });
    if (process.env.GW_UPDATE_SCREENSHOTS === '1') {
      fs.mkdirSync(DOCS_SHOTS, { recursive: true });
      fs.copyFileSync(file, path.join(DOCS_SHOTS, `${view}-${size}.png`));
    }
  }
  if (before) await page.setViewportSize(before);
}

async function logIn(page: Page, base: string, user: string, pw = password(user)): Promise<void> {
  if (!page.url().includes('/login')) await page.goto(`${base}/login`);
  await page.locator('#user').fill(user);
  await page.locator('#password').fill(pw);
  await page.locator('#submit').click();
}

const text = async (page: Page, selector: string) => ((await page.locator(selector).first().textContent()) ?? '').trim();

/** WCAG contrast of an element's text against the nearest background colour behind it */
function contrastOf(page: Page, selector: string): Promise<number> {
  return page.locator(selector).first().evaluate((el) => {
    const rgba = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = (c: string) => {
      const [r, g, b] = rgba(c)
        .slice(0, 3)
        .map((v) => {
          const s = v / 255;
          return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
        });
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    let bg = 'rgb(255, 255, 255)';
    for (let e: Element | null = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      const a = rgba(c)[3];
      if (a === undefined || a > 0) {
        bg = c;
        break;
      }
    }
    const [a, b] = [lum(getComputedStyle(el).color), lum(bg)].sort((x, y) => y - x);
    return (a! + 0.05) / (b! + 0.05);
  });
}

describe('manager view', () => {
  let rig: Rig;
  let base: string;
  let ctx: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    // the hub's own snapshot period (2 s): a node going offline must show within 10 s of it
    rig = await startRig({ rules: { warnAtS: 1, greetWithinS: 2 }, snapshotMs: 2000, storeName: 'Rig Store', users: [await userLogin(MANAGER, 'manager', 'Mia'), await userLogin(OWNER, 'owner', 'Olga')] });
    base = rig.hub.httpUrl;
    ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
    page = await ctx.newPage();
  });

  afterAll(async () => {
    await ctx?.close();
    await rig?.stop();
  });

  it('sends /manager to the login page without a session', async () => {
    await page.goto(`${base}/manager`);
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === '/manager', { timeout: 10_000 });
    expect(await page.locator('#why').isVisible()).toBe(true);
    await shots(page, 'login');
  });

  it('refuses a wrong password, in words, and keeps the user on the login page', async () => {
    await logIn(page, base, MANAGER, 'not-the-password');
    const err = page.locator('#login-error');
    await err.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await err.textContent()).toBe('Wrong user name or password. Try again.');
    expect(await page.locator('#password').inputValue()).toBe('');
    expect(await page.locator('#password').getAttribute('aria-invalid')).toBe('true');
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await contrastOf(page, '#login-error')).toBeGreaterThanOrEqual(4.5);
  });

  it("logs the manager in and shows today's live figures, the waiting warnings, staff and the node table", async () => {
    // with the keyboard alone: the user field has the focus, Tab to the password, Enter sends
    await page.goto(`${base}/login?next=%2Fmanager`);
    await page.keyboard.type(MANAGER);
    await page.keyboard.press('Tab');
    await page.keyboard.type(password(MANAGER));
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.pathname === '/manager', { timeout: 10_000 });
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    expect(await text(page, '#who')).toBe('Mia · manager');
    expect(await page.locator('#logout').isVisible()).toBe(true);
    // a manager gets no link to the owner view
    expect(await page.locator('nav a[href="/owner"]').isVisible()).toBe(false);
    expect(await page.locator('#nodes tr[data-node="door"][data-online="true"]').count()).toBe(1);
    expect(await page.locator('#nodes tr[data-node="counter"][data-online="true"]').count()).toBe(1);

    // a customer waits past greetWithinS: listed as overdue, counted up in the page
    const tz = new TimeZone(rig.cfg.store.timezone);
    const entryHours = new Set([tz.parts(Date.now()).hour]);
    await rig.walkIn();
    entryHours.add(tz.parts(Date.now()).hour);
    const warning = page.locator('#warnings li[data-level="late"]');
    await warning.waitFor({ timeout: 10_000 });
    expect(await warning.locator('.badge').textContent()).toBe('overdue');
    await shots(page, 'manager');

    await rig.greet();
    await warning.waitFor({ state: 'detached', timeout: 10_000 });
    expect(await page.locator('#warnings-none').isVisible()).toBe(true);
    // today's figures follow the snapshots: the page shows what /live says
    await page.locator('#visits-today', { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    const live = (await (await ctx.request.get(`${base}/api/stores/rig/live`)).json()) as LiveSnapshot;
    expect(live.today.visits).toBe(1);
    expect(await text(page, '#sl-today')).toBe(pct(live.today.serviceLevel));
    expect(await text(page, '#sl-today')).toBe('0 %'); // greeted after greetWithinS
    expect(await text(page, '#asg-today')).toBe(secs(live.today.asgS));
    expect(await text(page, '#p90-today')).toBe(secs(live.today.p90S));
    expect(await text(page, '#walkouts-today')).toBe(count(live.today.walkouts));
    expect(await text(page, '#missed-today')).toBe(count(live.today.missed));
    const anna = page.locator('#staff tr[data-staff="anna"] td');
    expect(await anna.allTextContents()).toEqual([count(live.today.byStaff.anna!.greets), count(live.today.byStaff.anna!.met), secs(live.today.byStaff.anna!.asgS)]);
    // the visit's row is its store-local hour (read around the walk-in: it may fall on an hour's edge)
    const busyRows = page.locator('#hourly tr', { has: page.locator('td:nth-of-type(1)', { hasText: /^1$/ }) });
    expect(await busyRows.count()).toBe(1);
    expect(entryHours).toContain(Number(await busyRows.getAttribute('data-hour')));
    expect(await page.locator('#hourly-chart canvas').count()).toBeGreaterThan(0);
    // this hub keeps no history: the installer's note is here (not on the floor)
    expect(await page.locator('#history-help').isVisible()).toBe(true);
    expect(await text(page, '#history-help')).toContain('History is off');
    expect(await page.locator('#history-state').getAttribute('data-state')).toBe('off');
    // the journal has committed the walk-in and the greet: its disk time and what the nodes waited for are shown with the count
    await page.locator('#journal', { hasText: /^\d+ events? written · commits \d+\.\d ms typical, \d+\.\d ms p99 · acks \d+\.\d ms typical, \d+\.\d ms p99$/ }).waitFor({ timeout: 10_000 });
    for (const sel of ['#sl-today', '.card .label', '#nodes .badge.good', '#history-help']) expect(await contrastOf(page, sel), sel).toBeGreaterThanOrEqual(4.5);
  });

  it('shows a node that goes offline within 10 s', async () => {
    await rig.counter.stop();
    const row = page.locator('#nodes tr[data-node="counter"][data-online="false"]');
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('td.status').textContent()).toMatch(/^offlinelast seen \d\d:\d\d \(/);
    expect(await page.locator('#nodes tr[data-node="door"][data-online="true"]').count()).toBe(1);
  });

  it("tells a manager that the owner view is not theirs (its data answers 403)", async () => {
    expect((await ctx.request.get(`${base}/api/stores/rig/weekly`)).status()).toBe(403);
    await page.goto(`${base}/owner`);
    const denied = page.locator('#denied');
    await denied.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await denied.textContent()).toContain('The weekly report is for owners. You are logged in as Mia (manager).');
    expect(await page.locator('#report').isVisible()).toBe(false);
  });

  it('logs out, after which the pages ask for a login again', async () => {
    await page.goto(`${base}/manager`);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    await page.locator('#logout').click();
    await page.waitForURL((u) => u.pathname === '/login', { timeout: 10_000 });
    expect((await ctx.request.get(`${base}/api/me`)).status()).toBe(401);
    await page.goto(`${base}/manager`);
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === '/manager', { timeout: 10_000 });
  });

  it('says when live data stops, and goes to the login page when the restarted hub has forgotten the session', async () => {
    await logIn(page, base, READER);
    await page.waitForURL((u) => u.pathname === '/manager', { timeout: 10_000 });
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#stale').isVisible()).toBe(false);
    await rig.stopHub();
    const stale = page.locator('#stale');
    await stale.waitFor({ state: 'visible', timeout: 15_000 });
    expect(await stale.textContent()).toMatch(/^No live data since \d\d:\d\d:\d\d/);
    expect(await page.locator('main').getAttribute('data-stale')).toBe('true');
    // sessions live in the hub's memory: the new hub sends the page to log in again, and back after
    await rig.restartHub();
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === '/manager', { timeout: 30_000 });
    await logIn(page, base, READER);
    await page.waitForURL((u) => u.pathname === '/manager', { timeout: 10_000 });
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#stale').isVisible()).toBe(false);
  });

  it('says "too many attempts" in words when the hub rate-limits logins', async () => {
    await page.goto(`${base}/login`);
    const err = page.locator('#login-error');
    // LOGIN_MAX attempts a minute per address (hub/http/auth.ts), the earlier logins included
    for (let i = 0; i < 15; i++) {
      await logIn(page, base, MANAGER, `wrong-${i}`);
      await page.locator('#submit:not([disabled])').waitFor();
      if ((await err.textContent())?.startsWith('Too many')) break;
    }
    expect(await err.textContent()).toMatch(/^Too many attempts: try again later \(in about (a minute|\d+ seconds)\)\.$/);
  });
});

describe('owner view', () => {
  const log = pino({ level: 'silent' });
  const tz = new TimeZone('UTC'); // the rig's store zone
  let influxd: TestInfluxd;
  let dir: string;
  let north: InfluxVisitStore;
  let rig: Rig;
  let base: string;
  let ctx: BrowserContext;
  let page: Page;
  /** this week and the four generated ones before it, oldest first */
  let now: string;
  let weeks: string[];

  const weekly = async (week: string) => (await (await ctx.request.get(`${base}/api/stores/rig/weekly?week=${week}`)).json()) as WeeklyReport;
  const shown = (week: string) => page.locator(`html[data-week="${week}"]:not([data-loading])`).waitFor({ timeout: 15_000 });

  beforeAll(async () => {
    influxd = await startTestInfluxd();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-owner-'));
    // four weeks before this one (the raw retention is 90 days: weeks far back would be refused),
    // simulated by the fixture store: Monday to Friday all day, a Saturday rush, Sunday closed
    const cur = isoWeekOf(Date.now(), tz);
    now = formatIsoWeek(cur);
    weeks = [-4, -3, -2, -1].map((n) => formatIsoWeek(addWeeks(cur, n)));
    const cfg = loadConfig(STORE_YAML);
    const weekday = FIXTURES.find((f) => f.name === 'node-outage')!.sim;
    const saturday = FIXTURES.find((f) => f.name === 'saturday-rush')!.sim;
    const lines: string[] = [];
    let seed = 4100;
    for (let i = 0; i < weeks.length; i++) {
      for (const [d, day] of weekRange(addWeeks(cur, i - 4), tz).days.entries()) {
        if (d === 6) continue;
        // no outage, no duplicates: the history is what it is, the view is under test
        const { transport: _transport, ...sim } = d === 5 ? saturday : weekday;
        lines.push(...simulateStore({ ...sim, seed: seed++, date: day.date, store: cfg.store.id, timezone: cfg.store.timezone, rules: cfg.rules }).lines);
      }
    }
    const visits: Visit[] = replayTrace(lines, cfg)
      .visits.filter((v) => v.outcome !== 'pending')
      .map((v) => ({ ...v, store: 'rig' }));
    const opts = { url: influxd.url, database: 'owner', log, timeZone: 'UTC', flushMs: 10 };
    const store = await influxVisitStore({
      ...opts,
      spoolDir: path.join(dir, 'spool-rig'),
      storeInfo: { store: 'rig', name: 'Rig Store', timezone: 'UTC', serviceLevelTarget: 0.8, greetWithinS: 30 },
    });
    await store.write(visits);
    // a second store of the chain in the same database: last week only, and worse
    north = await influxVisitStore({
      ...opts,
      spoolDir: path.join(dir, 'spool-north'),
      storeInfo: { store: 'north', name: 'North Mall', timezone: 'UTC', serviceLevelTarget: 0.8, greetWithinS: 30 },
    });
    const last = weekRange(addWeeks(cur, -1), tz);
    await north.write(
      visits
        .filter((v, i) => Date.parse(v.entryTime) >= last.fromMs && Date.parse(v.entryTime) < last.toMs && (v.outcome !== 'met' || i % 3 === 0))
        .map((v) => ({ ...v, store: 'north', party: `n-${v.party}` })),
    );
    rig = await startRig({ rules: { greetWithinS: 30, warnAtS: 20 }, store, storeName: 'Rig Store', timezone: 'UTC', users: [await userLogin(MANAGER, 'manager', 'Mia'), await userLogin(OWNER, 'owner', 'Olga')] });
    base = rig.hub.httpUrl;
    ctx = await browser.newContext({ viewport: VIEWPORTS.desktop, acceptDownloads: true });
    page = await ctx.newPage();
  }, 180_000);

  afterAll(async () => {
    await ctx?.close();
    await rig?.stop(); // closes the injected store
    await north?.close();
    await influxd?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("logs the owner in to this week's report, the week in the picker and the URL", async () => {
    await page.goto(`${base}/login`);
    await logIn(page, base, OWNER);
    await page.waitForURL((u) => u.pathname === '/owner', { timeout: 10_000 });
    await shown(now);
    expect(await page.locator('#week').inputValue()).toBe(now);
    expect(new URL(page.url()).searchParams.get('week')).toBe(now);
    expect((await weekly(now)).week).toBe(now);
    expect(await text(page, '#who')).toBe('Olga · owner');
    expect(await page.locator('#week-next').isDisabled()).toBe(true);
    // the owner may open the live view too, and is offered it
    expect(await page.locator('nav a[href="/manager"]').isVisible()).toBe(true);
  });

  it('shows a generated week with the figures of the weekly API', async () => {
    const week = weeks[3]!;
    await page.locator('#week-prev').click();
    await shown(week);
    expect(new URL(page.url()).searchParams.get('week')).toBe(week);
    const r = await weekly(week);
    expect(r.summary.visits).toBeGreaterThan(500);

    // summary cards, against last week and four weeks ago
    const card = (key: string) => page.locator(`#summary [data-figure="${key}"]`);
    expect(await card('serviceLevel').locator('.value').textContent()).toBe(pct(r.summary.serviceLevel));
    expect(await card('visits').locator('.value').textContent()).toBe(count(r.summary.visits));
    expect(await card('asgS').locator('.value').textContent()).toBe(secs(r.summary.asgS));
    expect(await card('p90S').locator('.value').textContent()).toBe(secs(r.summary.p90S));
    expect(await card('walkouts').locator('.value').textContent()).toBe(count(r.summary.walkouts));
    expect(await card('missed').locator('.value').textContent()).toBe(count(r.summary.missed));
    expect(await card('serviceLevel').locator('[data-vs="previous"]').textContent()).toContain(
      `${ptsDelta(r.summary.serviceLevel, r.compare.previous.summary.serviceLevel)} vs last week (${pct(r.compare.previous.summary.serviceLevel)})`,
    );
    expect(r.compare.fourWeeksAgo.week).toBe(formatIsoWeek(addWeeks(isoWeekOf(Date.parse(r.from), tz), -4)));
    expect(await card('visits').locator('[data-vs="previous"]').textContent()).toBe(
      `${countDelta(r.summary.visits, r.compare.previous.summary.visits)} vs last week (${count(r.compare.previous.summary.visits)})`,
    );
    // four weeks before the last generated week, nothing was recorded
    expect(r.compare.fourWeeksAgo.summary.visits).toBe(0);
    expect(await card('visits').locator('[data-vs="fourWeeksAgo"]').textContent()).toBe('no visits 4 weeks ago');

    // days: table rows next to the chart
    for (const d of r.days) {
      const row = page.locator(`#days tr[data-date="${d.date}"]`);
      expect(await row.locator('[data-col="visits"]').textContent(), d.date).toBe(count(d.visits));
      expect(await row.locator('[data-col="serviceLevel"]').textContent(), d.date).toBe(pct(d.serviceLevel));
      expect(await row.locator('[data-col="meetsTarget"]').textContent(), d.date).toBe(d.meetsTarget === null ? '–' : d.meetsTarget ? 'met' : 'missed');
    }
    expect(await page.locator('#days-chart canvas').count()).toBeGreaterThan(0);

    // heatmap: every hour with visits has its cell, with the service level and the visits
    const cells = await page.locator('#heatmap td[data-weekday][data-hour]').evaluateAll((tds) =>
      tds.map((td) => ({ key: `${td.dataset.weekday}/${td.dataset.hour}`, sl: td.querySelector('.sl')?.textContent ?? null, n: td.querySelector('.n')?.textContent ?? null })),
    );
    const byKey = new Map(cells.map((c) => [c.key, c]));
    const busy = r.grid.filter((c) => c.visits > 0);
    expect(busy.length).toBeGreaterThan(20);
    for (const c of busy) {
      const cell = byKey.get(`${c.weekday}/${c.hour}`);
      expect(cell, `${c.weekday} ${c.hour}:00`).toEqual({ key: `${c.weekday}/${c.hour}`, sl: pct(c.serviceLevel), n: `visits: ${count(c.visits)}` });
    }
    expect(cells.filter((c) => c.n !== null)).toHaveLength(busy.length);

    // time to greet and staff
    const ttg = await page.locator('#ttg-table tbody tr td:first-of-type').allTextContents();
    expect(ttg).toEqual(r.ttg.counts.map(count));
    for (const s of r.staff) {
      expect(await page.locator(`#staff tr[data-staff="${s.staff}"] td`).first().textContent()).toBe(count(s.greets));
    }

    // the chain: both stores, ranked as the ranking API ranks them
    const rk = (await (await ctx.request.get(`${base}/api/chain/ranking?week=${week}`)).json()) as ChainRanking;
    expect(rk.stores.map((s) => s.store)).toEqual(['rig', 'north']);
    const ranking = await page.locator('#ranking tr[data-store]').evaluateAll((trs) => trs.map((tr) => [tr.dataset.store, tr.dataset.rank, (tr as HTMLTableRowElement).cells[2]!.textContent]));
    expect(ranking).toEqual(rk.stores.map((s) => [s.store, String(s.rank), pct(s.serviceLevel)]));
    expect(await text(page, '#ranking tr[data-store="north"] th')).toBe('North Mall');

    for (const sel of ['#summary .value', '#summary .delta[data-trend="better"], #summary .delta[data-trend="worse"]', '#heatmap td[data-band="meets"] .sl', '#heatmap td[data-band="below"] .n'])
      if (await page.locator(sel).count()) expect(await contrastOf(page, sel), sel).toBeGreaterThanOrEqual(4.5);
    await shots(page, 'owner');
  });

  it('moves weeks with the picker, the buttons, the URL and the back button', async () => {
    await page.locator('#week').fill(weeks[0]!);
    await shown(weeks[0]!);
    expect(new URL(page.url()).searchParams.get('week')).toBe(weeks[0]);
    expect(await text(page, '#summary [data-figure="visits"] .value')).toBe(count((await weekly(weeks[0]!)).summary.visits));
    // the buttons answer the keyboard as well
    await page.locator('#week-next').focus();
    await page.keyboard.press('Enter');
    await shown(weeks[1]!);
    await page.goBack();
    await shown(weeks[0]!);
    await page.goto(`${base}/owner?week=${weeks[2]}`);
    await shown(weeks[2]!);
    expect(await page.locator('#week').inputValue()).toBe(weeks[2]);
    await page.locator('#week-now').click();
    await shown(now);
  });

  it('links the week and the ranking as CSV', async () => {
    const week = weeks[3]!;
    await page.goto(`${base}/owner?week=${week}`);
    await shown(week);
    const href = await page.locator('#csv').getAttribute('href');
    expect(href).toBe(`/api/stores/rig/weekly?week=${week}&format=csv`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#csv').click()]);
    expect(download.suggestedFilename()).toBe(`rig-${week}.csv`);
    const body = fs.readFileSync(await download.path(), 'utf8');
    expect(body.split('\r\n')[0]).toMatch(/^week,section,date,weekday,hour,/);
    expect(body).toContain(`${week},summary,`);
    const rankingHref = await page.locator('#ranking-csv').getAttribute('href');
    expect(rankingHref).toBe(`/api/chain/ranking?week=${week}&format=csv`);
    const res = await ctx.request.get(base + rankingHref!);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toMatch(/^text\/csv/);
    expect((await res.text()).split('\r\n')[0]).toBe('week,rank,store,service_level,visits,met,asg_s,p50_s,p90_s');
  });

  it('prints the report without the controls', async () => {
    // an A4 page's width at 96 dpi
    await page.setViewportSize({ width: 794, height: 1123 });
    await page.emulateMedia({ media: 'print' });
    try {
      // the print layout wins over the screen one: one column, wide tables in full
      expect(await page.locator('.grid2').first().evaluate((e) => getComputedStyle(e).display)).toBe('block');
      expect(await page.locator('#days .scroll').evaluate((e) => getComputedStyle(e).overflowX)).toBe('visible');
      expect(await page.locator('#week-prev').isVisible()).toBe(false);
      expect(await page.locator('#logout').isVisible()).toBe(false);
      expect(await page.locator('#heatmap').isVisible()).toBe(true);
      expect(await page.locator('#summary').isVisible()).toBe(true);
      fs.mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, 'owner-print.png'), fullPage: true });
    } finally {
      await page.emulateMedia({ media: 'screen' });
      await page.setViewportSize(VIEWPORTS.desktop);
    }
  });
});

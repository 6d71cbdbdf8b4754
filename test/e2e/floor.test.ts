import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import mqtt from 'mqtt';
import { sourceOf, topics, type FloorSnapshot, type LiveSnapshot, type NodeHealth } from '../../contract/index.ts';
import { asSimInput } from '../../edge/drivers/sim.ts';
import { inputKeys } from '../../edge/io.ts';
import { repoRoot } from '../../hub/repo-root.ts';
import { password, READER } from '../helpers/logins.ts';
import { startRig, type Rig } from '../helpers/rig.ts';
import { waitFor } from '../helpers/wait.ts';

// The floor view (README "Floor view") in a real headless Chromium, on the pages Vite built
// (vitest globalSetup): a waiting party appears as a tile, turns amber then red (LATE) and
// clears when staff greet; the page says "no connection" across the screen when the hub stops
// or goes silent, and comes back by itself. Screenshots go to test-results/screenshots/ (and
// to docs/screenshots/ for the README with GW_UPDATE_SCREENSHOTS=1).

const SHOTS = path.join(repoRoot(), 'test-results', 'screenshots');
const DOCS_SHOTS = path.join(repoRoot(), 'docs', 'screenshots');
const DESKTOP = { width: 1920, height: 1080 };
const PHONE = { width: 390, height: 844 };

let browser: Browser;

async function shot(page: Page, name: string, docs = false): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  if (docs && process.env.GW_UPDATE_SCREENSHOTS === '1') {
    fs.mkdirSync(DOCS_SHOTS, { recursive: true });
    fs.copyFileSync(file, path.join(DOCS_SHOTS, `${name}.png`));
  }
}

/** seconds on a tile's m:ss timer */
async function timerS(page: Page, tile = page.locator('#waiting [data-party]').first()): Promise<number> {
  const [min, sec] = (await tile.locator('.timer').textContent())!.split(':').map(Number);
  return min! * 60 + sec!;
}

/** WCAG contrast of an element's text against its own background colour */
function contrastOf(page: Page, selector: string): Promise<number> {
  return page.locator(selector).first().evaluate((el) => {
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
    const lum = (c: string) => {
      const [r, g, b] = rgb(c).map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    const st = getComputedStyle(el);
    const [a, b] = [lum(st.color), lum(st.backgroundColor)].sort((x, y) => y - x);
    return (a! + 0.05) / (b! + 0.05);
  });
}

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe('floor view', () => {
  let rig: Rig;
  let page: Page;

  beforeAll(async () => {
    rig = await startRig({ rules: { warnAtS: 1, greetWithinS: 2 }, storeName: 'Corner Shop' });
    page = await browser.newPage({ viewport: DESKTOP });
    await page.goto(`${rig.hub.httpUrl}/`);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
  });

  afterAll(async () => {
    await page?.close();
    await rig?.stop();
  });

  it('shows the store by name and an empty floor as empty', async () => {
    expect(await page.locator('#store').textContent()).toBe('Corner Shop');
    expect(await page.title()).toBe('Waiting · Corner Shop');
    expect(await page.locator('#empty').isVisible()).toBe(true);
    expect(await page.locator('#offline').isVisible()).toBe(false);
    expect(await page.locator('#waiting [data-party]').count()).toBe(0);
    expect(await page.locator('#target').textContent()).toBe('target 80%');
    // installer matters (history off, InfluxDB, nodes) are not the floor's business
    expect(await page.locator('body').textContent()).not.toMatch(/history|influx|node/i);
  });

  it('a walk-in appears as a tile that counts up, turns amber then red (LATE), and clears on a greet', async () => {
    await rig.walkIn();
    const tile = page.locator('#waiting [data-party]');
    await tile.first().waitFor({ timeout: 10_000 });
    expect(await tile.count()).toBe(1);
    expect(await page.locator('#empty').isVisible()).toBe(false);
    expect(await page.locator('#waitingCount').textContent()).toBe('1');
    expect(await tile.locator('.meta').textContent()).toBe('1 person');
    expect(await tile.locator('.breach').isVisible()).toBe(false);

    await page.locator('#waiting [data-party][data-level="warn"]').waitFor({ timeout: 10_000 });
    expect(await tile.locator('.badge').textContent()).toBe('Greet soon');
    expect(await contrastOf(page, '#waiting [data-level="warn"] .badge')).toBeGreaterThanOrEqual(4.5);
    expect(await contrastOf(page, '#waiting [data-level="warn"]')).toBeGreaterThanOrEqual(4.5);

    await page.locator('#waiting [data-party][data-level="late"]').waitFor({ timeout: 10_000 });
    // red means greetWithinS (2 s) has passed: the timer shows at least that
    expect(await timerS(page)).toBeGreaterThanOrEqual(2);
    // told apart without colour: the word, and a striped edge instead of a plain or dashed one
    expect(await tile.locator('.badge').textContent()).toBe('LATE');
    expect(await tile.evaluate((el) => getComputedStyle(el).backgroundImage)).toContain('repeating-linear-gradient');
    expect(await contrastOf(page, '#waiting [data-level="late"]')).toBeGreaterThanOrEqual(4.5);
    expect(await contrastOf(page, '#waiting [data-level="late"] .badge')).toBeGreaterThanOrEqual(4.5);
    // the timer still runs
    const t = await timerS(page);
    await page.waitForFunction((s) => {
      const [m, x] = document.querySelector('#waiting [data-party] .timer')!.textContent.split(':').map(Number);
      return m! * 60 + x! > s;
    }, t);
    // a single party gets most of a 1080p screen
    const box = (await tile.boundingBox())!;
    expect(box.width).toBeGreaterThan(DESKTOP.width * 0.8);
    expect(box.height).toBeGreaterThan(DESKTOP.height * 0.6);
    await shot(page, 'floor-late-desktop');

    await rig.greet();
    await tile.first().waitFor({ state: 'detached', timeout: 10_000 });
    expect(await page.locator('#empty').isVisible()).toBe(true);
    // the late greeting counts in today's figures
    await page.locator('#greetings', { hasText: '1' }).waitFor({ timeout: 10_000 });
    await page.locator('#sl', { hasText: '0%' }).waitFor({ timeout: 10_000 });
    expect(Number(await page.locator('html').getAttribute('data-deltas'))).toBeGreaterThanOrEqual(1);
  });

  it('has a chime toggle, off by default, that the keyboard reaches and the screen remembers', async () => {
    const chime = page.locator('#chime');
    expect(await chime.getAttribute('aria-pressed')).toBe('false');
    // Tab from the start of the page reaches it: it is the first control
    await page.locator('body').focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('chime');
    await page.keyboard.press('Enter');
    expect(await chime.getAttribute('aria-pressed')).toBe('true');
    expect(await page.evaluate(() => localStorage.getItem('greetwatch.floor.chime'))).toBe('1');
    await page.reload();
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    expect(await chime.getAttribute('aria-pressed')).toBe('true');
    await chime.click();
    expect(await chime.getAttribute('aria-pressed')).toBe('false');
    expect(await page.evaluate(() => localStorage.getItem('greetwatch.floor.chime'))).toBe('0');
  });

  it('leaves a sensor fault to the manager view: a chattering beam, raised by the edge node, is in /live and not on the floor', async () => {
    const outer = asSimInput(rig.door.inputs.get(inputKeys.beamOuter('beam')), 'door');
    // a loose wire: more edges in a second than the node's chatterPerS (default 50)
    for (let i = 0; i < 60; i++) outer.set(i % 2 === 0 ? 1 : 0);
    const login = await fetch(`${rig.hub.httpUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: READER, password: password(READER) }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    let door: NodeHealth | undefined;
    await waitFor(async () => {
      const live = (await (await fetch(`${rig.hub.httpUrl}/api/stores/rig/live`, { headers: { cookie } })).json()) as LiveSnapshot;
      door = live.nodes.find((n) => n.node === 'door');
      return (door?.faultCount ?? 0) >= 1;
    }, 'the fault in /live');
    expect(door!.faults).toEqual([{ sensor: 'beam', kind: 'chatter', detail: expect.stringContaining('more than 50 changes in 1 s') as unknown, time: expect.any(String) as unknown }]);
    // several snapshots later the floor still says nothing of nodes or sensors
    const seen = Number(await page.locator('html').getAttribute('data-snapshots'));
    await page.waitForFunction((n) => Number(document.documentElement.dataset.snapshots) > n + 3, seen);
    expect(await page.locator('body').textContent()).not.toMatch(/beam|sensor|fault|flicker|node/i);
    const floor = await (await fetch(`${rig.hub.httpUrl}/api/stores/rig/floor`)).text();
    expect(floor).not.toMatch(/beam|fault|node/i);
  });

  it('serves the floor snapshot without a login, with nothing beyond the floor', async () => {
    const r = await fetch(`${rig.hub.httpUrl}/api/stores/rig/floor`);
    expect(r.status).toBe(200);
    const s = (await r.json()) as FloorSnapshot;
    expect(Object.keys(s).sort()).toEqual(['name', 'now', 'open', 'rules', 'store', 'today']);
    expect(s).toMatchObject({ store: 'rig', name: 'Corner Shop', rules: { warnAtS: 1, greetWithinS: 2 }, today: { target: 0.8, greetings: 1, visits: 1 } });
  });
});

describe('floor view with several parties, desktop and phone', () => {
  let rig: Rig;
  let desktop: Page;
  let phone: Page;

  beforeAll(async () => {
    // slower rules than above: room to line up one party at each level for the screenshots
    rig = await startRig({ rules: { warnAtS: 3, greetWithinS: 6, stepsLineZones: ['mid'], minTransitS: 0.5 }, storeName: 'Corner Shop' });
    desktop = await browser.newPage({ viewport: DESKTOP });
    phone = await browser.newPage({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    for (const p of [desktop, phone]) {
      await p.goto(`${rig.hub.httpUrl}/floor`);
      await p.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    }
  });

  afterAll(async () => {
    await desktop?.close();
    await phone?.close();
    await rig?.stop();
  });

  it('lays out one tile per party, oldest first, in words staff use', async () => {
    // two people within the group window: one party of 2
    await Promise.all([rig.walkIn(), rig.walkIn()]);
    await desktop.locator('#waiting [data-party][data-level="warn"]').waitFor({ timeout: 15_000 });
    await rig.walkIn();
    await desktop.locator('#waiting [data-party][data-level="late"]').waitFor({ timeout: 15_000 });
    await desktop.locator('#waiting [data-party]:nth-child(2)[data-level="warn"]').waitFor({ timeout: 15_000 });
    await rig.walkIn();
    const tiles = desktop.locator('#waiting [data-party]');
    await desktop.locator('#waiting [data-party]:nth-child(3)').waitFor({ timeout: 10_000 });
    for (const p of [desktop, phone]) await p.locator('#waiting [data-party]:nth-child(3)').waitFor({ timeout: 10_000 });
    await shot(desktop, 'floor-desktop', true);
    await shot(phone, 'floor-phone', true);

    expect(await tiles.count()).toBe(3);
    expect(await tiles.locator('.meta').allTextContents()).toEqual(['party of 2', '1 person', '1 person']);
    expect(await tiles.nth(0).getAttribute('data-level')).toBe('late');
    // three tiles share the 1080p screen: each still big enough to read across the room
    const box = (await tiles.nth(2).boundingBox())!;
    expect(box.height).toBeGreaterThan(300);
    // on a phone they stack and the page does not scroll sideways
    expect(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    const phoneBox = (await phone.locator('#waiting [data-party]').first().boundingBox())!;
    expect(phoneBox.width).toBeGreaterThan(PHONE.width * 0.8);
  });

  it('says in words when a waiting party has walked past the steps line', async () => {
    // a presence in the steps-line zone, as a floor sensor would send it (CONTRACT.md "stepsLineZones"):
    // it goes to the oldest ungreeted party, the party of 2
    const c = await mqtt.connectAsync(rig.hub.mqttUrl, { username: 'door', password: password('door'), clientId: 'e2e-steps', reconnectPeriod: 0 });
    const t = new Date().toISOString();
    const ev = { specversion: '1.0', id: 'steps-1', source: sourceOf('rig', 'door'), type: 'greetwatch.presence.v1', time: t, senttime: t, bootid: 'e2e-steps', seq: 1, data: { sensor: 'pir', zone: 'mid', state: 'on' } };
    await c.publishAsync(topics.events('rig', 'door'), JSON.stringify(ev), { qos: 1 });
    await c.endAsync();
    const first = desktop.locator('#waiting [data-party]').first();
    await desktop.locator('#waiting [data-party][data-breached="true"]').waitFor({ timeout: 10_000 });
    expect(await first.getAttribute('data-breached')).toBe('true');
    expect(await first.locator('.breach').isVisible()).toBe(true);
    expect(await first.locator('.breach').textContent()).toBe('walked past the steps line');
    expect(await first.getAttribute('aria-label')).toMatch(/^party of 2, .*walked past the steps line$/);
    expect(await desktop.locator('#waiting [data-party][data-breached="true"]').count()).toBe(1);
  });
});

describe('floor view without the hub', () => {
  let rig: Rig;
  let page: Page;
  /** between the page and the hub: forwards everything, or answers the floor stream with one snapshot and then silence */
  let proxy: http.Server;
  let proxyUrl: string;
  let silent = false;
  let silentStreams = 0;
  let streamRequests = 0;

  beforeAll(async () => {
    rig = await startRig({ rules: { warnAtS: 30, greetWithinS: 60 } });
    proxy = http.createServer((req, res) => {
      const target = new URL(rig.hub.httpUrl);
      if (req.url?.startsWith('/api/stores/rig/floor/stream')) {
        streamRequests++;
        if (silent) {
          // the first stream of a silent spell gets a snapshot and then nothing (a Wi-Fi link
          // gone without a goodbye); later ones get no answer at all
          if (silentStreams++ > 0) return;
          void fetch(`${rig.hub.httpUrl}/api/stores/rig/floor`)
            .then((r) => r.text())
            .then((snap) => {
              res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
              res.write(`event: floor\ndata: ${snap}\n\n`);
            })
            .catch(() => res.destroy());
          return;
        }
      }
      const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      res.on('close', () => up.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    page = await browser.newPage({ viewport: DESKTOP });
    // the page's clock runs as the real one, and a test can move it on at once: what the page
    // does after seconds of silence is seen without waiting for them
    await page.clock.install();
  });

  afterAll(async () => {
    await page?.close();
    proxy?.closeAllConnections();
    await new Promise((r) => proxy?.close(r));
    await rig?.stop();
  });

  it('says so across the screen when the hub stops, stops the timers, and recovers from a hub restarted on the same port', async () => {
    await page.goto(`${rig.hub.httpUrl}/`);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    await rig.walkIn();
    const tile = page.locator('#waiting [data-party]');
    await tile.first().waitFor({ timeout: 10_000 });

    await rig.stopHub();
    await page.locator('#conn[data-state="stale"]').waitFor({ timeout: 10_000 });
    const overlay = page.locator('#offline');
    expect(await overlay.isVisible()).toBe(true);
    expect(await overlay.textContent()).toContain('No connection to the hub — the waiting list is not live');
    // never "nobody is waiting" for a hub it cannot hear
    expect(await page.locator('#empty').isVisible()).toBe(false);
    // the overlay covers the whole screen
    const box = (await overlay.boundingBox())!;
    expect(box.width).toBe(DESKTOP.width);
    expect(box.height).toBe(DESKTOP.height);
    // the timers stop where they were: 1.5 s on the page's clock, and its timer ticks, go by at once
    const frozen = await tile.locator('.timer').textContent();
    await page.clock.runFor(1500);
    expect(await tile.locator('.timer').textContent()).toBe(frozen);
    await shot(page, 'floor-offline-desktop');

    await rig.restartHub();
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 20_000 });
    expect(await overlay.isVisible()).toBe(false);
    // the restarted hub replayed its trace: the party is still waiting, and its timer runs again
    expect(await tile.count()).toBe(1);
    await page.waitForFunction((t) => document.querySelector('#waiting [data-party] .timer')?.textContent !== t, frozen, { timeout: 10_000 });
  });

  it('calls a stream that goes silent a lost hub, and opens a new one by itself', async () => {
    await page.goto(`${proxyUrl}/`);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    const html = page.locator('html');
    silent = true;
    const before = streamRequests;
    // the proxy drops the live stream; the page's next one gets a snapshot, then nothing
    proxy.closeAllConnections();
    await waitFor(() => streamRequests > before, 'the page to open a stream again');
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    const staleBefore = Number((await html.getAttribute('data-stale')) ?? 0);
    const retried = streamRequests;
    // no error, no end: only the silence tells, once it is longer than the page's limit (5 s)
    await page.clock.runFor(6_000);
    await page.locator('#conn[data-state="stale"]').waitFor({ timeout: 15_000 });
    expect(Number(await html.getAttribute('data-stale'))).toBe(staleBefore + 1);
    expect(await page.locator('#offline').isVisible()).toBe(true);
    expect(await page.locator('#offline').textContent()).toContain('No connection to the hub');
    // the watchdog opened a new stream as it went stale, and opens another each 5 s while none
    // answers; the page stays stale meanwhile
    await waitFor(() => streamRequests > retried, 'the watchdog to open a new stream');
    const afterStale = streamRequests;
    await page.clock.runFor(6_000);
    await waitFor(() => streamRequests > afterStale, 'the watchdog to open another stream');
    expect(await page.locator('#conn').getAttribute('data-state')).toBe('stale');
    silent = false;
    const answered = streamRequests;
    await page.clock.runFor(6_000);
    await waitFor(() => streamRequests > answered, 'the watchdog to open a stream the hub answers');
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    // and it stays live: that stream keeps talking
    await page.waitForTimeout(6000);
    expect(await page.locator('#conn').getAttribute('data-state')).toBe('live');
    expect(await page.locator('#offline').isVisible()).toBe(false);
    expect(Number(await html.getAttribute('data-stale'))).toBe(staleBefore + 1);
  });
});

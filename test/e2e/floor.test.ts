import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { LiveSnapshot } from '../../contract/index.ts';
import { asSimInput } from '../../edge/drivers/sim.ts';
import { inputKeys } from '../../edge/io.ts';
import { startRig, type Rig } from '../helpers/rig.ts';

// The floor page in a real headless Chromium sees a waiting party appear, turn amber then
// red, and clear when a staff member greets; a sensor fault shows under its node. The page is
// the bundle scripts/build-dashboard.ts built (vitest globalSetup). With no periodic snapshot
// after the first, it follows the waiting list from `change` events alone (README "Live stream").

let rig: Rig;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  rig = await startRig({ rules: { warnAtS: 1, greetWithinS: 2 } });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage();
  await page.goto(`${rig.hub.httpUrl}/`);
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
});

afterAll(async () => {
  await browser?.close();
  await rig?.stop();
});

describe('floor dashboard', () => {
  it('shows a waiting party with a running timer, amber then red, cleared on greet', async () => {
    expect(await page.locator('#waiting li').count()).toBe(0);
    await rig.walkIn();
    const card = page.locator('#waiting li');
    await card.first().waitFor({ timeout: 10_000 });
    expect(await page.locator('#waitingCount').textContent()).toBe('1');
    await page.locator('#waiting li[data-level="warn"]').waitFor({ timeout: 10_000 });
    await page.locator('#waiting li[data-level="late"]').waitFor({ timeout: 10_000 });
    // red means greetWithinS (2 s) has passed: the timer shows at least that
    const [min, sec] = (await card.locator('.timer').textContent())!.split(':').map(Number);
    expect(min! * 60 + sec!).toBeGreaterThanOrEqual(2);
    const border = await card.evaluate((el) => getComputedStyle(el).borderLeftColor);
    expect(border).toBe('rgb(198, 40, 40)'); // --late
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/floor-late.png` });

    await rig.greet();
    await page.locator('#waiting li').first().waitFor({ state: 'detached', timeout: 10_000 });
    expect(await page.locator('#empty').isVisible()).toBe(true);
    // the late greeting counts in today's figures
    await page.locator('#visits', { hasText: '1' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#sl').textContent()).toBe('0%');
  });

  it('says when history is off', async () => {
    expect(await page.locator('#banner').isVisible()).toBe(true);
    expect(await page.locator('#banner').textContent()).toContain('History is off');
  });

  it('shows a sensor fault under its node: a chattering beam, raised by the edge node itself', async () => {
    const outer = asSimInput(rig.door.inputs.get(inputKeys.beamOuter('beam')), 'door');
    // a loose wire: more edges in a second than the node's chatterPerS (default 50)
    for (let i = 0; i < 60; i++) outer.set(i % 2 === 0 ? 1 : 0);
    const fault = page.locator('#nodes li[data-node="door"] .faults li[data-kind="chatter"]');
    await fault.waitFor({ timeout: 10_000 });
    expect(await fault.textContent()).toBe('beam: flickering (muted)');
    const live = (await (await fetch(`${rig.hub.httpUrl}/api/stores/rig/live`)).json()) as LiveSnapshot;
    const door = live.nodes.find((n) => n.node === 'door')!;
    expect(door.faultCount).toBe(1);
    expect(door.faults).toEqual([{ sensor: 'beam', kind: 'chatter', detail: expect.stringContaining('more than 50 changes in 1 s') as unknown, time: expect.any(String) as unknown }]);
  });
});

describe('floor dashboard, from change events alone', () => {
  let quiet: Rig;
  let p: Page;

  beforeAll(async () => {
    // one snapshot on connect, the next in an hour: whatever the page shows after it came in deltas
    quiet = await startRig({ rules: { warnAtS: 1, greetWithinS: 2 }, snapshotMs: 3_600_000 });
    p = await browser.newPage();
    await p.goto(`${quiet.hub.httpUrl}/`);
    await p.locator('html[data-snapshots="1"]').waitFor({ timeout: 15_000 });
  });

  afterAll(async () => {
    await p?.close();
    await quiet?.stop();
  });

  it('adds a card for an entry and removes it on a greet, with no snapshot in between', async () => {
    const html = p.locator('html');
    expect(await p.locator('#waiting li').count()).toBe(0);
    await quiet.walkIn();
    const card = p.locator('#waiting li');
    await card.first().waitFor({ timeout: 10_000 });
    expect(await html.getAttribute('data-snapshots')).toBe('1');
    expect(Number(await html.getAttribute('data-deltas'))).toBeGreaterThanOrEqual(1);
    expect(await p.locator('#waitingCount').textContent()).toBe('1');
    expect(await p.locator('#empty').isVisible()).toBe(false);
    // the timer runs in the page, and the colour follows partyLevel there too
    await p.locator('#waiting li[data-level="late"]').waitFor({ timeout: 10_000 });

    await quiet.greet();
    await card.first().waitFor({ state: 'detached', timeout: 10_000 });
    expect(await html.getAttribute('data-snapshots')).toBe('1');
    expect(await p.locator('#waitingCount').textContent()).toBe('0');
    expect(await p.locator('#empty').isVisible()).toBe(true);
    expect(await html.getAttribute('data-gaps')).toBe('0');
  });
});

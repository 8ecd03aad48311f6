// The dashboard in Debian's chromium (driven by playwright-core): log in, watch a system go from
// armed to built while a simulated install posts its events (no reload: server-sent events),
// press rebuild and see it armed again. Screenshots at desktop and phone sizes go to
// artifacts/dashboard/ (CI keeps them).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ensurePackages, skipUnlessRoot } from './lib/apt.ts';
import { listen } from '../../server/http/server.ts';
import { ADMIN, NG, dashboardHarness, type DashboardHarness } from '../http/dashboard-harness.ts';

const skip = skipUnlessRoot('needs root (apt-get install chromium)');
const SHOTS = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'artifacts', 'dashboard');
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--no-pings',
  // Only loopback exists for this browser: no name resolves, so no background request leaves.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];
const WAIT_MS = 15_000;

let h: DashboardHarness;
let server: Server;
let base: string;
const dirs: string[] = [];
const contexts: BrowserContext[] = [];

/** Returns a browser context with a fresh user-data-dir. */
async function browser(viewport: { width: number; height: number }, phone = false): Promise<BrowserContext> {
  const dir = mkdtempSync(join(tmpdir(), 'kickstand-chromium-'));
  dirs.push(dir);
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    args: ARGS,
    viewport,
    deviceScaleFactor: phone ? 2 : 1,
    isMobile: phone,
    hasTouch: phone,
    timeout: 60_000,
  });
  ctx.setDefaultTimeout(WAIT_MS);
  contexts.push(ctx);
  return ctx;
}

/** Logs in through the form and lands on path. */
async function logIn(page: Page, path: string): Promise<void> {
  await page.goto(`${base}${path}`);
  assert.match(page.url(), /\/ui\/login\?next=/, 'pages need a login');
  await page.fill('input[name="token"]', ADMIN);
  await Promise.all([page.waitForURL(`${base}${path}`), page.click('button[type="submit"]')]);
}

/**
 * Waits until the element's text is exactly text. Polled from here with page.evaluate (run over
 * CDP, which the page's CSP does not govern): waitForFunction polls inside the page with an eval
 * that the dashboard's strict CSP refuses whenever the first check is not already true.
 */
async function waitText(page: Page, selector: string, text: string): Promise<void> {
  const read = `document.querySelector(${JSON.stringify(selector)})?.textContent ?? null`;
  const until = Date.now() + WAIT_MS;
  let seen: unknown = null;
  while (Date.now() < until) {
    seen = await page.evaluate(read);
    if (seen === text) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`${selector} still reads ${JSON.stringify(seen)} after ${WAIT_MS} ms, expected ${JSON.stringify(text)}`);
}

/** Sends what a guest sends: GET for fetches, POST for reports. */
async function guest(method: 'GET' | 'POST', path: string, body?: string): Promise<void> {
  const r = await fetch(`${base}${path}`, { method, body });
  assert.equal(r.status, 200, `${method} ${path}`);
  await r.arrayBuffer();
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

describe('dashboard in a browser', { skip }, () => {
  before(async () => {
    ensurePackages(['chromium']);
    mkdirSync(SHOTS, { recursive: true });
    h = dashboardHarness({ stallMs: 3600_000 });
    await h.store.createSystem({ ...NG, ip: '10.0.0.50' }, h.clock.now);
    await h.lifecycle.arm(NG.name, null, 'armed at registration');
    await h.store.createSystem({ name: 'web-01', macs: ['52:54:00:12:34:01'], profile: 'el9-kvm', hostname: 'web-01.lab' }, h.clock.now);
    await h.lifecycle.discovered('52:54:00:aa:bb:cc', '10.0.0.99');
    await h.store.saveLeases([{ mac: NG.macs[0]!, ip: '10.0.0.50', hostname: 'ngtest', state: 'bound', expiresAt: h.clock.now + 3600_000, updatedAt: h.clock.now }]);
    ({ server } = await listen(h.app, '127.0.0.1', 0).then((l) => ((base = `http://127.0.0.1:${l.port}`), l)));
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('an operator logs in, watches an install go from armed to built live, and re-arms it', async () => {
    const ctx = await browser({ width: 1280, height: 860 });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${base}/ui/login`);
    await shot(page, 'desktop-login');
    await logIn(page, '/ui/');
    await waitText(page, `tr[data-system="${NG.name}"] [data-badge]`, 'armed');
    await shot(page, 'desktop-systems-armed');

    await page.goto(`${base}/ui/systems/${NG.name}`);
    await page.waitForSelector('body[data-connected="yes"]');
    await page.evaluate('window.__notReloaded = true');
    const token = (await h.store.getSystem(NG.name))!.token!;
    const steps: Array<['GET' | 'POST', string, string]> = [
      ['GET', `/ks/${token}`, 'installing: kickstart'],
      ['POST', `/events/${token}/partitioned`, 'installing: partitioned'],
      ['POST', `/events/${token}/formatted`, 'installing: formatted'],
      ['POST', `/events/${token}/kernel-installed`, 'installing: kernel-installed'],
      ['POST', `/events/${token}/bootloader-installed`, 'installing: bootloader-installed'],
    ];
    for (const [method, path, badge] of steps) {
      h.clock.now += 47_000;
      await guest(method, path, method === 'POST' ? 'ok' : undefined);
      await waitText(page, '#system-badge [data-badge]', badge);
    }
    await shot(page, 'desktop-system-installing');
    h.clock.now += 12_000;
    await guest('POST', `/events/${token}/built`, 'install finished');
    await waitText(page, '#system-badge [data-badge]', 'built');
    assert.equal(await page.evaluate('window.__notReloaded'), true, 'the page updated without a reload');
    const rows = (await page.evaluate(`[...document.querySelectorAll('#timeline tr')].map((tr) => [tr.children[1].textContent, tr.children[2].textContent])`)) as string[][];
    assert.deepEqual(rows.map((r) => r[0]), ['armed', 'kickstart', 'partitioned', 'formatted', 'kernel-installed', 'bootloader-installed', 'built']);
    assert.deepEqual(rows.map((r) => r[1]), ['', '+47 s', '+47 s', '+47 s', '+47 s', '+47 s', '+12 s']);
    await shot(page, 'desktop-system-built');

    await Promise.all([page.waitForURL(`${base}/ui/systems/${NG.name}`), page.click('#rebuild')]);
    await waitText(page, '#system-badge [data-badge]', 'armed');
    assert.equal((await h.store.getSystem(NG.name))!.run, 2);
    assert.match((await page.textContent('#timeline'))!, /rebuild requested from the dashboard/);
    await page.click('details.artifact summary');
    await shot(page, 'desktop-system-rearmed');

    await page.goto(`${base}/ui/`);
    await page.waitForSelector('body[data-connected="yes"]');
    const fresh = (await h.store.getSystem(NG.name))!.token!;
    await guest('GET', `/ks/${fresh}`);
    await waitText(page, `tr[data-system="${NG.name}"] [data-badge]`, 'installing: kickstart');
    await shot(page, 'desktop-systems-live');
    for (const path of ['/ui/register', '/ui/distros', '/ui/leases']) {
      await page.goto(`${base}${path}`);
      await shot(page, `desktop-${path.slice(4)}`);
    }
  });

  test('without a login the browser gets the login form and actions are refused', async () => {
    const ctx = await browser({ width: 1280, height: 860 });
    const r = await ctx.request.post(`${base}/ui/systems/${NG.name}/rebuild`, { form: { _csrf: 'x' }, maxRedirects: 0 });
    assert.equal(r.status(), 401);
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(`${base}/ui/systems/${NG.name}`);
    assert.match(page.url(), /\/ui\/login\?next=%2Fui%2Fsystems%2Fngtest-hvm$/);
  });

  test('the pages fit a phone screen', async () => {
    const ctx = await browser({ width: 390, height: 844 }, true);
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await logIn(page, '/ui/');
    const overflow = `document.documentElement.scrollWidth <= window.innerWidth`;
    assert.equal(await page.evaluate(overflow), true, 'no sideways scrolling on the list');
    await shot(page, 'phone-systems');
    await page.goto(`${base}/ui/systems/${NG.name}`);
    assert.equal(await page.evaluate(overflow), true, 'no sideways scrolling on a system');
    await shot(page, 'phone-system');
    for (const path of ['/ui/register', '/ui/leases']) {
      await page.goto(`${base}${path}`);
      assert.equal(await page.evaluate(overflow), true, path);
      await shot(page, `phone-${path.slice(4)}`);
    }
  });
});

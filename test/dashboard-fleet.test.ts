// The dashboard served by `striatum dashboard` for a broker it does not run: 50 robots publishing telemetry
// (the page stays responsive: frame times measured in the page and reported), hostile telemetry rendered as
// text, robot ids outside the topic grammar ignored and counted, a robot's last will shown as offline, silent
// telemetry as stale, and a broker restart shown as "disconnected" and then recovered by itself.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import type { Page } from 'puppeteer-core';
import { makeAccount, type Account } from '../src/broker/acl.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { CONTRACT_VERSION } from '../src/contracts/messages.js';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import { launchChromium, login, screenshot, type TestBrowser } from './helpers/browser.js';
import { CLI, REPO, freePort, waitFor } from './helpers/fixtures.js';

const ROBOTS = 50;
const robotId = (i: number) => `fleet-${String(i).padStart(2, '0')}`;
const BAD_ID = 'bad<script>';

interface Publisher { id: string; client: MqttClient; timer: NodeJS.Timeout | null; state: string }

let tcpPort: number;
let wsPort: number;
let broker: EmbeddedBroker | null = null;
let dashboard: ChildProcess;
let dashboardUrl: string;
let chromium: TestBrowser;
let page: Page;
const publishers: Publisher[] = [];
const accounts: Account[] = [makeAccount('operator', 'operator-pass', 'operator'), makeAccount('evil', 'evil-pass-1', 'robot'), makeAccount('bad', 'bad-pass-1', 'robot', BAD_ID)];
for (let i = 0; i < ROBOTS; i++) accounts.push(makeAccount(robotId(i), `pass-${i}-xyz`, 'robot'));

const startBroker = async () => {
  broker = await EmbeddedBroker.start({ host: '127.0.0.1', port: tcpPort, wsPort, accounts, logger: silentLogger, maxConnections: 200 });
};

function status(id: string, state: string | null, online: boolean): string {
  return JSON.stringify({ v: CONTRACT_VERSION, robot: id, online, state, reason: 'test', policy: { name: 'p', version: 'v1', provider: 'cpu' }, transport: 'sim', stamp: new Date().toISOString() });
}

function telemetry(id: string, i: number, state: string): string {
  const d = (p50: number, p99: number) => ({ p50, p99, max: p99 * 1.5, count: 10 });
  return JSON.stringify({
    v: CONTRACT_VERSION, robot: id, stamp: new Date().toISOString(), state, rate_hz: 50, interval_s: 0.2,
    loop: { period_error_us: d(20 + i, 100 + i * 10 + Math.random()), compute_us: d(300, 900), policy_us: d(100, 200), ticks: 10, deadline_misses: i, skipped_periods: 0, overruns: 0 },
    episode: { index: 1, step: 10, progress: 0.5 },
  });
}

function startPublisher(id: string, i: number, username = id, password = `pass-${i}-xyz`): Publisher {
  const client = mqtt.connect(`mqtt://127.0.0.1:${tcpPort}`, {
    username, password, clientId: `striatum-${id}`, reconnectPeriod: 500, connectTimeout: 3000,
    will: { topic: topics.status(id), payload: Buffer.from(status(id, null, false)), qos: 1, retain: true },
  });
  const p: Publisher = { id, client, timer: null, state: 'running' };
  client.on('connect', () => client.publish(topics.status(id), status(id, p.state, true), { qos: 1, retain: true }));
  client.on('error', () => undefined);
  p.timer = setInterval(() => { if (client.connected) client.publish(topics.telemetry(id), telemetry(id, i, p.state), { qos: 0 }); }, 200);
  publishers.push(p);
  return p;
}

before(async () => {
  tcpPort = await freePort();
  wsPort = await freePort();
  await startBroker();
  dashboard = spawn(process.execPath, [CLI, 'dashboard', '--broker', `ws://127.0.0.1:${wsPort}/`, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  dashboard.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  dashboardUrl = (await waitFor('the dashboard URL', () => { try { return JSON.parse(out.split('\n')[0] as string).url as string; } catch { return null; } })) as string;
  chromium = await launchChromium();
});

after(async () => {
  for (const p of publishers) { if (p.timer) clearInterval(p.timer); p.client.end(true); }
  await chromium?.close();
  dashboard?.kill('SIGTERM');
  await broker?.close();
});

test('striatum dashboard serves the page for another broker, with that broker\'s address', async () => {
  const config = await (await fetch(new URL('config.json', dashboardUrl))).json() as { broker: string };
  assert.equal(config.broker, `ws://127.0.0.1:${wsPort}/`);
  assert.equal((await fetch(dashboardUrl)).status, 200);
  assert.equal((await fetch(new URL('lib/mqtt.min.js', dashboardUrl))).status, 200);
  assert.equal((await fetch(new URL('/etc/passwd', dashboardUrl))).status, 404);
  assert.equal((await fetch(dashboardUrl, { method: 'POST' })).status, 405);
});

test('50 robots publishing telemetry: every one is listed, changes show, sorting works, the page keeps drawing', async (t) => {
  for (let i = 0; i < ROBOTS; i++) startPublisher(robotId(i), i);
  page = await (await chromium.browser.createBrowserContext()).newPage();
  await page.goto(dashboardUrl);
  await login(page, 'operator', 'operator-pass');
  await page.waitForFunction((n) => (globalThis as any).document.querySelectorAll('tr[data-robot][data-live="online"]').length === n, { timeout: 30_000 }, ROBOTS);
  await page.evaluate(() => (globalThis as any).striatumDashboard.resetFrameStats());
  // A change on one robot among 50 shows up while all of them publish.
  const p37 = publishers.find((p) => p.id === robotId(37))!;
  p37.state = 'estopped';
  p37.client.publish(topics.status(p37.id), status(p37.id, 'estopped', true), { qos: 1, retain: true });
  await page.waitForSelector(`tr[data-robot="${robotId(37)}"][data-state="estopped"]`, { timeout: 20_000 });
  // Sort by period error p99, descending: the robot with the largest comes first.
  await page.click('th[data-key="p99"] button');
  await page.click('th[data-key="p99"] button');
  await page.waitForFunction((id) => (globalThis as any).document.querySelector('table.fleet tbody tr')?.dataset.robot === id, { timeout: 10_000 }, robotId(ROBOTS - 1));
  await new Promise((r) => setTimeout(r, 3000));
  const frames = await page.evaluate(() => (globalThis as any).striatumDashboard.frameStats());
  t.diagnostic(`frame time with ${ROBOTS} robots at 5 Hz: p50 ${frames.p50_ms.toFixed(1)} ms, p99 ${frames.p99_ms.toFixed(1)} ms, max ${frames.max_ms.toFixed(1)} ms over ${frames.frames} frames`);
  assert.ok(frames.frames > 10, 'the page kept drawing frames');
  const path = await screenshot(page, 'dashboard-fleet.png');
  if (process.env.STRIATUM_UPDATE_DOCS_SCREENSHOT === '1') {
    mkdirSync(join(REPO, 'docs/img'), { recursive: true });
    copyFileSync(path, join(REPO, 'docs/img/dashboard-fleet.png'));
  }
});

test('hostile telemetry is shown as text; robot ids outside the topic grammar are ignored and counted', async () => {
  const evil = mqtt.connect(`mqtt://127.0.0.1:${tcpPort}`, { username: 'evil', password: 'evil-pass-1', clientId: 'striatum-evil', reconnectPeriod: 0 });
  const bad = mqtt.connect(`mqtt://127.0.0.1:${tcpPort}`, { username: 'bad', password: 'bad-pass-1', clientId: 'bad-1', reconnectPeriod: 0 });
  try {
    await Promise.all([evil, bad].map((c) => new Promise((resolve) => c.once('connect', resolve))));
    const injected = '<img src=x onerror="globalThis.__pwned=1">';
    await evil.publishAsync(topics.status('evil'), JSON.stringify({ v: 1, robot: 'evil', online: true, state: injected, reason: '<script>globalThis.__pwned=2</script>', policy: { version: '<b>v</b>' }, stamp: 'soon' }), { qos: 1, retain: true });
    await evil.publishAsync(topics.telemetry('evil'), JSON.stringify({ interval_s: 1e308, loop: { period_error_us: { p99: 1e308 }, deadline_misses: -1e300 }, state: injected }), { qos: 1 });
    await evil.publishAsync(topics.event('evil'), JSON.stringify({ kind: 'fault', code: '<i>x</i>', message: '<script>globalThis.__pwned=3</script>' }), { qos: 1 });
    await evil.publishAsync(topics.telemetry('evil'), 'not json {', { qos: 1 });
    await bad.publishAsync(topics.telemetry(BAD_ID), telemetry(BAD_ID, 0, 'running'), { qos: 1 });
    await page.waitForSelector('tr[data-robot="evil"]', { timeout: 20_000 });
    await page.waitForFunction(() => !(globalThis as any).document.getElementById('ignored').hidden, { timeout: 20_000 });
    await page.waitForFunction(() => ((globalThis as any).document.querySelector('tr[data-robot="evil"] td[data-key="event"]')?.textContent ?? '').includes('<script>'), { timeout: 20_000 });
    const seen = await page.evaluate((badId) => {
      const doc = (globalThis as any).document;
      return {
        pwned: (globalThis as any).__pwned ?? null,
        injectedImages: doc.querySelectorAll('img[src="x"]').length,
        scripts: [...doc.querySelectorAll('script')].map((s: any) => s.getAttribute('src')),
        stateText: doc.querySelector('tr[data-robot="evil"] td[data-key="state"]').textContent,
        p99Text: doc.querySelector('tr[data-robot="evil"] td[data-key="p99"]').textContent,
        badRow: doc.querySelector(`tr[data-robot="${(globalThis as any).CSS.escape(badId)}"]`) !== null,
        ignored: (globalThis as any).striatumDashboard.model.ignoredMessages,
      };
    }, BAD_ID);
    assert.equal(seen.pwned, null, 'no injected script ran');
    assert.equal(seen.injectedImages, 0, 'no injected element');
    assert.deepEqual(seen.scripts, ['/lib/mqtt.min.js', '/app.js']);
    assert.ok(seen.stateText.includes('<img'), `the state is shown as text: ${seen.stateText}`);
    assert.equal(seen.p99Text, '1.00e+308');
    assert.equal(seen.badRow, false, 'a robot id outside the grammar is not listed');
    assert.ok(seen.ignored >= 1);
  } finally {
    evil.end(true);
    bad.end(true);
  }
});

test('a robot\'s last will shows it offline; silent telemetry shows it stale', async () => {
  const gone = publishers.find((p) => p.id === robotId(0))!;
  clearInterval(gone.timer!);
  gone.client.options.reconnectPeriod = 0;
  gone.client.stream.destroy(); // no DISCONNECT: the broker publishes the will
  const quiet = publishers.find((p) => p.id === robotId(1))!;
  clearInterval(quiet.timer!);
  await page.waitForSelector(`tr[data-robot="${robotId(0)}"][data-live="offline"]`, { timeout: 20_000 });
  await page.waitForSelector(`tr[data-robot="${robotId(1)}"][data-live="stale"]`, { timeout: 20_000 });
  const seenText = await page.$eval(`tr[data-robot="${robotId(1)}"] td[data-key="seen"]`, (td) => td.textContent);
  assert.match(seenText ?? '', /ago/);
});

test('a broker restart shows "disconnected", then the page reconnects by itself', async () => {
  await broker!.close();
  broker = null;
  await page.waitForSelector('#connection[data-state="disconnected"]', { timeout: 20_000 });
  assert.equal(await page.$eval('body', (b) => b.dataset.broker), 'disconnected');
  await startBroker();
  await page.waitForSelector('#connection[data-state="connected"]', { timeout: 30_000 });
  // The robots reconnect too and publish again: their rows are live.
  await page.waitForSelector(`tr[data-robot="${robotId(10)}"][data-live="online"]`, { timeout: 30_000 });
  await page.waitForFunction((n) => (globalThis as any).document.querySelectorAll('tr[data-robot][data-live="online"]').length >= n, { timeout: 30_000 }, ROBOTS - 2);
});

// The web dashboard in Debian's Chromium against a real simulated robot and its embedded broker: the page is
// served on the broker's WebSocket port, shows the robot, its charts and camera, and an operator's e-stop, arm
// and resume reach the robot; a viewer sees no controls and the broker refuses a forced command.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'puppeteer-core';
import { loadConfig } from '../src/config/load.js';
import { CONTRACT_VERSION } from '../src/contracts/messages.js';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import { RobotRuntime } from '../src/runtime/robot-runtime.js';
import { launchChromium, login, screenshot, type TestBrowser } from './helpers/browser.js';
import { REPO, simConfig, tempDir, waitFor, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';
import { connectClient, watch, type Watcher } from './helpers/mqtt-watch.js';
import { UpdaterStatusSchema } from '../src/contracts/rollout.js';
import { TrainingStatusMessageSchema } from '../src/contracts/messages.js';

const ROBOT = 'sim-dash';
let runtime: RobotRuntime;
let run: Promise<string>;
let chromium: TestBrowser;
let pageUrl: string;
let statusWatch: Watcher;

before(async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir), { robotId: ROBOT, wsPort: 0 });
  cfg.mqtt.users.push({ username: 'viewer', password: 'viewer-pass', role: 'viewer' });
  cfg.mqtt.users.push({ username: 'updater', password: 'updater-pass', role: 'updater' });
  cfg.mqtt.camera_frames = { hz: 4 };
  // The demo's learned rewards, so the PRM chart and the PRM success verdict have something to show.
  cfg.transport.cameras = [{ name: 'top', width: 96, height: 96, hz: 5 }];
  cfg.transport.time_limit_s = 3;
  cfg.reward = {
    models: [
      { name: 'progress', kind: 'progress', model: join(REPO, 'models/push-prm/progress.onnx'), cameras: ['top'], rate_hz: 5 },
      { name: 'success', kind: 'success', model: join(REPO, 'models/push-prm/success.onnx'), cameras: ['top'], rate_hz: 5, success_threshold: 0.9 },
    ],
    shaping: { horizon_s: 2 },
  };
  runtime = await RobotRuntime.start({ loaded: loadConfig(writeConfig(dir, cfg)), logger: silentLogger, mqtt: true, episodes: null });
  run = runtime.run();
  const broker = runtime.embeddedBroker!;
  pageUrl = `http://127.0.0.1:${broker.wsPort}/`;
  statusWatch = await watch(broker.url, 'operator', 'operator-pass', topics.status(ROBOT));
  chromium = await launchChromium();
});

after(async () => {
  await chromium?.close();
  await statusWatch?.close();
  runtime?.loop?.stop('test done');
  await run?.catch(() => undefined);
  await runtime?.shutdown('test done');
});

const lastStatus = () => statusWatch.json('/status').at(-1);

async function openPage(username: string, password: string): Promise<Page> {
  const context = await chromium.browser.createBrowserContext();
  const page = await context.newPage();
  await page.goto(pageUrl);
  await login(page, username, password);
  return page;
}

test('the broker\'s WebSocket port serves the page and its libraries, and MQTT over WebSocket on the same port', async () => {
  const page = await (await fetch(pageUrl)).text();
  assert.match(page, /<form id="login"/);
  for (const path of ['lib/mqtt.min.js', 'lib/uPlot.esm.js', 'topics.js', 'app.js']) {
    const res = await fetch(new URL(path, pageUrl));
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  }
  assert.equal((await fetch(new URL('package.json', pageUrl))).status, 404, 'only the listed files are served');
  assert.equal((await fetch(new URL('../../package.json', pageUrl))).status, 404);
  const topicsModule = await (await fetch(new URL('topics.js', pageUrl))).text();
  assert.doesNotMatch(topicsModule, /striatum-pieces/, 'the page never subscribes to the model pieces');
});

test('an operator sees the robot, its charts and camera; e-stop latches it, arm and resume bring it back', async () => {
  const page = await openPage('operator', 'operator-pass');
  await page.waitForSelector(`tr[data-robot="${ROBOT}"][data-live="online"]`, { timeout: 20_000 });
  await page.click(`tr[data-robot="${ROBOT}"]`);
  await page.waitForSelector('.controls [data-control="arm"]');
  // Charts receive points; the camera shows a picture, not a blank frame.
  await page.waitForFunction(() => Number((globalThis as any).document.querySelector('.chart[data-title^="Period error"]')?.getAttribute('data-points') ?? 0) >= 3, { timeout: 20_000 });
  await page.waitForFunction(() => {
    const img = (globalThis as any).document.querySelector('img[data-camera="top"]');
    return img !== null && img.complete && img.naturalWidth > 0;
  }, { timeout: 20_000 });
  const variance = await page.evaluate(() => {
    const img = (globalThis as any).document.querySelector('img[data-camera="top"]');
    const canvas = (globalThis as any).document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0; let sq = 0; let n = 0;
    for (let i = 0; i < data.length; i += 4) { const v = (data[i]! + data[i + 1]! + data[i + 2]!) / 3; sum += v; sq += v * v; n++; }
    return sq / n - (sum / n) ** 2;
  });
  assert.ok(variance > 10, `camera image is not blank (pixel variance ${variance})`);

  await page.click('#estop');
  await waitFor('the robot latched by the page\'s e-stop', () => lastStatus()?.state === 'estopped');
  assert.equal(runtime.loop!.state, 'estopped');
  await page.waitForSelector('.badge[data-role="state"][data-state="estopped"]');
  await page.waitForSelector('#outcome-list li[data-command="estop"][data-verdict="ok"]');

  await page.click('.controls [data-control="arm"]');
  await waitFor('armed (paused)', () => lastStatus()?.state === 'paused');
  await page.waitForSelector('#outcome-list li[data-command="arm"][data-verdict="ok"]');
  await page.click('.controls [data-control="resume"]');
  await waitFor('running again', () => lastStatus()?.state === 'running');
  await page.waitForSelector('#outcome-list li[data-command="resume"][data-verdict="ok"]');
  await page.waitForSelector('.badge[data-role="state"][data-state="running"]');

  // The keyboard shortcut is an e-stop too.
  await page.keyboard.press('Escape');
  await waitFor('e-stop from the keyboard', () => lastStatus()?.state === 'estopped');
  await page.click('.controls [data-control="arm"]');
  await page.click('.controls [data-control="resume"]');
  await waitFor('running after the keyboard e-stop', () => lastStatus()?.state === 'running');
  // Commands sent in quick succession each get their outcome, though the robot passed through paused quickly.
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#outcome-list li[data-verdict="ok"]').length === 6, { timeout: 20_000 });

  await page.waitForFunction(() => Number((globalThis as any).document.querySelector('.chart[data-title^="Episode return"]')?.getAttribute('data-points') ?? 0) >= 1, { timeout: 20_000 });
  await page.waitForFunction(() => Number((globalThis as any).document.querySelector('.chart[data-title^="PRM progress"]')?.getAttribute('data-points') ?? 0) >= 3, { timeout: 20_000 });
  await page.click('#outcomes-close');
  const path = await screenshot(page, 'dashboard-robot.png', true);
  if (process.env.STRIATUM_UPDATE_DOCS_SCREENSHOT === '1') {
    mkdirSync(join(REPO, 'docs/img'), { recursive: true });
    copyFileSync(path, join(REPO, 'docs/img/dashboard.png'));
  }

  // Rollback with no previous release: the robot's answer (a policy event) is the outcome, and policy history shows it.
  await page.click('.controls [data-control="rollback"]');
  await page.waitForSelector('#outcome-list li[data-command="rollback"][data-verdict="failed"]', { timeout: 20_000 });
  await page.waitForSelector('table.policy tr[data-code="rollback_unavailable"]', { timeout: 20_000 });
  await page.browserContext().close();
});

test('a viewer sees no controls, and the broker refuses a command forced from the page', async () => {
  const page = await openPage('viewer', 'viewer-pass');
  await page.waitForSelector(`tr[data-robot="${ROBOT}"][data-live="online"]`, { timeout: 20_000 });
  await page.waitForSelector('#who[data-role="viewer"]');
  await page.click(`tr[data-robot="${ROBOT}"]`);
  await page.waitForSelector('.viewer-note');
  assert.equal(await page.$('.controls'), null, 'no control bar');
  assert.equal(await page.$eval('#estop', (b) => (b as any).hidden), true, 'no e-stop button');
  const refusedBefore = runtime.embeddedBroker!.refused.publishes;
  const stateBefore = runtime.loop!.state;
  await page.evaluate((topic, body) => {
    (globalThis as any).striatumDashboard.session.client.publish(topic, body, { qos: 1 });
  }, topics.cmd(ROBOT), JSON.stringify({ v: CONTRACT_VERSION, command: 'estop' }));
  await waitFor('the broker refusing the viewer\'s command', () => runtime.embeddedBroker!.refused.publishes > refusedBefore);
  assert.equal(runtime.loop!.state, stateBefore, 'the robot did not obey');
  // The page notices the closed connection and reconnects by itself, and does not send the refused command again.
  await page.waitForSelector('#connection[data-state="connected"]', { timeout: 20_000 });
  const version = await page.evaluate(() => (globalThis as any).striatumDashboard.model.version);
  await page.waitForFunction((v) => (globalThis as any).striatumDashboard.model.version > v + 10, { timeout: 20_000 }, version);
  assert.equal(runtime.embeddedBroker!.refused.publishes, refusedBefore + 1, 'an unacknowledged command is not resent after the reconnect');
  await page.browserContext().close();
});

test('a wrong password shows a login error', async () => {
  const page = await openPage('operator', 'not-the-password');
  await page.waitForFunction(() => ((globalThis as any).document.getElementById('login-error')?.textContent ?? '').length > 0, { timeout: 20_000 });
  assert.equal(await page.$eval('#login-view', (s) => (s as any).hidden), false);
  await page.browserContext().close();
});

test('the robot page shows the updater\'s ingest counters, training progress and learning curve', async () => {
  const updater = await connectClient(runtime.brokerUrl!, 'updater', 'updater-pass');
  try {
    const stamp = new Date().toISOString();
    const status = UpdaterStatusSchema.parse({
      v: 1, updater: 'updater-test', online: true, stamp, started: stamp, subscription: 'plain', chunks: { stored: 41, duplicate: 2, rejected: 1 },
      rejected_by_code: { bad_crc: 1 }, steps_stored: 9000, episodes_complete: 12, unrecorded_steps: 0, last_rejection: null,
    });
    await updater.publishAsync(topics.updaterStatus(), JSON.stringify(status), { qos: 1, retain: true });
    const page = await openPage('viewer', 'viewer-pass');
    await page.waitForSelector(`tr[data-robot="${ROBOT}"]`, { timeout: 20_000 });
    await page.click(`tr[data-robot="${ROBOT}"]`);
    for (let epoch = 1; epoch <= 4; epoch++) {
      const training = TrainingStatusMessageSchema.parse({
        v: 1, state: 'training', round: 3, stamp: new Date().toISOString(), episodes_pending: 0, epoch, epochs: 4,
        losses: { 'losses/actor': 1 / epoch }, rounds_ok: 2, rounds_failed: 0, rounds_skipped: 0, last_error: null, last_model: null, last_round_s: 12,
      });
      await updater.publishAsync(topics.updaterTraining(), JSON.stringify(training), { qos: 1, retain: true });
      await page.waitForFunction((e) => ((globalThis as any).document.querySelector('.updater .facts')?.textContent ?? '').includes(`epoch ${e}/4`), { timeout: 20_000 }, epoch);
    }
    const facts = await page.$eval('.updater .facts', (p) => p.textContent ?? '');
    assert.match(facts, /stored 41/);
    assert.match(facts, /steps stored 9000/);
    await page.waitForFunction(() => Number((globalThis as any).document.querySelector('.updater .chart')?.getAttribute('data-points') ?? 0) >= 3, { timeout: 20_000 });
    await page.browserContext().close();
  } finally {
    await updater.publishAsync(topics.updaterStatus(), '', { qos: 1, retain: true });
    await updater.publishAsync(topics.updaterTraining(), '', { qos: 1, retain: true });
    await updater.endAsync();
  }
});

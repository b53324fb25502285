// `striatum run` as a user runs it: a child process, a real ONNX policy on the Rapier sim, a real broker
// (the embedded aedes, then a real Mosquitto), observed by an MQTT client.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EpisodeMessageSchema, EventMessageSchema, StatusMessageSchema, TelemetryMessageSchema } from '../src/contracts/messages.js';
import { topics } from '../src/contracts/topics.js';
import { CLI, runCli, simConfig, startCli, tempDir, waitFor, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { connectClient, connectionRefusal, watch, type Watcher } from './helpers/mqtt-watch.js';

const ROBOT = 'sim-test';

async function expectRobotOnline(w: Watcher): Promise<void> {
  const status = await waitFor('retained online status', () => w.json('/status').find((s) => s.online && s.state === 'running'));
  StatusMessageSchema.parse(status);
  assert.equal(status.policy.name, 'linear-test');
  assert.equal(status.transport, 'sim');
  const telemetry = await waitFor('telemetry with ticks', () => w.json('/telemetry').find((t) => t.loop.ticks > 10));
  TelemetryMessageSchema.parse(telemetry);
  assert.equal(telemetry.rate_hz, 50);
  assert.ok(telemetry.loop.compute_us.count > 0);
  assert.ok(telemetry.loop.policy_us.p50 > 0, 'policy step time is measured');
  assert.deepEqual(telemetry.policy, { version: 'test-1', swaps: 0, deployed: 0, refused: 0, rollbacks: 0 });
  const episode = await waitFor('a finished episode', () => w.json('/episode').find((e) => e.event === 'end'), 30_000);
  EpisodeMessageSchema.parse(episode);
  assert.match(episode.instruction, /^push the (red|blue) block onto the (green|yellow) pad$/);
  assert.ok(['success', 'timeout'].includes(episode.outcome));
  assert.ok(episode.steps > 0);
}

test('striatum run with the embedded broker: status, telemetry, episodes, commands, clean stop', async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir, { gain: 3 }), { robotId: ROBOT });
  const run = startCli(['run', '--config', writeConfig(dir, cfg)]);
  try {
    const listening = await waitFor('embedded broker', () => run.logs().find((l) => l.msg === 'embedded MQTT broker listening'));
    const url = `mqtt://${listening.tcp}`;
    const w = await watch(url, 'operator', 'operator-pass', `striatum/v1/${ROBOT}/#`);
    await expectRobotOnline(w);

    await connectionRefusal(url, 'operator', 'wrong-password');
    await connectionRefusal(url, ROBOT, 'guessed');

    // A forged publish by another robot account never reaches subscribers.
    const other = await connectClient(url, 'other-robot', 'other-robot-pass');
    other.publish(topics.status(ROBOT), JSON.stringify({ forged: true }), { qos: 0 });
    await waitFor('other robot to be cut off', () => !other.connected);
    await other.endAsync().catch(() => undefined);

    // A malformed command is rejected and counted; the robot keeps running.
    w.client.publish(topics.cmd(ROBOT), '{"v":1,"command":"self-destruct"}', { qos: 1 });
    w.client.publish(topics.cmd(ROBOT), 'not json at all', { qos: 1 });
    const rejected = await waitFor('rejection events', () => { const e = w.json('/event').filter((x) => x.kind === 'rejected_message'); return e.length >= 2 && e; });
    assert.match(rejected[0].message, /command/);
    assert.deepEqual(rejected.slice(0, 2).map((e: { code: string }) => e.code), ['malformed_command', 'malformed_command']);
    await waitFor('rejections in telemetry', () => w.json('/telemetry').find((t) => t.mqtt.rejected_messages >= 2 && t.state === 'running'));

    // E-stop latches; arm goes to paused; resume runs again.
    const send = (command: string) => w.client.publish(topics.cmd(ROBOT), JSON.stringify({ v: 1, command, from: 'test' }), { qos: 1 });
    send('estop');
    await waitFor('estopped status', () => w.json('/status').find((s) => s.state === 'estopped'));
    const fault = await waitFor('fault event', () => w.json('/event').find((e) => e.kind === 'fault'));
    assert.equal(fault.code, 'estop', 'an operator e-stop, named by a fixed code; the message says who and why');
    EventMessageSchema.parse(fault);
    send('resume');
    send('arm');
    await waitFor('paused after arm', () => w.json('/status').find((s) => s.state === 'paused'));
    assert.equal(w.json('/status').filter((s) => s.state === 'running').length, 1, 'resume alone did not leave the e-stop');
    send('resume');
    await waitFor('running again', () => w.json('/status').filter((s) => s.state === 'running').length === 2);

    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0);
    await waitFor('offline status', () => w.json('/status').find((s) => s.online === false));
    const order = run.logs().map((l) => l.msg);
    const loopStopped = order.indexOf('control loop stopped');
    const brokerStopped = order.indexOf('embedded MQTT broker stopped');
    assert.ok(loopStopped >= 0 && brokerStopped > loopStopped, 'motors safe before the broker goes away');
    await w.close().catch(() => undefined);
  } finally {
    run.child.kill('SIGKILL');
  }
});

test('striatum run says where to watch: MQTT URLs, a mosquitto_sub line that works as pasted, the model card', async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir, { gain: 3 }), { robotId: ROBOT, wsPort: 0 });
  writeFileSync(join(dir, 'policy.card.md'), [
    '# linear-test', '', '## Evaluation', '', '| episodes | successes | success rate | mean steps |', '|---|---|---|---|',
    '| 40 | 18 | **45%** | 300.5 |', '',
  ].join('\n'));
  const run = startCli(['run', '--config', writeConfig(dir, cfg)]);
  try {
    const listening = await waitFor('embedded broker', () => run.logs().find((l) => l.msg === 'embedded MQTT broker listening'));
    const where = await waitFor('where to watch', () => run.logs().find((l) => l.msg === 'watch the robot'));
    assert.equal(where.mqtt, `mqtt://${listening.tcp}`);
    assert.equal(where.ws, `ws://${listening.ws}`);
    assert.equal(where.topics, `striatum/v1/${ROBOT}/#`);
    // The dashboard page on the same port as MQTT over WebSocket.
    assert.equal(where.dashboard, `http://${listening.ws}/`);
    const page = await fetch(where.dashboard);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form id="login"/);
    // The operator account from the config, ready to paste: it receives the robot's messages.
    assert.match(where.mosquitto_sub, /^mosquitto_sub .*-u operator -P 'operator-pass'/);
    const received = execFileSync('sh', ['-c', `${where.mosquitto_sub} -C 1 -W 20`], { encoding: 'utf8' });
    assert.match(received, new RegExp(`^striatum/v1/${ROBOT}/`));
    const card = run.logs().find((l) => l.msg === 'policy model card');
    assert.ok(card, 'the model card line is logged at start-up');
    assert.equal(card.success_rate, 0.45);
    assert.equal(card.episodes, 40);
    assert.equal(card.card, join(dir, 'policy.card.md'));
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0);
  } finally {
    run.child.kill('SIGKILL');
  }
});

test('striatum run logs one line per episode with its outcome and the running success rate (virtual clock)', async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir, { gain: 3 }), { robotId: ROBOT });
  const run = startCli(['run', '--config', writeConfig(dir, cfg), '--fast', '--episodes', '6']);
  try {
    assert.equal(await run.exited, 0);
    const lines = run.logs().filter((l) => l.msg === 'episode finished');
    assert.equal(lines.length, 6);
    let succeeded = 0;
    lines.forEach((e, i) => {
      assert.equal(e.episode, i);
      assert.match(e.instruction, /^push the (red|blue) block onto the (green|yellow) pad$/);
      assert.ok(['success', 'timeout', 'failure'].includes(e.outcome), e.outcome);
      assert.ok(e.steps > 0 && e.duration_s > 0);
      assert.ok(e.progress === null || (e.progress >= 0 && e.progress <= 1.0001));
      if (e.outcome === 'success') succeeded++;
      assert.equal(e.finished, i + 1);
      assert.equal(e.succeeded, succeeded);
      assert.equal(e.success_rate, succeeded / (i + 1));
    });
    assert.equal(run.logs().filter((l) => l.msg === 'watch the robot').length, 1);
  } finally {
    run.child.kill('SIGKILL');
  }
});

test('striatum run against a real Mosquitto with passwords and the shipped ACL', async () => {
  const broker = await startMosquitto({ [ROBOT]: 'robot-pass-123', operator: 'operator-pass', 'other-robot': 'other-pass-123' });
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir, { gain: 3 }), { robotId: ROBOT, broker: broker.url });
  cfg.mqtt = { broker: broker.url, username: ROBOT, password_env: 'TEST_ROBOT_MQTT_PASSWORD', telemetry_hz: 5 };
  const file = writeConfig(dir, cfg);
  const child = spawn(process.execPath, [CLI, '--log-format', 'json', 'run', '--config', file], {
    env: { ...process.env, TEST_ROBOT_MQTT_PASSWORD: 'robot-pass-123' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    const w = await watch(broker.url, 'operator', 'operator-pass', `striatum/v1/${ROBOT}/#`);
    await expectRobotOnline(w).catch((e) => { throw new Error(`${(e as Error).message}\n${stderr}`); });

    await connectionRefusal(broker.url, ROBOT, 'wrong-password');

    // Mosquitto drops a publish outside the ACL; the genuine one after it still arrives.
    const other = await connectClient(broker.url, 'other-robot', 'other-pass-123');
    await other.publishAsync(topics.telemetry(ROBOT), 'forged', { qos: 1 });
    await other.publishAsync('striatum/v1/other-robot/telemetry', 'own-prefix', { qos: 1 });
    const ownWatcher = await watch(broker.url, 'operator', 'operator-pass', 'striatum/v1/other-robot/#');
    await other.publishAsync('striatum/v1/other-robot/telemetry', 'own-prefix-2', { qos: 1 });
    await waitFor('own-prefix publish', () => ownWatcher.messages.find((m) => m.payload === 'own-prefix-2'));
    assert.equal(w.messages.some((m) => m.payload === 'forged'), false);
    await other.endAsync();
    await ownWatcher.close();

    // kill -9: the broker publishes the robot's last will (retained offline status).
    child.kill('SIGKILL');
    await exited;
    const will = await waitFor('last will', () => w.json('/status').find((s) => s.online === false), 30_000);
    assert.equal(will.state, null);
    await w.close();
  } finally {
    child.kill('SIGKILL');
    await broker.stop();
  }
});

test('striatum run with a process-reward model: reward messages and a VOC in the episode summary', async () => {
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { channelMeanProgressModel, prmTestMetadata } = await import('./helpers/onnx-builder.js');
  const dir = tempDir();
  writeFileSync(join(dir, 'prm.onnx'), channelMeanProgressModel({ size: 48 }));
  writeFileSync(join(dir, 'prm.json'), JSON.stringify(prmTestMetadata({
    name: 'red-mean', kind: 'progress', model: 'prm.onnx', size: 48,
    inputs: [{ name: 'pixels', role: 'image' }], outputs: [{ name: 'progress', role: 'progress' }],
  })));
  const cfg = simConfig(writeLinearPolicy(dir, { gain: 3 }), { robotId: ROBOT });
  cfg.reward = { models: [{ name: 'red', kind: 'progress', model: 'prm.onnx', cameras: ['top'], rate_hz: 5, timeout_ms: 2000 }], shaping: { horizon_s: 2 } };
  const run = startCli(['run', '--config', writeConfig(dir, cfg)]);
  try {
    const listening = await waitFor('embedded broker', () => run.logs().find((l) => l.msg === 'embedded MQTT broker listening'));
    const w = await watch(`mqtt://${listening.tcp}`, 'operator', 'operator-pass', `striatum/v1/${ROBOT}/#`);
    const reward = await waitFor('a reward message with PRM progress', () => w.json('/reward').find((r) => r.progress !== null && !r.no_reward));
    assert.ok(reward.progress >= 0 && reward.progress <= 1, String(reward.progress));
    const end = await waitFor('an episode end with a reward summary', () => w.json('/episode').find((e) => e.event === 'end' && e.reward), 30_000);
    EpisodeMessageSchema.parse(end);
    assert.ok(end.reward.updates > 0);
    assert.ok(end.reward.voc >= -1 && end.reward.voc <= 1);
    const t = await waitFor('telemetry with PRM stats', () => w.json('/telemetry').find((x) => x.reward && x.reward.models?.[0]?.valid_updates > 0));
    assert.equal(t.reward.models[0].name, 'red');
    TelemetryMessageSchema.parse(t); // the reward part fits its published schema
    // The log's episode line carries the same VOC.
    const line = await waitFor('the episode line', () => run.logs().find((l) => l.msg === 'episode finished' && l.episode === end.episode));
    assert.ok(Math.abs(line.voc - end.reward.voc) < 0.001, `${line.voc} vs ${end.reward.voc}`);
    assert.ok(Math.abs(line.return - end.reward.return) < 0.001);
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0);
    await w.close().catch(() => undefined);
  } finally {
    run.child.kill('SIGKILL');
  }
});

test('striatum run records rollouts and striatum updater stores every step of each finished episode', async () => {
  const { join } = await import('node:path');
  const { execFileSync } = await import('node:child_process');
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir, { gain: 3 }), { robotId: ROBOT });
  cfg.mqtt.users.push({ username: 'updater', password: 'updater-pass', role: 'updater' });
  cfg.transport.time_limit_s = 1;
  cfg.rollout = { spool_dir: join(dir, 'spool'), chunk_steps: 20, ack_timeout_ms: 1000 };
  const run = startCli(['run', '--config', writeConfig(dir, cfg)]);
  const store = join(dir, 'episodes.sqlite');
  let updater: ReturnType<typeof spawn> | null = null;
  try {
    const listening = await waitFor('embedded broker', () => run.logs().find((l) => l.msg === 'embedded MQTT broker listening'));
    const url = `mqtt://${listening.tcp}`;
    const w = await watch(url, 'operator', 'operator-pass', `striatum/v1/${ROBOT}/#`);
    updater = spawn(process.execPath, [CLI, '--log-format', 'json', 'updater', 'run', '--broker', url, '--username', 'updater', '--password-env', 'UPDATER_PW', '--store', store],
      { env: { ...process.env, UPDATER_PW: 'updater-pass' }, stdio: 'ignore' });
    const ends = await waitFor('two finished episodes', () => { const e = w.json('/episode').filter((x) => x.event === 'end'); return e.length >= 2 && e; }, 30_000);
    const listed = () => execFileSync(process.execPath, [CLI, 'updater', 'episodes', '--store', store, '--complete']).toString()
      .trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const stored = await waitFor('both episodes complete in the store', () => { try { const l = listed(); return l.length >= 2 && l; } catch { return false; } }, 30_000);
    // Every step of each finished episode is stored exactly once: the counts match what the robot reported.
    const byOrder = stored.slice(0, 2).map((e: { steps: number }) => e.steps).sort();
    assert.deepEqual(byOrder, ends.slice(0, 2).map((e: { steps: number }) => e.steps).sort());
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0);
    await w.close().catch(() => undefined);
  } finally {
    run.child.kill('SIGKILL');
    updater?.kill('SIGKILL');
  }
});

test('striatum run with transport.backend rclnodejs and no usable rclnodejs stops with a clear error and exit 4, sourced ROS 2 or not', async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir), { robotId: ROBOT });
  cfg.transport = { kind: 'ros2', backend: 'rclnodejs' };
  const config = writeConfig(dir, cfg);
  for (const env of [{ ROS_DISTRO: undefined }, { ROS_DISTRO: 'jazzy' }]) {
    const r = await runCli(['run', '--config', config], { env: env as NodeJS.ProcessEnv });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /STRIATUM_ERR_ROS2_UNAVAILABLE/);
  }
});

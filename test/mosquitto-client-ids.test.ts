// A robot on a real Mosquitto started with the shipped mosquitto.conf and acl.conf: an account that knows the
// robot's client id cannot take its session (use_username_as_clientid), and a robot whose rollout publisher logs
// in with its own account keeps both connections up while the updater stores its chunks.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { topics } from '../src/contracts/topics.js';
import { CLI, runCli, simConfig, startCli, tempDir, waitFor, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { connectClient, watch } from './helpers/mqtt-watch.js';

const ROBOT = 'sim-mosq';
const PASSWORDS = { [ROBOT]: 'robot-pass-123', [`${ROBOT}-rollout`]: 'rollout-pass-123', updater: 'updater-pass', operator: 'operator-pass', viewer: 'viewer-pass' };
/** The per-robot block docs and acl.conf describe for a robot's rollout account. */
const ROLLOUT_ACL = [`user ${ROBOT}-rollout`, `topic write striatum/v1/${ROBOT}/rollout`, `topic read striatum/v1/${ROBOT}/rollout/ack`].join('\n');
const LINK_LOST = 'MQTT connection lost: commands and e-stops cannot reach the robot';

function robotConfig(dir: string, url: string): Record<string, any> {
  const cfg = simConfig(writeLinearPolicy(dir), { robotId: ROBOT, broker: url });
  cfg.mqtt = { broker: url, username: ROBOT, password_env: 'TEST_MOSQ_ROBOT_PASSWORD', telemetry_hz: 5 };
  cfg.transport.time_limit_s = 1;
  process.env.TEST_MOSQ_ROBOT_PASSWORD = PASSWORDS[ROBOT]; // inherited by the robot process
  return cfg;
}

test('on the shipped Mosquitto conf, another account using the robot\'s client id does not kick it off; an e-stop still reaches it', { timeout: 120_000 }, async () => {
  const broker = await startMosquitto(PASSWORDS, { shippedConf: true, aclExtra: ROLLOUT_ACL });
  const dir = tempDir();
  const run = startCli(['run', '--config', writeConfig(dir, robotConfig(dir, broker.url))]);
  const w = await watch(broker.url, 'operator', PASSWORDS.operator, `striatum/v1/${ROBOT}/#`);
  try {
    await waitFor('the robot running', () => w.json('/status').find((s) => s.state === 'running'), 30_000);
    const intruder = await connectClient(broker.url, 'viewer', PASSWORDS.viewer, { clientId: `striatum-${ROBOT}` });
    intruder.on('error', () => {});
    await w.client.publishAsync(topics.cmd(ROBOT), JSON.stringify({ v: 1, command: 'estop', from: 'test' }), { qos: 1 });
    await waitFor('estopped status', () => w.json('/status').find((s) => s.state === 'estopped'), 20_000);
    assert.equal(run.logs().filter((l) => l.msg === LINK_LOST).length, 0, 'the robot link was never kicked off');
    assert.ok(intruder.connected, 'the intruder kept its own session: neither took the other\'s');
    await intruder.endAsync();
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0);
  } finally {
    run.child.kill('SIGKILL');
    await w.close().catch(() => undefined);
    await broker.stop();
  }
});

test('on the shipped Mosquitto conf, a robot with its own rollout account keeps both connections up and the updater stores its episodes', { timeout: 120_000 }, async () => {
  const broker = await startMosquitto(PASSWORDS, { shippedConf: true, aclExtra: ROLLOUT_ACL });
  const dir = tempDir();
  const cfg = robotConfig(dir, broker.url);
  cfg.rollout = { spool_dir: join(dir, 'spool'), chunk_steps: 20, ack_timeout_ms: 1000, mqtt: { username: `${ROBOT}-rollout`, password_env: 'TEST_MOSQ_ROLLOUT_PASSWORD' } };
  process.env.TEST_MOSQ_ROLLOUT_PASSWORD = PASSWORDS[`${ROBOT}-rollout`];
  const run = startCli(['run', '--config', writeConfig(dir, cfg)]);
  const store = join(dir, 'episodes.sqlite');
  const w = await watch(broker.url, 'operator', PASSWORDS.operator, `striatum/v1/${ROBOT}/#`);
  const updater = spawn(process.execPath, [CLI, '--log-format', 'json', 'updater', 'run', '--broker', broker.url, '--username', 'updater', '--password-env', 'UPDATER_PW', '--store', store],
    { env: { ...process.env, UPDATER_PW: PASSWORDS.updater }, stdio: 'ignore' });
  try {
    const ends = await waitFor('three finished episodes', () => { const e = w.json('/episode').filter((x) => x.event === 'end'); return e.length >= 3 && e; }, 40_000);
    const listed = () => execFileSync(process.execPath, [CLI, 'updater', 'episodes', '--store', store, '--complete']).toString()
      .trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const stored = await waitFor('three episodes complete in the store', () => { try { const l = listed(); return l.length >= 3 && l; } catch { return false; } }, 30_000);
    assert.deepEqual(stored.slice(0, 3).map((e: { steps: number }) => e.steps).sort(), ends.slice(0, 3).map((e: { steps: number }) => e.steps).sort());
    const logs = run.logs();
    assert.equal(logs.filter((l) => l.msg === LINK_LOST).length, 0, 'the robot link was never kicked off');
    assert.equal(logs.filter((l) => l.msg === 'rollout MQTT connection lost').length, 0, 'the rollout connection was never kicked off');
    assert.equal(w.json('/event').filter((e) => e.kind === 'connection').length, 0, 'no connection events');
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0);
  } finally {
    run.child.kill('SIGKILL');
    updater.kill('SIGKILL');
    await w.close().catch(() => undefined);
    await broker.stop();
  }
});

test('rollout.mqtt is checked: password or password_env (one of them), an embedded-broker account, a set variable', async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir), { robotId: ROBOT });
  cfg.rollout = { spool_dir: join(dir, 'spool'), mqtt: { username: `${ROBOT}-rollout`, password: 'rollout-pass-123', password_env: 'X' } };
  const both = await runCli(['config', 'check', writeConfig(dir, cfg, 'both.yaml')]);
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stderr, /STRIATUM_ERR_CONFIG/);
  assert.match(both.stderr, /^ {2}rollout\.mqtt\.password_env: /m);
  assert.match(both.stderr, /^ {2}rollout\.mqtt\.username: /m, 'no such account on the embedded broker');

  cfg.rollout.mqtt = { username: `${ROBOT}-rollout`, password_env: 'TEST_MOSQ_UNSET_ROLLOUT_PASSWORD' };
  cfg.mqtt.users.push({ username: `${ROBOT}-rollout`, password: 'rollout-pass-123', role: 'robot', robot: ROBOT });
  delete process.env.TEST_MOSQ_UNSET_ROLLOUT_PASSWORD;
  const file = writeConfig(dir, cfg, 'unset.yaml');
  assert.equal((await runCli(['config', 'check', file])).code, 0);
  const unset = await runCli(['run', '--config', file]);
  assert.equal(unset.code, 2, unset.stderr);
  assert.match(unset.stderr, /STRIATUM_ERR_CONFIG/);
  assert.match(unset.stderr, /TEST_MOSQ_UNSET_ROLLOUT_PASSWORD/);
});

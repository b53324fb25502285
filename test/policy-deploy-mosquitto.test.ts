// Signed policy deployment on a real Mosquitto with the shipped password and ACL files: a robot account receives
// the updater's manifest and pieces, swaps the policy in, and runs it again after a restart (from its state dir).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateKeyFiles, loadPrivateKey, releasePolicy } from '../src/updater/registry.js';
import { simConfig, startCli, tempDir, waitFor, writeConfig, writeLinearPolicy, writeVersionedPolicy } from './helpers/fixtures.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { connectClient, watch } from './helpers/mqtt-watch.js';

const ROBOT = 'sim-deploy-mosq';

test('a robot on Mosquitto with the shipped ACL receives a signed policy and runs it again after a restart', { timeout: 180_000 }, async () => {
  const broker = await startMosquitto({ [ROBOT]: 'robot-pass-123', updater: 'updater-pass', operator: 'operator-pass' });
  const dir = tempDir();
  generateKeyFiles(join(dir, 'keys'));
  const cfg = simConfig(writeLinearPolicy(dir), { robotId: ROBOT, broker: broker.url });
  cfg.mqtt = { broker: broker.url, username: ROBOT, password_env: 'TEST_ROBOT_MQTT_PASSWORD', telemetry_hz: 5 };
  cfg.policy.trusted_keys = ['keys/public.pem'];
  const file = writeConfig(dir, cfg);
  process.env.TEST_ROBOT_MQTT_PASSWORD = 'robot-pass-123'; // inherited by the robot process
  let run = startCli(['run', '--config', file]);
  const w = await watch(broker.url, 'operator', 'operator-pass', `striatum/v1/${ROBOT}/#`);
  const updater = await connectClient(broker.url, 'updater', 'updater-pass');
  try {
    await waitFor('running with test-1', () => w.json('/status').find((s) => s.state === 'running' && s.policy?.version === 'test-1'), 30_000);
    await releasePolicy({ modelDir: writeVersionedPolicy(dir, 'good', 'v2', 5), key: loadPrivateKey(join(dir, 'keys/private.pem')), mqttClient: updater, pieceBytes: 256 });
    await waitFor('status with v2', () => w.json('/status').find((s) => s.state === 'running' && s.policy?.version === 'v2'), 30_000);
    assert.ok(run.logs().some((l) => l.msg === 'policy swapped between ticks'));

    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0);
    run = startCli(['run', '--config', file]);
    // The second run starts with v2 from its state directory, before it hears the retained manifest.
    const restored = await waitFor('restored policy', () => run.logs().find((l) => l.msg === 'policy restored from the state directory'), 30_000);
    assert.equal(restored.version, 'v2');
    await waitFor('running with v2 after restart', () => w.json('/status').filter((s) => s.state === 'running' && s.policy?.version === 'v2').length >= 2, 30_000);
    assert.ok(!run.logs().some((l) => l.msg === 'policy swapped between ticks'), 'no swap was needed');
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0);
  } finally {
    run.child.kill('SIGKILL');
    await updater.endAsync().catch(() => undefined);
    await w.close().catch(() => undefined);
    await broker.stop();
  }
});

// Signed policy deployment end to end, in process: a RobotRuntime on the simulated pusher (virtual clock) with
// its embedded aedes broker, real ONNX models, an updater account publishing manifests and pieces. Bad updates
// are refused while the old policy keeps running; a good one is swapped in between ticks; rollback goes back.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { keysCommand } from '../src/cli/cmd-keys.js';
import { policyCommand } from '../src/cli/cmd-policy.js';
import { loadConfig } from '../src/config/load.js';
import { signManifest } from '../src/contracts/policy-manifest.js';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import { RobotRuntime } from '../src/runtime/robot-runtime.js';
import { buildManifest, loadPrivateKey, publishRelease, releasePolicy } from '../src/updater/registry.js';
import { simConfig, tempDir, waitFor, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';
import { connectClient, watch } from './helpers/mqtt-watch.js';

const ROBOT = 'sim-deploy';

function modelDir(root: string, name: string, version: string, options: { gain?: number; obsDim?: number } = {}): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeLinearPolicy(dir, options);
  const metaPath = join(dir, 'policy.json');
  const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
  meta.version = version;
  writeFileSync(metaPath, JSON.stringify(meta));
  return dir;
}

test('signed deployment: refusals keep the old policy, a valid update swaps between ticks, rollback returns', { timeout: 180_000 }, async () => {
  const dir = tempDir();
  const quiet = silentLogger;
  assert.equal(await keysCommand.run(['generate', '--out', join(dir, 'keys')], quiet), 0);
  assert.equal(await keysCommand.run(['generate', '--out', join(dir, 'rogue')], quiet), 0);
  const key = loadPrivateKey(join(dir, 'keys/private.pem'));
  const rogue = loadPrivateKey(join(dir, 'rogue/private.pem'));

  const cfg = simConfig(writeLinearPolicy(dir), { robotId: ROBOT });
  cfg.control.realtime = false;
  cfg.policy.trusted_keys = ['keys/public.pem'];
  cfg.policy.auto_rollback = null;
  cfg.mqtt.users.push({ username: 'updater', password: 'updater-pass', role: 'updater' });
  const runtime = await RobotRuntime.start({ loaded: loadConfig(writeConfig(dir, cfg)), logger: silentLogger, mqtt: true, realtime: false, episodes: null });
  const running = runtime.run();
  const url = runtime.brokerUrl!;
  const updater = await connectClient(url, 'updater', 'updater-pass');
  const w = await watch(url, 'operator', 'operator-pass', `striatum/v1/${ROBOT}/#`);
  const loop = runtime.loop!;
  const version = () => runtime.status(true, 'test').policy?.version;
  const policyEvents = () => w.json('/event').filter((e) => e.kind === 'policy');
  const expectRefusal = async (code: string): Promise<void> => {
    const ticks = loop.accounting.ticks;
    await waitFor(`refusal ${code}`, () => policyEvents().find((e) => e.code === `refused_${code}`), 30_000);
    assert.equal(version(), 'test-1', `after ${code} the old policy is still active`);
    await waitFor('the loop to keep ticking', () => loop.accounting.ticks > ticks + 50);
    assert.equal(loop.state, 'running');
    assert.equal(loop.sourceSwaps, 0);
  };
  try {
    await waitFor('running', () => loop.state === 'running' && loop.accounting.ticks > 10);
    assert.equal(version(), 'test-1');

    // Unsigned.
    const unsigned = buildManifest({ modelDir: modelDir(dir, 'unsigned', 'u-1', { gain: 3 }) });
    await publishRelease(updater, unsigned.manifest, unsigned.chunks);
    await expectRefusal('unsigned');

    // Signed by a key the robot does not trust.
    await releasePolicy({ modelDir: modelDir(dir, 'rogue-model', 'r-1', { gain: 3.5 }), key: rogue, mqttClient: updater });
    await expectRefusal('untrusted_key');

    // A piece altered after signing.
    const tampered = buildManifest({ modelDir: modelDir(dir, 'tampered', 't-1', { gain: 4 }), pieceBytes: 128 });
    assert.ok(tampered.chunks.length >= 3, 'the model travels in several pieces');
    const signedTampered = signManifest(tampered.manifest, key);
    const bad = Buffer.from(tampered.chunks[1]);
    bad[bad.length - 1] ^= 0xff;
    await publishRelease(updater, signedTampered, [tampered.chunks[0], bad, ...tampered.chunks.slice(2)]);
    await expectRefusal('piece_hash_mismatch');

    // Correctly signed, but the graph takes 6 observations where the robot provides 8 (caught by onnxruntime).
    await releasePolicy({ modelDir: modelDir(dir, 'shape', 's-1', { gain: 4.5, obsDim: 6 }), key, mqttClient: updater, pieceBytes: 100 });
    await expectRefusal('shape_mismatch');

    // A valid update through the CLI command (validation in onnxruntime, then sign and publish).
    const missesBefore = loop.accounting.deadlineMisses;
    const ticksBefore = loop.accounting.ticks;
    process.env.TEST_UPDATER_PASSWORD = 'updater-pass';
    assert.equal(await policyCommand.run(['publish', '--model', modelDir(dir, 'good', 'v2', { gain: 5 }), '--key', join(dir, 'keys/private.pem'),
      '--broker', url, '--username', 'updater', '--password-env', 'TEST_UPDATER_PASSWORD', '--parent-version', 'test-1'], quiet), 0);
    await waitFor('the new version active', () => version() === 'v2', 30_000);
    await waitFor('retained status with v2', () => w.json('/status').find((s) => s.policy?.version === 'v2'));
    await waitFor('swap event', () => policyEvents().find((e) => e.code === 'policy_swapped'));
    assert.equal(loop.sourceSwaps, 1);
    // A `striatum/v1/#` subscriber (a dashboard, mosquitto_sub) gets the retained manifests, not the binary pieces:
    // they are retained under their own root.
    const everything = await watch(url, 'operator', 'operator-pass', 'striatum/v1/#');
    const pieces = await watch(url, 'operator', 'operator-pass', `${topics.piecePrefix()}#`);
    await waitFor('retained manifests', () => everything.messages.some((m) => m.topic === topics.policyManifest('push') && m.retain));
    await waitFor('retained pieces under their own root', () => pieces.messages.length > 0);
    assert.deepEqual(everything.messages.filter((m) => m.topic.startsWith(topics.piecePrefix()) || m.topic.includes('/piece')), []);
    await everything.close();
    await pieces.close();
    assert.equal(loop.activeSource.version, 'v2');
    // Applied at a tick boundary: the tick counter when it was applied lies between the two observations.
    assert.ok(loop.lastSwapTick >= ticksBefore, `swap at tick ${loop.lastSwapTick}, after ${ticksBefore}`);
    await waitFor('ticks under v2', () => loop.accounting.ticks > loop.lastSwapTick + 50);
    assert.equal(loop.accounting.deadlineMisses, missesBefore, 'the swap caused no deadline miss');
    assert.equal(runtime.policyManager!.previousVersion, 'test-1');

    // Rollback by command.
    w.client.publish(topics.cmd(ROBOT), JSON.stringify({ v: 1, command: 'rollback', from: 'test' }), { qos: 1 });
    await waitFor('rolled back', () => version() === 'test-1', 30_000);
    await waitFor('rollback event', () => policyEvents().find((e) => e.code === 'rollback'));
    assert.equal(loop.sourceSwaps, 2);
    await waitFor('ticks after rollback', () => loop.accounting.ticks > loop.lastSwapTick + 50);
    assert.equal(loop.state, 'running');
    assert.equal(version(), 'test-1', 'the retained v2 manifest is not taken again');
  } finally {
    await w.close().catch(() => undefined);
    await updater.endAsync().catch(() => undefined);
    await runtime.shutdown('test done');
    await running;
  }
});

// `striatum run` as a child process with policy.trusted_keys: an updater account releases a signed policy over the
// embedded broker; the retained status shows the new version, a rollback command returns to the old one, and a
// manifest signed by an unknown key is refused with a log line and a 'policy' event.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { topics } from '../src/contracts/topics.js';
import { generateKeyFiles, loadPrivateKey, releasePolicy } from '../src/updater/registry.js';
import { simConfig, startCli, tempDir, waitFor, writeConfig, writeLinearPolicy, writeVersionedPolicy } from './helpers/fixtures.js';
import { connectClient, watch } from './helpers/mqtt-watch.js';

const ROBOT = 'sim-deploy-cli';

test('striatum run takes a signed policy over MQTT, rolls it back on command, refuses an untrusted one', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  generateKeyFiles(join(dir, 'keys'));
  generateKeyFiles(join(dir, 'rogue'));
  const cfg = simConfig(writeLinearPolicy(dir), { robotId: ROBOT });
  cfg.policy.trusted_keys = ['keys/public.pem'];
  cfg.mqtt.users.push({ username: 'updater', password: 'updater-pass', role: 'updater' });
  const run = startCli(['run', '--config', writeConfig(dir, cfg)]);
  try {
    const listening = await waitFor('embedded broker', () => run.logs().find((l) => l.msg === 'embedded MQTT broker listening'));
    const url = `mqtt://${listening.tcp}`;
    const w = await watch(url, 'operator', 'operator-pass', `striatum/v1/${ROBOT}/#`);
    const updater = await connectClient(url, 'updater', 'updater-pass');
    await waitFor('running with test-1', () => w.json('/status').find((s) => s.state === 'running' && s.policy?.version === 'test-1'));

    await releasePolicy({ modelDir: writeVersionedPolicy(dir, 'good', 'v2', 5), key: loadPrivateKey(join(dir, 'keys/private.pem')), mqttClient: updater, pieceBytes: 256 });
    await waitFor('status with v2', () => w.json('/status').find((s) => s.state === 'running' && s.policy?.version === 'v2'), 30_000);
    await waitFor('an episode run by v2', () => w.json('/episode').find((e) => e.policy_version === 'v2'), 30_000);
    assert.ok(run.logs().some((l) => l.msg === 'policy swapped between ticks'));

    w.client.publish(topics.cmd(ROBOT), JSON.stringify({ v: 1, command: 'rollback', from: 'test' }), { qos: 1 });
    await waitFor('status back to test-1', () => {
      const s = w.json('/status');
      return s.length > 0 && s.at(-1).policy?.version === 'test-1' && s.some((x) => x.policy?.version === 'v2');
    }, 30_000);

    await releasePolicy({ modelDir: writeVersionedPolicy(dir, 'rogue-model', 'r-1', 6), key: loadPrivateKey(join(dir, 'rogue/private.pem')), mqttClient: updater });
    await waitFor('refusal event', () => w.json('/event').find((e) => e.kind === 'policy' && e.code === 'refused_untrusted_key'));
    const refusal = await waitFor('refusal log line', () => run.logs().find((l) => l.msg === 'policy update refused; the running policy keeps running'));
    assert.equal(refusal.code, 'untrusted_key');
    const status = w.json('/status').at(-1);
    assert.equal(status.policy.version, 'test-1');
    assert.equal(status.state, 'running');

    await updater.endAsync().catch(() => undefined);
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0);
    await w.close().catch(() => undefined);
  } finally {
    run.child.kill('SIGKILL');
  }
});

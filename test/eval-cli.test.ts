// `striatum eval --model`: evaluate a freshly trained policy without editing a config.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli, simConfig, tempDir, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';

test('eval --model evaluates that policy in place of the configured one', async () => {
  const dir = tempDir();
  // The configured model does not exist: only the --model one can have run.
  const config = writeConfig(dir, simConfig(`${dir}/absent.onnx`));
  const fresh = writeLinearPolicy(tempDir(), { name: 'fresh' });
  const r = await runCli(['eval', '--config', config, '--model', fresh, '--episodes', '1']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim());
  assert.equal(result.episodes, 1);
  assert.equal(result.policy.name, 'linear-test');
  const without = await runCli(['eval', '--config', config, '--episodes', '1']);
  assert.equal(without.code, 3, without.stderr);
});

test('a fault in an offline run (no operator to re-arm) ends it as a safety error: exit 6, STRIATUM_ERR_SAFETY', async () => {
  const dir = tempDir();
  const nan = writeLinearPolicy(dir, { name: 'nan', bias: Number.NaN });
  const r = await runCli(['eval', '--config', writeConfig(dir, simConfig(nan)), '--episodes', '3']);
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /STRIATUM_ERR_SAFETY/);
  assert.match(r.stderr, /nan_action/);
});

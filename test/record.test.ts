import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readNpy } from '../src/util/npy.js';
import { runCli, simConfig, tempDir, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';
import { requirePython } from './helpers/required-tools.js';

test('striatum record writes expert demonstrations the trainer can read', async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir));
  cfg.transport.time_limit_s = 15;
  const out = join(dir, 'demo');
  const r = await runCli(['record', '--config', writeConfig(dir, cfg), '--out', out, '--episodes', '3', '--seed', '40']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim());
  assert.equal(summary.episodes, 3);
  assert.equal(summary.successes, 3, 'the scripted expert solves these seeds');

  const obs = readNpy(join(out, 'observations.npy'));
  const act = readNpy(join(out, 'actions.npy'));
  const ep = readNpy(join(out, 'episode_index.npy'));
  const meta = JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8'));
  assert.deepEqual(obs.shape, [summary.steps, 8]);
  assert.deepEqual(act.shape, [summary.steps, 2]);
  assert.deepEqual(ep.shape, [summary.steps]);
  assert.deepEqual(meta.observation_fields.map((f: { name: string; size: number }) => `${f.name}:${f.size}`),
    ['joint_positions:2', 'joint_velocities:2', 'block_position:2', 'pad_position:2']);
  assert.deepEqual(meta.episodes.map((e: { seed: number }) => e.seed), [40, 41, 42]);
  assert.equal(meta.episodes.reduce((s: number, e: { steps: number }) => s + e.steps, 0), summary.steps);
  for (let i = 0; i < act.data.length; i++) assert.ok(Math.abs(act.data[i]) <= 0.25 + 1e-6, 'recorded commands are within limits');
  for (let i = 1; i < ep.data.length; i++) assert.ok(ep.data[i] === ep.data[i - 1] || ep.data[i] === ep.data[i - 1] + 1);

  // NumPy reads the same arrays (an independent reader of the .npy format).
  const python = requirePython(['numpy']);
  const py = JSON.parse(execFileSync(python, ['-c', 'import json, sys, numpy as np; o = np.load(sys.argv[1]); print(json.dumps([list(o.shape), str(o.dtype), float(o[3, 4])]))', join(out, 'observations.npy')]).toString());
  assert.deepEqual(py.slice(0, 2), [[summary.steps, 8], 'float32']);
  assert.equal(py[2], obs.data[3 * 8 + 4]);
});

test('record refuses a non-sim transport and a missing --out', async () => {
  assert.equal((await runCli(['record', '--episodes', '1'])).code, 2);
});

test('record refuses an --out folder that holds files, before recording; --force replaces the recording there', async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir));
  cfg.transport.time_limit_s = 15;
  const config = writeConfig(dir, cfg);
  const out = join(dir, 'demo');
  mkdirSync(out);
  writeFileSync(join(out, 'observations.npy'), 'five earlier episodes');
  writeFileSync(join(out, 'frames_top.npy'), 'frames of an earlier recording');
  writeFileSync(join(out, 'notes.txt'), 'mine');

  const refused = await runCli(['record', '--config', config, '--out', out, '--episodes', '1', '--seed', '40']);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /STRIATUM_ERR_OUTPUT_EXISTS/);
  assert.equal(refused.stdout, '', 'nothing was recorded');
  assert.equal(readFileSync(join(out, 'observations.npy'), 'utf8'), 'five earlier episodes');

  const forced = await runCli(['record', '--config', config, '--out', out, '--episodes', '1', '--seed', '40', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')).episodes.length, 1);
  assert.equal(readNpy(join(out, 'observations.npy')).shape[0], JSON.parse(forced.stdout.trim()).steps);
  assert.equal(existsSync(join(out, 'frames_top.npy')), false, 'no file of the earlier recording is left beside the new one');
  assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine', 'files that are not the recording\'s stay');
});

test('record --model runs that policy in place of the config\'s; without a policy source it is refused', async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir));
  cfg.transport.time_limit_s = 2;
  const config = writeConfig(dir, cfg);
  const still = writeLinearPolicy(dir, { gain: 0, name: 'still' }); // commands 0: the pusher never moves

  const out = join(dir, 'still');
  const r = await runCli(['record', '--config', config, '--out', out, '--episodes', '1', '--seed', '40', '--source', 'policy', '--model', still]);
  assert.equal(r.code, 0, r.stderr);
  const act = readNpy(join(out, 'actions.npy'));
  assert.ok(act.data.length > 0);
  assert.ok(Array.from(act.data).every((v) => v === 0), 'every command is the --model policy\'s, not the config\'s');
  const own = await runCli(['record', '--config', config, '--out', join(dir, 'own'), '--episodes', '1', '--seed', '40', '--source', 'policy']);
  assert.equal(own.code, 0, own.stderr);
  assert.ok(Array.from(readNpy(join(dir, 'own', 'actions.npy')).data).some((v) => v !== 0), 'the config\'s policy moves');

  const refused = await runCli(['record', '--config', config, '--out', join(dir, 'x'), '--episodes', '1', '--source', 'expert', '--model', still]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /--model needs --source policy or policy-noisy/);
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { datasetCommand } from '../src/cli/cmd-dataset.js';
import { updaterCommand } from '../src/cli/cmd-updater.js';
import { REWARD_COMPONENTS } from '../src/contracts/rollout.js';
import { silentLogger } from '../src/log.js';
import { DATASET_ACT, DATASET_FPS, DATASET_OBS, fillDatasetStore } from './helpers/dataset-store.js';
import { REPO, tempDir } from './helpers/fixtures.js';
import {
  FIXTURE_ACTION_NAMES, FIXTURE_FPS, FIXTURE_LENGTHS, FIXTURE_STATE_NAMES, fixtureAction, fixtureState, writeLeRobotFixture,
} from './helpers/lerobot-fixture.js';
import { requirePython } from './helpers/required-tools.js';

/** A .npy file's header fields and its data bytes (any dtype), read without Striatum's npy reader. */
function npy(path: string): { descr: string; shape: number[]; bytes: Buffer } {
  const b = readFileSync(path);
  const len = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + len);
  const descr = /'descr': '([^']+)'/.exec(header)?.[1] ?? '';
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  return { descr, shape, bytes: b.subarray(10 + len) };
}

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function importTo(src: string, out: string, extra: string[] = []): Promise<number> {
  return datasetCommand.run(['import', '--lerobot', src, '--out', out, ...extra], silentLogger);
}

test('dataset import: a LeRobot v3 dataset written by hand becomes demonstrations trainer/bc.py trains on', async () => {
  const dir = tempDir('striatum-lerobot-import-');
  const src = join(dir, 'so100');
  writeLeRobotFixture(src);
  const out = join(dir, 'demos');
  assert.equal(await importTo(src, out, ['--mode', 'position', '--task', 'cube']), 0);
  const frames = FIXTURE_LENGTHS.reduce((a, b) => a + b, 0);
  const obs = npy(join(out, 'observations.npy'));
  assert.deepEqual([obs.descr, obs.shape], ['<f4', [frames, 4]]);
  assert.ok(obs.bytes.equals(bytesOf(Float32Array.from({ length: frames * 4 }, (_, j) => fixtureState(Math.floor(j / 4), j % 4)))));
  const act = npy(join(out, 'actions.npy'));
  assert.deepEqual([act.descr, act.shape], ['<f4', [frames, 2]]);
  assert.ok(act.bytes.equals(bytesOf(Float32Array.from({ length: frames * 2 }, (_, j) => fixtureAction(Math.floor(j / 2), j % 2)))));
  const epi = npy(join(out, 'episode_index.npy'));
  assert.ok(epi.bytes.equals(bytesOf(Int32Array.from([0, 0, 0, 0, 0, 1, 1, 1]))));
  const reward = npy(join(out, 'features/next.reward.npy'));
  assert.deepEqual([reward.descr, reward.shape], ['<f4', [frames]]);
  const meta = JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8'));
  assert.equal(meta.task, 'cube');
  assert.equal(meta.control_hz, FIXTURE_FPS);
  assert.deepEqual(meta.observation_fields, FIXTURE_STATE_NAMES.map((name) => ({ name, size: 1 })));
  assert.deepEqual(meta.action, { mode: 'position', joints: FIXTURE_ACTION_NAMES });
  assert.deepEqual(meta.episodes.map((e: { index: number; steps: number; success: boolean; instruction: string }) => [e.index, e.steps, e.success, e.instruction]),
    [[0, 5, true, 'pick up the cube'], [1, 3, true, 'open the gripper']]);

  // The trainer reads it: one epoch of behaviour cloning, to a policy.
  const python = requirePython(['numpy', 'torch', 'onnx']);
  const policy = join(dir, 'policy');
  const r = spawnSync(python, [join(REPO, 'trainer/bc.py'), '--data', out, '--out', policy, '--epochs', '1', '--val-fraction', '0', '--threads', '1'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `bc.py: ${r.stderr}`);
  assert.ok(existsSync(join(policy, 'policy.onnx')));
  assert.deepEqual(JSON.parse(readFileSync(join(policy, 'policy.json'), 'utf8')).action.joints, FIXTURE_ACTION_NAMES);
});

test('dataset import: missing metadata, wrong dtypes, shapes that do not fit the robot and truncated parquet are refused, naming file and field', async () => {
  const dir = tempDir('striatum-lerobot-bad-');
  const cases: [string, Parameters<typeof writeLeRobotFixture>[1], RegExp, string[]?][] = [
    ['wrong-dtype', { float64State: true }, /data\/chunk-000\/file-000\.parquet: column "observation.state" is FixedSizeList\[4\]<Float64>/],
    ['truncated', { truncateData: true }, /data\/chunk-000\/file-000\.parquet: not a readable parquet file/],
    ['no-features', { dropFeatures: true }, /meta\/info\.json: features/],
    // The simulator robot's observation has at least 6 values (2 joint positions, 2 velocities, block, pad).
    ['misfit', {}, /meta\/info\.json: features\.observation\.state has 4 values per frame; the robot's observation has at least 6/, ['--config', join(REPO, 'examples/sim.yaml')]],
  ];
  for (const [name, options, message, extra] of cases) {
    const src = join(dir, name);
    writeLeRobotFixture(src, options);
    await assert.rejects(importTo(src, join(dir, `${name}-out`), extra), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'STRIATUM_ERR_DATASET', `${name}: ${err.message}`);
      assert.match(err.message, message, name);
      return true;
    });
    assert.equal(existsSync(join(dir, `${name}-out`, 'meta.json')), false, `${name}: nothing half-imported`);
  }
  await assert.rejects(importTo(join(dir, 'nothing-here'), join(dir, 'x')), { code: 'STRIATUM_ERR_DATASET' } as never);
});

test('round trip: store → LeRobot → import gives back every stored value bit for bit', async () => {
  const dir = tempDir('striatum-lerobot-trip-');
  const store = join(dir, 'store.db');
  const episodes = await fillDatasetStore(store);
  const ds = join(dir, 'ds');
  assert.equal(await updaterCommand.run(['export', '--format', 'lerobot', '--store', store, '--out', ds], silentLogger), 0);
  const out = join(dir, 'demos');
  assert.equal(await importTo(ds, out), 0);
  const cat = (pick: (e: (typeof episodes)[number]) => ArrayBufferView): Buffer => Buffer.concat(episodes.map((e) => bytesOf(pick(e))));
  const frames = episodes.reduce((s, e) => s + e.columns.step.length, 0);

  assert.ok(npy(join(out, 'observations.npy')).bytes.equals(cat((e) => e.columns.observation)), 'observations');
  assert.deepEqual(npy(join(out, 'observations.npy')).shape, [frames, DATASET_OBS]);
  assert.ok(npy(join(out, 'actions.npy')).bytes.equals(cat((e) => e.columns.command)), 'actions = the commands written');
  assert.deepEqual(npy(join(out, 'actions.npy')).shape, [frames, DATASET_ACT]);
  assert.ok(npy(join(out, 'features/striatum.policy_action.npy')).bytes.equals(cat((e) => e.columns.action)), 'policy actions');
  assert.ok(npy(join(out, 'features/striatum.progress.npy')).bytes.equals(cat((e) => e.columns.progress)), 'progress');
  for (const k of REWARD_COMPONENTS) assert.ok(npy(join(out, `features/striatum.reward.${k}.npy`)).bytes.equals(cat((e) => e.columns.reward[k])), `reward ${k} (NaN steps included)`);
  assert.ok(npy(join(out, 'features/next.reward.npy')).bytes.equals(cat((e) => e.columns.reward.total)));
  assert.ok(npy(join(out, 'features/striatum.flags.npy')).bytes.equals(cat((e) => e.columns.flags)), 'flags');
  assert.equal(npy(join(out, 'features/striatum.flags.npy')).descr, '|u1');
  assert.ok(npy(join(out, 'features/striatum.step.npy')).bytes.equals(cat((e) => e.columns.step)), 'steps');
  assert.ok(npy(join(out, 'features/striatum.stamp_ms.npy')).bytes.equals(cat((e) => e.columns.stampMs)), 'stamps (float64)');
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'features/striatum.policy_version.json'), 'utf8')), episodes.flatMap((e) => e.policyVersions));
  const meta = JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8'));
  assert.equal(meta.control_hz, DATASET_FPS);
  assert.equal(meta.task, 'push');
  assert.deepEqual(meta.observation_fields, [{ name: 'joint_positions', size: 2 }, { name: 'block', size: 3 }, { name: 'gripper', size: 1 }]);
  assert.deepEqual(meta.episodes.map((e: { steps: number; success: boolean; striatum_episode: string }) => [e.steps, e.success, e.striatum_episode]),
    episodes.map((e) => [e.columns.step.length, e.outcome === 'success', e.episode]), 'only stored successes are marked successful');
});

test('dataset import: a non-empty --out is refused unless --force, which replaces only what an import writes; --task filters an export', async () => {
  const dir = tempDir('striatum-lerobot-out-');
  const src = join(dir, 'so100');
  writeLeRobotFixture(src);
  const out = join(dir, 'demos');
  assert.equal(await importTo(src, out), 0);
  await assert.rejects(importTo(src, out), { code: 'STRIATUM_ERR_OUTPUT_EXISTS' } as never);
  writeFileSync(join(out, 'notes.txt'), 'mine');
  assert.equal(await importTo(src, out, ['--force', '--mode', 'velocity']), 0);
  assert.equal(JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')).action.mode, 'velocity');
  assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine');
  await assert.rejects(importTo(src, join(dir, 'x'), ['--mode', 'torque']), { code: 'STRIATUM_ERR_USAGE' } as never);

  const store = join(dir, 'store.db');
  const episodes = await fillDatasetStore(store);
  const ds = join(dir, 'stack-only');
  assert.equal(await updaterCommand.run(['export', '--format', 'lerobot', '--store', store, '--out', ds, '--task', 'stack'], silentLogger), 0);
  const info = JSON.parse(readFileSync(join(ds, 'meta/info.json'), 'utf8'));
  assert.deepEqual([info.total_episodes, info.total_frames], [1, episodes.find((e) => e.task === 'stack')?.columns.step.length]);
});

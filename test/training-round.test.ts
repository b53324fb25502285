// An end-to-end training round: episodes stored through the updater's ingest, relabeled, snapshotted, trained by
// the real trainer/awr.py from models/push, and the result loaded by OnnxPolicy exactly as the sim robot loads it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  FLAG_DONE, FLAG_TRUNCATED, REWARD_COMPONENTS, ROLLOUT_VERSION, encodeRolloutChunk, type RewardComponent, type RolloutLayout,
} from '../src/contracts/rollout.js';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import { OnnxPolicy } from '../src/policy/onnx-policy.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { Ingest } from '../src/updater/ingest.js';
import { RolloutStore } from '../src/updater/store.js';
import { TrainingStatusMessageSchema } from '../src/contracts/messages.js';
import { TrainingRounds, type TrainingStatus } from '../src/updater/training.js';
import { SIM_FIELDS, tempDir } from './helpers/fixtures.js';
import { requirePython } from './helpers/required-tools.js';

const RUN = '99999999-2222-4333-8444-555555555555';
const LAYOUT: RolloutLayout = { observation: SIM_FIELDS.map((f) => ({ ...f })), joints: ['x', 'y'], reward: [...REWARD_COMPONENTS], camera: null };

/** A push-like episode: the block moves towards the pad; Φ is the fraction of the way covered; the command
 * points from the arm to the block with episode-specific noise (the better episodes get more progress). */
async function storeEpisode(ingest: Ingest, index: number, steps: number, success: boolean): Promise<void> {
  const per = 50;
  const quality = success ? 1 : 0.3;
  for (let c = 0, first = 0; first < steps; c++, first += per) {
    const n = Math.min(per, steps - first);
    const final = first + n >= steps;
    const reward = {} as Record<RewardComponent, Float32Array>;
    for (const k of REWARD_COMPONENTS) reward[k] = new Float32Array(n);
    const obs = new Float32Array(n * 8);
    const cmd = new Float32Array(n * 2);
    const flags = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const t = first + i;
      const phi = (k: number) => Math.min(1, (quality * k) / steps);
      const arm = [0.2 + 0.3 * phi(t), 0.3 + 0.1 * Math.sin(index + t / 20)];
      const block = [0.35 + 0.3 * phi(t), 0.4];
      obs.set([arm[0], arm[1], 0.1, 0.0, block[0], block[1], 0.7, 0.4], i * 8);
      cmd.set([(block[0] - arm[0]) * quality + 0.02 * Math.sin(index * 3 + t), (block[1] - arm[1]) * quality], i * 2);
      const last = t === steps - 1;
      reward.potential[i] = phi(t);
      reward.next_potential[i] = last && success ? 0 : phi(t + 1);
      reward.raw_progress[i] = phi(t + 1);
      reward.task[i] = last && success ? 1 : 0;
      if (last) flags[i] = success ? FLAG_DONE : FLAG_TRUNCATED;
    }
    const payload = encodeRolloutChunk({
      v: ROLLOUT_VERSION, robot: 'sim-1', episode: `${RUN}:${index}`, chunk: c, policy_version: 'bc-1', task: 'push', instruction: 'push the red block onto the green pad',
      stamp: new Date().toISOString(), stamp_origin_unix_ms: null, layout: LAYOUT, n, skipped_steps: 0, final, outcome: final ? (success ? 'success' : 'timeout') : null, end_reason: null,
    }, {
      observation: obs, action: cmd, command: cmd, progress: new Float32Array(n).fill(Number.NaN), reward, flags,
      step: Int32Array.from({ length: n }, (_, i) => first + i), stampMs: Float64Array.from({ length: n }, (_, i) => (first + i) * 20), frames: null, frameStep: null,
    }, 'gzip');
    assert.equal((await ingest.handle(topics.rollout('sim-1'), payload)).outcome, 'stored');
  }
}

test('training round end to end: stored episodes → relabel → snapshot → awr.py → a model the sim robot loads', { timeout: 300_000 }, async () => {
  requirePython(['torch', 'onnx', 'numpy']);
  const dir = tempDir();
  const store = new RolloutStore(join(dir, 'episodes.sqlite'));
  const ingest = new Ingest(store, { maxChunkBytes: 1 << 22, logger: silentLogger });
  const cfg = UpdaterConfigSchema.parse({
    store: { path: ':memory:' },
    training: {
      enabled: true, episodes_per_round: 6, min_steps: 100, base_policy_dir: join(process.cwd(), 'models', 'push'), out_dir: join(dir, 'rounds'),
      trainer: join(process.cwd(), 'trainer', 'awr.py'), epochs: 15, batch_size: 32, threads: 1, shaping: { horizon_s: 2, period_s: 0.02 },
    },
  }).training!;
  const statuses: TrainingStatus[] = [];
  const ready: string[] = [];
  const rounds = new TrainingRounds(store, cfg, silentLogger, { onStatus: (s) => statuses.push({ ...s }), onModelReady: (d) => { ready.push(d); } }, null);
  for (let e = 0; e < 6; e++) {
    await storeEpisode(ingest, e, 100, e % 3 !== 2);
    rounds.episodeCompleted();
  }
  assert.equal(ingest.episodesComplete, 6);
  assert.equal(rounds.busy, true, 'the sixth completed episode started a round');
  const started = performance.now();
  const result = await rounds.runRound(); // the round already running
  const seconds = (performance.now() - started) / 1000;
  assert.equal(result.outcome, 'ok', JSON.stringify(result));
  if (result.outcome !== 'ok') return;
  assert.equal(result.snapshot.steps, 600);
  assert.equal(result.snapshot.episodes, 6);
  assert.deepEqual(ready, [result.modelDir]);
  assert.equal(rounds.state.rounds_ok, 1);
  const epochs = statuses.filter((s) => s.state === 'training').map((s) => s.epoch);
  assert.ok(epochs.includes(15), `progress reached the last epoch (saw ${[...new Set(epochs)].join(',')})`);
  // Every status a dashboard receives on striatum/v1/updater/training fits the published schema.
  for (const s of statuses) TrainingStatusMessageSchema.parse({ ...s, updater: 'test' });

  const meta = JSON.parse(readFileSync(join(result.modelDir, 'policy.json'), 'utf8'));
  assert.equal(meta.training.algorithm, 'awr');
  assert.equal(meta.training.parent_version, 'bc-1');
  assert.equal(meta.training.dataset_steps, 600);
  assert.ok(Math.abs(meta.training.gamma - Math.exp(-0.01)) < 1e-9);
  console.log(`round: ${seconds.toFixed(1)} s, actor loss ${meta.training.final_actor_loss.toFixed(4)}, value loss ${meta.training.final_value_loss.toFixed(4)}, BC loss ${meta.training.initial_bc_loss.toFixed(4)} → ${meta.training.final_bc_loss.toFixed(4)}`);

  // Loaded as the sim robot loads its policy (test/helpers simConfig: joints x, y; velocity; chunk 1; model statistics).
  const policy = await OnnxPolicy.load({ modelPath: join(result.modelDir, 'policy.onnx'), providers: ['cpu'], threads: 1, warmupRuns: 1, logger: silentLogger }, {
    observationFields: SIM_FIELDS, jointNames: ['x', 'y'], mode: 'velocity', chunk: 1, execution: 'ensemble', ensembleDecay: 0.01,
    scale: Float64Array.from([1, 1]), normalization: 'model',
  });
  const out = new Float64Array(2);
  await policy.act(Float64Array.from([0.3, 0.3, 0, 0, 0.4, 0.4, 0.7, 0.4]), out);
  assert.ok(out.every(Number.isFinite), String([...out]));
  await policy.close();
  store.close();
});

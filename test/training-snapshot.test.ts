// Training snapshots: the files match the stored episodes row for row; a round whose trainer fails or writes a
// bad model is counted and the updater's TrainingRounds keeps going.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  FLAG_DONE, FLAG_TRUNCATED, REWARD_COMPONENTS, ROLLOUT_VERSION, decodeRolloutChunk, encodeRolloutChunk, type RewardComponent, type RolloutColumns,
  type RolloutLayout,
} from '../src/contracts/rollout.js';
import { SnapshotManifestSchema } from '../src/contracts/snapshot-manifest.js';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import { readPolicyMetadata } from '../src/policy/metadata.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { relabelRewards, relabelSettings } from '../src/updater/relabel.js';
import { Ingest } from '../src/updater/ingest.js';
import { RolloutStore } from '../src/updater/store.js';
import { TrainingRounds, writeTrainingSnapshot, type TrainingStatus } from '../src/updater/training.js';
import { readNpy } from '../src/util/npy.js';
import { SIM_FIELDS, tempDir } from './helpers/fixtures.js';
import { requirePython } from './helpers/required-tools.js';

const RUN = '11111111-2222-4333-8444-555555555555';
const LAYOUT: RolloutLayout = { observation: SIM_FIELDS.map((f) => ({ ...f })), joints: ['x', 'y'], reward: [...REWARD_COMPONENTS], camera: null };

/** One episode in chunks of `per` steps; Φ rises linearly; the last step is a terminal (success) or a truncation. */
function episodeChunks(index: number, steps: number, end: 'success' | 'timeout', per = 25, layout = LAYOUT, robot = 'sim-1'): Uint8Array[] {
  const out: Uint8Array[] = [];
  const obsDim = layout.observation.reduce((s, f) => s + f.size, 0);
  for (let c = 0, first = 0; first < steps; c++, first += per) {
    const n = Math.min(per, steps - first);
    const final = first + n >= steps;
    const phi = (t: number) => Math.min(1, t / steps);
    const reward = {} as Record<RewardComponent, Float32Array>;
    for (const k of REWARD_COMPONENTS) reward[k] = new Float32Array(n);
    const flags = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const t = first + i;
      const last = t === steps - 1;
      reward.potential[i] = phi(t);
      reward.next_potential[i] = last && end === 'success' ? 0 : phi(t + 1);
      reward.raw_progress[i] = phi(t + 1);
      reward.task[i] = last && end === 'success' ? 1 : 0;
      if (last) flags[i] = end === 'success' ? FLAG_DONE : FLAG_TRUNCATED;
    }
    const cols: RolloutColumns = {
      observation: Float32Array.from({ length: n * obsDim }, (_, j) => 0.4 + 0.01 * Math.sin(index * 7 + (first + Math.floor(j / obsDim)) * 0.1 + (j % obsDim))),
      action: Float32Array.from({ length: n * 2 }, (_, j) => 0.1 * Math.cos(index + first + j)),
      command: Float32Array.from({ length: n * 2 }, (_, j) => 0.05 * Math.cos(index + first + j)),
      progress: new Float32Array(n).fill(Number.NaN), reward, flags,
      step: Int32Array.from({ length: n }, (_, i) => first + i), stampMs: Float64Array.from({ length: n }, (_, i) => (first + i) * 20),
      frames: null, frameStep: null,
    };
    out.push(encodeRolloutChunk({
      v: ROLLOUT_VERSION, robot, episode: `${RUN}:${index}`, chunk: c, policy_version: 'bc-1', task: 'push', instruction: 'push',
      stamp: new Date().toISOString(), stamp_origin_unix_ms: null, layout, n, skipped_steps: 0, final,
      outcome: final ? end : null, end_reason: null,
    }, cols, 'gzip'));
  }
  return out;
}

async function storeWithEpisodes(path: string, episodes: { steps: number; end: 'success' | 'timeout' }[]): Promise<RolloutStore> {
  const store = new RolloutStore(path);
  const ingest = new Ingest(store, { maxChunkBytes: 1 << 22, logger: silentLogger });
  for (const [i, e] of episodes.entries()) {
    for (const c of episodeChunks(i, e.steps, e.end).reverse()) assert.equal((await ingest.handle(topics.rollout('sim-1'), c)).outcome, 'stored');
  }
  return store;
}

const BASE = join(process.cwd(), 'models', 'push');

test('snapshot: the same episodes arriving from two robots in another interleaving give byte-identical snapshots', async () => {
  const dir = tempDir();
  const base = readPolicyMetadata(join(BASE, 'policy.json'));
  const episodes = [
    { robot: 'learner-2', chunks: episodeChunks(0, 60, 'success', 25, LAYOUT, 'learner-2') },
    { robot: 'learner-1', chunks: episodeChunks(0, 40, 'timeout', 25, LAYOUT, 'learner-1') },
    { robot: 'learner-1', chunks: episodeChunks(1, 50, 'success', 25, LAYOUT, 'learner-1') },
    { robot: 'learner-2', chunks: episodeChunks(1, 30, 'timeout', 25, LAYOUT, 'learner-2') },
  ];
  const snapshot = async (name: string, order: number[]) => {
    const store = new RolloutStore(join(dir, `${name}.sqlite`));
    const ingest = new Ingest(store, { maxChunkBytes: 1 << 22, logger: silentLogger });
    for (const i of order) {
      for (const c of episodes[i].chunks) assert.equal((await ingest.handle(topics.rollout(episodes[i].robot), c)).outcome, 'stored');
      await new Promise((r) => setTimeout(r, 5)); // arrival times differ by episode
    }
    const out = join(dir, name);
    await writeTrainingSnapshot(store, store.listEpisodes({ complete: true }), out, base, relabelSettings({ horizon_s: 2, success_margin: 0.05, period_s: 0.02 }));
    store.close();
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { episodes: { robot: string; episode: string }[] };
    const files = ['observations', 'actions', 'rewards', 'terminals', 'truncations', 'episode_index'].map((f) => readFileSync(join(out, `${f}.npy`)));
    return { files, episodes: manifest.episodes.map((e) => `${e.robot}/${e.episode}`) };
  };
  const a = await snapshot('a', [0, 1, 2, 3]);
  const b = await snapshot('b', [1, 0, 3, 2]);
  assert.deepEqual(a.episodes, [`learner-1/${RUN}:0`, `learner-1/${RUN}:1`, `learner-2/${RUN}:0`, `learner-2/${RUN}:1`], 'grouped by robot, each robot\'s in arrival order');
  assert.deepEqual(b.episodes, a.episodes);
  for (const [i, f] of a.files.entries()) assert.ok(f.equals(b.files[i]), `array ${i} differs`);
});

test('snapshot: arrays and manifest match the stored episodes row for row, rewards relabeled', async () => {
  const dir = tempDir();
  const store = await storeWithEpisodes(join(dir, 's.sqlite'), [{ steps: 60, end: 'success' }, { steps: 40, end: 'timeout' }]);
  const ingest = new Ingest(store, { maxChunkBytes: 1 << 22, logger: silentLogger });
  const other: RolloutLayout = { ...LAYOUT, observation: [{ name: 'joint_positions', size: 2 }] };
  for (const c of episodeChunks(9, 10, 'success', 25, other)) (await ingest.handle(topics.rollout('sim-1'), c));
  const base = readPolicyMetadata(join(BASE, 'policy.json'));
  const settings = { gamma: 0.9, successMargin: 0.05 };
  const episodes = store.listEpisodes({ complete: true });
  assert.equal(episodes.length, 3);
  const s = await writeTrainingSnapshot(store, episodes, join(dir, 'snap'), base, settings);
  assert.deepEqual({ episodes: s.episodes, steps: s.steps, skipped: s.skippedEpisodes }, { episodes: 2, steps: 100, skipped: 1 });

  const obs = readNpy(join(dir, 'snap', 'observations.npy'));
  const act = readNpy(join(dir, 'snap', 'actions.npy'));
  const rew = readNpy(join(dir, 'snap', 'rewards.npy'));
  const term = readNpy(join(dir, 'snap', 'terminals.npy'));
  const trunc = readNpy(join(dir, 'snap', 'truncations.npy'));
  const idx = readNpy(join(dir, 'snap', 'episode_index.npy'));
  const progress = readNpy(join(dir, 'snap', 'progress.npy'));
  assert.deepEqual(obs.shape, [100, 8]);
  assert.deepEqual(progress.shape, [100]);
  assert.deepEqual(act.shape, [100, 2]);
  let row = 0;
  for (const [e, ep] of episodes.slice(0, 2).entries()) {
    const ex = store.exportEpisode(ep.robot, ep.episode);
    const r = relabelRewards(ex.columns.reward, ex.columns.flags, settings);
    assert.deepEqual([...obs.data.subarray(row * 8, (row + ex.steps) * 8)], [...ex.columns.observation]);
    assert.deepEqual([...act.data.subarray(row * 2, (row + ex.steps) * 2)], [...ex.columns.command], 'actions are the commands written');
    assert.deepEqual([...rew.data.subarray(row, row + ex.steps)], [...r.rewards]);
    assert.deepEqual([...progress.data.subarray(row, row + ex.steps)], [...ex.columns.reward.next_potential], 'progress is Φ′ after each step');
    assert.deepEqual([...idx.data.subarray(row, row + ex.steps)], new Array(ex.steps).fill(e));
    row += ex.steps;
  }
  // Episode 0 ends in a true terminal, episode 1 at the time limit; nothing else ends.
  assert.deepEqual([...term.data].flatMap((v, i) => (v ? [i] : [])), [59]);
  assert.deepEqual([...trunc.data].flatMap((v, i) => (v ? [i] : [])), [99]);
  const manifest = JSON.parse(readFileSync(join(dir, 'snap', 'manifest.json'), 'utf8'));
  assert.equal(manifest.format, 'striatum.training-snapshot/v1');
  assert.ok(SnapshotManifestSchema.safeParse(manifest).success, 'the written manifest matches the schema awr.py checks');
  assert.equal(manifest.gamma, 0.9);
  assert.deepEqual(manifest.observation_fields, base.observation.fields);
  assert.deepEqual(manifest.action, { mode: 'velocity', joints: ['x', 'y'] });
  assert.deepEqual(manifest.episodes.map((e: { steps: number; success: boolean }) => [e.steps, e.success]), [[60, true], [40, false]]);
  const python = requirePython(['numpy']);
  const out = execFileSync(python, ['-c', 'import sys, numpy as np; d = sys.argv[1]; print(np.load(d + "/observations.npy").shape, np.load(d + "/terminals.npy").sum(), np.load(d + "/episode_index.npy").dtype)', join(dir, 'snap')]).toString().trim();
  assert.equal(out, '(100, 8) 1 int32');
  store.close();
});

function trainingConfig(dir: string, over: Record<string, unknown>) {
  return UpdaterConfigSchema.parse({ store: { path: ':memory:' }, training: { base_policy_dir: BASE, out_dir: join(dir, 'rounds'), min_steps: 10, ...over } }).training!;
}

test('rounds: a crashing trainer, a trainer with bad output and too few steps are logged and counted; rounds go on', async () => {
  const dir = tempDir();
  const store = await storeWithEpisodes(join(dir, 's.sqlite'), [{ steps: 30, end: 'success' }, { steps: 30, end: 'timeout' }]);
  const crash = join(dir, 'crash.py');
  writeFileSync(crash, 'import sys\nprint(\'{"event": "progress", "epoch": 1, "epochs": 2, "losses/actor": 0.5}\', flush=True)\nsys.exit("awr.py: error: boom")\n');
  const liar = join(dir, 'liar.py');
  writeFileSync(liar, 'import sys, os\nout = sys.argv[sys.argv.index("--out") + 1]\nos.makedirs(out)\nopen(out + "/policy.json", "w").write("{}")\nprint(\'{"event": "done"}\')\n');
  const statuses: TrainingStatus[] = [];
  const ready: string[] = [];
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const rounds = new TrainingRounds(store, trainingConfig(dir, { trainer: crash, python, episodes_per_round: 2 }), silentLogger, {
    onStatus: (s) => statuses.push({ ...s, losses: { ...s.losses } }), onModelReady: (d) => { ready.push(d); },
  }, null);
  const a = await rounds.runRound();
  assert.equal(a.outcome, 'failed');
  assert.match((a as { error: string }).error, /status 1: awr\.py: error: boom/);
  assert.ok(statuses.some((s) => s.state === 'training' && s.losses['losses/actor'] === 0.5), 'progress lines reach the status');
  assert.equal(rounds.state.rounds_failed, 1);

  const liarRounds = new TrainingRounds(store, trainingConfig(dir, { trainer: liar, python }), silentLogger, { onModelReady: (d) => { ready.push(d); } }, null);
  const b = await liarRounds.runRound();
  assert.equal(b.outcome, 'failed');
  assert.equal(liarRounds.state.rounds_failed, 1);
  const missing = new TrainingRounds(store, trainingConfig(dir, { python: join(dir, 'no-such-python') }), silentLogger, {}, null);
  assert.equal((await missing.runRound()).outcome, 'failed');
  const small = new TrainingRounds(store, trainingConfig(dir, { trainer: crash, python, min_steps: 1000 }), silentLogger, {}, null);
  assert.equal((await small.runRound()).outcome, 'skipped');
  assert.equal(small.state.rounds_skipped, 1);
  // A trainer with nothing to learn from says so and writes no model: the round is skipped, not failed.
  const idle = join(dir, 'idle.py');
  writeFileSync(idle, 'print(\'{"event": "skipped", "reason": "no robot episode ended in success among 2"}\')\n');
  const idleRounds = new TrainingRounds(store, trainingConfig(dir, { trainer: idle, python }), silentLogger, { onModelReady: (d) => { ready.push(d); } }, null);
  const skipped = await idleRounds.runRound();
  assert.deepEqual(skipped, { outcome: 'skipped', reason: 'no robot episode ended in success among 2' });
  assert.equal(idleRounds.state.rounds_skipped, 1);
  assert.equal(idleRounds.state.rounds_failed, 0);
  assert.deepEqual(ready, [], 'no model is announced from a failed or skipped round');

  // The trigger: episodes_per_round completions start one round; it fails and is counted, and nothing throws.
  rounds.episodeCompleted();
  assert.equal(rounds.busy, false);
  rounds.episodeCompleted();
  assert.equal(rounds.busy, true);
  await rounds.close();
  assert.equal(rounds.state.rounds_failed, 2);
  store.close();
});

test('rounds: a snapshot with no usable episodes, or with NaN values, fails the round with one log line and a failed status', async () => {
  const dir = tempDir();
  // A trainer that must never be started: it would leave a marker.
  const marker = join(dir, 'trainer-started');
  const trainer = join(dir, 'trainer.py');
  writeFileSync(trainer, `open(${JSON.stringify(marker)}, "w").write("x")\n`);
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const logger = { ...silentLogger, error: (msg: string, fields: Record<string, unknown> = {}) => { lines.push({ level: 'error', msg, fields }); } } as typeof silentLogger;

  // No episodes at all.
  const empty = new RolloutStore(join(dir, 'empty.sqlite'));
  const statuses: TrainingStatus[] = [];
  const rounds = new TrainingRounds(empty, trainingConfig(dir, { trainer, python, min_steps: 1 }), logger, { onStatus: (s) => statuses.push({ ...s }) }, null);
  const a = await rounds.runRound();
  assert.equal(a.outcome, 'failed');
  assert.equal((a as { code?: string }).code, 'STRIATUM_ERR_SNAPSHOT');
  assert.equal(rounds.state.rounds_failed, 1);
  assert.equal(statuses.at(-1)?.state, 'failed');
  assert.match(statuses.at(-1)?.last_error ?? '', /^STRIATUM_ERR_SNAPSHOT/);
  assert.equal(lines.length, 1);
  assert.equal(lines[0].fields.code, 'STRIATUM_ERR_SNAPSHOT');

  // One episode recorded with a NaN observation (a corrupt sensor): the round fails, no trainer runs.
  const store = new RolloutStore(join(dir, 'nan.sqlite'));
  const ingest = new Ingest(store, { maxChunkBytes: 1 << 22, logger: silentLogger });
  for (const c of episodeChunks(0, 30, 'success')) assert.equal((await ingest.handle(topics.rollout('sim-1'), c)).outcome, 'stored');
  const chunks = episodeChunks(1, 30, 'timeout', 30);
  const decoded = decodeRolloutChunk(chunks[0], { maxBytes: 1 << 22 });
  assert.ok(decoded.ok);
  decoded.value.columns.observation[8 * 7 + 2] = Number.NaN;
  assert.equal((await ingest.handle(topics.rollout('sim-1'), encodeRolloutChunk(decoded.value.header, decoded.value.columns, 'gzip'))).outcome, 'stored');
  const nan = new TrainingRounds(store, trainingConfig(dir, { trainer, python, min_steps: 1 }), logger, {}, null);
  const b = await nan.runRound();
  assert.equal(b.outcome, 'failed');
  assert.equal((b as { code?: string }).code, 'STRIATUM_ERR_SNAPSHOT');
  assert.match((b as { error: string }).error, /step 7/);
  assert.equal(existsSync(marker), false, 'the trainer never ran');
  store.close();
  empty.close();
});

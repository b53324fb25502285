// `striatum learn` on a tiny configuration (the CI smoke run): embedded broker, updater, one demonstration, one
// exploring robot process, a sac_rlpd round producing a Gaussian policy the robots load (and a filtered_bc round
// releasing the mean of two MLPs), held-out evaluation,
// learning-curve.json and .svg. And Ctrl-C: a clean stop that keeps every stored episode.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { REPO, runCli, startCli, tempDir } from './helpers/fixtures.js';

function writeLearnConfig(dir: string, o: { budget: number; timeLimitS: number; demos: number; algorithm?: 'sac_rlpd' | 'filtered_bc' }): string {
  const template = readFileSync(join(REPO, 'examples/learn-robot.yaml'), 'utf8')
    .replace('time_limit_s: 15', `time_limit_s: ${o.timeLimitS}`)
    .replaceAll('../models/', `${join(REPO, 'models')}/`);
  writeFileSync(join(dir, 'robot.yaml'), template);
  const file = join(dir, 'learn.yaml');
  writeFileSync(file, stringify({
    robot_template: 'robot.yaml', base_policy_dir: join(REPO, o.algorithm === 'filtered_bc' ? 'models/push-bc-few' : 'models/push-bc-small'), out_dir: 'out',
    robots: 1, episode_budget: o.budget, target_success: 1, time_limit_min: 3,
    demonstrations: { episodes: o.demos, first_seed: 1005 }, evaluation: { episodes: 2 },
    training: {
      algorithm: o.algorithm ?? 'sac_rlpd', episodes_per_round: o.demos + o.budget, min_steps: 10, threads: 1,
      sac: { min_updates: 40, max_updates: 40, hidden: 16, critics: 2, actor_warmup: 10 },
      // 2 s episodes rarely succeed: train anyway; two members, so the robots load and run an ensemble's graph;
      // velocity noise and the return filter reach the trainer.
      filtered_bc: { updates: 50, symmetry: 'square-d4', min_kept: 0, ensemble: 2, velocity_noise: 0.01, top_fraction: 0.5 },
    },
  }));
  return file;
}

test('striatum learn runs the loop end to end on a tiny budget and writes the curve', { timeout: 240_000 }, async () => {
  const dir = tempDir();
  const config = writeLearnConfig(dir, { budget: 2, timeLimitS: 2, demos: 1 });
  const r = await runCli(['--log-level', 'warn', 'learn', '--config', config], { timeoutMs: 230_000 });
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  const summary = JSON.parse(r.stdout.trim().split('\n').pop() as string);
  assert.match(summary.stopped, /episode budget of 2 reached/);
  const curve = JSON.parse(readFileSync(join(dir, 'out/learning-curve.json'), 'utf8'));
  assert.equal(curve.training_episodes, 2);
  assert.equal(curve.points[0].version, 'bc-small-100', 'the base is evaluated first');
  assert.equal(curve.points[0].episodes, 0);
  const learned = curve.points.find((p: { version: string }) => p.version.startsWith('sac-'));
  assert.ok(learned, `a sac_rlpd release was evaluated: ${JSON.stringify(curve.points)}`);
  assert.equal(learned.episodes, 2);
  assert.equal(learned.eval_episodes, 2);
  assert.deepEqual(curve.seeds.evaluation, [9_000_000, 9_000_001]);
  assert.ok(curve.seeds.training[0] > curve.seeds.demonstrations[1] && curve.seeds.training[1] < curve.seeds.evaluation[0]);
  assert.match(readFileSync(join(dir, 'out/learning-curve.svg'), 'utf8'), /^<svg[\s\S]*<path d="M/);
  const model = JSON.parse(readFileSync(join(dir, 'out/rounds', learnedRound(dir), 'model/policy.json'), 'utf8'));
  assert.deepEqual(model.outputs.map((o: { name: string }) => o.name), ['action', 'log_std']);
  // Evaluated means loaded by the robot runtime (two outputs checked against the metadata, warmed up, run).
  assert.ok(existsSync(join(dir, 'out/rounds/learner/learner.npz')), 'the learner state is kept for the next round');
});

test('striatum learn with filtered_bc: the release continues the base and the robots load it', { timeout: 240_000 }, async () => {
  const dir = tempDir();
  const config = writeLearnConfig(dir, { budget: 2, timeLimitS: 2, demos: 1, algorithm: 'filtered_bc' });
  const r = await runCli(['--log-level', 'warn', 'learn', '--config', config], { timeoutMs: 230_000 });
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  const curve = JSON.parse(readFileSync(join(dir, 'out/learning-curve.json'), 'utf8'));
  assert.equal(curve.algorithm, 'filtered_bc');
  assert.equal(curve.points[0].version, 'bc-few-7', 'the base is evaluated first');
  const learned = curve.points.find((p: { version: string }) => p.version.startsWith('fbc-'));
  assert.ok(learned, `a filtered_bc release was evaluated: ${JSON.stringify(curve.points)}`);
  assert.equal(learned.episodes, 2);
  const round = readdirSync(join(dir, 'out/rounds')).find((d) => d.startsWith(`round-${learned.round}-`)) as string;
  const model = JSON.parse(readFileSync(join(dir, 'out/rounds', round, 'model/policy.json'), 'utf8'));
  assert.equal(model.training.parent_version, 'bc-few-7');
  assert.equal(model.training.demo_episodes, 1, 'the demonstration is imitated');
  assert.equal(model.training.symmetry, 'square-d4');
  assert.equal(model.training.architecture.ensemble, 2, 'the release is one graph of two MLPs\' mean');
  assert.equal(model.training.velocity_noise, 0.01, 'the velocity noise reached the trainer');
  assert.equal(model.training.top_fraction, 0.5, 'the return filter reached the trainer');
  assert.deepEqual(curve.seeds.demonstrations, [1005, 1005], 'the curve names the demonstration seed the config asked for');
  assert.equal(learned.eval_episodes, 2, 'the robots loaded and ran it on the held-out seeds');
  assert.ok(existsSync(join(dir, 'out/rounds/learner/learner.npz')), 'the learner state is kept for the next round');
});

function learnedRound(dir: string): string {
  const curve = JSON.parse(readFileSync(join(dir, 'out/learning-curve.json'), 'utf8'));
  const round = curve.points.find((p: { version: string }) => p.version.startsWith('sac-')).round;
  return readdirSync(join(dir, 'out/rounds')).find((d) => d.startsWith(`round-${round}-`)) as string;
}

test('Ctrl-C stops the learning run cleanly and keeps every stored episode', { timeout: 240_000 }, async () => {
  const dir = tempDir();
  const config = writeLearnConfig(dir, { budget: 50, timeLimitS: 2, demos: 0 });
  const { child, exited } = startCli(['learn', '--config', config]);
  const store = join(dir, 'out/episodes.sqlite');
  const deadline = Date.now() + 200_000;
  let stored = 0;
  while (Date.now() < deadline && stored < 2) {
    await new Promise((r) => setTimeout(r, 500));
    if (!existsSync(store)) continue;
    try {
      const db = new Database(store, { readonly: true, fileMustExist: true });
      stored = (db.prepare('SELECT COUNT(*) AS n FROM episodes WHERE complete = 1').get() as { n: number }).n;
      db.close();
    } catch { /* not created yet */ }
  }
  assert.ok(stored >= 2, 'two episodes stored before the stop');
  child.kill('SIGINT');
  assert.equal(await exited, 0);
  const curve = JSON.parse(readFileSync(join(dir, 'out/learning-curve.json'), 'utf8'));
  assert.equal(curve.stopped, 'signal SIGINT');
  const db = new Database(store, { readonly: true });
  const after = (db.prepare('SELECT COUNT(*) AS n FROM episodes WHERE complete = 1').get() as { n: number }).n;
  db.close();
  assert.ok(after >= stored, `no stored episode lost: ${stored} before the stop, ${after} after`);
  assert.ok(curve.training_episodes >= stored);
});

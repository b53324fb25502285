// The shipped demo PRMs (models/push-prm) against their model card: the card's reward-signal numbers come from
// `striatum prm eval --success` on the held-out recordings; this test re-records a few held-out episodes (seeds
// 510000–510007, docs/seeds.md) with the shipped policy and noise, replays them through the same code with the
// shipped models and the card's threshold and done rule, and checks the per-episode verdicts and returns the card
// lists for them. STRIATUM_UPDATE_CARD=1 writes that list into the card instead (after retraining).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluateRewardSignal } from '../src/cli/prm-success-eval.js';
import { loadConfig } from '../src/config/load.js';
import { REPO, runCli, tempDir } from './helpers/fixtures.js';

const PUSH_PRM = join(REPO, 'models/push-prm');
const CARD = join(PUSH_PRM, 'README.md');
const CHECK_SEED = 510000;
const CHECK_EPISODES = 8;
const CHECK = /<!-- prm-check:begin -->\n```json\n(.*)\n```\n<!-- prm-check:end -->/;

interface CardCheck {
  seed: number;
  threshold: number;
  done_updates: number;
  /** Per episode: [ground truth, detected frame or null, PRM-only return rounded to 1e-4]. */
  episodes: [boolean, number | null, number][];
}

test('the shipped PRMs give the card\'s verdicts and returns on held-out episodes of the shipped policy', async () => {
  const card = readFileSync(CARD, 'utf8');
  // The card names the models it was measured with: their bytes must be the shipped ones.
  for (const kind of ['progress', 'success']) {
    const sha = createHash('sha256').update(readFileSync(join(PUSH_PRM, `${kind}.onnx`))).digest('hex');
    assert.ok(card.includes(sha), `the card does not name the shipped ${kind}.onnx (sha256 ${sha})`);
  }
  // The threshold and done rule the demo robot runs with (examples/sim.yaml), which the card must state.
  const reward = loadConfig(join(REPO, 'examples/sim.yaml')).config.reward;
  const threshold = reward?.models.find((m) => m.kind === 'success')?.success_threshold ?? Number.NaN;
  const doneUpdates = reward?.shaping.done_updates ?? Number.NaN;
  const horizonS = reward?.shaping.horizon_s ?? Number.NaN;
  // The done rule the learning runs use (examples/learn-robot.yaml: its success model's rate and threshold, its
  // shaping's K): the card must give its numbers too, since that is what the learner is fed.
  const learnReward = loadConfig(join(REPO, 'examples/learn-robot.yaml')).config.reward;
  const learnModel = learnReward?.models.find((m) => m.kind === 'success');
  const learnRule = { doneUpdates: learnReward?.shaping.done_updates ?? Number.NaN, threshold: learnModel?.success_threshold ?? Number.NaN, rateHz: learnModel?.rate_hz ?? Number.NaN };
  assert.notEqual(horizonS, 2, 'the check below compares the robot\'s horizon with a 2 s one');
  if (process.env.STRIATUM_UPDATE_CARD !== '1') {
    assert.equal(Number(/at P ≥ ([0-9.]+), every/.exec(card)?.[1]), threshold, 'the card states the config\'s success threshold');
    assert.equal(Number(/the done rule \(([0-9]+) answer\(s\) in a row/.exec(card)?.[1]), doneUpdates, 'and its done rule');
    assert.equal(Number(/γ = exp\(−0\.1 s \/ ([0-9.]+) s\) per frame/.exec(card)?.[1]), horizonS, 'and its shaping horizon');
    assert.ok(card.includes(`| ${learnRule.doneUpdates} in a row at P ≥ ${learnRule.threshold}, ${learnRule.rateHz} Hz |`),
      `the card gives the learning config's done rule (${learnRule.doneUpdates} in a row at P ≥ ${learnRule.threshold}, ${learnRule.rateHz} Hz)`);
  }

  const dir = tempDir();
  const out = join(dir, 'rec');
  const r = await runCli(['record', '--config', join(REPO, 'examples/sim.yaml'), '--out', out, '--episodes', String(CHECK_EPISODES),
    '--seed', String(CHECK_SEED), '--frames', 'top', '--source', 'policy-noisy', '--after-success', '2']);
  assert.equal(r.code, 0, r.stderr);
  const report = await evaluateRewardSignal({
    progressModel: join(PUSH_PRM, 'progress.json'), successModel: join(PUSH_PRM, 'success.json'), data: [out], threshold, doneUpdates,
    horizonsS: [horizonS, 2],
    // The robot's own rule again, and the learning config's.
    extraRules: [{ doneUpdates, threshold, rateHz: 10 }, learnRule],
  });
  // Replayed as an extra rule over the whole episode, the robot's rule fires on the same frame as the main replay.
  for (const v of report.verdicts) assert.equal(v.extra_detections[0], v.detected_frame, `episode ${v.seed}: the same rule fires alike`);
  assert.deepEqual([report.extra_rules[0].detection_rate, report.extra_rules[0].false_positive_rate], [report.detection_rate, report.false_positive_rate]);
  // At half the rate a rule only sees even frames: it never fires on an odd one.
  if (learnRule.rateHz === 5) for (const v of report.verdicts) assert.ok(v.extra_detections[1] === null || v.extra_detections[1] % 2 === 0);
  // The first horizon is the robot's (examples/sim.yaml): it gives `return` and `auc`; the second is reported beside it.
  assert.equal(report.horizon_s, horizonS);
  assert.equal(report.auc_by_horizon[String(horizonS)], report.auc);
  assert.ok('2' in report.auc_by_horizon);
  for (const v of report.verdicts) {
    assert.equal(v.returns_by_horizon[0], v.return);
    // A success caught at frame d earns γ^(d−1)·R: with a horizon longer than 2 s more than with 2 s, and less with a shorter one.
    if (v.detected_frame !== null && v.detected_frame > 1) {
      assert.ok((v.return > v.returns_by_horizon[1]) === (horizonS > 2), `episode ${v.seed}: ${v.return} at ${horizonS} s vs ${v.returns_by_horizon[1]} at 2 s`);
    }
  }
  const measured: CardCheck = {
    seed: CHECK_SEED, threshold, done_updates: doneUpdates,
    episodes: report.verdicts.map((v) => [v.ground_truth, v.detected_frame, Math.round(v.return * 1e4) / 1e4]),
  };
  if (process.env.STRIATUM_UPDATE_CARD === '1') {
    assert.ok(CHECK.test(card), 'the card has a prm-check section');
    writeFileSync(CARD, card.replace(CHECK, () => `<!-- prm-check:begin -->\n\`\`\`json\n${JSON.stringify(measured)}\n\`\`\`\n<!-- prm-check:end -->`));
    return;
  }
  const m = CHECK.exec(card);
  assert.ok(m !== null, 'the card lists the check episodes (<!-- prm-check:begin -->)');
  const expected = JSON.parse(m[1]) as CardCheck;
  assert.deepEqual({ seed: measured.seed, threshold: measured.threshold, done_updates: measured.done_updates },
    { seed: expected.seed, threshold: expected.threshold, done_updates: expected.done_updates });
  assert.equal(measured.episodes.length, expected.episodes.length);
  measured.episodes.forEach(([truth, detected, ret], i) => {
    const [eTruth, eDetected, eRet] = expected.episodes[i];
    assert.equal(truth, eTruth, `episode ${i}: ground truth`);
    assert.equal(detected, eDetected, `episode ${i}: frame the done rule fired`);
    assert.ok(Math.abs(ret - eRet) <= 2e-4, `episode ${i}: return ${ret}, card ${eRet}`);
  });
});

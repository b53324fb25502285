// `striatum prm eval`: recorded episodes judged by the robot's own PRM worker (src/reward/prm/replay.ts), and the
// shipped demo PRMs (models/push-prm) held to their model card on episodes recorded here with held-out seeds.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluateProgressModel } from '../src/cli/prm-eval.js';
import { parseDoneRule } from '../src/cli/prm-success-eval.js';
import { isStriatumError } from '../src/errors.js';
import { TextTokenizer } from '../src/reward/prm/tokenizer.js';
import { REPO, runCli, simConfig, tempDir, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';

const PUSH_PRM = join(REPO, 'models/push-prm');
// Held out: trainer/prm.py's data for models/push-prm used seeds 10000–10299 (expert), 20000–20149 (noisy-expert),
// 30000–30039 (stall), 40000–40019 (random), and the model card's evaluation 110000–110039, 120000–120039 and
// 130000–130009. Episode i of a recording uses seed + i, so 500000–500019 were never seen.
const HELD_OUT_SEED = 500000;
// The model card's threshold (models/push-prm/README.md, "Evaluation"), read from the card.
const CARD_MIN_VOC = Number(/Threshold: VOC ≥ ([0-9.]+) on held-out successful episodes/.exec(readFileSync(join(PUSH_PRM, 'README.md'), 'utf8'))?.[1]);

/** Record `episodes` expert episodes with the 96x96 top camera the shipped PRMs judge; returns the folder. */
async function recordHeldOut(episodes: number, seed: number): Promise<string> {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir));
  cfg.transport.time_limit_s = 15;
  cfg.transport.cameras = [{ name: 'top', width: 96, height: 96, hz: 10 }];
  const out = join(dir, 'rec');
  const r = await runCli(['record', '--config', writeConfig(dir, cfg), '--out', out, '--episodes', String(episodes), '--seed', String(seed), '--frames', 'top']);
  assert.equal(r.code, 0, r.stderr);
  return out;
}

test('the demo progress model, in the robot\'s PRM worker, scores the model card\'s VOC on held-out successful episodes and falls on reversed ones', async () => {
  const out = await recordHeldOut(20, HELD_OUT_SEED);
  const report = await evaluateProgressModel({ model: join(PUSH_PRM, 'progress.json'), data: [out] });
  assert.equal(report.successful.episodes, 20);
  assert.equal(report.failed.episodes, 0);
  assert.ok(CARD_MIN_VOC >= 0.9, `the card's threshold: ${CARD_MIN_VOC}`);
  assert.ok((report.successful.mean as number) >= CARD_MIN_VOC, `VOC ${report.successful.mean}`);
  assert.ok((report.reversed.mean as number) < -0.5, `reversed VOC ${report.reversed.mean}`);
  for (const e of report.episodes) {
    assert.ok(e.mean_abs_error < 0.2, `episode ${e.episode}: mean abs error ${e.mean_abs_error}`);
    assert.ok(Math.abs((e.vroc as number) + (e.reversed_voc as number)) < 1e-12);
  }
});

test('prm eval refuses a model whose bytes differ from its metadata\'s sha256, as the robot does', async () => {
  const out = await recordHeldOut(1, HELD_OUT_SEED + 100);
  const dir = tempDir();
  for (const f of ['progress.json', 'tokenizer.json']) copyFileSync(join(PUSH_PRM, f), join(dir, f));
  const onnx = readFileSync(join(PUSH_PRM, 'progress.onnx'));
  onnx[onnx.length - 1] ^= 1; // one bit of one weight: still a loadable model, no longer the one the metadata names
  writeFileSync(join(dir, 'progress.onnx'), onnx);
  const r = await runCli(['prm', 'eval', '--model', join(dir, 'progress.json'), '--data', out]);
  assert.equal(r.code, 3, r.stdout);
  assert.match(r.stderr, /STRIATUM_ERR_PRM_METADATA/);
  assert.equal(r.stdout, '', 'no report');
});

test('the robot\'s tokenizer gives the demo PRMs the ids trainer/prm.py gives', () => {
  const tokenizer = TextTokenizer.load(join(PUSH_PRM, 'tokenizer.json'));
  const vocab = JSON.parse(readFileSync(join(PUSH_PRM, 'tokenizer.json'), 'utf8')).model.vocab as Record<string, number>;
  const ids = new BigInt64Array(10);
  tokenizer.encodeInto('Push the RED block, onto the moon', 10, ids, null);
  assert.deepEqual(Array.from(ids, Number), [vocab.push, vocab.the, vocab.red, vocab.block, vocab['[UNK]'], vocab.onto, vocab.the, vocab['[UNK]'], 0, 0]);
  const cut = new BigInt64Array(3);
  assert.equal(tokenizer.encodeInto('push the red block onto the green pad please now', 3, cut, null), 3);
  assert.deepEqual(Array.from(cut, Number), [vocab.push, vocab.the, vocab.red]);
});

test('prm eval refuses a done rule it cannot replay, naming the expected form', () => {
  assert.deepEqual(parseDoneRule('3:0.9:5'), { doneUpdates: 3, threshold: 0.9, rateHz: 5 });
  assert.deepEqual(parseDoneRule('2:0.94'), { doneUpdates: 2, threshold: 0.94, rateHz: 10 }, 'the camera rate by default');
  for (const bad of ['0:0.9:5', '3:1.5:5', '3:0.9:3', '3:0.9:20', 'x', '3:0.9:5:1']) {
    assert.throws(() => parseDoneRule(bad), (e: unknown) => isStriatumError(e, 'STRIATUM_ERR_USAGE') && /K:P:HZ/.test((e as Error).message), bad);
  }
});

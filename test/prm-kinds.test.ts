// Each PRM kind end to end: a model built here with a closed-form output, real worker threads, frames through
// the shared rings, answers folded into the shaped reward. Expected values are computed by hand.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import type { StepView } from '../src/control/step.js';
import { silentLogger, type Logger } from '../src/log.js';
import { RewardConfigSchema, type RewardConfigInput } from '../src/reward/prm/config.js';
import { TextTokenizer } from '../src/reward/prm/tokenizer.js';
import { RewardPipeline, type RewardPipelineStep } from '../src/reward/reward-pipeline.js';
import type { CameraFrame, CameraInfo } from '../src/transports/types.js';
import { writeNpy } from '../src/util/npy.js';
import { tempDir } from './helpers/fixtures.js';
import {
  buildOnnxModel, channelMeanProgressModel, embeddingLookupTextEncoder, meanDifferencePairwiseModel, pooledLinearImageEncoder,
  prmTestMetadata, redSuccessModel, windowRedDifferenceModel, wordPieceTokenizerJson,
} from './helpers/onnx-builder.js';

const SIZE = 4;
const WORDS = ['push', 'the', 'red', 'block', 'a', 'robot', 'arm']; // ids 4..10
const CAMERAS: CameraInfo[] = [{ name: 'top', width: SIZE, height: SIZE }, { name: 'wrist', width: SIZE, height: SIZE }];

// ── harness ────────────────────────────────────────────────────────────────────────────────────────────────

type Frame = { -readonly [K in keyof CameraFrame]: CameraFrame[K] };

function cameraFrame(camera: string): Frame {
  return { camera, width: SIZE, height: SIZE, stampMs: 0, rgb: new Uint8Array(SIZE * SIZE * 3) };
}

/** Paint the whole frame one colour and stamp it. */
function paint(f: Frame, r: number, g: number, b: number, stampMs: number): Frame {
  for (let i = 0; i < f.rgb.length; i += 3) {
    f.rgb[i] = r;
    f.rgb[i + 1] = g;
    f.rgb[i + 2] = b;
  }
  f.stampMs = stampMs;
  return f;
}

function stepView(): { -readonly [K in keyof StepView]: StepView[K] } {
  return { episode: 0, step: 0, stampMs: 0, observation: new Float64Array(8), action: new Float64Array(2), command: new Float64Array(2), progress: Number.NaN, done: false, truncated: false };
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Call onStep every 2 ms, as a control loop would, until `until` holds (fails after 30 s). */
async function stepUntil(
  p: RewardPipeline, step: ReturnType<typeof stepView>, until: (r: RewardPipelineStep) => boolean, what: string, feed: (() => void) | null = null,
): Promise<RewardPipelineStep> {
  const t0 = performance.now();
  for (;;) {
    feed?.();
    step.stampMs = performance.now();
    const r = p.onStep(step);
    step.step++;
    if (until(r)) return r;
    if (performance.now() - t0 > 30000) assert.fail(`timed out waiting for ${what}; last record ${JSON.stringify(r)} telemetry ${JSON.stringify(p.telemetry())}`);
    await delay(2);
  }
}

function near(actual: number, expected: number, what: string, eps = 1e-5): void {
  assert.ok(Math.abs(actual - expected) <= eps, `${what}: ${actual}, expected ${expected}`);
}

async function startPipeline(dir: string, config: RewardConfigInput, logger: Logger = silentLogger): Promise<RewardPipeline> {
  return RewardPipeline.start({ config: RewardConfigSchema.parse(config), cameras: CAMERAS, periodS: 0.01, resolvePath: (p) => resolve(dir, p), logger });
}

function writeModel(dir: string, file: string, model: Buffer, metadata: Record<string, unknown>): void {
  writeFileSync(join(dir, file), model);
  writeFileSync(join(dir, file.replace(/\.onnx$/, '.json')), JSON.stringify(metadata));
}

const FAST = { rate_hz: 100, timeout_ms: 20000, warmup_runs: 1 } as const;

// ── progress ───────────────────────────────────────────────────────────────────────────────────────────────

test('tokenizer: BERT-style ids, padded, and cut keeping the final [SEP]', () => {
  const dir = tempDir('striatum-prm-');
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(wordPieceTokenizerJson(WORDS)));
  const tok = TextTokenizer.load(join(dir, 'tokenizer.json'));
  const ids = new BigInt64Array(8);
  const mask = new BigInt64Array(8);
  assert.equal(tok.encodeInto('Push the RED block', 8, ids, mask), 6);
  assert.deepEqual(Array.from(ids, Number), [2, 4, 5, 6, 7, 3, 0, 0]);
  assert.deepEqual(Array.from(mask, Number), [1, 1, 1, 1, 1, 1, 0, 0]);
  const short = new BigInt64Array(4);
  tok.encodeInto('push the red block', 4, short, null);
  assert.deepEqual(Array.from(short, Number), [2, 4, 5, 3]);
});

test('progress: mean red of the frame, text ids reach the model, the start frame anchors each episode', async () => {
  const dir = tempDir('striatum-prm-');
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(wordPieceTokenizerJson(WORDS)));
  writeModel(dir, 'progress.onnx', channelMeanProgressModel({ size: SIZE, textLength: 8, startAnchor: true }), prmTestMetadata({
    name: 'red-progress', kind: 'progress', model: 'progress.onnx', size: SIZE,
    inputs: [{ name: 'pixels', role: 'image' }, { name: 'input_ids', role: 'text_ids', shape: [-1, 8] }, { name: 'start_pixels', role: 'start_image' }],
    outputs: [{ name: 'progress', role: 'progress' }, { name: 'confidence', role: 'confidence' }, { name: 'done', role: 'done' }],
    text: { tokenizer: 'tokenizer.json', max_length: 8 },
    frames: { window: 1, start_anchor: true },
  }));
  const p = await startPipeline(dir, { models: [{ name: 'progress', kind: 'progress', model: 'progress.onnx', cameras: ['top'], ...FAST }], shaping: { gamma: 0.9 } });
  try {
    const top = cameraFrame('top');
    const step = stepView();
    p.beginEpisode('Push the red block');
    p.onFrame(paint(top, 51, 0, 0, 1000));
    let r = await stepUntil(p, step, (x) => x.prmStampMs === 1000, 'the first answer');
    near(r.rawProgress, 0.2, 'progress = mean red 51/255');
    near(r.confidence, 27 / 1000, 'confidence = Σ ids [2,4,5,6,7,3,0,0] / 1000');
    near(r.doneProbability, 0.2, 'done output = mean red of the start frame');
    assert.equal(r.noReward, false);

    p.onFrame(paint(top, 204, 0, 0, 2000));
    r = await stepUntil(p, step, (x) => x.prmStampMs === 2000, 'the second answer');
    near(r.progress, 0.8, 'progress 204/255');
    near(r.potential, 0.2, 'Φ(s) held from the first answer');
    near(r.shaping, 0.9 * 0.8 - 0.2, 'γΦ(s′) − Φ(s)');
    near(r.doneProbability, 0.2, 'start anchor is still the episode\'s first frame');
    near(r.prmDelta, 0.6, 'delta = change since the previous answer');
    assert.equal(r.fresh, true);
    assert.ok(Number.isFinite(r.prmAgeMs), 'the answer\'s age at this step is recorded');
    step.stampMs = performance.now();
    r = p.onStep(step);
    if (!r.fresh) near(r.shaping, 0.9 * 0.8 - 0.8, 'held step: (γ − 1)Φ');
    const summary = p.endEpisode();
    assert.equal(summary.updates >= 2, true);
    assert.equal(summary.vroc, null, 'a start-anchored model has memory: VROC needs a reversed pass');
    // Reversed pass over the two judged frames (0.8 then 0.2, as shown backwards): VOC −1 → VROC 1.
    const reversed = await p.reversedPass();
    assert.ok(reversed !== null);
    assert.equal(reversed.frames, summary.updates);
    near(reversed.vroc, 1, 'the model sees the reversed video regress');

    p.beginEpisode('Push the red block');
    p.onFrame(paint(top, 102, 0, 0, 3000));
    r = await stepUntil(p, step, (x) => x.prmStampMs === 3000, 'the first answer of episode 2');
    near(r.doneProbability, 0.4, 'the new episode\'s start frame');
    near(r.rawProgress, 0.4, 'progress 102/255');
    near(r.potential, 0, 'a new episode starts from Φ = 0');
  } finally {
    await p.close();
  }
});

test('progress over two views: batched into one run when the batch is dynamic, one run per view when it is 1; fused by mean or min', async () => {
  const dir = tempDir('striatum-prm-');
  const meta = (file: string, batch: number) => prmTestMetadata({
    name: 'red', kind: 'progress', model: file, size: SIZE,
    inputs: [{ name: 'pixels', role: 'image', shape: [batch, 3, SIZE, SIZE] }], outputs: [{ name: 'progress', role: 'progress', shape: [batch, 1] }],
  });
  writeModel(dir, 'dynamic.onnx', channelMeanProgressModel({ size: SIZE }), meta('dynamic.onnx', -1));
  writeModel(dir, 'single.onnx', channelMeanProgressModel({ size: SIZE, batch: 1 }), meta('single.onnx', 1));
  for (const [file, fusion, expected, runsPerUpdate] of [['dynamic.onnx', 'mean', 0.4, 1], ['single.onnx', 'min', 0.2, 2]] as const) {
    const p = await startPipeline(dir, { models: [{ name: 'red', kind: 'progress', model: file, cameras: ['top', 'wrist'], fusion, ...FAST }], shaping: { gamma: 0.99 } });
    try {
      const step = stepView();
      p.beginEpisode('');
      p.onFrame(paint(cameraFrame('top'), 51, 0, 0, 500));
      p.onFrame(paint(cameraFrame('wrist'), 153, 0, 0, 510));
      const r = await stepUntil(p, step, (x) => x.prmStampMs === 510, 'an answer judging both views');
      near(r.rawProgress, expected, `${fusion} of 0.2 and 0.6`);
      const h = p.hosts[0];
      assert.equal(h.batched, runsPerUpdate === 1);
      assert.equal(h.runs, runsPerUpdate * h.validUpdates, `${file}: ${h.runs} runs for ${h.validUpdates} answers`);
    } finally {
      await p.close();
    }
  }
});

test('a frame window of raw uint8 nhwc pixels reaches the model oldest first, padded at the start of an episode', async () => {
  const dir = tempDir('striatum-prm-');
  writeModel(dir, 'window.onnx', windowRedDifferenceModel({ size: SIZE }), prmTestMetadata({
    name: 'window', kind: 'progress', model: 'window.onnx', size: SIZE,
    inputs: [{ name: 'frames', role: 'image', shape: [-1, 2, SIZE, SIZE, 3], dtype: 'uint8' }], outputs: [{ name: 'progress', role: 'progress' }],
    preprocessing: { layout: 'nhwc', dtype: 'uint8', scale: 1 },
    frames: { window: 2 },
  }));
  const p = await startPipeline(dir, { models: [{ name: 'window', kind: 'progress', model: 'window.onnx', cameras: ['top'], ...FAST }], shaping: { gamma: 1 } });
  try {
    const step = stepView();
    const top = cameraFrame('top');
    p.beginEpisode('');
    p.onFrame(paint(top, 51, 0, 0, 10));
    let r = await stepUntil(p, step, (x) => x.prmStampMs === 10, 'first answer');
    near(r.rawProgress, 0, 'window [f1, f1]: no change');
    p.onFrame(paint(top, 153, 0, 0, 20));
    r = await stepUntil(p, step, (x) => x.prmStampMs === 20, 'second answer');
    near(r.rawProgress, (153 - 51) / 255, 'window [f1, f2]: newest − oldest');
    p.onFrame(paint(top, 102, 0, 0, 30));
    r = await stepUntil(p, step, (x) => x.prmStampMs === 30, 'third answer');
    near(r.rawProgress, (102 - 153) / 255, 'window [f2, f3]');
  } finally {
    await p.close();
  }
});

test('VOC, VROC and VOC-F1 over an episode of a memoryless progress model', async () => {
  const dir = tempDir('striatum-prm-');
  writeModel(dir, 'red.onnx', channelMeanProgressModel({ size: SIZE }), prmTestMetadata({
    name: 'red', kind: 'progress', model: 'red.onnx', size: SIZE, inputs: [{ name: 'pixels', role: 'image' }], outputs: [{ name: 'progress', role: 'progress' }],
  }));
  const p = await startPipeline(dir, { models: [{ name: 'red', kind: 'progress', model: 'red.onnx', cameras: ['top'], ...FAST }], shaping: { gamma: 1 } });
  try {
    const step = stepView();
    const top = cameraFrame('top');
    p.beginEpisode('');
    const reds = [51, 102, 153, 76];
    for (let i = 0; i < reds.length; i++) {
      p.onFrame(paint(top, reds[i], 0, 0, 100 * (i + 1)));
      await stepUntil(p, step, (x) => x.prmStampMs === 100 * (i + 1), `answer ${i}`);
    }
    const s = p.endEpisode();
    assert.equal(s.updates, 4);
    // values 0.2, 0.4, 0.6, 0.298 → ranks 1, 3, 4, 2; Σd² = 0 + 1 + 1 + 4 = 6; ρ = 1 − 6·6/(4·15) = 0.4
    near(s.voc, 0.4, 'VOC');
    near(s.vroc as number, 0.4, 'VROC of a memoryless model = its VOC');
    near(s.voc_f1 as number, 0.4, 'VOC-F1');
    assert.equal(s.hacking_alarm.active, false);
  } finally {
    await p.close();
  }
});

// ── pairwise ───────────────────────────────────────────────────────────────────────────────────────────────

test('pairwise: delta = mean(b) − mean(a), integrated into progress from the start frame', async () => {
  const dir = tempDir('striatum-prm-');
  writeModel(dir, 'pair.onnx', meanDifferencePairwiseModel({ size: SIZE, gain: 2 }), prmTestMetadata({
    name: 'pair', kind: 'pairwise', model: 'pair.onnx', size: SIZE,
    inputs: [{ name: 'frame_a', role: 'image' }, { name: 'frame_b', role: 'image' }], outputs: [{ name: 'delta', role: 'delta' }],
  }));
  const p = await startPipeline(dir, { models: [{ name: 'pair', kind: 'pairwise', model: 'pair.onnx', cameras: ['top'], ...FAST }], shaping: { gamma: 1 } });
  try {
    const step = stepView();
    const top = cameraFrame('top');
    p.beginEpisode('');
    p.onFrame(paint(top, 51, 51, 51, 10)); // mean 0.2, also the start frame
    let r = await stepUntil(p, step, (x) => x.prmStampMs === 10, 'first answer');
    near(r.rawProgress, 0, 'H(start, start) = 0');
    p.onFrame(paint(top, 102, 102, 102, 20)); // mean 0.4 → c = 2·0.2 = 0.4
    r = await stepUntil(p, step, (x) => x.prmStampMs === 20, 'second answer');
    near(r.prmDelta, 0.4, 'hop delta', 1e-5);
    near(r.rawProgress, 0.4, 'Φ = 0 + 0.4·(1 − 0)', 1e-5);
    p.onFrame(paint(top, 76, 76, 76, 30)); // mean 76/255 → c = 2·(76 − 102)/255
    r = await stepUntil(p, step, (x) => x.prmStampMs === 30, 'third answer');
    const c = (2 * (76 - 102)) / 255;
    near(r.rawProgress, 0.4 + c * 0.4, 'Φ = 0.4 + c·0.4 (c < 0)', 1e-5);
    // VOC of [0, 0.4, 0.318]: ranks 1, 3, 2 → 1 − 6·2/(3·8) = 0.5. An integrator has memory: no VROC without a pass.
    const summary = p.endEpisode();
    near(summary.voc, 0.5, 'VOC');
    assert.equal(summary.vroc, null);
    // Reversed video: frames 76, 102, 51 from Φ = 0: hop 0 → 0; 2·26/255 → 0.2039; 2·(−51)/255 = −0.4 → 0.2039·0.6.
    const reversed = await p.reversedPass();
    assert.ok(reversed !== null);
    assert.equal(reversed.frames, 3);
    near(reversed.voc, 0.5, 'VOC carried over');
    near(reversed.vroc, -0.5, 'VROC = −VOC([0, 0.2039, 0.1224])');
    assert.equal(reversed.voc_f1, 0, 'a negative VROC fails VOC-F1');
  } finally {
    await p.close();
  }
});

test('pairwise three-way (Robo-Dopamine): hop, forward from start and backward from a goal image, two views in one run', async () => {
  const dir = tempDir('striatum-prm-');
  writeModel(dir, 'pair.onnx', meanDifferencePairwiseModel({ size: SIZE, gain: 1 }), prmTestMetadata({
    name: 'pair', kind: 'pairwise', model: 'pair.onnx', size: SIZE,
    inputs: [{ name: 'frame_a', role: 'image' }, { name: 'frame_b', role: 'image' }], outputs: [{ name: 'delta', role: 'delta' }],
  }));
  writeNpy(join(dir, 'goal.npy'), new Int32Array(SIZE * SIZE * 3).fill(255), [SIZE, SIZE, 3]); // mean 1
  const p = await startPipeline(dir, {
    models: [{ name: 'pair', kind: 'pairwise', model: 'pair.onnx', cameras: ['top', 'wrist'], perspectives: 'three_way', goal_images: { top: 'goal.npy', wrist: 'goal.npy' }, ...FAST }],
    shaping: { gamma: 1 },
  });
  try {
    const step = stepView();
    const top = cameraFrame('top');
    const wrist = cameraFrame('wrist');
    p.beginEpisode('');
    p.onFrame(paint(top, 51, 51, 51, 10));
    p.onFrame(paint(wrist, 51, 51, 51, 11));
    let r = await stepUntil(p, step, (x) => x.prmStampMs === 11, 'first answer');
    // hop 0 → Φ_I 0; forward 0; backward 1 + (0.2 − 1) = 0.2 → Φ = 0.2/3
    near(r.rawProgress, 0.2 / 3, 'fused Φ at the start', 1e-4);
    p.onFrame(paint(top, 102, 102, 102, 20));
    p.onFrame(paint(wrist, 102, 102, 102, 21));
    r = await stepUntil(p, step, (x) => x.prmStampMs === 21, 'second answer');
    // hop 0.2 → Φ_I 0.2; forward 0.4 − 0.2 = 0.2; backward 1 + (0.4 − 1) = 0.4 → Φ = 0.8/3
    near(r.rawProgress, 0.8 / 3, 'fused Φ', 1e-4);
    const h = p.hosts[0];
    assert.equal(h.batched, true);
    assert.equal(h.runs, h.validUpdates, 'six pairs (3 perspectives × 2 views) in one run per answer');
  } finally {
    await p.close();
  }
});

// ── embedding ──────────────────────────────────────────────────────────────────────────────────────────────

/** r = 1 − ½‖(x̂ − ĝ)P‖², P = α·d dᵀ/‖d‖² + (1 − α)I, computed with the explicit 2×2 matrix. */
function vlmRmByHand(x: number[], g: number[], b: number[], alpha: number): number {
  const unit = (v: number[]) => { const n = Math.hypot(...v); return v.map((c) => c / n); };
  const [xh, gh, bh] = [unit(x), unit(g), unit(b)];
  const d = [gh[0] - bh[0], gh[1] - bh[1]];
  const dd = d[0] * d[0] + d[1] * d[1];
  const P = [[alpha * d[0] * d[0] / dd + (1 - alpha), alpha * d[0] * d[1] / dd], [alpha * d[1] * d[0] / dd, alpha * d[1] * d[1] / dd + (1 - alpha)]];
  const e = [xh[0] - gh[0], xh[1] - gh[1]];
  const eP = [e[0] * P[0][0] + e[1] * P[1][0], e[0] * P[0][1] + e[1] * P[1][1]];
  return 1 - 0.5 * (eP[0] * eP[0] + eP[1] * eP[1]);
}

test('embedding (CLIP-shaped pair): goal-baseline projection matches the hand computation; the goal text is embedded once per task', async () => {
  const dir = tempDir('striatum-prm-');
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(wordPieceTokenizerJson(WORDS)));
  // Image encoder: (mean R, mean G, mean B) · W with W = [[1, 0], [0, 1], [0, 0]] → (mean R, mean G).
  writeModel(dir, 'image.onnx', pooledLinearImageEncoder({ size: SIZE, dim: 2, W: [1, 0, 0, 1, 0, 0] }), prmTestMetadata({
    name: 'clip', kind: 'embedding', model: 'image.onnx', size: SIZE,
    inputs: [{ name: 'pixels', role: 'image' }], outputs: [{ name: 'embedding', role: 'embedding', shape: [-1, 2] }],
  }));
  // Text encoder: mean over 8 positions of E[id]; E[red] = (8, 0), E[block] = (0, 4), E[arm] = (0, 8), others 0.
  const E = new Array<number>(11 * 2).fill(0);
  E[6 * 2] = 8;
  E[7 * 2 + 1] = 4;
  E[10 * 2 + 1] = 8;
  writeFileSync(join(dir, 'text.onnx'), embeddingLookupTextEncoder({ vocab: 11, dim: 2, length: 8, E }));
  const messages: string[] = [];
  const capture: Logger = {
    debug: (msg, f) => { messages.push(`${msg} ${JSON.stringify(f)}`); }, info: () => {}, warn: () => {}, error: () => {},
    child: () => capture, enabled: () => true,
  };
  const alpha = 0.5;
  const p = await startPipeline(dir, {
    models: [{
      name: 'clip', kind: 'embedding', model: 'image.onnx', cameras: ['top'], alpha, baseline_text: 'a robot arm',
      text_encoder: { model: 'text.onnx', tokenizer: 'tokenizer.json', max_length: 8 }, ...FAST,
    }],
    shaping: { gamma: 1 },
  }, capture);
  try {
    const step = stepView();
    const top = cameraFrame('top');
    p.beginEpisode('push the red block');
    p.onFrame(paint(top, 102, 204, 0, 10)); // x = (0.4, 0.8)
    const r = await stepUntil(p, step, (x) => x.prmStampMs === 10, 'first answer');
    // goal = ([CLS] push the red block [SEP] pad pad) → (8, 4)/8 = (1, 0.5); baseline ("a robot arm") → (0, 8)/8 = (0, 1)
    const expected = vlmRmByHand([0.4, 0.8], [1, 0.5], [0, 1], alpha);
    near(expected, 0.807918, 'hand computation (sanity)', 1e-5);
    near(r.rawProgress, expected, 'VLM-RM reward (reward_range [0, 1])', 1e-5);
    p.endEpisode();
    p.beginEpisode('push the red block');
    p.onFrame(paint(top, 102, 204, 0, 20));
    await stepUntil(p, step, (x) => x.prmStampMs === 20, 'an answer in episode 2');
    const embedded = messages.filter((m) => m.startsWith('goal text embedded') && m.includes('push the red block'));
    assert.equal(embedded.length, 1, messages.join('\n'));
  } finally {
    await p.close();
  }
});

test('embedding goal image (VIP): progress = 1 − d/d_start, delta = the VIP step reward', async () => {
  const dir = tempDir('striatum-prm-');
  writeModel(dir, 'image.onnx', pooledLinearImageEncoder({ size: SIZE, dim: 2, W: [1, 0, 0, 1, 0, 0] }), prmTestMetadata({
    name: 'vip', kind: 'embedding', model: 'image.onnx', size: SIZE,
    inputs: [{ name: 'pixels', role: 'image' }], outputs: [{ name: 'embedding', role: 'embedding', shape: [-1, 2] }],
  }));
  const goal = new Int32Array(SIZE * SIZE * 3);
  for (let i = 0; i < goal.length; i += 3) goal[i + 1] = 255; // φ(g) = (0, 1)
  writeNpy(join(dir, 'goal.npy'), goal, [SIZE, SIZE, 3]);
  const p = await startPipeline(dir, { models: [{ name: 'vip', kind: 'embedding', model: 'image.onnx', cameras: ['top'], goal_images: { top: 'goal.npy' }, ...FAST }], shaping: { gamma: 1 } });
  try {
    const step = stepView();
    const top = cameraFrame('top');
    p.beginEpisode('');
    p.onFrame(paint(top, 204, 0, 0, 10)); // φ = (0.8, 0): d0 = √(0.64 + 1)
    let r = await stepUntil(p, step, (x) => x.prmStampMs === 10, 'first answer');
    near(r.rawProgress, 0, 'progress 0 at the start distance');
    p.onFrame(paint(top, 102, 153, 0, 20)); // φ = (0.4, 0.6): d = √(0.16 + 0.16)
    r = await stepUntil(p, step, (x) => x.prmStampMs === 20, 'second answer');
    const d0 = Math.sqrt(1.64);
    const d = Math.sqrt(0.32);
    near(r.rawProgress, 1 - d / d0, 'progress', 1e-5);
    near(r.prmDelta, d0 - d, 'VIP reward d_prev − d', 1e-5);
  } finally {
    await p.close();
  }
});

// ── success ────────────────────────────────────────────────────────────────────────────────────────────────

test('success: P(success) against the threshold sets done with hysteresis; the hacking alarm fires when progress claims success and the success model disagrees', async () => {
  const dir = tempDir('striatum-prm-');
  writeModel(dir, 'success.onnx', redSuccessModel({ size: SIZE, gain: 10 }), prmTestMetadata({
    name: 'success', kind: 'success', model: 'success.onnx', size: SIZE, inputs: [{ name: 'pixels', role: 'image' }], outputs: [{ name: 'success', role: 'success' }],
  }));
  writeModel(dir, 'green.onnx', channelMeanProgressModel({ size: SIZE, channel: 1 }), prmTestMetadata({
    name: 'green', kind: 'progress', model: 'green.onnx', size: SIZE, inputs: [{ name: 'pixels', role: 'image' }], outputs: [{ name: 'progress', role: 'progress' }],
  }));
  const p = await startPipeline(dir, {
    models: [
      { name: 'green', kind: 'progress', model: 'green.onnx', cameras: ['top'], ...FAST },
      { name: 'success', kind: 'success', model: 'success.onnx', cameras: ['top'], success_threshold: 0.5, ...FAST },
    ],
    shaping: { gamma: 1, done_updates: 2, hysteresis: 0.1 },
    hacking_alarm: { disagreements: 2, window: 5, success_threshold: 0.5 },
  });
  try {
    const step = stepView();
    const top = cameraFrame('top');
    p.beginEpisode('');
    // A camera: a new frame (same picture) every tick.
    let stamp = 0;
    let colour = [255, 0, 0]; // red 1 → P = σ(10·0.5) = 0.99331; green 0 → progress 0
    const camera = () => { p.onFrame(paint(top, colour[0], colour[1], colour[2], ++stamp)); };
    let r = await stepUntil(p, step, (x) => x.done, 'done from two confident success answers', camera);
    near(r.successProbability, 1 / (1 + Math.exp(-5)), 'σ(5)');
    assert.equal(r.hackingAlarm, false);
    colour = [0, 255, 0]; // red 0 → P = σ(−5) = 0.0067 < 0.5 − 0.1: done clears; green 1 → progress claims success
    r = await stepUntil(p, step, (x) => !x.done && x.hackingAlarm, 'done cleared and the alarm raised', camera);
    near(r.successProbability, 1 / (1 + Math.exp(5)), 'σ(−5)');
    near(r.progress, 1, 'progress claims success');
    const s = p.endEpisode();
    assert.equal(s.hacking_alarm.active, true);
    assert.equal(s.hacking_alarm.alarms, 1);
  } finally {
    await p.close();
  }
});

// ── RND and task reward, no PRM ────────────────────────────────────────────────────────────────────────────

test('no PRM: every step has a reward; r_task from the environment; the RND term credits its answer at the next step', async () => {
  const dir = tempDir('striatum-prm-');
  // target = 0·o, prediction = 1·o: r_int = mean(ô²) of the normalized observation.
  writeFileSync(join(dir, 'rnd.onnx'), buildOnnxModel({
    inputs: [{ name: 'observation', shape: [1, 1] }],
    outputs: [{ name: 'target', shape: [1, 1] }, { name: 'prediction', shape: [1, 1] }],
    nodes: [{ op: 'MatMul', inputs: ['observation', 'zero'], outputs: ['target'] }, { op: 'MatMul', inputs: ['observation', 'one'], outputs: ['prediction'] }],
    initializers: [{ name: 'zero', dims: [1, 1], values: [0] }, { name: 'one', dims: [1, 1], values: [1] }],
  }));
  const config = RewardConfigSchema.parse({ shaping: { gamma: 0.99, task_success_reward: 5 }, rnd: { model: 'rnd.onnx', coefficient: 2, warmup_steps: 2 } });
  const p = await RewardPipeline.start({ config, cameras: CAMERAS, periodS: 0.01, resolvePath: (x) => resolve(dir, x), logger: silentLogger, observationDim: 1 });
  try {
    const step = stepView();
    step.observation = new Float64Array(1);
    p.beginEpisode('');
    const tick = async (o: number) => { step.observation[0] = o; const r = p.onStep(step); await delay(5); return r; };
    assert.equal((await tick(0)).intrinsic, 0, 'warm-up');
    // The second observation completes the warm-up: statistics [0, 2] (mean 1, σ 1), a run on ô = 1 starts → r_int = 1.
    const second = await tick(2);
    assert.equal(second.intrinsic, 0, 'the first answer is not back yet');
    assert.equal(second.noReward, false, 'no PRM: Φ = 0 throughout, every step has a reward');
    // Its answer: the first intrinsic return passes unscaled → 2·1. A run on o = 4 starts: mean 2, σ² = 8/3, ô² = 1.5.
    near((await tick(4)).intrinsic, 2, 'coefficient · r_int of the previous step', 1e-6);
    step.done = true;
    const last = await tick(4);
    // R = [1, 0.99·1 + 1.5] → population σ = 0.745; 2 · 1.5/0.745
    near(last.intrinsic, 2 * (1.5 / 0.745), 'coefficient · r_int / σ(R)', 1e-6);
    assert.equal(last.gold, 5, 'task_success_reward is r_gold on the step that ends the episode in success');
    assert.equal(last.task, 0, 'no environment reward: success is paid once, as r_gold');
    assert.equal(last.terminal, true);
    near(last.total, 5 + 2 * (1.5 / 0.745), 'total = r_gold + r_int (no shaping without a PRM)', 1e-6);
    assert.equal(p.rnd?.runs !== undefined && p.rnd.runs >= 1, true);
  } finally {
    await p.close();
  }
});

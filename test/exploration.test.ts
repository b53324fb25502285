// Exploration on the robot: a Gaussian policy (mean and log-std outputs) sampled inside the tick from a seeded
// RNG, the safety filter applied to the sample, mean / sample / log-probability recorded, the mean in evaluation
// episodes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  REWARD_COMPONENTS, ROLLOUT_VERSION, decodeRolloutChunk, encodeRolloutChunk, type RewardComponent, type RolloutColumns,
  type RolloutHeaderInput,
} from '../src/contracts/rollout.js';
import { Exploration, Xoshiro128, gaussianLogProb, noiseCorrelation, stallBursts } from '../src/control/exploration.js';
import type { StepView } from '../src/control/step.js';
import { buildOnnxModel } from './helpers/onnx-builder.js';
import { SIM_FIELDS, tempDir } from './helpers/fixtures.js';
import { simLoop } from './helpers/loop-harness.js';

/** velocity mean = gain·(block − pusher), log-std = logStd (constant), as a model with two outputs. */
function writeGaussianPolicy(dir: string, logStd: number, gain = 2): string {
  const W = new Array<number>(16).fill(0);
  for (let j = 0; j < 2; j++) { W[j * 2 + j] = -gain; W[(4 + j) * 2 + j] = gain; }
  const model = buildOnnxModel({
    inputs: [{ name: 'observation', shape: ['batch', 8] }],
    outputs: [{ name: 'action', shape: ['batch', 1, 2] }, { name: 'log_std', shape: ['batch', 2] }],
    nodes: [
      { op: 'MatMul', inputs: ['observation', 'W'], outputs: ['mm'] },
      { op: 'Add', inputs: ['mm', 'b'], outputs: ['flat'] },
      { op: 'Reshape', inputs: ['flat', 'shape'], outputs: ['action'] },
      { op: 'MatMul', inputs: ['observation', 'Z'], outputs: ['zero'] },
      { op: 'Add', inputs: ['zero', 'c'], outputs: ['log_std'] },
    ],
    initializers: [
      { name: 'W', dims: [8, 2], values: W },
      { name: 'b', dims: [2], values: [0, 0] },
      { name: 'shape', dims: [3], values: [-1, 1, 2], int64: true },
      { name: 'Z', dims: [8, 2], values: new Array(16).fill(0) },
      { name: 'c', dims: [2], values: [logStd, logStd] },
    ],
  });
  writeFileSync(join(dir, 'gauss.onnx'), model);
  writeFileSync(join(dir, 'gauss.json'), JSON.stringify({
    format: 'striatum.policy/v1', name: 'gauss', version: '1', task: 'push', model: 'gauss.onnx',
    inputs: [{ name: 'observation', shape: [-1, 8], dtype: 'float32' }],
    outputs: [{ name: 'action', shape: [-1, 1, 2], dtype: 'float32' }, { name: 'log_std', shape: [-1, 2], dtype: 'float32' }],
    observation: { fields: SIM_FIELDS }, action: { mode: 'velocity', joints: ['x', 'y'], chunk: 1 },
  }));
  return join(dir, 'gauss.onnx');
}

interface Row { episode: number; action: number[]; mean: number[]; command: number[]; logProb: number }

async function runGaussian(logStd: number, options: { seed?: number; evaluationEvery?: number; enabled?: boolean; episodes?: number } = {}): Promise<Row[]> {
  const rows: Row[] = [];
  const { loop, transport } = await simLoop(writeGaussianPolicy(tempDir(), logStd), {
    episodes: options.episodes ?? 2, timeLimitS: 0.3,
    exploration: { enabled: options.enabled ?? true, seed: options.seed ?? 5, evaluationEvery: options.evaluationEvery ?? 0 },
    onStep: (s: StepView) => rows.push({
      episode: s.episode, action: [...s.action], mean: [...(s.actionMean as Float64Array)], command: [...s.command], logProb: s.logProb as number,
    }),
  });
  await loop.run();
  await transport.close();
  return rows;
}

test('xoshiro128** is deterministic for a seed, differs across seeds and streams, and gives standard normals', () => {
  const a = new Xoshiro128(42, 7);
  const b = new Xoshiro128(42, 7);
  const c = new Xoshiro128(43, 7);
  const d = new Xoshiro128(42, 8);
  const seqA = Array.from({ length: 8 }, () => a.nextUint32());
  assert.deepEqual(Array.from({ length: 8 }, () => b.nextUint32()), seqA);
  assert.notDeepEqual(Array.from({ length: 8 }, () => c.nextUint32()), seqA);
  assert.notDeepEqual(Array.from({ length: 8 }, () => d.nextUint32()), seqA);
  a.reseed(42, 7);
  assert.deepEqual(Array.from({ length: 8 }, () => a.nextUint32()), seqA, 'reseed restarts the stream');
  const n = 20000;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) { const z = a.normal(); sum += z; sq += z * z; }
  assert.ok(Math.abs(sum / n) < 0.03, `mean ${sum / n}`);
  assert.ok(Math.abs(sq / n - 1) < 0.05, `variance ${sq / n}`);
});

test('the log-probability of a sample matches the Gaussian density computed by hand', () => {
  // N(0.1; 0, 0.5²) · N(−0.2; 0.1, 0.1²) in logs: −½(0.04 + 2 ln 0.5 + ln 2π) − ½(9 + 2 ln 0.1 + ln 2π)
  const byHand = -0.5 * (0.04 + 2 * Math.log(0.5) + Math.log(2 * Math.PI)) - 0.5 * (9 + 2 * Math.log(0.1) + Math.log(2 * Math.PI));
  assert.ok(Math.abs(gaussianLogProb([0.1, -0.2], [0, 0.1], [0.5, 0.1]) - byHand) < 1e-12);
  const e = new Exploration({ enabled: true, seed: 3, evaluationEvery: 0 }, 2);
  e.beginEpisode(0, 100);
  const action = Float64Array.from([0.2, -0.1]);
  const std = Float64Array.from([0.05, 0.2]);
  e.perturb(action, std);
  assert.deepEqual([...e.mean], [0.2, -0.1], 'the mean is kept');
  assert.notDeepEqual([...action], [0.2, -0.1], 'the action is a sample');
  assert.ok(Math.abs(e.logProb - gaussianLogProb(action, e.mean, std)) < 1e-9);
});

/** Standard deviates of joint 0 over `ticks` ticks of one episode (mean 0, σ 1): the noise itself. */
function deviates(correlation: number, ticks: number, episodeSeed = 100): number[] {
  const e = new Exploration({ enabled: true, seed: 3, evaluationEvery: 0, correlation }, 1);
  e.beginEpisode(0, episodeSeed);
  const action = new Float64Array(1);
  const std = Float64Array.from([1]);
  const out: number[] = [];
  for (let t = 0; t < ticks; t++) {
    action[0] = 0;
    e.perturb(action, std);
    out.push(action[0]);
    assert.ok(Math.abs(e.logProb - gaussianLogProb(action, [0], [1])) < 1e-12, 'each step records the policy Gaussian\'s density');
  }
  return out;
}

function lagOneCorrelation(x: number[]): { variance: number; rho: number } {
  let sq = 0;
  let lag = 0;
  for (let t = 0; t < x.length; t++) { sq += x[t] * x[t]; if (t > 0) lag += x[t] * x[t - 1]; }
  return { variance: sq / x.length, rho: lag / sq };
}

test('correlated exploration noise keeps the spread and leans the same way from tick to tick (Ornstein–Uhlenbeck)', () => {
  // τ = 0.5 s at 50 Hz: ρ = e^(−1/25) ≈ 0.961 by hand.
  assert.ok(Math.abs(noiseCorrelation(0.5, 50) - Math.exp(-1 / 25)) < 1e-15);
  assert.equal(noiseCorrelation(0, 50), 0);
  const rho = noiseCorrelation(0.5, 50);
  // Many short episodes, each restarting from a fresh N(0, 1) deviate: the spread is σ = 1 from the first tick on.
  const pooled: number[] = [];
  let first = 0;
  for (let k = 0; k < 400; k++) {
    const x = deviates(rho, 50, 1000 + k);
    first += x[0] * x[0];
    pooled.push(...x);
  }
  const correlated = lagOneCorrelation(pooled);
  assert.ok(Math.abs(correlated.variance - 1) < 0.08, `variance ${correlated.variance}`);
  assert.ok(Math.abs(first / 400 - 1) < 0.2, `first-tick variance ${first / 400}`);
  assert.ok(Math.abs(correlated.rho - rho) < 0.02, `lag-1 correlation ${correlated.rho}, expected ${rho}`);
  const white = lagOneCorrelation(deviates(0, 20000));
  assert.ok(Math.abs(white.rho) < 0.03, `white noise is uncorrelated: ${white.rho}`);
  assert.deepEqual(deviates(rho, 30), deviates(rho, 30), 'the same episode seed draws the same noise');
  assert.throws(() => new Exploration({ enabled: true, seed: 1, evaluationEvery: 0, correlation: 1 }, 1), /\[0, 1\)/);
});

test('a robot that stands still or dithers in place gets a burst of wider noise, and moving on resets the watch', () => {
  // 10 Hz, watch 1 s (10 ticks), still below 0.1 of the 1 m/s limit: a net travel under 0.1 m over the window.
  const stall = stallBursts({ after_s: 1, speed: 0.1, std_scale: 4, duration_s: 0.5 }, 10);
  assert.deepEqual(stall, { afterTicks: 10, burstTicks: 5, speed: 0.1, stdScale: 4 });
  const e = new Exploration({ enabled: true, seed: 3, evaluationEvery: 0, stall }, 1, [1], 0.1);
  const std = Float64Array.from([0.05]);
  const action = new Float64Array(1);
  /** One tick at joint position p; the σ the sample was drawn with, read back from its log-probability. */
  const tick = (p: number): number => {
    action[0] = 0;
    e.perturb(action, std, [p]);
    // log N(a; 0, σ²) = −½((a/σ)² + 2 ln σ + ln 2π): only the σ actually used matches the recorded value.
    return [0.05, 0.2].find((s) => Math.abs(e.logProb - gaussianLogProb(action, [0], [s])) < 1e-9) ?? Number.NaN;
  };
  e.beginEpisode(0, 7);
  // Dithering ±4 cm around 0.3 m: no net travel, so the 11th tick (a full window behind it) starts a burst.
  const widths: number[] = [];
  for (let t = 0; t < 16; t++) widths.push(tick(0.3 + (t % 2 === 0 ? 0.04 : -0.04)));
  assert.deepEqual(widths, [...new Array<number>(10).fill(0.05), 0.2, 0.2, 0.2, 0.2, 0.2, 0.05], 'ten still ticks, then five at 4σ');
  assert.equal(e.bursts, 1);
  // Moving at 0.5 m/s (0.05 m a tick) never counts as still.
  e.beginEpisode(1, 8);
  for (let t = 0; t < 40; t++) assert.equal(tick(t * 0.05), 0.05, `tick ${t} moves and keeps the policy's spread`);
  assert.equal(e.bursts, 0);
  // After a burst the window refills: the next one needs ten fresh still ticks.
  e.beginEpisode(2, 9);
  const again: number[] = [];
  for (let t = 0; t < 32; t++) again.push(tick(0.3));
  assert.deepEqual(again.map((w) => (w === 0.2 ? 1 : 0)).join(''), '00000000001111100000000001111100');
  assert.equal(e.bursts, 2);
  // A one-tick burst refills the window the same way.
  const single = new Exploration({ enabled: true, seed: 3, evaluationEvery: 0, stall: stallBursts({ after_s: 1, speed: 0.1, std_scale: 4, duration_s: 0.1 }, 10) }, 1, [1], 0.1);
  single.beginEpisode(0, 9);
  const pattern: number[] = [];
  for (let t = 0; t < 24; t++) {
    action[0] = 0;
    single.perturb(action, std, [0.3]);
    pattern.push(Math.abs(single.logProb - gaussianLogProb(action, [0], [0.2])) < 1e-9 ? 1 : 0);
  }
  assert.equal(pattern.join(''), '000000000010000000000100');
  // Evaluation episodes run the mean whatever the robot does.
  const evalEvery = new Exploration({ enabled: true, seed: 3, evaluationEvery: 1, stall }, 1, [1], 0.1);
  evalEvery.beginEpisode(0, 7);
  for (let t = 0; t < 20; t++) { action[0] = 0.01; evalEvery.perturb(action, std, [0.3]); assert.equal(action[0], 0.01); }
  assert.equal(evalEvery.bursts, 0);
  assert.throws(() => new Exploration({ enabled: true, seed: 3, evaluationEvery: 0, stall }, 2, [1], 0.1), /one velocity limit per joint/);
});

test('training episodes sample around the mean, the safety filter clamps the sample, and a seed repeats the noise', async () => {
  // σ = e^0.5 ≈ 1.65 m/s against a 0.25 m/s velocity limit: most samples are out of range before the filter.
  const rows = await runGaussian(0.5, { seed: 5 });
  assert.ok(rows.length > 20);
  let outside = 0;
  for (const r of rows) {
    for (let j = 0; j < 2; j++) {
      if (Math.abs(r.action[j]) > 0.25) outside++;
      assert.ok(Math.abs(r.command[j]) <= 0.25 + 1e-9, `the written command is filtered: ${r.command[j]}`);
    }
    assert.notDeepEqual(r.action, r.mean, 'the sample differs from the mean');
    const std = [Math.exp(0.5), Math.exp(0.5)];
    assert.ok(Math.abs(r.logProb - gaussianLogProb(r.action, r.mean, std)) < 1e-6, 'the recorded log-probability is the sample\'s');
  }
  assert.ok(outside > rows.length / 2, `samples beyond the limit reach the filter (${outside})`);
  const again = await runGaussian(0.5, { seed: 5 });
  assert.deepEqual(again.map((r) => r.action), rows.map((r) => r.action), 'same seed, same samples');
  const other = await runGaussian(0.5, { seed: 6 });
  assert.notDeepEqual(other.map((r) => r.action), rows.map((r) => r.action), 'another seed, other samples');
});

test('evaluation episodes (every k-th) and exploration off run the mean and record no log-probability', async () => {
  const rows = await runGaussian(0.5, { evaluationEvery: 2, episodes: 2 });
  const training = rows.filter((r) => r.episode === 0);
  const evaluation = rows.filter((r) => r.episode === 1);
  assert.ok(training.length > 0 && evaluation.length > 0);
  assert.ok(training.every((r) => Number.isFinite(r.logProb)));
  for (const r of evaluation) {
    assert.deepEqual(r.action, r.mean, 'evaluation runs the mean');
    assert.ok(Number.isNaN(r.logProb));
  }
  const off = await runGaussian(0.5, { enabled: false, episodes: 1 });
  assert.ok(off.every((r) => r.action.every((v, j) => v === r.mean[j]) && Number.isNaN(r.logProb)));
});

test('in the control loop a policy that parks gets bursts of wider noise from the measured joints, and moves', async () => {
  // A Gaussian policy whose mean is 0 (it waits) with σ = e^−6 ≈ 2.5 mm/s: the pusher stands still. After 0.5 s
  // (25 ticks at 50 Hz) the spread widens 40× for 0.4 s (correlated noise: it leans one way); the written commands
  // stay inside the velocity limit.
  const stall = stallBursts({ after_s: 0.5, speed: 0.05, std_scale: 40, duration_s: 0.4 }, 50);
  const rows: (Row & { position: number[] })[] = [];
  const { loop, transport } = await simLoop(writeGaussianPolicy(tempDir(), -6, 0), {
    episodes: 1, timeLimitS: 2,
    exploration: { enabled: true, seed: 5, evaluationEvery: 0, stall, correlation: noiseCorrelation(0.5, 50) },
    onStep: (s: StepView) => rows.push({
      episode: s.episode, action: [...s.action], mean: [...(s.actionMean as Float64Array)], command: [...s.command], logProb: s.logProb as number,
      position: [...s.observation.subarray(0, 2)],
    }),
  });
  await loop.run();
  await transport.close();
  const sigma = Math.exp(-6);
  const wide = rows.map((r) => Math.abs(r.logProb - gaussianLogProb(r.action, r.mean, [40 * sigma, 40 * sigma])) < 1e-6);
  const narrow = rows.map((r) => Math.abs(r.logProb - gaussianLogProb(r.action, r.mean, [sigma, sigma])) < 1e-6);
  assert.ok(rows.length >= 99, `${rows.length} steps`);
  assert.ok(wide.every((w, i) => w !== narrow[i]), 'every step is drawn from one of the two Gaussians');
  const firstBurst = wide.indexOf(true);
  assert.equal(firstBurst, 25, 'the first burst starts once the pusher has stood still for 0.5 s');
  assert.deepEqual(wide.slice(25, 45), new Array<boolean>(20).fill(true), 'and lasts 0.4 s');
  const travel = (a: number, b: number) => Math.hypot(rows[b].position[0] - rows[a].position[0], rows[b].position[1] - rows[a].position[1]);
  assert.ok(travel(0, 24) < 0.01, `still before the burst: ${travel(0, 24)} m`);
  assert.ok(travel(25, 45) > 0.02, `the burst moves the pusher: ${travel(25, 45)} m`);
  for (const r of rows) for (const c of r.command) assert.ok(Math.abs(c) <= 0.25 + 1e-9, 'the safety filter still bounds the command');
});

test('a rollout chunk carries the mean and the log-probability; a chunk without them decodes with mean = action', () => {
  const n = 3;
  const reward = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) reward[k] = new Float32Array(n);
  const cols: RolloutColumns = {
    observation: new Float32Array(n * 2), action: Float32Array.from([1, 2, 3, 4, 5, 6]), command: new Float32Array(n * 2),
    actionMean: Float32Array.from([0.5, 1.5, 2.5, 3.5, 4.5, 5.5]), logProb: Float32Array.from([-1, -2, Number.NaN]),
    progress: new Float32Array(n), reward, flags: new Uint8Array(n), step: Int32Array.from([0, 1, 2]), stampMs: new Float64Array(n),
    frames: null, frameStep: null,
  };
  const header: RolloutHeaderInput = {
    v: ROLLOUT_VERSION, robot: 'r1', episode: 'aaaa-bbbb:0', chunk: 0, policy_version: 'p', task: 'push', instruction: '',
    stamp: new Date().toISOString(), stamp_origin_unix_ms: null, n, skipped_steps: 0, final: false, outcome: null, end_reason: null,
    layout: { observation: [{ name: 'o', size: 2 }], joints: ['x', 'y'], reward: [...REWARD_COMPONENTS], camera: null },
  };
  const decoded = decodeRolloutChunk(encodeRolloutChunk(header, cols, 'gzip'), { maxBytes: 1 << 20 });
  assert.ok(decoded.ok);
  assert.deepEqual([...(decoded.value.columns.actionMean as Float32Array)], [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
  assert.deepEqual([...(decoded.value.columns.logProb as Float32Array)].slice(0, 2), [-1, -2]);
  assert.ok(Number.isNaN((decoded.value.columns.logProb as Float32Array)[2]));
  const { actionMean: _m, logProb: _l, ...old } = cols;
  const legacy = decodeRolloutChunk(encodeRolloutChunk(header, old, 'gzip'), { maxBytes: 1 << 20 });
  assert.ok(legacy.ok);
  assert.deepEqual([...(legacy.value.columns.actionMean as Float32Array)], [1, 2, 3, 4, 5, 6]);
  assert.ok([...(legacy.value.columns.logProb as Float32Array)].every(Number.isNaN));
});

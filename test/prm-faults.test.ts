// A PRM that throws, is slow, hangs, answers NaN or crashes never stalls or crashes the caller: the pipeline
// marks those updates "no reward", counts them, restarts what died, and onStep() keeps returning at once.
// A model whose tensors do not fit its kind is refused at start-up, naming the tensor.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import type { StepView } from '../src/control/step.js';
import { isStriatumError, type StriatumError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { RewardConfigSchema, type RewardConfigInput } from '../src/reward/prm/config.js';
import { RewardPipeline, type RewardPipelineStep } from '../src/reward/reward-pipeline.js';
import type { CameraFrame, CameraInfo } from '../src/transports/types.js';
import { tempDir } from './helpers/fixtures.js';
import { channelMeanProgressModel, nanProgressModel, prmTestMetadata, slowProgressModel, throwingProgressModel } from './helpers/onnx-builder.js';

const SIZE = 8; // 3·8·8 = 192 values per item: not a multiple of 7, so the throwing model's Reshape fails
const CAMERAS: CameraInfo[] = [{ name: 'top', width: SIZE, height: SIZE }];

function progressMetadata(file: string, inputName = 'pixels'): Record<string, unknown> {
  return prmTestMetadata({ name: file, kind: 'progress', model: file, size: SIZE, inputs: [{ name: inputName, role: 'image' }], outputs: [{ name: 'progress', role: 'progress' }] });
}

function writeModel(dir: string, file: string, model: Buffer, metadata: Record<string, unknown>): void {
  writeFileSync(join(dir, file), model);
  writeFileSync(join(dir, file.replace(/\.onnx$/, '.json')), JSON.stringify(metadata));
}

async function start(dir: string, model: Record<string, unknown>, extra: Partial<RewardConfigInput> = {}): Promise<RewardPipeline> {
  const config = RewardConfigSchema.parse({ models: [{ name: 'm', kind: 'progress', cameras: ['top'], rate_hz: 100, warmup_runs: 0, restart_backoff_ms: 20, ...model }], shaping: { gamma: 1 }, ...extra });
  return RewardPipeline.start({ config, cameras: CAMERAS, periodS: 0.002, resolvePath: (p) => resolve(dir, p), logger: silentLogger });
}

/**
 * A control-loop-like caller: a new camera frame and one onStep() every 2 ms until `until` holds. Returns the
 * last record and how many ticks ran while the worker was in the middle of an update.
 */
async function runLoop(p: RewardPipeline, until: (r: RewardPipelineStep) => boolean, what: string, limitMs = 60000): Promise<{ r: RewardPipelineStep; ticks: number; ticksWhileBusy: number }> {
  const frame: { -readonly [K in keyof CameraFrame]: CameraFrame[K] } = { camera: 'top', width: SIZE, height: SIZE, stampMs: 0, rgb: new Uint8Array(SIZE * SIZE * 3).fill(128) };
  const step: { -readonly [K in keyof StepView]: StepView[K] } = { episode: 1, step: 0, stampMs: 0, observation: new Float64Array(4), action: new Float64Array(2), command: new Float64Array(2), progress: Number.NaN, done: false, truncated: false };
  const host = p.hosts[0];
  const t0 = performance.now();
  let ticks = 0;
  let ticksWhileBusy = 0;
  for (;;) {
    frame.stampMs = performance.now();
    p.onFrame(frame);
    step.stampMs = performance.now();
    const wasBusy = host.busy;
    const r = p.onStep(step);
    assert.equal(typeof (r as unknown as { then?: unknown }).then, 'undefined', 'onStep returns its record, not a promise');
    ticks++;
    if (wasBusy && host.busy) ticksWhileBusy++;
    if (until(r)) return { r, ticks, ticksWhileBusy };
    if (performance.now() - t0 > limitMs) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(p.telemetry().models)}`);
    await new Promise((res) => setTimeout(res, 2));
  }
}

test('a model that throws at run time: every update is "no reward", counted as an error, and the caller goes on', async () => {
  const dir = tempDir('striatum-prm-');
  writeModel(dir, 'throws.onnx', throwingProgressModel({ size: SIZE }), progressMetadata('throws.onnx'));
  const p = await start(dir, { model: 'throws.onnx' });
  try {
    p.beginEpisode('');
    const { r } = await runLoop(p, () => p.hosts[0].errors >= 3, 'three failed runs');
    assert.equal(r.noReward, true);
    assert.equal(r.progress, 0, 'Φ holds 0: no valid answer this episode');
    const t = p.telemetry();
    assert.ok(t.models[0].errors >= 3);
    assert.equal(t.models[0].valid_updates, 0);
    assert.equal(t.models[0].crashes, 0, 'a failed run is not a crash');
    assert.ok(t.no_reward_steps > 0);
  } finally {
    await p.close();
  }
});

test('a slow model: updates past timeout_ms are "no reward" and counted, late answers dropped, and ticks run while it computes', async () => {
  const dir = tempDir('striatum-prm-');
  // About 2·4·1024³ ≈ 8.6 GFLOP per update: far beyond the 20 ms budget on any CPU.
  writeModel(dir, 'slow.onnx', slowProgressModel({ size: SIZE, n: 1024, matmuls: 4 }), progressMetadata('slow.onnx'));
  const p = await start(dir, { model: 'slow.onnx', timeout_ms: 20, hang_ms: 600000 });
  try {
    p.beginEpisode('');
    const { r, ticksWhileBusy } = await runLoop(p, () => p.hosts[0].timeouts >= 2 && p.hosts[0].lateResults >= 1, 'two timeouts and a late answer');
    assert.equal(r.noReward, true, 'a timed-out update leaves the step without reward');
    assert.ok(ticksWhileBusy > 0, 'the caller ticked while the worker was mid-update');
    const h = p.hosts[0];
    assert.equal(h.validUpdates, 0, 'late answers are dropped, not used');
    assert.equal(h.hangs, 0);
  } finally {
    await p.close();
  }
});

test('a model that hangs past hang_ms has its worker restarted with backoff; the caller never waits', async () => {
  const dir = tempDir('striatum-prm-');
  writeModel(dir, 'slow.onnx', slowProgressModel({ size: SIZE, n: 1024, matmuls: 4 }), progressMetadata('slow.onnx'));
  const p = await start(dir, { model: 'slow.onnx', timeout_ms: 10, hang_ms: 40 });
  try {
    p.beginEpisode('');
    const { r } = await runLoop(p, () => p.hosts[0].hangs >= 1 && p.hosts[0].restarts >= 1, 'a hang and a restart');
    assert.equal(r.noReward, true);
    assert.ok(p.hosts[0].timeouts >= 1);
  } finally {
    await p.close();
  }
});

test('a model that answers NaN: counted, and the step has no reward', async () => {
  const dir = tempDir('striatum-prm-');
  writeModel(dir, 'nan.onnx', nanProgressModel({ size: SIZE }), progressMetadata('nan.onnx'));
  const p = await start(dir, { model: 'nan.onnx' });
  try {
    p.beginEpisode('');
    const { r } = await runLoop(p, () => p.hosts[0].nanResults >= 2, 'two NaN answers');
    assert.equal(r.noReward, true);
    assert.ok(Number.isNaN(r.rawProgress));
    assert.ok(Number.isFinite(r.total), 'the total stays finite');
    assert.ok(p.shaper.invalidProgressAnswers >= 2);
  } finally {
    await p.close();
  }
});

test('a worker that crashes is counted and restarted; answers resume', async () => {
  const dir = tempDir('striatum-prm-');
  writeModel(dir, 'ok.onnx', channelMeanProgressModel({ size: SIZE }), progressMetadata('ok.onnx'));
  const p = await start(dir, { model: 'ok.onnx' });
  try {
    p.beginEpisode('');
    let { r } = await runLoop(p, (x) => x.fresh && !x.noReward, 'a first valid answer');
    near(r.progress, 128 / 255);
    const host = p.hosts[0];
    host.injectCrash(); // the worker throws an uncaught error, as a crashing thread would
    ({ r } = await runLoop(p, () => host.crashes === 1, 'the crash to be seen'));
    const before = host.validUpdates;
    ({ r } = await runLoop(p, (x) => host.restarts >= 1 && host.validUpdates > before && x.fresh && !x.noReward, 'answers after the restart'));
    near(r.progress, 128 / 255);
    assert.equal(host.state, 'ready');
  } finally {
    await p.close();
  }
});

function near(actual: number, expected: number): void {
  assert.ok(Math.abs(actual - expected) < 1e-5, `${actual} vs ${expected}`);
}

async function refusal(promise: Promise<unknown>): Promise<StriatumError> {
  try {
    const p = await promise;
    await (p as RewardPipeline).close();
  } catch (err) {
    assert.ok(isStriatumError(err), String(err));
    return err;
  }
  assert.fail('expected start-up to be refused');
}

test('a model whose tensors do not fit its declared kind is refused at start-up, naming the tensor', async () => {
  const dir = tempDir('striatum-prm-');
  // Declared pairwise, but with one image input.
  const meta = prmTestMetadata({ name: 'p', kind: 'pairwise', model: 'pair.onnx', size: SIZE, inputs: [{ name: 'pixels', role: 'image' }], outputs: [{ name: 'delta', role: 'delta' }] });
  writeModel(dir, 'pair.onnx', channelMeanProgressModel({ size: SIZE }), meta);
  let err = await refusal(start(dir, { model: 'pair.onnx', kind: 'pairwise' }));
  assert.equal(err.code, 'STRIATUM_ERR_PRM_SHAPE');
  assert.ok(err.details.some((d) => d.includes("'pixels'") && d.includes('two image inputs')), err.details.join('\n'));

  // Metadata that fits its kind, but names an input the ONNX graph does not have (checked in the worker).
  writeModel(dir, 'renamed.onnx', channelMeanProgressModel({ size: SIZE }), progressMetadata('renamed.onnx', 'image'));
  err = await refusal(start(dir, { model: 'renamed.onnx' }));
  assert.equal(err.code, 'STRIATUM_ERR_PRM_SHAPE');
  assert.ok(err.details.some((d) => d.includes("input 'image'") && d.includes('not in the model')), err.details.join('\n'));
  assert.ok(err.details.some((d) => d.includes("input 'pixels'") && d.includes('not declared')), err.details.join('\n'));

  // Config and metadata disagree on the kind; a camera the robot does not have.
  writeModel(dir, 'ok.onnx', channelMeanProgressModel({ size: SIZE }), progressMetadata('ok.onnx'));
  err = await refusal(start(dir, { model: 'ok.onnx', kind: 'success' }));
  assert.equal(err.code, 'STRIATUM_ERR_CONFIG');
  err = await refusal(start(dir, { model: 'ok.onnx', cameras: ['belly'] }));
  assert.equal(err.code, 'STRIATUM_ERR_CONFIG');
});

test('the reward config schema: defaults, one potential model, goal images for three-way', () => {
  const cfg = RewardConfigSchema.parse({});
  assert.deepEqual(cfg.models, []);
  assert.equal(cfg.shaping.delta, 0.05);
  assert.equal(cfg.rnd, null);
  const bad = RewardConfigSchema.safeParse({
    models: [
      { name: 'a', kind: 'progress', model: 'a.onnx', cameras: ['top'] },
      { name: 'b', kind: 'pairwise', model: 'b.onnx', cameras: ['top'], perspectives: 'three_way' },
    ],
    shaping: { gamma: 0.99, horizon_s: 2 },
  });
  assert.equal(bad.success, false);
  const messages = bad.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  assert.ok(messages.some((m) => m.includes('at most one progress')), messages.join('\n'));
  assert.ok(messages.some((m) => m.startsWith('models.1.goal_images')), messages.join('\n'));
  assert.ok(messages.some((m) => m.includes('not both')), messages.join('\n'));
});

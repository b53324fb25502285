// bench/prm: process-reward model cost, and what running one beside the control loop does to the loop.
//   1. PRM throughput, in-process and back to back: frames/s judging one view per run, and all views batched
//      into one run (preprocessing from the camera's size included).
//   2. The control loop (RobotRuntime, examples/sim.yaml, realtime, no MQTT) at --rate Hz for --ticks ticks,
//      without and then with the reward pipeline running the same model in its worker thread on the sim's
//      camera frames (pollFrames + onStep after every tick): deadline misses, tick compute and period error
//      p50/p99, and the pipeline's own per-tick cost, side by side.
// By default it measures the shipped demo progress model (models/push-prm/progress.onnx). `--model cnn` builds a
// heavier CNN progress model instead (3 stride-2 3×3 convs, 3→c→2c→4c channels, global pooling, linear head;
// about 1 GFLOP per 224² frame at c = 64, a third of a ResNet-18), to see a realistic VLM-sized cost.
// Prints one JSON object. Usage:
//   node dist/bench/prm.js [--model M.onnx | cnn] [--size 224] [--channels 32] [--views 2] [--seconds 5]
//                          [--rate 100] [--ticks 2000] [--prm-rate 5] [--threads 1] [--config FILE]
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './bench-args.js';
import ort from 'onnxruntime-node';
import { loadConfig } from '../src/config/load.js';
import { LatencyHistogram } from '../src/util/histogram.js';
import { silentLogger } from '../src/log.js';
import { PrmViewValues } from '../src/reward/prm/adapter.js';
import { RewardConfigSchema } from '../src/reward/prm/config.js';
import { defaultPrmMetadataPath, loadAdapter, readPrmMetadataFile, resolvePrmModel } from '../src/reward/prm/load-adapter.js';
import { FrameWindow } from '../src/reward/prm/preprocess.js';
import { RewardPipeline } from '../src/reward/reward-pipeline.js';
import { RobotRuntime } from '../src/runtime/robot-runtime.js';
import type { RobotTransport } from '../src/transports/types.js';
import { convProgressModel } from '../test/helpers/onnx-builder.js';
import { tempDir } from '../test/helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = benchArgs(import.meta.url, {
  model: { type: 'string' }, size: { type: 'string' }, channels: { type: 'string' }, views: { type: 'string' },
  seconds: { type: 'string' }, rate: { type: 'string' }, ticks: { type: 'string' }, 'prm-rate': { type: 'string' },
  threads: { type: 'string' }, config: { type: 'string' },
});
const SIZE = Number(args.size ?? 224);
const CHANNELS = Number(args.channels ?? 64);
const VIEWS = Number(args.views ?? 2);
const SECONDS = Number(args.seconds ?? 5);
const RATE = Number(args.rate ?? 100);
const TICKS = Number(args.ticks ?? 2000);
const PRM_RATE = Number(args['prm-rate'] ?? 5);
const THREADS = Number(args.threads ?? 1);
const configPath = args.config ?? join(ROOT, 'examples/sim.yaml');
const CAMERA = 96; // the sim's frame size

/** The model under test: --model, or the builder's CNN written with its metadata into a temp dir. */
function benchModel(): { path: string; builtin: boolean } {
  const model = args.model ?? fileURLToPath(new URL('../../models/push-prm/progress.onnx', import.meta.url));
  if (model !== 'cnn') return { path: resolve(model), builtin: false };
  const dir = tempDir('striatum-prm-bench-');
  const path = join(dir, 'cnn-progress.onnx');
  writeFileSync(path, convProgressModel({ size: SIZE, channels: CHANNELS }));
  writeFileSync(join(dir, 'cnn-progress.json'), JSON.stringify({
    format: 'striatum.prm/v1', name: 'bench-cnn', version: '1', kind: 'progress', model: 'cnn-progress.onnx',
    inputs: [{ name: 'pixels', role: 'image', shape: [-1, 3, SIZE, SIZE], dtype: 'float32' }],
    outputs: [{ name: 'progress', role: 'progress', shape: [-1, 1], dtype: 'float32' }],
    preprocessing: { resize: { width: SIZE, height: SIZE }, layout: 'nchw', dtype: 'float32', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  }));
  return { path, builtin: true };
}

/** Frames/s of the adapter judging `views` fresh views per update, for SECONDS after a warm-up. */
async function throughput(modelPath: string, views: number) {
  const cameras = Array.from({ length: views }, (_, i) => ({ name: `cam${i}`, width: CAMERA, height: CAMERA }));
  const cfg = RewardConfigSchema.parse({ models: [{ name: 'bench', kind: KIND, model: modelPath, cameras: cameras.map((c) => c.name), threads: THREADS }] });
  const resolved = resolvePrmModel(cfg.models[0], cameras, (p) => p).model;
  const { adapter, preprocessors } = await loadAdapter(resolved, silentLogger);
  const windows = preprocessors.map((p) => new FrameWindow(p, adapter.window, adapter.keepsPrevious));
  const frame = new Uint8Array(CAMERA * CAMERA * 3);
  for (let i = 0; i < frame.length; i++) frame[i] = (i * 31) & 255;
  const fresh = new Uint8Array(views).fill(1);
  const out = new PrmViewValues(views);
  await adapter.setTask('push the block onto the pad');
  for (const w of windows) w.push(frame, 0);
  for (let i = 0; i < 3; i++) await adapter.evaluate(windows, fresh, out);
  const latency = new LatencyHistogram();
  let updates = 0;
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    const s = performance.now();
    for (const w of windows) w.push(frame, s); // preprocessing, as the worker does per update
    runs += await adapter.evaluate(windows, fresh, out);
    latency.record((performance.now() - s) * 1000);
    updates++;
  }
  const elapsedS = (performance.now() - t0) / 1000;
  await adapter.close();
  const l = latency.summary();
  return {
    views, batched: adapter.batched, updates, runs_per_update: runs / updates,
    frames_per_s: Math.round((updates * views) / elapsedS * 10) / 10,
    update_ms: { p50: l.p50 / 1000, p99: l.p99 / 1000 },
  };
}

/** The control loop for TICKS ticks after 200 warm-up ticks, with or without the reward pipeline beside it. */
async function loopRun(modelPath: string | null) {
  const loaded = loadConfig(configPath);
  const cfg = loaded.config;
  cfg.control.rate_hz = RATE;
  const cameras = cfg.transport.kind === 'sim' ? cfg.transport.cameras.map((c) => ({ name: c.name, width: c.width, height: c.height })) : [];
  let pipeline: RewardPipeline | null = null;
  if (modelPath !== null) {
    const config = RewardConfigSchema.parse({
      models: [{ name: 'bench', kind: KIND, model: modelPath, cameras: cameras.map((c) => c.name), rate_hz: PRM_RATE, timeout_ms: 5000, threads: THREADS }],
      shaping: { horizon_s: 2 },
    });
    pipeline = await RewardPipeline.start({ config, cameras, periodS: 1 / RATE, resolvePath: (p) => p, logger: silentLogger });
  }
  const pipelineUs = new LatencyHistogram();
  let transport: RobotTransport | null = null;
  let ticks = 0;
  const warm = 200;
  let noReward = 0;
  let fresh = 0;
  const rt = await RobotRuntime.start({
    loaded, logger: silentLogger, mqtt: false, realtime: true,
    onStep: (s) => {
      ticks++;
      if (pipeline !== null && transport !== null) {
        const t = performance.now();
        pipeline.pollFrames(transport);
        const r = pipeline.onStep(s);
        if (ticks > warm) {
          pipelineUs.record((performance.now() - t) * 1000);
          if (r.noReward) noReward++;
          if (r.fresh) fresh++;
        }
      }
      if (ticks === warm) rt.loop!.takeInterval();
      if (ticks === warm + TICKS) rt.loop!.stop('bench done');
    },
    onEpisode: (summary, event) => {
      if (pipeline === null) return;
      if (event === 'start') pipeline.beginEpisode(summary.instruction);
      else pipeline.endEpisode();
    },
  });
  // RobotRuntime keeps its transport private; the lead will give the pipeline a proper hook. Until then:
  transport = (rt as unknown as { transport: RobotTransport }).transport;
  // A fault (a deadline storm, say) stops the ticks, and with them onStep: end the run there and report it.
  let stoppedBy: string | null = null;
  const limitMs = ((warm + TICKS) / RATE) * 3000 + 10000;
  const started = performance.now();
  const watchdog = setInterval(() => {
    const l = rt.loop!;
    if (l.state === 'estopped' || performance.now() - started > limitMs) {
      stoppedBy = l.state === 'estopped' ? `fault: ${l.lastFault}` : 'wall-clock limit';
      l.stop(stoppedBy);
    }
  }, 100);
  await rt.run();
  clearInterval(watchdog);
  const loop = rt.loop!;
  const iv = loop.takeInterval();
  const telemetry = pipeline?.telemetry() ?? null;
  await rt.shutdown('bench');
  await pipeline?.close();
  return {
    ticks: Math.max(0, ticks - warm),
    stopped_by: stoppedBy ?? 'ticks done',
    faults: loop.faults,
    deadline_misses: loop.accounting.deadlineMisses,
    overruns: loop.accounting.overruns,
    tick_compute_us: iv.compute,
    period_error_us: iv.periodError,
    policy_step_us: iv.policy,
    ...(pipeline === null ? {} : {
      pipeline_on_step_us: pipelineUs.summary(),
      reward_steps: { fresh, no_reward: noReward },
      prm: telemetry?.models[0] ?? null,
    }),
  };
}

const phase = (s: string) => process.stderr.write(`[bench] ${s} ${(performance.now() / 1000).toFixed(1)} s\n`);
const model = benchModel();
const KIND = readPrmMetadataFile(defaultPrmMetadataPath(model.path)).kind;
phase('throughput, one view');
const one = await throughput(model.path, 1);
phase('throughput, all views');
const all = await throughput(model.path, VIEWS);
phase('loop without PRM');
const without = await loopRun(null);
phase('loop with PRM');
const withPrm = await loopRun(model.path);
phase('done');
const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : null);
process.stdout.write(`${JSON.stringify({
  bench: 'prm',
  machine: { cpus: cpus().length, node: process.version, ort: ort.env.versions?.common },
  model: model.builtin ? { builtin: `CNN progress model, ${SIZE}x${SIZE}, channels ${CHANNELS}/${2 * CHANNELS}/${4 * CHANNELS}`, path: model.path } : { path: model.path },
  threads: THREADS,
  prm_throughput: { one_view: one, all_views_batched: all },
  loop: {
    rate_hz: RATE, prm_rate_hz: PRM_RATE, config: configPath,
    without_prm: without,
    with_prm: withPrm,
    ratios: {
      tick_compute_p99_with_vs_without: ratio(withPrm.tick_compute_us.p99, without.tick_compute_us.p99),
      period_error_p99_with_vs_without: ratio(withPrm.period_error_us.p99, without.period_error_us.p99),
    },
  },
  notes: [
    'prm_throughput runs the adapter in this thread back to back; frames_per_s counts view-frames judged (preprocessing from 96x96 included).',
    'The loop runs twice in the same process: first alone, then with the reward pipeline (its model in a worker thread at prm_rate_hz) fed from the sim cameras after every tick.',
    'tick_compute_us is the loop\'s own tick (policy, safety, write); the pipeline\'s pollFrames + onStep run in the loop\'s step hook after it and are reported as pipeline_on_step_us.',
  ],
}, null, 2)}\n`);

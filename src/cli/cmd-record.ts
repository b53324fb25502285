// `striatum record`: runs the simulator with a scripted action source through the real control loop and writes
// what the trainers read — observations and commands (trainer/bc.py), camera frames and ground-truth progress
// (trainer/prm.py).
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ActionSource } from '../policy/action-source.js';
import { RobotRuntime } from '../runtime/robot-runtime.js';
import { JOINT_VELOCITY_MAX_M_S, SUCCESS_RADIUS_M } from '../sim/push-world.js';
import { PushCamera, type SimCameraName } from '../sim/render.js';
import { SeededRng } from '../sim/rng.js';
import { SimTransport } from '../transports/sim/sim-transport.js';
import { RowBuffer, npyHeader, writeNpy } from '../util/npy.js';
import type { Command } from './flags.js';
import { intFlag, parseFlags } from './flags.js';
import { DEFAULT_CONFIG } from './default-config.js';
import { checkOutDir, prepareOutDir } from './out-dir.js';
import { Progress } from './progress.js';

export const RECORD_SOURCES = ['expert', 'noisy-expert', 'random', 'stall', 'policy', 'policy-noisy'] as const;
export type RecordSource = (typeof RECORD_SOURCES)[number];

// noisy-expert: the expert plus smooth Gaussian noise, interrupted by full-speed pushes in a random direction.
// How often those come is drawn per episode, so one recording holds clean successes, recoveries and timeouts.
const NOISE_STD_M_S = 0.06;
/** Per-step decay of the noise (AR(1)): about 0.2 s correlation at 50 Hz, so the noise moves the pusher. */
const NOISE_DECAY = 0.9;
const WRONG_PUSH_RATE_MAX_PER_S = 2.5;
const WRONG_PUSH_MIN_S = 0.3;
const WRONG_PUSH_MAX_S = 1.5;
// random: a target velocity redrawn every 0.3–1.5 s, followed with a 0.2 s lag.
const RANDOM_HOLD_MIN_S = 0.3;
const RANDOM_HOLD_MAX_S = 1.5;
const RANDOM_LAG_S = 0.2;
// stall: the expert until progress reaches a threshold drawn per episode, then zero velocity to the time limit.
const STALL_MIN_PROGRESS = 0.25;
const STALL_MAX_PROGRESS = 0.75;
/** Stream of the episode seed the sources draw from (the sim uses 0 for the layout, 1 for state noise). */
const SOURCE_RNG_STREAM = 7;

/**
 * The simulator's scripted expert, optionally degraded. Deterministic: every episode reseeds from its seed,
 * so a recording is reproducible from its first seed and source alone.
 */
export class ScriptedSource implements ActionSource {
  readonly name: string;
  readonly version = 'scripted';
  readonly provider = 'scripted';
  lastStepUs = 0;
  private readonly rng = new SeededRng(0);
  private readonly expertAction = new Float64Array(2);
  private readonly noise = new Float64Array(2);
  private readonly target = new Float64Array(2);
  private readonly velocity = new Float64Array(2);
  private readonly dtS: number;
  /** Steps left in the current wrong push (noisy-expert) or target hold (random). */
  private stepsLeft = 0;
  private wrongPushProbability = 0;
  private stallProgress = 1;
  private stalled = false;

  constructor(private readonly kind: RecordSource, private readonly sim: SimTransport, controlHz: number) {
    this.name = `sim-${kind}`;
    this.dtS = 1 / controlHz;
  }

  act(_observation: Float64Array, out: Float64Array): void {
    switch (this.kind) {
      case 'expert':
        this.sim.expert(out);
        return;
      case 'noisy-expert':
        this.noisyExpert(out);
        return;
      case 'random':
        this.random(out);
        return;
      case 'stall':
        if (!this.stalled && this.sim.episodes.progress() >= this.stallProgress) this.stalled = true;
        if (this.stalled) out.fill(0);
        else this.sim.expert(out);
    }
  }

  /** Called at every episode start (after the sim's reset) and when the loop (re)enters running. */
  reset(): void {
    const world = this.sim.worldOrNull;
    this.rng.reseed(world === null ? 0 : world.seed, SOURCE_RNG_STREAM);
    this.noise.fill(0);
    this.target.fill(0);
    this.velocity.fill(0);
    this.stepsLeft = 0;
    this.stalled = false;
    this.wrongPushProbability = this.rng.uniform(0, WRONG_PUSH_RATE_MAX_PER_S) * this.dtS;
    this.stallProgress = this.rng.uniform(STALL_MIN_PROGRESS, STALL_MAX_PROGRESS);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private noisyExpert(out: Float64Array): void {
    if (this.stepsLeft === 0 && this.rng.next() < this.wrongPushProbability) {
      this.drawDirection(this.target, JOINT_VELOCITY_MAX_M_S);
      this.stepsLeft = this.holdSteps(WRONG_PUSH_MIN_S, WRONG_PUSH_MAX_S);
    }
    if (this.stepsLeft > 0) {
      this.stepsLeft--;
      out[0] = this.target[0];
      out[1] = this.target[1];
      return;
    }
    this.sim.expert(this.expertAction);
    const innovation = NOISE_STD_M_S * Math.sqrt(1 - NOISE_DECAY * NOISE_DECAY);
    for (let j = 0; j < 2; j++) {
      this.noise[j] = NOISE_DECAY * this.noise[j] + innovation * this.rng.normal();
      out[j] = this.expertAction[j] + this.noise[j];
    }
  }

  private random(out: Float64Array): void {
    if (this.stepsLeft === 0) {
      this.drawDirection(this.target, JOINT_VELOCITY_MAX_M_S * Math.sqrt(this.rng.next()));
      this.stepsLeft = this.holdSteps(RANDOM_HOLD_MIN_S, RANDOM_HOLD_MAX_S);
    }
    this.stepsLeft--;
    const blend = 1 - Math.exp(-this.dtS / RANDOM_LAG_S);
    for (let j = 0; j < 2; j++) {
      this.velocity[j] += blend * (this.target[j] - this.velocity[j]);
      out[j] = this.velocity[j];
    }
  }

  private drawDirection(into: Float64Array, speed: number): void {
    const angle = this.rng.uniform(0, 2 * Math.PI);
    into[0] = speed * Math.cos(angle);
    into[1] = speed * Math.sin(angle);
  }

  private holdSteps(minS: number, maxS: number): number {
    return Math.max(1, Math.round(this.rng.uniform(minS, maxS) / this.dtS));
  }
}

/**
 * The config's policy (the shipped BC policy by default) with the noisy expert's perturbations on top: smooth
 * Gaussian noise and full-speed pushes in random directions, both scaled by a factor drawn per episode in [0, 1]
 * (a quarter of the episodes run clean). The recording then holds the policy's own failure modes, and its
 * recoveries, for the reward models to learn from. Seeded from each episode's seed.
 */
class NoisyPolicySource implements ActionSource {
  readonly name: string;
  readonly version: string;
  readonly provider: string;
  private readonly rng = new SeededRng(0);
  private readonly noise = new Float64Array(2);
  private readonly target = new Float64Array(2);
  private readonly dtS: number;
  private stepsLeft = 0;
  private scale = 0;
  private wrongPushProbability = 0;

  constructor(private readonly policy: ActionSource, private readonly sim: SimTransport, controlHz: number) {
    this.name = `${policy.name}+noise`;
    this.version = policy.version;
    this.provider = policy.provider;
    this.dtS = 1 / controlHz;
  }

  get lastStepUs(): number {
    return this.policy.lastStepUs;
  }

  act(observation: Float64Array, out: Float64Array): Promise<void> | void {
    const pending = this.policy.act(observation, out);
    if (pending !== undefined) return pending.then(() => this.perturb(out));
    this.perturb(out);
  }

  reset(): void {
    this.policy.reset();
    const world = this.sim.worldOrNull;
    this.rng.reseed(world === null ? 0 : world.seed, SOURCE_RNG_STREAM);
    this.noise.fill(0);
    this.stepsLeft = 0;
    this.scale = this.rng.next() < 0.25 ? 0 : this.rng.uniform(0, 1);
    this.wrongPushProbability = this.scale * this.rng.uniform(0, WRONG_PUSH_RATE_MAX_PER_S) * this.dtS;
  }

  close(): Promise<void> {
    return this.policy.close();
  }

  private perturb(out: Float64Array): void {
    if (this.stepsLeft === 0 && this.rng.next() < this.wrongPushProbability) {
      const angle = this.rng.uniform(0, 2 * Math.PI);
      this.target[0] = JOINT_VELOCITY_MAX_M_S * Math.cos(angle);
      this.target[1] = JOINT_VELOCITY_MAX_M_S * Math.sin(angle);
      this.stepsLeft = Math.max(1, Math.round(this.rng.uniform(WRONG_PUSH_MIN_S, WRONG_PUSH_MAX_S) / this.dtS));
    }
    if (this.stepsLeft > 0) {
      this.stepsLeft--;
      out[0] = this.target[0];
      out[1] = this.target[1];
      return;
    }
    const innovation = this.scale * NOISE_STD_M_S * Math.sqrt(1 - NOISE_DECAY * NOISE_DECAY);
    for (let j = 0; j < 2; j++) {
      this.noise[j] = NOISE_DECAY * this.noise[j] + innovation * this.rng.normal();
      out[j] += this.noise[j];
    }
  }
}

/** A growable uint8 array of fixed-size items (camera frames), kept in chunks so it never copies as it grows. */
class ChunkedBytes {
  private readonly chunks: Uint8Array[] = [];
  private used = 0;
  count = 0;

  constructor(readonly itemBytes: number, private readonly itemsPerChunk = 256) {}

  push(item: Uint8Array): void {
    if (this.chunks.length === 0 || this.used === this.itemsPerChunk) {
      this.chunks.push(new Uint8Array(this.itemBytes * this.itemsPerChunk));
      this.used = 0;
    }
    this.chunks[this.chunks.length - 1].set(item.subarray(0, this.itemBytes), this.used * this.itemBytes);
    this.used++;
    this.count++;
  }

  /** The filled part of every chunk, in order. */
  parts(): Uint8Array[] {
    return this.chunks.map((c, i) => (i === this.chunks.length - 1 ? c.subarray(0, this.used * this.itemBytes) : c));
  }
}

/** Write a uint8 .npy (format 1.0) from parts, streamed: frame arrays can be hundreds of megabytes. */
export function writeUint8Npy(path: string, parts: readonly Uint8Array[], shape: readonly number[]): void {
  const count = shape.reduce((p, d) => p * d, 1);
  const bytes = parts.reduce((s, p) => s + p.length, 0);
  if (count !== bytes) throw new StriatumError('STRIATUM_ERR_INTERNAL', `npy: shape [${shape.join(',')}] holds ${count} values, got ${bytes}`);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, npyHeader('|u1', shape));
    for (const p of parts) writeSync(fd, p);
  } finally {
    closeSync(fd);
  }
}

interface RecordedCamera {
  readonly name: SimCameraName;
  readonly width: number;
  readonly height: number;
  readonly frames: ChunkedBytes;
  /** Renders the state that ended an episode when the sim's camera was not due on that step. */
  readonly terminal: PushCamera;
  lastStampMs: number;
}

/**
 * Copies camera frames out of the transport's reused CameraFrame buffers: the frame rendered at each episode
 * reset, every frame the sim renders at the camera rate, and the state that ended the episode (rendered here
 * when the camera was not due on that step), so every episode's outcome is seen.
 */
class FrameRecorder {
  readonly cameras: RecordedCamera[];
  /** Global step row each frame belongs to (see the command's help), its episode, progress and success. */
  readonly step = new RowBuffer(1, (k) => new Int32Array(k));
  readonly episode = new RowBuffer(1, (k) => new Int32Array(k));
  readonly progress = new RowBuffer(1, (k) => new Float32Array(k));
  readonly success = new RowBuffer(1, (k) => new Int32Array(k));
  private readonly row = new Float64Array(1);

  constructor(cameras: readonly { name: SimCameraName; width: number; height: number }[]) {
    this.cameras = cameras.map((c) => ({
      name: c.name, width: c.width, height: c.height, frames: new ChunkedBytes(c.width * c.height * 3),
      terminal: new PushCamera(c.name, c.width, c.height), lastStampMs: Number.NaN,
    }));
  }

  get count(): number {
    return this.step.rows;
  }

  /** Episode start: the frame the sim rendered at reset belongs to the episode's first step row. */
  captureReset(sim: SimTransport, episode: number, firstRow: number): void {
    for (const cam of this.cameras) {
      const frame = this.frameOf(sim, cam);
      cam.frames.push(frame.rgb);
      cam.lastStampMs = frame.stampMs;
    }
    this.label(sim, episode, firstRow, sim.episodes.progress());
  }

  /** After a step: copy frames rendered during it, or render the terminal state. */
  captureStep(sim: SimTransport, episode: number, row: number, progress: number, ended: boolean): void {
    const rendered = this.frameOf(sim, this.cameras[0]).stampMs !== this.cameras[0].lastStampMs;
    if (!rendered && !ended) return;
    for (const cam of this.cameras) {
      const frame = this.frameOf(sim, cam);
      if (rendered) {
        if (frame.stampMs === cam.lastStampMs) {
          throw new StriatumError('STRIATUM_ERR_INTERNAL', `camera ${cam.name} did not render with camera ${this.cameras[0].name}`);
        }
        cam.frames.push(frame.rgb);
        cam.lastStampMs = frame.stampMs;
      } else {
        cam.terminal.render(sim.world);
        cam.frames.push(cam.terminal.rgb);
      }
    }
    this.label(sim, episode, row, progress);
  }

  write(dir: string): void {
    for (const cam of this.cameras) {
      writeUint8Npy(join(dir, `frames_${cam.name}.npy`), cam.frames.parts(), [cam.frames.count, cam.height, cam.width, 3]);
    }
    writeNpy(join(dir, 'frame_step.npy'), this.step.view(), [this.count]);
    writeNpy(join(dir, 'frame_episode.npy'), this.episode.view(), [this.count]);
    writeNpy(join(dir, 'frame_progress.npy'), this.progress.view(), [this.count]);
    writeNpy(join(dir, 'frame_success.npy'), this.success.view(), [this.count]);
  }

  private frameOf(sim: SimTransport, cam: RecordedCamera) {
    const frame = sim.latestFrame(cam.name);
    if (frame === null) throw new StriatumError('STRIATUM_ERR_INTERNAL', `the sim has no frame for camera ${cam.name}`);
    return frame;
  }

  private label(sim: SimTransport, episode: number, row: number, progress: number): void {
    this.row[0] = row;
    this.step.push(this.row);
    this.row[0] = episode;
    this.episode.push(this.row);
    this.row[0] = progress;
    this.progress.push(this.row);
    this.row[0] = sim.world.isSuccess() ? 1 : 0;
    this.success.push(this.row);
  }
}

export const recordCommand: Command = {
  summary: 'record demonstrations (and failures) from the simulator to .npy files for the trainers',
  help: `Usage: striatum record --out DIR [--config FILE] [--episodes N] [--seed S]
                       [--source expert|noisy-expert|random|stall|policy|policy-noisy] [--frames CAMERAS]
                       [--model FILE] [--progress] [--after-success S] [--force]

Runs the simulator faster than real time with a scripted action source in place of the policy, through the
same control loop, observation builder and safety filter as \`striatum run\`, and writes:
  DIR/observations.npy   float32 [steps, obs_dim]
  DIR/actions.npy        float32 [steps, joints]   commands sent (after the safety filter)
  DIR/episode_index.npy  int32   [steps]
  DIR/meta.json          fields, joints, control rate, source, and per-episode seed, steps, success,
                         outcome, final progress and instruction
With --progress (implied by --frames):
  DIR/progress.npy       float32 [steps]   ground-truth task progress after each step's command
With --frames top,wrist (cameras of the config, all at one rate):
  DIR/frames_<camera>.npy  uint8 [F, height, width, 3]  RGB, copied out of the camera buffers
  DIR/frame_step.npy       int32 [F]  global step row of each frame: the step after which it was rendered;
                                      an episode's first frame is its reset image and belongs to its first row
  DIR/frame_episode.npy    int32 [F]
  DIR/frame_progress.npy   float32 [F]  ground-truth progress of the state the frame shows
  DIR/frame_success.npy    int32 [F]  1 when that state is a success
  Frames are the camera's, at its rate, plus the reset image and the state that ended each episode.

DIR must be new or empty: a folder that holds anything is refused (exit 2) before recording starts.

  --force        write into a folder that is not empty; the .npy files and meta.json there are removed first
  --episodes N   number of episodes (default 200)
  --seed S       seed of the first episode (default: episodes.seed from the config)
  --source K     expert (default); noisy-expert: the expert with smooth noise and full-speed pushes in
                 random directions, at a rate drawn per episode (successes, recoveries and timeouts);
                 random: smooth random velocities; stall: the expert until a progress drawn in [0.25, 0.75],
                 then standing still until the time limit; policy: the config's policy (policy.model);
                 policy-noisy: that policy with the noisy expert's noise and wrong pushes, scaled per episode
                 (a quarter clean). Seeded from each episode's seed.
  --model FILE   with --source policy or policy-noisy: run this ONNX policy (its metadata: the same path with
                 .json) in place of policy.model, e.g. models/push-bc-one/policy.onnx
  --after-success S  keep each successful episode running S simulated seconds after its first success frame
                 (its frames are labelled by their own state), as a learning-mode episode runs on until the
                 success model's done rule fires`,
  async run(args, logger: Logger) {
    const { values } = parseFlags(args, {
      config: { type: 'string' }, out: { type: 'string' }, episodes: { type: 'string' }, seed: { type: 'string' },
      source: { type: 'string' }, frames: { type: 'string' }, progress: { type: 'boolean' }, force: { type: 'boolean' },
      'after-success': { type: 'string' }, model: { type: 'string' },
    });
    if (values.out === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', 'record needs --out DIR');
    const sourceKind = (values.source ?? 'expert') as RecordSource;
    if (!RECORD_SOURCES.includes(sourceKind)) {
      throw new StriatumError('STRIATUM_ERR_USAGE', `--source must be one of ${RECORD_SOURCES.join(', ')}, got "${values.source}"`);
    }
    const loaded = loadConfig(values.config ?? DEFAULT_CONFIG);
    const cfg = loaded.config;
    if (cfg.transport.kind !== 'sim') throw new StriatumError('STRIATUM_ERR_USAGE', 'record needs a config with transport.kind: sim (the expert is the simulator\'s)');
    if (cfg.action.mode !== 'velocity') throw new StriatumError('STRIATUM_ERR_USAGE', `record needs action.mode: velocity (the expert commands joint velocities), config has ${cfg.action.mode}`);
    const simCameras = cfg.transport.cameras;
    const frameCameras = values.frames === undefined ? [] : values.frames.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (values.frames !== undefined && frameCameras.length === 0) throw new StriatumError('STRIATUM_ERR_USAGE', '--frames needs camera names, e.g. --frames top,wrist');
    const recorded = frameCameras.map((name) => {
      const cam = simCameras.find((c) => c.name === name);
      if (cam === undefined) {
        throw new StriatumError('STRIATUM_ERR_USAGE', `--frames: camera "${name}" is not in the config (transport.cameras: ${simCameras.map((c) => c.name).join(', ') || 'none'})`);
      }
      return cam;
    });
    if (new Set(frameCameras).size !== frameCameras.length) throw new StriatumError('STRIATUM_ERR_USAGE', '--frames lists a camera twice');
    if (recorded.some((c) => c.hz !== recorded[0].hz)) {
      throw new StriatumError('STRIATUM_ERR_USAGE', `--frames: the cameras must share one rate (one frame_step.npy), got ${recorded.map((c) => `${c.name} ${c.hz} Hz`).join(', ')}`);
    }
    const withProgress = values.progress === true || recorded.length > 0;
    if (values['after-success'] !== undefined) {
      const tail = Number(values['after-success']);
      if (!(Number.isFinite(tail) && tail >= 0)) throw new StriatumError('STRIATUM_ERR_USAGE', `--after-success must be seconds >= 0, got "${values['after-success']}"`);
      if (cfg.transport.kind === 'sim') cfg.transport.success_tail_s = tail;
    }
    const policySource = sourceKind === 'policy' || sourceKind === 'policy-noisy';
    if (values.model !== undefined) {
      if (!policySource) throw new StriatumError('STRIATUM_ERR_USAGE', `--model needs --source policy or policy-noisy (source ${sourceKind} runs no policy)`);
      cfg.policy.model = resolve(values.model);
      cfg.policy.metadata = undefined;
    }
    const seed = intFlag('seed', values.seed, 0);
    if (seed !== undefined) cfg.episodes.seed = seed;
    const episodes = intFlag('episodes', values.episodes, 1) ?? 200;
    const dir = resolve(values.out);
    const force = values.force === true;
    checkOutDir(dir, force);

    const n = cfg.joints.length;
    let obs: RowBuffer<Float32Array> | null = null;
    const act = new RowBuffer(n, (k) => new Float32Array(k));
    const epi = new RowBuffer(1, (k) => new Int32Array(k));
    const prog = new RowBuffer(1, (k) => new Float32Array(k));
    const row = [0];
    const frames = recorded.length > 0 ? new FrameRecorder(recorded) : null;
    const meta: {
      index: number; seed: number; steps: number; success: boolean; outcome: string; final_progress: number | null;
      instruction: string; initial_distance: number; first_success_s: number | null; first_frame?: number; frames?: number;
    }[] = [];
    let firstFrame = 0;
    let sim: SimTransport | null = null;
    const progress = new Progress('recording', episodes, logger);
    const runtime = await RobotRuntime.start({
      loaded, logger: logger.child('record'), mqtt: false, realtime: false, episodes,
      ...(policySource ? {
        wrapPolicy: (policy: ActionSource, t: unknown) => {
          sim = simulatorOf(t, cfg.transport.kind);
          return sourceKind === 'policy' ? policy : new NoisyPolicySource(policy, sim, cfg.control.rate_hz);
        },
      } : {
        source: (t: unknown) => {
          sim = simulatorOf(t, cfg.transport.kind);
          return new ScriptedSource(sourceKind, sim, cfg.control.rate_hz);
        },
      }),
      onStep: (s) => {
        obs ??= new RowBuffer(s.observation.length, (k) => new Float32Array(k));
        if (frames !== null) frames.captureStep(sim as SimTransport, s.episode, act.rows, s.progress, s.done || s.truncated);
        obs.push(s.observation);
        act.push(s.command);
        row[0] = s.episode;
        epi.push(row);
        row[0] = s.progress;
        prog.push(row);
      },
      onEpisode: (summary, event) => {
        if (event === 'start') {
          if (frames !== null) {
            firstFrame = frames.count;
            frames.captureReset(sim as SimTransport, summary.episode, act.rows);
          }
          return;
        }
        meta.push({
          index: summary.episode, seed: summary.seed, steps: summary.steps,
          success: summary.success || Number.isFinite((sim as SimTransport).groundTruth().firstSuccessS),
          outcome: summary.outcome, final_progress: summary.final_progress, instruction: summary.instruction,
          initial_distance: (sim as SimTransport).world.initialDistance,
          first_success_s: (() => { const t = (sim as SimTransport).groundTruth().firstSuccessS; return Number.isFinite(t) ? t : null; })(),
          ...(frames !== null ? { first_frame: firstFrame, frames: frames.count - firstFrame } : {}),
        });
        progress.tick(`success ${meta.filter((m) => m.success).length}/${meta.length}`);
      },
    });
    try {
      await runtime.run();
    } finally {
      await runtime.shutdown('recording done');
    }
    prepareOutDir(dir, force, (name) => name.endsWith('.npy') || name === 'meta.json');
    const o = obs as RowBuffer<Float32Array> | null;
    if (o === null) throw new StriatumError('STRIATUM_ERR_INTERNAL', 'no steps were recorded');
    writeNpy(join(dir, 'observations.npy'), o.view(), [o.rows, o.width]);
    writeNpy(join(dir, 'actions.npy'), act.view(), [act.rows, n]);
    writeNpy(join(dir, 'episode_index.npy'), epi.view(), [epi.rows]);
    if (withProgress) writeNpy(join(dir, 'progress.npy'), prog.view(), [prog.rows]);
    if (frames !== null) frames.write(dir);
    writeFileSync(join(dir, 'meta.json'), `${JSON.stringify({
      task: cfg.robot.task,
      control_hz: cfg.control.rate_hz,
      observation_fields: runtime.observationFields,
      action: { mode: cfg.action.mode, joints: cfg.joints.map((j) => j.name) },
      source: sourceKind,
      progress: withProgress,
      success_radius: SUCCESS_RADIUS_M,
      success_tail_s: cfg.transport.kind === 'sim' ? cfg.transport.success_tail_s : 0,
      frames: frames === null ? null : {
        cameras: recorded.map((c) => ({ name: c.name, width: c.width, height: c.height })),
        hz: recorded[0].hz,
        count: frames.count,
      },
      episodes: meta,
    }, null, 2)}\n`);
    const successes = meta.filter((m) => m.success).length;
    process.stdout.write(`${JSON.stringify({ out: dir, source: sourceKind, episodes: meta.length, successes, steps: o.rows, frames: frames?.count ?? 0 })}\n`);
    return 0;
  },
};

/** The simulated robot the recorder reads labels and frames from. */
function simulatorOf(transport: unknown, kind: string): SimTransport {
  if (!(transport instanceof SimTransport)) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', `transport.kind: record drives the simulated robot's world; this config's transport is ${kind}`);
  }
  return transport;
}

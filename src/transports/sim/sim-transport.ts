// The simulator behind the RobotTransport interface: the push task (Rapier 2D) with joints "x" and "y",
// cameras rendered at their own rate in simulated time, and ground-truth episode outcome and progress.

import { StriatumError } from '../../errors.js';
import { expertAction } from '../../sim/expert.js';
import {
  initPhysics,
  JOINT_EFFORT_MAX_N,
  JOINT_POSITION_MAX_M,
  JOINT_POSITION_MIN_M,
  JOINT_VELOCITY_MAX_M_S,
  PushWorld,
  rapierVersion,
} from '../../sim/push-world.js';
import { PushCamera, SIM_CAMERA_NAMES, type SimCameraName } from '../../sim/render.js';
import { SeededRng } from '../../sim/rng.js';
import {
  emptyTransportStats,
  TRANSPORT_EPISODE_RUNNING,
  TRANSPORT_EPISODE_SUCCESS,
  TRANSPORT_EPISODE_TIMEOUT,
  type CameraFrame,
  type CommandMode,
  type EpisodeControl,
  type EpisodeOutcome,
  type JointCommand,
  type JointLimits,
  type JointState,
  type RobotDescription,
  type RobotTransport,
  type TransportStats,
} from '../types.js';

export interface SimCameraOptions {
  name: SimCameraName;
  width: number;
  height: number;
  /** Frames per second of simulated time. */
  hz: number;
}

export interface SimTransportOptions {
  /** Seed of the first episode (open()); episodes.reset(seed) sets later ones. */
  seed: number;
  controlHz: number;
  /** Episode time limit in simulated seconds (default 15); the outcome becomes TIMEOUT when it is reached. */
  timeLimitS?: number;
  cameras: SimCameraOptions[];
  mode: CommandMode;
  /** Standard deviation of Gaussian noise added to measured positions (m) and velocities (m/s); default 0. */
  stateNoiseStd?: number;
  /**
   * Whether the episode outcome and progress the loop reads carry the simulator's own success verdict (default
   * true). False (learning mode): the outcome is only RUNNING or TIMEOUT and progress() is NaN, as on a robot
   * with no success sensor; the verdict stays readable for evaluation records through groundTruth().
   */
  reportSuccess?: boolean;
  /** Seconds the episode keeps running after the first success frame before the outcome becomes SUCCESS (default 0). */
  successTailS?: number;
}

/** What the simulator knows about the current episode and a real robot would not: for evaluation records only. */
export interface SimGroundTruth {
  /** The instructed block reached the pad at some step of this episode. */
  readonly success: boolean;
  /** Simulated seconds from reset to the first success frame; NaN before it. */
  readonly firstSuccessS: number;
  /** clip(1 − d/d0, 0, 1) now. */
  readonly progress: number;
  /** Block-to-pad distance now and at reset (m). */
  readonly distanceM: number;
  readonly initialDistanceM: number;
}

export const SIM_JOINT_NAMES: readonly string[] = Object.freeze(['x', 'y']);
export const SIM_EXTRA_FIELDS: Readonly<Record<string, number>> = Object.freeze({
  block_position: 2,
  pad_position: 2,
  block_velocity: 2,
});
export const SIM_DEFAULT_TIME_LIMIT_S = 15;

const SIM_JOINT_LIMITS: readonly JointLimits[] = Object.freeze(
  SIM_JOINT_NAMES.map(() =>
    Object.freeze({
      positionMin: JOINT_POSITION_MIN_M,
      positionMax: JOINT_POSITION_MAX_M,
      velocityMax: JOINT_VELOCITY_MAX_M_S,
      effortMax: JOINT_EFFORT_MAX_N,
    }),
  ),
);

/** Slack for comparing accumulated simulated time with limits and frame times. */
const TIME_EPSILON_S = 1e-9;

function finitePositive(v: number): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

function validateOptions(options: SimTransportOptions): string[] {
  const issues: string[] = [];
  if (typeof options.seed !== 'number' || !Number.isFinite(options.seed)) issues.push(`seed must be a finite number, got ${String(options.seed)}`);
  if (!finitePositive(options.controlHz)) issues.push(`controlHz must be > 0, got ${String(options.controlHz)}`);
  if (options.successTailS !== undefined && !(Number.isFinite(options.successTailS) && options.successTailS >= 0)) {
    issues.push(`successTailS must be >= 0, got ${String(options.successTailS)}`);
  }
  if (options.timeLimitS !== undefined && !finitePositive(options.timeLimitS)) {
    issues.push(`timeLimitS must be > 0, got ${String(options.timeLimitS)}`);
  }
  const noise = options.stateNoiseStd ?? 0;
  if (typeof noise !== 'number' || !Number.isFinite(noise) || noise < 0) issues.push(`stateNoiseStd must be >= 0, got ${String(noise)}`);
  const seen = new Set<string>();
  for (const cam of options.cameras ?? []) {
    if (!SIM_CAMERA_NAMES.includes(cam.name)) issues.push(`camera name must be top or wrist, got "${String(cam.name)}"`);
    if (seen.has(cam.name)) issues.push(`camera "${cam.name}" listed twice`);
    seen.add(cam.name);
    if (!Number.isInteger(cam.width) || !Number.isInteger(cam.height) || cam.width < 1 || cam.height < 1) {
      issues.push(`camera "${cam.name}": width and height must be positive integers, got ${cam.width}x${cam.height}`);
    }
    if (!finitePositive(cam.hz)) issues.push(`camera "${cam.name}": hz must be > 0, got ${String(cam.hz)}`);
  }
  return issues;
}

/** One camera: its renderer, the reused frame handed to callers, and when the next frame is due. */
class SimCameraChannel {
  readonly camera: PushCamera;
  readonly frame: CameraFrame;
  readonly periodS: number;
  /** Frames rendered since reset; frame k is due at k * periodS (a product, so no drift from summing). */
  frameIndex = 0;

  constructor(options: SimCameraOptions) {
    this.camera = new PushCamera(options.name, options.width, options.height);
    this.periodS = 1 / options.hz;
    this.frame = { camera: options.name, width: options.width, height: options.height, stampMs: 0, rgb: this.camera.rgb };
  }
}

class SimEpisodeControl implements EpisodeControl {
  constructor(private readonly transport: SimTransport) {}

  reset(seed: number): Promise<void> {
    this.transport.resetEpisode(seed);
    return Promise.resolve();
  }

  outcome(): EpisodeOutcome {
    return this.transport.currentOutcome;
  }

  progress(): number {
    const world = this.transport.worldOrNull;
    return world === null || !this.transport.reportSuccess ? Number.NaN : world.progress();
  }

  instruction(): string {
    const world = this.transport.worldOrNull;
    return world === null ? '' : world.instruction;
  }
}

export class SimTransport implements RobotTransport {
  readonly kind = 'sim' as const;
  readonly stepSimulation: (dtS: number) => void;
  readonly episodes: EpisodeControl;
  readonly controlPeriodS: number;
  readonly timeLimitS: number;
  /** Latched outcome of the current episode: stays SUCCESS or TIMEOUT until the next reset. */
  currentOutcome: EpisodeOutcome = TRANSPORT_EPISODE_RUNNING;
  /** Reason given to the last estop(), '' when none is latched. */
  estopReason = '';
  /** False in learning mode: the loop sees no success outcome and no progress (see SimTransportOptions). */
  readonly reportSuccess: boolean;
  readonly successTailS: number;
  /** Simulated time of the current episode's first success frame; NaN before it. */
  private firstSuccessS = Number.NaN;

  private readonly options: SimTransportOptions;
  private readonly cameraInfos: RobotDescription['cameras'];
  private readonly channels: SimCameraChannel[] = [];
  private readonly transportStats: TransportStats = emptyTransportStats();
  private readonly noiseStd: number;
  private readonly noiseRng = new SeededRng(0);
  private pushWorld: PushWorld | null = null;
  private estopped = false;
  private freshState = false;
  private stateStampMs = 0;

  constructor(options: SimTransportOptions) {
    const issues = validateOptions(options);
    if (issues.length > 0) throw new StriatumError('STRIATUM_ERR_CONFIG', 'invalid sim transport options', issues);
    this.options = options;
    this.controlPeriodS = 1 / options.controlHz;
    this.timeLimitS = options.timeLimitS ?? SIM_DEFAULT_TIME_LIMIT_S;
    this.noiseStd = options.stateNoiseStd ?? 0;
    this.reportSuccess = options.reportSuccess ?? true;
    this.successTailS = options.successTailS ?? 0;
    this.cameraInfos = Object.freeze(options.cameras.map((c) => Object.freeze({ name: c.name, width: c.width, height: c.height })));
    // Bound once here so the control loop calls a plain function with no per-tick closure.
    this.stepSimulation = (dtS: number): void => this.advance(dtS);
    this.episodes = new SimEpisodeControl(this);
  }

  async open(): Promise<RobotDescription> {
    if (this.options.mode === 'effort') {
      throw new StriatumError('STRIATUM_ERR_TRANSPORT', 'the sim supports position and velocity command modes, not effort');
    }
    await initPhysics();
    if (this.channels.length === 0) {
      for (const cam of this.options.cameras) this.channels.push(new SimCameraChannel(cam));
    }
    if (this.pushWorld === null) this.pushWorld = new PushWorld(this.options.seed);
    else this.pushWorld.reset(this.options.seed);
    this.startEpisode();
    this.transportStats.linkUp = true;
    return Object.freeze({
      jointNames: SIM_JOINT_NAMES,
      extraFields: SIM_EXTRA_FIELDS,
      cameras: this.cameraInfos,
      identity: `sim:push rapier2d ${rapierVersion()}`,
      jointLimits: SIM_JOINT_LIMITS,
    });
  }

  /** The simulated world; throws when the transport is not open. */
  get world(): PushWorld {
    if (this.pushWorld === null) throw new StriatumError('STRIATUM_ERR_TRANSPORT', 'sim transport is not open');
    return this.pushWorld;
  }

  /** The simulated world, or null when the transport is not open. */
  get worldOrNull(): PushWorld | null {
    return this.pushWorld;
  }

  get jointLimits(): readonly JointLimits[] {
    return SIM_JOINT_LIMITS;
  }

  get isEstopped(): boolean {
    return this.estopped;
  }

  /** The simulator's own verdict on the current episode (allocates: call at episode end, not per tick). */
  groundTruth(): SimGroundTruth {
    const world = this.world;
    return {
      success: Number.isFinite(this.firstSuccessS), firstSuccessS: this.firstSuccessS, progress: world.progress(),
      distanceM: world.blockToPadDistance(), initialDistanceM: world.initialDistance,
    };
  }

  /** The scripted expert's joint velocity command (m/s) for the current state; zeros when not open. */
  expert(out: Float64Array): void {
    if (this.pushWorld === null) {
      out[0] = 0;
      out[1] = 0;
      return;
    }
    expertAction(this.pushWorld, out);
  }

  readState(into: JointState): boolean {
    const world = this.pushWorld;
    if (world === null) return false;
    this.transportStats.framesIn++;
    const noise = this.noiseStd;
    into.stampMs = this.stateStampMs;
    for (let j = 0; j < 2; j++) {
      into.positions[j] = world.pusherPosition[j] + (noise > 0 ? noise * this.noiseRng.normal() : 0);
      into.velocities[j] = world.pusherVelocity[j] + (noise > 0 ? noise * this.noiseRng.normal() : 0);
      into.efforts[j] = world.pusherEffort[j];
    }
    const b = 2 * world.instructedBlock;
    const p = 2 * world.instructedPad;
    const blockPosition = into.extras.block_position;
    if (blockPosition !== undefined) {
      blockPosition[0] = world.blockPositions[b] + (noise > 0 ? noise * this.noiseRng.normal() : 0);
      blockPosition[1] = world.blockPositions[b + 1] + (noise > 0 ? noise * this.noiseRng.normal() : 0);
    }
    const padPosition = into.extras.pad_position;
    if (padPosition !== undefined) {
      padPosition[0] = world.padPositions[p];
      padPosition[1] = world.padPositions[p + 1];
    }
    const blockVelocity = into.extras.block_velocity;
    if (blockVelocity !== undefined) {
      blockVelocity[0] = world.blockVelocities[b] + (noise > 0 ? noise * this.noiseRng.normal() : 0);
      blockVelocity[1] = world.blockVelocities[b + 1] + (noise > 0 ? noise * this.noiseRng.normal() : 0);
    }
    const fresh = this.freshState;
    this.freshState = false;
    return fresh;
  }

  writeCommand(command: JointCommand): void {
    this.transportStats.framesOut++;
    const world = this.pushWorld;
    if (world === null || this.estopped) return;
    const targets = command.targets;
    if (targets.length < 2) {
      this.transportStats.droppedFrames++;
      return;
    }
    // Both supported modes are accepted per command (the recorder drives a position-mode sim with the
    // velocity expert); non-finite targets are made safe inside PushWorld.
    if (command.mode === 'velocity') world.setVelocityCommand(targets[0], targets[1]);
    else if (command.mode === 'position') world.setPositionCommand(targets[0], targets[1]);
    else this.transportStats.droppedFrames++;
  }

  latestFrame(camera: string): CameraFrame | null {
    if (this.pushWorld === null) return null;
    for (let i = 0; i < this.channels.length; i++) {
      if (this.channels[i].frame.camera === camera) return this.channels[i].frame;
    }
    return null;
  }

  estop(reason: string): void {
    this.estopped = true;
    this.estopReason = reason;
    if (this.pushWorld !== null) this.pushWorld.setVelocityCommand(0, 0);
  }

  arm(): Promise<void> {
    this.estopped = false;
    this.estopReason = '';
    return Promise.resolve();
  }

  /** The same counters object on every call (no allocation); read it, do not keep it across ticks. */
  stats(): TransportStats {
    return this.transportStats;
  }

  close(): Promise<void> {
    if (this.pushWorld !== null) {
      this.pushWorld.setVelocityCommand(0, 0);
      this.pushWorld.free();
      this.pushWorld = null;
    }
    this.transportStats.linkUp = false;
    return Promise.resolve();
  }

  /** EpisodeControl.reset: a new world for `seed`; an estop latch survives it. */
  resetEpisode(seed: number): void {
    this.world.reset(seed);
    if (this.estopped) this.world.setVelocityCommand(0, 0);
    this.startEpisode();
  }

  private startEpisode(): void {
    const world = this.world;
    this.noiseRng.reseed(world.seed, 1);
    this.currentOutcome = TRANSPORT_EPISODE_RUNNING;
    this.firstSuccessS = world.isSuccess() ? 0 : Number.NaN;
    this.freshState = true;
    this.stateStampMs = performance.now();
    for (let i = 0; i < this.channels.length; i++) {
      const channel = this.channels[i];
      channel.camera.render(world);
      channel.frame.stampMs = this.stateStampMs;
      channel.frameIndex = 0;
    }
  }

  private advance(dtS: number): void {
    const world = this.pushWorld;
    if (world === null) return;
    world.step(dtS);
    this.stateStampMs = performance.now();
    this.freshState = true;
    for (let i = 0; i < this.channels.length; i++) {
      const channel = this.channels[i];
      const dueFrame = Math.floor((world.timeS + TIME_EPSILON_S) / channel.periodS);
      if (dueFrame > channel.frameIndex) {
        // A step longer than the camera period renders once and skips the frames it jumped over.
        channel.camera.render(world);
        channel.frame.stampMs = this.stateStampMs;
        channel.frameIndex = dueFrame;
      }
    }
    if (Number.isNaN(this.firstSuccessS) && world.isSuccess()) this.firstSuccessS = world.timeS;
    if (this.currentOutcome === TRANSPORT_EPISODE_RUNNING) {
      if (this.reportSuccess && world.timeS + TIME_EPSILON_S >= this.firstSuccessS + this.successTailS) this.currentOutcome = TRANSPORT_EPISODE_SUCCESS;
      else if (world.timeS + TIME_EPSILON_S >= this.timeLimitS) this.currentOutcome = TRANSPORT_EPISODE_TIMEOUT;
    }
  }
}

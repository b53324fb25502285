// The one interface every robot transport implements: the simulator, the serial link to firmware, ROS 2.
// The control loop sees only this. Buffers are owned by the caller and filled in place so a tick allocates nothing.

/** Limits for one joint, in the joint's units (m or rad; per second; N or N·m). */
export interface JointLimits {
  readonly positionMin: number;
  readonly positionMax: number;
  readonly velocityMax: number;
  readonly effortMax: number;
}

export type CommandMode = 'position' | 'velocity' | 'effort';

/** What the transport learned about the robot when it opened (from the device, or from config for the sim). */
export interface RobotDescription {
  readonly jointNames: readonly string[];
  /** Extra named state vectors the transport provides beside joint state (e.g. object poses in the sim). */
  readonly extraFields: Readonly<Record<string, number>>;
  /** Camera views the transport can deliver, empty when it has none. */
  readonly cameras: readonly CameraInfo[];
  /** Free text, e.g. firmware id or simulator version, for logs. */
  readonly identity: string;
  /** Limits the device itself enforces or reports (firmware HELLO_ACK, simulator), one per joint; null if none. */
  readonly jointLimits: readonly JointLimits[] | null;
}

export interface CameraInfo {
  readonly name: string;
  readonly width: number;
  readonly height: number;
}

/** Joint state filled in place by readState(). Arrays have one entry per joint, extras their declared length. */
export interface JointState {
  /** Monotonic time of the measurement, in ms (performance.now() clock). */
  stampMs: number;
  readonly positions: Float64Array;
  readonly velocities: Float64Array;
  readonly efforts: Float64Array;
  readonly extras: Record<string, Float64Array>;
}

export interface JointCommand {
  mode: CommandMode;
  readonly targets: Float64Array;
}

/** An RGB frame, 3 bytes per pixel, row-major, with the time it was captured. */
export interface CameraFrame {
  readonly camera: string;
  readonly width: number;
  readonly height: number;
  stampMs: number;
  readonly rgb: Uint8Array;
}

/** Counters published in telemetry. Every transport keeps the same shape; fields it has no use for stay 0. */
export interface TransportStats {
  framesIn: number;
  framesOut: number;
  crcErrors: number;
  resyncs: number;
  droppedFrames: number;
  /** Inbound messages refused as malformed or inconsistent (ROS 2: bad CDR, mismatched arrays, NaN, bad images). */
  rejectedMessages: number;
  watchdogTrips: number;
  reconnects: number;
  rttP50Us: number;
  rttP99Us: number;
  linkUp: boolean;
}

export const TRANSPORT_EPISODE_RUNNING = 0;
export const TRANSPORT_EPISODE_SUCCESS = 1;
export const TRANSPORT_EPISODE_TIMEOUT = 2;
export const TRANSPORT_EPISODE_FAILURE = 3;
export type EpisodeOutcome = 0 | 1 | 2 | 3;

/**
 * Episodic control for transports that can judge and reset a task (the simulator, a test bench).
 * Real robots without one get episodes from a time limit alone.
 */
export interface EpisodeControl {
  /** Start a new episode. The seed makes the sim deterministic; hardware may ignore it. */
  reset(seed: number): Promise<void>;
  /** Outcome so far; called once per tick after the command is written. */
  outcome(): EpisodeOutcome;
  /** Task progress in [0,1] as the environment measures it (ground truth in the sim), or NaN when unknown. */
  progress(): number;
  /** Language instruction of the current episode, e.g. "push the red block onto the green pad". */
  instruction(): string;
}

export interface RobotTransport {
  readonly kind: 'sim' | 'serial' | 'ros2';
  open(): Promise<RobotDescription>;
  /** Fill `into` with the newest state. Returns false when no fresh state arrived since the last call. */
  readState(into: JointState): boolean;
  /** Send one command. Never throws on the hot path; link problems show in stats() and linkUp. */
  writeCommand(command: JointCommand): void;
  /** Advance simulated time by one control period (sim only; hardware transports leave it null). */
  readonly stepSimulation: ((dtS: number) => void) | null;
  /** Newest frame of a camera, or null. The frame object is reused; copy what must outlive the tick. */
  latestFrame(camera: string): CameraFrame | null;
  /** Episode control when the transport has one, else null. */
  readonly episodes: EpisodeControl | null;
  /** Command the robot's safe state (hold or disable) and latch it on the device where it can latch. */
  estop(reason: string): void;
  /** Clear a device-side latch after an explicit arm. */
  arm(): Promise<void>;
  stats(): TransportStats;
  /** Put the motors in their safe state, then release the link. Must not throw. */
  close(): Promise<void>;
}

/** The loop's running counters, for a transport that reports them on a channel of its own (ROS 2 /diagnostics). */
export interface LoopCounters {
  readonly state: string;
  readonly ticks: number;
  readonly deadlineMisses: number;
  readonly skippedPeriods: number;
  readonly overruns: number;
  readonly faults: number;
  readonly lastFault: string | null;
  readonly clampedPosition: number;
  readonly clampedVelocity: number;
  readonly clampedEffort: number;
  readonly clampedDelta: number;
  readonly nonfiniteActions: number;
}

/** What the runtime gives a transport that is itself a control surface (ROS 2: an e-stop topic, a state topic). */
export interface TransportRuntime {
  /** Latch the e-stop, as an operator's e-stop does. */
  requestEstop(reason: string): void;
  loopCounters(): LoopCounters;
}

/** A transport that takes e-stops and reports state on its own channel. Found once at start-up. */
export interface RuntimeAwareTransport {
  attachRuntime(runtime: TransportRuntime): void;
  /** Each control state transition (idle, running, paused, estopped) with its reason. */
  controlStateChanged(state: string, reason: string): void;
}

export function runtimeAwareOf(transport: RobotTransport): RuntimeAwareTransport | null {
  return 'attachRuntime' in transport && 'controlStateChanged' in transport ? transport as unknown as RuntimeAwareTransport : null;
}

export function emptyTransportStats(): TransportStats {
  return {
    framesIn: 0, framesOut: 0, crcErrors: 0, resyncs: 0, droppedFrames: 0, rejectedMessages: 0,
    watchdogTrips: 0, reconnects: 0, rttP50Us: 0, rttP99Us: 0, linkUp: false,
  };
}

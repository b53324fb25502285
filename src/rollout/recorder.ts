// The recorder: called once per control tick, it copies the step into preallocated column buffers (no objects,
// no I/O). A chunk is cut by step count, by time, at the end of an episode or on a policy change, and the
// filled buffers are handed to the spool worker without copying; a spare set takes over at once.
//
// When the spool cannot take more, recording pauses instead of dropping silently: an alarm is raised, every
// step not recorded is counted, the count travels in the next chunk's `skipped_steps` (so the updater's
// store knows where the gap is) and in the alarm events. Reasons: spool_full (bytes on disk reached the bound
// less one chunk of headroom; resumes below a low-water mark), spool_stalled / spool_error (every buffer set
// is still on its way to disk, e.g. a slow or failing disk).
import { randomUUID } from 'node:crypto';
import {
  FLAG_DONE, FLAG_INTERVENTION, FLAG_NO_REWARD, FLAG_PRM_DONE, FLAG_TRUNCATED, REWARD_COMPONENTS, ROLLOUT_VERSION,
  type EpisodeOutcome, type RolloutHeaderInput, type RolloutLayout,
} from '../contracts/rollout.js';
import type { EpisodeStart, EpisodeSummary, StepSink, StepView } from '../control/step.js';
import type { ObservationField } from '../control/observation.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RewardStep } from '../reward/reward-step.js';
import type { CameraFrame } from '../transports/types.js';
import { ColumnSet } from './column-set.js';
import type { Spool } from './spool.js';

export interface RecorderCamera {
  readonly name: string;
  /** Size recorded (the source frame is resampled, nearest neighbour). */
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  /** Record a frame on steps whose index is a multiple of this. */
  readonly everySteps: number;
  /** The camera's newest frame (a reused object), or null when none has arrived. */
  readonly latest: () => CameraFrame | null;
}

export interface RecorderOptions {
  readonly robotId: string;
  readonly task: string;
  readonly observationFields: readonly ObservationField[];
  readonly joints: readonly string[];
  readonly chunkSteps: number;
  readonly chunkMs: number;
  readonly spool: Spool;
  readonly camera: RecorderCamera | null;
  readonly policyVersion: string | null;
  /** Unix ms at stampMs = 0 (performance.timeOrigin under the realtime clock); null under virtual time. */
  readonly stampOriginUnixMs: number | null;
  /** The updater's cap on one chunk; the configuration is refused when a full chunk could exceed it. */
  readonly maxChunkBytes: number;
  /** Column sets in rotation (≥ 2): one filling, the others on their way to disk. */
  readonly buffers: number;
  readonly logger: Logger;
  /** Fresh per process unless given (tests). Episode ids are `<runId>:<episode index>`. */
  readonly runId?: string;
  /**
   * The reward pipeline's per-step record, which it overwrites before the recorder's turn in the loop's sinks;
   * null or absent: steps are recorded with no reward.
   */
  readonly reward?: RewardStep | null;
}

export type PauseReason = 'spool_full' | 'spool_stalled' | 'spool_error';

export interface RecorderAlarm {
  readonly state: 'paused' | 'resumed';
  readonly reason: PauseReason;
  /** Steps not recorded since this recorder started. */
  readonly unrecordedSteps: number;
  /** Steps not recorded during the pause that just ended (0 when pausing). */
  readonly pausedSteps: number;
  readonly spoolBytes: number;
  readonly spoolMaxBytes: number;
}

export interface RecorderStats {
  stepsRecorded: number;
  unrecordedSteps: number;
  chunksCut: number;
  episodesClosed: number;
  pauses: number;
}

const NO_CAMERA_FRAME = 0;

export class Recorder implements StepSink {
  readonly runId: string;
  readonly layout: RolloutLayout;
  readonly stats: RecorderStats = { stepsRecorded: 0, unrecordedSteps: 0, chunksCut: 0, episodesClosed: 0, pauses: 0 };
  /** Raised on every pause and resume. */
  onAlarm: ((alarm: RecorderAlarm) => void) | null = null;
  /** Worst-case bytes of one chunk file: the headroom kept below the spool bound. */
  readonly chunkReserveBytes: number;

  private readonly o: RecorderOptions;
  /** What onStep records as the step's reward when the caller gives none (the loop's sinks call onStep(step)). */
  private readonly reward: RewardStep | null;
  private readonly obsDim: number;
  private readonly actDim: number;
  private readonly frameBytes: number;
  private readonly pool: ColumnSet[] = [];
  private current: ColumnSet | null;
  private readonly pauseAboveBytes: number;
  private readonly resumeBelowBytes: number;

  private episodeOpen = false;
  private episodeIndex = -1;
  private episodeId = '';
  private instruction = '';
  private chunkSeq = 0;
  private policyVersion: string | null;
  private intervention = 0;
  private pendingSkipped = 0;
  private stepsSinceCheck = 0;
  /** The current set is complete (chunk_steps or chunk_ms reached): cut before the next step is written, or as the
   * episode's final chunk if the episode ends first, so an episode that ends on a chunk boundary does not send an
   * empty final chunk of its own. */
  private complete = false;
  private full = false;
  pauseReason: PauseReason | null = null;
  private pausedSteps = 0;
  private closed = false;

  // Nearest-neighbour resampling maps, rebuilt only when the source frame size changes.
  private srcWidth = 0;
  private srcHeight = 0;
  private xMap = new Int32Array(0);
  private yMap = new Int32Array(0);

  constructor(options: RecorderOptions) {
    this.o = options;
    this.reward = options.reward ?? null;
    this.runId = options.runId ?? randomUUID();
    this.policyVersion = options.policyVersion;
    const cam = options.camera;
    this.layout = {
      observation: options.observationFields.map((f) => ({ name: f.name, size: f.size })),
      joints: [...options.joints],
      reward: [...REWARD_COMPONENTS],
      camera: cam === null ? null : { name: cam.name, width: cam.width, height: cam.height, channels: cam.channels },
    };
    this.obsDim = options.observationFields.reduce((s, f) => s + f.size, 0);
    this.actDim = options.joints.length;
    this.frameBytes = cam === null ? NO_CAMERA_FRAME : cam.width * cam.height * cam.channels;
    const cap = options.chunkSteps;
    const maxFrames = cam === null ? 0 : Math.ceil(cap / cam.everySteps);
    // observation, action + mean + command, progress + log_prob, rewards, flags, step, stamp.
    const rowBytes = this.obsDim * 4 + this.actDim * 12 + 8 + REWARD_COMPONENTS.length * 4 + 1 + 4 + 8;
    // Raw columns, MessagePack framing, a 2000-character instruction and gzip's worst-case growth.
    this.chunkReserveBytes = Math.ceil((cap * rowBytes + maxFrames * (this.frameBytes + 4)) * 1.01) + 16 * 1024;
    const problems: string[] = [];
    if (options.buffers < 2) problems.push(`rollout buffers must be at least 2, got ${options.buffers}`);
    if (this.chunkReserveBytes > options.maxChunkBytes) {
      problems.push(`a full chunk (${cap} steps, up to ${this.chunkReserveBytes} bytes) exceeds the updater's chunk cap of ${options.maxChunkBytes} bytes: lower chunk_steps or the camera size/rate`);
    }
    const maxBytes = options.spool.options.maxBytes;
    if (maxBytes < 4 * this.chunkReserveBytes) problems.push(`the spool bound (${maxBytes} bytes) must hold at least 4 full chunks (${4 * this.chunkReserveBytes} bytes)`);
    if (problems.length > 0) throw new StriatumError('STRIATUM_ERR_CONFIG', 'rollout recorder configuration is not usable', problems);
    this.pauseAboveBytes = maxBytes - this.chunkReserveBytes;
    this.resumeBelowBytes = Math.min(0.8 * maxBytes, maxBytes - 2 * this.chunkReserveBytes);

    for (let i = 0; i < options.buffers; i++) this.pool.push(new ColumnSet(cap, this.obsDim, this.actDim, this.frameBytes, maxFrames));
    this.current = this.pool.pop() as ColumnSet;
    const spool = options.spool;
    spool.onReleased = (set) => this.released(set);
    spool.onUsage = () => this.updatePause();
    this.updatePause();
  }

  /** Episode id as the updater stores it. */
  episodeIdOf(index: number): string {
    return `${this.runId}:${index}`;
  }

  /** Whether the next step will be recorded: not paused, and a complete chunk waiting to be cut has a free set to
   * go on with. */
  get recording(): boolean {
    return this.pauseReason === null && (!this.complete || this.pool.length > 0);
  }

  /**
   * Every control tick, after the command is written. Copies into preallocated columns; allocates nothing and
   * never waits (a chunk cut only swaps buffer sets and posts the full one to the spool worker).
   */
  onStep(step: StepView, reward: RewardStep | null = this.reward): void {
    if (!this.episodeOpen || step.episode !== this.episodeIndex) {
      if (this.closed) return; // a tick that raced shutdown
      this.beginEpisode(step.episode, null, step);
    }
    this.stepsSinceCheck++;
    if (this.complete) this.cut(false, null, null);
    if (this.pauseReason !== null) {
      this.stats.unrecordedSteps++;
      this.pendingSkipped++;
      this.pausedSteps++;
      return;
    }
    const set = this.current as ColumnSet; // never null while recording
    const r = set.n;
    const obsDim = this.obsDim;
    const actDim = this.actDim;
    let o = r * obsDim;
    const obs = step.observation;
    for (let i = 0; i < obsDim; i++) set.observation[o + i] = obs[i];
    o = r * actDim;
    const action = step.action;
    const mean = step.actionMean ?? action;
    const command = step.command;
    for (let i = 0; i < actDim; i++) {
      set.action[o + i] = action[i];
      set.actionMean[o + i] = mean[i];
      set.command[o + i] = command[i];
    }
    set.progress[r] = step.progress;
    set.logProb[r] = step.logProb ?? Number.NaN;
    let flags = this.intervention;
    if (step.done) flags |= FLAG_DONE;
    if (step.truncated) flags |= FLAG_TRUNCATED;
    const rw = set.reward; // REWARD_COMPONENTS order
    if (reward !== null) {
      rw[0][r] = reward.rawProgress;
      rw[1][r] = reward.potential;
      rw[2][r] = reward.nextPotential;
      rw[3][r] = reward.shaping;
      rw[4][r] = reward.gold;
      rw[5][r] = reward.task;
      rw[6][r] = reward.intrinsic;
      rw[7][r] = reward.total;
      if (reward.noReward) flags |= FLAG_NO_REWARD;
      if (reward.done) flags |= FLAG_PRM_DONE;
    } else {
      for (let k = 0; k < rw.length; k++) rw[k][r] = Number.NaN;
      flags |= FLAG_NO_REWARD;
    }
    set.flags[r] = flags;
    set.step[r] = step.step;
    set.stampMs[r] = step.stampMs;
    const cam = this.o.camera;
    if (cam !== null && step.step % cam.everySteps === 0 && set.m < set.maxFrames) this.recordFrame(cam, set, step.step);
    set.n = r + 1;
    if (r === 0) set.firstStampMs = step.stampMs;
    this.complete = set.n >= set.capacity || step.stampMs - set.firstStampMs >= this.o.chunkMs;
  }

  /** Optional: gives the episode its instruction before the first step. */
  onEpisodeStart(summary: Pick<EpisodeStart, 'episode' | 'instruction'>): void {
    if (this.closed) return;
    if (this.episodeOpen && summary.episode === this.episodeIndex) {
      if (this.chunkSeq === 0) this.instruction = summary.instruction;
      return;
    }
    this.beginEpisode(summary.episode, summary.instruction, null);
  }

  /** Closes the episode: its last chunk is cut with final = true, the outcome and (for "aborted") the reason. */
  onEpisodeEnd(summary: Pick<EpisodeSummary, 'episode' | 'instruction' | 'outcome'> & { readonly end_reason?: string | null }): void {
    if (this.closed) return;
    if (!this.episodeOpen || summary.episode !== this.episodeIndex) this.beginEpisode(summary.episode, summary.instruction, null);
    this.cut(true, summary.outcome, summary.end_reason?.slice(0, 200) ?? null);
    this.episodeOpen = false;
  }

  /** A hot-swapped policy: steps after this are labelled with the new version (the open chunk is cut first). */
  setPolicyVersion(version: string | null): void {
    if (version === this.policyVersion) return;
    if (this.current !== null && this.current.n > 0) this.cut(false, null, null);
    this.policyVersion = version;
  }

  /** A human is driving (teleoperation): steps are flagged until this is cleared. */
  setIntervention(active: boolean): void {
    this.intervention = active ? FLAG_INTERVENTION : 0;
  }

  /** Called on a timer: cuts a partial chunk when no step has arrived since the previous call (loop paused). */
  flushIfIdle(): void {
    if (this.stepsSinceCheck === 0 && this.current !== null && this.current.n > 0) this.cut(false, null, null);
    this.stepsSinceCheck = 0;
  }

  /** Ends recording: an open episode gets a final chunk with outcome "aborted". */
  close(reason: string): void {
    if (this.closed) return;
    if (this.episodeOpen) {
      this.cut(true, 'aborted', `recorder closed: ${reason}`.slice(0, 200));
      this.episodeOpen = false;
    }
    this.closed = true;
  }

  private beginEpisode(index: number, instruction: string | null, step: StepView | null): void {
    if (this.closed) throw new StriatumError('STRIATUM_ERR_INTERNAL', 'rollout recorder is closed');
    if (step !== null && (step.observation.length !== this.obsDim || step.action.length !== this.actDim || step.command.length !== this.actDim)) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `rollout recorder expects ${this.obsDim} observation values and ${this.actDim} joints, the loop gives ${step.observation.length} and ${step.action.length}`);
    }
    if (this.episodeOpen) {
      this.o.logger.warn('rollout: a new episode began before the previous one ended; closing it as aborted', { episode: this.episodeId });
      this.cut(true, 'aborted', 'a new episode began before this one ended');
    }
    this.episodeOpen = true;
    this.episodeIndex = index;
    this.episodeId = this.episodeIdOf(index);
    this.instruction = instruction ?? '';
    this.chunkSeq = 0;
    // Once per episode (not per tick): marked open on disk now, so kill -9 before the first chunk still leaves a
    // record the next start closes as aborted.
    this.o.spool.beginEpisode({
      v: ROLLOUT_VERSION, robot: this.o.robotId, episode: this.episodeId, policy_version: this.policyVersion, task: this.o.task,
      instruction: this.instruction, stamp_origin_unix_ms: this.o.stampOriginUnixMs, layout: this.layout,
    });
  }

  private cut(final: boolean, outcome: EpisodeOutcome | null, endReason: string | null): void {
    let set = this.current;
    if (!final && (set === null || set.n === 0)) return;
    // A final chunk must go out even when every buffer set is in flight: it then carries no steps.
    if (set === null) set = new ColumnSet(0, this.obsDim, this.actDim, this.frameBytes, 0);
    const header: RolloutHeaderInput = {
      v: ROLLOUT_VERSION, robot: this.o.robotId, episode: this.episodeId, chunk: this.chunkSeq++,
      policy_version: this.policyVersion, task: this.o.task, instruction: this.instruction, stamp: new Date().toISOString(),
      stamp_origin_unix_ms: this.o.stampOriginUnixMs, layout: this.layout, n: set.n, skipped_steps: this.pendingSkipped,
      final, outcome: final ? outcome ?? 'aborted' : null, end_reason: endReason,
    };
    this.pendingSkipped = 0;
    this.complete = false;
    this.stats.stepsRecorded += set.n;
    this.stats.chunksCut++;
    if (final) this.stats.episodesClosed++;
    if (set === this.current) this.current = this.pool.pop() ?? null;
    this.o.spool.submit(header, set);
    this.updatePause();
  }

  private released(set: ColumnSet): void {
    if (set.capacity === 0) return; // a one-off empty set for a final chunk
    if (this.current === null) this.current = set;
    else this.pool.push(set);
    this.updatePause();
  }

  private updatePause(): void {
    const spool = this.o.spool;
    if (!this.full && spool.usedBytes > this.pauseAboveBytes) this.full = true;
    else if (this.full && spool.usedBytes <= this.resumeBelowBytes) this.full = false;
    const reason: PauseReason | null = this.full ? 'spool_full' : this.current === null ? (spool.failing ? 'spool_error' : 'spool_stalled') : null;
    if (reason === this.pauseReason) return;
    const was = this.pauseReason;
    this.pauseReason = reason;
    if (was === null && reason !== null) {
      this.stats.pauses++;
      this.pausedSteps = 0;
      this.o.logger.warn('rollout recording paused', { reason, spool_bytes: spool.usedBytes, max_bytes: spool.options.maxBytes, unrecorded_steps: this.stats.unrecordedSteps });
      this.alarm('paused', reason);
      // The gap starts at a chunk boundary, so skipped_steps of the next chunk sits exactly where it is.
      if (this.current !== null && this.current.n > 0) this.cut(false, null, null);
    } else if (was !== null && reason === null) {
      this.o.logger.info('rollout recording resumed', { after: was, steps_not_recorded: this.pausedSteps, unrecorded_total: this.stats.unrecordedSteps });
      this.alarm('resumed', was);
    }
  }

  private alarm(state: 'paused' | 'resumed', reason: PauseReason): void {
    this.onAlarm?.({
      state, reason, unrecordedSteps: this.stats.unrecordedSteps, pausedSteps: state === 'resumed' ? this.pausedSteps : 0,
      spoolBytes: this.o.spool.usedBytes, spoolMaxBytes: this.o.spool.options.maxBytes,
    });
  }

  private recordFrame(cam: RecorderCamera, set: ColumnSet, step: number): void {
    const f = cam.latest();
    if (f === null || set.frames === null || set.frameStep === null) return;
    if (f.width !== this.srcWidth || f.height !== this.srcHeight) this.buildMaps(f.width, f.height, cam);
    const out = set.frames;
    let o = set.m * this.frameBytes;
    const src = f.rgb;
    const xs = this.xMap;
    const ys = this.yMap;
    for (let y = 0; y < cam.height; y++) {
      const row = ys[y];
      for (let x = 0; x < cam.width; x++) {
        const s = row + xs[x];
        if (cam.channels === 3) {
          out[o] = src[s];
          out[o + 1] = src[s + 1];
          out[o + 2] = src[s + 2];
          o += 3;
        } else {
          out[o++] = (src[s] * 77 + src[s + 1] * 150 + src[s + 2] * 29) >> 8; // BT.601 luma
        }
      }
    }
    set.frameStep[set.m] = step;
    set.m++;
  }

  private buildMaps(width: number, height: number, cam: RecorderCamera): void {
    this.srcWidth = width;
    this.srcHeight = height;
    this.xMap = new Int32Array(cam.width);
    this.yMap = new Int32Array(cam.height);
    for (let x = 0; x < cam.width; x++) this.xMap[x] = Math.min(width - 1, Math.floor(((x + 0.5) * width) / cam.width)) * 3;
    for (let y = 0; y < cam.height; y++) this.yMap[y] = Math.min(height - 1, Math.floor(((y + 0.5) * height) / cam.height)) * width * 3;
  }
}

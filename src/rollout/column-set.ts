// One chunk's worth of preallocated column buffers. The recorder fills rows in place; when a chunk is cut the
// whole set is transferred (zero-copy) to the spool worker, which encodes and writes it and transfers it back.
import { REWARD_COMPONENTS, type RewardComponent, type RolloutColumns } from '../contracts/rollout.js';

/** The set as it crosses to the worker and back (structured clone; the buffers are transferred). */
export interface ColumnMessage {
  observation: Float32Array;
  action: Float32Array;
  actionMean: Float32Array;
  logProb: Float32Array;
  command: Float32Array;
  progress: Float32Array;
  reward: Float32Array[];
  flags: Uint8Array;
  step: Int32Array;
  stampMs: Float64Array;
  frames: Uint8Array | null;
  frameStep: Int32Array | null;
  n: number;
  m: number;
}

export class ColumnSet {
  observation: Float32Array;
  action: Float32Array;
  /** The policy's mean action; `action` is the sample in training episodes of a stochastic policy. */
  actionMean: Float32Array;
  /** log π(action | observation); NaN where the mean ran. */
  logProb: Float32Array;
  command: Float32Array;
  progress: Float32Array;
  /** One column per REWARD_COMPONENTS entry, same order. */
  reward: Float32Array[];
  flags: Uint8Array;
  step: Int32Array;
  stampMs: Float64Array;
  frames: Uint8Array | null;
  frameStep: Int32Array | null;
  /** Rows filled. */
  n = 0;
  /** Frames filled. */
  m = 0;
  firstStampMs = 0;

  constructor(readonly capacity: number, readonly obsDim: number, readonly actDim: number, readonly frameBytes: number, readonly maxFrames: number) {
    this.observation = new Float32Array(capacity * obsDim);
    this.action = new Float32Array(capacity * actDim);
    this.actionMean = new Float32Array(capacity * actDim);
    this.logProb = new Float32Array(capacity);
    this.command = new Float32Array(capacity * actDim);
    this.progress = new Float32Array(capacity);
    this.reward = REWARD_COMPONENTS.map(() => new Float32Array(capacity));
    this.flags = new Uint8Array(capacity);
    this.step = new Int32Array(capacity);
    this.stampMs = new Float64Array(capacity);
    this.frames = frameBytes > 0 ? new Uint8Array(frameBytes * maxFrames) : null;
    this.frameStep = frameBytes > 0 ? new Int32Array(maxFrames) : null;
  }

  toMessage(): { message: ColumnMessage; transfer: ArrayBuffer[] } {
    const message: ColumnMessage = {
      observation: this.observation, action: this.action, actionMean: this.actionMean, logProb: this.logProb,
      command: this.command, progress: this.progress, reward: this.reward,
      flags: this.flags, step: this.step, stampMs: this.stampMs, frames: this.frames, frameStep: this.frameStep, n: this.n, m: this.m,
    };
    const transfer = [this.observation, this.action, this.actionMean, this.logProb, this.command, this.progress, ...this.reward, this.flags, this.step, this.stampMs]
      .map((a) => a.buffer as ArrayBuffer);
    if (this.frames !== null) transfer.push(this.frames.buffer as ArrayBuffer);
    if (this.frameStep !== null) transfer.push(this.frameStep.buffer as ArrayBuffer);
    return { message, transfer };
  }

  /** Take back the buffers the worker returned; the set is empty again. */
  adopt(m: ColumnMessage): void {
    this.observation = m.observation;
    this.action = m.action;
    this.actionMean = m.actionMean;
    this.logProb = m.logProb;
    this.command = m.command;
    this.progress = m.progress;
    this.reward = m.reward;
    this.flags = m.flags;
    this.step = m.step;
    this.stampMs = m.stampMs;
    this.frames = m.frames;
    this.frameStep = m.frameStep;
    this.n = 0;
    this.m = 0;
  }
}

/** The filled rows of a set as wire columns (views, no copies). */
export function viewColumns(m: ColumnMessage, obsDim: number, actDim: number, frameBytes: number): RolloutColumns {
  const n = m.n;
  const reward = {} as Record<RewardComponent, Float32Array>;
  REWARD_COMPONENTS.forEach((k, i) => { reward[k] = m.reward[i].subarray(0, n); });
  return {
    observation: m.observation.subarray(0, n * obsDim),
    action: m.action.subarray(0, n * actDim),
    actionMean: m.actionMean.subarray(0, n * actDim),
    logProb: m.logProb.subarray(0, n),
    command: m.command.subarray(0, n * actDim),
    progress: m.progress.subarray(0, n),
    reward,
    flags: m.flags.subarray(0, n),
    step: m.step.subarray(0, n),
    stampMs: m.stampMs.subarray(0, n),
    frames: m.frames === null ? null : m.frames.subarray(0, m.m * frameBytes),
    frameStep: m.frameStep === null ? null : m.frameStep.subarray(0, m.m),
  };
}

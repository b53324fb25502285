// One chunk's worth of preallocated column buffers. The recorder fills rows in place; when a chunk is cut the
// set's key goes to the spool worker, which encodes and writes the rows and answers when the set is free again.
// The columns live in one SharedArrayBuffer that the worker sees once (the first time a set goes to it) and keeps:
// nothing is allocated, copied or transferred per chunk. A transfer would be zero-copy too, but every transferred
// buffer is a new ArrayBuffer on arrival, and at hundreds of chunks a second that churn made V8 run a full
// garbage collection of the robot's heap every ~100 ms (its external-memory trigger).
import { REWARD_COMPONENTS, type RewardComponent, type RolloutColumns } from '../contracts/rollout.js';

/** The set's columns as the worker keeps them (views on the set's SharedArrayBuffer). */
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
}

/** Which set, and how many rows and frames of it are filled: what crosses to the worker per chunk. */
export interface ColumnRef {
  key: number;
  n: number;
  m: number;
  /** The columns, only the first time this set goes to the worker. */
  columns: ColumnMessage | null;
  /** False for a one-off set (an empty final chunk): the worker forgets it after the write. */
  keep: boolean;
}

let nextKey = 1;

export class ColumnSet {
  readonly observation: Float32Array;
  readonly action: Float32Array;
  /** The policy's mean action; `action` is the sample in training episodes of a stochastic policy. */
  readonly actionMean: Float32Array;
  /** log π(action | observation); NaN where the mean ran. */
  readonly logProb: Float32Array;
  readonly command: Float32Array;
  readonly progress: Float32Array;
  /** One column per REWARD_COMPONENTS entry, same order. */
  readonly reward: Float32Array[];
  readonly flags: Uint8Array;
  readonly step: Int32Array;
  readonly stampMs: Float64Array;
  readonly frames: Uint8Array | null;
  readonly frameStep: Int32Array | null;
  /** Rows filled. */
  n = 0;
  /** Frames filled. */
  m = 0;
  firstStampMs = 0;

  /** Names the set to the spool worker, which keeps its columns after the first write. */
  readonly key = nextKey++;

  constructor(readonly capacity: number, readonly obsDim: number, readonly actDim: number, readonly frameBytes: number, readonly maxFrames: number) {
    const f32 = [capacity * obsDim, capacity * actDim, capacity * actDim, capacity, capacity * actDim, capacity, ...REWARD_COMPONENTS.map(() => capacity)];
    // Float64 first (8-byte aligned), then the 4-byte columns, then bytes.
    const bytes = capacity * 8 + f32.reduce((a, b) => a + b, 0) * 4 + capacity * 4 + (frameBytes > 0 ? maxFrames * 4 : 0) + capacity + frameBytes * maxFrames;
    const sab = new SharedArrayBuffer(bytes);
    let at = 0;
    const take = <T>(make: (b: SharedArrayBuffer, off: number, len: number) => T, len: number, size: number): T => {
      const view = make(sab, at, len);
      at += len * size;
      return view;
    };
    const f64 = (len: number) => take((b, o, l) => new Float64Array(b, o, l), len, 8);
    const f = (len: number) => take((b, o, l) => new Float32Array(b, o, l), len, 4);
    this.stampMs = f64(capacity);
    this.observation = f(f32[0]);
    this.action = f(f32[1]);
    this.actionMean = f(f32[2]);
    this.logProb = f(f32[3]);
    this.command = f(f32[4]);
    this.progress = f(f32[5]);
    this.reward = REWARD_COMPONENTS.map((_, i) => f(f32[6 + i]));
    this.step = take((b, o, l) => new Int32Array(b, o, l), capacity, 4);
    this.frameStep = frameBytes > 0 ? take((b, o, l) => new Int32Array(b, o, l), maxFrames, 4) : null;
    this.flags = take((b, o, l) => new Uint8Array(b, o, l), capacity, 1);
    this.frames = frameBytes > 0 ? take((b, o, l) => new Uint8Array(b, o, l), frameBytes * maxFrames, 1) : null;
    // The size above and the views must describe the same columns.
    if (at !== bytes) throw new Error(`column set layout: ${at} bytes of views in a ${bytes}-byte buffer`);
  }

  /** The columns as the worker keeps them. */
  columns(): ColumnMessage {
    return {
      observation: this.observation, action: this.action, actionMean: this.actionMean, logProb: this.logProb,
      command: this.command, progress: this.progress, reward: this.reward,
      flags: this.flags, step: this.step, stampMs: this.stampMs, frames: this.frames, frameStep: this.frameStep,
    };
  }

  /** The worker has written the rows: the set is empty again. */
  reset(): void {
    this.n = 0;
    this.m = 0;
  }
}

/** The filled rows of a set as wire columns (views, no copies). */
export function viewColumns(m: ColumnMessage, n: number, frameCount: number, obsDim: number, actDim: number, frameBytes: number): RolloutColumns {
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
    frames: m.frames === null ? null : m.frames.subarray(0, frameCount * frameBytes),
    frameStep: m.frameStep === null ? null : m.frameStep.subarray(0, frameCount),
  };
}

// What every PRM adapter does, whatever its kind: judge the newest frames of its views and write, per view,
// progress, delta, done probability, confidence and the raw model value. An adapter lives in its worker
// thread and owns its onnxruntime session(s).
//
// Per kind (shared/research/reward-models.md):
//   progress  — progress = the model's output; delta = its change since the view's previous update
//   pairwise  — delta = H(prev, cur); progress integrated (ProgressIntegrator), or Robo-Dopamine's three-way
//               fusion of hop, forward and backward (MultiPerspectiveProgress)
//   embedding — VLM-RM: raw = goal-baseline reward r, progress = r mapped through reward_range;
//               VIP: raw = ‖φ(o) − φ(g)‖, delta = the VIP step reward, progress = 1 − d/d_start (clipped)
//   success   — done = P(success); progress is NaN (a success model gives no potential)
// Views whose camera had no new frame since the view's last update are not run again: they keep their values
// with delta 0 ("fresh" says which were judged).
import type { PrmKind } from '../metadata.js';
import type { FrameWindow } from './preprocess.js';

/** The per-view arrays of one PRM answer, as the worker sends them and the host keeps them. */
export type PrmViewArrays = Pick<PrmViewValues, 'progress' | 'delta' | 'done' | 'confidence' | 'raw' | 'stampMs' | 'fresh'>;

export class PrmViewValues {
  readonly views: number;
  readonly progress: Float64Array;
  readonly delta: Float64Array;
  readonly done: Float64Array;
  readonly confidence: Float64Array;
  readonly raw: Float64Array;
  /** Capture time of the frame each view's values judge (the newest frame of its window). */
  readonly stampMs: Float64Array;
  /** 1 for views judged in this update. */
  readonly fresh: Uint8Array;

  constructor(views: number) {
    this.views = views;
    this.progress = new Float64Array(views).fill(Number.NaN);
    this.delta = new Float64Array(views).fill(Number.NaN);
    this.done = new Float64Array(views).fill(Number.NaN);
    this.confidence = new Float64Array(views).fill(Number.NaN);
    this.raw = new Float64Array(views).fill(Number.NaN);
    this.stampMs = new Float64Array(views).fill(Number.NaN);
    this.fresh = new Uint8Array(views);
  }

  reset(): void {
    this.progress.fill(Number.NaN);
    this.delta.fill(Number.NaN);
    this.done.fill(Number.NaN);
    this.confidence.fill(Number.NaN);
    this.raw.fill(Number.NaN);
    this.stampMs.fill(Number.NaN);
    this.fresh.fill(0);
  }
}

export interface PrmAdapter {
  readonly kind: PrmKind;
  readonly provider: string;
  /** The adapter needs the task text before it can judge (text inputs, or a text goal to embed). */
  readonly needsText: boolean;
  /** Whether the frame windows must keep the previous update's frame (pairwise hop). */
  readonly keepsPrevious: boolean;
  /** Whether the windows need the episode's start frame. */
  readonly needsStart: boolean;
  /** Frames per window (frames.window of the metadata). */
  readonly window: number;
  /**
   * True when an answer depends only on the frames it judged (no window, anchor, integration or per-episode
   * normalization): its answers on the reversed video are its answers reversed, so VROC needs no second pass.
   */
  readonly memoryless: boolean;
  /** Whether several items go into one run (dynamic batch dimension). */
  readonly batched: boolean;
  /** A new episode: forget per-episode state. */
  reset(): void;
  /** The task text (tokenized or embedded once per distinct text). */
  setTask(text: string): Promise<void>;
  /**
   * Judge the views marked in `fresh` (windows already hold their newest frames); returns session runs made.
   * Values of views not judged keep their last values with delta 0.
   */
  evaluate(views: readonly FrameWindow[], fresh: Uint8Array, out: PrmViewValues): Promise<number>;
  /** Run the session(s) once on whatever the windows hold, without the kind's reward math (start-up warm-up). */
  warmUp(views: readonly FrameWindow[]): Promise<void>;
  close(): Promise<void>;
}

/** Indices of the fresh views, in order, into `order`; returns how many. */
export function freshViews(fresh: Uint8Array, order: Int32Array): number {
  let n = 0;
  for (let v = 0; v < fresh.length; v++) if (fresh[v] === 1) order[n++] = v;
  return n;
}

/** Values of views not judged this update: kept, with delta 0. */
export function holdStale(fresh: Uint8Array, out: PrmViewValues): void {
  for (let v = 0; v < fresh.length; v++) {
    out.fresh[v] = fresh[v];
    if (fresh[v] === 0) out.delta[v] = 0;
  }
}

export function clip01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

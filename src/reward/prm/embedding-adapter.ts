// Embedding models (CLIP/SigLIP/VIP-shaped image encoders). Two goals:
//   text  — VLM-RM: r = GoalBaselineReward(image embedding) with the goal text (and baseline prompt) embedded
//           once per text by the text encoder, or taken from the metadata's precomputed files. raw = r,
//           progress = clip((r − low)/(high − low)) with reward_range [low, high].
//   image — VIP/LIV: per view a goal image embedded once at start; raw = d = ‖φ(o) − φ(g)‖,
//           delta = GoalImageReward.step (d_prev − d), progress = clip(1 − d/d_start) where d_start is the
//           distance at the episode's first update (0 there, 1 at the goal).
import type ort from 'onnxruntime-node';
import { StriatumError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { GoalBaselineReward, GoalImageReward } from '../vlm-rm.js';
import { clip01, freshViews, holdStale, type PrmAdapter, type PrmViewValues } from './adapter.js';
import type { FrameWindow, PixelTensor } from './preprocess.js';
import type { ItemSource, PrmRunner } from './runner.js';
import type { TextEncoder } from './text-encoder.js';

export interface TextGoal {
  readonly kind: 'text';
  /** null: the goal is fixed (metadata files) and the task text is not needed. */
  readonly encoder: TextEncoder | null;
  readonly baselineText: string | null;
  /** Precomputed goal and baseline (metadata text.goal_embedding / baseline_embedding). */
  readonly goalEmbedding: Float32Array | null;
  readonly baselineEmbedding: Float32Array | null;
  readonly alpha: number;
  readonly range: readonly [number, number];
}

export interface ImageGoal {
  readonly kind: 'image';
  /** Per view, the preprocessed goal frame. */
  readonly frames: readonly PixelTensor[];
}

export class EmbeddingAdapter implements PrmAdapter, ItemSource {
  readonly kind = 'embedding' as const;
  readonly needsText: boolean;
  readonly keepsPrevious = false;
  readonly needsStart = false;
  readonly window = 1;
  readonly memoryless: boolean;
  readonly batched: boolean;
  readonly dim: number;
  private readonly outName: string;
  private readonly order: Int32Array;
  private readonly embeddings: Float32Array[] = [];
  private readonly previous: Float64Array;
  private readonly startDistance: Float64Array;
  private goalReward: GoalBaselineReward | null = null;
  private readonly rewardsByText = new Map<string, GoalBaselineReward>();
  private baseline: Float32Array | null = null;
  private readonly imageRewards: GoalImageReward[] = [];
  private views: readonly FrameWindow[] = [];
  private goalFrames: readonly PixelTensor[] | null = null;

  constructor(
    private readonly runner: PrmRunner,
    readonly provider: string,
    viewCount: number,
    private readonly goal: TextGoal | ImageGoal,
    private readonly logger: Logger | null = null,
  ) {
    const meta = runner.meta;
    const output = meta.outputs.find((o) => o.role === 'embedding');
    if (output === undefined) throw new StriatumError('STRIATUM_ERR_PRM_SHAPE', `PRM ${meta.name}: no embedding output`);
    this.outName = output.name;
    this.dim = output.shape[1];
    this.batched = runner.dynamicBatch;
    this.needsText = goal.kind === 'text' && goal.encoder !== null;
    this.memoryless = goal.kind === 'text';
    this.order = new Int32Array(viewCount);
    for (let v = 0; v < viewCount; v++) this.embeddings.push(new Float32Array(this.dim));
    this.previous = new Float64Array(viewCount).fill(Number.NaN);
    this.startDistance = new Float64Array(viewCount).fill(Number.NaN);
  }

  /** Embed what is fixed for the whole run: the baseline prompt, a precomputed goal, or the goal images. */
  async init(): Promise<void> {
    const g = this.goal;
    if (g.kind === 'text') {
      if (g.encoder !== null) {
        this.baseline = g.baselineText === null ? null : this.checked(await g.encoder.encode(g.baselineText), 'baseline text embedding');
      } else {
        if (g.goalEmbedding === null) throw new StriatumError('STRIATUM_ERR_CONFIG', `PRM ${this.runner.meta.name}: a text goal needs text_encoder in the config or text.goal_embedding in the metadata`);
        const goal = this.checked(g.goalEmbedding, 'goal embedding');
        const baseline = g.baselineEmbedding === null ? null : this.checked(g.baselineEmbedding, 'baseline embedding');
        this.goalReward = this.rewardFor(goal, baseline);
      }
      return;
    }
    // Goal images: embed each view's goal once.
    this.goalFrames = g.frames;
    const all = new Uint8Array(g.frames.length).fill(1);
    const n = freshViews(all, this.order);
    await this.runner.evaluate(n, { fillItem: (item, slot) => this.fillGoal(item, slot), readItem: (item, slot, o) => this.readEmbedding(item, slot, o) });
    for (let v = 0; v < g.frames.length; v++) this.imageRewards.push(new GoalImageReward(this.embeddings[v]));
    this.goalFrames = null;
  }

  reset(): void {
    this.previous.fill(Number.NaN);
    this.startDistance.fill(Number.NaN);
  }

  async setTask(text: string): Promise<void> {
    const g = this.goal;
    if (g.kind !== 'text' || g.encoder === null) return;
    let reward = this.rewardsByText.get(text);
    if (reward === undefined) {
      const cached = g.encoder.cachedTexts;
      const goal = this.checked(await g.encoder.encode(text), 'goal text embedding');
      if (g.encoder.cachedTexts > cached) this.logger?.debug('goal text embedded', { text });
      reward = this.rewardFor(goal, this.baseline);
      this.rewardsByText.set(text, reward);
    }
    this.goalReward = reward;
  }

  async evaluate(views: readonly FrameWindow[], fresh: Uint8Array, out: PrmViewValues): Promise<number> {
    this.views = views;
    const n = freshViews(fresh, this.order);
    holdStale(fresh, out);
    const runs = await this.runner.evaluate(n, this);
    for (let k = 0; k < n; k++) {
      const v = this.order[k];
      const e = this.embeddings[v];
      out.stampMs[v] = views[v].newestStampMs();
      if (this.goal.kind === 'text') {
        const r = (this.goalReward as GoalBaselineReward).reward(e);
        const [lo, hi] = this.goal.range;
        const p = Number.isFinite(r) ? clip01((r - lo) / (hi - lo)) : Number.NaN;
        out.raw[v] = r;
        out.progress[v] = p;
        out.delta[v] = Number.isFinite(this.previous[v]) ? p - this.previous[v] : 0;
        this.previous[v] = p;
      } else {
        const gir = this.imageRewards[v];
        let d: number;
        if (!Number.isFinite(this.startDistance[v])) {
          gir.begin(e);
          d = gir.distance(e);
          this.startDistance[v] = d;
          out.delta[v] = 0;
        } else {
          out.delta[v] = gir.step(e);
          d = gir.distance(e);
        }
        const d0 = this.startDistance[v];
        out.raw[v] = d;
        out.progress[v] = !Number.isFinite(d) ? Number.NaN : d0 > 0 ? clip01(1 - d / d0) : d === 0 ? 1 : 0;
      }
      out.done[v] = Number.NaN;
      out.confidence[v] = Number.NaN;
    }
    return runs;
  }

  async warmUp(views: readonly FrameWindow[]): Promise<void> {
    this.views = views;
    const n = freshViews(new Uint8Array(views.length).fill(1), this.order);
    await this.runner.evaluate(n, this);
  }

  fillItem(item: number, slot: number): void {
    const image = this.runner.images[0];
    image.data.set(this.views[this.order[item]].newest(0), slot * image.itemSize);
  }

  readItem(item: number, slot: number, outputs: ort.InferenceSession.ReturnType): void {
    this.readEmbedding(item, slot, outputs);
  }

  private fillGoal(item: number, slot: number): void {
    const image = this.runner.images[0];
    image.data.set((this.goalFrames as readonly PixelTensor[])[this.order[item]], slot * image.itemSize);
  }

  private readEmbedding(item: number, slot: number, outputs: ort.InferenceSession.ReturnType): void {
    const data = outputs[this.outName].data as Float32Array;
    const e = this.embeddings[this.order[item]];
    e.set(data.subarray(slot * this.dim, (slot + 1) * this.dim));
  }

  private rewardFor(goal: Float32Array, baseline: Float32Array | null): GoalBaselineReward {
    const alpha = this.goal.kind === 'text' ? this.goal.alpha : 0;
    if (alpha > 0 && baseline === null) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `PRM ${this.runner.meta.name}: alpha ${alpha} needs a baseline (baseline_text, or text.baseline_embedding in the metadata)`);
    }
    return new GoalBaselineReward(goal, baseline ?? goal, alpha);
  }

  private checked(e: Float32Array, what: string): Float32Array {
    if (e.length !== this.dim) {
      throw new StriatumError('STRIATUM_ERR_PRM_SHAPE', `PRM ${this.runner.meta.name}: ${what} has ${e.length} dimensions, the image embedding ${this.dim}`);
    }
    return e;
  }

  async close(): Promise<void> {
    await this.runner.session.release();
    if (this.goal.kind === 'text' && this.goal.encoder !== null) await this.goal.encoder.close();
  }
}

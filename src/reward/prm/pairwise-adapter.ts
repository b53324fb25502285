// Pairwise models: H(frame a, frame b) ∈ [−1,1], the progress made from a to b.
//   incremental — one pair per view: (previous frame, current); Φ integrated with ProgressIntegrator.
//   three_way   — Robo-Dopamine: three pairs per view, hop (previous, current), forward (start, current) and
//                 backward (goal image, current), fused by MultiPerspectiveProgress.
// The first update of an episode hops from the episode's start frame (the current frame when none came).
// All pairs of all fresh views go into one run when the batch is dynamic.
import type ort from 'onnxruntime-node';
import { StriatumError } from '../../errors.js';
import { MultiPerspectiveProgress } from '../multi-perspective.js';
import { ProgressIntegrator } from '../progress-integrator.js';
import type { FrameWindow, PixelTensor } from './preprocess.js';
import { freshViews, holdStale, PrmViewValues, type PrmAdapter } from './adapter.js';
import { scalarAt, type ItemSource, type PrmRunner } from './runner.js';
import type { TextTokenizer } from './tokenizer.js';

const HOP = 0;
const FORWARD = 1;
const BACKWARD = 2;

export class PairwiseAdapter implements PrmAdapter, ItemSource {
  readonly kind = 'pairwise' as const;
  readonly needsText: boolean;
  readonly keepsPrevious = true;
  readonly needsStart = true;
  readonly window = 1;
  readonly memoryless = false;
  readonly batched: boolean;
  private readonly perItem: number; // pairs per view: 1 or 3
  private readonly integrators: ProgressIntegrator[] = [];
  private readonly perspectives: MultiPerspectiveProgress[] = [];
  private readonly order: Int32Array;
  private readonly deltas: Float64Array; // [view · 3 + perspective]
  private readonly doneOut: string | null;
  private readonly confidenceOut: string | null;
  private readonly deltaOut: string | null;
  private views: readonly FrameWindow[] = [];
  private out: PrmViewValues | null = null;

  /** goals: per view, the preprocessed goal frame (three_way only). */
  constructor(
    private readonly runner: PrmRunner,
    readonly provider: string,
    viewCount: number,
    private readonly tokenizer: TextTokenizer | null,
    private readonly goals: readonly PixelTensor[] | null,
  ) {
    if (runner.meta.frames.window !== 1) {
      throw new StriatumError('STRIATUM_ERR_PRM_SHAPE', `PRM ${runner.meta.name}: pairwise models with frames.window > 1 are not supported (each of frame a and frame b is one frame)`);
    }
    this.needsText = runner.takesText;
    this.batched = runner.dynamicBatch;
    this.perItem = goals === null ? 1 : 3;
    for (let v = 0; v < viewCount; v++) {
      this.integrators.push(new ProgressIntegrator());
      this.perspectives.push(new MultiPerspectiveProgress());
    }
    this.order = new Int32Array(viewCount);
    this.deltas = new Float64Array(3 * viewCount);
    this.deltaOut = runner.outputName('delta');
    this.doneOut = runner.outputName('done');
    this.confidenceOut = runner.outputName('confidence');
  }

  reset(): void {
    for (const i of this.integrators) i.reset();
    for (const p of this.perspectives) p.reset();
  }

  async setTask(text: string): Promise<void> {
    if (this.tokenizer !== null) this.runner.setText(text, this.tokenizer);
  }

  async evaluate(views: readonly FrameWindow[], fresh: Uint8Array, out: PrmViewValues): Promise<number> {
    this.views = views;
    this.out = out;
    const n = freshViews(fresh, this.order);
    holdStale(fresh, out);
    const runs = await this.runner.evaluate(n * this.perItem, this);
    for (let k = 0; k < n; k++) {
      const v = this.order[k];
      const hop = this.deltas[3 * v + HOP];
      out.delta[v] = hop;
      out.raw[v] = hop;
      out.stampMs[v] = views[v].newestStampMs();
      out.progress[v] = this.perItem === 1
        ? this.integrators[v].add(hop)
        : this.perspectives[v].update(hop, this.deltas[3 * v + FORWARD], this.deltas[3 * v + BACKWARD]);
    }
    return runs;
  }

  fillItem(item: number, slot: number): void {
    const v = this.order[Math.floor(item / this.perItem)];
    const which = item % this.perItem;
    const w = this.views[v];
    const a = this.runner.images[0];
    const b = this.runner.images[1];
    let first: PixelTensor;
    if (which === FORWARD) first = w.hasStart ? w.start : w.newest(w.count - 1);
    else if (which === BACKWARD) first = (this.goals as readonly PixelTensor[])[v];
    else first = w.count >= 2 ? w.newest(1) : w.hasStart ? w.start : w.newest(0);
    a.data.set(first, slot * a.itemSize);
    b.data.set(w.newest(0), slot * b.itemSize);
  }

  readItem(item: number, slot: number, outputs: ort.InferenceSession.ReturnType): void {
    const v = this.order[Math.floor(item / this.perItem)];
    const which = item % this.perItem;
    this.deltas[3 * v + which] = scalarAt(outputs, this.deltaOut, slot);
    if (which === HOP) {
      const out = this.out as PrmViewValues;
      out.done[v] = scalarAt(outputs, this.doneOut, slot);
      out.confidence[v] = scalarAt(outputs, this.confidenceOut, slot);
    }
  }

  async warmUp(views: readonly FrameWindow[]): Promise<void> {
    const fresh = new Uint8Array(views.length).fill(1);
    await this.evaluate(views, fresh, new PrmViewValues(views.length));
    this.reset();
  }

  async close(): Promise<void> {
    await this.runner.session.release();
  }
}

// Progress and success models: one image input (a window of frames), optional start-frame anchor and text.
// progress: progress = output, delta = change since the view's previous answer, done and confidence from their
// optional outputs. success: done = P(success), confidence from its optional output, progress NaN.
import type ort from 'onnxruntime-node';
import type { FrameWindow } from './preprocess.js';
import { freshViews, holdStale, PrmViewValues, type PrmAdapter } from './adapter.js';
import { scalarAt, type ItemSource, type PrmRunner } from './runner.js';
import type { TextTokenizer } from './tokenizer.js';

export class FrameModelAdapter implements PrmAdapter, ItemSource {
  readonly kind: 'progress' | 'success';
  readonly needsText: boolean;
  readonly keepsPrevious = false;
  readonly needsStart: boolean;
  readonly window: number;
  readonly memoryless: boolean;
  readonly batched: boolean;
  private readonly main: string | null;
  private readonly doneName: string | null;
  private readonly confidenceName: string | null;
  private readonly order: Int32Array;
  private readonly previous: Float64Array;
  // Bound per evaluate() call (the worker's own state, not the tick's).
  private views: readonly FrameWindow[] = [];
  private out: PrmViewValues | null = null;

  constructor(
    private readonly runner: PrmRunner,
    readonly provider: string,
    views: number,
    private readonly tokenizer: TextTokenizer | null,
  ) {
    const meta = runner.meta;
    this.kind = meta.kind === 'success' ? 'success' : 'progress';
    this.needsText = runner.takesText;
    this.needsStart = runner.start !== null;
    this.window = meta.frames.window;
    this.memoryless = this.window === 1 && !this.needsStart;
    this.batched = runner.dynamicBatch;
    this.main = runner.outputName(this.kind === 'success' ? 'success' : 'progress');
    this.doneName = runner.outputName('done');
    this.confidenceName = runner.outputName('confidence');
    this.order = new Int32Array(views);
    this.previous = new Float64Array(views).fill(Number.NaN);
  }

  reset(): void {
    this.previous.fill(Number.NaN);
  }

  async setTask(text: string): Promise<void> {
    if (this.tokenizer !== null) this.runner.setText(text, this.tokenizer);
  }

  async evaluate(views: readonly FrameWindow[], fresh: Uint8Array, out: PrmViewValues): Promise<number> {
    this.views = views;
    this.out = out;
    const n = freshViews(fresh, this.order);
    holdStale(fresh, out);
    return this.runner.evaluate(n, this);
  }

  fillItem(item: number, slot: number): void {
    const w = this.views[this.order[item]];
    const image = this.runner.images[0];
    w.copyWindow(image.data, slot * image.itemSize);
    const start = this.runner.start;
    if (start !== null) start.data.set(w.hasStart ? w.start : w.newest(w.count - 1), slot * start.itemSize);
  }

  readItem(item: number, slot: number, outputs: ort.InferenceSession.ReturnType): void {
    const v = this.order[item];
    const out = this.out as PrmViewValues;
    const value = scalarAt(outputs, this.main, slot);
    out.raw[v] = value;
    out.confidence[v] = scalarAt(outputs, this.confidenceName, slot);
    out.stampMs[v] = this.views[v].newestStampMs();
    if (this.kind === 'success') {
      out.done[v] = value;
      out.progress[v] = Number.NaN;
      out.delta[v] = Number.NaN;
      return;
    }
    out.progress[v] = value;
    out.delta[v] = Number.isFinite(this.previous[v]) ? value - this.previous[v] : 0;
    out.done[v] = scalarAt(outputs, this.doneName, slot);
    this.previous[v] = value;
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

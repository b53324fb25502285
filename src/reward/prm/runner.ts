// One PRM session with its input tensors bound by role (src/reward/metadata.ts): image inputs (frame windows),
// the start-frame anchor, token ids and mask. Buffers and tensors are made once per batch size, and the text
// rows are written once per task. Adapters fill items and read outputs; evaluate() batches the items into one
// run when the model's batch dimension is dynamic, else runs them one at a time.
import ort from 'onnxruntime-node';
import type { PrmMetadata } from '../metadata.js';
import { allocatePixels, type PixelTensor } from './preprocess.js';
import { hasDynamicBatch } from './session.js';
import type { TextTokenizer } from './tokenizer.js';

type Role = PrmMetadata['outputs'][number]['role'];

export class ImageInput {
  /** Values per batch item: window · 3 · H · W. */
  readonly itemSize: number;
  readonly data: PixelTensor;

  constructor(readonly name: string, readonly shapeTail: readonly number[], readonly dtype: 'uint8' | 'float32', capacity: number) {
    this.itemSize = shapeTail.reduce((p, d) => p * d, 1);
    this.data = allocatePixels(dtype, capacity * this.itemSize);
  }
}

/** An adapter's items: fill() writes item i's inputs at batch slot s; read() takes its outputs from slot s. */
export interface ItemSource {
  fillItem(item: number, slot: number): void;
  readItem(item: number, slot: number, outputs: ort.InferenceSession.ReturnType): void;
}

export class PrmRunner {
  readonly dynamicBatch: boolean;
  /** Items per run: maxItems when the batch is dynamic, else 1. */
  readonly capacity: number;
  /** Image inputs in declared order (pairwise: frame a, then frame b). */
  readonly images: ImageInput[] = [];
  readonly start: ImageInput | null = null;
  readonly textLength: number;
  private readonly idsName: string | null = null;
  private readonly maskName: string | null = null;
  private readonly ids: BigInt64Array | null = null;
  private readonly mask: BigInt64Array | null = null;
  private readonly feeds = new Map<number, Record<string, ort.Tensor>>();
  private readonly outputNames = new Map<Role, string>();
  /** Text written into the id rows, to skip re-tokenizing the same task. */
  private text: string | null = null;

  constructor(readonly session: ort.InferenceSession, readonly meta: PrmMetadata, maxItems: number) {
    this.dynamicBatch = hasDynamicBatch(session, meta);
    this.capacity = this.dynamicBatch ? maxItems : 1;
    const { preprocessing: pre, frames } = meta;
    const frame = pre.layout === 'nchw' ? [3, pre.resize.height, pre.resize.width] : [pre.resize.height, pre.resize.width, 3];
    let start: ImageInput | null = null;
    let length = 0;
    for (const t of meta.inputs) {
      if (t.role === 'image') {
        const tail = t.shape.length === 5 ? [frames.window, ...frame] : frame;
        this.images.push(new ImageInput(t.name, tail, pre.dtype, this.capacity));
      } else if (t.role === 'start_image') {
        start = new ImageInput(t.name, frame, pre.dtype, this.capacity);
      } else if (t.role === 'text_ids') {
        length = meta.text?.max_length ?? (t.shape[1] > 0 ? t.shape[1] : 1);
        this.idsName = t.name;
      } else {
        this.maskName = t.name;
      }
    }
    this.start = start;
    this.textLength = length;
    if (this.idsName !== null) this.ids = new BigInt64Array(this.capacity * length);
    if (this.maskName !== null) this.mask = new BigInt64Array(this.capacity * length);
    for (const o of meta.outputs) this.outputNames.set(o.role, o.name);
  }

  get takesText(): boolean {
    return this.idsName !== null;
  }

  /** Tokenize the task text into every batch row (once per distinct text). */
  setText(text: string, tokenizer: TextTokenizer): void {
    if (this.ids === null || text === this.text) return;
    for (let row = 0; row < this.capacity; row++) tokenizer.encodeInto(text, this.textLength, this.ids, this.mask, row);
    this.text = text;
  }

  outputName(role: Role): string | null {
    return this.outputNames.get(role) ?? null;
  }

  /** Run `count` items (batched when possible); returns the number of session runs. */
  async evaluate(count: number, source: ItemSource): Promise<number> {
    if (count === 0) return 0;
    if (this.dynamicBatch) {
      for (let i = 0; i < count; i++) source.fillItem(i, i);
      const out = await this.session.run(this.feedsFor(count));
      for (let i = 0; i < count; i++) source.readItem(i, i, out);
      return 1;
    }
    const feeds = this.feedsFor(1);
    for (let i = 0; i < count; i++) {
      source.fillItem(i, 0);
      const out = await this.session.run(feeds);
      source.readItem(i, 0, out);
    }
    return count;
  }

  private feedsFor(batch: number): Record<string, ort.Tensor> {
    let feeds = this.feeds.get(batch);
    if (feeds !== undefined) return feeds;
    feeds = {};
    const all = this.start === null ? this.images : [...this.images, this.start];
    for (const input of all) {
      const view = input.data.subarray(0, batch * input.itemSize);
      feeds[input.name] = input.dtype === 'uint8'
        ? new ort.Tensor('uint8', view as Uint8Array, [batch, ...input.shapeTail])
        : new ort.Tensor('float32', view as Float32Array, [batch, ...input.shapeTail]);
    }
    if (this.idsName !== null && this.ids !== null) feeds[this.idsName] = new ort.Tensor('int64', this.ids.subarray(0, batch * this.textLength), [batch, this.textLength]);
    if (this.maskName !== null && this.mask !== null) feeds[this.maskName] = new ort.Tensor('int64', this.mask.subarray(0, batch * this.textLength), [batch, this.textLength]);
    this.feeds.set(batch, feeds);
    return feeds;
  }
}

/** One value of a [batch] or [batch, 1] output at batch slot s; NaN when the output is absent. */
export function scalarAt(outputs: ort.InferenceSession.ReturnType, name: string | null, slot: number): number {
  if (name === null) return Number.NaN;
  const t = outputs[name];
  return t === undefined ? Number.NaN : (t.data as Float32Array)[slot];
}

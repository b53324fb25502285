// The text tower of a CLIP/SigLIP-shaped embedding PRM: token ids → one embedding. It runs once per distinct
// text (the task's goal and the baseline prompt) and its answers are cached, never per frame.
import ort from 'onnxruntime-node';
import { StriatumError } from '../../errors.js';
import type { TextTokenizer } from './tokenizer.js';

export interface TextEncoderNames {
  readonly idsInput: string;
  readonly maskInput: string | null;
  /** null: the model's first output. */
  readonly output: string | null;
}

export class TextEncoder {
  private readonly ids: BigInt64Array;
  private readonly mask: BigInt64Array | null;
  private readonly feeds: Record<string, ort.Tensor>;
  private readonly outputName: string;
  private readonly cache = new Map<string, Float32Array>();

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: TextTokenizer,
    private readonly maxLength: number,
    names: TextEncoderNames,
    source: string,
  ) {
    const problems: string[] = [];
    const input = session.inputMetadata.find((m) => m.name === names.idsInput);
    if (input === undefined) problems.push(`input '${names.idsInput}': not in the text encoder, which has inputs [${session.inputNames.join(', ')}]`);
    else if (input.isTensor && input.type !== 'int64') problems.push(`input '${names.idsInput}': type ${input.type}, token ids must be int64`);
    if (names.maskInput !== null && !session.inputNames.includes(names.maskInput)) problems.push(`input '${names.maskInput}': not in the text encoder`);
    for (const name of session.inputNames) {
      if (name !== names.idsInput && name !== names.maskInput) problems.push(`input '${name}': the text encoder has an input that is neither ids_input nor mask_input`);
    }
    this.outputName = names.output ?? session.outputNames[0];
    if (!session.outputNames.includes(this.outputName)) problems.push(`output '${this.outputName}': not in the text encoder, which has outputs [${session.outputNames.join(', ')}]`);
    if (problems.length > 0) throw new StriatumError('STRIATUM_ERR_PRM_SHAPE', `text encoder ${source} does not fit`, problems);
    this.ids = new BigInt64Array(maxLength);
    this.mask = names.maskInput === null ? null : new BigInt64Array(maxLength);
    this.feeds = { [names.idsInput]: new ort.Tensor('int64', this.ids, [1, maxLength]) };
    if (names.maskInput !== null && this.mask !== null) this.feeds[names.maskInput] = new ort.Tensor('int64', this.mask, [1, maxLength]);
  }

  /** The embedding of `text` (cached per text; the array is shared, do not modify it). */
  async encode(text: string): Promise<Float32Array> {
    const hit = this.cache.get(text);
    if (hit !== undefined) return hit;
    this.tokenizer.encodeInto(text, this.maxLength, this.ids, this.mask);
    const out = await this.session.run(this.feeds);
    const embedding = Float32Array.from(out[this.outputName].data as Float32Array);
    this.cache.set(text, embedding);
    return embedding;
  }

  get cachedTexts(): number {
    return this.cache.size;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

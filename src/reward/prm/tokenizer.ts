// Task text → fixed-length token ids for a PRM's text input, from a local Hugging Face tokenizer.json (with the
// tokenizer_config.json beside it when there is one). The tokenizer itself is @huggingface/tokenizers: pure JS,
// no dependencies, and it covers the models (WordPiece, WordLevel, BPE, Unigram), normalizers and
// post-processors those files use. Text is tokenized once per task, never per frame, so allocation is fine here.
//
// Padding and truncation follow the model's fixed max_length: ids are cut to max_length (a cut sequence keeps
// its final special token, e.g. [SEP] or CLIP's end-of-text, whose position some text encoders pool at) and
// padded with the pad id (tokenizer.json's padding.pad_id, else [PAD] / <pad> / <|endoftext|>, else 0); the
// mask is 1 on real tokens and 0 on padding.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { StriatumError } from '../../errors.js';

const PAD_CANDIDATES = ['[PAD]', '<pad>', '<|endoftext|>'];

export class TextTokenizer {
  readonly padId: number;
  private readonly specialIds: Set<number>;

  private constructor(private readonly tokenizer: Tokenizer, padId: number, specialIds: Set<number>, private readonly unkId: number | null) {
    this.padId = padId;
    this.specialIds = specialIds;
  }

  static load(path: string): TextTokenizer {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_PRM_METADATA', `cannot read tokenizer ${path}: ${(err as Error).message}`);
    }
    const configPath = join(dirname(path), 'tokenizer_config.json');
    let config: Record<string, unknown> = {};
    if (existsSync(configPath)) {
      try {
        config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
      } catch (err) {
        throw new StriatumError('STRIATUM_ERR_PRM_METADATA', `cannot read ${configPath}: ${(err as Error).message}`);
      }
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, config);
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_PRM_METADATA', `tokenizer ${path} could not be built: ${(err as Error).message}`);
    }
    const special = new Set<number>();
    const added = json.added_tokens;
    if (Array.isArray(added)) for (const t of added as { id?: unknown; special?: unknown }[]) if (t.special === true && typeof t.id === 'number') special.add(t.id);
    const padding = json.padding as { pad_id?: unknown } | null | undefined;
    let padId = typeof padding?.pad_id === 'number' ? padding.pad_id : -1;
    for (const candidate of PAD_CANDIDATES) {
      if (padId >= 0) break;
      padId = tokenizer.token_to_id(candidate) ?? -1;
    }
    // @huggingface/tokenizers leaves a word missing from a WordLevel vocabulary as a null id instead of the model's
    // unk_token: the id is mapped here, as the Python tokenizers library (the trainers') maps it.
    const unkToken = (json.model as { unk_token?: unknown } | undefined)?.unk_token;
    const unkId = typeof unkToken === 'string' ? tokenizer.token_to_id(unkToken) ?? null : null;
    return new TextTokenizer(tokenizer, padId >= 0 ? padId : 0, special, unkId);
  }

  /** Token ids of `text` as the tokenizer gives them (with special tokens), before padding or cutting. */
  ids(text: string): number[] {
    const { ids, tokens } = this.tokenizer.encode(text) as { ids: (number | null | undefined)[]; tokens: string[] };
    return ids.map((id, i): number => {
      if (typeof id === 'number') return id;
      if (this.unkId !== null) return this.unkId;
      throw new StriatumError('STRIATUM_ERR_PRM_METADATA', `tokenizer: "${tokens[i]}" is not in the vocabulary and the tokenizer has no unk_token`);
    });
  }

  /**
   * Write the ids of `text`, cut or padded to `maxLength`, into ids[row·maxLength ..), and the attention mask
   * into mask (when given). Returns the number of real tokens.
   */
  encodeInto(text: string, maxLength: number, ids: BigInt64Array, mask: BigInt64Array | null, row = 0): number {
    const all = this.ids(text);
    const n = Math.min(all.length, maxLength);
    const at = row * maxLength;
    for (let i = 0; i < maxLength; i++) {
      ids[at + i] = BigInt(i < n ? all[i] : this.padId);
      if (mask !== null) mask[at + i] = i < n ? 1n : 0n;
    }
    const last = all[all.length - 1];
    // An unknown word ends a sentence as [UNK], which is special but no end marker: it is cut like any word.
    if (all.length > maxLength && this.specialIds.has(last) && last !== this.unkId) ids[at + maxLength - 1] = BigInt(last);
    return n;
  }
}

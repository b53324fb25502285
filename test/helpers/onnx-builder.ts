// Writes small ONNX models by hand (protobuf encoded here, no Python), so tests and benchmarks run real models
// through onnxruntime with outputs known in advance.

type Dim = number | string; // a string is a symbolic (dynamic) dimension

class Pb {
  private readonly parts: Buffer[] = [];
  private varint(v: bigint | number): void {
    let x = BigInt(v);
    if (x < 0n) x += 1n << 64n;
    const bytes: number[] = [];
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) b |= 0x80;
      bytes.push(b);
    } while (x !== 0n);
    this.parts.push(Buffer.from(bytes));
  }
  int(field: number, v: number | bigint): this { this.varint((field << 3) | 0); this.varint(v); return this; }
  bytes(field: number, b: Buffer): this { this.varint((field << 3) | 2); this.varint(b.length); this.parts.push(b); return this; }
  str(field: number, s: string): this { return this.bytes(field, Buffer.from(s, 'utf8')); }
  msg(field: number, m: Pb): this { return this.bytes(field, m.done()); }
  float(field: number, f: number): this { this.varint((field << 3) | 5); const b = Buffer.alloc(4); b.writeFloatLE(f); this.parts.push(b); return this; }
  done(): Buffer { return Buffer.concat(this.parts); }
}

const FLOAT = 1;
const INT64 = 7;
/** ONNX TensorProto element types by name (inputs and outputs default to float32). */
const ELEM_TYPES = { float32: 1, uint8: 2, int64: 7 } as const;
export type ElemType = keyof typeof ELEM_TYPES;

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, number | number[]>;
}

export interface ModelSpec {
  inputs: { name: string; shape: Dim[]; dtype?: ElemType }[];
  outputs: { name: string; shape: Dim[]; dtype?: ElemType }[];
  nodes: NodeSpec[];
  /** Float initializers (row-major) or int64 ones (for Reshape shapes). */
  initializers?: { name: string; dims: number[]; values: number[]; int64?: boolean }[];
}

function valueInfo(name: string, shape: Dim[], dtype: ElemType = 'float32'): Pb {
  const shapePb = new Pb();
  for (const d of shape) shapePb.msg(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
  const tensorType = new Pb().int(1, ELEM_TYPES[dtype]).msg(2, shapePb);
  return new Pb().str(1, name).msg(2, new Pb().msg(1, tensorType));
}

export function buildOnnxModel(spec: ModelSpec): Buffer {
  const graph = new Pb();
  spec.nodes.forEach((n, i) => {
    const node = new Pb();
    for (const x of n.inputs) node.str(1, x);
    for (const y of n.outputs) node.str(2, y);
    node.str(3, `${n.op}_${i}`).str(4, n.op);
    for (const [name, value] of Object.entries(n.attrs ?? {})) {
      const a = new Pb().str(1, name);
      if (Array.isArray(value)) { for (const v of value) a.int(8, v); a.int(20, 7); }
      else if (Number.isInteger(value)) a.int(3, value).int(20, 2);
      else a.float(2, value).int(20, 1);
      node.msg(5, a);
    }
    graph.msg(1, node);
  });
  graph.str(2, 'test_graph');
  for (const init of spec.initializers ?? []) {
    const t = new Pb();
    for (const d of init.dims) t.int(1, d);
    t.int(2, init.int64 ? INT64 : FLOAT).str(8, init.name);
    let raw: Buffer;
    if (init.int64) {
      raw = Buffer.alloc(8 * init.values.length);
      init.values.forEach((v, i) => raw.writeBigInt64LE(BigInt(v), 8 * i));
    } else {
      raw = Buffer.from(new Float32Array(init.values).buffer);
    }
    t.bytes(9, raw);
    graph.msg(5, t);
  }
  for (const i of spec.inputs) graph.msg(11, valueInfo(i.name, i.shape, i.dtype));
  for (const o of spec.outputs) graph.msg(12, valueInfo(o.name, o.shape, o.dtype));
  return new Pb()
    .int(1, 8) // ir_version
    .str(2, 'striatum-test')
    .msg(8, new Pb().str(1, '').int(2, 17)) // opset 17
    .msg(7, graph)
    .done();
}

/**
 * A linear policy: action = observation · W + b, output shaped [batch, chunk, act] (or [batch, act] when
 * chunk is 0). W is obsDim × (chunk·act), row-major.
 */
export function linearPolicyModel(obsDim: number, actDim: number, chunk: number, W: number[], b: number[], names = { input: 'observation', output: 'action' }): Buffer {
  const width = Math.max(1, chunk) * actDim;
  const nodes: NodeSpec[] = [
    { op: 'MatMul', inputs: [names.input, 'W'], outputs: ['mm'] },
    { op: 'Add', inputs: ['mm', 'b'], outputs: [chunk === 0 ? names.output : 'flat'] },
  ];
  const initializers: NonNullable<ModelSpec['initializers']> = [
    { name: 'W', dims: [obsDim, width], values: W },
    { name: 'b', dims: [width], values: b },
  ];
  if (chunk > 0) {
    nodes.push({ op: 'Reshape', inputs: ['flat', 'shape'], outputs: [names.output] });
    initializers.push({ name: 'shape', dims: [3], values: [-1, chunk, actDim], int64: true });
  }
  return buildOnnxModel({
    inputs: [{ name: names.input, shape: ['batch', obsDim] }],
    outputs: [{ name: names.output, shape: chunk > 0 ? ['batch', chunk, actDim] : ['batch', actDim] }],
    nodes,
    initializers,
  });
}

/** An MLP obs→hidden→hidden→act with ReLU and fixed pseudo-random weights (for benchmarks). */
export function mlpPolicyModel(obsDim: number, hidden: number, actDim: number, seed = 1): Buffer {
  let s = seed >>> 0;
  const rnd = () => { s = (s * 1664525 + 1013904223) >>> 0; return (s / 2 ** 32 - 0.5) * 0.2; };
  const mat = (r: number, c: number) => Array.from({ length: r * c }, rnd);
  return buildOnnxModel({
    inputs: [{ name: 'observation', shape: ['batch', obsDim] }],
    outputs: [{ name: 'action', shape: ['batch', 1, actDim] }],
    nodes: [
      { op: 'Gemm', inputs: ['observation', 'W1', 'b1'], outputs: ['h1'] },
      { op: 'Relu', inputs: ['h1'], outputs: ['r1'] },
      { op: 'Gemm', inputs: ['r1', 'W2', 'b2'], outputs: ['h2'] },
      { op: 'Relu', inputs: ['h2'], outputs: ['r2'] },
      { op: 'Gemm', inputs: ['r2', 'W3', 'b3'], outputs: ['flat'] },
      { op: 'Reshape', inputs: ['flat', 'shape'], outputs: ['action'] },
    ],
    initializers: [
      { name: 'W1', dims: [obsDim, hidden], values: mat(obsDim, hidden) },
      { name: 'b1', dims: [hidden], values: mat(1, hidden) },
      { name: 'W2', dims: [hidden, hidden], values: mat(hidden, hidden) },
      { name: 'b2', dims: [hidden], values: mat(1, hidden) },
      { name: 'W3', dims: [hidden, actDim], values: mat(hidden, actDim) },
      { name: 'b3', dims: [actDim], values: mat(1, actDim) },
      { name: 'shape', dims: [3], values: [-1, 1, actDim], int64: true },
    ],
  });
}

// ── Process-reward model (PRM) test models ────────────────────────────────────────────────────────────────
// Image inputs are nchw float32 [batch, 3, size, size] with a dynamic batch unless `batch` says otherwise.
// Each graph's output is a closed form of its inputs, so a test can compute the expected value by hand.

export interface PrmImageOptions {
  size: number;
  /** Batch dimension: 'batch' (dynamic, the default) or 1. */
  batch?: Dim;
}

const imageShape = (o: PrmImageOptions): Dim[] => [o.batch ?? 'batch', 3, o.size, o.size];

/** Nodes computing mean(image[:, channel]) → `[batch, 1]` named `out` (intermediates prefixed by `tag`). */
function channelMeanNodes(image: string, channel: number, out: string, tag: string): { nodes: NodeSpec[]; inits: NonNullable<ModelSpec['initializers']> } {
  return {
    nodes: [
      { op: 'Slice', inputs: [image, `${tag}_starts`, `${tag}_ends`, `${tag}_axes`], outputs: [`${tag}_ch`] },
      { op: 'ReduceMean', inputs: [`${tag}_ch`], outputs: [`${tag}_mean4`], attrs: { axes: [1, 2, 3], keepdims: 1 } },
      { op: 'Reshape', inputs: [`${tag}_mean4`, `${tag}_shape`], outputs: [out] },
    ],
    inits: [
      { name: `${tag}_starts`, dims: [1], values: [channel], int64: true },
      { name: `${tag}_ends`, dims: [1], values: [channel + 1], int64: true },
      { name: `${tag}_axes`, dims: [1], values: [1], int64: true },
      { name: `${tag}_shape`, dims: [2], values: [-1, 1], int64: true },
    ],
  };
}

/**
 * Progress model: progress = mean of one channel of `pixels` (red by default). With `text`, a second input
 * `input_ids` [batch, textLength] int64 and an output `confidence` = Σ ids / 1000. With `startAnchor`, an input
 * `start_pixels` and an output `done` = mean red of the start image.
 */
export function channelMeanProgressModel(o: PrmImageOptions & { channel?: number; textLength?: number; startAnchor?: boolean }): Buffer {
  const red = channelMeanNodes('pixels', o.channel ?? 0, 'progress', 'p');
  const nodes = [...red.nodes];
  const initializers = [...red.inits];
  const inputs: ModelSpec['inputs'] = [{ name: 'pixels', shape: imageShape(o) }];
  const outputs: ModelSpec['outputs'] = [{ name: 'progress', shape: [o.batch ?? 'batch', 1] }];
  if (o.textLength !== undefined) {
    inputs.push({ name: 'input_ids', shape: [o.batch ?? 'batch', o.textLength], dtype: 'int64' });
    nodes.push(
      { op: 'Cast', inputs: ['input_ids'], outputs: ['ids_f'], attrs: { to: 1 } },
      { op: 'ReduceSum', inputs: ['ids_f', 'sum_axes'], outputs: ['ids_sum'], attrs: { keepdims: 1 } },
      { op: 'Div', inputs: ['ids_sum', 'thousand'], outputs: ['confidence'] },
    );
    initializers.push({ name: 'sum_axes', dims: [1], values: [1], int64: true }, { name: 'thousand', dims: [], values: [1000] });
    outputs.push({ name: 'confidence', shape: [o.batch ?? 'batch', 1] });
  }
  if (o.startAnchor === true) {
    inputs.push({ name: 'start_pixels', shape: imageShape(o) });
    const s = channelMeanNodes('start_pixels', 0, 'done', 's');
    nodes.push(...s.nodes);
    initializers.push(...s.inits);
    outputs.push({ name: 'done', shape: [o.batch ?? 'batch', 1] });
  }
  return buildOnnxModel({ inputs, outputs, nodes, initializers });
}

/** Pairwise model: delta = gain · (mean(frame_b) − mean(frame_a)), means over all channels and pixels. */
export function meanDifferencePairwiseModel(o: PrmImageOptions & { gain: number }): Buffer {
  return buildOnnxModel({
    inputs: [{ name: 'frame_a', shape: imageShape(o) }, { name: 'frame_b', shape: imageShape(o) }],
    outputs: [{ name: 'delta', shape: [o.batch ?? 'batch', 1] }],
    nodes: [
      { op: 'ReduceMean', inputs: ['frame_a'], outputs: ['ma'], attrs: { axes: [1, 2, 3], keepdims: 1 } },
      { op: 'ReduceMean', inputs: ['frame_b'], outputs: ['mb'], attrs: { axes: [1, 2, 3], keepdims: 1 } },
      { op: 'Sub', inputs: ['mb', 'ma'], outputs: ['d4'] },
      { op: 'Mul', inputs: ['d4', 'gain'], outputs: ['g4'] },
      { op: 'Reshape', inputs: ['g4', 'shape'], outputs: ['delta'] },
    ],
    initializers: [{ name: 'gain', dims: [], values: [o.gain] }, { name: 'shape', dims: [2], values: [-1, 1], int64: true }],
  });
}

/** Success model: success = sigmoid(gain · (mean red − 0.5)). */
export function redSuccessModel(o: PrmImageOptions & { gain: number }): Buffer {
  const red = channelMeanNodes('pixels', 0, 'red', 'p');
  return buildOnnxModel({
    inputs: [{ name: 'pixels', shape: imageShape(o) }],
    outputs: [{ name: 'success', shape: [o.batch ?? 'batch', 1] }],
    nodes: [
      ...red.nodes,
      { op: 'Sub', inputs: ['red', 'half'], outputs: ['centred'] },
      { op: 'Mul', inputs: ['centred', 'gain'], outputs: ['logit'] },
      { op: 'Sigmoid', inputs: ['logit'], outputs: ['success'] },
    ],
    initializers: [...red.inits, { name: 'half', dims: [], values: [0.5] }, { name: 'gain', dims: [], values: [o.gain] }],
  });
}

/** CLIP-shaped image encoder: embedding = (per-channel mean of pixels) · W, W is 3 × D row-major. */
export function pooledLinearImageEncoder(o: PrmImageOptions & { W: number[]; dim: number }): Buffer {
  return buildOnnxModel({
    inputs: [{ name: 'pixels', shape: imageShape(o) }],
    outputs: [{ name: 'embedding', shape: [o.batch ?? 'batch', o.dim] }],
    nodes: [
      { op: 'ReduceMean', inputs: ['pixels'], outputs: ['pooled'], attrs: { axes: [2, 3], keepdims: 0 } },
      { op: 'MatMul', inputs: ['pooled', 'W'], outputs: ['embedding'] },
    ],
    initializers: [{ name: 'W', dims: [3, o.dim], values: o.W }],
  });
}

/** CLIP-shaped text encoder: text_embedding = mean over the L positions of E[input_ids] (E is V × D row-major). */
export function embeddingLookupTextEncoder(o: { vocab: number; dim: number; length: number; E: number[] }): Buffer {
  return buildOnnxModel({
    inputs: [{ name: 'input_ids', shape: ['batch', o.length], dtype: 'int64' }],
    outputs: [{ name: 'text_embedding', shape: ['batch', o.dim] }],
    nodes: [
      { op: 'Gather', inputs: ['E', 'input_ids'], outputs: ['tokens'], attrs: { axis: 0 } },
      { op: 'ReduceMean', inputs: ['tokens'], outputs: ['text_embedding'], attrs: { axes: [1], keepdims: 0 } },
    ],
    initializers: [{ name: 'E', dims: [o.vocab, o.dim], values: o.E }],
  });
}

/** A progress model that fails inside run(): it reshapes 3·size² values per item into rows of 7 (size² not a multiple of 7). */
export function throwingProgressModel(o: PrmImageOptions): Buffer {
  return buildOnnxModel({
    inputs: [{ name: 'pixels', shape: imageShape(o) }],
    outputs: [{ name: 'progress', shape: [o.batch ?? 'batch', 1] }],
    nodes: [
      { op: 'Reshape', inputs: ['pixels', 'bad'], outputs: ['rows'] },
      { op: 'ReduceMean', inputs: ['rows'], outputs: ['progress'], attrs: { axes: [1], keepdims: 1 } },
    ],
    initializers: [{ name: 'bad', dims: [2], values: [-1, 7], int64: true }],
  });
}

/** A progress model whose output is NaN: sqrt(−1 − mean red). */
export function nanProgressModel(o: PrmImageOptions): Buffer {
  const red = channelMeanNodes('pixels', 0, 'red', 'p');
  return buildOnnxModel({
    inputs: [{ name: 'pixels', shape: imageShape(o) }],
    outputs: [{ name: 'progress', shape: [o.batch ?? 'batch', 1] }],
    nodes: [
      ...red.nodes,
      { op: 'Add', inputs: ['red', 'one'], outputs: ['shifted'] },
      { op: 'Neg', inputs: ['shifted'], outputs: ['negative'] },
      { op: 'Sqrt', inputs: ['negative'], outputs: ['progress'] },
    ],
    initializers: [...red.inits, { name: 'one', dims: [], values: [1] }],
  });
}

/**
 * A slow progress model: progress = mean red, but first `matmuls` products of an n×n matrix with itself
 * (about 2·n³ flops each) whose result is multiplied by 0 and added in. The output stays the mean red.
 */
export function slowProgressModel(o: PrmImageOptions & { n: number; matmuls: number }): Buffer {
  const red = channelMeanNodes('pixels', 0, 'red', 'p');
  const nodes: NodeSpec[] = [
    ...red.nodes,
    // Seed the chain from the input so nothing can be constant-folded at load time.
    { op: 'ReduceMean', inputs: ['red'], outputs: ['red_scalar'], attrs: { axes: [0, 1], keepdims: 0 } },
    { op: 'Mul', inputs: ['M', 'red_scalar'], outputs: ['m0'] },
  ];
  for (let i = 0; i < o.matmuls; i++) nodes.push({ op: 'MatMul', inputs: [`m${i}`, 'M'], outputs: [`m${i + 1}`] });
  nodes.push(
    { op: 'ReduceMean', inputs: [`m${o.matmuls}`], outputs: ['chain'], attrs: { axes: [0, 1], keepdims: 0 } },
    { op: 'Mul', inputs: ['chain', 'zero'], outputs: ['nothing'] },
    { op: 'Add', inputs: ['red', 'nothing'], outputs: ['progress'] },
  );
  const values = new Array<number>(o.n * o.n);
  for (let i = 0; i < values.length; i++) values[i] = ((i * 7919) % 13) / (13 * o.n);
  return buildOnnxModel({
    inputs: [{ name: 'pixels', shape: imageShape(o) }],
    outputs: [{ name: 'progress', shape: [o.batch ?? 'batch', 1] }],
    nodes,
    initializers: [...red.inits, { name: 'M', dims: [o.n, o.n], values }, { name: 'zero', dims: [], values: [0] }],
  });
}

/**
 * A small convolutional progress model of realistic shape for benchmarks: three stride-2 3×3 convolutions with
 * ReLU (3 → c → 2c → 4c channels), global average pooling, a linear head and a sigmoid. Fixed pseudo-random weights.
 */
export function convProgressModel(o: PrmImageOptions & { channels: number; seed?: number }): Buffer {
  let s = (o.seed ?? 1) >>> 0;
  const rnd = () => { s = (s * 1664525 + 1013904223) >>> 0; return (s / 2 ** 32 - 0.5) * 0.2; };
  const fill = (n: number) => Array.from({ length: n }, rnd);
  const c = [3, o.channels, 2 * o.channels, 4 * o.channels];
  const nodes: NodeSpec[] = [];
  const initializers: NonNullable<ModelSpec['initializers']> = [];
  let x = 'pixels';
  for (let l = 0; l < 3; l++) {
    initializers.push({ name: `w${l}`, dims: [c[l + 1], c[l], 3, 3], values: fill(c[l + 1] * c[l] * 9) }, { name: `b${l}`, dims: [c[l + 1]], values: fill(c[l + 1]) });
    nodes.push(
      { op: 'Conv', inputs: [x, `w${l}`, `b${l}`], outputs: [`conv${l}`], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
      { op: 'Relu', inputs: [`conv${l}`], outputs: [`relu${l}`] },
    );
    x = `relu${l}`;
  }
  initializers.push({ name: 'head', dims: [c[3], 1], values: fill(c[3]) }, { name: 'head_b', dims: [1], values: [0] });
  nodes.push(
    { op: 'GlobalAveragePool', inputs: [x], outputs: ['pooled'] },
    { op: 'Flatten', inputs: ['pooled'], outputs: ['features'], attrs: { axis: 1 } },
    { op: 'Gemm', inputs: ['features', 'head', 'head_b'], outputs: ['logit'] },
    { op: 'Sigmoid', inputs: ['logit'], outputs: ['progress'] },
  );
  return buildOnnxModel({ inputs: [{ name: 'pixels', shape: imageShape(o) }], outputs: [{ name: 'progress', shape: [o.batch ?? 'batch', 1] }], nodes, initializers });
}

/** Metadata (`striatum.prm/v1`) for a PRM test model with nchw float32 size×size inputs scaled by 1/255. */
export function prmTestMetadata(o: {
  name: string;
  kind: 'progress' | 'pairwise' | 'embedding' | 'success';
  model: string;
  size: number;
  inputs: { name: string; role: string; shape?: number[]; dtype?: string }[];
  outputs: { name: string; role: string; shape?: number[] }[];
  text?: Record<string, unknown> | null;
  frames?: Record<string, unknown>;
  preprocessing?: Record<string, unknown>;
}): Record<string, unknown> {
  const image = [-1, 3, o.size, o.size];
  return {
    format: 'striatum.prm/v1',
    name: o.name,
    version: 'test-1',
    kind: o.kind,
    model: o.model,
    inputs: o.inputs.map((t) => ({
      name: t.name, role: t.role, dtype: t.dtype ?? (t.role === 'text_ids' || t.role === 'text_mask' ? 'int64' : 'float32'),
      shape: t.shape ?? (t.role === 'image' || t.role === 'start_image' ? image : [-1, 8]),
    })),
    outputs: o.outputs.map((t) => ({ name: t.name, role: t.role, dtype: 'float32', shape: t.shape ?? [-1, 1] })),
    preprocessing: { resize: { width: o.size, height: o.size }, layout: 'nchw', dtype: 'float32', scale: 1 / 255, ...o.preprocessing },
    ...(o.text === undefined || o.text === null ? {} : { text: o.text }),
    ...(o.frames === undefined ? {} : { frames: o.frames }),
  };
}

/**
 * A Hugging Face tokenizer.json for a lower-casing WordPiece (BERT-style) tokenizer over `words`, with
 * [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3 and the words numbered from 4, wrapping every text as [CLS] … [SEP].
 */
export function wordPieceTokenizerJson(words: readonly string[]): Record<string, unknown> {
  const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'];
  const vocab: Record<string, number> = {};
  [...special, ...words].forEach((w, i) => { vocab[w] = i; });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

/**
 * A frame-window progress model on raw pixels: input `frames` uint8 nhwc [batch, 2, size, size, 3];
 * progress = mean red of the newest frame minus mean red of the oldest, divided by 255.
 */
export function windowRedDifferenceModel(o: { size: number }): Buffer {
  const i64 = (name: string, values: number[]) => ({ name, dims: [values.length], values, int64: true });
  return buildOnnxModel({
    inputs: [{ name: 'frames', shape: ['batch', 2, o.size, o.size, 3], dtype: 'uint8' }],
    outputs: [{ name: 'progress', shape: ['batch', 1] }],
    nodes: [
      { op: 'Cast', inputs: ['frames'], outputs: ['f'], attrs: { to: 1 } },
      { op: 'Slice', inputs: ['f', 'one', 'two', 'time_axis'], outputs: ['newest'] },
      { op: 'Slice', inputs: ['f', 'zero', 'one', 'time_axis'], outputs: ['oldest'] },
      { op: 'Sub', inputs: ['newest', 'oldest'], outputs: ['change'] },
      { op: 'Slice', inputs: ['change', 'zero', 'one', 'channel_axis'], outputs: ['red'] },
      { op: 'ReduceMean', inputs: ['red'], outputs: ['m'], attrs: { axes: [1, 2, 3, 4], keepdims: 1 } },
      { op: 'Div', inputs: ['m', 'full'], outputs: ['scaled'] },
      { op: 'Reshape', inputs: ['scaled', 'shape'], outputs: ['progress'] },
    ],
    initializers: [
      i64('zero', [0]), i64('one', [1]), i64('two', [2]), i64('time_axis', [1]), i64('channel_axis', [4]), i64('shape', [-1, 1]),
      { name: 'full', dims: [], values: [255] },
    ],
  });
}

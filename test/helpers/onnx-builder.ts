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

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, number | number[]>;
}

export interface ModelSpec {
  inputs: { name: string; shape: Dim[] }[];
  outputs: { name: string; shape: Dim[] }[];
  nodes: NodeSpec[];
  /** Float initializers (row-major) or int64 ones (for Reshape shapes). */
  initializers?: { name: string; dims: number[]; values: number[]; int64?: boolean }[];
}

function valueInfo(name: string, shape: Dim[]): Pb {
  const shapePb = new Pb();
  for (const d of shape) shapePb.msg(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
  const tensorType = new Pb().int(1, FLOAT).msg(2, shapePb);
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
  for (const i of spec.inputs) graph.msg(11, valueInfo(i.name, i.shape));
  for (const o of spec.outputs) graph.msg(12, valueInfo(o.name, o.shape));
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

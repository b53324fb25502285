// An onnxruntime session whose run() returns synchronously, for the control tick. onnxruntime-node's public
// InferenceSession.run() calls the same native run() on the main thread, but only after a setImmediate hop and
// with a promise, a fetches map and a re-wrapped result map around it: the hop lets a whole event-loop turn (timers,
// I/O callbacks) run inside the tick, and the wrappers are garbage every tick. This adapter calls the native binding
// directly, writing into an output tensor the caller allocates once.
import ort from 'onnxruntime-node';
import { binding, initOrt, type Binding } from 'onnxruntime-node/dist/binding.js';

/** The dtype names onnxruntime-node's backend gives the binding's numeric element types (index = type code). */
const ELEMENT_TYPES: readonly (ort.Tensor.Type | undefined)[] = [
  undefined, 'float32', 'uint8', 'int8', 'uint16', 'int16', 'int32', 'int64', 'string', 'bool', 'float16', 'float64',
  'uint32', 'uint64', undefined, undefined, undefined, undefined, undefined, undefined, undefined, 'uint4', 'int4',
];

export class SyncOnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  /** Passed to every run: the binding wants a run-options object, and one made per call would be garbage. */
  private readonly runOptions: ort.InferenceSession.RunOptions = {};

  private constructor(private readonly native: Binding.InferenceSession) {
    this.inputNames = native.inputMetadata.map((m) => m.name);
    this.outputNames = native.outputMetadata.map((m) => m.name);
    this.inputMetadata = native.inputMetadata.map(toValueMetadata);
    this.outputMetadata = native.outputMetadata.map(toValueMetadata);
  }

  /**
   * Load a model with the options onnxruntime-node's InferenceSession.create() would pass its backend. An execution
   * provider this build of onnxruntime-node does not ship is refused here, as create() refuses it.
   */
  static open(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions): SyncOnnxSession {
    const supported = binding.listSupportedBackends().map((b) => b.name);
    for (const ep of options.executionProviders ?? []) {
      const name = typeof ep === 'string' ? ep : ep.name;
      if (!supported.includes(name)) throw new Error(`no available backend found for execution provider "${name}" (this build has ${supported.join(', ')})`);
    }
    initOrt();
    const native = new binding.InferenceSession();
    native.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, options);
    return new SyncOnnxSession(native);
  }

  /**
   * Run the model now. `fetches` maps output names to tensors to fill in place (allocated once by the caller), or
   * to null for outputs onnxruntime allocates. Returns the native result map; its tensors for pre-allocated
   * outputs share the caller's buffers.
   */
  run(feeds: Readonly<Record<string, ort.Tensor>>, fetches: Readonly<Record<string, ort.Tensor | null>>): Record<string, ort.Tensor> {
    return this.native.run(feeds, fetches, this.runOptions) as Record<string, ort.Tensor>;
  }

  release(): void {
    this.native.dispose();
  }
}

function toValueMetadata(m: Binding.ValueMetadata): ort.InferenceSession.ValueMetadata {
  if (!m.isTensor) return { name: m.name, isTensor: false };
  const type = ELEMENT_TYPES[m.type];
  if (type === undefined) throw new Error(`unsupported element type ${m.type} for "${m.name}"`);
  const shape = m.shape.map((dim, i) => (dim === -1 ? m.symbolicDimensions[i] : dim));
  return { name: m.name, isTensor: true, type, shape };
}

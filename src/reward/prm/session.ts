// onnxruntime sessions for PRMs (created inside their worker thread): ordered execution-provider fallback with
// a log line saying which one ran, as the policy does, and the check that the ONNX graph's own tensors match
// the metadata, so a mislabeled model is refused, naming the tensor, before it runs.
import ort from 'onnxruntime-node';
import { StriatumError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { PrmMetadata } from '../metadata.js';
import { createSessionWithFallback } from '../../policy/onnx-session.js';

export type PrmProvider = 'tensorrt' | 'cuda' | 'cpu';

export interface PrmSessionOptions {
  readonly providers: readonly PrmProvider[];
  readonly threads: number;
  readonly logger: Logger;
  /** Names the model in errors and logs. */
  readonly what: string;
}

export async function createPrmSession(bytes: Uint8Array, options: PrmSessionOptions): Promise<{ session: ort.InferenceSession; provider: PrmProvider }> {
  // Run failures are reported through our own log and counters; onnxruntime's stderr copy is noise.
  return createSessionWithFallback(bytes, { ...options, logSeverityLevel: 4 });
}

/** A declared dimension against the graph's: -1 (or a symbolic name) is dynamic. */
function isDynamic(d: number | string | undefined): boolean {
  return typeof d === 'string' || d === -1 || d === undefined;
}

/**
 * Every declared input and output must exist in the graph with the declared element type and a compatible
 * shape, and every graph input must be declared (the worker could not feed it otherwise).
 */
export function sessionProblems(session: ort.InferenceSession, meta: PrmMetadata): string[] {
  const problems: string[] = [];
  const sides: ['input' | 'output', readonly ort.InferenceSession.ValueMetadata[], readonly { name: string; dtype: string; shape: number[] }[]][] = [
    ['input', session.inputMetadata, meta.inputs],
    ['output', session.outputMetadata, meta.outputs],
  ];
  for (const [side, actual, declared] of sides) {
    for (const t of declared) {
      const found = actual.find((m) => m.name === t.name);
      if (found === undefined) {
        problems.push(`${side} '${t.name}': not in the model, which has ${side}s [${actual.map((m) => m.name).join(', ')}]`);
        continue;
      }
      if (!found.isTensor) {
        problems.push(`${side} '${t.name}': is not a tensor`);
        continue;
      }
      if (found.type !== t.dtype) problems.push(`${side} '${t.name}': the model has type ${found.type}, metadata says ${t.dtype}`);
      const shape = found.shape;
      if (shape.length === 0) continue; // unknown to the graph: trust the metadata
      if (shape.length !== t.shape.length) {
        problems.push(`${side} '${t.name}': the model has rank ${shape.length} [${shape.join(', ')}], metadata says [${t.shape.join(', ')}]`);
        continue;
      }
      for (let d = 0; d < shape.length; d++) {
        const got = shape[d];
        const want = t.shape[d];
        if (want === -1) continue;
        if (!isDynamic(got) && got !== want) problems.push(`${side} '${t.name}': dimension ${d} is ${String(got)} in the model, metadata says ${want}`);
      }
    }
  }
  for (const name of session.inputNames) {
    if (!meta.inputs.some((t) => t.name === name)) problems.push(`input '${name}': in the model but not declared in the metadata`);
  }
  return problems;
}

export function checkSessionAgainstPrm(session: ort.InferenceSession, meta: PrmMetadata, source: string): void {
  const problems = sessionProblems(session, meta);
  if (problems.length > 0) throw new StriatumError('STRIATUM_ERR_PRM_SHAPE', `PRM ${source} does not match its metadata`, problems);
}

/**
 * True when every image input can take a batch of several items: dynamic batch in both the metadata and the
 * graph. Otherwise the adapter runs one item per call.
 */
export function hasDynamicBatch(session: ort.InferenceSession, meta: PrmMetadata): boolean {
  for (const t of meta.inputs) {
    if (t.shape[0] !== -1) return false;
    const found = session.inputMetadata.find((m) => m.name === t.name);
    if (found !== undefined && found.isTensor && found.shape.length > 0 && !isDynamic(found.shape[0])) return false;
  }
  return true;
}

// Runs an ONNX policy with onnxruntime-node: loads model + metadata, checks them against the robot, picks an
// execution provider from an ordered list, warms up, and turns observations into joint commands.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ActionSource } from './action-source.js';
import { openWithFallback, type ExecutionProvider } from './onnx-session.js';
import { SyncOnnxSession } from './onnx-sync-session.js';
import { SequentialChunks, TemporalEnsemble } from './ensemble.js';
import { readPolicyMetadata, type PolicyMetadata } from './metadata.js';

export type { ExecutionProvider } from './onnx-session.js';

/** What the robot expects of a policy, resolved from its config and transport. */
export interface PolicyExpectations {
  readonly observationFields: readonly { name: string; size: number }[];
  readonly jointNames: readonly string[];
  readonly mode: 'position' | 'velocity' | 'effort';
  readonly chunk: number;
  readonly execution: 'ensemble' | 'sequential';
  readonly ensembleDecay: number;
  /** Per-joint multiplier on the denormalized output. */
  readonly scale: Float64Array;
  /** 'model', 'none', or explicit statistics (from the robot config). */
  readonly normalization: 'model' | 'none' | { mean: number[]; std: number[] };
  /**
   * Spread of a stochastic policy (config `exploration`): logStd, when set, replaces the model's log-std output
   * (a scheduled std; it also makes a model without one stochastic); scale multiplies the std. Absent: the model's.
   */
  readonly explorationStd?: { readonly logStd: number | null; readonly scale: number };
}

/** Log-std outside this range is clipped on the robot, whatever the model says (a bound on how wild a sample can be). */
export const LOG_STD_MIN = -10;
export const LOG_STD_MAX = 1;

export interface OnnxPolicyOptions {
  readonly modelPath: string;
  /** Default: the model path with .json instead of .onnx. */
  readonly metadataPath?: string;
  readonly providers: readonly ExecutionProvider[];
  readonly threads: number;
  readonly warmupRuns: number;
  readonly logger: Logger;
}

export function defaultMetadataPath(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, '') + '.json';
}

/** Check metadata against the robot. Throws STRIATUM_ERR_POLICY_SHAPE naming the first mismatching tensor or field. */
export function checkMetadataAgainstRobot(meta: PolicyMetadata, want: PolicyExpectations): void {
  const problems: string[] = [];
  const mf = meta.observation.fields;
  const wf = want.observationFields;
  const n = Math.max(mf.length, wf.length);
  for (let i = 0; i < n; i++) {
    const a = mf[i];
    const b = wf[i];
    if (!a) problems.push(`observation field ${i}: robot config has "${b.name}" (${b.size}), model has none`);
    else if (!b) problems.push(`observation field ${i}: model expects "${a.name}" (${a.size}), robot config has none`);
    else if (a.name !== b.name || a.size !== b.size) problems.push(`observation field ${i}: model expects "${a.name}" of size ${a.size}, robot provides "${b.name}" of size ${b.size}`);
  }
  if (meta.action.joints.join(',') !== want.jointNames.join(',')) {
    problems.push(`action joints: model drives [${meta.action.joints.join(', ')}], robot has [${want.jointNames.join(', ')}]`);
  }
  if (meta.action.mode !== want.mode) problems.push(`action mode: model outputs ${meta.action.mode} commands, robot config uses ${want.mode}`);
  if (meta.action.chunk !== want.chunk) problems.push(`action chunk: model predicts ${meta.action.chunk} steps, robot config says ${want.chunk}`);
  const obsDim = wf.reduce((s, f) => s + f.size, 0);
  const input = meta.inputs[0];
  checkShape(`input tensor "${input.name}"`, input.shape, [-1, obsDim], problems);
  const output = meta.outputs[0];
  const actDim = want.jointNames.length;
  const outShape = output.shape.length === 2 && want.chunk === 1 ? [-1, actDim] : [-1, want.chunk, actDim];
  checkShape(`output tensor "${output.name}"`, output.shape, outShape, problems);
  const logStd = meta.outputs[1];
  if (logStd !== undefined) checkShape(`log-std output tensor "${logStd.name}"`, logStd.shape, [-1, actDim], problems);
  if (problems.length > 0) throw new StriatumError('STRIATUM_ERR_POLICY_SHAPE', `policy ${meta.name} ${meta.version} does not fit this robot`, problems);
}

function checkShape(what: string, got: readonly (number | string)[], want: readonly number[], problems: string[]): void {
  if (got.length !== want.length) {
    problems.push(`${what}: has rank ${got.length} [${got.join(', ')}], robot needs rank ${want.length} [${want.join(', ')}]`);
    return;
  }
  for (let d = 0; d < want.length; d++) {
    const g = got[d];
    const dynamic = typeof g === 'string' || g === -1;
    if (want[d] === -1) continue; // batch: anything goes
    if (dynamic || g !== want[d]) problems.push(`${what}: dimension ${d} is ${dynamic ? 'dynamic' : g}, robot needs ${want[d]}`);
  }
}

export class OnnxPolicy implements ActionSource {
  readonly name: string;
  readonly version: string;
  lastStepUs = 0;

  private constructor(
    readonly metadata: PolicyMetadata,
    private readonly session: SyncOnnxSession,
    readonly provider: string,
    private readonly want: PolicyExpectations,
  ) {
    this.name = metadata.name;
    this.version = metadata.version;
    const obsDim = want.observationFields.reduce((s, f) => s + f.size, 0);
    const actDim = want.jointNames.length;
    this.inputData = new Float32Array(obsDim);
    // The input tensor wraps inputData; it is refilled in place every tick (onnxruntime reads it at run()).
    this.feeds = { [metadata.inputs[0].name]: new ort.Tensor('float32', this.inputData, [1, obsDim]) };
    this.outputName = metadata.outputs[0].name;
    // onnxruntime writes the action into outputData in place: the output shape is checked before the first tick
    // (checkOutputShape), so this tensor's shape is the one the model returns.
    const outDims = metadata.outputs[0].shape.length === 2 ? [1, actDim] : [1, want.chunk, actDim];
    this.outputData = new Float32Array(outDims.reduce((a, b) => a * b, 1));
    this.fetches = { [this.outputName]: new ort.Tensor('float32', this.outputData, outDims) };
    // A Gaussian policy's second output, written in place like the action; or a scheduled log-std from the config.
    const logStdOutput = metadata.outputs[1];
    this.logStdData = logStdOutput !== undefined ? new Float32Array(actDim) : null;
    if (logStdOutput !== undefined) this.fetches[logStdOutput.name] = new ort.Tensor('float32', this.logStdData as Float32Array, [1, actDim]);
    const spread = want.explorationStd;
    this.fixedLogStd = spread !== undefined && spread.logStd !== null ? spread.logStd : null;
    this.stdScale = spread !== undefined ? spread.scale : 1;
    this.actionStd = this.logStdData !== null || this.fixedLogStd !== null ? new Float64Array(actDim) : null;
    this.blended = new Float64Array(actDim);
    this.ensemble = want.execution === 'ensemble' && want.chunk > 1 ? new TemporalEnsemble(want.chunk, actDim, want.ensembleDecay) : null;
    this.sequential = want.execution === 'sequential' && want.chunk > 1 ? new SequentialChunks(want.chunk, actDim) : null;

    const norm = want.normalization;
    const obsMean = norm === 'model' ? metadata.observation.mean : norm === 'none' ? undefined : norm.mean;
    const obsStd = norm === 'model' ? metadata.observation.std : norm === 'none' ? undefined : norm.std;
    this.obsMean = Float64Array.from(obsMean ?? new Array<number>(obsDim).fill(0));
    this.obsInvStd = Float64Array.from((obsStd ?? new Array<number>(obsDim).fill(1)).map((s) => 1 / s));
    this.actMean = Float64Array.from(metadata.action.mean ?? new Array<number>(actDim).fill(0));
    this.actStd = Float64Array.from(metadata.action.std ?? new Array<number>(actDim).fill(1));
  }

  private readonly inputData: Float32Array;
  private readonly feeds: Record<string, ort.Tensor>;
  private readonly outputName: string;
  private readonly outputData: Float32Array;
  private readonly fetches: Record<string, ort.Tensor>;
  private readonly logStdData: Float32Array | null;
  private readonly fixedLogStd: number | null;
  private readonly stdScale: number;
  /** Per-joint std of the last act() in command units; null for a deterministic policy (see ActionSource). */
  readonly actionStd: Float64Array | null;
  private readonly blended: Float64Array;
  private readonly ensemble: TemporalEnsemble | null;
  private readonly sequential: SequentialChunks | null;
  private readonly obsMean: Float64Array;
  private readonly obsInvStd: Float64Array;
  private readonly actMean: Float64Array;
  private readonly actStd: Float64Array;

  static async load(options: OnnxPolicyOptions, want: PolicyExpectations): Promise<OnnxPolicy> {
    const log = options.logger;
    const metadataPath = options.metadataPath ?? defaultMetadataPath(options.modelPath);
    const meta = readPolicyMetadata(metadataPath);
    const modelPath = options.modelPath;
    if (resolve(dirname(metadataPath), meta.model) !== resolve(modelPath)) {
      log.debug('metadata names a different model file than the config; using the config path', { metadata: meta.model, model: modelPath });
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(modelPath);
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_POLICY_LOAD', `cannot read policy model ${modelPath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (meta.sha256 !== undefined) {
      const digest = createHash('sha256').update(bytes).digest('hex');
      if (digest !== meta.sha256) {
        throw new StriatumError('STRIATUM_ERR_POLICY_LOAD', `policy model ${modelPath} has sha256 ${digest}, metadata says ${meta.sha256}`);
      }
    }
    return OnnxPolicy.fromBytes(bytes, meta, { ...options, what: modelPath }, want);
  }

  /**
   * Load a model already in memory with its metadata (a verified over-the-air release: nothing is read back from
   * disk between the hash check and the session). Runs the same checks as load().
   */
  static async fromBytes(bytes: Uint8Array, meta: PolicyMetadata, options: Omit<OnnxPolicyOptions, 'modelPath' | 'metadataPath'> & { what: string }, want: PolicyExpectations): Promise<OnnxPolicy> {
    const log = options.logger;
    checkMetadataAgainstRobot(meta, want);
    const { session, provider } = await openWithFallback(
      { providers: options.providers, threads: options.threads, logger: log, what: options.what },
      (sessionOptions) => SyncOnnxSession.open(bytes, sessionOptions),
    );
    let policy: OnnxPolicy;
    try {
      checkSessionAgainstMetadata(session, meta);
      policy = new OnnxPolicy(meta, session, provider, want);
      policy.checkOutputShape();
    } catch (err) {
      session.release();
      throw err;
    }
    policy.warmUp(options.warmupRuns);
    log.info('policy loaded', { name: meta.name, version: meta.version, provider, warmup_runs: options.warmupRuns, chunk: want.chunk });
    return policy;
  }

  /**
   * One run on a zero observation, before any warm-up: symbolic output dimensions pass the load-time checks, and
   * a graph that returns fewer values than the robot reads would otherwise fail on the first tick.
   */
  private checkOutputShape(): void {
    const declared = this.metadata.outputs[0].shape;
    const actDim = this.want.jointNames.length;
    const want = declared.length === 2 ? [1, actDim] : [1, this.want.chunk, actDim];
    // onnxruntime allocates this one output (fetch null), so a wrong shape reaches the checks below.
    const logStdName = this.metadata.outputs[1]?.name;
    const fetches: Record<string, null> = { [this.outputName]: null };
    if (logStdName !== undefined) fetches[logStdName] = null;
    const results = this.session.run(this.feeds, fetches);
    const got = results[this.outputName].dims;
    const problems: string[] = [];
    if (logStdName !== undefined) {
      const dims = results[logStdName].dims;
      if (dims.length !== 2 || dims[0] !== 1 || dims[1] !== actDim) problems.push(`log-std output tensor "${logStdName}": returned [${dims.join(', ')}] for one observation, robot needs [1, ${actDim}]`);
    }
    if (got.length !== want.length) {
      problems.push(`output tensor "${this.outputName}": returned rank ${got.length} [${got.join(', ')}] for one observation, robot needs [${want.join(', ')}]`);
    } else {
      for (let d = 0; d < want.length; d++) {
        if (got[d] !== want[d]) problems.push(`output tensor "${this.outputName}": dimension ${d} is ${got[d]} when run, robot needs ${want[d]} (returned [${got.join(', ')}])`);
      }
    }
    if (problems.length > 0) throw new StriatumError('STRIATUM_ERR_POLICY_SHAPE', `policy ${this.name} ${this.version} returns actions of the wrong shape`, problems);
  }

  private warmUp(runs: number): void {
    const scratch = new Float64Array(this.want.jointNames.length);
    const obs = new Float64Array(this.inputData.length);
    for (let i = 0; i < runs; i++) this.act(obs, scratch);
    this.reset();
  }

  reset(): void {
    this.ensemble?.reset();
    this.sequential?.reset();
  }

  /**
   * Synchronous: the tick runs the model in place (input and output tensors made once), with no promise and no
   * event-loop turn in the middle of the tick. onnxruntime's own run() is synchronous on this thread as well.
   */
  act(observation: Float64Array, out: Float64Array): void {
    const t0 = performance.now();
    const seq = this.sequential;
    const blended = this.blended;
    if (seq === null || seq.needsChunk) {
      const input = this.inputData;
      const mean = this.obsMean;
      const invStd = this.obsInvStd;
      for (let i = 0; i < input.length; i++) input[i] = (observation[i] - mean[i]) * invStd[i];
      this.session.run(this.feeds, this.fetches);
      const data = this.outputData;
      if (this.ensemble !== null) this.ensemble.push(data, blended);
      else if (seq !== null) seq.load(data);
      else for (let d = 0; d < blended.length; d++) blended[d] = data[d];
    }
    if (seq !== null) seq.next(blended);
    const scale = this.want.scale;
    const actStd = this.actStd;
    const actMean = this.actMean;
    for (let d = 0; d < out.length; d++) out[d] = (blended[d] * actStd[d] + actMean[d]) * scale[d];
    const std = this.actionStd;
    if (std !== null) {
      // σ in command units: the normalized σ through the same affine map as the mean (a Gaussian stays Gaussian).
      const logStd = this.logStdData;
      const fixed = this.fixedLogStd;
      for (let d = 0; d < std.length; d++) {
        let l = fixed !== null ? fixed : (logStd as Float32Array)[d];
        l = l < LOG_STD_MIN ? LOG_STD_MIN : l > LOG_STD_MAX ? LOG_STD_MAX : l;
        std[d] = Math.exp(l) * actStd[d] * Math.abs(scale[d]) * this.stdScale;
      }
    }
    this.lastStepUs = (performance.now() - t0) * 1000;
  }

  async close(): Promise<void> {
    this.session.release();
  }
}

/** The ONNX graph itself must match the metadata, so a mislabeled model is refused before it runs. */
function checkSessionAgainstMetadata(session: SyncOnnxSession, meta: PolicyMetadata): void {
  const problems: string[] = [];
  const pairs: [string, readonly ort.InferenceSession.ValueMetadata[], PolicyMetadata['inputs'][number]][] = [
    ['input', session.inputMetadata, meta.inputs[0]],
    ...meta.outputs.map((o): [string, readonly ort.InferenceSession.ValueMetadata[], PolicyMetadata['inputs'][number]] => ['output', session.outputMetadata, o]),
  ];
  for (const [kind, actual, declared] of pairs) {
    const found = actual.find((m) => m.name === declared.name);
    if (!found) {
      problems.push(`${kind} tensor "${declared.name}": not in the model, which has [${actual.map((m) => m.name).join(', ')}]`);
      continue;
    }
    if (!found.isTensor) { problems.push(`${kind} "${declared.name}": is not a tensor`); continue; }
    if (found.type !== 'float32') problems.push(`${kind} tensor "${declared.name}": has type ${found.type}, expected float32`);
    const shape = found.shape;
    if (shape.length === 0) continue; // shape unknown to the model: trust metadata
    if (shape.length !== declared.shape.length) {
      problems.push(`${kind} tensor "${declared.name}": model has rank ${shape.length} [${shape.join(', ')}], metadata says [${declared.shape.join(', ')}]`);
      continue;
    }
    for (let d = 0; d < shape.length; d++) {
      const got = shape[d];
      const want = declared.shape[d];
      if (want === -1) continue;
      if (typeof got === 'number' && got !== want) problems.push(`${kind} tensor "${declared.name}": dimension ${d} is ${got} in the model, metadata and robot need ${want}`);
    }
  }
  if (session.inputNames.length !== 1) problems.push(`model has ${session.inputNames.length} inputs [${session.inputNames.join(', ')}], exactly one is supported`);
  if (problems.length > 0) throw new StriatumError('STRIATUM_ERR_POLICY_SHAPE', `policy model ${meta.name} ${meta.version} does not match its metadata`, problems);
}

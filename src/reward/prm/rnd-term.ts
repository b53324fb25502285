// The RND intrinsic reward term (src/reward/rnd.ts has the math): target f and predictor f̂ in one small ONNX
// model on the observation vector, run on the control thread like the policy (tens of µs for an MLP).
// The tick never awaits it: step() starts a run on the newest observation when none is in flight and returns
// the newest finished value, so the intrinsic reward of s_t is credited at the first step after its run ends
// (normally t + 1). Until the warm-up has seeded the observation statistics the term is 0.
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { StriatumError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { RndObservationNormalizer, RndRewardNormalizer, rndPredictionError } from '../rnd.js';
import type { RndConfigSchema } from './config.js';
import type { z } from 'zod';
import { createPrmSession } from './session.js';

type RndConfig = z.infer<typeof RndConfigSchema>;

export class RndTerm {
  readonly observations: RndObservationNormalizer;
  readonly rewards: RndRewardNormalizer;
  /** Coefficient · normalized r_int of the newest finished run (0 before any). */
  latest = 0;
  /** Raw prediction error of the newest finished run. */
  latestRaw = Number.NaN;
  runs = 0;
  errors = 0;
  private inFlight = false;
  private readonly input: Float32Array;
  private readonly feeds: Record<string, ort.Tensor>;
  private readonly onDone = (out: ort.InferenceSession.ReturnType): void => this.finished(out);
  private readonly onFail = (err: unknown): void => this.failed(err);

  private constructor(private readonly session: ort.InferenceSession, private readonly cfg: RndConfig, dim: number, private readonly logger: Logger) {
    this.observations = new RndObservationNormalizer(dim, cfg.warmup_steps, cfg.clip);
    this.rewards = new RndRewardNormalizer(cfg.gamma);
    this.input = new Float32Array(dim);
    this.feeds = { [session.inputNames[0]]: new ort.Tensor('float32', this.input, [1, dim]) };
  }

  static async load(cfg: RndConfig, observationDim: number, resolvePath: (p: string) => string, logger: Logger): Promise<RndTerm> {
    const path = resolvePath(cfg.model);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_IO', `cannot read RND model ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const { session } = await createPrmSession(bytes, { providers: ['cpu'], threads: 1, logger, what: 'RND model' });
    const problems: string[] = [];
    if (session.inputNames.length !== 1) problems.push(`the model has ${session.inputNames.length} inputs [${session.inputNames.join(', ')}]; RND takes one (the normalized observation)`);
    for (const name of [cfg.target_output, cfg.prediction_output]) {
      if (!session.outputNames.includes(name)) problems.push(`output '${name}': not in the model, which has outputs [${session.outputNames.join(', ')}]`);
    }
    const input = session.inputMetadata[0];
    if (input !== undefined && input.isTensor && input.shape.length === 2 && typeof input.shape[1] === 'number' && input.shape[1] !== observationDim) {
      problems.push(`input '${input.name}': ${input.shape[1]} features, the observation has ${observationDim}`);
    }
    if (problems.length > 0) {
      await session.release();
      throw new StriatumError('STRIATUM_ERR_PRM_SHAPE', `RND model ${path} does not fit`, problems);
    }
    return new RndTerm(session, cfg, observationDim, logger);
  }

  /** Fold in the observation of s′ and return the intrinsic term for this step. Never waits. */
  step(observation: Float64Array): number {
    this.observations.update(observation);
    if (!this.observations.ready) return 0;
    if (!this.inFlight) {
      this.observations.normalize(observation, this.input);
      this.inFlight = true;
      this.session.run(this.feeds).then(this.onDone, this.onFail);
    }
    return this.latest;
  }

  private finished(out: ort.InferenceSession.ReturnType): void {
    this.inFlight = false;
    this.runs++;
    const raw = rndPredictionError(out[this.cfg.prediction_output].data as Float32Array, out[this.cfg.target_output].data as Float32Array);
    this.latestRaw = raw;
    const scaled = this.rewards.normalize(raw);
    this.latest = Number.isFinite(scaled) ? this.cfg.coefficient * scaled : 0;
  }

  private failed(err: unknown): void {
    this.inFlight = false;
    this.errors++;
    this.latest = 0;
    if (this.errors <= 3) this.logger.error('RND run failed: intrinsic reward 0', { error: String((err as Error)?.message ?? err).split('\n')[0] });
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

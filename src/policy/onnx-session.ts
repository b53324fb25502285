// One way to open an onnxruntime session for every model Striatum runs (policies, PRMs, RND): execution
// providers tried in the configured order with a log line for each that fails, a single thread pool that does
// not spin, sequential execution.
import ort from 'onnxruntime-node';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';

export type ExecutionProvider = 'tensorrt' | 'cuda' | 'cpu';

export interface SessionOptions<P extends string> {
  readonly providers: readonly P[];
  readonly threads: number;
  readonly logger: Logger;
  /** Names the model in errors and logs. */
  readonly what: string;
  /** onnxruntime's own stderr log level (0 verbose … 4 fatal); run failures are reported by Striatum anyway. */
  readonly logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

export async function createSessionWithFallback<P extends string>(bytes: Uint8Array, o: SessionOptions<P>): Promise<{ session: ort.InferenceSession; provider: P }> {
  return openWithFallback(o, (options) => ort.InferenceSession.create(bytes, options));
}

/** Open a session with each provider in turn until one loads (the control tick's policy uses a synchronous one). */
export async function openWithFallback<P extends string, S>(
  o: SessionOptions<P>, open: (options: ort.InferenceSession.SessionOptions) => S | Promise<S>,
): Promise<{ session: S; provider: P }> {
  const failures: string[] = [];
  for (const provider of o.providers) {
    try {
      const session = await open({
        executionProviders: [provider],
        intraOpNumThreads: o.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        ...(o.logSeverityLevel !== undefined ? { logSeverityLevel: o.logSeverityLevel } : {}),
        // Spinning threads would steal a core from the control loop between ticks.
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
      return { session, provider };
    } catch (err) {
      const first = String((err as Error).message ?? err).split('\n')[0];
      failures.push(`${provider}: ${first}`);
      o.logger.warn('execution provider unavailable, trying the next one', { model: o.what, provider, error: first });
    }
  }
  throw new StriatumError('STRIATUM_ERR_POLICY_PROVIDER', `no execution provider could load ${o.what}`, failures);
}

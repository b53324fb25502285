// What the control loop asks for an action: an ONNX policy, or the simulator's scripted expert when recording.

export interface ActionSource {
  readonly name: string;
  readonly version: string;
  /** Execution provider in use ("cpu", "cuda", ...) or "scripted". */
  readonly provider: string;
  /**
   * Write the joint command (physical units, before the safety filter) for this observation.
   * Sources that finish at once (the ONNX runner, the scripted expert) return undefined; one that must wait may
   * return a promise, which the loop awaits.
   */
  act(observation: Float64Array, out: Float64Array): Promise<void> | void;
  /** Forget chunk history at an episode boundary. */
  reset(): void;
  /**
   * Per-joint standard deviation of a stochastic policy for the last act(), in the command's units (the action
   * written by act() is the mean); null or absent for a deterministic source. Read every tick: made once.
   */
  readonly actionStd?: Float64Array | null;
  /** Duration of the last act() in µs. */
  readonly lastStepUs: number;
  close(): Promise<void>;
}

// Builds a real control loop in-process: the Rapier sim transport, a real ONNX policy, a virtual clock.
import { ControlLoop } from '../../src/control/control-loop.js';
import type { ExplorationSettings } from '../../src/control/exploration.js';
import { HookSink, type EpisodeSummary, type StepSink, type StepView, type SuccessJudge } from '../../src/control/step.js';
import { allocateJointState, resolveObservationFields } from '../../src/control/observation.js';
import { VirtualClock, type LoopClock } from '../../src/control/scheduler.js';
import { parseConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { OnnxPolicy } from '../../src/policy/onnx-policy.js';
import { resolveLimits, resolveScale } from '../../src/runtime/resolve.js';
import { SimTransport } from '../../src/transports/sim/sim-transport.js';
import { simConfig } from './fixtures.js';

export async function simLoop(modelPath: string, options: {
  episodes?: number; timeLimitS?: number; onStep?: (s: StepView, loop: ControlLoop) => void; rateHz?: number; clock?: LoopClock; sinks?: readonly StepSink[];
  exploration?: ExplorationSettings; explorationStd?: { logStd: number | null; scale: number };
  /** The simulator reports its own success (outcome and progress); default true. */
  reportSuccess?: boolean;
  /** Learning mode: this verdict ends episodes as successes (ControlLoopOptions.successJudge). */
  successJudge?: SuccessJudge | null;
  seed?: number;
} = {}) {
  const raw = simConfig(modelPath);
  raw.transport.time_limit_s = options.timeLimitS ?? 1;
  raw.control.rate_hz = options.rateHz ?? 50;
  const cfg = parseConfigText(JSON.stringify(raw), 'test');
  const transport = new SimTransport({
    seed: options.seed ?? 7, controlHz: cfg.control.rate_hz, timeLimitS: raw.transport.time_limit_s, cameras: [], mode: 'velocity', reportSuccess: options.reportSuccess,
  });
  const robot = await transport.open();
  const fields = resolveObservationFields(cfg.observation.fields, robot);
  const policy = await OnnxPolicy.load({ modelPath, providers: ['cpu'], threads: 1, warmupRuns: 1, logger: silentLogger }, {
    observationFields: fields, jointNames: ['x', 'y'], mode: 'velocity', chunk: cfg.action.chunk, execution: 'ensemble',
    ensembleDecay: 0.01, scale: resolveScale(cfg), normalization: 'model', explorationStd: options.explorationStd,
  });
  const episodes: EpisodeSummary[] = [];
  const transitions: string[] = [];
  let loop: ControlLoop;
  loop = new ControlLoop({
    rateHz: cfg.control.rate_hz, transport, source: policy, clock: options.clock ?? new VirtualClock(), logger: silentLogger,
    jointState: allocateJointState(robot), observationFields: fields, limits: resolveLimits(cfg), mode: 'velocity',
    stormWindow: 100, stormMaxMisses: 20, linkTimeoutMs: 200, episodeCount: options.episodes ?? 1, episodeSeed: options.seed ?? 7,
    timeLimitS: options.successJudge ? (options.timeLimitS ?? 1) : 1, autostart: true, exploration: options.exploration, successJudge: options.successJudge ?? null,
    sinks: [...(options.sinks ?? []), new HookSink({
      onStep: options.onStep ? (s) => options.onStep!(s, loop) : null,
      onEpisode: (s, e) => { if (e === 'end') episodes.push(s); },
    })],
    onTransition: (from, to, reason) => transitions.push(`${from}->${to} (${reason})`),
  });
  return { loop, transport, policy, episodes, transitions };
}

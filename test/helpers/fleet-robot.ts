// One robot of the fleet fault test, as its own process: the real rollout path (recorder → spool worker →
// publisher, its durable spool surviving kill -9) fed by steps whose every value is a function of (robot, episode
// index, step), so the test can check the content of every stored step without trusting the store. Steps come
// as fast as the rollout path's backpressure allows (a "fast mode" robot). Every chunk that reaches the spool is
// appended to a log file (after the spool's fsync), so the test knows what was spooled.
// SIGTERM (once `<spoolLog>.ready` holds the pid): end the episode, drain the spool to the updaters, exit 0.
import { appendFileSync, writeFileSync } from 'node:fs';
import { createLogger } from '../../src/log.js';
import { RewardStep } from '../../src/reward/reward-step.js';
import { RolloutService } from '../../src/rollout/rollout-service.js';

export interface FleetRobotArgs {
  readonly robot: string;
  readonly robotNumber: number;
  readonly url: string;
  readonly password: string;
  readonly spoolDir: string;
  readonly spoolLog: string;
  readonly episodeSteps: number;
  readonly chunkSteps: number;
  /** Pause between chunks' worth of steps, ms (keeps 8 robots from starving the rest of a shared machine). */
  readonly pauseMs: number;
}

export const FLEET_FIELDS = [
  { name: 'joint_positions', size: 2 }, { name: 'joint_velocities', size: 2 },
  { name: 'block_position', size: 2 }, { name: 'pad_position', size: 2 },
];
export const FLEET_JOINTS = ['x', 'y'];

/** The observation value k of a step: exact in float32 (integers and eighths below 2^20). */
export function fleetObservation(robotNumber: number, episodeIndex: number, step: number, k: number): number {
  if (k === 0) return robotNumber;
  if (k === 1) return episodeIndex;
  if (k === 2) return step;
  return ((step * 31 + k * 7 + episodeIndex) % 1000) / 8;
}
export function fleetCommand(step: number, j: number): number {
  return ((step + j) % 64) / 16 - 2;
}

async function main(a: FleetRobotArgs): Promise<void> {
  // First of all: a SIGTERM that comes while the service starts must stop the robot cleanly, not kill it.
  let stopping = false;
  process.once('SIGTERM', () => { stopping = true; });
  writeFileSync(`${a.spoolLog}.ready`, String(process.pid)); // the test sends SIGTERM only after this
  const logger = createLogger({ level: 'warn', pretty: false });
  const service = await RolloutService.start({
    robotId: a.robot, task: 'push', observationFields: FLEET_FIELDS, joints: FLEET_JOINTS, policyVersion: 'bc-1', stampOriginUnixMs: null,
    spoolDir: a.spoolDir, logger, mqtt: { url: a.url, username: a.robot, password: a.password },
    config: { chunk_steps: a.chunkSteps, chunk_ms: 1_000_000, ack_timeout_ms: 1500, ack_timeout_max_ms: 4000, reconnect_min_ms: 100, reconnect_max_ms: 1000, max_inflight: 8, buffers: 8 },
  });
  service.spool.onWritten = ((hook) => (entry, bytes) => {
    appendFileSync(a.spoolLog, `${JSON.stringify({ episode: entry.episode, chunk: entry.chunk })}\n`);
    hook?.(entry, bytes);
  })(service.spool.onWritten);
  const rec = service.recorder;
  const view = {
    episode: 0, step: 0, stampMs: 0, observation: new Float64Array(8), action: new Float64Array(2), command: new Float64Array(2),
    progress: 0.5, done: false, truncated: false,
  };
  const reward = new RewardStep();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  rec.onEpisodeStart({ episode: 0, instruction: 'push' });
  while (!stopping) {
    // Backpressure as on a robot whose updater is slow: wait while the spool or the unacked window is full.
    if (service.publisher.backlog + service.spool.writesPending >= 24 || service.spool.writesPending >= 6 || !rec.recording) { await sleep(20); continue; }
    for (let i = 0; i < a.chunkSteps; i++) {
      const s = view.step;
      for (let k = 0; k < 8; k++) view.observation[k] = fleetObservation(a.robotNumber, view.episode, s, k);
      for (let j = 0; j < 2; j++) { view.command[j] = fleetCommand(s, j); view.action[j] = view.command[j]; }
      view.stampMs = s * 20;
      const last = s === a.episodeSteps - 1;
      view.truncated = last;
      rec.onStep(view, reward);
      if (last) {
        rec.onEpisodeEnd({ episode: view.episode, instruction: 'push', outcome: 'timeout' });
        view.episode++;
        view.step = 0;
        rec.onEpisodeStart({ episode: view.episode, instruction: 'push' });
      } else {
        view.step++;
      }
    }
    await sleep(a.pauseMs);
  }
  await service.close('stopped', 120_000);
  process.exit(service.publisher.backlog === 0 ? 0 : 3);
}

if (process.env.STRIATUM_FLEET_ROBOT !== undefined) await main(JSON.parse(process.env.STRIATUM_FLEET_ROBOT) as FleetRobotArgs);

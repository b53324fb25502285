import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ActionSource } from '../policy/action-source.js';
import { RobotRuntime } from '../runtime/robot-runtime.js';
import type { SimTransport } from '../transports/sim/sim-transport.js';
import { RowBuffer, writeNpy } from '../util/npy.js';
import type { Command } from './flags.js';
import { intFlag, parseFlags } from './flags.js';
import { DEFAULT_CONFIG } from './default-config.js';
import { Progress } from './progress.js';

/** The simulator's scripted expert as an action source. */
function expertSource(sim: SimTransport): ActionSource {
  return {
    name: 'sim-expert', version: 'scripted', provider: 'scripted', lastStepUs: 0,
    act(_obs, out) { sim.expert(out); },
    reset() {},
    async close() {},
  };
}

export const recordCommand: Command = {
  summary: 'record expert demonstrations from the simulator to .npy files for the trainer',
  help: `Usage: striatum record --out DIR [--config FILE] [--episodes N] [--seed S]

Runs the simulator faster than real time with its scripted expert in place of the policy, through the same
control loop, observation builder and safety filter as \`striatum run\`, and writes:
  DIR/observations.npy   float32 [steps, obs_dim]
  DIR/actions.npy        float32 [steps, joints]   commands sent (after the safety filter)
  DIR/episode_index.npy  int32   [steps]
  DIR/meta.json          fields, joints, control rate, and per-episode seed, steps and success

  --episodes N   number of episodes (default 200)
  --seed S       seed of the first episode (default: episodes.seed from the config)`,
  async run(args, logger: Logger) {
    const { values } = parseFlags(args, { config: { type: 'string' }, out: { type: 'string' }, episodes: { type: 'string' }, seed: { type: 'string' } });
    if (values.out === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', 'record needs --out DIR');
    const loaded = loadConfig(values.config ?? DEFAULT_CONFIG);
    const cfg = loaded.config;
    if (cfg.transport.kind !== 'sim') throw new StriatumError('STRIATUM_ERR_USAGE', 'record needs a config with transport.kind: sim (the expert is the simulator\'s)');
    if (cfg.action.mode !== 'velocity') throw new StriatumError('STRIATUM_ERR_USAGE', `record needs action.mode: velocity (the expert commands joint velocities), config has ${cfg.action.mode}`);
    const seed = intFlag('seed', values.seed, 0);
    if (seed !== undefined) cfg.episodes.seed = seed;
    const episodes = intFlag('episodes', values.episodes, 1) ?? 200;
    const n = cfg.joints.length;
    let obs: RowBuffer<Float32Array> | null = null;
    const act = new RowBuffer(n, (k) => new Float32Array(k));
    const epi = new RowBuffer(1, (k) => new Int32Array(k));
    const epIndex = [0];
    const meta: { index: number; seed: number; steps: number; success: boolean; instruction: string }[] = [];
    const progress = new Progress('recording', episodes, logger);
    const runtime = await RobotRuntime.start({
      loaded, logger: logger.child('record'), mqtt: false, realtime: false, episodes,
      source: (t) => expertSource(t as SimTransport),
      onStep: (s) => {
        obs ??= new RowBuffer(s.observation.length, (k) => new Float32Array(k));
        obs.push(s.observation);
        act.push(s.command);
        epIndex[0] = s.episode;
        epi.push(epIndex);
      },
      onEpisode: (summary, event) => {
        if (event !== 'end') return;
        meta.push({ index: summary.episode, seed: summary.seed, steps: summary.steps, success: summary.success, instruction: summary.instruction });
        progress.tick(`success ${meta.filter((m) => m.success).length}/${meta.length}`);
      },
    });
    try {
      await runtime.run();
    } finally {
      await runtime.shutdown('recording done');
    }
    const dir = resolve(values.out);
    mkdirSync(dir, { recursive: true });
    const o = obs as RowBuffer<Float32Array> | null;
    if (o === null) throw new StriatumError('STRIATUM_ERR_INTERNAL', 'no steps were recorded');
    writeNpy(join(dir, 'observations.npy'), o.view(), [o.rows, o.width]);
    writeNpy(join(dir, 'actions.npy'), act.view(), [act.rows, n]);
    writeNpy(join(dir, 'episode_index.npy'), epi.view(), [epi.rows]);
    writeFileSync(join(dir, 'meta.json'), `${JSON.stringify({
      task: cfg.robot.task,
      control_hz: cfg.control.rate_hz,
      observation_fields: runtime.observationFields,
      action: { mode: cfg.action.mode, joints: cfg.joints.map((j) => j.name) },
      episodes: meta,
    }, null, 2)}\n`);
    const successes = meta.filter((m) => m.success).length;
    process.stdout.write(`${JSON.stringify({ out: dir, episodes: meta.length, successes, steps: o.rows })}\n`);
    return 0;
  },
};

// `striatum dataset`: bring datasets recorded elsewhere in as demonstrations for the trainers.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { JOINT_FIELDS } from '../control/observation.js';
import type { ActionMode } from '../dataset/lerobot-import.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseFlags, type Command } from './flags.js';
import { checkOutDir } from './out-dir.js';

const HELP = `Usage: striatum dataset import --lerobot DIR --out OUT [--config ROBOT.yaml] [--mode MODE] [--task NAME] [--force]

import    read a LeRobot v3.0 dataset (meta/info.json, meta/episodes, data/ parquet files) and write the
          demonstrations the trainers read (trainer/bc.py --data OUT):
            OUT/observations.npy  float32 [frames, obs]   the observation.state feature
            OUT/actions.npy       float32 [frames, joints] the action feature
            OUT/episode_index.npy int32   [frames]
            OUT/meta.json         task, fps as control_hz, observation fields (from the feature names), action
                                  mode and joints, episodes (an episode is a success unless the dataset says
                                  otherwise)
            OUT/features/<key>.npy  every other per-frame feature, in its own dtype (text: <key>.json)
          --config: check the dataset against this robot (joint count, observation size) and take its joint
          names, action mode and task. --mode: the action mode without a config (default position).
          A dataset with missing metadata, wrong dtypes, shapes that do not fit or damaged parquet files is
          refused, naming the file and the field (exit 7). OUT must be new or empty unless --force.`;

const MODES = ['position', 'velocity', 'effort'] as const;

export const datasetCommand: Command = {
  summary: 'import a LeRobot v3.0 dataset as demonstrations for the trainers',
  help: HELP,
  async run(args: string[], logger: Logger): Promise<number> {
    const sub = args[0];
    if (sub !== 'import') throw new StriatumError('STRIATUM_ERR_USAGE', `unknown dataset subcommand "${sub ?? ''}"; choose import`);
    const { values } = parseFlags(args.slice(1), {
      lerobot: { type: 'string' }, out: { type: 'string' }, config: { type: 'string' }, mode: { type: 'string' }, task: { type: 'string' }, force: { type: 'boolean' },
    });
    if (values.lerobot === undefined || values.out === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', '--lerobot DIR and --out OUT are required');
    if (values.mode !== undefined && !(MODES as readonly string[]).includes(values.mode)) throw new StriatumError('STRIATUM_ERR_USAGE', `--mode ${values.mode}: choose ${MODES.join(', ')}`);
    let robot: { joints: string[]; minObservation: number; task: string } | undefined;
    let mode = (values.mode ?? 'position') as ActionMode;
    if (values.config !== undefined) {
      const cfg = loadConfig(values.config).config;
      const joints = cfg.joints.map((j) => j.name);
      // Joint fields are one value per joint; any other field has at least one value.
      const minObservation = cfg.observation.fields.reduce((s, f) => s + ((JOINT_FIELDS as readonly string[]).includes(f) ? joints.length : 1), 0);
      robot = { joints, minObservation, task: cfg.robot.task };
      if (values.mode === undefined) mode = cfg.action.mode;
    }
    const force = values.force === true;
    checkOutDir(values.out, force);
    prepareImportDir(values.out, force);
    // Loaded here: parquet-wasm and Arrow take a second to load, and no other command needs them.
    const { importLeRobot } = await import('../dataset/lerobot-import.js');
    const r = importLeRobot(resolve(values.lerobot), values.out, { mode, task: values.task, robot });
    logger.info('LeRobot dataset imported', { episodes: r.episodes, frames: r.frames, out: values.out });
    process.stdout.write(`${JSON.stringify({ out: values.out, source: 'lerobot', episodes: r.episodes, frames: r.frames, fps: r.fps })}\n`);
    return 0;
  },
};

/** With --force, what an earlier import wrote goes first: the .npy files, meta.json and features/. */
function prepareImportDir(dir: string, force: boolean): void {
  mkdirSync(dir, { recursive: true });
  if (!force) return;
  for (const name of readdirSync(dir)) {
    if (name === 'features') rmSync(join(dir, name), { recursive: true, force: true });
    else if (name.endsWith('.npy') || name === 'meta.json') rmSync(join(dir, name), { force: true });
  }
}

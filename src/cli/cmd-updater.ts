// `striatum updater`: run the ingest, list stored episodes, export one for training, merge two stores.
import { existsSync } from 'node:fs';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseFlags, type Command } from './flags.js';
import { checkOutDir, prepareOutDir } from './out-dir.js';
import { checkUpdaterConfigFile, loadUpdaterConfig, storeForLog, type UpdaterFlags } from '../updater/config.js';
import { isPostgresUrl } from '../updater/episode-store.js';
import { openEpisodeStore } from '../updater/open-store.js';
import { RolloutStore, writeEpisodeNpy } from '../updater/store.js';
import { prepareDatasetDir } from '../dataset/dataset-dir.js';
import { parseTopics } from '../dataset/mcap-topics.js';
import { runUpdater } from '../updater/updater.js';

const HELP = `Usage: striatum updater [run] [--config FILE] [--broker URL] [--username NAME] [--password-env VAR]
                        [--store PATH] [--share-group NAME] [--robots ID,ID] [--id NAME]
       striatum updater episodes --store PATH|URL [--robot ID] [--complete | --incomplete]
       striatum updater export --store PATH|URL --robot ID --episode ID --out DIR [--partial] [--force]
       striatum updater export --format lerobot --store PATH|URL --out DIR [--robot ID] [--task NAME] [--complete]
                               [--fps N] [--robot-type NAME] [--force]
       striatum updater export --format mcap --store PATH|URL --out FILE.mcap [--robot ID] [--task NAME] [--complete]
                               [--topics T,T] [--force]
       striatum updater merge --store PATH --from OTHER_PATH
       striatum updater check FILE

run       subscribe to every robot's rollout chunks, validate them, store each exactly once (SQLite, or
          PostgreSQL with --store postgres://...), then acknowledge it to the robot. MQTT 5 brokers: shared subscription ($share/<group>/...), so several
          updaters split the load; MQTT 3.1.1 brokers (embedded aedes): plain subscription.
episodes  list stored episodes as JSON lines.
export    write one episode's columns as .npy files + meta.json for the trainer. DIR must be new or empty
          unless --force (which removes the .npy, .u8 and meta.json files there first).
          --format lerobot: the selected episodes (every stored one by default; --complete: only complete
          ones) as a LeRobot v3.0 dataset (meta/, data/ parquet files); fps is the control rate measured
          from the steps unless --fps. --force removes meta/, data/ and videos/ there first.
          --format mcap: the selected episodes as one MCAP file (profile ros2: /joint_states, the command, the
          observation and policy action as ROS 2 CDR messages, camera frames as sensor_msgs/Image, Striatum's
          step, reward and episode records as JSON), for Foxglove and ros2 bag. --topics: only these.
merge     copy every chunk of another store into this one (idempotent) and rebuild its episodes.
check     validate an updater config file and the files it names; one line per problem naming the field
          path, exit code 2.

episodes and export only read the store, and merge only reads OTHER_PATH: a path that does not exist is an
error (exit 7), never a new empty store. A postgres:// URL names a PostgreSQL store (merge is SQLite only).

Config file (YAML): broker, store, share_group, robots, training, release; every key is in
docs/updater-config-reference.md and examples/updater.yaml is the demo's. Flags override the file.
Signals: Ctrl-C / SIGTERM stop cleanly (retained status goes offline).`;

export const updaterCommand: Command = {
  summary: 'offline RL updater: ingest rollout chunks into the episode store, list and export episodes',
  help: HELP,
  async run(args: string[], logger: Logger): Promise<number> {
    const sub = args[0] !== undefined && !args[0].startsWith('-') ? args[0] : 'run';
    const rest = sub === 'run' && args[0] !== 'run' ? args : args.slice(1);
    switch (sub) {
      case 'run': return runIngest(rest, logger);
      case 'episodes': return listEpisodes(rest, logger);
      case 'export': return exportEpisode(rest, logger);
      case 'merge': return mergeStores(rest, logger);
      case 'check': return checkConfig(rest);
      default: throw new StriatumError('STRIATUM_ERR_USAGE', `unknown updater subcommand "${sub}"; choose run, episodes, export, merge or check`);
    }
  },
};

async function runIngest(args: string[], logger: Logger): Promise<number> {
  const { values } = parseFlags(args, {
    config: { type: 'string' }, broker: { type: 'string' }, username: { type: 'string' }, 'password-env': { type: 'string' },
    store: { type: 'string' }, 'share-group': { type: 'string' }, robots: { type: 'string' }, id: { type: 'string' },
  });
  const flags: UpdaterFlags = {
    config: values.config, broker: values.broker, username: values.username, passwordEnv: values['password-env'],
    store: values.store, shareGroup: values['share-group'], robots: values.robots, id: values.id,
  };
  const config = loadUpdaterConfig(flags);
  const updater = await runUpdater({ config, logger });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => () => { logger.info('stop requested', { signal }); resolve(); };
    process.once('SIGINT', stop('SIGINT'));
    process.once('SIGTERM', stop('SIGTERM'));
  });
  await updater.close();
  return 0;
}

function storeFlag(v: string | undefined): string {
  if (v === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', '--store PATH is required');
  return v;
}

/** The dataset exporters and merge read a SQLite store file; a PostgreSQL store is exported to npy per episode. */
function sqliteStoreFlag(v: string | undefined, what: string): string {
  const path = storeFlag(v);
  if (isPostgresUrl(path)) {
    throw new StriatumError('STRIATUM_ERR_USAGE', `--store ${path}: ${what} reads a SQLite store file; PostgreSQL stores are not supported here yet`);
  }
  return path;
}

async function listEpisodes(args: string[], logger: Logger): Promise<number> {
  const { values } = parseFlags(args, { store: { type: 'string' }, robot: { type: 'string' }, complete: { type: 'boolean' }, incomplete: { type: 'boolean' } });
  const store = await openEpisodeStore(storeFlag(values.store), { logger, readonly: true, maxWaitMs: 0 });
  try {
    const complete = values.complete ? true : values.incomplete ? false : undefined;
    for (const e of await store.listEpisodes({ robot: values.robot, complete })) process.stdout.write(`${JSON.stringify(e)}\n`);
  } finally {
    await store.close();
  }
  return 0;
}

async function exportEpisode(args: string[], logger: Logger): Promise<number> {
  const { values } = parseFlags(args, {
    store: { type: 'string' }, robot: { type: 'string' }, episode: { type: 'string' }, out: { type: 'string' }, partial: { type: 'boolean' }, force: { type: 'boolean' },
    format: { type: 'string' }, topics: { type: 'string' }, task: { type: 'string' }, complete: { type: 'boolean' }, fps: { type: 'string' }, 'robot-type': { type: 'string' },
  });
  const format = values.format ?? 'npy';
  if (format === 'lerobot') return exportDataset(values, logger);
  if (format === 'mcap') return exportMcapFile(values, logger);
  if (format !== 'npy') throw new StriatumError('STRIATUM_ERR_USAGE', `--format ${format}: choose npy, lerobot or mcap`);
  if (values.robot === undefined || values.episode === undefined || values.out === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', '--robot, --episode and --out are required');
  const force = values.force === true;
  checkOutDir(values.out, force);
  const store = await openEpisodeStore(storeFlag(values.store), { logger, readonly: true, maxWaitMs: 0 });
  try {
    const ex = await store.exportEpisode(values.robot, values.episode, { requireComplete: !values.partial });
    prepareOutDir(values.out, force, (name) => name.endsWith('.npy') || name.endsWith('.u8') || name === 'meta.json');
    const files = writeEpisodeNpy(ex, values.out);
    logger.info('episode exported', { robot: ex.robot, episode: ex.episode, steps: ex.steps, out: values.out });
    process.stdout.write(`${JSON.stringify({ robot: ex.robot, episode: ex.episode, steps: ex.steps, outcome: ex.outcome, files })}\n`);
  } finally {
    await store.close();
  }
  return 0;
}

async function exportDataset(values: { store?: string; robot?: string; task?: string; out?: string; complete?: boolean; fps?: string; 'robot-type'?: string; force?: boolean }, logger: Logger): Promise<number> {
  if (values.out === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', '--out DIR is required');
  const fps = values.fps === undefined ? undefined : Number(values.fps);
  if (fps !== undefined && !(Number.isInteger(fps) && fps > 0)) throw new StriatumError('STRIATUM_ERR_USAGE', `--fps ${values.fps}: a whole number of frames per second is needed`);
  const force = values.force === true;
  checkOutDir(values.out, force);
  const store = RolloutStore.openExisting(sqliteStoreFlag(values.store, '--format lerobot'));
  try {
    prepareDatasetDir(values.out, force);
    // Loaded here, not at start-up: the parquet and Arrow libraries take a second to load, every other command none.
    const { exportLeRobot } = await import('../dataset/lerobot-export.js');
    const r = exportLeRobot(store, values.out, { robot: values.robot, task: values.task, complete: values.complete === true, fps, robotType: values['robot-type'] });
    logger.info('LeRobot dataset exported', { episodes: r.episodes, frames: r.frames, out: values.out });
    process.stdout.write(`${JSON.stringify({ format: 'lerobot', out: values.out, episodes: r.episodes, frames: r.frames, tasks: r.tasks, fps: r.fps, bytes: r.bytes })}\n`);
  } finally {
    store.close();
  }
  return 0;
}

async function exportMcapFile(values: { store?: string; robot?: string; task?: string; out?: string; complete?: boolean; topics?: string; force?: boolean }, logger: Logger): Promise<number> {
  if (values.out === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', '--out FILE.mcap is required');
  if (existsSync(values.out) && values.force !== true) throw new StriatumError('STRIATUM_ERR_OUTPUT_EXISTS', `--out ${values.out} exists; choose a new file, or add --force to replace it`);
  const topics = parseTopics(values.topics);
  const store = RolloutStore.openExisting(sqliteStoreFlag(values.store, '--format mcap'));
  try {
    const { exportMcap } = await import('../dataset/mcap-export.js');
    const r = await exportMcap(store, values.out, { robot: values.robot, task: values.task, complete: values.complete === true, topics });
    logger.info('MCAP exported', { episodes: r.episodes, steps: r.steps, out: values.out });
    process.stdout.write(`${JSON.stringify({ format: 'mcap', out: values.out, ...r })}\n`);
  } finally {
    store.close();
  }
  return 0;
}

async function mergeStores(args: string[], logger: Logger): Promise<number> {
  const { values } = parseFlags(args, { store: { type: 'string' }, from: { type: 'string' } });
  if (values.from === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', '--from OTHER_PATH is required');
  // SQLite's ATTACH would create a missing file as an empty database, and the merge would succeed with nothing.
  if (!existsSync(values.from)) throw new StriatumError('STRIATUM_ERR_IO', `--from ${values.from}: no such rollout store`);
  const store = new RolloutStore(sqliteStoreFlag(values.store, 'merge'));
  try {
    const r = store.mergeFrom(values.from);
    logger.info('stores merged', { new_chunks: r.chunks, episodes: r.episodes });
    process.stdout.write(`${JSON.stringify(r)}\n`);
  } finally {
    store.close();
  }
  return 0;
}

async function checkConfig(args: string[]): Promise<number> {
  const { positionals } = parseFlags(args, {}, true);
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new StriatumError('STRIATUM_ERR_USAGE', 'usage: striatum updater check FILE');
  const cfg = checkUpdaterConfigFile(file);
  const training = cfg.training === null || !cfg.training.enabled ? 'off' : `every ${cfg.training.episodes_per_round} episodes`;
  process.stdout.write(`ok: ${file} — broker ${cfg.broker.url} as ${cfg.broker.username}, store ${storeForLog(cfg)}, training ${training}, release ${cfg.release === null ? 'off' : 'signed'}\n`);
  return 0;
}

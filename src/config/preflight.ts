// What `striatum run` needs beyond the schema, checked without starting anything: every file the config names
// exists (and metadata parses), the serial host simulator is built for `path: auto-sim`, the Cyclone DDS bridge for
// the ros2 transport's cyclonedds backend, the spool can be created,
// and, on the simulator, normalization statistics fit the observation.
// `config check` and `doctor` run it, so a file they pass is not refused by `run` for a missing file.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { StriatumError } from '../errors.js';
import { PolicyMetadataSchema } from '../policy/metadata.js';
import { PrmMetadataSchema } from '../reward/metadata.js';
import { defaultSimulatorBinary } from '../transports/serial/sim-process.js';
import { formatIssues } from '../util/validation.js';
import { unwritableDir } from '../util/fs-checks.js';
import type { LoadedConfig } from './load.js';
import { normalizationSizeProblems } from './observation-size.js';

// The serial transport's auto-sim marker (src/transports/serial/serial-transport.ts); that module loads serialport.
const AUTO_SIM_PATH = 'auto-sim';

/** Default metadata next to a model, as the policy and PRM loaders derive it. */
function metadataNextTo(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, '') + '.json';
}

function missingFile(path: string): string | null {
  try {
    return statSync(path).isFile() ? null : `${path} is not a file`;
  } catch (err) {
    return `${path} ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as NodeJS.ErrnoException).code})`}`;
  }
}


function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** One line per problem, `field.path: what is wrong`; empty when `run` finds everything it needs. */
export async function preflightProblems(loaded: LoadedConfig): Promise<string[]> {
  const { config: cfg, resolvePath } = loaded;
  const problems: string[] = [];
  const base = dirname(loaded.path);
  /** A path as written in the config: relative ones are named with the folder they start from. */
  const file = (field: string, written: string): boolean => {
    const why = missingFile(resolvePath(written));
    if (why !== null) problems.push(`${field}: ${why}${isAbsolute(written) ? '' : ` ("${written}" is relative to ${base})`}`);
    return why === null;
  };

  const model = resolvePath(cfg.policy.model);
  const modelFound = file('policy.model', cfg.policy.model);
  const metadata = cfg.policy.metadata !== undefined ? resolvePath(cfg.policy.metadata) : metadataNextTo(model);
  if ((cfg.policy.metadata !== undefined || modelFound) && file('policy.metadata', cfg.policy.metadata ?? metadata)) {
    try {
      const parsed = PolicyMetadataSchema.safeParse(readJson(metadata));
      if (!parsed.success) problems.push(`policy.metadata: ${metadata} is not striatum.policy/v1 metadata: ${formatIssues(parsed.error.issues)[0]}`);
    } catch (err) {
      problems.push(`policy.metadata: ${metadata} is not JSON: ${(err as Error).message}`);
    }
  }
  cfg.policy.trusted_keys.forEach((k, i) => file(`policy.trusted_keys[${i}]`, k));

  if (cfg.reward !== null) {
    cfg.reward.models.forEach((m, i) => {
      const at = `reward.models[${i}]`;
      const prmModel = resolvePath(m.model);
      const prmFound = file(`${at}.model`, m.model);
      const prmMeta = m.metadata !== undefined ? resolvePath(m.metadata) : metadataNextTo(prmModel);
      if ((m.metadata !== undefined || prmFound) && file(`${at}.metadata`, m.metadata ?? prmMeta)) {
        try {
          const parsed = PrmMetadataSchema.safeParse(readJson(prmMeta));
          if (!parsed.success) {
            problems.push(`${at}.metadata: ${prmMeta} is not striatum.prm/v1 metadata: ${formatIssues(parsed.error.issues)[0]}`);
          } else {
            // Files the metadata names, relative to the metadata file.
            const text = parsed.data.text;
            for (const key of ['tokenizer', 'goal_embedding', 'baseline_embedding'] as const) {
              const named = text?.[key];
              if (named === undefined) continue;
              const why = missingFile(resolve(dirname(prmMeta), named));
              if (why !== null) problems.push(`${at}.metadata: text.${key} of ${prmMeta}: ${why}`);
            }
          }
        } catch (err) {
          problems.push(`${at}.metadata: ${prmMeta} is not JSON: ${(err as Error).message}`);
        }
      }
      if (m.text_encoder !== null) {
        file(`${at}.text_encoder.model`, m.text_encoder.model);
        file(`${at}.text_encoder.tokenizer`, m.text_encoder.tokenizer);
      }
      for (const [camera, image] of Object.entries(m.goal_images ?? {})) file(`${at}.goal_images.${camera}`, image);
    });
    if (cfg.reward.rnd !== null) file('reward.rnd.model', cfg.reward.rnd.model);
  }

  if (cfg.transport.kind === 'serial' && cfg.transport.path === AUTO_SIM_PATH) {
    const binary = defaultSimulatorBinary();
    try {
      accessSync(binary, constants.X_OK);
    } catch {
      problems.push(`transport.path: auto-sim needs the host simulator at ${binary}, which is missing or not executable; build it (cmake -S firmware-bridge -B firmware-bridge/build && cmake --build firmware-bridge/build --target sbp_sim) or set STRIATUM_SBP_SIM`);
    }
  }

  if (cfg.transport.kind === 'ros2' && cfg.transport.backend === 'cyclonedds') {
    const { defaultBridgeBinary } = await import('../transports/ros2/cyclonedds-backend.js');
    const binary = cfg.transport.bridge ?? defaultBridgeBinary();
    try {
      accessSync(binary, constants.X_OK);
    } catch {
      problems.push(`transport.bridge: backend cyclonedds needs the Cyclone DDS bridge at ${binary}, which is missing or not executable; build it (cmake -S ros2-bridge -B ros2-bridge/build && cmake --build ros2-bridge/build) or set STRIATUM_DDS_BRIDGE`);
    }
  }

  if (cfg.rollout !== null && cfg.rollout.enabled) {
    const why = unwritableDir(resolvePath(cfg.rollout.spool_dir));
    if (why !== null) problems.push(`rollout.spool_dir: ${why}`);
  }

  if (cfg.transport.kind === 'sim') {
    // The simulator's extra fields are fixed, so the whole observation size is known before it starts.
    const { SIM_EXTRA_FIELDS } = await import('../transports/sim/sim-transport.js');
    problems.push(...normalizationSizeProblems(cfg.observation.fields, cfg.joints.length, cfg.observation.normalization, (name) => SIM_EXTRA_FIELDS[name]));
  }
  return problems;
}

/** Throws STRIATUM_ERR_CONFIG listing every preflight problem. */
export async function assertPreflight(loaded: LoadedConfig, sourceName: string): Promise<void> {
  const problems = await preflightProblems(loaded);
  if (problems.length > 0) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', `${sourceName} has ${problems.length} problem${problems.length === 1 ? '' : 's'} striatum run would refuse`, problems);
  }
}

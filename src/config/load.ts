// Loads a robot config file: YAML → zod → one readable line per problem, naming the field path.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StriatumError } from '../errors.js';
import { formatIssues, parseYamlText } from '../util/validation.js';
import { RobotConfigSchema, type RobotConfig } from './schema.js';

export interface LoadedConfig {
  readonly config: RobotConfig;
  /** Absolute path of the file, for messages. */
  readonly path: string;
  /** Resolve a path written in the config relative to the config file's folder. */
  resolvePath(p: string): string;
}

export function parseConfigText(text: string, sourceName: string): RobotConfig {
  const raw = parseYamlText(text, sourceName);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', `${sourceName} must contain a mapping at the top level`, ['(top level): expected keys robot, joints, control, ...']);
  }
  if (!('robot' in raw) && ('store' in raw || 'broker' in raw)) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', `${sourceName} is an updater config, not a robot config`, [`(top level): check it with striatum updater check ${sourceName}`]);
  }
  const parsed = RobotConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = formatIssues(parsed.error.issues);
    throw new StriatumError('STRIATUM_ERR_CONFIG', `${sourceName} has ${lines.length} problem${lines.length === 1 ? '' : 's'}`, lines);
  }
  return parsed.data;
}

export function loadConfig(file: string): LoadedConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const config = parseConfigText(text, file);
  const base = dirname(path);
  return { config, path, resolvePath: (p: string) => resolve(base, p) };
}

// Loads a robot config file: YAML → zod → one readable line per problem, naming the field path.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { StriatumError } from '../errors.js';
import { RobotConfigSchema, type RobotConfig } from './schema.js';

export interface LoadedConfig {
  readonly config: RobotConfig;
  /** Absolute path of the file, for messages. */
  readonly path: string;
  /** Resolve a path written in the config relative to the config file's folder. */
  resolvePath(p: string): string;
}

/** Render a zod issue path as `joints[1].position.max`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(top level)' : out;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

/** Aliases a config file may expand; more is a billion-laughs document, refused before it eats the memory. */
const MAX_YAML_ALIASES = 100;

/** YAML text → plain data; syntax errors and alias bombs are STRIATUM_ERR_CONFIG with line numbers. */
export function parseYamlText(text: string, sourceName: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return pos ? `line ${pos.line}, column ${pos.col}: ${e.message.split('\n')[0]}` : e.message.split('\n')[0];
    });
    throw new StriatumError('STRIATUM_ERR_CONFIG', `${sourceName} is not valid YAML`, lines);
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    // yaml throws a ReferenceError for an excessive alias count (and for an alias to an unknown anchor).
    throw new StriatumError('STRIATUM_ERR_CONFIG', `${sourceName} is not usable YAML`, [`(top level): ${(err as Error).message.split('\n')[0]} (at most ${MAX_YAML_ALIASES} alias expansions)`]);
  }
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

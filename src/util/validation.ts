// Turning validation problems into the one-line-per-field messages every command prints, and reading YAML
// safely: shared by the robot config, the updater config, policy and PRM metadata and the signed manifest.
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { StriatumError } from '../errors.js';

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


// Flag parsing shared by the subcommands, and the shape of a subcommand. Kept apart from the command table so
// a subcommand module can be imported on its own (tests, tools) without an import cycle.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';

export interface Command {
  readonly summary: string;
  readonly help: string;
  run(args: string[], logger: Logger): Promise<number>;
}

/** parseArgs with usage errors turned into STRIATUM_ERR_USAGE. */
export function parseFlags<T extends ParseArgsConfig['options']>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_USAGE', (err as Error).message.split('\n')[0]);
  }
}

export function intFlag(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new StriatumError('STRIATUM_ERR_USAGE', `--${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

export function numberFlag(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new StriatumError('STRIATUM_ERR_USAGE', `--${name} must be a number ≥ ${min}, got "${value}"`);
  return n;
}

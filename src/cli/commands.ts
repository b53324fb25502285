// The subcommands of `striatum`. Each returns its exit code; errors are thrown as StriatumError.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { runCommand } from './cmd-run.js';
import { configCommand } from './cmd-config.js';
import { schemaCommand } from './cmd-schema.js';
import { doctorCommand } from './cmd-doctor.js';
import { recordCommand } from './cmd-record.js';
import { evalCommand } from './cmd-eval.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';

export interface Command {
  readonly summary: string;
  readonly help: string;
  run(args: string[], logger: Logger): Promise<number>;
}

export const commands: Record<string, Command> = {
  run: runCommand,
  config: configCommand,
  schema: schemaCommand,
  doctor: doctorCommand,
  record: recordCommand,
  eval: evalCommand,
};

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

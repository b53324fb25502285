// `striatum mcap`: tools for the robot's MCAP recordings.
import { existsSync } from 'node:fs';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseFlags, type Command } from './flags.js';

const HELP = `Usage: striatum mcap recover FILE [--out FILE.recovered.mcap] [--force]

recover   read a recording that was never finished (robot killed, power lost) up to its last whole chunk and
          write every schema, channel and message found into a new, finished and indexed MCAP file (default:
          FILE with .recovered.mcap). FILE is not changed. Prints the counts as JSON.`;

export const mcapCommand: Command = {
  summary: 'recover MCAP recordings cut off by a crash',
  help: HELP,
  async run(args: string[], logger: Logger): Promise<number> {
    if (args[0] !== 'recover') throw new StriatumError('STRIATUM_ERR_USAGE', `unknown mcap subcommand "${args[0] ?? ''}"; choose recover`);
    const { values, positionals } = parseFlags(args.slice(1), { out: { type: 'string' }, force: { type: 'boolean' } }, true);
    const [file, ...extra] = positionals;
    if (file === undefined || extra.length > 0) throw new StriatumError('STRIATUM_ERR_USAGE', 'usage: striatum mcap recover FILE [--out FILE]');
    const out = values.out ?? `${file.replace(/\.mcap$/, '')}.recovered.mcap`;
    if (existsSync(out) && values.force !== true) throw new StriatumError('STRIATUM_ERR_OUTPUT_EXISTS', `${out} exists; choose another --out, or add --force`);
    const { recoverMcap } = await import('../dataset/mcap-recover.js');
    const r = await recoverMcap(file, out);
    logger.info('MCAP recovered', { file, out, messages: r.messages });
    process.stdout.write(`${JSON.stringify({ file, out, ...r })}\n`);
    return 0;
  },
};

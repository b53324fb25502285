#!/usr/bin/env node
// The `striatum` command. Each subcommand parses its own flags; errors become one readable line and an exit code.
import { readFileSync } from 'node:fs';
import { StriatumError, isStriatumError } from '../errors.js';
import { createLogger, LOG_LEVELS, type LogLevel, type Logger } from '../log.js';
import { commands } from './commands.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export const MAIN_HELP = `striatum ${VERSION} — on-robot controller for robots that learn from learned rewards

Usage: striatum <command> [options]

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(14)}${c.summary}`).join('\n')}

Global options:
  --log-level <debug|info|warn|error>   default info
  --log-format <json|pretty>            default: pretty on a terminal, json otherwise
  -h, --help                            help for a command: striatum <command> --help
  --version

Exit codes: 0 ok, 2 bad config or usage, 3 policy refused, 4 transport, 5 MQTT/broker, 6 safety, 7 I/O, 70 internal.`;

function takeGlobal(argv: string[]): { level: LogLevel; pretty: boolean | undefined; rest: string[] } {
  let level: LogLevel = 'info';
  let pretty: boolean | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', `${a} needs a value`);
      return v;
    };
    if (a === '--log-level' || a.startsWith('--log-level=')) {
      const v = value();
      if (!(LOG_LEVELS as string[]).includes(v)) throw new StriatumError('STRIATUM_ERR_USAGE', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${v}"`);
      level = v as LogLevel;
    } else if (a === '--log-format' || a.startsWith('--log-format=')) {
      const v = value();
      if (v !== 'json' && v !== 'pretty') throw new StriatumError('STRIATUM_ERR_USAGE', `--log-format must be json or pretty, got "${v}"`);
      pretty = v === 'pretty';
    } else {
      rest.push(a);
    }
  }
  return { level, pretty, rest };
}

export async function main(argv: string[]): Promise<number> {
  let logger: Logger = createLogger();
  try {
    const { level, pretty, rest } = takeGlobal(argv);
    logger = createLogger({ level, pretty });
    const [name, ...args] = rest;
    if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
      process.stdout.write(`${MAIN_HELP}\n`);
      return name === undefined ? 2 : 0;
    }
    if (name === '--version' || name === 'version') {
      process.stdout.write(`${VERSION}\n`);
      return 0;
    }
    const command = commands[name];
    if (command === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', `unknown command "${name}"; run striatum --help`);
    if (args.includes('-h') || args.includes('--help')) {
      process.stdout.write(`${command.help}\n`);
      return 0;
    }
    return await command.run(args, logger);
  } catch (err) {
    return reportError(err, logger);
  }
}

export function reportError(err: unknown, logger: Logger): number {
  if (isStriatumError(err)) {
    process.stderr.write(`striatum: ${err.message} (${err.code})\n`);
    for (const line of err.details) process.stderr.write(`  ${line}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`striatum: internal error: ${e?.message ?? String(err)} (STRIATUM_ERR_INTERNAL)\n`);
  logger.debug('stack', { stack: e?.stack });
  return 70;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => { process.exitCode = reportError(err, createLogger()); },
);

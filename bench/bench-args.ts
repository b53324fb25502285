// The flags of a bench script. `--help` (-h) prints the script's header comment (what it measures and its usage)
// and exits 0; an unknown or malformed flag prints the error and the same text and exits 2, instead of a stack
// trace. The header is read from the running file itself (tsc keeps comments), so it is written once.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The leading `//` comment block of a script, without the comment markers. */
export function headerComment(scriptUrl: string): string {
  const out: string[] = [];
  for (const line of readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n')) {
    if (!line.startsWith('//')) break;
    out.push(line.replace(/^\/\/ ?/, ''));
  }
  return out.join('\n');
}

/** Parses process.argv for the bench at scriptUrl (its import.meta.url); strict: only the given flags. */
export function benchArgs<T extends Options>(scriptUrl: string, options: T): ReturnType<typeof parseArgs<{ options: T }>>['values'] {
  const usage = headerComment(scriptUrl);
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage}\n`);
    process.exit(2);
  }
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  delete values.help;
  return values as ReturnType<typeof parseArgs<{ options: T }>>['values'];
}

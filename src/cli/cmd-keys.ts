// `striatum keys generate --out DIR`: an ed25519 keypair for signing policy releases (private.pem mode 0600).
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import { keyIdOf } from '../contracts/policy-manifest.js';
import { generateKeyFiles } from '../updater/registry.js';
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseFlags, type Command } from './flags.js';

const HELP = `Usage: striatum keys generate --out DIR

generate  write DIR/private.pem (ed25519, PKCS#8, mode 0600; keep it on the updater) and DIR/public.pem (SPKI;
          list it in each robot's policy.trusted_keys). Refuses to overwrite existing files. Prints the key id.`;

export const keysCommand: Command = {
  summary: 'generate the ed25519 keypair that signs policy releases',
  help: HELP,
  async run(args: string[], logger: Logger): Promise<number> {
    if (args[0] !== 'generate') throw new StriatumError('STRIATUM_ERR_USAGE', `unknown keys subcommand "${args[0] ?? ''}"; choose generate`);
    const { values } = parseFlags(args.slice(1), { out: { type: 'string' } });
    if (values.out === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', 'keys generate needs --out DIR');
    let files: { privatePath: string; publicPath: string };
    try {
      files = generateKeyFiles(values.out);
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_IO', `cannot write the keypair into ${values.out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const keyId = keyIdOf(createPublicKey(readFileSync(files.publicPath)));
    logger.info('policy signing keypair written', { private: files.privatePath, public: files.publicPath, key_id: keyId });
    process.stdout.write(`${JSON.stringify({ private: files.privatePath, public: files.publicPath, key_id: keyId })}\n`);
    return 0;
  },
};

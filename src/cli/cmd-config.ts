import { loadConfig } from '../config/load.js';
import { assertPreflight } from '../config/preflight.js';
import { StriatumError } from '../errors.js';
import type { Command } from './flags.js';
import { parseFlags } from './flags.js';

export const configCommand: Command = {
  summary: 'check a robot config file: striatum config check FILE',
  help: `Usage: striatum config check FILE

Validates FILE against the robot config schema, then checks what \`striatum run\` needs beyond it: every file
the config names (policy model and metadata, reward models, their metadata and tokenizers, trusted keys), the
serial host simulator for transport.path auto-sim, a writable place for the rollout spool. Prints "ok" and a
summary, or one line per problem naming the field path, and exits with code 2.`,
  async run(args) {
    const { positionals } = parseFlags(args, {}, true);
    const [sub, file, ...extra] = positionals;
    if (sub !== 'check' || file === undefined || extra.length > 0) throw new StriatumError('STRIATUM_ERR_USAGE', 'usage: striatum config check FILE');
    const loaded = loadConfig(file);
    await assertPreflight(loaded, file);
    const { config } = loaded;
    process.stdout.write(`ok: ${file} — robot ${config.robot.id}, ${config.joints.length} joints, ${config.control.rate_hz} Hz, ${config.action.mode} commands, transport ${config.transport.kind}, broker ${config.mqtt.broker}\n`);
    return 0;
  },
};

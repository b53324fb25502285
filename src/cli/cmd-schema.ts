import { z } from 'zod';
import { RobotConfigSchema } from '../config/schema.js';
import { messageSchemas } from '../contracts/messages.js';
import { rolloutSchemas } from '../contracts/rollout.js';
import { TOPIC_ROOT } from '../contracts/topics.js';
import { StriatumError } from '../errors.js';
import { PolicyMetadataSchema } from '../policy/metadata.js';
import { PrmMetadataSchema } from '../reward/metadata.js';
import { PolicyManifestSchema } from '../contracts/policy-manifest.js';
import type { Command } from './flags.js';
import { parseFlags } from './flags.js';

const ALL_MESSAGES = { ...messageSchemas, ...rolloutSchemas };
const MESSAGE_NAMES = Object.keys(ALL_MESSAGES);

export function allSchemas(): Record<string, unknown> {
  const messages: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(ALL_MESSAGES)) messages[name] = z.toJSONSchema(schema as z.ZodType, { io: 'input' });
  return {
    topic_root: TOPIC_ROOT,
    config: z.toJSONSchema(RobotConfigSchema, { io: 'input' }),
    policy_metadata: z.toJSONSchema(PolicyMetadataSchema, { io: 'input' }),
    prm_metadata: z.toJSONSchema(PrmMetadataSchema, { io: 'input' }),
    policy_manifest: z.toJSONSchema(PolicyManifestSchema, { io: 'input' }),
    messages,
  };
}

export const schemaCommand: Command = {
  summary: 'print JSON Schema for the config, policy metadata and every MQTT message',
  help: `Usage: striatum schema [config | policy-metadata | prm-metadata | policy-manifest | messages | ${MESSAGE_NAMES.join(' | ')}]

Prints JSON Schema (draft 2020-12) generated from the same zod schemas Striatum validates with, so clients in
other languages can validate too. With no argument, prints everything as one JSON document.`,
  async run(args) {
    const { positionals } = parseFlags(args, {}, true);
    const which = positionals[0];
    const all = allSchemas();
    let out: unknown;
    if (which === undefined) out = all;
    else if (which === 'config') out = all.config;
    else if (which === 'policy-metadata') out = all.policy_metadata;
    else if (which === 'prm-metadata') out = all.prm_metadata;
    else if (which === 'policy-manifest') out = all.policy_manifest;
    else if (which === 'messages') out = all.messages;
    else if (MESSAGE_NAMES.includes(which)) out = (all.messages as Record<string, unknown>)[which];
    else throw new StriatumError('STRIATUM_ERR_USAGE', `unknown schema "${which}"; choose config, policy-metadata, prm-metadata, policy-manifest, messages, ${MESSAGE_NAMES.join(', ')}`);
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  },
};

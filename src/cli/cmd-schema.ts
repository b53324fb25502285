// `striatum schema`: JSON Schema of every document Striatum validates, generated from the same zod schemas.
import { z } from 'zod';
import { RobotConfigSchema } from '../config/schema.js';
import { messageSchemas } from '../contracts/messages.js';
import { rolloutSchemas } from '../contracts/rollout.js';
import { TOPIC_ROOT } from '../contracts/topics.js';
import { StriatumError } from '../errors.js';
import { PolicyMetadataSchema } from '../policy/metadata.js';
import { PrmMetadataSchema } from '../reward/metadata.js';
import { PolicyManifestSchema } from '../contracts/policy-manifest.js';
import { SnapshotManifestSchema } from '../contracts/snapshot-manifest.js';
import { UpdaterConfigSchema } from '../updater/config.js';
import type { Command } from './flags.js';
import { parseFlags } from './flags.js';

const ALL_MESSAGES = { ...messageSchemas, ...rolloutSchemas };
const MESSAGE_NAMES = Object.keys(ALL_MESSAGES);

/** Each document by the name `striatum schema NAME` takes; the same name is its key in the full output. */
const DOCUMENTS: Readonly<Record<string, z.ZodType>> = {
  config: RobotConfigSchema,
  'updater-config': UpdaterConfigSchema,
  'policy-metadata': PolicyMetadataSchema,
  'prm-metadata': PrmMetadataSchema,
  'policy-manifest': PolicyManifestSchema,
  'snapshot-manifest': SnapshotManifestSchema,
};
const DOCUMENT_NAMES = Object.keys(DOCUMENTS);

export function allSchemas(): Record<string, unknown> {
  const all: Record<string, unknown> = { 'topic-root': TOPIC_ROOT };
  for (const [name, schema] of Object.entries(DOCUMENTS)) all[name] = { ...z.toJSONSchema(schema, { io: 'input' }), title: name };
  const messages: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(ALL_MESSAGES)) messages[name] = z.toJSONSchema(schema as z.ZodType, { io: 'input' });
  all.messages = messages;
  return all;
}

export const schemaCommand: Command = {
  summary: 'print JSON Schema for the robot and updater configs, policy metadata, training snapshot manifests and every MQTT message',
  help: `Usage: striatum schema [${[...DOCUMENT_NAMES, 'messages', ...MESSAGE_NAMES].join(' | ')}]

Prints JSON Schema (draft 2020-12) generated from the same zod schemas Striatum validates with, so clients in
other languages can validate too. With no argument, prints everything as one JSON document whose keys are these
names (and topic-root).`,
  async run(args) {
    const { positionals } = parseFlags(args, {}, true);
    const which = positionals[0];
    const all = allSchemas();
    let out: unknown;
    if (which === undefined) out = all;
    else if (DOCUMENT_NAMES.includes(which) || which === 'messages') out = all[which];
    else if (MESSAGE_NAMES.includes(which)) out = (all.messages as Record<string, unknown>)[which];
    else throw new StriatumError('STRIATUM_ERR_USAGE', `unknown schema "${which}"; choose ${[...DOCUMENT_NAMES, 'messages', ...MESSAGE_NAMES].join(', ')}`);
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  },
};

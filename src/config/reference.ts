// Generates the configuration references (docs/config-reference.md for the robot, docs/updater-config-reference.md
// for the updater) from the zod schemas, so the docs cannot drift from what the checks enforce. A test compares
// the files with this output.
import { z } from 'zod';
import { UpdaterConfigSchema } from '../updater/config.js';
import { RobotConfigSchema } from './schema.js';

type Json = Record<string, any>;

function typeOf(s: Json): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v: unknown) => JSON.stringify(v)).join(' \\| ');
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(' \\| ');
  if (s.type === 'array') return `${typeOf(s.items ?? {})}[]`;
  if (s.type === 'integer') return 'integer';
  if (s.type === 'object') return 'mapping';
  return s.type ?? 'any';
}

function constraints(s: Json): string {
  const c: string[] = [];
  if (s.minimum !== undefined) c.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) c.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) c.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) c.push(`< ${s.exclusiveMaximum}`);
  if (s.minItems !== undefined) c.push(`${s.minItems}+ items`);
  if (s.pattern !== undefined) c.push(`matches \`${s.pattern}\``);
  return c.join(', ');
}

function rows(s: Json, path: string, required: boolean, out: string[][]): void {
  const alts: Json[] | undefined = s.oneOf ?? s.anyOf;
  const variants = alts?.filter((a) => a.type === 'object' && a.properties);
  if (variants && variants.length > 1 && variants.every((v) => v.properties.kind?.const !== undefined)) {
    for (const v of variants) rows(v, `${path} (kind: ${v.properties.kind.const})`, required, out);
    return;
  }
  // A nullable section (`mapping | null`): one row for the section, then its fields.
  const objectAlt = alts?.find((a) => a.type === 'object' && a.properties);
  if (alts && objectAlt && alts.length === 2 && alts.some((a) => a.type === 'null')) {
    out.push([`\`${path}\``, 'mapping \\| null', required ? 'required' : defaultOf(s), s.description ?? objectAlt.description ?? '']);
    rows({ ...objectAlt, description: undefined }, path, false, out);
    return;
  }
  if (s.type === 'object' && s.properties) {
    const req = new Set<string>(s.required ?? []);
    if (s.description && path) out.push([`\`${path}\``, 'mapping', required ? 'required' : defaultOf(s), s.description]);
    for (const [k, v] of Object.entries<Json>(s.properties)) rows(v, path ? `${path}.${k}` : k, req.has(k), out);
    return;
  }
  if (s.type === 'array' && s.items?.type === 'object' && s.items.properties) {
    out.push([`\`${path}\``, 'list', required ? 'required' : defaultOf(s), [s.description, constraints(s)].filter(Boolean).join('; ')]);
    rows(s.items, `${path}[]`, true, out);
    return;
  }
  const desc = [s.description, constraints(s)].filter(Boolean).join('; ');
  out.push([`\`${path}\``, typeOf(s), required ? 'required' : defaultOf(s), desc]);
}

function defaultOf(s: Json): string {
  return s.default !== undefined ? `\`${JSON.stringify(s.default)}\`` : 'optional';
}

function referenceMarkdown(schema: z.ZodType, intro: readonly string[]): string {
  const out: string[][] = [];
  rows(z.toJSONSchema(schema, { io: 'input' }) as Json, '', true, out);
  const lines = [
    ...intro,
    '',
    '| key | type | default | meaning |',
    '|---|---|---|---|',
    ...out.map((r) => `| ${r.map((c) => c.replace(/\|(?<!\\\|)/g, '\\|')).join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}

export function configReferenceMarkdown(): string {
  return referenceMarkdown(RobotConfigSchema, [
    '# Robot configuration reference',
    '',
    'Generated from the zod schema in `src/config/schema.ts` (`npm run docs` regenerates it; a test fails when it is stale).',
    'Validate a file with `striatum config check FILE`; `striatum schema config` prints the same rules as JSON Schema.',
    'Paths relative to the config file are resolved from its folder.',
  ]);
}

export function updaterConfigReferenceMarkdown(): string {
  return referenceMarkdown(UpdaterConfigSchema, [
    '# Updater configuration reference',
    '',
    'The file `striatum updater run --config FILE` reads: broker login, episode store, training rounds and releases.',
    'Generated from the zod schema in `src/updater/config.ts` (`npm run docs` regenerates it; a test fails when it is stale).',
    'Validate a file with `striatum updater check FILE`; `striatum schema updater-config` prints the same rules as JSON Schema.',
    'Paths relative to the config file are resolved from its folder; command-line flags override the file.',
    '`examples/updater.yaml` works with the demo robot `examples/sim-rollouts.yaml`, whose embedded broker has the `updater` account.',
    '',
    'The `store` section needs `store.path` (SQLite, one updater) or `store.url` (PostgreSQL, several updaters), exactly one.',
    'A `training` section runs rounds only with `enabled: true`; `base_policy_dir` and `out_dir` are required whenever the section is present.',
    'The updater\'s broker account needs the `updater` role: on the embedded broker, an entry of the robot config\'s `mqtt.users`',
    '(`{ username: updater, password: ..., role: updater }`); on Mosquitto, the `user updater` block of `examples/mosquitto/acl.conf`.',
  ]);
}

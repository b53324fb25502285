// Writes the files generated from the schemas: `npm run docs`. The configuration references, and the snapshot
// manifest's JSON Schema that trainer/awr.py validates with (Python reads the committed file, not zod).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configReferenceMarkdown, updaterConfigReferenceMarkdown } from '../config/reference.js';
import { snapshotManifestJsonSchema } from '../contracts/snapshot-manifest.js';

for (const [name, markdown] of [['config-reference.md', configReferenceMarkdown()], ['updater-config-reference.md', updaterConfigReferenceMarkdown()]] as const) {
  const target = fileURLToPath(new URL(`../../../docs/${name}`, import.meta.url));
  writeFileSync(target, markdown);
  process.stdout.write(`wrote ${target}\n`);
}

const schemaTarget = fileURLToPath(new URL('../../../trainer/snapshot-manifest.schema.json', import.meta.url));
writeFileSync(schemaTarget, `${JSON.stringify(snapshotManifestJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${schemaTarget}\n`);

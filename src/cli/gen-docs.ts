// Writes the generated configuration references from the schemas: `npm run docs`.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configReferenceMarkdown, updaterConfigReferenceMarkdown } from '../config/reference.js';

for (const [name, markdown] of [['config-reference.md', configReferenceMarkdown()], ['updater-config-reference.md', updaterConfigReferenceMarkdown()]] as const) {
  const target = fileURLToPath(new URL(`../../../docs/${name}`, import.meta.url));
  writeFileSync(target, markdown);
  process.stdout.write(`wrote ${target}\n`);
}

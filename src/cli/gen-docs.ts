// Writes docs/config-reference.md from the schema: `npm run docs`.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configReferenceMarkdown } from '../config/reference.js';

const target = fileURLToPath(new URL('../../../docs/config-reference.md', import.meta.url));
writeFileSync(target, configReferenceMarkdown());
process.stdout.write(`wrote ${target}\n`);

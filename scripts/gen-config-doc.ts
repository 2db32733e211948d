/**
 * Writes docs/configuration.md from the config schema. Run after changing
 * src/config/schema.ts: `node --import tsx scripts/gen-config-doc.ts`
 * (a unit test fails while the committed doc differs from the schema).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigDoc } from '../src/config/describe-settings.js';

const target = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
writeFileSync(target, renderConfigDoc());
console.log(`wrote ${target}`);

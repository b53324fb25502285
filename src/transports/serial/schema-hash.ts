// The schema hash both ends compare in the handshake: CRC-32C of the bytes of firmware-bridge/schema.txt.
// Read from the file at start-up (not a copied constant), so the host always speaks the schema it ships with;
// a test checks it against SBP_SCHEMA_HASH in sbp.h, the constant the firmware is built with.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StriatumError } from '../../errors.js';
import { crc32c } from './crc32c.js';

/** firmware-bridge/schema.txt in the package (this file runs from dist/src/transports/serial/). */
export const SBP_SCHEMA_FILE = fileURLToPath(new URL('../../../../firmware-bridge/schema.txt', import.meta.url));

export function schemaHashOf(schemaText: Uint8Array): number {
  return crc32c(schemaText);
}

let cached: number | null = null;

/** CRC-32C of the schema file; read once per process. Throws STRIATUM_ERR_TRANSPORT when the file is missing. */
export function readSchemaHash(path: string = SBP_SCHEMA_FILE): number {
  if (path === SBP_SCHEMA_FILE && cached !== null) return cached;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_TRANSPORT', `cannot read the SBP schema ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const hash = schemaHashOf(bytes);
  if (path === SBP_SCHEMA_FILE) cached = hash;
  return hash;
}
